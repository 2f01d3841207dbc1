//! The route table: every listed route is served, unknown paths are 404 and wrong
//! methods 405, both as problems.

use herald_api::ROUTES;
use serde_json::json;

use crate::support::{strings, Api};

#[tokio::test]
async fn every_listed_route_is_served() {
    let api = Api::new();
    assert_eq!(ROUTES.len(), 25);
    for (method, template) in ROUTES {
        let path = template
            .replace("{tenant_id}", "acme")
            .replace("{id}", "x1");
        let reply = api.send(method, &path, None, None, &[]).await;
        let expect = if path.starts_with("/v1/") { 401 } else { 200 };
        assert_eq!(reply.status, expect, "{method} {path}: {}", reply.text());
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let api = Api::new();
    for path in [
        "/",
        "/v2/tenants",
        "/v1/tenants/acme/unknown",
        "/v1/tenants/",
        "/healthz/x",
    ] {
        let reply = api.admin("GET", path, None).await;
        assert!(reply.problem(404).is_empty(), "{path}");
        assert_eq!(reply.json()["detail"], "no route matches this path");
    }
    let reply = api.admin("PUT", "/v1/tenants", None).await;
    reply.problem(405);
    assert_eq!(reply.header("allow"), Some("POST,GET,HEAD"));
    let reply = api
        .admin("POST", "/v1/tenants/acme/endpoints/ep_1", None)
        .await;
    reply.problem(405);
    let allow = reply.header("allow").unwrap();
    for method in ["GET", "PATCH", "DELETE"] {
        assert!(allow.contains(method), "{allow}");
    }
    api.send("DELETE", "/healthz", None, None, &[])
        .await
        .problem(405);
}

#[tokio::test]
async fn query_parameters_on_routes_that_read_none_are_refused_before_anything_happens() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let reply = api
        .admin(
            "POST",
            "/v1/tenants/acme/events?dry_run=true",
            Some(json!({"type": "email.sent", "data": {}})),
        )
        .await;
    reply.invalid("dry_run");
    let reply = api
        .admin(
            "POST",
            "/v1/tenants/acme/events/batch?id=evt_1",
            Some(json!({"events": [{"type": "email.sent", "data": {}}]})),
        )
        .await;
    reply.invalid("id");
    assert!(api.list("/v1/tenants/acme/events").await.is_empty());
    assert!(api.list("/v1/tenants/acme/deliveries").await.is_empty());

    let reply = api
        .admin(
            "POST",
            "/v1/tenants?x=1",
            Some(json!({"id": "beta", "name": "B"})),
        )
        .await;
    reply.invalid("x");
    assert_eq!(strings(&api.list("/v1/tenants").await, "id"), ["acme"]);
    api.admin("GET", "/v1/tenants/acme/events/evt_1?x=1", None)
        .await
        .invalid("x");
    // Lists read their own parameters; probes ignore a query.
    assert_eq!(
        api.admin("GET", "/v1/tenants/acme/events?limit=5", None)
            .await
            .status,
        200
    );
    assert_eq!(api.admin("GET", "/healthz?_=123", None).await.status, 200);
}
