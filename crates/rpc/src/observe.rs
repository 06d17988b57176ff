//! Rate, errors and latency of every call a server answers, as Prometheus
//! metrics: `grpc_server_requests_total{service,method,code}` and
//! `grpc_server_request_duration_seconds{service,method}`.
//!
//! Recorded through the `metrics` facade: without an installed recorder
//! (tests, or no `COMPLAINTS_METRICS_LISTEN`) it costs a clock read.
//!
//! Every call is counted with the code its caller gets: a call the
//! concurrency limit sheds as `RESOURCE_EXHAUSTED`, one that ends before
//! its answer (the call timeout, or a caller that gave up) as `CANCELLED`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use pin_project_lite::pin_project;
use prost::Message as _;
use tonic::Code;
use tower::{Layer, Service};

const REQUESTS_TOTAL: &str = "grpc_server_requests_total";
const REQUEST_DURATION: &str = "grpc_server_request_duration_seconds";
/// The label of a path that names no method of the platform: anyone can
/// send any path, and each distinct label value is a series Prometheus keeps.
const UNKNOWN: &str = "unknown";

/// Every `/package.Service/Method` path the platform serves, from the
/// descriptor sets, so labels come from a closed set.
static KNOWN_PATHS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    [
        complaints_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
    .into_iter()
    .filter_map(|bytes| prost_types::FileDescriptorSet::decode(bytes).ok())
    .flat_map(|set| set.file)
    .flat_map(|file| {
        let package = file.package().to_owned();
        file.service.into_iter().flat_map(move |service| {
            let package = package.clone();
            let service_name = service.name().to_owned();
            service
                .method
                .into_iter()
                .map(move |method| format!("/{package}.{service_name}/{}", method.name()))
        })
    })
    .collect()
});

