//! Deliveries leased at ingest and handed to the engine in memory.
//!
//! A new event's deliveries are due at once, and in one process the engine that will
//! claim them is waiting for exactly them. Writing them to the due queue only for the
//! next claim to read them back (three lookups, three writes and two scans per
//! delivery) was a fifth of the store's work at saturation (docs/performance.md). So
//! ingest writes such a delivery already leased, with its lease-queue entry `r/` in
//! place of a due entry, and once the event is durable it keeps the claim here; the
//! next `claim_due` takes it from memory.
//!
//! The record in sled stays the truth. A claim taken from here is handed over as it is
//! only if nothing it carries can have changed: the tenant's endpoints are the same
//! list it was matched against (any endpoint change replaces the cached list, and
//! deleting an endpoint cancels its deliveries), and its lease, counted from ingest, is
//! at most [`MAX_WAIT`] short of a lease counted from now. Otherwise it is claimed
//! through its lease entry like any other lease: the record decides. A crash leaves
//! these deliveries leased in sled, and the start-up release resumes them (logged as
//! interrupted, like every lease a crash cut); a store dropped in an orderly way hands
//! them back to the due queue first.
//!
//! This is not a second queue: it holds at most [`MAX_CLAIMS`] claims and
//! [`MAX_BYTES`] of event bodies, and ingest falls back to the due queue beyond that,
//! or before the engine's first claim has said which lease it uses.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use herald_event::{Delivery, DeliveryStatus, Endpoint, EndpointId, Event, Timestamp};

/// At most this many claims wait in memory.
const MAX_CLAIMS: usize = 4096;

/// At most this many bytes of event bodies wait in memory (a body is copied per
/// delivery).
const MAX_BYTES: usize = 8 << 20;

/// The longest a claim waits here and is still handed over without a write: its lease
/// then ends at most this much before one taken at the claim would.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(1);

/// A tenant's endpoints as ingest matched them, with an index by id.
#[derive(Debug)]
pub(crate) struct TenantEndpoints {
    /// Every endpoint of the tenant.
    pub(crate) all: Arc<Vec<Endpoint>>,
    by_id: HashMap<EndpointId, usize>,
}

impl TenantEndpoints {
    pub(crate) fn new(all: Vec<Endpoint>) -> Self {
        let by_id = all
            .iter()
            .enumerate()
            .map(|(index, endpoint)| (endpoint.id.clone(), index))
            .collect();
        TenantEndpoints {
            all: Arc::new(all),
            by_id,
        }
    }

    pub(crate) fn get(&self, id: &EndpointId) -> Option<&Endpoint> {
        self.by_id.get(id).map(|&index| &self.all[index])
    }
}

/// One delivery leased at ingest.
#[derive(Debug)]
pub(crate) struct FreshClaim {
    /// The delivery as written, `lease_until` set.
    pub(crate) delivery: Delivery,
    pub(crate) event: Event,
    /// The endpoint list the delivery was matched against.
    pub(crate) endpoints: Arc<TenantEndpoints>,
}

impl FreshClaim {
    fn due_ms(&self) -> u64 {
        self.delivery
            .next_attempt_at
            .map_or(0, Timestamp::as_millis)
    }
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<FreshClaim>,
    /// Room promised to ingests whose events are not durable yet: claims, bytes.
    reserved: (usize, usize),
    /// Body bytes of the claims in `queue`.
    bytes: usize,
}

/// The claims waiting in memory, oldest due first.
#[derive(Debug, Default)]
pub(crate) struct FreshClaims {
    inner: Mutex<Inner>,
    /// The lease of the engine's latest claim, in milliseconds; 0 before the first.
    lease_ms: AtomicU64,
}

/// Room taken by [`FreshClaims::reserve`]: claims and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reservation(usize, usize);

impl Reservation {
    pub(crate) const NONE: Reservation = Reservation(0, 0);

    /// Both reservations as one.
    pub(crate) fn join(self, other: Reservation) -> Reservation {
        Reservation(self.0 + other.0, self.1 + other.1)
    }
}

