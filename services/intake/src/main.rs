//! `intake`: the intake service as its own process (production). Settings
//! come from the environment; see `complaints_config`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    complaints_rpc::service::run_production(complaints_intake::SUBJECT, complaints_intake::build)
        .await
}
