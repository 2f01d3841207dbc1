//! The route table and the router built from it.
//!
//! [`ROUTES`] is the single list of (method, path template) pairs the API serves: the
//! router is built by walking it, and a test checks it against the `paths` of
//! `docs/openapi.yaml`, so code and documentation cannot drift apart. Path parameters
//! are always `{tenant_id}` and `{id}`, which the extractors rely on.
//!
//! Around the routes: a 404 problem for unknown paths, a 405 problem (with `Allow`) for
//! known paths with another method, the request body limit, and the response counter
//! behind `herald_http_requests_total`.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Router;

use crate::extract::QueryParams;
use crate::{catalog, endpoints, events, health, logs, tenants, ApiError, ApiState};

/// Every route of the API as (HTTP method, path template), in documentation order.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenants"),
    ("POST", "/v1/tenants/{tenant_id}/keys"),
    ("GET", "/v1/tenants/{tenant_id}/keys"),
    ("DELETE", "/v1/tenants/{tenant_id}/keys/{id}"),
    ("GET", "/v1/event-types"),
    ("POST", "/v1/event-types"),
    ("POST", "/v1/tenants/{tenant_id}/events"),
    ("POST", "/v1/tenants/{tenant_id}/events/batch"),
    ("GET", "/v1/tenants/{tenant_id}/events"),
    ("GET", "/v1/tenants/{tenant_id}/events/{id}"),
    ("POST", "/v1/tenants/{tenant_id}/events/{id}/replay"),
    ("POST", "/v1/tenants/{tenant_id}/endpoints"),
    ("GET", "/v1/tenants/{tenant_id}/endpoints"),
    ("GET", "/v1/tenants/{tenant_id}/endpoints/{id}"),
    ("PATCH", "/v1/tenants/{tenant_id}/endpoints/{id}"),
    ("DELETE", "/v1/tenants/{tenant_id}/endpoints/{id}"),
    (
        "POST",
        "/v1/tenants/{tenant_id}/endpoints/{id}/rotate-secret",
    ),
    ("POST", "/v1/tenants/{tenant_id}/endpoints/{id}/test"),
    ("POST", "/v1/tenants/{tenant_id}/endpoints/{id}/recover"),
    ("GET", "/v1/tenants/{tenant_id}/deliveries"),
    ("GET", "/v1/tenants/{tenant_id}/deliveries/{id}"),
    ("GET", "/v1/tenants/{tenant_id}/attempts"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
];

/// The handler of one entry of [`ROUTES`].
fn handler_for(method: &str, path: &str) -> Option<MethodRouter<ApiState>> {
    let handler = match (method, path) {
        ("POST", "/v1/tenants") => post(tenants::create),
        ("GET", "/v1/tenants") => get(tenants::list),
        ("POST", "/v1/tenants/{tenant_id}/keys") => post(tenants::create_key),
        ("GET", "/v1/tenants/{tenant_id}/keys") => get(tenants::list_keys),
        ("DELETE", "/v1/tenants/{tenant_id}/keys/{id}") => delete(tenants::delete_key),
        ("GET", "/v1/event-types") => get(catalog::list),
        ("POST", "/v1/event-types") => post(catalog::create),
        ("POST", "/v1/tenants/{tenant_id}/events") => post(events::ingest),
        ("POST", "/v1/tenants/{tenant_id}/events/batch") => post(events::ingest_batch),
        ("GET", "/v1/tenants/{tenant_id}/events") => get(events::list),
        ("GET", "/v1/tenants/{tenant_id}/events/{id}") => get(events::get),
        ("POST", "/v1/tenants/{tenant_id}/events/{id}/replay") => post(events::replay),
        ("POST", "/v1/tenants/{tenant_id}/endpoints") => post(endpoints::create),
        ("GET", "/v1/tenants/{tenant_id}/endpoints") => get(endpoints::list),
        ("GET", "/v1/tenants/{tenant_id}/endpoints/{id}") => get(endpoints::get),
        ("PATCH", "/v1/tenants/{tenant_id}/endpoints/{id}") => patch(endpoints::update),
        ("DELETE", "/v1/tenants/{tenant_id}/endpoints/{id}") => delete(endpoints::delete),
        ("POST", "/v1/tenants/{tenant_id}/endpoints/{id}/rotate-secret") => {
            post(endpoints::rotate_secret)
        }
        ("POST", "/v1/tenants/{tenant_id}/endpoints/{id}/test") => post(endpoints::test),
        ("POST", "/v1/tenants/{tenant_id}/endpoints/{id}/recover") => post(endpoints::recover),
        ("GET", "/v1/tenants/{tenant_id}/deliveries") => get(logs::list_deliveries),
        ("GET", "/v1/tenants/{tenant_id}/deliveries/{id}") => get(logs::get_delivery),
        ("GET", "/v1/tenants/{tenant_id}/attempts") => get(logs::list_attempts),
        ("GET", "/healthz") => get(health::healthz),
        ("GET", "/metrics") => get(health::metrics),
        _ => return None,
    };
    if query_allowed(method, path) {
        Some(handler)
    } else {
        Some(handler.route_layer(from_fn(refuse_query)))
    }
}

