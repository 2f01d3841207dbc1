//! Events: ingest with fan-out, listing, reading and replay.
//!
//! Ingest is the hot path. It validates the body, builds the envelope once around the
//! client's `data` bytes (DESIGN section 2), creates one delivery per subscribed
//! endpoint (pending if enabled, skipped if disabled) and stores event and deliveries in
//! one durable write. Only then does it answer 202 and wake the delivery engine.
//!
//! Idempotency: a client-given `id`, or else an `Idempotency-Key` header (from which a
//! deterministic id is derived), makes a repeated request return the first result with
//! `Idempotent-Replayed: true` and create nothing.

use axum::extract::State;
use axum::response::Response;
use herald_event::{
    build_envelope, validate_client_id, Delivery, DeliveryId, DeliveryStatus, EndpointId, Event,
    EventId, EventTypeDef, TenantId, Timestamp,
};
use herald_store::{EventFilter, InsertOutcome};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::extract::{Body, ItemId, QueryParams, TenantScope};
use crate::fields::Fields;
use crate::views::{json_response, EventView, ListView};
use crate::{hex, now, ApiError, ApiState};

/// Header that makes an ingest without `id` idempotent.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header set on the answer to a repeated ingest.
const REPLAYED: &str = "idempotent-replayed";

/// A new delivery of `event_id` to `endpoint_id`, due now.
pub(crate) fn pending_delivery(
    tenant: &TenantId,
    event_id: &EventId,
    event_type: &str,
    endpoint_id: &EndpointId,
    test: bool,
    now: Timestamp,
) -> Delivery {
    Delivery {
        id: DeliveryId::generate(now),
        tenant: tenant.clone(),
        event_id: event_id.clone(),
        event_type: event_type.to_owned(),
        endpoint_id: endpoint_id.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        round_base: 0,
        round_started_at: None,
        next_attempt_at: Some(now),
        lease_until: None,
        last_status_code: None,
        last_error: None,
        test,
        created_at: now,
        updated_at: now,
    }
}

/// `POST /v1/tenants/{tenant_id}/events` `{type, data, id?, timestamp?}` → 202
/// `{id, type, timestamp, deliveries}`.
pub(crate) async fn ingest(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let fields = Fields::parse(&body, &["type", "data", "id", "timestamp"])?;
    let key = idempotency_key(&headers)?;
    let now = now();
    let (event, deliveries) = prepare(&state, &tenant, fields, key, now).await?;
    match state.store().insert_event(&event, &deliveries).await? {
        InsertOutcome::Inserted => {
            state.metrics().count_ingested();
            wake_if_pending(&state, &deliveries);
            accepted(&event, deliveries.len(), false)
        }
        InsertOutcome::Duplicate {
            event: first,
            deliveries,
        } => accepted(&first, deliveries, true),
    }
}

/// Wakes the engine if any of `deliveries` is due.
fn wake_if_pending(state: &ApiState, deliveries: &[Delivery]) {
    if deliveries
        .iter()
        .any(|delivery| delivery.status == DeliveryStatus::Pending)
    {
        state.wake_delivery();
    }
}

/// Validates one event's fields and builds the event (envelope serialized once) and
/// its deliveries: one per subscribed endpoint, pending if enabled, skipped if not.
pub(crate) async fn prepare(
    state: &ApiState,
    tenant: &TenantId,
    mut fields: Fields,
    idempotency_key: Option<&str>,
    now: Timestamp,
) -> Result<(Event, Vec<Delivery>), ApiError> {
    let event_type = fields.required_string("type", 128)?;
    let Some(def) = state.event_type(&event_type).await? else {
        return Err(ApiError::unknown_event_type("type", &event_type));
    };
    let data = fields
        .raw("data")
        .ok_or_else(|| ApiError::invalid("data", "is required"))?;
    // `RawValue` holds the value's text without surrounding whitespace.
    if !data.get().starts_with('{') {
        return Err(ApiError::invalid("data", "must be a JSON object"));
    }
    let limit = state.config().max_payload_bytes;
    if data.get().len() > limit {
        return Err(ApiError::TooLarge {
            what: "data",
            limit,
        });
    }
    crate::json_text::check_json_text(data.get())
        .map_err(|message| ApiError::invalid("data", message))?;
    if def.strict {
        check_required_fields(&def, data.get())?;
    }
    let client_id = fields.optional_string("id", 128)?;
    let timestamp = fields.optional_string("timestamp", 64)?;
    let id = match client_id {
        Some(id) => {
            validate_client_id(&id).map_err(|error| ApiError::invalid("id", error.to_string()))?;
            EventId::new(id)
        }
        None => match idempotency_key {
            Some(key) => derived_event_id(tenant, key),
            None => EventId::generate(now),
        },
    };
    let timestamp = match timestamp {
        Some(text) => Timestamp::parse_rfc3339(&text)
            .map_err(|error| ApiError::invalid("timestamp", error.to_string()))?,
        None => now,
    };

    let payload = build_envelope(&id, &event_type, timestamp, data.get());
    let endpoints = state.store().tenant_endpoints(tenant).await?;
    let deliveries: Vec<Delivery> = endpoints
        .iter()
        .filter(|endpoint| endpoint.subscribes_to(&event_type))
        .map(|endpoint| {
            let mut delivery = pending_delivery(tenant, &id, &event_type, &endpoint.id, false, now);
            if !endpoint.enabled {
                delivery.status = DeliveryStatus::Skipped;
                delivery.next_attempt_at = None;
            }
            delivery
        })
        .collect();
    let event = Event {
        id,
        tenant: tenant.clone(),
        event_type,
        timestamp,
        received_at: now,
        payload,
        test: false,
    };
    Ok((event, deliveries))
}

