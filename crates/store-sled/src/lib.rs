//! `herald-store-sled`: the default, embedded [`Store`](herald_store::Store) backend.
//!
//! One sled database in a directory, used by one process (`herald serve` runs API and
//! delivery together). Ingest is durable through Herald's own write-ahead log (`wal`);
//! other writes that must be durable (replay, recovery, endpoint and tenant changes)
//! wait for a group-commit sled flush (`flush`); claims and attempt records rely on
//! sled's periodic flush, because losing one only means the delivery is attempted
//! again (at-least-once). At start-up every lease of the previous run is released, so work a
//! crash interrupted resumes at once and is logged as `interrupted`.
//!
//! This crate is not a general sled wrapper: it knows Herald's records and indexes
//! (see the `keys` module) and nothing else.
#![warn(missing_docs)]

mod codec;
mod flush;
mod fresh;
mod ingest;
mod keys;
mod lists;
mod queue;
mod store;
mod wal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use herald_event::{EventTypeDef, TenantId, Timestamp};
use herald_store::{StoreError, StoreErrorKind};

use crate::codec::unavailable;
use crate::flush::GroupCommit;
use crate::fresh::{FreshClaims, TenantEndpoints};
use crate::wal::{Puts, Wal};

/// Where and how to open the database.
#[derive(Debug, Clone)]
pub struct SledConfig {
    /// The database directory (created if missing).
    pub path: PathBuf,
    /// sled's page cache in bytes; small keeps idle memory low.
    pub cache_capacity_bytes: u64,
    /// Throw the data away when the store is dropped (tests, `herald demo`).
    pub temporary: bool,
}

impl SledConfig {
    /// A persistent database in `path` with an 8 MiB cache.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        SledConfig {
            path: path.into(),
            cache_capacity_bytes: 8 << 20,
            temporary: false,
        }
    }

    /// A database that is deleted when the store is dropped.
    pub fn temporary(path: impl Into<PathBuf>) -> Self {
        SledConfig {
            temporary: true,
            ..SledConfig::at(path)
        }
    }
}

/// Runs `work` with `tokio::task::block_in_place` on a multi-threaded runtime, so
/// the worker's other tasks move to another thread meanwhile; inline elsewhere (a
/// current-thread runtime cannot give its only thread away).
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// Operator event types by name.
type EventTypes = HashMap<String, Arc<EventTypeDef>>;

/// The sled-backed store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    /// Serialises ingest's check-then-write (idempotent inserts, new tenants) and its
    /// submissions to the write-ahead log. Held only around sled calls, never across an
    /// `.await`.
    ingest_lock: Mutex<()>,
    /// Serialises the read-modify-write sequences of the queues (claims, records,
    /// releases, cancellations, recoveries), apart from ingest, so a large batch being
    /// accepted does not stop deliveries.
    queue_lock: Mutex<()>,
    commit: GroupCommit,
    /// Durability of accepted events (see the `wal` module).
    wal: Wal,
    /// Every endpoint per tenant, for fan-out at ingest; replaced on any endpoint
    /// change, which is how a claim waiting in `fresh` learns of one.
    endpoint_cache: Mutex<HashMap<TenantId, Arc<TenantEndpoints>>>,
    /// Deliveries leased at ingest, waiting in memory for the next claim.
    fresh: FreshClaims,
    /// Operator event types by name, loaded on first use; dropped when one is written.
    event_types: Mutex<Option<EventTypes>>,
}

impl SledStore {
    /// Opens (or creates) the database and releases the leases of a previous run as of `now`.
    pub fn open(config: &SledConfig, now: Timestamp) -> Result<Self, StoreError> {
        let db = open_db(config)?;
        let wal = Wal::open(&config.path.join(WAL_DIR), db.clone())?;
        let commit = GroupCommit::start(db.clone())?;
        let store = SledStore {
            db,
            ingest_lock: Mutex::new(()),
            queue_lock: Mutex::new(()),
            commit,
            wal,
            endpoint_cache: Mutex::new(HashMap::new()),
            fresh: FreshClaims::default(),
            event_types: Mutex::new(None),
        };
        let released = store.release_leases(now)?;
        if released > 0 {
            tracing::warn!(released, "released deliveries leased by a previous run");
        }
        Ok(store)
    }

    // A poisoned lock only means another thread panicked while holding it; every
    // write sequence leaves sled safe at any point (see `Ops`).
    fn ingest_lock(&self) -> MutexGuard<'_, ()> {
        self.ingest_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The ingest lock if no ingest holds it: nothing is being written by ingest while
    /// the guard lives.
    fn ingest_idle(&self) -> Option<MutexGuard<'_, ()>> {
        match self.ingest_lock.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    fn queue_lock(&self) -> MutexGuard<'_, ()> {
        self.queue_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.db.get(key).map_err(unavailable("read record"))? {
            Some(bytes) => codec::decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn apply(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.db
            .apply_batch(batch)
            .map_err(unavailable("apply batch"))
    }

    fn apply_puts(&self, puts: &Puts) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        puts.add_to(&mut batch);
        self.apply(batch)
    }

    /// Writes `ops` one by one, in order: see [`Ops`].
    fn write_in_order(&self, ops: Ops) -> Result<(), StoreError> {
        for (key, value) in ops.0 {
            match value {
                Some(value) => self.db.insert(key, value).map(drop),
                None => self.db.remove(key).map(drop),
            }
            .map_err(unavailable("write"))?;
        }
        Ok(())
    }

