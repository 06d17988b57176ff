//! Writing a finished message into an outbox folder.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/file_name` so that a reader (a print run, a
/// person, a test) never sees half a file: the bytes go to a hidden
/// temporary name first and are renamed into place. Writing the same name
/// again replaces the file, so a retried notification leaves one copy.
pub(crate) async fn write_atomically(
    dir: &Path,
    file_name: &str,
    bytes: &[u8],
) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(file_name);
    let temporary = dir.join(format!(".{file_name}.{}.partial", uuid::Uuid::new_v4()));
    let written = async {
        tokio::fs::write(&temporary, bytes).await?;
        tokio::fs::rename(&temporary, &path).await
    }
    .await;
    if written.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = tokio::fs::remove_file(&temporary).await;
    }
    written.map(|()| path)
}
