//! Request extractors: who is calling, which tenant and item, the query and the body.
//!
//! Authentication and authorization happen here, before a handler runs, in this order:
//! a missing or unknown key is 401; a tenant key on an admin-only route is 403; a
//! tenant key on another tenant's routes, or any key on an unknown tenant, is 404 (so a
//! tenant key cannot probe which tenants exist). Handlers list extractors in that order
//! and the body last, so an unauthorized request is refused before its body is read.
//!
//! Path parameters are `tenant_id` and `id` in every route template (see `routes`).

use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use bytes::Bytes;
use herald_event::TenantId;
use herald_store::PageRequest;
use http::request::Parts;

use crate::{hash_key, ApiError, ApiState};

/// Who a valid key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// The admin key: every route, every tenant.
    Admin,
    /// A tenant key: only that tenant's routes.
    Tenant(TenantId),
}

/// Any valid key (admin or tenant).
#[derive(Debug)]
pub(crate) struct Caller;

/// The admin key.
#[derive(Debug)]
pub(crate) struct Admin;

/// A tenant-scoped route called by the admin key or by that tenant's key, for a tenant
/// that exists.
#[derive(Debug)]
pub(crate) struct TenantScope(pub(crate) TenantId);

/// An admin-only route under an existing tenant (its API keys).
#[derive(Debug)]
pub(crate) struct AdminTenant(pub(crate) TenantId);

/// The `{id}` path parameter (an endpoint, event, delivery or key id).
#[derive(Debug)]
pub(crate) struct ItemId(pub(crate) String);

/// The raw request body, read up to `ApiConfig::max_body_bytes`.
#[derive(Debug)]
pub(crate) struct Body(pub(crate) Bytes);

/// Decoded query parameters; handlers take the ones they know, then call `finish`.
#[derive(Debug)]
pub(crate) struct QueryParams(Vec<(String, String)>);

/// Resolves the bearer key of a request.
async fn access(parts: &Parts, state: &ApiState) -> Result<Access, ApiError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized)?;
    let value = header.to_str().map_err(|_| ApiError::Unauthorized)?;
    let (scheme, key) = value.trim().split_once(' ').ok_or(ApiError::Unauthorized)?;
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(ApiError::Unauthorized);
    }
    let key_hash = hash_key(key);
    if constant_time_eq(key_hash.as_bytes(), state.admin_key_hash().as_bytes()) {
        return Ok(Access::Admin);
    }
    match state.store().find_api_key(&key_hash).await? {
        Some(api_key) => Ok(Access::Tenant(api_key.tenant)),
        None => Err(ApiError::Unauthorized),
    }
}

/// Compares two byte strings without an early exit on the first difference.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// The value of a named path parameter.
async fn path_param(parts: &mut Parts, name: &str) -> Result<String, ApiError> {
    // A parameter that is not valid UTF-8 once decoded cannot name anything stored.
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| ApiError::RouteNotFound)?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or(ApiError::RouteNotFound)
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        access(parts, state).await.map(|_| Caller)
    }
}

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        match access(parts, state).await? {
            Access::Admin => Ok(Admin),
            Access::Tenant(_) => Err(ApiError::Forbidden),
        }
    }
}

impl FromRequestParts<ApiState> for TenantScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let access = access(parts, state).await?;
        let tenant = TenantId::new(path_param(parts, "tenant_id").await?);
        match access {
            // Keys are only issued for existing tenants and tenants are never deleted,
            // so a tenant key on its own tenant needs no lookup (ingest stays cheap).
            Access::Tenant(own) if own == tenant => Ok(TenantScope(tenant)),
            Access::Tenant(_) => Err(ApiError::NotFound("tenant")),
            Access::Admin => match state.store().get_tenant(&tenant).await? {
                Some(_) => Ok(TenantScope(tenant)),
                None => Err(ApiError::NotFound("tenant")),
            },
        }
    }
}

