//! `ApiConfig` and `ApiState`: what the router's handlers share.
//!
//! The state is cheap to clone (one `Arc`). It holds the store, the typed configuration,
//! the admin key hash, the delivery engine's wake-up handle, this instance's metrics and
//! the built-in event catalog. It deliberately holds no cache of operator-defined event
//! types or endpoints: with a shared store, several API processes change them, so they
//! are read from the store (whose backends may cache) when needed.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use herald_event::{builtin_catalog, EventTypeDef};
use herald_store::Store;
use tokio::sync::Notify;

use crate::ApiError;

/// Endpoint URL validator injected by the application.
///
/// The rules (scheme, credentials, blocked destinations) live in `herald-transport`,
/// which this crate does not depend on. `Err(message)` refuses the URL: the API answers
/// 422 naming the field `url` with that message.
pub type UrlCheck = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Limits and policies of the API. There is no `Default`: use [`ApiConfig::standard`]
/// and change what you need.
#[derive(Clone)]
pub struct ApiConfig {
    /// Largest event `data`, counted in bytes of its raw JSON text (413 beyond).
    pub max_payload_bytes: usize,
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Checks endpoint URLs at creation and change.
    pub url_check: UrlCheck,
    /// How long a rotated-out secret keeps signing when `grace_seconds` is not given.
    pub default_grace: Duration,
}

impl ApiConfig {
    /// The defaults of DESIGN section 8: 256 KiB payloads, 1 MiB bodies, 24 h grace.
    pub fn standard(url_check: UrlCheck) -> Self {
        ApiConfig {
            max_payload_bytes: 256 * 1024,
            max_body_bytes: 1024 * 1024,
            url_check,
            default_grace: Duration::from_secs(24 * 3600),
        }
    }
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("url_check", &"<fn>")
            .field("default_grace", &self.default_grace)
            .finish()
    }
}

/// Shared state of the router's handlers.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: ApiConfig,
    admin_key_hash: String,
    work: Arc<Notify>,
    metrics: Metrics,
    builtins: Vec<Arc<EventTypeDef>>,
    /// Batches being prepared and stored at once (see [`BATCHES_AT_ONCE`]).
    batches: tokio::sync::Semaphore,
}

/// Batch requests prepared and stored at once; more wait with their body read.
///
/// A batch of 1,000 events takes a few MB while it is parsed, enveloped and written,
/// and the store writes one ingest at a time, so more batches at once add memory, not
/// throughput: 16 clients sending batches held 260 MB of RSS where 2 held 136 MB at the
/// same 27,000 events/s (docs/performance.md). Two keep one batch parsing while the
/// other is written.
pub(crate) const BATCHES_AT_ONCE: usize = 2;

impl ApiState {
    /// State over `store`.
    ///
    /// `admin_key_hash` is [`hash_key`](crate::hash_key) of the admin key (the key
    /// itself never reaches the API). `work` is notified after every write that creates
    /// pending deliveries, so a delivery engine in the same process dispatches at once
    /// instead of waiting for its next poll.
    pub fn new(
        store: Arc<dyn Store>,
        config: ApiConfig,
        admin_key_hash: String,
        work: Arc<Notify>,
    ) -> Self {
        let builtins = builtin_catalog().into_iter().map(Arc::new).collect();
        let inner = Inner {
            store,
            config,
            admin_key_hash,
            work,
            metrics: Metrics::default(),
            builtins,
            batches: tokio::sync::Semaphore::new(BATCHES_AT_ONCE),
        };
        ApiState {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub(crate) fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    pub(crate) fn admin_key_hash(&self) -> &str {
        &self.inner.admin_key_hash
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Waits for a turn to prepare and store a batch; the turn ends when the guard drops.
    pub(crate) async fn batch_turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        // Invariant: the semaphore is never closed.
        self.inner
            .batches
            .acquire()
            .await
            .expect("the batch semaphore is never closed")
    }

    /// Wakes the delivery engine: new pending deliveries are due now.
    pub(crate) fn wake_delivery(&self) {
        self.inner.work.notify_one();
    }

    /// Whether `name` is one of the built-in catalog types.
    pub(crate) fn is_builtin(&self, name: &str) -> bool {
        self.inner.builtins.iter().any(|def| def.name == name)
    }

    /// The built-in types, in catalog order.
    pub(crate) fn builtins(&self) -> &[Arc<EventTypeDef>] {
        &self.inner.builtins
    }

    /// Looks up an event type: built-ins first (no I/O), then operator-defined types.
    pub(crate) async fn event_type(
        &self,
        name: &str,
    ) -> Result<Option<Arc<EventTypeDef>>, ApiError> {
        if let Some(def) = self.inner.builtins.iter().find(|def| def.name == name) {
            return Ok(Some(Arc::clone(def)));
        }
        Ok(self.store().find_event_type(name).await?)
    }
}

impl fmt::Debug for ApiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiState")
            .field("store", &self.inner.store)
            .field("config", &self.inner.config)
            .field("admin_key_hash", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Counters of this API instance, exposed on `GET /metrics`.
///
/// Per instance, not global, so two embedded APIs in one process count separately.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    events_ingested: AtomicU64,
    /// Responses by status class: index 0 is 1xx, ..., 4 is 5xx.
    responses: [AtomicU64; 5],
}

impl Metrics {
    pub(crate) fn count_ingested(&self) {
        self.events_ingested.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn events_ingested(&self) -> u64 {
        self.events_ingested.load(Ordering::Relaxed)
    }

    /// (class label, count) for `1xx` to `5xx`.
    pub(crate) fn responses(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.responses
            .iter()
            .enumerate()
            .map(|(index, count)| (format!("{}xx", index + 1), count.load(Ordering::Relaxed)))
    }
}
