//! W3C trace context (`traceparent`, `tracestate`) across gRPC hops: the
//! client side injects the current span's context into the call's
//! metadata; the server side opens each call's span as a child of the
//! context the caller sent. Both use the global propagator that [`init`]
//! sets, so they are no-ops where telemetry was not initialised.
//!
//! [`init`]: crate::init

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Calls `inner` (a bearer token, typically), then adds the current span's
/// trace context to the outgoing metadata, so the callee's span joins the
/// caller's trace. Without a current span, or without an OpenTelemetry
/// layer, it adds nothing.
#[derive(Debug, Clone)]
pub struct WithTraceContext<I> {
    inner: I,
}

impl<I> WithTraceContext<I> {
    pub fn new(inner: I) -> Self {
        Self { inner }
    }
}

impl<I: Interceptor> Interceptor for WithTraceContext<I> {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut request = self.inner.call(request)?;
        inject_context(&tracing::Span::current(), request.metadata_mut());
        Ok(request)
    }
}

/// Writes `span`'s trace context into `metadata`, if it has a valid one.
pub fn inject_context(span: &tracing::Span, metadata: &mut MetadataMap) {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

/// The current span's trace context as a W3C `traceparent` (and
/// `tracestate`) text, for work handed on through a queue such as the
/// outbox; `None` outside a traced span.
pub fn current_trace_context() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier);
    });
    let traceparent = carrier.get("traceparent")?.clone();
    Some(match carrier.get("tracestate").filter(|s| !s.is_empty()) {
        Some(state) => format!("{traceparent};{state}"),
        None => traceparent,
    })
}

/// A span for work taken from a queue, continuing the trace recorded with
/// [`current_trace_context`] when the work was queued.
pub fn queued_work_span(name: &'static str, trace_context: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!(
        "queued work",
        otel.name = name,
        trace_id = tracing::field::Empty
    );
    if let Some(text) = trace_context {
        let (traceparent, tracestate) = text.split_once(';').unwrap_or((text, ""));
        let mut carrier = std::collections::HashMap::new();
        carrier.insert("traceparent".to_owned(), traceparent.to_owned());
        if !tracestate.is_empty() {
            carrier.insert("tracestate".to_owned(), tracestate.to_owned());
        }
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&carrier)
        });
        let _ = span.set_parent(parent);
    }
    record_trace_id(&span);
    span
}

/// Writes the span's trace id into its `trace_id` field, so that every log
/// line inside it names the trace. Nothing when spans are not exported.
fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let span_ref = context.span();
    let span_context = span_ref.span_context();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}