impl FromRequestParts<ApiState> for AdminTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        Admin::from_request_parts(parts, state).await?;
        let tenant = TenantId::new(path_param(parts, "tenant_id").await?);
        match state.store().get_tenant(&tenant).await? {
            Some(_) => Ok(AdminTenant(tenant)),
            None => Err(ApiError::NotFound("tenant")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ItemId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        path_param(parts, "id").await.map(ItemId)
    }
}

/// How long a request body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl FromRequest<ApiState> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, ApiError> {
        let limit = state.config().max_body_bytes;
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            // Refused before reading: the answer does not wait for a body that will
            // not fit.
            return Err(ApiError::TooLarge {
                what: "request body",
                limit,
            });
        }
        // A client that trickles its body (slowloris) is cut off rather than holding a
        // connection and a task forever.
        let read = tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(request, state));
        let Ok(result) = read.await else {
            return Err(ApiError::BodyTimeout(BODY_TIMEOUT.as_secs()));
        };
        match result {
            Ok(bytes) => Ok(Body(bytes)),
            Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
                Err(ApiError::TooLarge {
                    what: "request body",
                    limit: state.config().max_body_bytes,
                })
            }
            Err(_) => Err(ApiError::UnreadableBody),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        QueryParams::from_uri(&parts.uri)
    }
}

impl QueryParams {
    /// The parameters of `uri`'s query, in order; 400 if the query is malformed,
    /// including a `%` not followed by two hex digits (which decoding would otherwise
    /// keep as it is, so `%zz` would be looked up literally).
    pub(crate) fn from_uri(uri: &http::Uri) -> Result<Self, ApiError> {
        let query = uri.query().unwrap_or_default().as_bytes();
        let escapes_ok = query
            .iter()
            .enumerate()
            .filter(|&(_, &byte)| byte == b'%')
            .all(|(at, _)| {
                query
                    .get(at + 1..at + 3)
                    .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
            });
        if !escapes_ok {
            return Err(ApiError::MalformedQuery);
        }
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|_| ApiError::MalformedQuery)?;
        Ok(QueryParams(pairs))
    }

    /// Removes and returns parameter `name`; given twice is a 422.
    pub(crate) fn take(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = Vec::new();
        self.0.retain(|(key, value)| {
            let matches = key == name;
            if matches {
                values.push(value.clone());
            }
            !matches
        });
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(ApiError::invalid(name, "must be given at most once")),
        }
    }

    /// Takes an id filter: 422 naming it unless it could be an id (1 to 128 characters
    /// of `[A-Za-z0-9_.-]`), so a malformed filter is not answered as an empty list.
    pub(crate) fn take_id(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let id = self.take(name)?;
        if let Some(id) = &id {
            herald_event::validate_client_id(id).map_err(|_| {
                ApiError::invalid(name, "must be an id: 1 to 128 of A-Z a-z 0-9 _ - .")
            })?;
        }
        Ok(id)
    }

    /// `limit` (1..=1000, default 50) and `cursor`.
    pub(crate) fn page(&mut self) -> Result<PageRequest, ApiError> {
        let limit = match self.take("limit")? {
            None => 50,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|limit| (1..=1000).contains(limit))
                .ok_or_else(|| ApiError::invalid("limit", "must be an integer from 1 to 1000"))?,
        };
        let cursor = self.take("cursor")?.filter(|cursor| !cursor.is_empty());
        Ok(PageRequest { limit, cursor })
    }

    /// Refuses parameters nobody took: a misspelt filter would otherwise silently
    /// return everything.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        match self.0.first() {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::invalid(
                name.clone(),
                "is not a known query parameter",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(left: &str, right: &str, expect_equal: bool) {
        assert_eq!(
            constant_time_eq(left.as_bytes(), right.as_bytes()),
            expect_equal
        );
    }

    #[test]
    fn compares_keys() {
        check("abc", "abc", true);
        check("abc", "abd", false);
        check("abc", "abcd", false);
        check("", "", true);
    }
}
