//! Endpoints: create, read, change, delete, rotate the secret, test mode and recovery.
//!
//! URLs are checked by the application's `UrlCheck` (scheme, credentials, blocked
//! destinations live in `herald-transport`) plus a length limit here. Subscriptions are
//! exact catalog types, `prefix.*` or `*`; an exact name must be in the catalog, so a
//! typo is refused instead of silently receiving nothing.

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use herald_event::{
    build_envelope, validate_subscription, Endpoint, EndpointId, EndpointSecret, Event, EventId,
    TenantId, Timestamp,
};
use herald_signing::Secret;
use http::StatusCode;
use serde_json::json;

use crate::events::pending_delivery;
use crate::extract::{Body, ItemId, QueryParams, TenantScope};
use crate::fields::Fields;
use crate::views::{self, json_response, ListView};
use crate::{now, ApiError, ApiState};

/// Longest endpoint URL.
const MAX_URL_CHARS: usize = 2048;
/// Longest endpoint description.
const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Most subscription patterns per endpoint.
const MAX_EVENT_TYPES: usize = 100;
/// Longest grace period a rotation accepts (30 days).
const MAX_GRACE_SECONDS: u64 = 30 * 24 * 3600;

/// Checks a URL: length here, everything else by the application's `UrlCheck`.
fn check_url(state: &ApiState, url: &str) -> Result<(), ApiError> {
    if url.chars().count() > MAX_URL_CHARS {
        let message = format!("must be at most {MAX_URL_CHARS} characters");
        return Err(ApiError::invalid("url", message));
    }
    (state.config().url_check)(url).map_err(|message| ApiError::invalid("url", message))
}

/// Checks subscription patterns and removes repeats, keeping the first occurrence.
async fn check_event_types(
    state: &ApiState,
    patterns: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    if patterns.is_empty() {
        return Err(ApiError::invalid(
            "event_types",
            "must list at least one event type",
        ));
    }
    if patterns.len() > MAX_EVENT_TYPES {
        let message = format!("must list at most {MAX_EVENT_TYPES} event types");
        return Err(ApiError::invalid("event_types", message));
    }
    let mut custom_names: Option<Vec<String>> = None;
    let mut unique: Vec<String> = Vec::with_capacity(patterns.len());
    for (index, pattern) in patterns.into_iter().enumerate() {
        let field = || format!("event_types[{index}]");
        validate_subscription(&pattern)
            .map_err(|error| ApiError::invalid(field(), error.to_string()))?;
        let exact = !pattern.ends_with('*');
        if exact && !state.is_builtin(&pattern) {
            if custom_names.is_none() {
                let custom = state.store().list_event_types().await?;
                custom_names = Some(custom.into_iter().map(|def| def.name).collect());
            }
            let known = custom_names.iter().flatten().any(|name| *name == pattern);
            if !known {
                return Err(ApiError::unknown_event_type(field(), &pattern));
            }
        }
        if !unique.contains(&pattern) {
            unique.push(pattern);
        }
    }
    Ok(unique)
}

/// Reads an endpoint of the tenant or answers 404.
async fn load(state: &ApiState, tenant: &TenantId, id: String) -> Result<Endpoint, ApiError> {
    let endpoint = state
        .store()
        .get_endpoint(tenant, &EndpointId::new(id))
        .await?;
    endpoint.ok_or(ApiError::NotFound("endpoint"))
}

/// `POST /v1/tenants/{tenant_id}/endpoints` `{url, description?, event_types, enabled?}`
/// → 201 with the endpoint and its signing `secret`.
pub(crate) async fn create(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(&body, &["url", "description", "event_types", "enabled"])?;
    let url = fields.required_string("url", MAX_URL_CHARS)?;
    check_url(&state, &url)?;
    let description = fields.optional_string("description", MAX_DESCRIPTION_CHARS)?;
    let patterns = fields
        .optional_string_list("event_types")?
        .ok_or_else(|| ApiError::invalid("event_types", "is required"))?;
    let event_types = check_event_types(&state, patterns).await?;
    let enabled = fields.optional_bool("enabled")?.unwrap_or(true);
    let now = now();
    let secret = EndpointSecret {
        secret: Secret::generate().as_str().to_owned(),
        created_at: now,
        expires_at: None,
    };
    let endpoint = Endpoint {
        id: EndpointId::generate(now),
        tenant,
        url,
        description: description.unwrap_or_default(),
        event_types,
        enabled,
        disabled_reason: None,
        secrets: vec![secret],
        created_at: now,
        updated_at: now,
    };
    state.store().put_endpoint(&endpoint).await?;
    json_response(StatusCode::CREATED, &views::endpoint(&endpoint, true))
}

