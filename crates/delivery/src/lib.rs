//! `herald-delivery`: the engine that moves deliveries along.
//!
//! claim -> sign -> send -> record -> reschedule. [`run`] leases due deliveries from a
//! [`Store`] in batches, runs each as a task bounded by a global and a per-endpoint
//! concurrency limit, and records every attempt with what happens next. It holds only
//! trait objects (`Arc<dyn Store>`, `Arc<dyn Transport>`); which backend and which HTTP
//! stack is the caller's choice. It is not a scheduler of its own: the store's due
//! index is the schedule, so a crashed process loses nothing but in-flight leases.
#![warn(missing_docs)]

mod attempt;
mod clock;
mod dispatch;
mod error;
mod headers;

use std::sync::Arc;
use std::time::Duration;

use herald_retry::{CircuitPolicy, RetryPolicy};
use herald_store::Store;
use herald_transport::Transport;
use tokio::sync::Notify;

pub use clock::{Clock, SystemClock, TokioClock};
pub use dispatch::run;
pub use error::DeliveryError;

/// How the engine behaves. Built in code; presets via [`DeliveryConfig::standard`].
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// When failed attempts are retried and when to give up.
    pub retry: RetryPolicy,
    /// `Supapitch` gives `X-Supapitch-Signature` and `X-Supapitch-Event`.
    pub header_prefix: String,
    /// The `User-Agent` of every request.
    pub user_agent: String,
    /// How many due deliveries one claim takes at most.
    pub claim_batch: usize,
    /// How long a claim is leased. Must outlast the transport's total timeout, so a
    /// live attempt is never taken by another worker.
    pub lease: Duration,
    /// Attempts in flight at once, across all endpoints.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one endpoint; up to four times as many claims
    /// wait in memory for a slot, more are handed back to the store.
    pub per_endpoint_in_flight: usize,
    /// How long a delivery held back by the per-endpoint limit, and not kept waiting in
    /// memory, waits before it is claimed again (longer for an endpoint whose attempts
    /// have made no progress for longer than this).
    pub endpoint_busy_delay: Duration,
    /// The longest a claimed delivery waits in memory for its endpoint before it is
    /// handed back to the store. Must leave the rest of the lease for a whole attempt.
    pub hold_limit: Duration,
    /// When an endpoint that keeps failing is held back, and when it is disabled.
    pub circuit: CircuitPolicy,
    /// The longest the engine sleeps without looking at the store (other processes,
    /// such as `herald-api` on a shared store, cannot wake it).
    pub poll_interval: Duration,
}

impl DeliveryConfig {
    /// DESIGN defaults: standard schedule, `Supapitch` headers, a 45 s lease.
    pub fn standard() -> Self {
        DeliveryConfig {
            retry: RetryPolicy::standard(),
            header_prefix: "Supapitch".to_owned(),
            user_agent: format!("Supapitch-Webhooks/{}", env!("CARGO_PKG_VERSION")),
            claim_batch: 256,
            lease: Duration::from_secs(45),
            max_in_flight: 1024,
            per_endpoint_in_flight: 32,
            endpoint_busy_delay: Duration::from_millis(250),
            hold_limit: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            circuit: CircuitPolicy::standard(),
        }
    }
}

/// What the engine works with.
#[derive(Debug, Clone)]
pub struct DeliveryDeps {
    /// Where deliveries and attempts live.
    pub store: Arc<dyn Store>,
    /// How requests are sent.
    pub transport: Arc<dyn Transport>,
    /// Where `now` comes from.
    pub clock: Arc<dyn Clock>,
    /// Notified by ingest in the same process, so new events go out at once.
    pub work: Arc<Notify>,
}

/// Shared state of a running engine.
#[derive(Debug)]
pub(crate) struct Engine {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    config: DeliveryConfig,
    header_names: headers::HeaderNames,
    jitter: attempt::JitterSource,
}
