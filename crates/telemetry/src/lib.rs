//! Logging and tracing set-up for every complaints process: `tracing` with
//! an `EnvFilter` (`RUST_LOG`), as text for people or JSON lines for log
//! collectors. Call [`init`] once at the start of `main` and keep the guard
//! until the end. It sets up; it must not decide what is logged.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Kept alive for the life of the process; dropping it is the flush point.
#[derive(Debug)]
#[must_use = "keep the guard until the process ends"]
pub struct TelemetryGuard {
    _private: (),
}

impl TelemetryGuard {
    /// Flushes whatever is buffered. Logging writes through, so today this
    /// only marks the end of the process in the log.
    pub fn shutdown(self) {
        tracing::debug!("telemetry shut down");
    }
}

/// Installs the global subscriber. `filter` is an `EnvFilter` directive
/// string (`info`, `complaints=debug,sqlx=warn`); an invalid one falls back
/// to `info` with a warning rather than stopping the process.
pub fn init(service: &'static str, filter: &str, json: bool) -> TelemetryGuard {
    let (filter, bad_filter) = match EnvFilter::try_new(filter) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new("info"), Some(e.to_string())),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init()
    };
    if installed.is_err() {
        tracing::debug!("a global subscriber was already installed");
    }
    if let Some(error) = bad_filter {
        tracing::warn!(%error, "invalid RUST_LOG; logging at info");
    }
    tracing::debug!(service, "telemetry initialised");
    TelemetryGuard { _private: () }
}
