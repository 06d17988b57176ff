//! `complaints.testing.v1.ClockService`: time that moves only when a test
//! says so. Served only by `complaints dev --test-clock`.
//!
//! `Advance` walks time forward from one due instant to the next, and at
//! each runs every worker until the suite is quiet, so every deadline on
//! the way fires, in order, and its notices are sent, before the call
//! returns.
//!
//! Between advances the same passes run from one background task, under the
//! same lock ([`TestClock::run_between_advances`]), so a submission is still
//! acknowledged without an advance, and no worker of the suite ever holds a
//! lease while a walk looks for the next due instant.

use std::sync::Arc;

use complaints_domain::clock::{Clock, ManualClock};
use complaints_proto::complaints::testing::v1::{
    AdvanceRequest, AdvanceResponse, NowRequest, NowResponse, clock_service_server::ClockService,
};
use complaints_rpc::{invalid_field, timestamp_to_proto};
use tokio::sync::Mutex;
use tonic::{Request, Response, Status};

use complaints_rpc::service::Worker;

/// How often work written between advances (a case change, a notice) is
/// picked up.
const BETWEEN_ADVANCES: std::time::Duration = std::time::Duration::from_millis(100);

/// A drain that has not settled after this many passes is a livelock (a
/// worker that reports work it never finishes), not a long queue: each pass
/// takes everything due at once.
const MAX_PASSES: usize = 1_000;

/// Every background worker of the suite, run pass by pass.
#[derive(Debug)]
pub struct Workers(Vec<Arc<dyn Worker>>);

impl Workers {
    pub fn new(workers: Vec<Arc<dyn Worker>>) -> Arc<Self> {
        Arc::new(Self(workers))
    }

    /// Runs every worker's pass until none has anything left to do: case
    /// changes reach the clocks and the notification queue, due deadlines
    /// fire, notices are sent and recorded. Returns the deadlines fired.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut fired = 0;
        for _ in 0..MAX_PASSES {
            let mut work = 0;
            for worker in &self.0 {
                let pass = worker.run_once().await?;
                work += pass.work;
                fired += pass.fired;
            }
            if work == 0 {
                return Ok(fired);
            }
        }
        anyhow::bail!("the suite did not settle after {MAX_PASSES} passes")
    }

    /// When the next deadline or notification retry is due.
    pub async fn next_due(&self) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        let mut next: Option<chrono::DateTime<chrono::Utc>> = None;
        for worker in &self.0 {
            if let Some(at) = worker.next_due().await? {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        Ok(next)
    }
}

#[derive(Debug, Clone)]
pub struct TestClock {
    clock: ManualClock,
    workers: Arc<Workers>,
    /// One advance at a time: two interleaved walks would fire out of order.
    moving: Arc<Mutex<()>>,
}

impl TestClock {
    pub fn new(clock: ManualClock, workers: Arc<Workers>) -> Self {
        Self {
            clock,
            workers,
            moving: Arc::new(Mutex::new(())),
        }
    }

    /// Runs every worker's pass until `shutdown`, every
    /// [`BETWEEN_ADVANCES`]. Each pass
    /// holds the lock an advance holds: the separate workers of a suite on
    /// the real clock would claim work under a lease in the middle of a
    /// walk, which the walk cannot see finish, so it would stop early and
    /// fire later deadlines at the wrong instant, or return before their
    /// notices were sent.
    pub async fn run_between_advances(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            {
                let _one_at_a_time = self.moving.lock().await;
                if let Err(error) = self.workers.drain().await {
                    tracing::error!(error = %error, "test clock: a background pass failed");
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(BETWEEN_ADVANCES) => {}
            }
        }
    }

    fn unavailable(error: &anyhow::Error) -> Status {
        tracing::error!(error = %error, "test clock: the suite failed while time moved");
        Status::unavailable(format!("the suite failed while time moved: {error}"))
    }

    async fn walk_to(&self, target: chrono::DateTime<chrono::Utc>) -> Result<usize, Status> {
        let mut fired = self
            .workers
            .drain()
            .await
            .map_err(|e| Self::unavailable(&e))?;
        loop {
            let now = self.clock.now();
            let next = self
                .workers
                .next_due()
                .await
                .map_err(|e| Self::unavailable(&e))?;
            match next {
                Some(next) if next <= target => {
                    if next > now {
                        self.clock
                            .advance(next - now)
                            .map_err(|e| invalid_field("by", &e.to_string()))?;
                    }
                    let before = fired;
                    fired += self
                        .workers
                        .drain()
                        .await
                        .map_err(|e| Self::unavailable(&e))?;
                    // Nothing fired at a due instant that is already past:
                    // it belongs to work that is leased elsewhere; move on.
                    if fired == before && next <= now {
                        break;
                    }
                }
                _ => break,
            }
        }
        let now = self.clock.now();
        if target > now {
            self.clock
                .advance(target - now)
                .map_err(|e| invalid_field("by", &e.to_string()))?;
        }
        fired += self
            .workers
            .drain()
            .await
            .map_err(|e| Self::unavailable(&e))?;
        Ok(fired)
    }
}

#[tonic::async_trait]
impl ClockService for TestClock {
    async fn advance(
        &self,
        request: Request<AdvanceRequest>,
    ) -> Result<Response<AdvanceResponse>, Status> {
        complaints_auth::actor(&request)?;
        let Some(by) = request.into_inner().by else {
            return Err(invalid_field("by", "is required"));
        };
        let step = chrono::Duration::try_seconds(by.seconds)
            .and_then(|s| s.checked_add(&chrono::Duration::nanoseconds(i64::from(by.nanos))))
            .ok_or_else(|| invalid_field("by", "is out of range"))?;
        if step <= chrono::Duration::zero() {
            return Err(invalid_field(
                "by",
                "must be positive: time only moves forward",
            ));
        }
        let _one_at_a_time = self.moving.lock().await;
        let target = self
            .clock
            .now()
            .checked_add_signed(step)
            .ok_or_else(|| invalid_field("by", "is out of range"))?;
        let fired = self.walk_to(target).await?;
        let now = self.clock.now();
        tracing::info!(%now, fired, "test clock advanced");
        Ok(Response::new(AdvanceResponse {
            now: Some(timestamp_to_proto(now)),
            fired: i32::try_from(fired).unwrap_or(i32::MAX),
        }))
    }

    async fn now(&self, request: Request<NowRequest>) -> Result<Response<NowResponse>, Status> {
        complaints_auth::actor(&request)?;
        Ok(Response::new(NowResponse {
            now: Some(timestamp_to_proto(self.clock.now())),
        }))
    }
}