/// Most events one batch may carry.
const MAX_BATCH: usize = 1000;

/// `POST /v1/tenants/{tenant_id}/events/batch` `{events: [{type, data, id?, timestamp?}]}`
/// → 200 when every item was accepted, 207 when some were refused, with
/// `{results: [{index, status: 202, id, type, timestamp, deliveries} | {index, status,
/// error: problem}]}` in request order. The accepted items are stored in one durable
/// write before the answer; a refused item stores nothing and does not affect others.
pub(crate) async fn ingest_batch(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let _turn = state.batch_turn().await;
    let mut fields = Fields::parse(&body, &["events"])?;
    let raw = fields
        .raw("events")
        .ok_or_else(|| ApiError::invalid("events", "is required"))?;
    let items: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(raw.get())
        .map_err(|_| ApiError::invalid("events", "must be an array of event objects"))?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "events",
            format!("must hold 1 to {MAX_BATCH} events"),
        ));
    }
    let now = now();
    let mut results: Vec<Option<serde_json::Value>> = vec![None; items.len()];
    let mut prepared = Vec::with_capacity(items.len());
    let mut prepared_index = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let outcome =
            match Fields::parse(item.get().as_bytes(), &["type", "data", "id", "timestamp"]) {
                Ok(item_fields) => prepare(&state, &tenant, item_fields, None, now).await,
                Err(error) => Err(error),
            };
        match outcome {
            Ok(event) => {
                prepared.push(event);
                prepared_index.push(index);
            }
            Err(ApiError::Store(error)) => return Err(ApiError::Store(error)),
            Err(error) => {
                let problem = prefix_fields(error.problem_body(), index);
                results[index] = Some(json!({
                    "index": index,
                    "status": error.status().as_u16(),
                    "error": problem,
                }));
            }
        }
    }
    let outcomes = state.store().insert_events(&prepared).await?;
    for ((index, (event, deliveries)), outcome) in
        prepared_index.iter().zip(&prepared).zip(outcomes)
    {
        let (event, count, replayed) = match outcome {
            InsertOutcome::Inserted => {
                state.metrics().count_ingested();
                (event, deliveries.len(), false)
            }
            InsertOutcome::Duplicate {
                event: ref first,
                deliveries,
            } => (first, deliveries, true),
        };
        results[*index] = Some(json!({
            "index": index,
            "status": 202,
            "id": event.id,
            "type": event.event_type,
            "timestamp": event.timestamp,
            "deliveries": count,
            "replayed": replayed,
        }));
    }
    for (_, deliveries) in &prepared {
        wake_if_pending(&state, deliveries);
    }
    let all_accepted = prepared.len() == items.len();
    let status = if all_accepted {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    json_response(status, &json!({ "results": results }))
}

/// Names a batch item's fields `events[i].field` in its problem.
fn prefix_fields(mut problem: serde_json::Value, index: usize) -> serde_json::Value {
    if let Some(errors) = problem
        .get_mut("errors")
        .and_then(serde_json::Value::as_array_mut)
    {
        for error in errors {
            if let Some(field) = error.get("field").and_then(serde_json::Value::as_str) {
                let prefixed = format!("events[{index}].{field}");
                error["field"] = prefixed.into();
            }
        }
    }
    problem
}