    /// Writes a new event's pairs key by key with the guard (the event record) last,
    /// so that whenever the event is on disk, everything it brought is too (sled
    /// recovers a prefix of its log), and a claim that finds a delivery whose event is
    /// not there yet knows the write is in progress. The write-ahead log covers the
    /// rest.
    fn write_event(&self, puts: &Puts) -> Result<(), StoreError> {
        let pairs = puts.pairs();
        for (key, value) in pairs.iter().skip(1).chain(pairs.first()) {
            self.db
                .insert(key.as_slice(), value.as_slice())
                .map_err(unavailable("write event"))?;
        }
        Ok(())
    }

    /// Every endpoint of a tenant, from the cache or loaded into it.
    fn endpoints_of(&self, tenant: &TenantId) -> Result<Arc<TenantEndpoints>, StoreError> {
        // The cache lock is held across the scan. Writers change the tree first and then
        // take this lock to forget the tenant, so a list read here is either current or
        // forgotten right after it is cached; reading outside the lock could cache a
        // list from before a change that had already been forgotten, for good.
        let mut cache = self
            .endpoint_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(endpoints) = cache.get(tenant) {
            return Ok(Arc::clone(endpoints));
        }
        let mut endpoints = Vec::new();
        for entry in self
            .db
            .scan_prefix(keys::prefix(b'e', &[tenant.as_str().as_bytes()]))
        {
            let (_, value) = entry.map_err(unavailable("scan endpoints"))?;
            endpoints.push(codec::decode(&value)?);
        }
        let endpoints = Arc::new(TenantEndpoints::new(endpoints));
        cache.insert(tenant.clone(), Arc::clone(&endpoints));
        Ok(endpoints)
    }

    fn forget_endpoints(&self, tenant: &TenantId) {
        let mut cache = self
            .endpoint_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.remove(tenant);
    }
}

impl Drop for SledStore {
    /// Hands claims leased at ingest and never taken back to the due queue (see the
    /// `fresh` module). If this fails, or the process dies instead, they stay leased
    /// and the next start resumes them as interrupted: nothing is lost either way.
    fn drop(&mut self) {
        match self.return_fresh() {
            Ok(0) => {}
            Ok(returned) => {
                tracing::debug!(returned, "returned unclaimed deliveries to the due queue")
            }
            Err(error) => {
                tracing::warn!(%error, "could not return unclaimed deliveries; the next start resumes them")
            }
        }
    }
}

/// Writes applied key by key, in order, instead of as one sled batch.
///
/// sled 0.34 rolls its I/O buffer twice for every `apply_batch` (`PageCache::pin_log`),
/// so each batch is a disk write handed to its thread pool; a single insert only
/// reserves room in the current buffer. At thousands of deliveries per second the
/// batches, not the disk, were the cost (docs/performance.md). So the hot paths
/// (claim, record) write key by key, ordered so that any prefix a crash leaves is
/// safe: a new queue entry is written before the old one is removed (a stale extra
/// entry is recognised and dropped by the claim; a missing one would lose the
/// delivery), and the delivery record changes before its lease marker goes.
#[derive(Debug, Default)]
pub(crate) struct Ops(Vec<(Vec<u8>, Option<Vec<u8>>)>);

impl Ops {
    pub(crate) fn put(&mut self, key: Vec<u8>, value: impl Into<Vec<u8>>) {
        self.0.push((key, Some(value.into())));
    }

    pub(crate) fn remove(&mut self, key: Vec<u8>) {
        self.0.push((key, None));
    }
}

/// The write-ahead log's directory, inside sled's (sled ignores what it did not make,
/// and a temporary database removes it with its own files).
const WAL_DIR: &str = "herald-wal";

/// How long `open_db` keeps retrying an open that fails with an I/O error.
///
/// sled releases its exclusive lock on the directory from background threads a moment
/// after the last handle is dropped (spacejam/sled#1234), so a store reopened in the
/// same process (a restart test, an embedder) can find it still held by its
/// predecessor for a few milliseconds. A lock held by another process, or any lasting
/// I/O error, is reported once this much time has been spent waiting.
const OPEN_RETRY_LIMIT: Duration = Duration::from_secs(1);

fn open_db(config: &SledConfig) -> Result<sled::Db, StoreError> {
    let sled_config = sled::Config::new()
        .path(&config.path)
        .cache_capacity(config.cache_capacity_bytes)
        .temporary(config.temporary)
        .flush_every_ms(Some(200));
    let mut waited = Duration::ZERO;
    let mut pause = Duration::from_millis(2);
    loop {
        match sled_config.open() {
            Ok(db) => return Ok(db),
            // sled reports a held lock as a plain `Other` I/O error whose only detail is
            // its message, so every I/O error is retried rather than recognised.
            Err(sled::Error::Io(_)) if waited < OPEN_RETRY_LIMIT => {
                std::thread::sleep(pause);
                waited += pause;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(error) => {
                return Err(StoreError::with_source(
                    StoreErrorKind::Unavailable,
                    "open sled database (a held lock means another process uses the directory)",
                    error,
                ));
            }
        }
    }
}
