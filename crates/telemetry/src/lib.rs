//! Logging, tracing and metrics set-up for every complaints process:
//! `tracing` with an `EnvFilter` (`RUST_LOG`), as text for people or JSON
//! lines for log collectors; spans exported over OTLP (gRPC) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, through a filter of their own
//! (`COMPLAINTS_TRACE_FILTER`), naming the service, its version and the
//! instance; each call's and each queued job's span carries its `trace_id`,
//! so log lines inside it name the trace; W3C trace context carried across
//! gRPC hops ([`WithTraceContext`] on clients, [`grpc_server_span`] on
//! servers); and a Prometheus scrape endpoint when a metrics address is
//! given. Call [`init`] once at the start of `main` and call
//! [`TelemetryGuard::shutdown`] at the end. It sets up; it must not decide
//! what is logged, traced or counted.

mod propagation;
mod throttle;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use propagation::{
    WithTraceContext, current_trace_context, extract_context, grpc_server_span, inject_context,
    queued_work_span,
};
pub use throttle::AtMostEvery;

/// The standard OpenTelemetry variable: where spans go (OTLP over gRPC,
/// e.g. `http://otel-collector:4317`). Unset, nothing is exported.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The standard OpenTelemetry variable naming the service in traces; unset,
/// the binary's name.
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";

/// Bucket bounds, in seconds, for call latencies: a millisecond to half a
/// minute (the peers' call timeout).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Bucket bounds, in seconds, for how late a deadline fired: a worker that
/// keeps up fires within a second; minutes mean it fell behind, hours that
/// it was down.
const FIRING_LAG_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0, 86_400.0,
];
const FIRING_LAG_METRIC: &str = "complaints_deadline_firing_lag_seconds";
/// Bucket bounds for how many writes shared a transaction (group commit):
/// up to the largest batch a writer takes.
const BATCH_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
const BATCH_METRIC: &str = "complaints_group_commit_batch_size";

/// What [`init`] sets up.
#[derive(Debug, Clone)]
pub struct TelemetryOptions<'a> {
    /// The binary's name: the service name in traces unless
    /// `OTEL_SERVICE_NAME` says otherwise.
    pub service: &'static str,
    /// Which events are logged: an `EnvFilter` directive string (`info`,
    /// `complaints=debug,sqlx=warn`).
    pub log_filter: &'a str,
    /// Which spans are exported, apart from what is logged (so `RUST_LOG=warn`
    /// still exports every call's span): an `EnvFilter` directive string.
    pub trace_filter: &'a str,
    /// Log JSON lines rather than text.
    pub log_json: bool,
    /// Where to serve Prometheus metrics (`GET /metrics`); `None`, metrics
    /// are not recorded at all.
    pub metrics_listen: Option<SocketAddr>,
}

/// Telemetry could not be set up; the process should not start half-blind.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{OTLP_ENDPOINT_VAR}: the OTLP exporter could not be built: {0}")]
    Otlp(String),
    #[error("COMPLAINTS_METRICS_LISTEN {address}: {reason}")]
    Metrics { address: SocketAddr, reason: String },
}

/// Kept for the life of the process; [`shutdown`](Self::shutdown) is the
/// flush point.
#[derive(Debug)]
#[must_use = "keep the guard and call shutdown() when the process ends"]
pub struct TelemetryGuard {
    /// Present only when spans are exported.
    tracer_provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports the spans still buffered and stops the exporter. Blocks until
    /// the collector has answered or the export timed out.
    pub fn shutdown(self) {
        if let Some(provider) = self.tracer_provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "flushing spans at shutdown failed");
        }
        tracing::debug!("telemetry shut down");
    }
}

static METRICS_EXPORTED: AtomicBool = AtomicBool::new(false);

/// Whether [`init`] installed the Prometheus recorder and its listener
/// (`COMPLAINTS_METRICS_LISTEN`): without them nothing reads a metric, and
/// work done only to set one (measuring a backlog for its gauge) can be
/// left undone.
pub fn metrics_exported() -> bool {
    METRICS_EXPORTED.load(Ordering::Acquire)
}

