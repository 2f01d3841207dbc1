//! Group commit: many writers, one `fsync`.
//!
//! A writer applies its batch, takes a ticket (the count of batches applied so far)
//! and waits until a flush that started after its ticket has finished. One background
//! thread runs flushes back to back; every writer that arrived while a flush was
//! running is covered by the next one. So durable ingest costs one flush per *group*
//! of concurrent requests rather than one per request (DESIGN section 4).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use herald_store::{StoreError, StoreErrorKind};
use tokio::sync::watch;

/// Progress of the flusher: batches known durable, and how many flushes failed.
#[derive(Debug, Clone, Copy, Default)]
struct FlushState {
    durable: u64,
    failures: u64,
}

/// Hands out tickets and wakes the flush thread.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    applied: Arc<AtomicU64>,
    state: watch::Receiver<FlushState>,
    wake: mpsc::SyncSender<()>,
}

impl GroupCommit {
    /// Starts the flush thread for `db`; it ends when this value is dropped.
    pub(crate) fn start(db: sled::Db) -> Result<Self, StoreError> {
        let applied = Arc::new(AtomicU64::new(0));
        let (state_tx, state_rx) = watch::channel(FlushState::default());
        // Capacity 1: a pending wake-up already covers every later writer.
        let (wake_tx, wake_rx) = mpsc::sync_channel::<()>(1);
        let thread_applied = Arc::clone(&applied);
        std::thread::Builder::new()
            .name("herald-sled-flush".into())
            .spawn(move || {
                while wake_rx.recv().is_ok() {
                    let covered = thread_applied.load(Ordering::Acquire);
                    let result = db.flush();
                    state_tx.send_modify(|state| match result {
                        Ok(_) => state.durable = state.durable.max(covered),
                        Err(ref error) => {
                            tracing::error!(%error, "sled flush failed");
                            state.failures += 1;
                        }
                    });
                }
            })
            .map_err(|error| {
                StoreError::with_source(StoreErrorKind::Unavailable, "start flush thread", error)
            })?;
        Ok(GroupCommit { applied, state: state_rx, wake: wake_tx })
    }

    /// Call right after applying a batch; returns once that batch is on disk.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        let ticket = self.applied.fetch_add(1, Ordering::AcqRel) + 1;
        let mut state = self.state.clone();
        let failures_before = state.borrow().failures;
        // A full channel means a flush is already queued, which will cover this ticket.
        let _ = self.wake.try_send(());
        loop {
            {
                let current = *state.borrow_and_update();
                if current.durable >= ticket {
                    return Ok(());
                }
                if current.failures > failures_before {
                    return Err(StoreError::new(StoreErrorKind::Unavailable, "flush to disk failed"));
                }
            }
            if state.changed().await.is_err() {
                return Err(StoreError::new(StoreErrorKind::Unavailable, "flush thread stopped"));
            }
            // The flush that just finished may have started before our ticket; ask again.
            let _ = self.wake.try_send(());
        }
    }
}
