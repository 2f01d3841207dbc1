//! Deliveries: insertion with their indexes, the due queue, leases, recording.
//!
//! Every pending delivery has exactly one live queue entry: `q/{next attempt}{id}` in
//! the due queue while it waits, `r/{lease expiry}{id}` in the lease queue while a
//! worker holds it. Claiming moves the entry from `q/` (or an expired `r/`) to `r/`;
//! recording moves it back to `q/` (a retry) or removes it. Both queues are read in
//! time order from their start, so due retries and expired leases are found without
//! scanning deliveries, and the start-up release reads only `r/`, which holds at most
//! what was in flight.
//!
//! An entry is live only if the delivery record agrees with it (pending, and queued at
//! that time in that queue); anything else is left over from a write a crash cut
//! short (see `Ops`) and is dropped when met.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use herald_event::{
    Attempt, AttemptError, AttemptId, Delivery, DeliveryStatus, Endpoint, EndpointId, ErrorKind,
    Event, HttpRecord, NextAction, TenantId, Timestamp,
};
use herald_store::{Claim, StoreError, StoreErrorKind};

use crate::codec::{self, unavailable};
use crate::fresh::{self, FreshClaim};
use crate::ingest::EventTail;
use crate::keys;
use crate::wal::Puts;
use crate::{Ops, SledStore};

impl SledStore {
    /// Adds a new delivery's queue entry (if pending) and indexes, then its record, to
    /// `puts`; `by_event` adds its `E/` entry, for a delivery its event's record does not
    /// list (see `SledStore::deliveries_of_event`).
    ///
    /// In this order because ingest writes the pairs one by one (`write_event`) and a
    /// crash keeps a prefix of them: a delivery record on disk then always has its
    /// queue entry, so it is claimed (and dropped if its event never arrived). With the
    /// record first, a crash between the two left a pending delivery no claim could
    /// ever find (found by a SIGKILL run, docs/decisions.md). The record is written
    /// fresh (no attempts to list yet), hence the plain encoding. An entry without its
    /// record is either being written (ingest holds its lock) and left alone, or stale
    /// and dropped when met (`claim_entry`).
    pub(crate) fn add_delivery(
        puts: &mut Puts,
        delivery: &Delivery,
        by_event: bool,
    ) -> Result<(), StoreError> {
        let tenant = delivery.tenant.as_str();
        let id = delivery.id.as_str();
        match (
            delivery.status,
            delivery.lease_until,
            delivery.next_attempt_at,
        ) {
            // Leased at ingest (the `fresh` module): its entry is in the lease queue.
            (DeliveryStatus::Pending, Some(lease), _) => {
                puts.put(keys::leased(lease.as_millis(), tenant, id), []);
            }
            (DeliveryStatus::Pending, None, Some(due)) => {
                puts.put(keys::due(due.as_millis(), tenant, id), []);
            }
            _ => {}
        }
        let endpoint = delivery.endpoint_id.as_str().as_bytes();
        puts.put(
            keys::key(b'P', &[tenant.as_bytes(), endpoint, id.as_bytes()]),
            [],
        );
        if by_event {
            let event = delivery.event_id.as_str().as_bytes();
            puts.put(
                keys::key(b'E', &[tenant.as_bytes(), event, id.as_bytes()]),
                [],
            );
        }
        puts.put(keys::delivery(tenant, id), codec::encode(delivery)?);
        Ok(())
    }

    /// Adds an attempt to `ops` and its id to its delivery's record, `stored`.
    fn add_attempt(
        ops: &mut Ops,
        attempt: &Attempt,
        stored: &mut StoredDelivery,
    ) -> Result<(), StoreError> {
        let tenant = attempt.tenant.as_str().as_bytes();
        let id = attempt.id.as_str().as_bytes();
        ops.put(keys::key(b'a', &[tenant, id]), codec::encode(attempt)?);
        stored.attempts.push(attempt.id.as_str().to_owned());
        Ok(())
    }

