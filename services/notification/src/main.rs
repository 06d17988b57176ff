//! `notification`: the notification service as its own process (production).

use std::sync::Arc;

use complaints_domain::clock::SystemClock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = complaints_config::Settings::load()?;
    let telemetry = complaints_telemetry::init(complaints_telemetry::TelemetryOptions {
        service: "notification",
        log_filter: &settings.log_filter,
        log_json: settings.log_json,
        metrics_listen: settings.metrics_listen,
    })?;
    let application =
        complaints_notification::Application::build(settings, Arc::new(SystemClock)).await?;
    application
        .run_until_stopped(complaints_rpc::shutdown_signal())
        .await?;
    telemetry.shutdown();
    Ok(())
}
