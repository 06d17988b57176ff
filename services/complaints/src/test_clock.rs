//! `complaints.testing.v1.ClockService`: time that moves only when a test
//! says so. Served only by `complaints dev --test-clock`.

use complaints_domain::clock::{Clock, ManualClock};
use complaints_proto::complaints::testing::v1::{
    AdvanceRequest, AdvanceResponse, NowRequest, NowResponse, clock_service_server::ClockService,
};
use complaints_rpc::{invalid_field, timestamp_to_proto};
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct TestClock {
    clock: ManualClock,
}

impl TestClock {
    pub fn new(clock: ManualClock) -> Self {
        Self { clock }
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
        let nanos = i64::from(by.nanos);
        let step = chrono::Duration::try_seconds(by.seconds)
            .and_then(|s| s.checked_add(&chrono::Duration::nanoseconds(nanos)))
            .ok_or_else(|| invalid_field("by", "is out of range"))?;
        let now = self
            .clock
            .advance(step)
            .map_err(|e| invalid_field("by", &e.to_string()))?;
        tracing::info!(%now, "test clock advanced");
        Ok(Response::new(AdvanceResponse {
            now: Some(timestamp_to_proto(now)),
            fired: 0,
        }))
    }

    async fn now(&self, request: Request<NowRequest>) -> Result<Response<NowResponse>, Status> {
        complaints_auth::actor(&request)?;
        Ok(Response::new(NowResponse {
            now: Some(timestamp_to_proto(self.clock.now())),
        }))
    }
}