    /// Whether an event lists `delivery` among its own: in its record's tail (`listed`)
    /// or in the `E/` index (deliveries added after ingest, fan-outs wider than the
    /// record lists, and records of earlier versions).
    fn lists_delivery(
        &self,
        listed: Option<&[u8]>,
        delivery: &Delivery,
    ) -> Result<bool, StoreError> {
        let id = delivery.id.as_str();
        if let Some(tail) = listed {
            if codec::decode_tail::<EventTail>(tail)?.ids.contains(&id) {
                return Ok(true);
            }
        }
        let tenant = delivery.tenant.as_str().as_bytes();
        let event = delivery.event_id.as_str().as_bytes();
        self.db
            .contains_key(keys::key(b'E', &[tenant, event, id.as_bytes()]))
            .map_err(unavailable("read event deliveries"))
    }

    /// Removes a delivery that was never accepted, its indexes and its queue entry
    /// `key` (found by `claim_entry`).
    fn drop_unaccepted(ops: &mut Ops, key: &[u8], delivery: &Delivery) {
        tracing::warn!(
            delivery = delivery.id.as_str(),
            "dropping a delivery whose event was never accepted"
        );
        let tenant = delivery.tenant.as_str().as_bytes();
        let id = delivery.id.as_str().as_bytes();
        ops.remove(keys::key(
            b'E',
            &[tenant, delivery.event_id.as_str().as_bytes(), id],
        ));
        ops.remove(keys::key(
            b'P',
            &[tenant, delivery.endpoint_id.as_str().as_bytes(), id],
        ));
        ops.remove(keys::delivery(
            delivery.tenant.as_str(),
            delivery.id.as_str(),
        ));
        ops.remove(key.to_vec());
    }

    fn load_delivery(&self, tenant: &str, id: &str) -> Result<Option<StoredDelivery>, StoreError> {
        let Some(bytes) = self
            .db
            .get(keys::delivery(tenant, id))
            .map_err(unavailable("read delivery"))?
        else {
            return Ok(None);
        };
        let (delivery, attempts) = codec::decode_with_tail::<Delivery, Vec<String>>(&bytes)?;
        Ok(Some(StoredDelivery {
            delivery,
            attempts: attempts.unwrap_or_default(),
        }))
    }

    /// The ids of a delivery's attempts, oldest first: those its record lists and those
    /// in the `A/` index (attempts recorded by earlier versions).
    pub(crate) fn attempts_of(&self, tenant: &str, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut ids: Vec<Vec<u8>> = self
            .load_delivery(tenant, id)?
            .map(|stored| stored.attempts)
            .unwrap_or_default()
            .into_iter()
            .map(String::into_bytes)
            .collect();
        for entry in self.db.scan_prefix(keys::prefix(b'A', &[id.as_bytes()])) {
            let (_, attempt_id) = entry.map_err(unavailable("scan delivery attempts"))?;
            ids.push(attempt_id.to_vec());
        }
        Ok(ids)
    }

