//! Erasing what a case's notifications hold about the complainant: the rows
//! blanked and the `.eml` and `.pdf` files written for them deleted.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use complaints_config::DeliveryConfig;
use sea_orm::{DatabaseConnection, TransactionTrait};
use uuid::Uuid;

use crate::repo;

/// The folders delivery writes into, named as the writers name their files:
/// `<email>/<notification-id>.eml` (the file mailer, when no SMTP server is
/// configured) and `<letters>/<notification-id>.pdf`.
#[derive(Debug, Clone, Default)]
pub struct OutboxDirs {
    pub email: Option<PathBuf>,
    pub letters: Option<PathBuf>,
}

impl OutboxDirs {
    /// The folders [`crate::DeliverySettings::from_config`] gives the
    /// mailer and the letter writer.
    pub fn of(config: &DeliveryConfig) -> Self {
        Self {
            email: Some(config.outbox_dir.join("email")),
            letters: Some(config.outbox_dir.join("letters")),
        }
    }

    /// Every file that may have been written for the notification.
    fn files_of(&self, notification_id: &str) -> Vec<PathBuf> {
        let email = self
            .email
            .as_ref()
            .map(|dir| dir.join(format!("{notification_id}.eml")));
        let letter = self
            .letters
            .as_ref()
            .map(|dir| dir.join(format!("{notification_id}.pdf")));
        email.into_iter().chain(letter).collect()
    }
}

/// What one erasure reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub rows: u64,
    pub files: u64,
}

/// Blanks the case's notifications, then deletes their files. Every call
/// deletes whatever files are still there, so a call that failed after its
/// rows were blanked is finished by the next (the relay retries it).
pub async fn erase_case(
    db: &DatabaseConnection,
    dirs: &OutboxDirs,
    case_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Erased, EraseError> {
    let txn = db.begin().await?;
    let rows = repo::erase_case(&txn, case_id, now).await?;
    let ids = repo::ids_of_case(&txn, case_id).await?;
    txn.commit().await?;
    if let Err(error) = complaints_store::db::forget_overwritten_pages(db).await {
        // The rows are blanked; a later checkpoint takes the old pages out
        // of the log.
        tracing::warn!(%error, "checkpoint after an erasure failed");
    }
    let mut files = 0;
    for path in ids.iter().flat_map(|id| dirs.files_of(id)) {
        match tokio::fs::remove_file(&path).await {
            Ok(()) => files += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(EraseError::File { path, source }),
        }
    }
    Ok(Erased { rows, files })
}

/// Why an erasure did not finish; it is safe to retry.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("notification store failure: {0}")]
    Store(#[from] sea_orm::DbErr),
    #[error("cannot delete {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}
