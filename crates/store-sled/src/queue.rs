//! Deliveries: insertion with their indexes, the due queue, leases, recording.
//!
//! The due queue `q/{time}{delivery}` holds, for every pending delivery, the time it
//! next needs a worker: its next attempt, or while leased its lease expiry. Claiming
//! moves the key to the lease expiry; recording moves it to the next attempt (or
//! removes it). So an expired lease is found by the same ordered scan as a due retry,
//! and nothing ever scans the deliveries themselves.

use std::time::Duration;

use herald_event::{
    Attempt, AttemptError, AttemptId, Delivery, DeliveryStatus, Endpoint, EndpointId, ErrorKind,
    Event, HttpRecord, NextAction, TenantId, Timestamp,
};
use herald_store::{Claim, StoreError, StoreErrorKind};

use crate::codec::{self, unavailable};
use crate::keys;
use crate::wal::Puts;
use crate::{Ops, SledStore};

impl SledStore {
    /// Adds a new delivery and its indexes (and its queue entry, if pending) to `puts`.
    pub(crate) fn add_delivery(puts: &mut Puts, delivery: &Delivery) -> Result<(), StoreError> {
        let tenant = delivery.tenant.as_str().as_bytes();
        let id = delivery.id.as_str().as_bytes();
        puts.put(keys::key(b'd', &[id]), codec::encode(delivery)?);
        puts.put(keys::key(b'D', &[tenant, id]), []);
        let event = delivery.event_id.as_str().as_bytes();
        puts.put(keys::key(b'E', &[tenant, event, id]), []);
        let endpoint = delivery.endpoint_id.as_str().as_bytes();
        puts.put(keys::key(b'P', &[tenant, endpoint, id]), []);
        if let (DeliveryStatus::Pending, Some(due)) = (delivery.status, delivery.next_attempt_at) {
            puts.put(keys::due(due.as_millis(), delivery.id.as_str()), []);
        }
        Ok(())
    }

    /// Adds an attempt and its per-delivery index to `ops`.
    fn add_attempt(ops: &mut Ops, attempt: &Attempt) -> Result<(), StoreError> {
        let tenant = attempt.tenant.as_str().as_bytes();
        let id = attempt.id.as_str().as_bytes();
        ops.put(keys::key(b'a', &[tenant, id]), codec::encode(attempt)?);
        let number = attempt.attempt.to_be_bytes();
        let delivery = attempt.delivery_id.as_str().as_bytes();
        ops.put(keys::key(b'A', &[delivery, &number]), id);
        Ok(())
    }

