//! Answers of any status are outcomes: captured, never followed, bodies capped.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_transport::{DestinationPolicy, HyperTransport, Response, Transport};

use crate::support::{config, loopback_transport, post, reply, Stub, StubBody};

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_response_is_captured_and_request_sent_exactly() {
    let stub = Stub::start(|| {
        let mut response = reply(200, "thanks");
        response
            .headers_mut()
            .insert("x-receiver", http::HeaderValue::from_static("stub"));
        response
    })
    .await;
    let body = r#"{"test": 2432232314}"#;

    let response = loopback_transport()
        .send(post(&stub.url("/hook?source=herald"), body))
        .await
        .expect("the stub answers");

    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"thanks");
    assert!(!response.truncated);
    assert_eq!(response.size, Some(6));
    assert!(
        !response.body_withheld,
        "private networks mode keeps bodies"
    );
    assert_eq!(header(&response, "x-receiver"), Some("stub"));
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.uri, "/hook?source=herald");
    assert_eq!(request.body, Bytes::from_static(body.as_bytes()));
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(
        request.headers["webhook-id"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek"
    );
    assert_eq!(request.headers["content-length"], "20");
    assert_eq!(request.headers["host"], stub.addr.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_is_an_outcome_with_its_body() {
    let stub = Stub::start(|| reply(500, "database on fire")).await;

    let response = loopback_transport()
        .send(post(&stub.url("/hook"), "{}"))
        .await
        .expect("a 500 is an answer, not an error");

    assert_eq!(response.status, 500);
    assert_eq!(response.body, b"database on fire");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_returned_not_followed() {
    let cases = [
        (301, "https://hooks.example.com/new"),
        (302, "https://hooks.example.com/new"),
        (307, "http://169.254.169.254/latest/meta-data/"),
        (308, "https://hooks.example.com/new"),
    ];
    let transport = loopback_transport();
    for (status, location) in cases {
        let stub = Stub::start(move || {
            let mut response = reply(status, "");
            response
                .headers_mut()
                .insert("location", http::HeaderValue::from_static(location));
            response
        })
        .await;

        let response = transport
            .send(post(&stub.url("/hook"), "{}"))
            .await
            .expect("a redirect is an answer");

        assert_eq!(response.status, status);
        assert_eq!(header(&response, "location"), Some(location), "{status}");
        assert_eq!(stub.requests().len(), 1, "{status}: nothing was followed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_body_is_truncated_at_the_cap_with_the_declared_size() {
    const FIVE_MB: usize = 5 * 1024 * 1024;
    let stub = Stub::start(|| reply(200, vec![b'a'; FIVE_MB])).await;

    let response = loopback_transport()
        .send(post(&stub.url("/hook"), "{}"))
        .await
        .expect("the stub answers");

    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), 64 * 1024);
    assert!(response.truncated);
    assert_eq!(response.size, Some(FIVE_MB as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_chunked_body_stops_at_the_cap_within_the_deadline() {
    let stub = Stub::start(|| http::Response::new(StubBody::Endless)).await;
    let mut settings = config(DestinationPolicy::allow_private());
    settings.total_timeout = Duration::from_secs(2);
    let transport = HyperTransport::new(settings).expect("transport builds");
    let started = Instant::now();

    let response = transport
        .send(post(&stub.url("/hook"), "{}"))
        .await
        .expect("reaching the cap is a success");

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), 64 * 1024);
    assert!(response.body.iter().all(|byte| *byte == b'x'));
    assert!(response.truncated);
    assert_eq!(
        response.size, None,
        "no length declared and not read to the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_read_to_the_end_reports_bytes_seen() {
    let stub = Stub::start(|| {
        let chunks = VecDeque::from([
            Bytes::from_static(b"accepted, "),
            Bytes::from_static(b"thanks"),
        ]);
        http::Response::new(StubBody::Chunks(chunks))
    })
    .await;

    let response = loopback_transport()
        .send(post(&stub.url("/hook"), "{}"))
        .await
        .expect("the stub answers");

    assert_eq!(response.body, b"accepted, thanks");
    assert!(!response.truncated);
    assert_eq!(response.size, Some(16));
    assert_eq!(header(&response, "transfer-encoding"), Some("chunked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_reuses_the_connection() {
    let stub = Stub::start(|| reply(204, "")).await;
    let transport = loopback_transport();

    const REQUESTS: usize = 10;
    for _ in 0..REQUESTS {
        let response = transport
            .send(post(&stub.url("/hook"), "{}"))
            .await
            .expect("the stub answers");
        assert_eq!(response.status, 204);
    }

    assert_eq!(stub.requests().len(), REQUESTS);
    // Not exactly 1: while a used connection is still being handed back to the pool,
    // hyper-util races the checkout against a fresh connect and pools the spare
    // connection too. Without keep-alive every request would open its own.
    assert!(
        stub.connections() < REQUESTS / 2,
        "{} connections for {REQUESTS} requests",
        stub.connections()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_attempts_to_one_host_keep_their_connections() {
    // Several endpoints on one host, each with attempts in flight: the connections a
    // wave opened are all kept for the next waves, not closed and opened again.
    let stub = Stub::start(|| reply(204, "")).await;
    let transport = loopback_transport();
    const PARALLEL: usize = 64;
    let mut after_wave = Vec::new();
    for _ in 0..3 {
        let mut wave = tokio::task::JoinSet::new();
        for endpoint in 0..PARALLEL {
            let transport = transport.clone();
            let url = stub.url(&format!("/hook/{endpoint}"));
            wave.spawn(async move { transport.send(post(&url, "{}")).await.map(|r| r.status) });
        }
        for status in wave.join_all().await {
            assert_eq!(status.expect("the stub answers"), 204);
        }
        after_wave.push(stub.connections());
    }
    assert_eq!(stub.requests().len(), 3 * PARALLEL);
    assert!(after_wave[0] <= PARALLEL, "{after_wave:?}");
    // A few may race a connection being handed back (see above), not a wave's worth.
    assert!(
        after_wave[2] - after_wave[0] < PARALLEL / 4,
        "connections after each wave: {after_wave:?}"
    );
}