/// `GET /v1/tenants/{tenant_id}/endpoints?limit=&cursor=` (without secrets).
pub(crate) async fn list(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let page = query.page()?;
    query.finish()?;
    let page = state.store().list_endpoints(&tenant, &page).await?;
    let data = page
        .items
        .iter()
        .map(|endpoint| views::endpoint(endpoint, false))
        .collect();
    json_response(
        StatusCode::OK,
        &ListView {
            data,
            next_cursor: page.next_cursor,
        },
    )
}

/// `GET /v1/tenants/{tenant_id}/endpoints/{id}`, with the current `secret`.
pub(crate) async fn get(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
) -> Result<Response, ApiError> {
    let endpoint = load(&state, &tenant, id).await?;
    json_response(StatusCode::OK, &views::endpoint(&endpoint, true))
}

/// `PATCH /v1/tenants/{tenant_id}/endpoints/{id}` with any of
/// `{url, description, event_types, enabled}`; enabling clears `disabled_reason`.
pub(crate) async fn update(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(&body, &["url", "description", "event_types", "enabled"])?;
    let url = fields.optional_string("url", MAX_URL_CHARS)?;
    if let Some(url) = &url {
        check_url(&state, url)?;
    }
    let description = fields.optional_string("description", MAX_DESCRIPTION_CHARS)?;
    let event_types = match fields.optional_string_list("event_types")? {
        Some(patterns) => Some(check_event_types(&state, patterns).await?),
        None => None,
    };
    let enabled = fields.optional_bool("enabled")?;
    let mut endpoint = load(&state, &tenant, id).await?;
    if let Some(url) = url {
        endpoint.url = url;
    }
    if let Some(description) = description {
        endpoint.description = description;
    }
    if let Some(event_types) = event_types {
        endpoint.event_types = event_types;
    }
    if let Some(enabled) = enabled {
        endpoint.enabled = enabled;
        if enabled {
            endpoint.disabled_reason = None;
        }
    }
    endpoint.updated_at = now();
    state.store().put_endpoint(&endpoint).await?;
    json_response(StatusCode::OK, &views::endpoint(&endpoint, true))
}

/// `DELETE /v1/tenants/{tenant_id}/endpoints/{id}` → 204; pending deliveries are cancelled.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
) -> Result<Response, ApiError> {
    if state
        .store()
        .delete_endpoint(&tenant, &EndpointId::new(id), now())
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound("endpoint"))
    }
}

/// `POST /v1/tenants/{tenant_id}/endpoints/{id}/rotate-secret` `{grace_seconds?}` → 200
/// `{secret, previous_expires_at}`.
///
/// The new secret is current at once; the previous current one keeps signing until
/// `now + grace` (default `ApiConfig::default_grace`; 0 revokes it now). Secrets already
/// rotated out keep their own expiry; expired ones are dropped.
pub(crate) async fn rotate_secret(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(&body, &["grace_seconds"])?;
    let grace = match fields.optional_u64("grace_seconds")? {
        Some(seconds) if seconds > MAX_GRACE_SECONDS => {
            let message = format!("must be at most {MAX_GRACE_SECONDS} (30 days)");
            return Err(ApiError::invalid("grace_seconds", message));
        }
        Some(seconds) => Duration::from_secs(seconds),
        None => state.config().default_grace,
    };
    let mut endpoint = load(&state, &tenant, id).await?;
    let now = now();
    let (secrets, previous_expires_at) = rotate(&endpoint.secrets, grace, now);
    let current = secrets.first().map(|secret| secret.secret.clone());
    endpoint.secrets = secrets;
    endpoint.updated_at = now;
    state.store().put_endpoint(&endpoint).await?;
    let view = json!({"secret": current, "previous_expires_at": previous_expires_at});
    json_response(StatusCode::OK, &view)
}

/// The secrets after a rotation at `now` (a new current one first) and when the
/// previous current one expires (`None` when the grace is zero and it was dropped).
fn rotate(
    secrets: &[EndpointSecret],
    grace: Duration,
    now: Timestamp,
) -> (Vec<EndpointSecret>, Option<Timestamp>) {
    let fresh = EndpointSecret {
        secret: Secret::generate().as_str().to_owned(),
        created_at: now,
        expires_at: None,
    };
    let previous_expires_at = (!grace.is_zero()).then(|| now.plus(grace));
    let mut rotated = vec![fresh];
    for secret in secrets {
        // A secret without expiry was current until now.
        let expires_at = secret.expires_at.or(previous_expires_at);
        if expires_at.is_some_and(|expiry| expiry > now) {
            rotated.push(EndpointSecret {
                expires_at,
                ..secret.clone()
            });
        }
    }
    (rotated, previous_expires_at)
}

