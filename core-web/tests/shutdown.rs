//! Graceful shutdown over a real socket: once told to stop, `/ready`
//! answers 503 while requests are still served for `drain_delay_ms`, then
//! the listener closes and a request in flight still completes. (Draining is
//! process-wide, as the signal is: this test has a binary of its own.)

use std::time::Duration;

use axum::Router;
use axum::routing;
use core_web::{ApiResult, Probes, ServerSettings};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

async fn slow() -> ApiResult<&'static str> {
    tokio::time::sleep(Duration::from_millis(800)).await;
    Ok("finished")
}

/// The status code and body of `GET path`, on a connection of its own.
async fn get(address: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, answer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_lets_the_request_in_flight_finish() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = ServerSettings {
        drain_delay_ms: 400,
        shutdown_timeout_ms: 5_000,
        ..ServerSettings::default()
    };
    let metrics = core_log::Metrics::local().1;
    let app = core_web::app(
        Router::new().route("/slow", routing::get(slow)),
        Probes::new(metrics, Duration::from_millis(100)),
        &server,
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn({
        let server = server.clone();
        async move {
            core_web::serve_on(listener, app, &server, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    assert_eq!(get(address, "/ready").await.unwrap().0, 200);

    let in_flight = tokio::spawn(async move { get(address, "/slow").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let (status, body) = get(address, "/ready").await.unwrap();
    assert_eq!(status, 503, "draining: {body}");
    assert!(body.contains("draining"), "{body}");
    assert_eq!(
        get(address, "/health").await.unwrap().0,
        200,
        "still serving while draining"
    );

    let (status, body) = in_flight.await.unwrap().unwrap();
    assert_eq!(status, 200, "the request in flight completes: {body}");
    assert!(body.ends_with("finished"), "{body}");
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the server stops once drained")
        .unwrap()
        .unwrap();
    assert!(
        get(address, "/health").await.is_err(),
        "the listener is closed"
    );
}
