//! Fixed-time builders for the records the conformance checks store.
//!
//! Every time is an offset from [`T0`], never a clock reading, so a failing check
//! fails the same way every run. Generated ids embed their creation millisecond, so a
//! record created at a later offset has a larger id; the checks rely on that to know
//! which order "newest first" means. Nothing here talks to a store except `seed`.

use std::time::Duration;

use herald_event::{
    build_envelope, ApiKey, ApiKeyId, Attempt, AttemptError, AttemptId, Delivery, DeliveryId,
    DeliveryStatus, Endpoint, EndpointId, EndpointSecret, ErrorKind, Event, EventId, HttpRecord,
    NextAction, Tenant, TenantId, Timestamp,
};

use crate::{AttemptFilter, Claim, InsertOutcome, PageRequest, Store, StoreError, StoreErrorKind};

/// The start of every check's timeline: 2026-12-03T14:40:00Z.
pub(super) const T0: Timestamp = Timestamp::from_millis(1_796_310_000_000);

/// The lease every check claims with, in milliseconds.
pub(super) const LEASE_MS: u64 = 60_000;

/// The lease every check claims with.
pub(super) const LEASE: Duration = Duration::from_millis(LEASE_MS);

/// `T0` plus `millis` milliseconds.
pub(super) fn at(millis: u64) -> Timestamp {
    T0.plus(Duration::from_millis(millis))
}

/// `time` plus `millis` milliseconds.
pub(super) fn plus(time: Timestamp, millis: u64) -> Timestamp {
    time.plus(Duration::from_millis(millis))
}

/// `time` minus one millisecond: the last instant before `time`.
pub(super) fn just_before(time: Timestamp) -> Timestamp {
    Timestamp::from_millis(time.as_millis() - 1)
}

pub(super) fn tenant(id: &str, created_at: Timestamp) -> Tenant {
    Tenant {
        id: TenantId::new(id),
        name: format!("{id} inc"),
        created_at,
    }
}

pub(super) fn api_key(tenant: &TenantId, hash_digit: char, created_at: Timestamp) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(created_at),
        tenant: tenant.clone(),
        key_hash: hash_digit.to_string().repeat(64),
        key_prefix: format!("hk_{hash_digit}"),
        created_at,
    }
}

/// An enabled endpoint subscribed to everything, with a generated (time-ordered) id.
pub(super) fn endpoint(tenant: &TenantId, created_at: Timestamp) -> Endpoint {
    let id = EndpointId::generate(created_at);
    Endpoint {
        url: format!("https://hooks.example.com/{id}"),
        id,
        tenant: tenant.clone(),
        description: "conformance".to_owned(),
        event_types: vec!["*".to_owned()],
        enabled: true,
        disabled_reason: None,
        secrets: vec![EndpointSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            created_at,
            expires_at: None,
        }],
        created_at,
        updated_at: created_at,
    }
}

/// An event with a client-chosen id and a real envelope as its payload.
pub(super) fn event(
    tenant: &TenantId,
    id: &str,
    event_type: &str,
    received_at: Timestamp,
) -> Event {
    let id = EventId::new(id);
    let data = format!("{{\"email_id\":\"eml_{id}\", \"n\":1}}");
    Event {
        payload: build_envelope(&id, event_type, received_at, &data),
        id,
        tenant: tenant.clone(),
        event_type: event_type.to_owned(),
        timestamp: received_at,
        received_at,
        test: false,
    }
}

/// A new pending delivery of `event` to `endpoint`, created at `created_at`, due at `due`.
pub(super) fn pending(
    event: &Event,
    endpoint: &EndpointId,
    created_at: Timestamp,
    due: Timestamp,
) -> Delivery {
    Delivery {
        id: DeliveryId::generate(created_at),
        tenant: event.tenant.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        endpoint_id: endpoint.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        round_base: 0,
        round_started_at: None,
        next_attempt_at: Some(due),
        lease_until: None,
        last_status_code: None,
        last_error: None,
        test: false,
        created_at,
        updated_at: created_at,
    }
}

/// A delivery that is already settled in `status` (nothing scheduled).
pub(super) fn settled(
    event: &Event,
    endpoint: &EndpointId,
    created_at: Timestamp,
    status: DeliveryStatus,
) -> Delivery {
    Delivery {
        status,
        next_attempt_at: None,
        ..pending(event, endpoint, created_at, created_at)
    }
}

