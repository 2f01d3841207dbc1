//! Test harness: the API router in memory over a temporary sled store.
//!
//! `Api::new()` builds what the application builds (standard config, a URL check that
//! mimics `herald-transport`'s scheme and credential rules) and sends requests through
//! `tower::ServiceExt::oneshot`, so no socket is involved. The store stays reachable for
//! checks of what was (or was not) written and to play the delivery engine's part.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::Router;
use herald_api::{hash_key, router, ApiConfig, ApiState};
use herald_event::Timestamp;
use herald_store::Store;
use herald_store_sled::{SledConfig, SledStore};
use http::{HeaderMap, Request};
use serde_json::Value;
use tokio::sync::Notify;
use tower::ServiceExt as _;

/// The admin key of every test API.
pub(crate) const ADMIN: &str = "adm_test_0123456789abcdef";

/// What the application's URL check refuses that matters here: non-HTTP schemes,
/// credentials in the authority and a missing host.
pub(crate) fn url_check(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "must be an http or https URL".to_owned())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("must not contain credentials".into());
    }
    if authority.is_empty() || authority.contains(' ') {
        return Err("must name a host".into());
    }
    Ok(())
}

/// The current time, as the API reads it.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// A router over a fresh store.
pub(crate) struct Api {
    pub(crate) store: Arc<SledStore>,
    pub(crate) work: Arc<Notify>,
    router: Router,
    _dir: tempfile::TempDir,
}

/// A response, buffered.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when empty or not JSON).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts a problem+json answer with `status` and returns its `errors[].field`s.
    #[track_caller]
    pub(crate) fn problem(&self, status: u16) -> Vec<String> {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let problem = self.json();
        assert_eq!(problem["status"], status, "{problem}");
        assert!(problem["type"]
            .as_str()
            .unwrap()
            .starts_with("https://herald.dev/problems/"));
        assert!(
            problem["title"].is_string() && problem["detail"].is_string(),
            "{problem}"
        );
        problem["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|error| error["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts a 422 naming exactly `field`.
    #[track_caller]
    pub(crate) fn invalid(&self, field: &str) {
        assert_eq!(self.problem(422), [field], "{}", self.text());
    }
}

impl Api {
    pub(crate) fn new() -> Api {
        Api::with_config(|_| {})
    }

    pub(crate) fn with_config(change: impl FnOnce(&mut ApiConfig)) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SledStore::open(&SledConfig::temporary(dir.path().join("db")), now()).unwrap(),
        );
        let mut config = ApiConfig::standard(Arc::new(url_check));
        change(&mut config);
        let work = Arc::new(Notify::new());
        let dyn_store: Arc<dyn Store> = store.clone();
        let state = ApiState::new(dyn_store, config, hash_key(ADMIN), Arc::clone(&work));
        Api {
            store,
            work,
            router: router(state),
            _dir: dir,
        }
    }

    /// The router, for serving it on a socket.
    pub(crate) fn router(&self) -> Router {
        self.router.clone()
    }

    /// Sends a request with raw body bytes and extra headers.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A JSON request with `key`.
    pub(crate) async fn call(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let body = body.map(|value| value.to_string().into_bytes());
        self.send(method, path, Some(key), body, &[]).await
    }

    /// A JSON request with the admin key.
    pub(crate) async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call(ADMIN, method, path, body).await
    }

    /// A request with the admin key and a raw body.
    pub(crate) async fn admin_raw(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        self.send(method, path, Some(ADMIN), Some(body.to_vec()), &[])
            .await
    }

    /// Creates tenant `id`.
    pub(crate) async fn tenant(&self, id: &str) {
        let reply = self
            .admin(
                "POST",
                "/v1/tenants",
                Some(serde_json::json!({"id": id, "name": id})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }

    /// Creates a tenant key and returns it.
    pub(crate) async fn tenant_key(&self, tenant: &str) -> String {
        let reply = self
            .admin("POST", &format!("/v1/tenants/{tenant}/keys"), None)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()["key"].as_str().unwrap().to_owned()
    }

    /// Creates an endpoint of `tenant` subscribed to `event_types`; returns its JSON.
    pub(crate) async fn endpoint(
        &self,
        tenant: &str,
        event_types: &[&str],
        enabled: bool,
    ) -> Value {
        let body = serde_json::json!({
            "url": "https://hooks.example.com/in",
            "event_types": event_types,
            "enabled": enabled,
        });
        let reply = self
            .admin(
                "POST",
                &format!("/v1/tenants/{tenant}/endpoints"),
                Some(body),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()
    }

    /// Ingests an event of `event_type` with `data`; returns the 202 body.
    pub(crate) async fn ingest(&self, tenant: &str, event_type: &str, data: Value) -> Value {
        let body = serde_json::json!({"type": event_type, "data": data});
        let reply = self
            .admin("POST", &format!("/v1/tenants/{tenant}/events"), Some(body))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text());
        reply.json()
    }

    /// The `data` of a list answer.
    pub(crate) async fn list(&self, path: &str) -> Vec<Value> {
        let reply = self.admin("GET", path, None).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["data"].as_array().unwrap().clone()
    }

    /// Whether the delivery engine was woken (consumes the wake-up).
    pub(crate) async fn woken(&self) -> bool {
        tokio::time::timeout(Duration::from_millis(50), self.work.notified())
            .await
            .is_ok()
    }
}

/// `value[field]` of each item, as strings.
pub(crate) fn strings(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| item[field].as_str().unwrap_or_default().to_owned())
        .collect()
}
