//! The `Store` trait implemented on sled: records, lists and durable writes.
//!
//! Durable writes apply one atomic batch and then wait for group commit
//! (`GroupCommit::durable`); queue operations live in the `queue` module.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use herald_event::{
    ApiKey, Attempt, Delivery, DeliveryId, Endpoint, EndpointId, Event, EventId, EventTypeDef,
    Tenant, TenantId, Timestamp,
};
use herald_store::{
    AttemptFilter, Claim, DeliveryFilter, EventFilter, InsertOutcome, Page, PageRequest, Store,
    StoreError, StoreErrorKind,
};

use crate::codec::{self, unavailable};
use crate::wal::Puts;
use crate::{keys, SledStore};

fn id_after<'k>(key: &'k [u8], prefix: &[u8]) -> Result<&'k str, StoreError> {
    std::str::from_utf8(&key[prefix.len()..])
        .map_err(|error| StoreError::with_source(StoreErrorKind::Corrupt, "index key", error))
}

impl SledStore {
    fn delivery_matches(delivery: &Delivery, tenant: &TenantId, filter: &DeliveryFilter) -> bool {
        &delivery.tenant == tenant
            && filter
                .event_id
                .as_ref()
                .is_none_or(|id| &delivery.event_id == id)
            && filter
                .endpoint_id
                .as_ref()
                .is_none_or(|id| &delivery.endpoint_id == id)
            && filter.status.is_none_or(|status| delivery.status == status)
    }

    fn attempt_matches(attempt: &Attempt, filter: &AttemptFilter) -> bool {
        filter
            .endpoint_id
            .as_ref()
            .is_none_or(|id| &attempt.endpoint_id == id)
            && filter
                .event_id
                .as_ref()
                .is_none_or(|id| &attempt.event_id == id)
            && filter
                .delivery_id
                .as_ref()
                .is_none_or(|id| &attempt.delivery_id == id)
            && filter
                .status_code
                .is_none_or(|code| attempt.status_code == Some(code))
            && filter
                .succeeded
                .is_none_or(|wanted| attempt.succeeded() == wanted)
    }