/// The 202 answer of ingest; `replayed` marks a repeated request.
fn accepted(event: &Event, deliveries: usize, replayed: bool) -> Result<Response, ApiError> {
    let view = json!({
        "id": event.id,
        "type": event.event_type,
        "timestamp": event.timestamp,
        "deliveries": deliveries,
    });
    let mut response = json_response(StatusCode::ACCEPTED, &view)?;
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().ok().filter(|key| {
        (1..=255).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
    });
    match key {
        Some(key) => Ok(Some(key)),
        None => Err(ApiError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// `evt_` + the first 22 hex characters of SHA-256(tenant, NUL, key): the same key on
/// the same tenant always names the same event, so the store's duplicate check applies.
fn derived_event_id(tenant: &TenantId, key: &str) -> EventId {
    let mut hasher = Sha256::new();
    hasher.update(tenant.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    let digest = hex(&hasher.finalize());
    EventId::new(format!("{}{}", EventId::PREFIX, &digest[..22]))
}

/// For strict types: every top-level field the schema's `required` lists is present.
fn check_required_fields(def: &EventTypeDef, data: &str) -> Result<(), ApiError> {
    let data: serde_json::Map<String, serde_json::Value> = serde_json::from_str(data)
        .map_err(|_| ApiError::invalid("data", "must be a JSON object"))?;
    let required = def
        .schema
        .get("required")
        .and_then(serde_json::Value::as_array);
    let missing: Vec<crate::FieldError> = required
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .filter(|field| !data.contains_key(*field))
        .map(|field| crate::FieldError {
            field: format!("data.{field}"),
            message: format!("is required by the schema of {}", def.name),
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(missing))
    }
}

/// `GET /v1/tenants/{tenant_id}/events?type=&since=&until=&limit=&cursor=`, newest first.
pub(crate) async fn list(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let page = query.page()?;
    let filter = EventFilter {
        event_type: query.take("type")?,
        since: time_param(&mut query, "since")?,
        until: time_param(&mut query, "until")?,
    };
    query.finish()?;
    let page = state.store().list_events(&tenant, &filter, &page).await?;
    let data: Vec<EventView<'_>> = page.items.iter().map(EventView).collect();
    json_response(
        StatusCode::OK,
        &ListView {
            data,
            next_cursor: page.next_cursor,
        },
    )
}

/// An optional RFC 3339 query parameter.
pub(crate) fn time_param(
    query: &mut QueryParams,
    name: &str,
) -> Result<Option<Timestamp>, ApiError> {
    query
        .take(name)?
        .map(|text| {
            Timestamp::parse_rfc3339(&text)
                .map_err(|error| ApiError::invalid(name, error.to_string()))
        })
        .transpose()
}

/// `GET /v1/tenants/{tenant_id}/events/{id}`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
) -> Result<Response, ApiError> {
    let event = state.store().get_event(&tenant, &EventId::new(id)).await?;
    let event = event.ok_or(ApiError::NotFound("event"))?;
    json_response(StatusCode::OK, &EventView(&event))
}

/// `POST /v1/tenants/{tenant_id}/events/{id}/replay` `{endpoint_id?}` → 202
/// `{event_id, deliveries: [ids]}`.
///
/// With `endpoint_id`, one new delivery to that endpoint (whatever it subscribes to; a
/// disabled endpoint is a 409). Without, one to every current, enabled subscriber.
/// Replays send the stored envelope, so receivers see the original `id`.
pub(crate) async fn replay(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(&body, &["endpoint_id"])?;
    let endpoint_id = fields.optional_string("endpoint_id", 128)?;
    let event = state.store().get_event(&tenant, &EventId::new(id)).await?;
    let event = event.ok_or(ApiError::NotFound("event"))?;
    let now = now();
    let targets: Vec<EndpointId> = match endpoint_id {
        Some(endpoint_id) => {
            let endpoint_id = EndpointId::new(endpoint_id);
            let endpoint = state.store().get_endpoint(&tenant, &endpoint_id).await?;
            let endpoint = endpoint.ok_or(ApiError::NotFound("endpoint"))?;
            if !endpoint.enabled {
                return Err(ApiError::Conflict(format!(
                    "endpoint {endpoint_id} is disabled; enable it before replaying to it"
                )));
            }
            vec![endpoint.id]
        }
        None => state
            .store()
            .tenant_endpoints(&tenant)
            .await?
            .iter()
            .filter(|endpoint| endpoint.enabled && endpoint.subscribes_to(&event.event_type))
            .map(|endpoint| endpoint.id.clone())
            .collect(),
    };
    let deliveries: Vec<Delivery> = targets
        .iter()
        .map(|endpoint| {
            pending_delivery(
                &tenant,
                &event.id,
                &event.event_type,
                endpoint,
                event.test,
                now,
            )
        })
        .collect();
    if !deliveries.is_empty() {
        state.store().insert_deliveries(&deliveries).await?;
        state.wake_delivery();
    }
    let ids: Vec<&DeliveryId> = deliveries.iter().map(|delivery| &delivery.id).collect();
    json_response(
        StatusCode::ACCEPTED,
        &json!({"event_id": event.id, "deliveries": ids}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(tenant: &str, key: &str, expect: &str) {
        assert_eq!(
            derived_event_id(&TenantId::new(tenant), key).as_str(),
            expect
        );
    }

    #[test]
    fn derives_stable_ids_from_idempotency_keys() {
        // python3: hashlib.sha256(b"acme\0order-1").hexdigest()[:22]
        check("acme", "order-1", "evt_af5f4f1841e88ebcae5020");
        assert_ne!(
            derived_event_id(&TenantId::new("acme"), "k"),
            derived_event_id(&TenantId::new("other"), "k")
        );
    }
}