/// Claims of one ingest, queued once its events are durable.
#[derive(Debug)]
pub(crate) struct Handover {
    pub(crate) reservation: Reservation,
    pub(crate) claims: Vec<FreshClaim>,
}

impl Handover {
    pub(crate) fn none() -> Self {
        Handover {
            reservation: Reservation::NONE,
            claims: Vec::new(),
        }
    }

    pub(crate) fn append(&mut self, other: Handover) {
        self.reservation = self.reservation.join(other.reservation);
        self.claims.extend(other.claims);
    }
}

impl FreshClaims {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change below leaves `Inner` consistent, so a panic elsewhere cannot
        // have left it half-written.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers the lease the engine claims with.
    pub(crate) fn note_lease(&self, lease: Duration) {
        let lease_ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX);
        self.lease_ms.store(lease_ms, Ordering::Relaxed);
    }

    /// The lease to give deliveries at ingest, once the engine has claimed once.
    pub(crate) fn lease(&self) -> Option<Duration> {
        match self.lease_ms.load(Ordering::Relaxed) {
            0 => None,
            lease_ms => Some(Duration::from_millis(lease_ms)),
        }
    }

    /// Takes room for `claims` deliveries carrying `body_len` bytes each, or none.
    pub(crate) fn reserve(&self, claims: usize, body_len: usize) -> Reservation {
        let bytes = claims.saturating_mul(body_len);
        let mut inner = self.lock();
        let used_claims = inner.queue.len() + inner.reserved.0 + claims;
        let used_bytes = inner.bytes + inner.reserved.1 + bytes;
        if claims == 0 || used_claims > MAX_CLAIMS || used_bytes > MAX_BYTES {
            return Reservation::NONE;
        }
        inner.reserved.0 += claims;
        inner.reserved.1 += bytes;
        Reservation(claims, bytes)
    }

    /// Gives back room that will not be used (the ingest failed).
    pub(crate) fn cancel(&self, reservation: Reservation) {
        let mut inner = self.lock();
        inner.reserved.0 -= reservation.0;
        inner.reserved.1 -= reservation.1;
    }

    /// Queues the claims of a durable ingest in the room reserved for them.
    pub(crate) fn push(&self, handover: Handover) {
        let Handover {
            reservation,
            claims,
        } = handover;
        // Invariant: ingest reserves one slot per claim it builds.
        debug_assert_eq!(reservation.0, claims.len(), "one reserved slot per claim");
        let mut inner = self.lock();
        inner.reserved.0 -= reservation.0;
        inner.reserved.1 -= reservation.1;
        for claim in claims {
            inner.bytes += claim.event.payload.len();
            // Ingest times only grow, so this keeps the queue in due order but for
            // concurrent ingests a millisecond apart.
            let at = inner
                .queue
                .iter()
                .rposition(|queued| queued.due_ms() <= claim.due_ms())
                .map_or(0, |index| index + 1);
            inner.queue.insert(at, claim);
        }
    }

    /// When the oldest claim waiting here is due.
    pub(crate) fn front_due_ms(&self) -> Option<u64> {
        self.lock().queue.front().map(FreshClaim::due_ms)
    }

    /// Takes the oldest claim if it is due at `now_ms`.
    pub(crate) fn pop_due(&self, now_ms: u64) -> Option<FreshClaim> {
        let mut inner = self.lock();
        if inner.queue.front()?.due_ms() > now_ms {
            return None;
        }
        let claim = inner.queue.pop_front()?;
        inner.bytes -= claim.event.payload.len();
        Some(claim)
    }

    /// Takes every claim (the store is closing).
    pub(crate) fn drain(&self) -> Vec<FreshClaim> {
        let mut inner = self.lock();
        inner.bytes = 0;
        inner.queue.drain(..).collect()
    }
}

/// Whether a delivery may be leased at ingest: pending and due by the time its event
/// was received.
pub(crate) fn leasable_at_ingest(delivery: &Delivery, received_at: Timestamp) -> bool {
    delivery.status == DeliveryStatus::Pending
        && delivery.lease_until.is_none()
        && delivery
            .next_attempt_at
            .is_some_and(|due| due <= received_at)
}
