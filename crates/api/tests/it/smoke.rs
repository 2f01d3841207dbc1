//! `serve` on a real socket (127.0.0.1:0) with graceful shutdown.

use std::io::{Read, Write};

use crate::support::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_http_on_a_socket_until_shutdown() {
    let api = Api::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(herald_api::serve(listener, api.router(), async {
        let _ = stopped.await;
    }));

    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let health: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        health,
        serde_json::json!({"status": "ok", "due_lag_seconds": 0})
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_cannot_starve_others() {
    let api = Api::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = herald_api::ServeLimits {
        max_connections: 2,
        header_read_timeout: std::time::Duration::from_millis(300),
        shutdown_grace: std::time::Duration::from_secs(5),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(herald_api::serve_with_limits(
        listener,
        api.router(),
        limits,
        async {
            let _ = stopped.await;
        },
    ));

    let (slow_answers, response) = tokio::task::spawn_blocking(move || {
        // Two clients take both connection slots and never finish their headers.
        let slow: Vec<std::net::TcpStream> = (0..2)
            .map(|_| {
                let mut stream = std::net::TcpStream::connect(address).unwrap();
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .unwrap();
                stream
            })
            .collect();
        // A third client waits in the backlog and is served once they are cut off.
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let slow_answers: Vec<String> = slow
            .into_iter()
            .map(|mut stream| {
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                answer
            })
            .collect();
        (slow_answers, response)
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    for answer in slow_answers {
        // hyper closes a connection whose headers time out (with a 408 or nothing).
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
