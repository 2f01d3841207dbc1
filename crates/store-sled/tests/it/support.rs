//! Shared helpers: temporary stores and a few fixed-time records.

use std::future::Ready;
use std::path::Path;

use herald_event::{
    build_envelope, Attempt, AttemptId, Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId,
    Event, EventId, HttpRecord, NextAction, Tenant, TenantId, Timestamp,
};
use herald_store_sled::{SledConfig, SledStore};

/// The start of every test's timeline: 2026-12-03T14:40:00Z.
pub(crate) const T0: Timestamp = Timestamp::from_millis(1_796_310_000_000);

/// `T0` plus `millis` milliseconds.
pub(crate) fn at(millis: u64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + millis)
}

/// A factory of fresh temporary stores, each in its own directory under one temporary
/// directory that the factory owns (sled deletes each store's files when it is dropped).
pub(crate) fn temporary_stores() -> impl FnMut() -> Ready<SledStore> {
    let base = tempfile::tempdir().expect("the system temporary directory is writable");
    let mut opened = 0;
    move || {
        opened += 1;
        let config = SledConfig::temporary(base.path().join(format!("store-{opened}")));
        std::future::ready(SledStore::open(&config, T0).expect("a new temporary store opens"))
    }
}

/// Opens the persistent store in `dir` as a process starting at `now` would.
pub(crate) fn open_at(dir: &Path, now: Timestamp) -> SledStore {
    SledStore::open(&SledConfig::at(dir), now).expect("the data directory opens")
}

pub(crate) fn tenant(id: &str) -> Tenant {
    Tenant {
        id: TenantId::new(id),
        name: format!("{id} inc"),
        created_at: T0,
    }
}

pub(crate) fn endpoint(tenant: &TenantId, created_at: Timestamp) -> Endpoint {
    let id = EndpointId::generate(created_at);
    Endpoint {
        url: format!("https://hooks.example.com/{id}"),
        id,
        tenant: tenant.clone(),
        description: String::new(),
        event_types: vec!["*".to_owned()],
        enabled: true,
        disabled_reason: None,
        secrets: Vec::new(),
        created_at,
        updated_at: created_at,
    }
}

pub(crate) fn event(tenant: &TenantId, id: &str, received_at: Timestamp) -> Event {
    let id = EventId::new(id);
    Event {
        payload: build_envelope(&id, "email.sent", received_at, "{\"n\":1}"),
        id,
        tenant: tenant.clone(),
        event_type: "email.sent".to_owned(),
        timestamp: received_at,
        received_at,
        test: false,
    }
}

/// A pending delivery of `event` to `endpoint`, due when the event was received.
pub(crate) fn delivery(event: &Event, endpoint: &EndpointId) -> Delivery {
    Delivery {
        id: DeliveryId::generate(event.received_at),
        tenant: event.tenant.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        endpoint_id: endpoint.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        round_base: 0,
        round_started_at: None,
        next_attempt_at: Some(event.received_at),
        lease_until: None,
        last_status_code: None,
        last_error: None,
        test: false,
        created_at: event.received_at,
        updated_at: event.received_at,
    }
}

/// Attempt number `attempt` of the claimed delivery `claimed`, started at `started` and
/// answered 200 by `url`, and the delivery as the engine records it after that attempt.
pub(crate) fn succeeded(
    claimed: &Delivery,
    attempt: u32,
    started: Timestamp,
    url: &str,
) -> (Attempt, Delivery) {
    let success = Attempt {
        id: AttemptId::generate(started),
        tenant: claimed.tenant.clone(),
        delivery_id: claimed.id.clone(),
        event_id: claimed.event_id.clone(),
        endpoint_id: claimed.endpoint_id.clone(),
        attempt,
        started_at: started,
        duration_ms: 5,
        url: url.to_owned(),
        request: HttpRecord::default(),
        status_code: Some(200),
        response: Some(HttpRecord::default()),
        error: None,
        next: NextAction::Done,
        test: false,
    };
    let delivered = Delivery {
        status: DeliveryStatus::Succeeded,
        attempts: attempt,
        next_attempt_at: None,
        ..claimed.clone()
    };
    (success, delivered)
}
