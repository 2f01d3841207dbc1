//! No usable answer: each failure is an error of the right kind, within the deadline.

use std::time::{Duration, Instant};

use herald_event::ErrorKind;
use herald_transport::{DestinationPolicy, HyperTransport, Transport, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{
    config, loopback_transport, post, self_signed_tls_server, RawServer, ScriptedResolver,
};

/// A transport whose whole attempt may take 300 ms.
fn impatient_transport() -> HyperTransport {
    let mut settings = config(DestinationPolicy::allow_private());
    settings.total_timeout = Duration::from_millis(300);
    HyperTransport::new(settings).expect("transport builds")
}

#[track_caller]
fn check(
    result: Result<herald_transport::Response, TransportError>,
    kind: ErrorKind,
) -> TransportError {
    let error = result.expect_err("the attempt fails");
    assert_eq!(error.kind(), kind, "{}", error.report());
    error
}

/// Reads what the client sends, so it is not refused.
async fn read_request(stream: &mut tokio::net::TcpStream) {
    let mut buffer = [0u8; 4096];
    let _ = stream.read(&mut buffer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_times_out_within_the_total_timeout() {
    let server = RawServer::start(|stream| async move { stream }).await;
    let started = Instant::now();

    let result = impatient_transport()
        .send(post(&server.url("/hook"), "{}"))
        .await;

    let elapsed = started.elapsed();
    let error = check(result, ErrorKind::Timeout);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
    assert_eq!(error.to_string(), "no complete response within 300ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_that_stalls_times_out() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part";
        let _ = stream.write_all(head).await;
        stream
    })
    .await;

    let result = impatient_transport()
        .send(post(&server.url("/hook"), "{}"))
        .await;

    check(result, ErrorKind::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_connect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    drop(listener);

    let result = loopback_transport()
        .send(post(&format!("http://{addr}/hook"), "{}"))
        .await;

    let error = check(result, ErrorKind::Connect);
    assert_eq!(error.to_string(), "could not connect to 127.0.0.1");
    let report = error.report();
    assert!(
        report.starts_with("could not connect to 127.0.0.1: "),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_host_is_dns() {
    let resolver = ScriptedResolver::new([Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "no such host",
    ))]);
    let transport =
        HyperTransport::with_resolver(config(DestinationPolicy::public_only()), resolver)
            .expect("transport builds");

    let result = transport
        .send(post("https://nxdomain.invalid/hook", "{}"))
        .await;

    let error = check(result, ErrorKind::Dns);
    assert_eq!(error.to_string(), "dns lookup for nxdomain.invalid failed");
    assert!(
        error.report().contains("no such host"),
        "{}",
        error.report()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificate_is_tls() {
    let addr = self_signed_tls_server();

    let result = loopback_transport()
        .send(post(&format!("https://{addr}/hook"), "{}"))
        .await;

    let error = check(result, ErrorKind::Tls);
    assert_eq!(error.to_string(), "tls handshake with 127.0.0.1 failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_answer_on_an_https_url_is_tls() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        stream
    })
    .await;

    let result = loopback_transport()
        .send(post(&format!("https://{}/hook", server.addr), "{}"))
        .await;

    check(result, ErrorKind::Tls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_http_is_invalid_response() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
        stream
    })
    .await;

    let result = loopback_transport()
        .send(post(&server.url("/hook"), "{}"))
        .await;

    let error = check(result, ErrorKind::InvalidResponse);
    assert_eq!(error.to_string(), "invalid http response from 127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_up_without_an_answer_is_invalid_response() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream.shutdown().await;
        stream
    })
    .await;

    let result = loopback_transport()
        .send(post(&server.url("/hook"), "{}"))
        .await;

    check(result, ErrorKind::InvalidResponse);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_cut_short_is_invalid_response() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part";
        let _ = stream.write_all(head).await;
        let _ = stream.shutdown().await;
        stream
    })
    .await;

    let result = loopback_transport()
        .send(post(&server.url("/hook"), "{}"))
        .await;

    let error = check(result, ErrorKind::InvalidResponse);
    assert_eq!(
        error.to_string(),
        "reading the response body from 127.0.0.1 failed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_urls_are_never_sent() {
    let transport = loopback_transport();
    for (url, message) in [
        (
            "https://user:p%40ss@hooks.example.com/in",
            "endpoint url refused: credentials in the URL are not allowed (they would be stored and logged); remove the user:password@ part",
        ),
        (
            "ftp://hooks.example.com/in",
            "endpoint url refused: scheme must be http or https",
        ),
    ] {
        let error = check(
            transport.send(post(url, "{}")).await,
            ErrorKind::BlockedDestination,
        );
        assert_eq!(error.to_string(), message);
        assert!(!error.report().contains("p%40ss"));
    }
}
