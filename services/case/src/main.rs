//! `case`: the case service as its own process (production).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    complaints_rpc::service::run_production(complaints_case::SUBJECT, complaints_case::build).await
}
