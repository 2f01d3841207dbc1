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