    pub(crate) fn load_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.get_record(&keys::key(
            b'e',
            &[tenant.as_str().as_bytes(), id.as_str().as_bytes()],
        ))
    }

    /// See `Store::claim_due`.
    pub(crate) fn claim_due_now(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        self.fresh.note_lease(lease);
        let _guard = self.queue_lock();
        let lease_until = now.plus(lease);
        let now_ms = now.as_millis();
        let end_ms = now_ms.saturating_add(1);
        let mut due = self
            .db
            .range(keys::DUE.to_vec()..keys::queue_at(keys::DUE, end_ms))
            .peekable();
        let mut expired = self
            .db
            .range(keys::LEASED.to_vec()..keys::queue_at(keys::LEASED, end_ms))
            .peekable();
        let mut ops = Ops::default();
        let mut claims = Vec::new();
        // Lease entries met in this call: a claim from memory that is claimed through
        // its lease entry may meet that entry again in the scan of expired leases.
        let mut met = HashSet::new();
        while claims.len() < max {
            // Oldest first across the claims in memory and both queues.
            let fresh_due = self.fresh.front_due_ms().filter(|&due| due <= now_ms);
            let Some(source) = pick(fresh_due, head(&mut due), head(&mut expired)) else {
                break;
            };
            let claim = match source {
                Source::Fresh => {
                    let Some(fresh) = self.fresh.pop_due(now_ms) else {
                        continue;
                    };
                    self.claim_fresh(fresh, now, lease, &mut met, &mut ops)?
                }
                Source::Due | Source::Expired => {
                    let entry = if source == Source::Due {
                        due.next()
                    } else {
                        expired.next()
                    };
                    let Some(entry) = entry else { break };
                    let (key, _) = entry.map_err(unavailable("scan queue"))?;
                    self.claim_entry(&key, source, now, lease_until, &mut met, &mut ops)?
                }
            };
            if let Some(claim) = claim {
                claims.push(claim);
            }
        }
        self.write_in_order(ops)?;
        Ok(claims)
    }

    /// Hands over a claim leased at ingest: as it is if nothing it carries can have
    /// changed, else through its lease entry, so the record decides (see the `fresh`
    /// module).
    fn claim_fresh(
        &self,
        fresh: FreshClaim,
        now: Timestamp,
        lease: Duration,
        met: &mut HashSet<Vec<u8>>,
        ops: &mut Ops,
    ) -> Result<Option<Claim>, StoreError> {
        let FreshClaim {
            delivery,
            event,
            endpoints,
        } = fresh;
        let Some(leased_until) = delivery.lease_until else {
            // Invariant: ingest keeps only deliveries it leased.
            debug_assert!(false, "a fresh claim without a lease");
            return Ok(None);
        };
        let current = self.endpoints_of(&delivery.tenant)?;
        let recent = leased_until.plus(fresh::MAX_WAIT) >= now.plus(lease);
        if recent && Arc::ptr_eq(&current, &endpoints) {
            let endpoint = current.get(&delivery.endpoint_id).cloned();
            return Ok(Some(Claim {
                delivery,
                event,
                endpoint,
            }));
        }
        let key = keys::leased(
            leased_until.as_millis(),
            delivery.tenant.as_str(),
            delivery.id.as_str(),
        );
        self.claim_entry(&key, Source::Fresh, now, now.plus(lease), met, ops)
    }

    /// Claims the delivery of one queue entry, or drops the entry if it is stale.
    fn claim_entry(
        &self,
        key: &[u8],
        source: Source,
        now: Timestamp,
        lease_until: Timestamp,
        met: &mut HashSet<Vec<u8>>,
        ops: &mut Ops,
    ) -> Result<Option<Claim>, StoreError> {
        // Only lease entries can be met twice (a claim from memory claimed through its
        // lease entry, and the scan of expired leases); due entries cost no allocation.
        if source != Source::Due && !met.insert(key.to_vec()) {
            return Ok(None);
        }
        let Some((queued_at, tenant, delivery_id)) = keys::parse_due(key) else {
            return Err(StoreError::new(
                StoreErrorKind::Corrupt,
                "malformed queue key",
            ));
        };
        let Some(mut stored) = self.load_delivery(tenant, delivery_id)? else {
            // Ingest writes a new delivery's queue entry before its record, under its
            // own lock (see `add_delivery`): usually this one is being written right
            // now, and the entry is left for the next claim. Once the lock is free and
            // the record is still missing, the entry is left over from a write cut
            // short, and goes.
            if let Some(_idle) = self.ingest_idle() {
                let record = keys::delivery(tenant, delivery_id);
                if !self
                    .db
                    .contains_key(record)
                    .map_err(unavailable("read delivery"))?
                {
                    ops.remove(key.to_vec());
                }
            }
            return Ok(None);
        };
        let delivery = &mut stored.delivery;
        let expected = match source {
            Source::Due => delivery
                .next_attempt_at
                .filter(|_| delivery.lease_until.is_none()),
            Source::Expired | Source::Fresh => delivery.lease_until,
        };
        if delivery.status != DeliveryStatus::Pending
            || expected.map(Timestamp::as_millis) != Some(queued_at)
        {
            ops.remove(key.to_vec());
            return Ok(None);
        }
        let event_key = keys::key(
            b'v',
            &[
                delivery.tenant.as_str().as_bytes(),
                delivery.event_id.as_str().as_bytes(),
            ],
        );
        let Some(event_bytes) = self.db.get(&event_key).map_err(unavailable("read event"))? else {
            // Ingest writes the event record last, under its own lock: usually this one
            // is being written right now, and the entry is left for the next claim.
            // Once the lock is free and the event is still missing, ingest stopped
            // part-way (a failed write, or a crash: replay at open completes every
            // event that was accepted), so the delivery was never accepted: it goes,
            // with its indexes, or its entry would stay due forever.
            let ingest_idle = self.ingest_idle();
            if ingest_idle.is_some()
                && !self
                    .db
                    .contains_key(&event_key)
                    .map_err(unavailable("read event"))?
            {
                Self::drop_unaccepted(ops, key, delivery);
            }
            return Ok(None);
        };
        let (event, listed) = codec::decode_body::<Event>(&event_bytes)?;
        if !self.lists_delivery(listed, delivery)? {
            // The event is there but does not list this delivery: the delivery is left
            // from a write of the same event id that was cut short and never accepted,
            // and the client sent the event again, which made deliveries of its own.
            // Delivering this one too would send the event twice to the endpoint.
            Self::drop_unaccepted(ops, key, delivery);
            return Ok(None);
        }
        let endpoint = self.load_endpoint(&delivery.tenant, &delivery.endpoint_id)?;
        if source == Source::Expired {
            // The lease ran out (or was released at start-up) without a record: the
            // worker died mid-attempt. Log it so the gap is visible.
            delivery.attempts += 1;
            let url = endpoint
                .as_ref()
                .map(|endpoint| endpoint.url.clone())
                .unwrap_or_default();
            let interrupted = interrupted_attempt(delivery, url, now);
            Self::add_attempt(ops, &interrupted, &mut stored)?;
        }
        stored.delivery.lease_until = Some(lease_until);
        stored.delivery.updated_at = now;
        let record = stored.encode()?;
        let id = stored.delivery.id.as_str();
        // New entry first, old one last (see `Ops`). A due or expired entry is at or
        // before `now` and the new expiry after it; only a lease taken at ingest in
        // this same millisecond can have the same key, and then it stays.
        let new_key = keys::leased(lease_until.as_millis(), tenant, id);
        let same_key = new_key.as_slice() == key;
        ops.put(new_key, []);
        ops.put(keys::delivery(tenant, id), record);
        if !same_key {
            ops.remove(key.to_vec());
        }
        Ok(Some(Claim {
            delivery: stored.delivery,
            event,
            endpoint,
        }))
    }

    /// See `Store::record_attempt`.
    pub(crate) fn record_attempt_now(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        let _guard = self.queue_lock();
        let id = delivery.id.as_str();
        let tenant = delivery.tenant.as_str();
        let mut stored = self
            .load_delivery(tenant, id)?
            .ok_or_else(|| StoreError::new(StoreErrorKind::NotFound, "delivery"))?;
        let Some(lease_until) = stored.delivery.lease_until else {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                "delivery is not leased",
            ));
        };
        // The lease expiry identifies the claim. A worker whose lease ran out and was
        // taken by another claim still holds the old expiry: its outcome is stale, and
        // accepting it would overwrite the newer claim's state (and that claim's own
        // record would then fail).
        if delivery.lease_until != Some(lease_until) {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                "delivery was claimed again",
            ));
        }
        let mut ops = Ops::default();
        if let Some(attempt) = attempt {
            Self::add_attempt(&mut ops, attempt, &mut stored)?;
        }
        let cancelled = stored.delivery.status == DeliveryStatus::Cancelled;
        let updated = &mut stored.delivery;
        *updated = delivery.clone();
        updated.lease_until = None;
        if cancelled {
            // The endpoint was deleted while this attempt was in flight: stay cancelled.
            updated.status = DeliveryStatus::Cancelled;
            updated.next_attempt_at = None;
        }
        // Order (see `Ops`): attempt, new due entry, record, then the lease entry.
        if let (DeliveryStatus::Pending, Some(due)) = (updated.status, updated.next_attempt_at) {
            ops.put(keys::due(due.as_millis(), tenant, id), []);
        }
        ops.put(keys::delivery(tenant, id), stored.encode()?);
        ops.remove(keys::leased(lease_until.as_millis(), tenant, id));
        self.write_in_order(ops)
    }

    /// Puts the claims leased at ingest and never taken back in the due queue, as they
    /// were before their lease, and flushes (the store is closing in an orderly way, so
    /// the next start has no reason to log them as interrupted).
    pub(crate) fn return_fresh(&self) -> Result<usize, StoreError> {
        let waiting = self.fresh.drain();
        if waiting.is_empty() {
            return Ok(0);
        }
        let _guard = self.queue_lock();
        let mut ops = Ops::default();
        let mut returned = 0;
        for fresh in waiting {
            let tenant = fresh.delivery.tenant.as_str();
            let id = fresh.delivery.id.as_str();
            let Some(mut stored) = self.load_delivery(tenant, id)? else {
                continue;
            };
            let delivery = &mut stored.delivery;
            // Only if the record still holds the ingest's lease: deleting the endpoint,
            // or a claim through the lease queue, may have moved it on.
            let (Some(lease), Some(due)) = (delivery.lease_until, delivery.next_attempt_at) else {
                continue;
            };
            if delivery.status != DeliveryStatus::Pending
                || fresh.delivery.lease_until != Some(lease)
            {
                continue;
            }
            delivery.lease_until = None;
            ops.put(keys::due(due.as_millis(), tenant, id), []);
            ops.put(keys::delivery(tenant, id), stored.encode()?);
            ops.remove(keys::leased(lease.as_millis(), tenant, id));
            returned += 1;
        }
        self.write_in_order(ops)?;
        self.db
            .flush()
            .map_err(unavailable("flush returned claims"))?;
        Ok(returned)
    }

    /// Makes every lease of a previous run expire at `now` (single-process store).
    pub(crate) fn release_leases(&self, now: Timestamp) -> Result<usize, StoreError> {
        let _guard = self.queue_lock();
        let mut batch = sled::Batch::default();
        let mut released = 0;
        let start = keys::queue_at(keys::LEASED, now.as_millis().saturating_add(1));
        let end = keys::queue_at(keys::LEASED, u64::MAX);
        for entry in self.db.range(start..end) {
            let (key, _) = entry.map_err(unavailable("scan leases"))?;
            let Some((_, tenant, id)) = keys::parse_due(&key) else {
                return Err(StoreError::new(
                    StoreErrorKind::Corrupt,
                    "malformed lease key",
                ));
            };
            batch.remove(key.to_vec());
            let Some(mut stored) = self.load_delivery(tenant, id)? else {
                continue;
            };
            let delivery = &mut stored.delivery;
            if delivery.status != DeliveryStatus::Pending || delivery.lease_until.is_none() {
                // Settled, cancelled or stale: nothing to resume.
                continue;
            }
            batch.insert(keys::leased(now.as_millis(), tenant, id), &[]);
            delivery.lease_until = Some(now);
            batch.insert(keys::delivery(tenant, id), stored.encode()?);
            released += 1;
        }
        self.apply(batch)?;
        self.db
            .flush()
            .map_err(unavailable("flush released leases"))?;
        Ok(released)
    }

    /// See `Store::recover_deliveries`; returns how many were put back, before flushing.
    pub(crate) fn recover_now(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let _guard = self.queue_lock();
        let prefix = keys::prefix(
            b'P',
            &[tenant.as_str().as_bytes(), endpoint.as_str().as_bytes()],
        );
        let mut batch = sled::Batch::default();
        let mut recovered = 0;
        for entry in self.db.scan_prefix(&prefix) {
            let (key, _) = entry.map_err(unavailable("scan endpoint deliveries"))?;
            let id = std::str::from_utf8(&key[prefix.len()..]).map_err(|error| {
                StoreError::with_source(StoreErrorKind::Corrupt, "index key", error)
            })?;
            let Some(mut stored) = self.load_delivery(tenant.as_str(), id)? else {
                continue;
            };
            let delivery = &mut stored.delivery;
            let recoverable = matches!(
                delivery.status,
                DeliveryStatus::Failed | DeliveryStatus::Skipped
            );
            if !recoverable || delivery.created_at < since {
                continue;
            }
            delivery.status = DeliveryStatus::Pending;
            delivery.round_base = delivery.attempts;
            delivery.round_started_at = None;
            delivery.next_attempt_at = Some(now);
            delivery.updated_at = now;
            batch.insert(keys::due(now.as_millis(), tenant.as_str(), id), &[]);
            batch.insert(keys::delivery(tenant.as_str(), id), stored.encode()?);
            recovered += 1;
        }
        self.apply(batch)?;
        Ok(recovered)
    }

    /// Removes an endpoint and cancels its pending deliveries, before flushing.
    pub(crate) fn delete_endpoint_now(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let _guard = self.queue_lock();
        let endpoint_key = keys::key(
            b'e',
            &[tenant.as_str().as_bytes(), endpoint.as_str().as_bytes()],
        );
        if !self
            .db
            .contains_key(&endpoint_key)
            .map_err(unavailable("read endpoint"))?
        {
            return Ok(false);
        }
        let mut batch = sled::Batch::default();
        batch.remove(endpoint_key);
        let prefix = keys::prefix(
            b'P',
            &[tenant.as_str().as_bytes(), endpoint.as_str().as_bytes()],
        );
        for entry in self.db.scan_prefix(&prefix) {
            let (key, _) = entry.map_err(unavailable("scan endpoint deliveries"))?;
            let id = std::str::from_utf8(&key[prefix.len()..]).map_err(|error| {
                StoreError::with_source(StoreErrorKind::Corrupt, "index key", error)
            })?;
            let Some(mut stored) = self.load_delivery(tenant.as_str(), id)? else {
                continue;
            };
            let delivery = &mut stored.delivery;
            if delivery.status != DeliveryStatus::Pending {
                continue;
            }
            // Nothing will ever claim it again, so its queue entry goes. A leased
            // delivery keeps `lease_until` in its record, so the attempt in flight can
            // still be recorded; it stays cancelled.
            match (delivery.lease_until, delivery.next_attempt_at) {
                (Some(lease), _) => {
                    batch.remove(keys::leased(lease.as_millis(), tenant.as_str(), id));
                }
                (None, Some(due)) => {
                    batch.remove(keys::due(due.as_millis(), tenant.as_str(), id));
                }
                (None, None) => {}
            }
            delivery.status = DeliveryStatus::Cancelled;
            delivery.next_attempt_at = None;
            delivery.updated_at = now;
            batch.insert(keys::delivery(tenant.as_str(), id), stored.encode()?);
        }
        self.apply(batch)?;
        self.forget_endpoints(tenant);
        Ok(true)
    }

    /// The earliest entry of either queue or the claims in memory: a due attempt or a
    /// lease expiry.
    pub(crate) fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let mut earliest: Option<u64> = self.fresh.front_due_ms();
        for prefix in [keys::DUE, keys::LEASED] {
            if let Some(entry) = self.db.scan_prefix(prefix).next() {
                let (key, _) = entry.map_err(unavailable("read queue"))?;
                let (time, _, _) = keys::parse_due(&key).ok_or_else(|| {
                    StoreError::new(StoreErrorKind::Corrupt, "malformed queue key")
                })?;
                earliest = Some(earliest.map_or(time, |earliest| earliest.min(time)));
            }
        }
        Ok(earliest.map(Timestamp::from_millis))
    }
}

