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
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
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
    let https = settings.endpoint.starts_with("https://");
    if !https && !settings.endpoint.starts_with("http://") {
        return Err(
            Error::invalid_input("the OTLP endpoint must be an http:// or https:// URL")
                .with_key("log.otlp.endpoint")
                .with_endpoint(&settings.endpoint),
        );
    }
    let has_tls_files =
        settings.ca_file.is_some() || settings.cert_file.is_some() || settings.key_file.is_some();
    if !https && has_tls_files {
        return Err(Error::invalid_input(
            "log.otlp.ca_file, cert_file and key_file need an https:// endpoint",
        )
        .with_key("log.otlp.endpoint")
        .with_endpoint(&settings.endpoint));
    }
    // Always our client: reqwest's own would have no roots to verify with.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .with_http_client(https_client(settings)?)
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

/// The blocking HTTP client the exporter posts with: rustls with ring,
/// trusting the system's roots and `log.otlp.ca_file`, presenting the
/// client certificate when one is set. Built on a thread of its own, as
/// opentelemetry-otlp builds its default one: a blocking client cannot be
/// made inside an async runtime.
fn https_client(settings: &OtlpSettings) -> Result<reqwest::blocking::Client> {
    let tls = tls_config(settings)?;
    std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .use_preconfigured_tls(tls)
            .build()
    })
    .join()
    .map_err(|_| Error::internal("building the OTLP client panicked").with_key("log.otlp"))?
    .map_err(|err| {
        Error::invalid_input("cannot build the OTLP client")
            .with_key("log.otlp")
            .with_source(err)
    })
}

fn tls_config(settings: &OtlpSettings) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let bad = |key: &'static str, path: &std::path::Path, what: &str| {
        Error::invalid_input(format!("{key} ({}) {what}", path.display())).with_key(key)
    };
    let mut roots = rustls::RootCertStore::empty();
    // The system's roots, for a public collector; unreadable ones are skipped.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &settings.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|_| bad("log.otlp.ca_file", path, "cannot be read"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| bad("log.otlp.ca_file", path, "is not PEM"))?;
        if certs.is_empty() {
            return Err(bad("log.otlp.ca_file", path, "holds no certificate"));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|err| bad("log.otlp.ca_file", path, &format!("is not a CA: {err}")))?;
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|err| Error::internal(format!("TLS set-up: {err}")).with_key("log.otlp"))?
    .with_root_certificates(roots);
    match (&settings.cert_file, &settings.key_file) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|_| bad("log.otlp.cert_file", cert, "cannot be read"))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| bad("log.otlp.cert_file", cert, "is not PEM"))?;
            let private = PrivateKeyDer::from_pem_file(key).map_err(|_| {
                bad(
                    "log.otlp.key_file",
                    key,
                    "holds no readable PEM private key",
                )
            })?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|err| {
                    bad(
                        "log.otlp.key_file",
                        key,
                        &format!("does not go with cert_file: {err}"),
                    )
                })
        }
        _ => Err(Error::invalid_input(
            "log.otlp.cert_file and key_file go together: set both or neither",
        )
        .with_key("log.otlp.cert_file")),
    }
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
