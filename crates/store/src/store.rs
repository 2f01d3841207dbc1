//! The `Store` trait and the small value types its methods take and return.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use herald_event::{
    ApiKey, Attempt, Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId, Event, EventId,
    EventTypeDef, Tenant, TenantId, Timestamp,
};

use crate::StoreError;

/// Which page of a newest-first list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (the API clamps it to 1..=1000).
    pub limit: usize,
    /// The `next_cursor` of the previous page, or `None` for the first page.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page with `limit` items.
    pub fn first(limit: usize) -> Self {
        PageRequest {
            limit,
            cursor: None,
        }
    }
}

/// One page of a list; `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Opaque; pass it back to get the following page.
    pub next_cursor: Option<String>,
}

/// Filters for listing events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this type.
    pub event_type: Option<String>,
    /// Only events received at or after this time.
    pub since: Option<Timestamp>,
    /// Only events received before this time.
    pub until: Option<Timestamp>,
}

/// Filters for listing deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only deliveries of this event.
    pub event_id: Option<EventId>,
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<EndpointId>,
    /// Only deliveries in this status.
    pub status: Option<DeliveryStatus>,
}

/// Filters for listing attempts (the delivery log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptFilter {
    /// Only attempts to this endpoint.
    pub endpoint_id: Option<EndpointId>,
    /// Only attempts of this event.
    pub event_id: Option<EventId>,
    /// Only attempts of this delivery.
    pub delivery_id: Option<DeliveryId>,
    /// Only attempts answered with this status.
    pub status_code: Option<u16>,
    /// Only successful (`true`) or failed (`false`) attempts.
    pub succeeded: Option<bool>,
}

/// The result of [`Store::insert_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The event and its deliveries are stored durably.
    Inserted,
    /// An event with this id already existed; nothing was written.
    Duplicate {
        /// The stored event.
        event: Event,
        /// How many deliveries it created.
        deliveries: usize,
    },
}

/// A delivery leased to a worker, with what the attempt needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The delivery, with `lease_until` set.
    pub delivery: Delivery,
    /// Its event (the exact body to send).
    pub event: Event,
    /// Its endpoint, or `None` if the endpoint was deleted.
    pub endpoint: Option<Endpoint>,
}

/// Durable home of tenants, endpoints, events, deliveries and the attempt log.
///
/// Invariants every backend keeps (checked by `testkit::conformance`):
/// - `insert_event` writes the event and all its deliveries atomically and returns only
///   once they are durable; a repeated event id writes nothing.
/// - A delivery returned by `claim_due` is not returned again until its lease expires
///   or `record_attempt` stores its new state.
/// - `claim_due` returns due deliveries oldest-due first, reading a time-ordered index
///   (never a full scan).
/// - Lists are newest first and cursors are stable under concurrent inserts.
#[async_trait::async_trait]
pub trait Store: fmt::Debug + Send + Sync + 'static {
    /// Reads a small named setting (such as the admin key hash).
    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a small named setting durably.
    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Creates a tenant; `Conflict` if its id is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Reads a tenant.
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Lists tenants, newest first.
    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<Tenant>, StoreError>;

    /// Stores a new tenant API key.
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// Finds a key by the SHA-256 hex of its secret.
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Lists a tenant's keys.
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes a key; `false` if the tenant has no such key.
    async fn delete_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError>;

    /// Adds or replaces an operator-defined event type.
    async fn put_event_type(&self, def: &EventTypeDef) -> Result<(), StoreError>;
    /// Lists operator-defined event types (the built-in catalog is not stored).
    async fn list_event_types(&self) -> Result<Vec<EventTypeDef>, StoreError>;
    /// Finds one operator-defined event type; ingest asks this for every event, so
    /// backends that can should answer from memory.
    async fn find_event_type(&self, name: &str) -> Result<Option<Arc<EventTypeDef>>, StoreError> {
        let types = self.list_event_types().await?;
        Ok(types.into_iter().find(|def| def.name == name).map(Arc::new))
    }

    /// Creates or replaces an endpoint.
    async fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// Reads an endpoint of a tenant.
    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError>;
    /// Lists a tenant's endpoints, newest first.
    async fn list_endpoints(
        &self,
        tenant: &TenantId,
        page: &PageRequest,
    ) -> Result<Page<Endpoint>, StoreError>;
    /// Every endpoint of a tenant, for fan-out at ingest (backends may cache this).
    async fn tenant_endpoints(&self, tenant: &TenantId) -> Result<Arc<Vec<Endpoint>>, StoreError>;
    /// Deletes an endpoint and cancels its pending deliveries; `false` if absent.
    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Stores an event and its deliveries atomically and durably (see the invariants).
    async fn insert_event(
        &self,
        event: &Event,
        deliveries: &[Delivery],
    ) -> Result<InsertOutcome, StoreError>;
    /// Stores several events with their deliveries, each event atomically with its
    /// deliveries; a backend may (sled does) make them all durable with one sync. Returns one outcome per item, in
    /// order; an id repeated within `items` is a `Duplicate` of its first occurrence.
    async fn insert_events(
        &self,
        items: &[(Event, Vec<Delivery>)],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(items.len());
        for (event, deliveries) in items {
            outcomes.push(self.insert_event(event, deliveries).await?);
        }
        Ok(outcomes)
    }
    /// Reads an event of a tenant.
    async fn get_event(&self, tenant: &TenantId, id: &EventId)
        -> Result<Option<Event>, StoreError>;
    /// Lists a tenant's events, newest received first.
    async fn list_events(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page<Event>, StoreError>;

    /// Stores new deliveries of existing events (replay, test mode) durably.
    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError>;
    /// Reads a delivery of a tenant.
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError>;
    /// Lists a tenant's deliveries, newest first.
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError>;
    /// Puts an endpoint's `failed` and `skipped` deliveries created at or after `since`
    /// back to `pending`, due `now`, in a new schedule round; returns how many.
    async fn recover_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError>;

    /// Leases up to `max` deliveries due at `now` (pending with `next_attempt_at <= now`,
    /// or leased with an expired lease), oldest first, until `now + lease`.
    ///
    /// A single-process backend may lease a new event's deliveries at ingest and hand
    /// them to its engine from memory (sled does): such a claim's `lease_until` is the
    /// event's `received_at` plus the `lease` of the previous claim, and at most one
    /// second earlier than `now + lease`. Either way the returned `lease_until` is the
    /// one stored, and it identifies the claim for `record_attempt`.
    async fn claim_due(
        &self,
        now: Timestamp,
        max: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError>;
    /// Stores a claimed delivery's new state (lease cleared, next time set or not) and,
    /// if given, the attempt that led to it, atomically. `delivery` is the claimed
    /// record moved on, with `lease_until` left as claimed: it identifies the claim, and
    /// the store clears it. `Conflict` if the delivery is no longer leased by that claim
    /// (its lease expired and another worker took it, or it was already recorded).
    /// If its endpoint was deleted meanwhile, the attempt is logged and the delivery
    /// stays `Cancelled`.
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: Option<&Attempt>,
    ) -> Result<(), StoreError>;
    /// The earliest time any delivery falls due (or a lease expires), if any.
    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError>;
    /// Lists a tenant's attempts, newest first.
    async fn list_attempts(
        &self,
        tenant: &TenantId,
        filter: &AttemptFilter,
        page: &PageRequest,
    ) -> Result<Page<Attempt>, StoreError>;
}