/// A delivery's record as stored: the delivery, followed by the ids of its attempts
/// (codec version 2), so that recording an attempt writes no separate index entry.
#[derive(Debug)]
pub(crate) struct StoredDelivery {
    pub(crate) delivery: Delivery,
    /// Oldest first.
    pub(crate) attempts: Vec<String>,
}

impl StoredDelivery {
    /// The record's bytes; every rewrite of a delivery record goes through here, so
    /// that its attempt ids are kept.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, StoreError> {
        if self.attempts.is_empty() {
            codec::encode(&self.delivery)
        } else {
            codec::encode_with_tail(&self.delivery, &self.attempts)
        }
    }
}

/// Where a claim comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Leased at ingest and waiting in memory (the `fresh` module).
    Fresh,
    /// The due queue `q/`.
    Due,
    /// The lease queue `r/`: a lease that ran out.
    Expired,
}

/// A queue scan's next entry: its key after the two-byte prefix, or `Err` if reading
/// it failed; `None` once the scan is done.
fn head(scan: &mut std::iter::Peekable<sled::Iter>) -> Option<Result<&[u8], ()>> {
    match scan.peek()? {
        Ok((key, _)) => Some(Ok(key.get(2..).unwrap_or_default())),
        Err(_) => Some(Err(())),
    }
}

