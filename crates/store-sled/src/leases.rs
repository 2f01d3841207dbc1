//! Lease-queue entries of deliveries leased at ingest, kept in memory until needed.
//!
//! A delivery leased at ingest (the `fresh` module) is usually attempted and recorded
//! within milliseconds, so writing its `r/` entry to sled at ingest only for the
//! record to remove it again was two of the ten sled writes a delivery cost
//! (docs/performance.md). Its entry stays here instead, in the same key order, and
//! every reader of the lease queue reads both: the claim's scan of expired leases,
//! `next_due`, and whatever removes a lease entry ([`UnsavedLeases::take`] first,
//! sled only if the entry was not here).
//!
//! The write-ahead log holds each of these entries in its event's record, so a crash
//! loses nothing: the log replay at open writes the entry of every delivery still
//! holding its ingest lease (`restore_lease`), and the start-up release resumes it.
//! Before a log file is retired the entries are written to sled ([`UnsavedLeases::save`]),
//! and so they are when the store closes.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use herald_event::{Delivery, DeliveryStatus};
use herald_store::StoreError;

use crate::codec::{self, unavailable};
use crate::keys;

/// `r/` keys that are not in sled, in key (expiry) order.
#[derive(Debug, Default)]
pub(crate) struct UnsavedLeases {
    keys: Mutex<BTreeSet<Vec<u8>>>,
}

impl UnsavedLeases {
    fn lock(&self) -> MutexGuard<'_, BTreeSet<Vec<u8>>> {
        // Every change is one set operation: a panic elsewhere leaves the set whole.
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps a new lease entry here instead of in sled.
    pub(crate) fn add(&self, key: Vec<u8>) {
        self.lock().insert(key);
    }

    /// Removes `key` if it is here; `false` means it may be in sled.
    pub(crate) fn take(&self, key: &[u8]) -> bool {
        self.lock().remove(key)
    }

    /// The entries before `end`, oldest first (a copy: usually none, as a lease ends
    /// long after its delivery was recorded).
    pub(crate) fn before(&self, end: &[u8]) -> Vec<Vec<u8>> {
        self.lock()
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(end)))
            .cloned()
            .collect()
    }

    /// The oldest entry's expiry in milliseconds.
    pub(crate) fn first_ms(&self) -> Option<u64> {
        let keys = self.lock();
        keys.first()
            .and_then(|key| keys::parse_due(key))
            .map(|(ms, _, _)| ms)
    }

    /// How many entries are here.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Writes every entry to sled and forgets it here; returns how many. The caller
    /// makes sled durable afterwards.
    ///
    /// The set is not held while writing (ingest adds to it meanwhile). An entry taken
    /// by a record during the write is then written anyway: a stale entry, which the
    /// claim that meets it drops because the delivery record no longer agrees.
    pub(crate) fn save(&self, db: &sled::Db) -> Result<usize, StoreError> {
        let snapshot: Vec<Vec<u8>> = self.lock().iter().cloned().collect();
        for key in &snapshot {
            db.insert(key.as_slice(), &[])
                .map_err(unavailable("save lease entries"))?;
        }
        let mut keys = self.lock();
        for key in &snapshot {
            keys.remove(key);
        }
        Ok(snapshot.len())
    }
}

/// At log replay: writes the lease entry `key` (from an event's log record) to sled if
/// its delivery still holds that lease, which means the entry was only in memory when
/// the process stopped. Returns whether it wrote it.
pub(crate) fn restore_lease(db: &sled::Db, key: &[u8]) -> Result<bool, StoreError> {
    let Some((lease_ms, tenant, id)) = keys::parse_due(key) else {
        return Ok(false);
    };
    if db
        .contains_key(key)
        .map_err(unavailable("replay: read lease entry"))?
    {
        return Ok(false);
    }
    let Some(bytes) = db
        .get(keys::delivery(tenant, id))
        .map_err(unavailable("replay: read delivery"))?
    else {
        return Ok(false);
    };
    let delivery: Delivery = codec::decode(&bytes)?;
    let held = delivery.status == DeliveryStatus::Pending
        && delivery.lease_until.map(|lease| lease.as_millis()) == Some(lease_ms);
    if held {
        db.insert(key, &[])
            .map_err(unavailable("replay: restore lease entry"))?;
    }
    Ok(held)
}
