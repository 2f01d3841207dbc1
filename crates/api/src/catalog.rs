//! The event-type catalog routes: any key reads it, the admin key adds types.
//!
//! The nine built-in types come from `herald-event` and are never stored; operators add
//! new names through `POST /v1/event-types`. Names are add-only in v1: a built-in or an
//! already added name is a 409, so the meaning of a type cannot change under the
//! endpoints that subscribed to it.

use axum::extract::State;
use axum::response::Response;
use herald_event::{validate_event_type_name, EventTypeDef};
use http::StatusCode;
use serde_json::json;

use crate::extract::{Admin, Body, Caller, QueryParams};
use crate::fields::Fields;
use crate::views::{self, json_response, ListView};
use crate::{ApiError, ApiState};

/// Longest description of an event type.
const MAX_DESCRIPTION_CHARS: usize = 1000;

/// `GET /v1/event-types`: built-ins in catalog order, then operator-defined types by name.
pub(crate) async fn list(
    State(state): State<ApiState>,
    _caller: Caller,
    query: QueryParams,
) -> Result<Response, ApiError> {
    // Not paginated (the catalog is small); any parameter is refused.
    query.finish()?;
    let mut data: Vec<serde_json::Value> = state
        .builtins()
        .iter()
        .map(|def| views::event_type(def, true))
        .collect();
    let mut custom = state.store().list_event_types().await?;
    custom.sort_by(|left, right| left.name.cmp(&right.name));
    data.extend(custom.iter().map(|def| views::event_type(def, false)));
    json_response(
        StatusCode::OK,
        &ListView {
            data,
            next_cursor: None,
        },
    )
}

/// The deepest nesting of objects and arrays a schema or sample may have. Stored types
/// are read back with serde_json's recursion limit (128), so the API keeps well below
/// it: a type that could be written but not read would break the whole catalog.
const MAX_NESTING: usize = 32;

/// How deeply `value` nests objects and arrays (a scalar is 0, `{}` is 1).
fn nesting_depth(value: &serde_json::Value) -> usize {
    // Iterative, so a hostile document cannot overflow the stack here either.
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Vec<&serde_json::Value> = match value {
            serde_json::Value::Array(items) => items.iter().collect(),
            serde_json::Value::Object(map) => map.values().collect(),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.into_iter().map(|child| (child, depth + 1)));
    }
    deepest
}

/// `POST /v1/event-types` `{name, description, schema?, sample?, strict?}` → 201.
///
/// `schema` defaults to `{"type": "object"}` and `sample` to `{}`. With `strict`, ingest
/// refuses `data` that lacks a top-level field the schema's `required` lists.
pub(crate) async fn create(
    State(state): State<ApiState>,
    _admin: Admin,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(
        &body,
        &["name", "description", "schema", "sample", "strict"],
    )?;
    let name = fields.required_string("name", 128)?;
    validate_event_type_name(&name)
        .map_err(|error| ApiError::invalid("name", error.to_string()))?;
    let description = fields.required_string("description", MAX_DESCRIPTION_CHARS)?;
    let schema = fields
        .optional_object("schema")?
        .unwrap_or_else(|| json!({"type": "object"}));
    if let Some(required) = schema.get("required") {
        let all_strings = required
            .as_array()
            .is_some_and(|names| names.iter().all(serde_json::Value::is_string));
        if !all_strings {
            return Err(ApiError::invalid(
                "schema.required",
                "must be an array of strings",
            ));
        }
    }
    let sample = fields
        .optional_object("sample")?
        .unwrap_or_else(|| json!({}));
    for (field, value) in [("schema", &schema), ("sample", &sample)] {
        if nesting_depth(value) > MAX_NESTING {
            return Err(ApiError::invalid(
                field,
                format!("nests deeper than {MAX_NESTING} levels"),
            ));
        }
    }
    // Test mode sends the sample as `data`: it must fit the payload limit like any.
    let limit = state.config().max_payload_bytes;
    if serde_json::to_vec(&sample).map_or(usize::MAX, |bytes| bytes.len()) > limit {
        return Err(ApiError::invalid(
            "sample",
            format!("must be at most {limit} bytes as JSON, the payload limit"),
        ));
    }
    let strict = fields.optional_bool("strict")?.unwrap_or(false);
    if state.event_type(&name).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "event type {name} already exists"
        )));
    }
    let def = EventTypeDef {
        name,
        description,
        schema,
        sample,
        strict,
    };
    state.store().put_event_type(&def).await?;
    json_response(StatusCode::CREATED, &views::event_type(&def, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_nesting() {
        assert_eq!(nesting_depth(&json!(1)), 0);
        assert_eq!(nesting_depth(&json!({})), 1);
        assert_eq!(nesting_depth(&json!({"a": [1, {"b": []}]})), 4);
    }
}