/// `POST /v1/tenants/{tenant_id}/endpoints/{id}/test` `{event_type}` → 202
/// `{event_id, delivery_id}`.
///
/// Sends the catalog's sample `data` for the type as a test event (marked `test`), to
/// this endpoint only, whatever it subscribes to and whether or not it is enabled.
pub(crate) async fn test(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(&body, &["event_type"])?;
    let event_type = fields.required_string("event_type", 128)?;
    let endpoint = load(&state, &tenant, id).await?;
    let Some(def) = state.event_type(&event_type).await? else {
        return Err(ApiError::unknown_event_type("event_type", &event_type));
    };
    let data = serde_json::to_string(&def.sample)
        .map_err(|_| ApiError::Internal("serialize sample payload"))?;
    let now = now();
    let event_id = EventId::generate(now);
    let payload = build_envelope(&event_id, &event_type, now, &data);
    let delivery = pending_delivery(&tenant, &event_id, &event_type, &endpoint.id, true, now);
    let event = Event {
        id: event_id,
        tenant,
        event_type,
        timestamp: now,
        received_at: now,
        payload,
        test: true,
    };
    state
        .store()
        .insert_event(&event, std::slice::from_ref(&delivery))
        .await?;
    state.wake_delivery();
    json_response(
        StatusCode::ACCEPTED,
        &json!({"event_id": event.id, "delivery_id": delivery.id}),
    )
}

/// `POST /v1/tenants/{tenant_id}/endpoints/{id}/recover` `{since}` → 202 `{recovered}`:
/// the endpoint's failed and skipped deliveries created since then are due again now.
pub(crate) async fn recover(
    State(state): State<ApiState>,
    TenantScope(tenant): TenantScope,
    ItemId(id): ItemId,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(&body, &["since"])?;
    let since = fields.required_string("since", 64)?;
    let since = Timestamp::parse_rfc3339(&since)
        .map_err(|error| ApiError::invalid("since", error.to_string()))?;
    let endpoint = load(&state, &tenant, id).await?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict(format!(
            "endpoint {} is disabled; enable it before recovering its deliveries",
            endpoint.id
        )));
    }
    let recovered = state
        .store()
        .recover_deliveries(&tenant, &endpoint.id, since, now())
        .await?;
    if recovered > 0 {
        state.wake_delivery();
    }
    json_response(StatusCode::ACCEPTED, &json!({"recovered": recovered}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_796_310_245_000);

    fn secret(name: &str, expires_at: Option<u64>) -> EndpointSecret {
        EndpointSecret {
            secret: name.to_owned(),
            created_at: Timestamp::EPOCH,
            expires_at: expires_at.map(Timestamp::from_millis),
        }
    }

    /// Rotates `before` with `grace_secs` at `NOW`; compares the old secrets kept (by
    /// name and expiry) and the previous secret's expiry.
    #[track_caller]
    fn check(
        before: &[EndpointSecret],
        grace_secs: u64,
        kept: &[(&str, Option<u64>)],
        expiry: Option<u64>,
    ) {
        let (after, previous_expires_at) = rotate(before, Duration::from_secs(grace_secs), NOW);
        assert!(after[0].secret.starts_with("whsec_"));
        assert_eq!(after[0].expires_at, None);
        let kept_now: Vec<(&str, Option<u64>)> = after[1..]
            .iter()
            .map(|secret| {
                (
                    secret.secret.as_str(),
                    secret.expires_at.map(Timestamp::as_millis),
                )
            })
            .collect();
        assert_eq!(kept_now, kept);
        assert_eq!(previous_expires_at.map(Timestamp::as_millis), expiry);
    }

    #[test]
    fn previous_secret_gets_the_grace_period() {
        let in_one_hour = NOW.as_millis() + 3_600_000;
        check(
            &[secret("a", None)],
            3600,
            &[("a", Some(in_one_hour))],
            Some(in_one_hour),
        );
    }

    #[test]
    fn zero_grace_drops_the_previous_secret() {
        check(&[secret("a", None)], 0, &[], None);
    }

    #[test]
    fn older_secrets_keep_their_expiry_until_it_passes() {
        let later = NOW.as_millis() + 10_000;
        let past = NOW.as_millis() - 1;
        let before = [
            secret("b", None),
            secret("a", Some(later)),
            secret("z", Some(past)),
        ];
        check(
            &before,
            60,
            &[("b", Some(NOW.as_millis() + 60_000)), ("a", Some(later))],
            Some(NOW.as_millis() + 60_000),
        );
    }
}
