//! OpenTelemetry span export over OTLP/HTTP (protobuf), and W3C trace
//! context propagation through HTTP and message headers.
//!
//! The HTTP/protobuf exporter needs no `protoc` at build time and no gRPC
//! stack; spans are batched on a background thread and sent with a blocking
//! HTTP client, so export never runs on the async runtime.

use std::collections::HashMap;

use core_error::{Error, Result};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::Registry;

use crate::settings::OtlpSettings;

/// Shuts the exporter down on drop, sending the spans still batched.
pub(crate) struct OtlpGuard {
    provider: SdkTracerProvider,
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("core-log: could not flush the OTLP exporter: {err}");
        }
    }
}

/// The `tracing` layer turning spans into exported OpenTelemetry spans.
pub(crate) fn layer(
    settings: &OtlpSettings,
) -> Result<(Box<dyn Layer<Registry> + Send + Sync>, OtlpGuard)> {
    if settings.endpoint.starts_with("https://") {
        // The exporter is built without a TLS stack to keep the build small;
        // send to a collector on the host or in the pod over plain HTTP.
        return Err(Error::unsupported(
            "OTLP over https is not built in; use an http:// collector",
        )
        .with_key("log.otlp.endpoint")
        .with_endpoint(&settings.endpoint));
    }
    if !settings.endpoint.starts_with("http://") {
        return Err(
            Error::invalid_input("the OTLP endpoint must be an http:// URL")
                .with_key("log.otlp.endpoint")
                .with_endpoint(&settings.endpoint),
        );
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .build()
        .map_err(|err| {
            Error::invalid_input("cannot build the OTLP exporter")
                .with_key("log.otlp")
                .with_endpoint(&settings.endpoint)
                .with_source(err)
        })?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("core-log");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer).boxed();
    Ok((layer, OtlpGuard { provider }))
}

/// The header W3C trace context travels in.
pub const TRACEPARENT: &str = "traceparent";

/// Writes `span`'s trace context (`traceparent`, `tracestate`) into outgoing
/// headers: an HTTP request's or a queue message's.
///
/// ```
/// use std::collections::HashMap;
///
/// let mut headers = HashMap::new();
/// core_log::inject_trace_context(&tracing::Span::current(), &mut headers);
/// // Outside an exported span there is no context, and nothing is written.
/// assert!(headers.get("traceparent").is_none());
/// ```
pub fn inject_trace_context(span: &Span, headers: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(&span.context(), headers);
}

/// Makes the trace context found in incoming headers the parent of `span`,
/// so the spans of this service join the caller's trace. Returns whether a
/// valid `traceparent` was found.
pub fn extract_trace_context(span: &Span, headers: &dyn Extractor) -> bool {
    let context = TraceContextPropagator::new().extract(headers);
    use opentelemetry::trace::TraceContextExt as _;
    if !context.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(context).is_ok()
}

/// The trace context of `span` as a header map, ready to copy into any
/// transport's headers.
pub fn trace_headers(span: &Span) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    inject_trace_context(span, &mut headers);
    headers
}
