//! `notification`: the notification service as its own process (production).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    complaints_rpc::service::run_production(
        complaints_notification::SUBJECT,
        complaints_notification::build,
    )
    .await
}
