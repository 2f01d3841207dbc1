//! Authentication and authorization: 401 for no or unknown keys, 404 for what a tenant
//! key may not see, 403 for admin-only routes.

use serde_json::json;

use crate::support::{Api, ADMIN};

#[tokio::test]
async fn missing_or_unknown_keys_are_401() {
    let api = Api::new();
    api.tenant("acme").await;
    let reply = api
        .send("GET", "/v1/tenants/acme/events", None, None, &[])
        .await;
    assert!(reply.problem(401).is_empty());
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    api.call("hk_unknown", "GET", "/v1/tenants/acme/events", None)
        .await
        .problem(401);
    let basic = [("authorization", "Basic YWRtaW46YWRtaW4=")];
    api.send("GET", "/v1/tenants", None, None, &basic)
        .await
        .problem(401);
    let empty = [("authorization", "Bearer ")];
    api.send("GET", "/v1/tenants", None, None, &empty)
        .await
        .problem(401);
    // Authentication comes before everything else: unknown tenants and bad bodies alike.
    api.send("GET", "/v1/tenants/nosuch/endpoints", None, None, &[])
        .await
        .problem(401);
    let garbage = Some(b"{not json".to_vec());
    api.send("POST", "/v1/tenants/acme/events", None, garbage, &[])
        .await
        .problem(401);
    // The scheme is case-insensitive.
    let lower = format!("bearer {ADMIN}");
    let reply = api
        .send(
            "GET",
            "/v1/tenants",
            None,
            None,
            &[("authorization", &lower)],
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn tenant_keys_see_only_their_tenant() {
    let api = Api::new();
    api.tenant("acme").await;
    api.tenant("globex").await;
    let acme_key = api.tenant_key("acme").await;
    let endpoint = api.endpoint("globex", &["*"], true).await;
    let globex_endpoint = format!(
        "/v1/tenants/globex/endpoints/{}",
        endpoint["id"].as_str().unwrap()
    );

    let reply = api
        .call(&acme_key, "GET", "/v1/tenants/acme/endpoints", None)
        .await;
    assert_eq!(reply.status, 200);
    let event = json!({"type": "email.sent", "data": {}});
    assert_eq!(
        api.call(
            &acme_key,
            "POST",
            "/v1/tenants/acme/events",
            Some(event.clone())
        )
        .await
        .status,
        202
    );

    // Another tenant, existing or not, is indistinguishable: 404.
    api.call(&acme_key, "GET", "/v1/tenants/globex/endpoints", None)
        .await
        .problem(404);
    api.call(&acme_key, "GET", &globex_endpoint, None)
        .await
        .problem(404);
    api.call(&acme_key, "POST", "/v1/tenants/globex/events", Some(event))
        .await
        .problem(404);
    api.call(&acme_key, "GET", "/v1/tenants/nosuch/events", None)
        .await
        .problem(404);
    assert!(api.list("/v1/tenants/globex/events").await.is_empty());
}

#[tokio::test]
async fn tenant_keys_on_admin_routes_are_403() {
    let api = Api::new();
    api.tenant("acme").await;
    let key = api.tenant_key("acme").await;
    api.call(&key, "GET", "/v1/tenants", None)
        .await
        .problem(403);
    api.call(&key, "POST", "/v1/tenants", Some(json!({"name": "x"})))
        .await
        .problem(403);
    api.call(&key, "POST", "/v1/tenants/acme/keys", None)
        .await
        .problem(403);
    api.call(&key, "GET", "/v1/tenants/acme/keys", None)
        .await
        .problem(403);
    let event_type = json!({"name": "meeting.booked", "description": "x"});
    api.call(&key, "POST", "/v1/event-types", Some(event_type))
        .await
        .problem(403);
    // Reading the catalog is for every key.
    let reply = api.call(&key, "GET", "/v1/event-types", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(api.list("/v1/tenants").await.len(), 1);
}

#[tokio::test]
async fn admin_key_on_unknown_tenant_is_404() {
    let api = Api::new();
    for path in [
        "/v1/tenants/nosuch/endpoints",
        "/v1/tenants/nosuch/events",
        "/v1/tenants/nosuch/deliveries",
    ] {
        let reply = api.admin("GET", path, None).await;
        reply.problem(404);
        assert_eq!(reply.json()["detail"], "tenant not found");
    }
}

#[tokio::test]
async fn health_and_metrics_need_no_key() {
    let api = Api::new();
    let reply = api.send("GET", "/healthz", None, None, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ok", "due_lag_seconds": 0}));
    assert_eq!(
        api.send("GET", "/metrics", None, None, &[]).await.status,
        200
    );
}
