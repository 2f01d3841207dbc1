//! Ingest: new events with their deliveries, durable through the write-ahead log.
//!
//! Each new event is written to sled key by key (the event record last, see
//! `SledStore::write_event`) and framed into the write-ahead log under the ingest
//! lock; the caller then waits for the log's sync. Deliveries due at once are leased
//! here and handed to the engine in memory once durable (the `fresh` module).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use herald_event::{Delivery, Event};
use herald_store::{InsertOutcome, StoreError};

use crate::codec::{self, unavailable};
use crate::fresh::{self, FreshClaim, Handover};
use crate::wal::Puts;
use crate::{keys, SledStore};

/// An event's record lists the ids of up to this many deliveries made at ingest, in
/// place of one `E/` index entry each; an event fanned out to more endpoints has the
/// entries instead, so that its record stays small.
const MAX_LISTED_DELIVERIES: usize = 64;

/// Delivery ids in id (creation) order.
pub(crate) type DeliveryIds = BTreeSet<Vec<u8>>;

/// What an event's record carries after the event (codec version 2): how many
/// deliveries its ingest made (the count a repeat of the event is answered with, which
/// later replays do not change), and their ids when there are at most
/// `MAX_LISTED_DELIVERIES` (otherwise none: the `E/` index has them).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct EventTail<'a> {
    pub(crate) made: u64,
    #[serde(borrow)]
    pub(crate) ids: Vec<&'a str>,
}

impl SledStore {
    /// The synchronous part of ingest: writes the new events and submits their log
    /// records; returns the outcomes, the log ticket to wait for, and the claims to hand
    /// over once it is durable. An id repeated within `items` is a duplicate of its
    /// first occurrence.
    pub(crate) fn insert_now(
        &self,
        items: &[(&Event, &[Delivery])],
    ) -> Result<(Vec<InsertOutcome>, u64, Handover), StoreError> {
        let mut outcomes = Vec::with_capacity(items.len());
        let mut handover = Handover::none();
        let result = self.insert_locked(items, &mut outcomes, &mut handover);
        match result {
            Ok(ticket) => Ok((outcomes, ticket, handover)),
            Err(error) => {
                self.fresh.cancel(handover.reservation);
                Err(error)
            }
        }
    }

    fn insert_locked(
        &self,
        items: &[(&Event, &[Delivery])],
        outcomes: &mut Vec<InsertOutcome>,
        handover: &mut Handover,
    ) -> Result<u64, StoreError> {
        let _guard = self.ingest_lock();
        let mut framed = Vec::new();
        let written = self.write_items(items, outcomes, handover, &mut framed);
        // What reached sled goes to the log even when a later item failed: a repeat of
        // an event written here finds it in sled and is answered as a duplicate once
        // its barrier is durable, which must cover the original's record too. (The
        // failed item's own record may be among them; replaying an event whose
        // request failed only delivers what the client may send again anyway.)
        // Empty when every item was a duplicate: then it is a barrier, so a duplicate
        // is not answered as accepted before its original (maybe a concurrent
        // request) is on disk.
        let ticket = self.wal.submit(framed)?;
        written.map(|()| ticket)
    }

    /// Writes the new events of `items` to sled and frames their log records.
    fn write_items(
        &self,
        items: &[(&Event, &[Delivery])],
        outcomes: &mut Vec<InsertOutcome>,
        handover: &mut Handover,
        framed: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        // Ids written by this call, so a repeat within it is a duplicate too.
        let mut in_batch: HashMap<(&str, &str), usize> = HashMap::new();
        for &(event, deliveries) in items {
            let tenant = event.tenant.as_str().as_bytes();
            let event_key = keys::key(b'v', &[tenant, event.id.as_str().as_bytes()]);
            let batch_key = (event.tenant.as_str(), event.id.as_str());
            if let Some(&first) = in_batch.get(&batch_key) {
                let (first_event, first_deliveries) = items[first];
                outcomes.push(InsertOutcome::Duplicate {
                    event: first_event.clone(),
                    deliveries: first_deliveries.len(),
                });
                continue;
            }
            if let Some((existing, made)) = self.event_as_ingested(&event_key)? {
                outcomes.push(InsertOutcome::Duplicate {
                    event: existing,
                    deliveries: made,
                });
                continue;
            }
            in_batch.insert(batch_key, outcomes.len());
            let (written, leased) = self.lease_at_ingest(event, deliveries)?;
            handover.append(leased);
            // One log record per event, each guarded by its own event key, all made
            // durable by one write and one sync.
            let puts = Self::event_puts(event_key, event, &written)?;
            puts.frame_into(framed);
            self.write_event(&puts)?;
            outcomes.push(InsertOutcome::Inserted);
        }
        Ok(())
    }

    /// Waits until ingest's log ticket is durable, then hands its claims over.
    pub(crate) async fn finish_ingest(
        &self,
        ticket: u64,
        handover: Handover,
    ) -> Result<(), StoreError> {
        // If the wait fails, or this future is dropped during it (the client went
        // away), the room reserved for the claims is given back: the leased deliveries
        // stay in sled and are taken when their lease runs out.
        let mut waiting = Waiting {
            store: self,
            handover: Some(handover),
        };
        self.wal.durable(ticket).await?;
        if let Some(handover) = waiting.handover.take() {
            if !handover.claims.is_empty() {
                self.fresh.push(handover);
            }
        }
        Ok(())
    }

