//! JSON views of stored records, and the response helpers that send them.
//!
//! Views are built with `serde_json` values (this crate derives no serde, see STYLE
//! 2.2), except events: an event's `payload` is its stored envelope embedded as raw JSON,
//! byte for byte, which a `serde_json::Value` could not keep, so `EventView` and
//! `ListView` serialize by hand.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use herald_event::{
    ApiKey, Attempt, Delivery, Endpoint, Event, EventTypeDef, HttpRecord, NextAction, Tenant,
};
use http::{header, HeaderValue, StatusCode};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use crate::ApiError;

/// A JSON response with `status`.
pub(crate) fn json_response(
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|_| ApiError::Internal("serialize response"))?;
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `{"data": [...], "next_cursor": "..." | null}`.
pub(crate) struct ListView<T> {
    pub(crate) data: Vec<T>,
    pub(crate) next_cursor: Option<String>,
}

impl<T: Serialize> Serialize for ListView<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("data", &self.data)?;
        map.serialize_entry("next_cursor", &self.next_cursor)?;
        map.end()
    }
}

/// An event: `{id, type, timestamp, received_at, test, payload}`, where `payload` is the
/// envelope exactly as it is sent to endpoints.
pub(crate) struct EventView<'a>(pub(crate) &'a Event);

impl Serialize for EventView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("id", &event.id)?;
        map.serialize_entry("type", &event.event_type)?;
        map.serialize_entry("timestamp", &event.timestamp)?;
        map.serialize_entry("received_at", &event.received_at)?;
        map.serialize_entry("test", &event.test)?;
        // The envelope was serialized by `build_envelope`, so it is JSON; should stored
        // bytes ever be damaged, show them as text rather than fail the whole list.
        match serde_json::from_slice::<&serde_json::value::RawValue>(&event.payload) {
            Ok(raw) => map.serialize_entry("payload", raw)?,
            Err(_) => map.serialize_entry("payload", &String::from_utf8_lossy(&event.payload))?,
        }
        map.end()
    }
}

/// A tenant: `{id, name, created_at}`.
pub(crate) fn tenant(tenant: &Tenant) -> Value {
    json!({"id": tenant.id, "name": tenant.name, "created_at": tenant.created_at})
}

/// A tenant API key without the key itself: `{id, tenant_id, key_prefix, created_at}`.
pub(crate) fn api_key(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "tenant_id": key.tenant,
        "key_prefix": key.key_prefix,
        "created_at": key.created_at,
    })
}

/// An event type with `builtin` telling catalog types from operator-defined ones.
pub(crate) fn event_type(def: &EventTypeDef, builtin: bool) -> Value {
    json!({
        "name": def.name,
        "description": def.description,
        "schema": def.schema,
        "sample": def.sample,
        "strict": def.strict,
        "builtin": builtin,
    })
}

/// An endpoint; `secret` (the current signing secret) only in single-endpoint answers.
pub(crate) fn endpoint(endpoint: &Endpoint, with_secret: bool) -> Value {
    let mut view = json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    });
    if with_secret {
        let current = endpoint
            .secrets
            .first()
            .map(|secret| secret.secret.as_str());
        if let Value::Object(map) = &mut view {
            map.insert("secret".into(), json!(current));
        }
    }
    view
}

/// A delivery: one event to one endpoint.
pub(crate) fn delivery(delivery: &Delivery) -> Value {
    json!({
        "id": delivery.id,
        "event_id": delivery.event_id,
        "endpoint_id": delivery.endpoint_id,
        "event_type": delivery.event_type,
        "status": delivery.status.as_str(),
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "test": delivery.test,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
    })
}

/// One logged attempt with its request, response, error and what happens next.
pub(crate) fn attempt(attempt: &Attempt, request_body: &[u8]) -> Value {
    let mut request = Map::new();
    request.insert("headers".into(), headers(&attempt.request.headers));
    insert_body(&mut request, request_body);
    let response = attempt
        .response
        .as_ref()
        .map(|record| response(record, attempt.status_code));
    let error = attempt
        .error
        .as_ref()
        .map(|error| json!({"kind": error.kind.as_str(), "message": error.message}));
    json!({
        "id": attempt.id,
        "delivery_id": attempt.delivery_id,
        "event_id": attempt.event_id,
        "endpoint_id": attempt.endpoint_id,
        "attempt": attempt.attempt,
        "started_at": attempt.started_at,
        "duration_ms": attempt.duration_ms,
        "url": attempt.url,
        "status_code": attempt.status_code,
        "request": request,
        "response": response,
        "error": error,
        "next": next(attempt.next),
        "test": attempt.test,
    })
}

fn response(record: &HttpRecord, status: Option<u16>) -> Value {
    let mut view = Map::new();
    view.insert("status".into(), json!(status));
    view.insert("headers".into(), headers(&record.headers));
    insert_body(&mut view, &record.body);
    view.insert("truncated".into(), json!(record.truncated));
    view.insert("size".into(), json!(record.size));
    Value::Object(view)
}

fn next(action: NextAction) -> Value {
    match action {
        NextAction::Done => json!({"action": "done"}),
        NextAction::Retry(at) => json!({"action": "retry", "at": at}),
        NextAction::GiveUp => json!({"action": "give_up"}),
    }
}

/// Headers as an object; a name that occurs several times has its values joined with
/// `, ` (RFC 9110 5.3), so no value is lost.
fn headers(list: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (name, value) in list {
        match map.get_mut(name) {
            Some(Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            _ => {
                map.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    Value::Object(map)
}

/// `body` + `body_encoding`: UTF-8 text as is, anything else as base64 plus a lossy
/// `body_text` for people (DESIGN section 4).
fn insert_body(view: &mut Map<String, Value>, body: &[u8]) {
    match std::str::from_utf8(body) {
        Ok(text) => {
            view.insert("body".into(), json!(text));
            view.insert("body_encoding".into(), json!("text"));
        }
        Err(_) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(body);
            view.insert("body".into(), json!(encoded));
            view.insert("body_encoding".into(), json!("base64"));
            view.insert("body_text".into(), json!(String::from_utf8_lossy(body)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &[u8], expect: Value) {
        let mut view = Map::new();
        insert_body(&mut view, body);
        assert_eq!(Value::Object(view), expect);
    }

    #[test]
    fn text_bodies_stay_text() {
        check(
            b"try later",
            json!({"body": "try later", "body_encoding": "text"}),
        );
        check(
            "✓".as_bytes(),
            json!({"body": "✓", "body_encoding": "text"}),
        );
    }

    #[test]
    fn binary_bodies_are_base64_with_a_lossy_view() {
        check(
            b"ok\xff",
            json!({"body": "b2v/", "body_encoding": "base64", "body_text": "ok\u{fffd}"}),
        );
    }

    #[test]
    fn repeated_headers_are_joined() {
        let list = [
            ("set-cookie".to_owned(), "a=1".to_owned()),
            ("x".to_owned(), "y".to_owned()),
            ("set-cookie".to_owned(), "b=2".to_owned()),
        ];
        assert_eq!(headers(&list), json!({"set-cookie": "a=1, b=2", "x": "y"}));
    }
}
