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
    /// `None` only while dropping: closing the channel is what stops the thread.
    wake: Option<mpsc::SyncSender<()>>,
    /// The flush thread, joined on drop (see `Drop`).
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the flush thread for `db`; it ends when this value is dropped.
    pub(crate) fn start(db: sled::Db) -> Result<Self, StoreError> {
        let applied = Arc::new(AtomicU64::new(0));
        let (state_tx, state_rx) = watch::channel(FlushState::default());
        // Capacity 1: a pending wake-up already covers every later writer.
        let (wake_tx, wake_rx) = mpsc::sync_channel::<()>(1);
        let thread_applied = Arc::clone(&applied);
        let thread = std::thread::Builder::new()
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
        Ok(GroupCommit {
            applied,
            state: state_rx,
            wake: Some(wake_tx),
            thread: Some(thread),
        })
    }

    /// Call right after applying a batch; returns once that batch is on disk.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        let ticket = self.applied.fetch_add(1, Ordering::AcqRel) + 1;
        let mut state = self.state.clone();
        let failures_before = state.borrow().failures;
        // A full channel means a flush is already queued, which will cover this ticket.
        self.wake_flusher();
        loop {
            {
                let current = *state.borrow_and_update();
                if current.durable >= ticket {
                    return Ok(());
                }
                if current.failures > failures_before {
                    return Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        "flush to disk failed",
                    ));
                }
            }
            if state.changed().await.is_err() {
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    "flush thread stopped",
                ));
            }
            // The flush that just finished may have started before our ticket; ask again.
            self.wake_flusher();
        }
    }

    fn wake_flusher(&self) {
        if let Some(wake) = &self.wake {
            // Full means a wake-up is already queued; disconnected cannot happen while
            // `self` lives, and `durable` then sees the thread stop.
            let _ = wake.try_send(());
        }
    }
}

impl Drop for GroupCommit {
    /// Stops the flush thread and waits for it, so that its database handle is gone
    /// when the store is: sled holds an exclusive lock on the directory until its last
    /// handle drops, and a store reopened in the same process (a restart in tests,
    /// `herald demo`) would otherwise find the directory "in use". The wait is at most
    /// the flush in progress.
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("sled flush thread panicked");
            }
        }
    }
}
