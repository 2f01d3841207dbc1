//! The delivery log: deliveries (one per event and endpoint) and their attempts.
//!
//! Read-only; the delivery engine writes both. Filters are query parameters and map
//! one-to-one onto the store's filter types.

use axum::extract::State;
use axum::response::Response;
use herald_event::{DeliveryId, DeliveryStatus, EndpointId, EventId};
use herald_store::{AttemptFilter, DeliveryFilter};
use http::StatusCode;

use crate::extract::{ItemId, QueryParams, TenantScope};
use crate::views::{self, json_response, ListView};
use crate::{ApiError, ApiState};

/// `GET /v1/tenants/{tenant_id}/deliveries?event_id=&endpoint_id=&status=&limit=&cursor=`.
pub(crate) async fn list_deliveries(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let page = query.page()?;
    let status = match query.take("status")? {
        None => None,
        Some(text) => Some(DeliveryStatus::parse(&text).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "must be pending, succeeded, failed, skipped or cancelled",
            )
        })?),
    };
    let filter = DeliveryFilter {
        event_id: query.take_id("event_id")?.map(EventId::new),
        endpoint_id: query.take_id("endpoint_id")?.map(EndpointId::new),
        status,
    };
    query.finish()?;
    let page = state
        .store()
        .list_deliveries(&tenant, &filter, &page)
        .await?;
    let data = page.items.iter().map(views::delivery).collect();
    json_response(
        StatusCode::OK,
        &ListView {
            data,
            next_cursor: page.next_cursor,
        },
    )
}

/// `GET /v1/tenants/{tenant_id}/deliveries/{id}`.
pub(crate) async fn get_delivery(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
) -> Result<Response, ApiError> {
    let delivery = state
        .store()
        .get_delivery(&tenant, &DeliveryId::new(id))
        .await?;
    let delivery = delivery.ok_or(ApiError::NotFound("delivery"))?;
    json_response(StatusCode::OK, &views::delivery(&delivery))
}

/// The body an attempt sent: kept in the record, or (as the engine records it) the
/// event's envelope when the record holds only its size.
fn request_body<'a>(attempt: &'a herald_event::Attempt, payload: Option<&'a Vec<u8>>) -> &'a [u8] {
    let sent = attempt.request.size.unwrap_or(0);
    match payload {
        Some(payload) if attempt.request.body.is_empty() && sent == payload.len() as u64 => payload,
        _ => &attempt.request.body,
    }
}

/// `GET /v1/tenants/{tenant_id}/attempts?endpoint_id=&event_id=&delivery_id=&status_code=
/// &outcome=succeeded|failed&limit=&cursor=`.
pub(crate) async fn list_attempts(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let page = query.page()?;
    let status_code = match query.take("status_code")? {
        None => None,
        Some(text) => Some(
            text.parse::<u16>()
                .ok()
                .filter(|code| (100..=599).contains(code))
                .ok_or_else(|| {
                    ApiError::invalid("status_code", "must be an HTTP status from 100 to 599")
                })?,
        ),
    };
    let succeeded = match query.take("outcome")?.as_deref() {
        None => None,
        Some("succeeded") => Some(true),
        Some("failed") => Some(false),
        Some(_) => return Err(ApiError::invalid("outcome", "must be succeeded or failed")),
    };
    let filter = AttemptFilter {
        endpoint_id: query.take_id("endpoint_id")?.map(EndpointId::new),
        event_id: query.take_id("event_id")?.map(EventId::new),
        delivery_id: query.take_id("delivery_id")?.map(DeliveryId::new),
        status_code,
        succeeded,
    };
    query.finish()?;
    let page = state.store().list_attempts(&tenant, &filter, &page).await?;
    // The engine logs the request body by reference: every attempt sends the event's
    // stored envelope, byte for byte, so the log shows those bytes (read once per event).
    let mut bodies: std::collections::HashMap<&herald_event::EventId, Vec<u8>> =
        std::collections::HashMap::new();
    for attempt in &page.items {
        if !bodies.contains_key(&attempt.event_id) {
            let event = state.store().get_event(&tenant, &attempt.event_id).await?;
            bodies.insert(
                &attempt.event_id,
                event.map(|event| event.payload).unwrap_or_default(),
            );
        }
    }
    let data = page
        .items
        .iter()
        .map(|attempt| {
            let body = request_body(attempt, bodies.get(&attempt.event_id));
            views::attempt(attempt, body)
        })
        .collect();
    json_response(
        StatusCode::OK,
        &ListView {
            data,
            next_cursor: page.next_cursor,
        },
    )
}
