//! Admin routes: tenants and their API keys.
//!
//! A tenant key is shown once, in the answer that creates it; only its SHA-256 hash and
//! a short prefix (to tell keys apart in lists) are stored.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use herald_event::{validate_client_id, ApiKey, ApiKeyId, Tenant, TenantId};
use herald_store::StoreErrorKind;
use http::StatusCode;
use serde_json::json;

use crate::extract::{Admin, AdminTenant, Body, ItemId, QueryParams};
use crate::fields::Fields;
use crate::views::{self, json_response, ListView};
use crate::{generate_key, hash_key, now, ApiError, ApiState};

/// Prefix of tenant API keys.
const KEY_PREFIX: &str = "hk_";
/// How many leading characters of a key are kept to tell keys apart.
const KEY_PREFIX_CHARS: usize = 7;
/// Longest tenant name.
const MAX_NAME_CHARS: usize = 200;

/// `POST /v1/tenants` `{id?, name}` → 201 `{id, name, created_at}`; 409 if the id exists.
pub(crate) async fn create(
    State(state): State<ApiState>,
    _admin: Admin,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut fields = Fields::parse(&body, &["id", "name"])?;
    let id = fields.optional_string("id", 128)?;
    let name = fields.required_string("name", MAX_NAME_CHARS)?;
    if name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    let now = now();
    let id = match id {
        Some(id) => {
            validate_client_id(&id).map_err(|error| ApiError::invalid("id", error.to_string()))?;
            TenantId::new(id)
        }
        None => TenantId::generate(now),
    };
    let tenant = Tenant {
        id,
        name,
        created_at: now,
    };
    match state.store().create_tenant(&tenant).await {
        Ok(()) => json_response(StatusCode::CREATED, &views::tenant(&tenant)),
        Err(error) if error.kind() == StoreErrorKind::Conflict => Err(ApiError::Conflict(format!(
            "tenant {} already exists",
            tenant.id
        ))),
        Err(error) => Err(error.into()),
    }
}

/// `GET /v1/tenants?limit=&cursor=`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    _admin: Admin,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let page = query.page()?;
    query.finish()?;
    let page = state.store().list_tenants(&page).await?;
    let data = page.items.iter().map(views::tenant).collect();
    json_response(
        StatusCode::OK,
        &ListView {
            data,
            next_cursor: page.next_cursor,
        },
    )
}

/// `POST /v1/tenants/{tenant_id}/keys` (empty body or `{}`) → 201
/// `{id, key, key_prefix, tenant_id, created_at}`; the key is never shown again.
pub(crate) async fn create_key(
    State(state): State<ApiState>,
    AdminTenant(tenant): AdminTenant,
    Body(body): Body,
) -> Result<Response, ApiError> {
    Fields::parse(&body, &[])?;
    let now = now();
    let key = generate_key(KEY_PREFIX);
    let api_key = ApiKey {
        id: ApiKeyId::generate(now),
        tenant,
        key_hash: hash_key(&key),
        key_prefix: key.chars().take(KEY_PREFIX_CHARS).collect(),
        created_at: now,
    };
    state.store().create_api_key(&api_key).await?;
    let view = json!({
        "id": api_key.id,
        "key": key,
        "key_prefix": api_key.key_prefix,
        "tenant_id": api_key.tenant,
        "created_at": api_key.created_at,
    });
    json_response(StatusCode::CREATED, &view)
}

/// `GET /v1/tenants/{tenant_id}/keys`: every key of the tenant (never the keys themselves).
pub(crate) async fn list_keys(
    State(state): State<ApiState>,
    AdminTenant(tenant): AdminTenant,
    query: QueryParams,
) -> Result<Response, ApiError> {
    // Not paginated: a tenant has few keys. Any parameter is refused, so a client
    // expecting filters learns it at once instead of getting everything.
    query.finish()?;
    let keys = state.store().list_api_keys(&tenant).await?;
    let data = keys.iter().map(views::api_key).collect();
    json_response(
        StatusCode::OK,
        &ListView {
            data,
            next_cursor: None,
        },
    )
}

/// `DELETE /v1/tenants/{tenant_id}/keys/{id}` → 204; the key stops working at once.
pub(crate) async fn delete_key(
    State(state): State<ApiState>,
    AdminTenant(tenant): AdminTenant,
    ItemId(id): ItemId,
) -> Result<Response, ApiError> {
    if state.store().delete_api_key(&tenant, &id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound("api key"))
    }
}
