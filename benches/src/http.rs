//! The HTTP client the harness shares: hyper with keep-alive, plus small helpers for
//! the REST calls that set a run up.
//!
//! One pooled client carries every request of a run (setup, load, relay hops), so
//! connections are reused as a real producer would reuse them. This module is not a
//! general API client: it knows only what the harness needs (JSON in, status and
//! bytes out, an optional bearer key).

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A keep-alive hyper client over plain TCP.
pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A client that keeps idle connections for reuse and sets `TCP_NODELAY`, so small
/// requests are not held back by Nagle's algorithm.
pub(crate) fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_keepalive(Some(Duration::from_secs(60)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// An answer: status and the whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Answer {
    /// Fails unless the status is one of `expected`, quoting the body.
    pub(crate) fn expect(self, what: &str, expected: &[u16]) -> anyhow::Result<Answer> {
        if expected.contains(&self.status.as_u16()) {
            return Ok(self);
        }
        anyhow::bail!(
            "{what}: expected {expected:?}, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// Sends one request with an optional bearer key and extra headers; reads the whole answer.
pub(crate) async fn send(
    client: &HttpClient,
    method: Method,
    url: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
    body: Bytes,
) -> anyhow::Result<Answer> {
    let mut request = Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(key) = bearer {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body))
        .with_context(|| format!("cannot build a request to {url}"))?;
    let response = client
        .request(request)
        .await
        .with_context(|| format!("request to {url} failed"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading the answer from {url} failed"))?
        .to_bytes();
    Ok(Answer { status, body })
}

/// `POST url` with a JSON value as the body.
pub(crate) async fn post_json(
    client: &HttpClient,
    url: &str,
    bearer: Option<&str>,
    value: &serde_json::Value,
) -> anyhow::Result<Answer> {
    let body = Bytes::from(serde_json::to_vec(value).context("cannot serialize a request")?);
    send(client, Method::POST, url, bearer, &[], body).await
}

/// `GET url`.
pub(crate) async fn get(
    client: &HttpClient,
    url: &str,
    bearer: Option<&str>,
) -> anyhow::Result<Answer> {
    send(client, Method::GET, url, bearer, &[], Bytes::new()).await
}

/// Serves HTTP/1.1 (keep-alive) on `listener` with `handler` until the returned task
/// is aborted; aborting it also ends every open connection, including requests a
/// handler is still holding.
pub(crate) fn spawn_server<H, Fut>(
    listener: tokio::net::TcpListener,
    handler: H,
) -> tokio::task::JoinHandle<()>
where
    H: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = http::Response<Full<Bytes>>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    // Accept errors (such as running out of file descriptors) are
                    // transient: the load simply waits and the figures show it.
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let handler = handler.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let answer = handler(request);
                            async move { Ok::<_, std::convert::Infallible>(answer.await) }
                        });
                        let io = hyper_util::rt::TokioIo::new(stream);
                        // A peer that drops the connection mid-request is not an
                        // error worth reporting here.
                        let _ = hyper::server::conn::http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(io, service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

/// A response with `status` and a short text body.
pub(crate) fn text_response(status: StatusCode, text: &'static str) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}