    fn load_delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        self.get_record(&keys::key(b'd', &[id.as_bytes()]))
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
        let _guard = self.lock();
        let lease_until = now.plus(lease);
        let end = keys::due(now.as_millis().saturating_add(1), "");
        let mut ops = Ops::default();
        let mut claims = Vec::new();
        for entry in self.db.range(b"q/".to_vec()..end) {
            if claims.len() >= max {
                break;
            }
            let (key, _) = entry.map_err(unavailable("scan due queue"))?;
            let Some((queued_at, delivery_id)) = keys::parse_due(&key) else {
                return Err(StoreError::new(
                    StoreErrorKind::Corrupt,
                    "malformed due key",
                ));
            };
            let Some(mut delivery) = self.load_delivery(delivery_id)? else {
                ops.remove(key.to_vec());
                continue;
            };
            // An entry is live only if it is where the record says the delivery is
            // queued; anything else is left over from a write a crash cut short (see
            // `Ops`) or from a settled delivery, and is dropped.
            let expected = delivery.lease_until.or(delivery.next_attempt_at);
            if delivery.status != DeliveryStatus::Pending
                || expected.map(Timestamp::as_millis) != Some(queued_at)
            {
                ops.remove(key.to_vec());
                continue;
            }
            let event_key = keys::key(
                b'v',
                &[
                    delivery.tenant.as_str().as_bytes(),
                    delivery.event_id.as_str().as_bytes(),
                ],
            );
            let Some(event) = self.get_record::<Event>(&event_key)? else {
                tracing::error!(delivery = %delivery.id, "delivery without its event; dropped from queue");
                ops.remove(key.to_vec());
                continue;
            };
            let endpoint = self.load_endpoint(&delivery.tenant, &delivery.endpoint_id)?;
            if delivery.lease_until.is_some() {
                // The lease ran out (or was released at start-up) without a record:
                // the worker died mid-attempt. Log it so the gap is visible.
                delivery.attempts += 1;
                let url = endpoint
                    .as_ref()
                    .map(|endpoint| endpoint.url.clone())
                    .unwrap_or_default();
                Self::add_attempt(&mut ops, &interrupted_attempt(&delivery, url, now))?;
            }
            delivery.lease_until = Some(lease_until);
            delivery.updated_at = now;
            let id = delivery.id.as_str().as_bytes();
            // New queue entry first, old one last (see `Ops`); the lease expiry is
            // after `now`, so the two keys differ.
            ops.put(keys::due(lease_until.as_millis(), delivery.id.as_str()), []);
            ops.put(keys::key(b'l', &[id]), []);
            ops.put(keys::key(b'd', &[id]), codec::encode(&delivery)?);
            ops.remove(key.to_vec());
            claims.push(Claim {
                delivery,
                event,
                endpoint,
            });
        }
        self.write_in_order(ops)?;
        Ok(claims)
    }

    /// See `Store::record_attempt`.
    pub(crate) fn record_attempt_now(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        let _guard = self.lock();
        let id = delivery.id.as_str();
        let stored = self
            .load_delivery(id)?
            .ok_or_else(|| StoreError::new(StoreErrorKind::NotFound, "delivery"))?;
        let Some(lease_until) = stored.lease_until else {
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
            Self::add_attempt(&mut ops, attempt)?;
        }
        let mut updated = delivery.clone();
        updated.lease_until = None;
        if stored.status == DeliveryStatus::Cancelled {
            // The endpoint was deleted while this attempt was in flight: stay cancelled.
            updated.status = DeliveryStatus::Cancelled;
            updated.next_attempt_at = None;
        }
        let lease_key = keys::due(lease_until.as_millis(), id);
        let next_key = match (updated.status, updated.next_attempt_at) {
            (DeliveryStatus::Pending, Some(due)) => Some(keys::due(due.as_millis(), id)),
            _ => None,
        };
        // Order (see `Ops`): attempt, new queue entry, record, then the lease's marker
        // and queue entry.
        if let Some(next_key) = &next_key {
            ops.put(next_key.clone(), []);
        }
        ops.put(keys::key(b'd', &[id.as_bytes()]), codec::encode(&updated)?);
        ops.remove(keys::key(b'l', &[id.as_bytes()]));
        if next_key.as_ref() != Some(&lease_key) {
            ops.remove(lease_key);
        }
        self.write_in_order(ops)
    }

    /// Makes every lease of a previous run expire at `now` (single-process store).
    pub(crate) fn release_leases(&self, now: Timestamp) -> Result<usize, StoreError> {
        let _guard = self.lock();
        let mut batch = sled::Batch::default();
        let mut released = 0;
        for entry in self.db.scan_prefix(b"l/") {
            let (key, _) = entry.map_err(unavailable("scan leases"))?;
            let id = std::str::from_utf8(&key[2..]).map_err(|error| {
                StoreError::with_source(StoreErrorKind::Corrupt, "lease key", error)
            })?;
            let Some(mut delivery) = self.load_delivery(id)? else {
                batch.remove(key);
                continue;
            };
            let Some(lease_until) = delivery.lease_until else {
                batch.remove(key);
                continue;
            };
            if delivery.status != DeliveryStatus::Pending {
                // Settled or cancelled while leased: nothing to resume.
                batch.remove(key);
                continue;
            }
            batch.remove(keys::due(lease_until.as_millis(), id));
            batch.insert(keys::due(now.as_millis(), id), &[]);
            delivery.lease_until = Some(now);
            batch.insert(keys::key(b'd', &[id.as_bytes()]), codec::encode(&delivery)?);
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
        let _guard = self.lock();
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
            let Some(mut delivery) = self.load_delivery(id)? else {
                continue;
            };
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
            batch.insert(keys::due(now.as_millis(), id), &[]);
            batch.insert(keys::key(b'd', &[id.as_bytes()]), codec::encode(&delivery)?);
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
        let _guard = self.lock();
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
            let Some(mut delivery) = self.load_delivery(id)? else {
                continue;
            };
            if delivery.status != DeliveryStatus::Pending {
                continue;
            }
            // Nothing will ever claim it again, so its queue entry goes (the lease expiry
            // while leased) and so does its lease marker, which would otherwise make
            // every start-up re-queue it. A leased delivery keeps `lease_until` in its
            // record, so the attempt in flight can still be recorded; it stays cancelled.
            let queued_at = delivery.lease_until.or(delivery.next_attempt_at);
            if let Some(due) = queued_at {
                batch.remove(keys::due(due.as_millis(), id));
            }
            batch.remove(keys::key(b'l', &[id.as_bytes()]));
            delivery.status = DeliveryStatus::Cancelled;
            delivery.next_attempt_at = None;
            delivery.updated_at = now;
            batch.insert(keys::key(b'd', &[id.as_bytes()]), codec::encode(&delivery)?);
        }
        self.apply(batch)?;
        self.forget_endpoints(tenant);
        Ok(true)
    }

    /// The first key of the due queue.
    pub(crate) fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let first = self.db.scan_prefix(b"q/").next();
        match first {
            Some(entry) => {
                let (key, _) = entry.map_err(unavailable("read due queue"))?;
                let (time, _) = keys::parse_due(&key)
                    .ok_or_else(|| StoreError::new(StoreErrorKind::Corrupt, "malformed due key"))?;
                Ok(Some(Timestamp::from_millis(time)))
            }
            None => Ok(None),
        }
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