/// Whether a route may be called with a query: the lists (`GET` of a collection), which
/// refuse parameters they do not know themselves, and the health and metrics probes,
/// which ignore a query (monitors add cache busters).
fn query_allowed(method: &str, path: &str) -> bool {
    method == "GET" && !path.ends_with("/{id}")
}

/// A 422 naming the first query parameter of a request to a route that reads none: a
/// client's `?dry_run=true` or `?id=...` must not turn silently into a real write.
async fn refuse_query(request: Request, next: Next) -> Result<Response, ApiError> {
    QueryParams::from_uri(request.uri())?.finish()?;
    Ok(next.run(request).await)
}

/// The API router over `state`: every route of [`ROUTES`], problem answers for unknown
/// paths and methods, the body limit and the response counter.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for (method, path) in ROUTES {
        match handler_for(method, path) {
            Some(handler) => router = router.route(path, handler),
            // Unreachable while `handler_for` covers `ROUTES`, which a test checks.
            None => tracing::error!(method, path, "route has no handler"),
        }
    }
    let body_limit = state.config().max_body_bytes;
    router
        // Must come after the routes: it applies to the routes registered so far.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(from_fn_with_state(state.clone(), count_responses))
        .with_state(state)
}

async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Counts every response by status class for `/metrics`.
async fn count_responses(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    state.metrics().count_response(response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// (method, path) pairs under `paths:` in an OpenAPI YAML text: a path is a key
    /// indented by two spaces, an operation a key indented by four spaces below it.
    fn openapi_operations(yaml: &str) -> BTreeSet<(String, String)> {
        const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
        let mut operations = BTreeSet::new();
        let mut in_paths = false;
        let mut current_path: Option<String> = None;
        for line in yaml.lines() {
            if !line.starts_with(' ') && !line.trim().is_empty() {
                in_paths = line.trim_end() == "paths:";
                current_path = None;
                continue;
            }
            if !in_paths {
                continue;
            }
            if let Some(key) = line
                .strip_prefix("  ")
                .and_then(|rest| rest.strip_suffix(':'))
            {
                if !key.starts_with(' ') {
                    current_path = Some(key.trim_matches(|c| c == '"' || c == '\'').to_owned());
                    continue;
                }
            }
            if let (Some(path), Some(key)) = (&current_path, line.strip_prefix("    ")) {
                let key = key.trim_end().strip_suffix(':').unwrap_or("");
                if METHODS.contains(&key) {
                    operations.insert((key.to_uppercase(), path.clone()));
                }
            }
        }
        operations
    }

    #[test]
    fn every_route_has_a_handler() {
        for (method, path) in ROUTES {
            assert!(handler_for(method, path).is_some(), "{method} {path}");
        }
        let unique: BTreeSet<_> = ROUTES.iter().collect();
        assert_eq!(unique.len(), ROUTES.len(), "a route is listed twice");
    }

    #[test]
    fn openapi_documents_exactly_the_routes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
        let yaml = std::fs::read_to_string(path).expect("docs/openapi.yaml is readable");
        let documented = openapi_operations(&yaml);
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let not_served: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.yaml: {undocumented:?}"
        );
        assert!(
            not_served.is_empty(),
            "openapi.yaml documents routes not served: {not_served:?}"
        );
    }

    #[test]
    fn parses_openapi_paths() {
        let yaml = "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      summary: x\n    post:\n      \
                    responses: {}\n  \"/b/{id}\":\n    parameters: []\n    delete:\n      x: y\n\
                    components:\n  schemas:\n    get:\n      type: object\n";
        let expect: BTreeSet<(String, String)> =
            [("GET", "/a"), ("POST", "/a"), ("DELETE", "/b/{id}")]
                .iter()
                .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
                .collect();
        assert_eq!(openapi_operations(yaml), expect);
    }
}