/// The time of a queue entry (its first eight bytes after the prefix); 0 for an error
/// or a malformed key, so that it is met next and reported.
fn head_time(head: Result<&[u8], ()>) -> u64 {
    head.ok()
        .and_then(|key| key.get(..8))
        .and_then(|time| <[u8; 8]>::try_from(time).ok())
        .map_or(0, u64::from_be_bytes)
}

/// Which source holds the oldest claim: the claims in memory (due at `fresh`, if any
/// is due) or the heads of the due and lease queues. On a tie the claim in memory,
/// which needs no lookup, goes first.
fn pick(
    fresh: Option<u64>,
    due: Option<Result<&[u8], ()>>,
    expired: Option<Result<&[u8], ()>>,
) -> Option<Source> {
    let oldest_queued = match (due, expired) {
        (None, None) => None,
        (Some(due), None) => Some((Source::Due, head_time(due))),
        (None, Some(expired)) => Some((Source::Expired, head_time(expired))),
        // Errors first, then key order (time, tenant, id).
        (Some(due), Some(expired)) => match (due, expired) {
            (Err(()), _) => Some((Source::Due, 0)),
            (_, Err(())) => Some((Source::Expired, 0)),
            (Ok(due_key), Ok(expired_key)) if due_key <= expired_key => {
                Some((Source::Due, head_time(Ok(due_key))))
            }
            (_, Ok(expired_key)) => Some((Source::Expired, head_time(Ok(expired_key)))),
        },
    };
    match (fresh, oldest_queued) {
        (None, None) => None,
        (Some(_), None) => Some(Source::Fresh),
        (Some(fresh), Some((_, queued))) if fresh <= queued => Some(Source::Fresh),
        (_, Some((source, _))) => Some(source),
    }
}