/// The trace context a caller sent in `headers`; an empty context when
/// there is none (or it is malformed).
pub fn extract_context(headers: &http::HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

/// The span of one incoming gRPC call, for `Server::trace_fn`: named by the
/// method (`package.Service/Method`), with the `rpc.*` attributes of the
/// OpenTelemetry conventions, and the caller's span as its parent when the
/// call carries a trace context. Health checks get no span: the probes
/// would drown the traces.
pub fn grpc_server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    if path.starts_with("/grpc.health.v1.Health/") {
        return tracing::Span::none();
    }
    let full_method = path.trim_start_matches('/');
    let (service, method) = full_method.split_once('/').unwrap_or((full_method, ""));
    let span = tracing::info_span!(
        "grpc",
        otel.name = full_method,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let parent = extract_context(request.headers());
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed or the span
        // is filtered out; the call is then simply not part of the trace.
        let _ = span.set_parent(parent);
    }
    record_trace_id(&span);
    span
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceFlags, TraceId, TraceState, TracerProvider as _,
    };
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN_ID: &str = "00f067aa0ba902b7";

    fn with_otel_subscriber<T>(f: impl FnOnce() -> T) -> T {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        // Spans are recorded but go nowhere: no exporter.
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    /// A writer that keeps what the log layer writes, for reading back.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_line_inside_queued_work_names_its_trace() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            let queued = format!("00-{TRACE_ID}-{SPAN_ID}-01");
            let span = queued_work_span("notification.deliver", Some(&queued));
            span.in_scope(|| tracing::info!("sent"));
            // Without a trace to continue, the span's own new trace.
            let root = queued_work_span("notification.deliver", None);
            root.in_scope(|| tracing::info!("sent alone"));
        });
        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = logged.lines().collect();
        assert!(
            lines[0].contains(&format!("trace_id={TRACE_ID}")),
            "{logged}"
        );
        assert!(lines[1].contains("trace_id="), "{logged}");
        assert!(!lines[1].contains(TRACE_ID), "{logged}");
    }

    fn remote_context() -> opentelemetry::Context {
        let span_context = SpanContext::new(
            TraceId::from_hex(TRACE_ID).unwrap(),
            SpanId::from_hex(SPAN_ID).unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(span_context)
    }

    #[test]
    fn work_queued_inside_a_trace_is_delivered_inside_the_same_trace() {
        let (queued, delivered_trace) = with_otel_subscriber(|| {
            let request = tracing::info_span!("request");
            let _ = request.set_parent(remote_context());
            let queued = request.in_scope(current_trace_context);
            let delivery = queued_work_span("outbox.deliver", queued.as_deref());
            let trace = delivery
                .context()
                .span()
                .span_context()
                .trace_id()
                .to_string();
            (queued, trace)
        });
        let queued = queued.expect("a trace context inside a traced span");
        assert!(queued.starts_with(&format!("00-{TRACE_ID}-")), "{queued}");
        assert_eq!(delivered_trace, TRACE_ID);
        assert_eq!(with_otel_subscriber(current_trace_context), None);
    }

    #[test]
    fn a_traceparent_survives_injection_into_metadata_and_extraction_from_headers() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let mut metadata = MetadataMap::new();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&remote_context(), &mut MetadataInjector(&mut metadata));
        });
        assert_eq!(
            metadata.get("traceparent").unwrap(),
            &format!("00-{TRACE_ID}-{SPAN_ID}-01")
        );

        let extracted = extract_context(&metadata.into_headers());
        let span = extracted.span();
        let span_context = span.span_context();
        assert!(span_context.is_remote());
        assert_eq!(span_context.trace_id().to_string(), TRACE_ID);
        assert_eq!(span_context.span_id().to_string(), SPAN_ID);
        assert!(span_context.is_sampled());
    }

    #[test]
    fn the_client_interceptor_adds_the_current_spans_traceparent_after_its_inner_interceptor() {
        let bearer = |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", MetadataValue::from_static("Bearer t"));
            Ok(request)
        };
        let mut interceptor = WithTraceContext::new(bearer);

        let (sent, trace_id) = with_otel_subscriber(|| {
            let span = tracing::info_span!("calling the case service");
            let _entered = span.enter();
            let trace_id = span.context().span().span_context().trace_id();
            (interceptor.call(tonic::Request::new(())).unwrap(), trace_id)
        });

        assert_eq!(sent.metadata().get("authorization").unwrap(), "Bearer t");
        let traceparent = sent
            .metadata()
            .get("traceparent")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            traceparent.starts_with(&format!("00-{trace_id}-")),
            "{traceparent}"
        );
    }

    #[test]
    fn without_a_current_span_the_client_interceptor_adds_no_traceparent() {
        let mut interceptor = WithTraceContext::new(Ok::<_, tonic::Status>);
        let sent = with_otel_subscriber(|| interceptor.call(tonic::Request::new(())).unwrap());
        assert!(sent.metadata().get("traceparent").is_none());
    }

    #[test]
    fn a_server_span_joins_the_callers_trace_and_is_named_by_the_method() {
        let request = http::Request::builder()
            .uri("http://case:50051/complaints.case.v1.CaseService/OpenCase")
            .header("traceparent", format!("00-{TRACE_ID}-{SPAN_ID}-01"))
            .body(())
            .unwrap();
        let (trace_id, metadata) = with_otel_subscriber(|| {
            let span = grpc_server_span(&request);
            let trace_id = span.context().span().span_context().trace_id();
            (
                trace_id.to_string(),
                span.metadata().map(|m| m.fields().to_string()),
            )
        });
        assert_eq!(trace_id, TRACE_ID);
        let fields = metadata.unwrap();
        for field in ["otel.name", "rpc.system", "rpc.service", "rpc.method"] {
            assert!(fields.contains(field), "{fields}");
        }
    }

    #[test]
    fn health_checks_get_no_span() {
        let request = http::Request::builder()
            .uri("/grpc.health.v1.Health/Check")
            .body(())
            .unwrap();
        assert!(with_otel_subscriber(|| grpc_server_span(&request)).is_none());
    }
}
