//! `case`: the case service as its own process (production).

use std::sync::Arc;

use complaints_domain::clock::SystemClock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = complaints_config::Settings::load()?;
    let telemetry = complaints_telemetry::init("case", &settings.log_filter, settings.log_json);
    let application = complaints_case::Application::build(settings, Arc::new(SystemClock)).await?;
    application
        .run_until_stopped(complaints_rpc::shutdown_signal())
        .await?;
    telemetry.shutdown();
    Ok(())
}