    /// Leases the deliveries due at once, if there is room to keep their claims in
    /// memory: returns the deliveries to write and the claims to hand over.
    fn lease_at_ingest<'d>(
        &self,
        event: &Event,
        deliveries: &'d [Delivery],
    ) -> Result<(Cow<'d, [Delivery]>, Handover), StoreError> {
        let unchanged = Cow::Borrowed(deliveries);
        let Some(lease) = self.fresh.lease() else {
            return Ok((unchanged, Handover::none()));
        };
        let leasable = deliveries
            .iter()
            .filter(|delivery| fresh::leasable_at_ingest(delivery, event.received_at))
            .count();
        let reservation = self.fresh.reserve(leasable, event.payload.len());
        if reservation == fresh::Reservation::NONE {
            return Ok((unchanged, Handover::none()));
        }
        let endpoints = match self.endpoints_of(&event.tenant) {
            Ok(endpoints) => endpoints,
            Err(error) => {
                self.fresh.cancel(reservation);
                return Err(error);
            }
        };
        let lease_until = event.received_at.plus(lease);
        let mut claims = Vec::with_capacity(leasable);
        let mut written = deliveries.to_vec();
        for delivery in &mut written {
            if fresh::leasable_at_ingest(delivery, event.received_at) {
                delivery.lease_until = Some(lease_until);
                claims.push(FreshClaim {
                    delivery: delivery.clone(),
                    event: event.clone(),
                    endpoints: Arc::clone(&endpoints),
                });
            }
        }
        Ok((
            Cow::Owned(written),
            Handover {
                reservation,
                claims,
            },
        ))
    }

    /// The pairs of a new event: the record (first, the log record's guard) listing its
    /// deliveries' ids, its list index, and its deliveries.
    fn event_puts(
        event_key: Vec<u8>,
        event: &Event,
        deliveries: &[Delivery],
    ) -> Result<Puts, StoreError> {
        let mut puts = Puts::default();
        let listed = deliveries.len() <= MAX_LISTED_DELIVERIES;
        let ids = if listed {
            deliveries
                .iter()
                .map(|delivery| delivery.id.as_str())
                .collect()
        } else {
            Vec::new()
        };
        let tail = EventTail {
            made: deliveries.len() as u64,
            ids,
        };
        puts.put(event_key, codec::encode_with_tail(event, &tail)?);
        let index = keys::event_index(
            event.tenant.as_str(),
            event.received_at.as_millis(),
            event.id.as_str(),
        );
        puts.put(index, []);
        for delivery in deliveries {
            Self::add_delivery(&mut puts, delivery, !listed)?;
        }
        Ok(puts)
    }

    /// An event (by its record's key) and how many deliveries its ingest made. Records
    /// of versions before the count was kept answer with every delivery the `E/` index
    /// lists, replays included.
    fn event_as_ingested(&self, event_key: &[u8]) -> Result<Option<(Event, usize)>, StoreError> {
        let Some(bytes) = self.db.get(event_key).map_err(unavailable("read event"))? else {
            return Ok(None);
        };
        let (event, tail) = codec::decode_body::<Event>(&bytes)?;
        let made = match tail {
            Some(tail) => {
                let made = codec::decode_tail::<EventTail>(tail)?.made;
                usize::try_from(made).unwrap_or(usize::MAX)
            }
            None => self.indexed_deliveries(&event).count(),
        };
        Ok(Some((event, made)))
    }

    /// An event (by its record's key) and the ids of its deliveries, oldest first: those
    /// its record lists and those in the `E/` index.
    pub(crate) fn event_with_deliveries(
        &self,
        event_key: &[u8],
    ) -> Result<Option<(Event, DeliveryIds)>, StoreError> {
        let Some(bytes) = self.db.get(event_key).map_err(unavailable("read event"))? else {
            return Ok(None);
        };
        let (event, tail) = codec::decode_body::<Event>(&bytes)?;
        let mut ids = DeliveryIds::new();
        if let Some(tail) = tail {
            let tail = codec::decode_tail::<EventTail>(tail)?;
            ids.extend(tail.ids.iter().map(|id| id.as_bytes().to_vec()));
        }
        for id in self.indexed_deliveries(&event) {
            ids.insert(id?);
        }
        Ok(Some((event, ids)))
    }

    /// The ids of an event's deliveries in the `E/` index.
    fn indexed_deliveries(
        &self,
        event: &Event,
    ) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> {
        let prefix = keys::prefix(
            b'E',
            &[
                event.tenant.as_str().as_bytes(),
                event.id.as_str().as_bytes(),
            ],
        );
        let start = prefix.len();
        self.db.scan_prefix(prefix).map(move |entry| {
            entry
                .map(|(key, _)| key[start..].to_vec())
                .map_err(unavailable("scan event deliveries"))
        })
    }

    /// The ids of an event's deliveries, oldest first; none if there is no such event.
    pub(crate) fn deliveries_of_event(
        &self,
        tenant: &str,
        event: &str,
    ) -> Result<DeliveryIds, StoreError> {
        let key = keys::key(b'v', &[tenant.as_bytes(), event.as_bytes()]);
        Ok(self
            .event_with_deliveries(&key)?
            .map(|(_, ids)| ids)
            .unwrap_or_default())
    }
}

/// Claims of an ingest waiting for its log record; dropped unused, their reserved room
/// is given back.
struct Waiting<'s> {
    store: &'s SledStore,
    handover: Option<Handover>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(handover) = self.handover.take() {
            self.store.fresh.cancel(handover.reservation);
        }
    }
}
