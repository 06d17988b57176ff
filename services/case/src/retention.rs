//! The retention job: on a schedule, erases the complainants of cases
//! closed longer ago than the configured period, through the same erasure
//! as `EraseComplainant`.

use std::time::Duration;

use complaints_domain::role::{Actor, Role};
use complaints_rpc::service::{BoxFuture, Pass, Stop, Worker};

use crate::CaseApp;

/// How often the job looks for cases whose period has ended.
const EVERY: Duration = Duration::from_secs(60 * 60);

/// The subject the job's erasures are recorded under on the timeline.
pub const RETENTION_SUBJECT: &str = "retention";

/// Runs [`CaseApp::run_retention`] at start and then hourly, as the
/// platform (`service` role, subject [`RETENTION_SUBJECT`]); on the stop
/// signal it finishes the case in hand and returns.
#[derive(Debug, Clone)]
pub struct RetentionWorker {
    app: CaseApp,
}

impl RetentionWorker {
    pub fn new(app: CaseApp) -> Self {
        Self { app }
    }

    /// One run; how many complainants it erased.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        self.run_until(None).await
    }

    /// One run, ending between cases once `stop` is sent.
    async fn run_until(&self, stop: Option<&Stop>) -> anyhow::Result<usize> {
        let actor = Actor::new(RETENTION_SUBJECT, Role::Service);
        let retention = match stop {
            Some(stop) => self.app.run_retention_until(&actor, stop).await,
            None => self.app.run_retention(&actor).await,
        }
        .map_err(|error| anyhow::anyhow!("{error}"))?;
        if !retention.erased.is_empty() {
            tracing::info!(
                erased = retention.erased.len(),
                closed_before = %retention.closed_before,
                "retention erased complainants"
            );
        }
        Ok(retention.erased.len())
    }
}

impl Worker for RetentionWorker {
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                if let Err(error) = self.run_until(Some(&stop)).await {
                    tracing::warn!(%error, "retention run failed; will retry");
                }
                if stop.sleep(EVERY).await.is_break() {
                    return;
                }
            }
        })
    }

    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>> {
        Box::pin(async { Ok(Pass::work(RetentionWorker::run_once(self).await?)) })
    }
}