/// The methods of `service` (`complaints.case.v1.CaseService`), by name.
pub(crate) fn known_methods(service: &str) -> Vec<String> {
    let prefix = format!("/{service}/");
    let mut methods: Vec<String> = KNOWN_PATHS
        .iter()
        .filter_map(|path| path.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    methods.sort();
    methods
}

/// Counts and times every call, whatever answers it (the auth layer's
/// refusals included), so it goes outermost.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around the server's router.
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

/// The gRPC code an error out of the server's layers reaches the caller as:
/// tonic answers such an error as [`tonic::Status::from_error`] reads it.
pub trait WireCode {
    fn wire_code(&self) -> Code;
}

impl WireCode for tower::BoxError {
    fn wire_code(&self) -> Code {
        if self.is::<tower::load_shed::error::Overloaded>() {
            Code::ResourceExhausted
        } else if let Some(status) = self.downcast_ref::<tonic::Status>() {
            status.code()
        } else if self.is::<tonic::TimeoutExpired>() {
            Code::Cancelled
        } else {
            // The connection failed under the call.
            Code::Unknown
        }
    }
}

impl WireCode for Infallible {
    fn wire_code(&self) -> Code {
        match *self {}
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcMetrics<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: WireCode,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let (service, method) = labels(request.uri().path());
        ResponseFuture {
            inner: self.inner.call(request),
            call: Some(Call {
                started: Instant::now(),
                service,
                method,
            }),
        }
    }
}

/// The `service` and `method` labels of a request path.
fn labels(path: &str) -> (String, String) {
    if !KNOWN_PATHS.contains(path) {
        return (UNKNOWN.to_owned(), UNKNOWN.to_owned());
    }
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((UNKNOWN, UNKNOWN));
    (service.to_owned(), method.to_owned())
}

/// The call's gRPC status. Every RPC of the platform is unary, and tonic
/// answers a failed unary call trailers-only, with `grpc-status` in the
/// headers; a success carries it in the trailers, so its absence here is OK.
fn code_of<B>(response: &http::Response<B>) -> Code {
    match response.headers().get("grpc-status") {
        Some(value) => Code::from_bytes(value.as_bytes()),
        None if response.status() == http::StatusCode::OK => Code::Ok,
        None => Code::Unknown,
    }
}

/// Whether `code` means the server failed (the span's status is then an
/// error), as OpenTelemetry's gRPC conventions say for a server: a refusal
/// of the caller's request (`INVALID_ARGUMENT`, `NOT_FOUND`, ...) is not.
fn is_server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// The canonical name of a status code, as other gRPC metrics spell it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A call being answered: what its metrics are labelled with.
struct Call {
    started: Instant,
    service: String,
    method: String,
}

impl Call {
    /// Records the call as answered with `code`, on its metrics and on the
    /// span `complaints_telemetry::grpc_server_span` opened for it.
    fn record(self, code: Code) {
        let span = tracing::Span::current();
        span.record("rpc.grpc.status_code", code as i32);
        if is_server_fault(code) {
            span.record("otel.status_code", "error");
        }
        metrics::histogram!(
            REQUEST_DURATION,
            "service" => self.service.clone(),
            "method" => self.method.clone(),
        )
        .record(self.started.elapsed().as_secs_f64());
        metrics::counter!(
            REQUESTS_TOTAL,
            "service" => self.service,
            "method" => self.method,
            "code" => code_name(code),
        )
        .increment(1);
    }
}

pin_project! {
    /// The response of [`GrpcMetrics`]: the inner service's, recorded when
    /// it is ready, or when it is dropped unanswered.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // Taken when recorded.
        call: Option<Call>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(call) = this.project().call.take() {
                // Dropped before its answer: the call timeout ended it, or
                // its caller went away. Either way the caller has (or
                // would have had) CANCELLED.
                call.record(Code::Cancelled);
            }
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: WireCode,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let code = match &result {
            Ok(response) => code_of(response),
            Err(error) => error.wire_code(),
        };
        if let Some(call) = this.call.take() {
            call.record(code);
        }
        Poll::Ready(result)
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (service, method) = self
            .call
            .as_ref()
            .map_or(("", ""), |call| (&call.service, &call.method));
        f.debug_struct("ResponseFuture")
            .field("service", &service)
            .field("method", &method)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Ready;
    use std::task::Waker;

    use super::*;

    /// Answers every call with `grpc-status: code`, or none for OK.
    #[derive(Clone)]
    struct Answers(Code);

    impl Service<http::Request<()>> for Answers {
        type Response = http::Response<()>;
        type Error = Infallible;
        type Future = Ready<Result<http::Response<()>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            let mut response = http::Response::new(());
            if self.0 != Code::Ok {
                response
                    .headers_mut()
                    .insert("grpc-status", (self.0 as i32).into());
            }
            std::future::ready(Ok(response))
        }
    }

    fn call(service: &mut GrpcMetrics<Answers>, path: &str) {
        let request = http::Request::builder()
            .uri(format!("http://case:50051{path}"))
            .body(())
            .unwrap();
        let mut future = std::pin::pin!(service.call(request));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_recorded_call_is_rendered_as_the_rpc_count_and_latency() {
        let recorder = complaints_telemetry::prometheus_builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let mut ok = GrpcMetricsLayer.layer(Answers(Code::Ok));
            call(&mut ok, "/complaints.case.v1.CaseService/GetCase");
            call(&mut ok, "/complaints.case.v1.CaseService/GetCase");
            let mut refused = GrpcMetricsLayer.layer(Answers(Code::Unauthenticated));
            call(&mut refused, "/complaints.case.v1.CaseService/GetCase");
        });
        let rendered = handle.render();
        for line in [
            r#"grpc_server_requests_total{service="complaints.case.v1.CaseService",method="GetCase",code="OK"} 2"#,
            r#"grpc_server_requests_total{service="complaints.case.v1.CaseService",method="GetCase",code="UNAUTHENTICATED"} 1"#,
            r#"grpc_server_request_duration_seconds_count{service="complaints.case.v1.CaseService",method="GetCase"} 3"#,
            r#"grpc_server_request_duration_seconds_bucket{service="complaints.case.v1.CaseService",method="GetCase",le="+Inf"} 3"#,
        ] {
            assert!(rendered.contains(line), "missing {line} in\n{rendered}");
        }
    }

    /// Never answers: a call that holds its place until dropped.
    #[derive(Clone)]
    struct Never;

    impl Service<http::Request<()>> for Never {
        type Response = http::Response<()>;
        type Error = Infallible;
        type Future = std::future::Pending<Result<http::Response<()>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::pending()
        }
    }

    fn get_case() -> http::Request<()> {
        http::Request::builder()
            .uri("http://case:50051/complaints.case.v1.CaseService/GetCase")
            .body(())
            .unwrap()
    }

    /// The server's own stack (`crate::serve`): the limit of one call in
    /// flight, shedding the next at once, under the metrics layer.
    #[test]
    fn a_call_shed_by_the_concurrency_limit_is_counted_as_resource_exhausted() {
        let recorder = complaints_telemetry::prometheus_builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let mut server = GrpcMetricsLayer.layer(
                tower::load_shed::LoadShedLayer::new()
                    .layer(tower::limit::ConcurrencyLimitLayer::new(1).layer(Never)),
            );
            let mut cx = Context::from_waker(Waker::noop());
            assert!(server.poll_ready(&mut cx).is_ready());
            let mut holding = std::pin::pin!(server.call(get_case()));
            assert!(holding.as_mut().poll(&mut cx).is_pending());
            assert!(server.poll_ready(&mut cx).is_ready());
            let shed = std::pin::pin!(server.call(get_case())).poll(&mut cx);
            assert!(
                matches!(shed, Poll::Ready(Err(_))),
                "the second call is shed"
            );
        });
        let rendered = handle.render();
        let shed = r#"grpc_server_requests_total{service="complaints.case.v1.CaseService",method="GetCase",code="RESOURCE_EXHAUSTED"} 1"#;
        assert!(rendered.contains(shed), "missing {shed} in\n{rendered}");
        assert!(!rendered.contains(r#"code="UNKNOWN""#), "{rendered}");
    }

    #[test]
    fn a_call_dropped_before_its_answer_is_counted_as_cancelled() {
        let recorder = complaints_telemetry::prometheus_builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let mut server = GrpcMetricsLayer.layer(Never);
            let mut cx = Context::from_waker(Waker::noop());
            let mut call = Box::pin(server.call(get_case()));
            assert!(call.as_mut().poll(&mut cx).is_pending());
            drop(call);
        });
        let rendered = handle.render();
        for line in [
            r#"grpc_server_requests_total{service="complaints.case.v1.CaseService",method="GetCase",code="CANCELLED"} 1"#,
            r#"grpc_server_request_duration_seconds_count{service="complaints.case.v1.CaseService",method="GetCase"} 1"#,
        ] {
            assert!(rendered.contains(line), "missing {line} in\n{rendered}");
        }
    }

    #[test]
    fn a_path_the_platform_does_not_serve_is_labelled_unknown() {
        let recorder = complaints_telemetry::prometheus_builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let mut service = GrpcMetricsLayer.layer(Answers(Code::Unimplemented));
            call(&mut service, "/made.up.Service/Anything");
        });
        let rendered = handle.render();
        assert!(
            rendered.contains(
                r#"grpc_server_requests_total{service="unknown",method="unknown",code="UNIMPLEMENTED"} 1"#
            ),
            "{rendered}"
        );
        assert!(!rendered.contains("made.up"), "{rendered}");
    }

    #[test]
    fn health_and_the_platforms_own_methods_are_known() {
        assert_eq!(
            labels("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health".to_owned(), "Check".to_owned())
        );
        assert_eq!(
            labels("/complaints.intake.v1.IntakeService/SubmitComplaint"),
            (
                "complaints.intake.v1.IntakeService".to_owned(),
                "SubmitComplaint".to_owned()
            )
        );
    }
}
