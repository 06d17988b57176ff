//! `escalation`: the escalation service as its own process (production).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    complaints_rpc::service::run_production(
        complaints_escalation::SUBJECT,
        complaints_escalation::build,
    )
    .await
}