/// The log entry a worker writes for its attempt of `delivery` (as claimed).
///
/// `status_code: None` stands for a timeout; 2xx codes are successes.
pub(super) fn attempt(
    delivery: &Delivery,
    started_at: Timestamp,
    status_code: Option<u16>,
    next: NextAction,
) -> Attempt {
    let error = match status_code {
        None => Some(AttemptError {
            kind: ErrorKind::Timeout,
            message: "timed out".to_owned(),
        }),
        Some(_) => None,
    };
    let response = status_code.map(|_| HttpRecord {
        headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
        body: b"ok\xff".to_vec(),
        truncated: false,
        size: Some(3),
    });
    Attempt {
        id: AttemptId::generate(started_at),
        tenant: delivery.tenant.clone(),
        delivery_id: delivery.id.clone(),
        event_id: delivery.event_id.clone(),
        endpoint_id: delivery.endpoint_id.clone(),
        attempt: delivery.attempts + 1,
        started_at,
        duration_ms: 120,
        url: "https://hooks.example.com/in".to_owned(),
        request: HttpRecord {
            headers: vec![("webhook-id".to_owned(), delivery.event_id.to_string())],
            body: b"{\"id\":1}".to_vec(),
            truncated: false,
            size: Some(8),
        },
        status_code,
        response,
        error,
        next,
        test: delivery.test,
    }
}

/// What a worker hands to `record_attempt` after `attempt` of the `claimed` delivery:
/// the claimed record (its `lease_until` untouched) moved on as `attempt.next` says.
pub(super) fn after(claimed: &Delivery, attempt: &Attempt) -> Delivery {
    let (status, next_attempt_at) = match attempt.next {
        NextAction::Done => (DeliveryStatus::Succeeded, None),
        NextAction::Retry(time) => (DeliveryStatus::Pending, Some(time)),
        NextAction::GiveUp => (DeliveryStatus::Failed, None),
    };
    Delivery {
        status,
        next_attempt_at,
        attempts: attempt.attempt,
        round_started_at: Some(claimed.round_started_at.unwrap_or(attempt.started_at)),
        last_status_code: attempt.status_code,
        last_error: (!attempt.succeeded()).then(|| "failed".to_owned()),
        updated_at: plus(attempt.started_at, attempt.duration_ms),
        ..claimed.clone()
    }
}

/// `delivery` as the store should hold it once recorded: the same, with no lease.
pub(super) fn unleased(delivery: &Delivery) -> Delivery {
    Delivery {
        lease_until: None,
        ..delivery.clone()
    }
}

/// Stores a tenant and its endpoints.
pub(super) async fn seed_tenant(store: &dyn Store, tenant: &Tenant, endpoints: &[&Endpoint]) {
    store.create_tenant(tenant).await.unwrap();
    for endpoint in endpoints {
        store.put_endpoint(endpoint).await.unwrap();
    }
}

/// Inserts an event with its deliveries, which must be new.
pub(super) async fn seed(store: &dyn Store, event: &Event, deliveries: &[Delivery]) {
    let outcome = store.insert_event(event, deliveries).await.unwrap();
    assert_eq!(
        outcome,
        InsertOutcome::Inserted,
        "event {} is new",
        event.id
    );
}

/// The kind of an error that `result` must be.
#[track_caller]
pub(super) fn error_kind<T: std::fmt::Debug>(result: Result<T, StoreError>) -> StoreErrorKind {
    match result {
        Ok(value) => panic!("expected an error, got Ok({value:?})"),
        Err(error) => error.kind(),
    }
}

/// The ids of `items`, for comparing order.
pub(super) fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| id(item).to_owned()).collect()
}

pub(super) fn delivery_ids(deliveries: &[&Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|delivery| delivery.id.to_string())
        .collect()
}

/// The ids of the claimed deliveries, in the order claimed.
pub(super) fn claimed_ids(claims: &[Claim]) -> Vec<String> {
    claims
        .iter()
        .map(|claim| claim.delivery.id.to_string())
        .collect()
}

/// The attempt log of one delivery, newest first.
pub(super) async fn attempts_of(store: &dyn Store, delivery: &Delivery) -> Vec<Attempt> {
    let filter = AttemptFilter {
        delivery_id: Some(delivery.id.clone()),
        ..Default::default()
    };
    let page = store
        .list_attempts(&delivery.tenant, &filter, &PageRequest::first(100))
        .await;
    page.unwrap().items
}
