//! Span export over OTLP/HTTP to an in-process receiver, and W3C trace
//! context propagation through header maps.
#![cfg(feature = "otlp")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use core_log::LogSettings;

struct Captured {
    request_line: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Accepts one HTTP/1.1 POST on loopback, answers 200 and hands it over.
fn receiver() -> (String, mpsc::Receiver<Captured>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, captured) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        serve(stream, &sender);
    });
    (format!("http://{address}/v1/traces"), captured)
}

/// The same over TLS, with the server certificate of `scripts/services.sh`'s
/// project CA (for `localhost` and 127.0.0.1). A handshake that fails is
/// reported on the second channel.
fn tls_receiver() -> (String, mpsc::Receiver<Captured>, mpsc::Receiver<String>) {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let dir = core_testkit::Service::tls_dir();
    let chain = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, captured) = mpsc::channel();
    let (refused_sender, refused) = mpsc::channel();
    std::thread::spawn(move || {
        // The exporter may try more than once; serve until one request lands.
        while let Ok((stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, stream);
            if let Err(err) = tls.conn.complete_io(&mut tls.sock) {
                let _ = refused_sender.send(err.to_string());
                continue;
            }
            serve(tls, &sender);
            return;
        }
    });
    (format!("https://{address}/v1/traces"), captured, refused)
}

/// Reads one request from `stream`, answers 200, hands the request over.
fn serve(stream: impl Read + Write, sender: &mpsc::Sender<Captured>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers["content-length"].parse().unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut stream = reader.into_inner();
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        )
        .unwrap();
    stream.flush().unwrap();
    let _ = sender.send(Captured {
        request_line,
        headers,
        body,
    });
}

fn settings(endpoint: String) -> LogSettings {
    let mut settings = LogSettings {
        stdout: false,
        ..LogSettings::default()
    };
    settings.otlp.enabled = true;
    settings.otlp.endpoint = endpoint;
    settings.otlp.service_name = "checkout-service".into();
    settings
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn spans_are_posted_as_otlp_protobuf() {
    let (endpoint, captured) = receiver();
    let (dispatch, guard) = core_log::build(&settings(endpoint)).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("charge-card-span", amount = 42)
            .in_scope(|| tracing::info!("charging"));
    });
    // Dropping the guard shuts the exporter down, which sends the batch.
    drop(guard);

    let request = captured.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(
        request.request_line.starts_with("POST /v1/traces "),
        "{}",
        request.request_line
    );
    assert_eq!(request.headers["content-type"], "application/x-protobuf");
    assert!(contains(&request.body, b"charge-card-span"));
    assert!(contains(&request.body, b"checkout-service"));
}

#[test]
fn spans_are_posted_over_https_verified_against_the_configured_ca() {
    let (endpoint, captured, _) = tls_receiver();
    let mut settings = settings(endpoint);
    settings.otlp.ca_file = Some(core_testkit::Service::tls_dir().join("ca.pem"));
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("tls-export-span").in_scope(|| tracing::info!("over TLS"));
    });
    drop(guard);
    let request = captured.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(contains(&request.body, b"tls-export-span"));
}

#[test]
fn a_collector_whose_certificate_is_not_trusted_gets_nothing() {
    let (endpoint, captured, refused) = tls_receiver();
    let mut settings = settings(endpoint);
    settings.otlp.ca_file = Some(core_testkit::Service::tls_dir().join("other-ca.pem"));
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("never-sent-span").in_scope(|| tracing::info!("refused"));
    });
    drop(guard);
    let reason = refused.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(!reason.is_empty());
    assert!(
        captured.try_recv().is_err(),
        "nothing crosses an untrusted connection"
    );
}

#[test]
fn tls_files_need_an_https_endpoint() {
    let mut settings = settings("http://127.0.0.1:4318/v1/traces".into());
    settings.otlp.ca_file = Some("/etc/ssl/ca.pem".into());
    let err = core_log::build(&settings).err().unwrap();
    assert!(
        err.to_string().contains("need an https:// endpoint"),
        "{err}"
    );
}

#[test]
fn only_spans_the_level_filter_keeps_are_exported() {
    let (endpoint, captured) = receiver();
    let mut settings = settings(endpoint);
    settings.level = "warn".into();
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::warn_span!("kept-warn-span").in_scope(|| {
            tracing::trace_span!("dropped-trace-span").in_scope(|| tracing::trace!("deep"));
            tracing::info_span!("dropped-info-span").in_scope(|| tracing::info!("chatty"));
        });
    });
    drop(guard);

    let request = captured.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(contains(&request.body, b"kept-warn-span"));
    assert!(!contains(&request.body, b"dropped-trace-span"));
    assert!(!contains(&request.body, b"dropped-info-span"));
}

fn traceparent(headers: &HashMap<String, String>) -> (String, String) {
    let value = &headers[core_log::TRACEPARENT];
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1].len(), 32);
    assert_eq!(parts[2].len(), 16);
    assert!(
        parts[1..3]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
    );
    (parts[1].to_owned(), parts[2].to_owned())
}

#[test]
fn trace_context_round_trips_through_headers() {
    let mut settings = settings("http://127.0.0.1:9/v1/traces".into());
    settings.otlp.enabled = true;
    let (dispatch, guard) = core_log::build(&settings).unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let caller = tracing::info_span!("caller");
        let outgoing = core_log::trace_headers(&caller);
        let (trace_id, caller_span_id) = traceparent(&outgoing);

        // The receiving side: its span joins the caller's trace.
        let handler = tracing::info_span!("handler");
        assert!(core_log::extract_trace_context(&handler, &outgoing));
        let forwarded = core_log::trace_headers(&handler);
        let (forwarded_trace, handler_span_id) = traceparent(&forwarded);
        assert_eq!(forwarded_trace, trace_id);
        assert_ne!(handler_span_id, caller_span_id);

        let unrelated = tracing::info_span!("unrelated");
        let (other_trace, _) = traceparent(&core_log::trace_headers(&unrelated));
        assert_ne!(other_trace, trace_id);

        let garbage = HashMap::from([("traceparent".to_owned(), "00-nothex-01".to_owned())]);
        assert!(!core_log::extract_trace_context(
            &tracing::info_span!("x"),
            &garbage
        ));
    });
    drop(guard);
}

#[test]
fn endpoints_the_exporter_cannot_reach_are_refused() {
    // https is built in now: the exporter is made, verification happens on send.
    let built = core_log::build(&settings("https://collector:4318/v1/traces".into()));
    assert!(built.is_ok());

    let err = core_log::build(&settings("collector:4318".into()))
        .err()
        .unwrap();
    assert_eq!(err.kind(), core_log::ErrorKind::InvalidInput);
}
