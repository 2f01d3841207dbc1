//! The fast local receiver: answers every delivery with 200 and records when it came.
//!
//! Each endpoint of a run is a path `/hooks/{route}` on one hyper server in the bench
//! process. Per request it records the arrival instant, the route and the event number
//! parsed from the `webhook-id` header (the event id, which the load generator chose),
//! so latency and completeness can be computed after the run without touching Herald.
//!
//! Two ways to misbehave, both chosen when the receiver starts:
//! - **hanging routes** accept a request and never answer (the `timeouts` scenario);
//!   Herald's own attempt timeout ends them;
//! - **paused**: until [`Receiver::release`], every request is either held open and
//!   answered on release ([`PauseMode::Hold`]) or refused with 503
//!   ([`PauseMode::Unavailable`]) (the `backlog` scenario).
//!
//! It does not verify signatures: that is tested elsewhere, and doing it here would
//! make the receiver, not Herald, the thing being measured.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::sync::watch;

use crate::http::{spawn_server, text_response};

/// One request that reached the receiver with a known event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// The event number (see [`crate::load::event_id`]).
    pub(crate) n: u64,
    /// The route (endpoint index) it came to.
    pub(crate) route: u32,
    /// Nanoseconds since the run's epoch.
    pub(crate) at_ns: u64,
}

/// What a paused receiver does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PauseMode {
    /// Hold the request open and answer 200 on release.
    Hold,
    /// Answer 503 at once (Herald retries on its schedule, behind its circuit breaker).
    Unavailable,
}

/// How a receiver behaves.
#[derive(Debug, Clone)]
pub(crate) struct ReceiverConfig {
    /// Event ids are this prefix followed by the event number.
    pub(crate) id_prefix: String,
    /// Routes that accept requests and never answer.
    pub(crate) hanging: HashSet<u32>,
    /// Start paused, in this mode, until [`Receiver::release`].
    pub(crate) paused: Option<PauseMode>,
}

/// A running receiver. Dropping it stops the server and every connection.
#[derive(Debug)]
pub(crate) struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    epoch: Instant,
    config: ReceiverConfig,
    /// `true` while paused.
    paused: watch::Sender<bool>,
    arrivals: Mutex<Vec<Arrival>>,
    /// Requests recorded in `arrivals`.
    recorded: AtomicU64,
    /// Requests whose `webhook-id` was not one of this run's ids.
    foreign: AtomicU64,
    /// Requests answered 503 while paused.
    refused: AtomicU64,
}

impl Receiver {
    /// Starts a receiver on a free loopback port; arrival times count from `epoch`.
    pub(crate) async fn start(config: ReceiverConfig, epoch: Instant) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the receiver")?;
        let addr = listener.local_addr().context("receiver has no address")?;
        let (paused, _) = watch::channel(config.paused.is_some());
        let shared = Arc::new(Shared {
            epoch,
            config,
            paused,
            arrivals: Mutex::new(Vec::with_capacity(1 << 16)),
            recorded: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let handler_state = Arc::clone(&shared);
        let server = spawn_server(listener, move |request| {
            handle(Arc::clone(&handler_state), request)
        });
        Ok(Receiver {
            addr,
            shared,
            server,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL of `route`.
    pub(crate) fn url_for(&self, route: u32) -> String {
        format!("http://{}/hooks/{route}", self.addr)
    }

    /// Deliveries recorded so far.
    pub(crate) fn recorded(&self) -> u64 {
        self.shared.recorded.load(Ordering::Relaxed)
    }

    /// Requests whose event id was not this run's.
    pub(crate) fn foreign(&self) -> u64 {
        self.shared.foreign.load(Ordering::Relaxed)
    }

    /// Requests refused with 503 while paused.
    pub(crate) fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Ends the pause: held requests are answered, new ones are accepted.
    pub(crate) fn release(&self) {
        self.shared.paused.send_replace(false);
    }

    /// Every arrival recorded so far, in no particular order.
    pub(crate) fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.shared.arrivals).clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while pushing one arrival leaves the vector usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> http::Response<Full<Bytes>> {
    let arrived = Instant::now();
    let Some(route) = parse_route(request.uri().path()) else {
        return text_response(StatusCode::NOT_FOUND, "no such route");
    };
    if shared.config.hanging.contains(&route) {
        // Accept and never answer; Herald's attempt timeout closes the connection.
        std::future::pending::<()>().await;
    }
    let event_number = request
        .headers()
        .get("webhook-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|id| parse_event_number(&shared.config.id_prefix, id));
    // Read the whole body so the connection can be reused.
    if request.into_body().collect().await.is_err() {
        return text_response(StatusCode::BAD_REQUEST, "unreadable body");
    }
    let mut arrived_at = arrived;
    if *shared.paused.borrow() {
        match shared.config.paused {
            Some(PauseMode::Unavailable) => {
                shared.refused.fetch_add(1, Ordering::Relaxed);
                return text_response(StatusCode::SERVICE_UNAVAILABLE, "paused");
            }
            _ => {
                let mut paused = shared.paused.subscribe();
                // The sender lives as long as `shared`, which this task holds.
                let _ = paused.wait_for(|paused| !*paused).await;
                arrived_at = Instant::now();
            }
        }
    }
    match event_number {
        Some(n) => {
            let at_ns = arrived_at
                .saturating_duration_since(shared.epoch)
                .as_nanos() as u64;
            lock(&shared.arrivals).push(Arrival { n, route, at_ns });
            shared.recorded.fetch_add(1, Ordering::Relaxed);
        }
        None => {
            shared.foreign.fetch_add(1, Ordering::Relaxed);
        }
    }
    text_response(StatusCode::OK, "ok")
}

/// `/hooks/{route}` to the route number.
fn parse_route(path: &str) -> Option<u32> {
    path.strip_prefix("/hooks/")?.parse().ok()
}

/// `{prefix}{n}` to `n`.
pub(crate) fn parse_event_number(prefix: &str, id: &str) -> Option<u64> {
    id.strip_prefix(prefix)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_event_numbers_parse() {
        assert_eq!(parse_route("/hooks/7"), Some(7));
        assert_eq!(parse_route("/hooks/x"), None);
        assert_eq!(parse_route("/other/7"), None);
        assert_eq!(parse_event_number("bench-ab12-", "bench-ab12-42"), Some(42));
        assert_eq!(parse_event_number("bench-ab12-", "bench-ff00-42"), None);
    }
}