/// The log entry for an attempt whose worker died before recording it.
fn interrupted_attempt(delivery: &Delivery, url: String, now: Timestamp) -> Attempt {
    Attempt {
        id: AttemptId::generate(now),
        tenant: delivery.tenant.clone(),
        delivery_id: delivery.id.clone(),
        event_id: delivery.event_id.clone(),
        endpoint_id: delivery.endpoint_id.clone(),
        attempt: delivery.attempts,
        started_at: delivery.updated_at,
        duration_ms: 0,
        url,
        request: HttpRecord::default(),
        status_code: None,
        response: None,
        error: Some(AttemptError {
            kind: ErrorKind::Interrupted,
            message: "the process stopped before the attempt's outcome was recorded".to_owned(),
        }),
        next: NextAction::Retry(now),
        test: delivery.test,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use herald_event::Timestamp;

    use crate::{keys, SledConfig, SledStore};

    #[test]
    fn a_queue_entry_without_its_record_is_kept_while_ingest_writes() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_millis(1_796_310_000_000);
        let store = SledStore::open(&SledConfig::temporary(dir.path().join("db")), now).unwrap();
        let entry = keys::due(now.as_millis(), "acme", "dlv_being_written");
        store.db.insert(&entry, &[]).unwrap();
        let lease = Duration::from_secs(60);
        {
            // An ingest is between this delivery's queue entry and its record.
            let _writing = store.ingest_lock();
            assert!(store.claim_due_now(now, 10, lease).unwrap().is_empty());
            assert!(store.db.contains_key(&entry).unwrap(), "left for later");
        }
        // No ingest running and still no record: a leftover of a cut write.
        assert!(store.claim_due_now(now, 10, lease).unwrap().is_empty());
        assert!(!store.db.contains_key(&entry).unwrap());
    }
}
