//! The bare relay: the practical ceiling Herald is compared with (issue 4, item 6).
//!
//! A minimal hyper server that forwards each `POST /relay/{route}` to the receiver's
//! `/hooks/{route}` with a keep-alive hyper client, copying the body and the
//! `webhook-id` header, and answers 202 once the receiver answered 2xx (502
//! otherwise). No storage, no signing, no retries, no queue: what any webhook sender
//! must at least do per event (accept a request, make a request) on the same machine.
//!
//! It runs as its own process (`herald-bench relay-serve`, spawned by the harness) so
//! its CPU time and memory are measured exactly like Herald's.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::http::{client, send, spawn_server, text_response, HttpClient};
use crate::target::{free_port, spawn, wait_until_healthy, Spawned};

/// A running relay process.
#[derive(Debug)]
pub(crate) struct Relay {
    /// `http://127.0.0.1:port`.
    pub(crate) base: String,
    /// Its process id.
    pub(crate) pid: u32,
    _process: Spawned,
}

impl Relay {
    /// Spawns `herald-bench relay-serve` forwarding to `receiver` and waits until it answers.
    pub(crate) async fn start(http: &HttpClient, receiver: SocketAddr) -> anyhow::Result<Relay> {
        let port = free_port()?;
        let exe = std::env::current_exe().context("cannot find the herald-bench executable")?;
        let mut command = Command::new(exe);
        command
            .arg("relay-serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--target")
            .arg(receiver.to_string());
        let mut process = spawn(command)?;
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Some(process.child_mut());
        wait_until_healthy(http, &format!("{base}/healthz"), &mut child).await?;
        Ok(Relay {
            base,
            pid: process.pid(),
            _process: process,
        })
    }
}

/// Runs the relay until the process is killed (the `relay-serve` subcommand).
pub(crate) fn serve(listen: SocketAddr, target: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the relay runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("relay cannot listen on {listen}"))?;
        let forward = Arc::new(Forward {
            client: client(),
            target,
        });
        let server = spawn_server(listener, move |request| {
            Arc::clone(&forward).handle(request)
        });
        server.await.context("relay server stopped")
    })
}

#[derive(Debug)]
struct Forward {
    client: HttpClient,
    target: SocketAddr,
}

impl Forward {
    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> http::Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        if path == "/healthz" {
            return text_response(StatusCode::OK, "ok");
        }
        let Some(route) = path.strip_prefix("/relay/") else {
            return text_response(StatusCode::NOT_FOUND, "no such route");
        };
        let id = request
            .headers()
            .get("webhook-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let Ok(body) = request.into_body().collect().await else {
            return text_response(StatusCode::BAD_REQUEST, "unreadable body");
        };
        let url = format!("http://{}/hooks/{route}", self.target);
        let headers = [("webhook-id", id.as_str())];
        match send(
            &self.client,
            Method::POST,
            &url,
            None,
            &headers,
            body.to_bytes(),
        )
        .await
        {
            Ok(answer) if answer.status.is_success() => text_response(StatusCode::ACCEPTED, "{}"),
            _ => text_response(StatusCode::BAD_GATEWAY, "receiver failed"),
        }
    }
}
