//! A server on the shared serve path, serving a test double of the clock
//! service whose `Advance` never answers.

use std::net::SocketAddr;

use complaints_auth::{AuthConfig, BearerToken, TokenVerifier};
use complaints_domain::role::Role;
use complaints_proto::complaints::testing::v1::clock_service_server::{
    ClockService, ClockServiceServer,
};
use complaints_proto::complaints::testing::v1::{
    AdvanceRequest, AdvanceResponse, NowRequest, NowResponse,
};
use complaints_rpc::ServeOptions;
use complaints_test_support::server::{Served, Stopped};
use complaints_test_support::tokens;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tonic::service::RoutesBuilder;
use tonic::{Request, Response, Status};

pub const SERVICE: &str = "complaints.testing.v1.ClockService";

/// `Now` answers at once; `Advance` reports that it started, then never
/// answers (a slow handler).
#[derive(Debug, Clone)]
pub struct Hanging {
    started: mpsc::UnboundedSender<()>,
}

#[tonic::async_trait]
impl ClockService for Hanging {
    async fn advance(
        &self,
        _request: Request<AdvanceRequest>,
    ) -> Result<Response<AdvanceResponse>, Status> {
        let _ = self.started.send(());
        std::future::pending().await
    }

    async fn now(&self, _request: Request<NowRequest>) -> Result<Response<NowResponse>, Status> {
        Ok(Response::new(NowResponse { now: None }))
    }
}

/// A served test double and how to reach it.
#[derive(Debug)]
pub struct Server {
    pub address: SocketAddr,
    /// One message each time an `Advance` call reaches the handler.
    pub started: mpsc::UnboundedReceiver<()>,
    pub served: Served<anyhow::Error>,
}

pub async fn serve(options: ServeOptions) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, started) = mpsc::unbounded_channel();
    let mut routes = RoutesBuilder::default();
    routes.add_service(ClockServiceServer::new(Hanging { started: sender }));
    let verifier = TokenVerifier::new(&AuthConfig::development()).unwrap();
    let served = Served::spawn(move |stopped: Stopped| async move {
        complaints_rpc::serve(listener, verifier, routes, &[SERVICE], &options, stopped).await
    });
    Server {
        address,
        started,
        served,
    }
}

pub fn token() -> BearerToken {
    tokens::bearer(&AuthConfig::development(), "tester", Role::Service)
}
