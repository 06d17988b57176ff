//! `intake`: the intake service as its own process (production). Settings
//! come from the environment; see `complaints_config`.

use complaints_config::Settings;
use complaints_intake::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    let telemetry = complaints_telemetry::init(complaints_telemetry::TelemetryOptions {
        service: "intake",
        log_filter: &settings.log_filter,
        log_json: settings.log_json,
        metrics_listen: settings.metrics_listen,
    })?;
    let result = match Application::build(settings).await {
        Ok(application) => {
            application
                .run_until_stopped(complaints_rpc::shutdown_signal())
                .await
        }
        Err(error) => Err(error),
    };
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "intake failed");
    }
    telemetry.shutdown();
    result
}