/// Installs the global subscriber, the trace-context propagator, and, as
/// configured, the OTLP span exporter and the Prometheus recorder with its
/// listener. Must run inside the Tokio runtime: the exporter and the
/// listener run on it.
///
/// An invalid log filter falls back to `info` with a warning rather than
/// stopping the process; an OTLP endpoint that cannot be used, or a metrics
/// address that cannot be bound, is an error.
pub fn init(options: TelemetryOptions<'_>) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer_provider = if otlp_configured() {
        Some(otlp_tracer_provider(&service_name(options.service))?)
    } else {
        None
    };
    if let Some(address) = options.metrics_listen {
        prometheus_builder()
            .with_http_listener(address)
            .install()
            .map_err(|e| TelemetryError::Metrics {
                address,
                reason: e.to_string(),
            })?;
        METRICS_EXPORTED.store(true, Ordering::Release);
    }

    let (log_filter, bad_log_filter) = filter_or_info(options.log_filter);
    let (trace_filter, bad_trace_filter) = filter_or_info(options.trace_filter);
    let otel_layer = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("complaints"))
            .with_filter(trace_filter)
    });
    let log_layer = if options.log_json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_filter(log_filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(log_filter)
            .boxed()
    };
    let installed = tracing_subscriber::registry()
        .with(otel_layer)
        .with(log_layer)
        .try_init();
    if installed.is_err() {
        tracing::debug!("a global subscriber was already installed");
    }
    for (variable, error) in [
        ("RUST_LOG", bad_log_filter),
        ("COMPLAINTS_TRACE_FILTER", bad_trace_filter),
    ] {
        if let Some(error) = error {
            tracing::warn!(%error, variable, "invalid filter; using info");
        }
    }
    tracing::debug!(
        service = options.service,
        otlp = tracer_provider.is_some(),
        metrics = ?options.metrics_listen,
        "telemetry initialised"
    );
    Ok(TelemetryGuard { tracer_provider })
}

/// The Prometheus recorder's configuration: histograms (every metric this
/// platform times is in seconds; one counts writes per transaction) rendered with buckets, not as summaries,
/// so they can be aggregated across replicas.
pub fn prometheus_builder() -> PrometheusBuilder {
    // Both calls fail only for an empty bucket list; the lists are constants.
    PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(FIRING_LAG_METRIC.to_owned()),
                &FIRING_LAG_BUCKETS,
            )
        })
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Full(BATCH_METRIC.to_owned()), &BATCH_BUCKETS)
        })
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

/// The filter `directives` describe, or `info` and why not.
fn filter_or_info(directives: &str) -> (EnvFilter, Option<String>) {
    match EnvFilter::try_new(directives) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new("info"), Some(e.to_string())),
    }
}

fn otlp_configured() -> bool {
    std::env::var_os(OTLP_ENDPOINT_VAR).is_some_and(|value| !value.is_empty())
}

fn service_name(binary: &'static str) -> String {
    std::env::var(SERVICE_NAME_VAR)
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| binary.to_owned())
}

/// This process among the service's replicas: the pod's name on Kubernetes
/// (`HOSTNAME`), else the host's name and the process id.
pub fn instance_id() -> String {
    match std::env::var("HOSTNAME") {
        Ok(name) if !name.trim().is_empty() => name,
        _ => format!(
            "{}-{}",
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|name| name.trim().to_owned())
                .unwrap_or_else(|_| "localhost".to_owned()),
            std::process::id()
        ),
    }
}

/// Batches spans on a background thread and sends them with the tonic
/// client, which reads the endpoint, headers and timeout from the standard
/// `OTEL_EXPORTER_OTLP_*` variables. The channel connects on first export.
fn otlp_tracer_provider(service: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(|e| TelemetryError::Otlp(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .with_attributes([
                    KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                    KeyValue::new("service.instance.id", instance_id()),
                ])
                .build(),
        )
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_rendered_with_buckets_and_firing_lag_with_its_own() {
        let recorder = prometheus_builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!("grpc_server_request_duration_seconds").record(0.003);
            metrics::histogram!(FIRING_LAG_METRIC).record(120.0);
        });
        let rendered = handle.render();
        assert!(
            rendered.contains("grpc_server_request_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{rendered}"
        );
        assert!(
            rendered.contains("complaints_deadline_firing_lag_seconds_bucket{le=\"300\"} 1"),
            "{rendered}"
        );
        assert!(
            !rendered.contains("complaints_deadline_firing_lag_seconds_bucket{le=\"0.005\"}"),
            "{rendered}"
        );
    }
}