    /// Attempts of a known set of deliveries, paginated by attempt id (newest first).
    fn attempts_of_deliveries(
        &self,
        tenant: &TenantId,
        deliveries: &[String],
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> Result<Page<Attempt>, StoreError> {
        let mut attempt_ids = BTreeSet::new();
        for delivery in deliveries {
            attempt_ids.extend(self.attempts_of(tenant.as_str(), delivery)?);
        }
        let records = keys::prefix(b'a', &[tenant.as_str().as_bytes()]);
        let cursor = page.cursor.as_deref();
        crate::lists::page_of_ids(&records, &attempt_ids, cursor, page.limit, |id| {
            let key = keys::key(b'a', &[tenant.as_str().as_bytes(), id]);
            let attempt: Option<Attempt> = self.get_record(&key)?;
            Ok(attempt.filter(|attempt| Self::attempt_matches(attempt, filter)))
        })
    }
}

#[async_trait::async_trait]
impl Store for SledStore {
    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self
            .db
            .get(keys::key(b's', &[name.as_bytes()]))
            .map_err(unavailable("read setting"))?;
        Ok(value.map(|bytes| bytes.to_vec()))
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.db
            .insert(keys::key(b's', &[name.as_bytes()]), value)
            .map_err(unavailable("write setting"))?;
        self.commit.durable().await
    }

    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let key = keys::key(b't', &[tenant.id.as_str().as_bytes()]);
        {
            // The lock makes check-then-write atomic; the record and its list index go in
            // one batch.
            let _guard = self.ingest_lock();
            if self
                .db
                .contains_key(&key)
                .map_err(unavailable("read tenant"))?
            {
                return Err(StoreError::new(StoreErrorKind::Conflict, "tenant exists"));
            }
            let mut batch = sled::Batch::default();
            batch.insert(key, codec::encode(tenant)?);
            let index = keys::tenant_index(tenant.created_at.as_millis(), tenant.id.as_str());
            batch.insert(index, &[]);
            self.apply(batch)?;
        }
        self.commit.durable().await
    }

    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.get_record(&keys::key(b't', &[id.as_str().as_bytes()]))
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError> {
        // Tenant ids are client-chosen, so "newest first" needs the creation-time index.
        let prefix = keys::key(b'T', &[]);
        self.scan_page(&prefix, page.cursor.as_deref(), page.limit, |key, _| {
            let id = key
                .get(prefix.len() + 8..)
                .ok_or_else(|| StoreError::new(StoreErrorKind::Corrupt, "tenant index key"))?;
            self.get_record(&keys::key(b't', &[id]))
        })
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        batch.insert(
            keys::key(b'k', &[key.key_hash.as_bytes()]),
            codec::encode(key)?,
        );
        let index = keys::key(
            b'K',
            &[key.tenant.as_str().as_bytes(), key.id.as_str().as_bytes()],
        );
        batch.insert(index, key.key_hash.as_bytes());
        self.apply(batch)?;
        self.commit.durable().await
    }

    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_record(&keys::key(b'k', &[key_hash.as_bytes()]))
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let mut out = Vec::new();
        for entry in self
            .db
            .scan_prefix(keys::prefix(b'K', &[tenant.as_str().as_bytes()]))
            .rev()
        {
            let (_, hash) = entry.map_err(unavailable("scan api keys"))?;
            if let Some(key) = self.get_record(&keys::key(b'k', &[&hash]))? {
                out.push(key);
            }
        }
        Ok(out)
    }

    async fn delete_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        let index = keys::key(b'K', &[tenant.as_str().as_bytes(), id.as_bytes()]);
        let Some(hash) = self.db.get(&index).map_err(unavailable("read api key"))? else {
            return Ok(false);
        };
        let mut batch = sled::Batch::default();
        batch.remove(index);
        batch.remove(keys::key(b'k', &[&hash]));
        self.apply(batch)?;
        self.commit.durable().await?;
        Ok(true)
    }

    async fn put_event_type(&self, def: &EventTypeDef) -> Result<(), StoreError> {
        let json = serde_json::to_vec(def).map_err(|error| {
            StoreError::with_source(StoreErrorKind::Corrupt, "encode event type", error)
        })?;
        self.db
            .insert(keys::key(b'y', &[def.name.as_bytes()]), json)
            .map_err(unavailable("write event type"))?;
        *self
            .event_types
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        self.commit.durable().await
    }

    async fn list_event_types(&self) -> Result<Vec<EventTypeDef>, StoreError> {
        let mut out = Vec::new();
        for entry in self.db.scan_prefix(b"y/") {
            let (_, json) = entry.map_err(unavailable("scan event types"))?;
            let def = serde_json::from_slice(&json).map_err(|error| {
                StoreError::with_source(StoreErrorKind::Corrupt, "decode event type", error)
            })?;
            out.push(def);
        }
        Ok(out)
    }

    async fn find_event_type(&self, name: &str) -> Result<Option<Arc<EventTypeDef>>, StoreError> {
        // Same discipline as the endpoint cache: the lock is held across the load, and a
        // writer changes the tree before dropping the cache under this lock.
        let mut cache = self
            .event_types
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.is_none() {
            let mut types = HashMap::new();
            for entry in self.db.scan_prefix(b"y/") {
                let (_, json) = entry.map_err(unavailable("scan event types"))?;
                let def: EventTypeDef = serde_json::from_slice(&json).map_err(|error| {
                    StoreError::with_source(StoreErrorKind::Corrupt, "decode event type", error)
                })?;
                types.insert(def.name.clone(), Arc::new(def));
            }
            *cache = Some(types);
        }
        Ok(cache
            .as_ref()
            .and_then(|types| types.get(name))
            .map(Arc::clone))
    }

    async fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let key = keys::key(
            b'e',
            &[
                endpoint.tenant.as_str().as_bytes(),
                endpoint.id.as_str().as_bytes(),
            ],
        );
        self.db
            .insert(key, codec::encode(endpoint)?)
            .map_err(unavailable("write endpoint"))?;
        self.forget_endpoints(&endpoint.tenant);
        self.commit.durable().await
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.load_endpoint(tenant, id)
    }

    async fn list_endpoints(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Endpoint>, StoreError> {
        let prefix = keys::prefix(b'e', &[tenant.as_str().as_bytes()]);
        self.scan_page(&prefix, page.cursor.as_deref(), page.limit, |_, value| {
            codec::decode(value).map(Some)
        })
    }

    async fn tenant_endpoints(&self, tenant: &TenantId) -> Result<Arc<Vec<Endpoint>>, StoreError> {
        Ok(Arc::clone(&self.endpoints_of(tenant)?.all))
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let deleted = self.delete_endpoint_now(tenant, id, now)?;
        if deleted {
            self.commit.durable().await?;
        }
        Ok(deleted)
    }

    async fn insert_event(
        &self,
        event: &Event,
        deliveries: &[Delivery],
    ) -> Result<InsertOutcome, StoreError> {
        let (mut outcomes, ticket, handover) = self.insert_now(&[(event, deliveries)])?;
        self.finish_ingest(ticket, handover).await?;
        Ok(outcomes.remove(0))
    }

    async fn insert_events(
        &self,
        items: &[(Event, Vec<Delivery>)],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        // Up to a thousand events take a while to write: off the async worker, if
        // the runtime has others to take its tasks.
        let items: Vec<(&Event, &[Delivery])> = items
            .iter()
            .map(|(event, deliveries)| (event, deliveries.as_slice()))
            .collect();
        let (outcomes, ticket, handover) = crate::blocking(|| self.insert_now(&items))?;
        self.finish_ingest(ticket, handover).await?;
        Ok(outcomes)
    }

    async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError> {
        self.get_record(&keys::key(
            b'v',
            &[tenant.as_str().as_bytes(), id.as_str().as_bytes()],
        ))
    }

    async fn list_events(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page<Event>, StoreError> {
        let prefix = keys::prefix(b'V', &[tenant.as_str().as_bytes()]);
        // Payloads of up to 256 KiB each: a page of 1,000 could be 250 MB in memory,
        // so it ends once its payloads pass the budget and the cursor goes on from there.
        let budget = (PAGE_PAYLOAD_BUDGET, |event: &Event| event.payload.len());
        self.scan_page_within(
            &prefix,
            page.cursor.as_deref(),
            page.limit,
            budget,
            |key, _| {
                let rest = &key[prefix.len()..];
                let received: [u8; 8] = rest
                    .get(..8)
                    .and_then(|bytes| bytes.try_into().ok())
                    .ok_or_else(|| StoreError::new(StoreErrorKind::Corrupt, "event index key"))?;
                let received = Timestamp::from_millis(u64::from_be_bytes(received));
                if filter.until.is_some_and(|until| received >= until)
                    || filter.since.is_some_and(|since| received < since)
                {
                    return Ok(None);
                }
                let event_id = &rest[8..];
                let event: Option<Event> =
                    self.get_record(&keys::key(b'v', &[tenant.as_str().as_bytes(), event_id]))?;
                Ok(event.filter(|event| {
                    filter
                        .event_type
                        .as_ref()
                        .is_none_or(|wanted| &event.event_type == wanted)
                }))
            },
        )
    }

    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        let mut puts = Puts::default();
        for delivery in deliveries {
            // The event's record is written once, at ingest: later deliveries of it
            // (replays, test sends) are listed by the `E/` index.
            Self::add_delivery(&mut puts, delivery, true)?;
        }
        self.apply_puts(&puts)?;
        self.commit.durable().await
    }

    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get_record(&keys::delivery(tenant.as_str(), id.as_str()))
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let tenant_bytes = tenant.as_str().as_bytes();
        // Read the narrowest index the filter allows; the rest is checked per record.
        let index = match (&filter.event_id, &filter.endpoint_id) {
            (Some(event), _) => {
                let ids = self.deliveries_of_event(tenant.as_str(), event.as_str())?;
                let records = keys::prefix(b'd', &[tenant_bytes]);
                let cursor = page.cursor.as_deref();
                return crate::lists::page_of_ids(&records, &ids, cursor, page.limit, |id| {
                    let id = std::str::from_utf8(id).map_err(|error| {
                        StoreError::with_source(StoreErrorKind::Corrupt, "delivery id", error)
                    })?;
                    let delivery: Option<Delivery> =
                        self.get_record(&keys::delivery(tenant.as_str(), id))?;
                    Ok(
                        delivery
                            .filter(|delivery| Self::delivery_matches(delivery, tenant, filter)),
                    )
                });
            }
            (None, Some(endpoint)) => {
                keys::prefix(b'P', &[tenant_bytes, endpoint.as_str().as_bytes()])
            }
            (None, None) => {
                // The records themselves are keyed by tenant and time-ordered id.
                let prefix = keys::prefix(b'd', &[tenant_bytes]);
                return self.scan_page(&prefix, page.cursor.as_deref(), page.limit, |_, value| {
                    let delivery: Delivery = codec::decode(value)?;
                    Ok(Self::delivery_matches(&delivery, tenant, filter).then_some(delivery))
                });
            }
        };
        self.scan_page(&index, page.cursor.as_deref(), page.limit, |key, _| {
            let id = id_after(key, &index)?;
            let delivery: Option<Delivery> =
                self.get_record(&keys::delivery(tenant.as_str(), id))?;
            Ok(delivery.filter(|delivery| Self::delivery_matches(delivery, tenant, filter)))
        })
    }

    async fn recover_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let recovered = self.recover_now(tenant, endpoint, since, now)?;
        self.commit.durable().await?;
        Ok(recovered)
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        self.claim_due_now(now, max, lease)
    }

    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError> {
        self.record_attempt_now(delivery, attempt)
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        self.next_due()
    }

    async fn list_attempts(
        &self,
        tenant: &TenantId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> Result<Page<Attempt>, StoreError> {
        if let Some(delivery) = &filter.delivery_id {
            return self.attempts_of_deliveries(
                tenant,
                &[delivery.as_str().to_owned()],
                filter,
                page,
            );
        }
        if let Some(event) = &filter.event_id {
            let deliveries = self.deliveries_of_event(tenant.as_str(), event.as_str())?;
            let deliveries: Vec<String> = deliveries
                .into_iter()
                .map(|id| String::from_utf8_lossy(&id).into_owned())
                .collect();
            return self.attempts_of_deliveries(tenant, &deliveries, filter, page);
        }
        let prefix = keys::prefix(b'a', &[tenant.as_str().as_bytes()]);
        self.scan_page(&prefix, page.cursor.as_deref(), page.limit, |_, value| {
            let attempt: Attempt = codec::decode(value)?;
            Ok(Self::attempt_matches(&attempt, filter).then_some(attempt))
        })
    }
}

/// The payload bytes after which a page of events ends early (with a cursor).
pub(crate) const PAGE_PAYLOAD_BUDGET: usize = 4 << 20;
