//! Tenants and tenant API keys (admin routes).

use serde_json::json;

use crate::support::{strings, Api};

#[tokio::test]
async fn creates_and_lists_tenants() {
    let api = Api::new();
    let reply = api
        .admin(
            "POST",
            "/v1/tenants",
            Some(json!({"id": "acme", "name": "Acme Outreach"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let acme = reply.json();
    assert_eq!(acme["id"], "acme");
    assert_eq!(acme["name"], "Acme Outreach");
    let created_at = acme["created_at"].as_str().unwrap();
    assert!(
        herald_event::Timestamp::parse_rfc3339(created_at).is_ok(),
        "{created_at}"
    );
    assert_eq!(acme.as_object().unwrap().len(), 3);

    let reply = api
        .admin("POST", "/v1/tenants", Some(json!({"name": "Generated"})))
        .await;
    assert_eq!(reply.status, 201);
    let generated = reply.json()["id"].as_str().unwrap().to_owned();
    assert!(
        generated.starts_with("ten_") && generated.len() == 26,
        "{generated}"
    );

    let mut ids = strings(&api.list("/v1/tenants").await, "id");
    ids.sort();
    assert_eq!(ids, ["acme".to_owned(), generated]);
}

#[tokio::test]
async fn refuses_duplicate_and_invalid_tenants() {
    let api = Api::new();
    api.tenant("acme").await;
    let reply = api
        .admin(
            "POST",
            "/v1/tenants",
            Some(json!({"id": "acme", "name": "Again"})),
        )
        .await;
    assert!(reply.problem(409).is_empty());
    assert_eq!(reply.json()["type"], "https://herald.dev/problems/conflict");

    api.admin(
        "POST",
        "/v1/tenants",
        Some(json!({"id": "a b", "name": "x"})),
    )
    .await
    .invalid("id");
    api.admin("POST", "/v1/tenants", Some(json!({"id": "x"})))
        .await
        .invalid("name");
    api.admin("POST", "/v1/tenants", Some(json!({"name": "   "})))
        .await
        .invalid("name");
    api.admin(
        "POST",
        "/v1/tenants",
        Some(json!({"name": "n".repeat(201)})),
    )
    .await
    .invalid("name");
    api.admin("POST", "/v1/tenants", Some(json!({"name": 7})))
        .await
        .invalid("name");
    api.admin(
        "POST",
        "/v1/tenants",
        Some(json!({"name": "x", "plan": "pro"})),
    )
    .await
    .invalid("plan");
    assert_eq!(api.list("/v1/tenants").await.len(), 1);
}

#[tokio::test]
async fn issues_lists_and_revokes_tenant_keys() {
    let api = Api::new();
    api.tenant("acme").await;
    let reply = api.admin("POST", "/v1/tenants/acme/keys", None).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created = reply.json();
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("hk_") && key.len() == 35, "{key}");
    assert_eq!(created["key_prefix"], key[..7]);
    assert_eq!(created["tenant_id"], "acme");
    assert!(created["id"].as_str().unwrap().starts_with("key_"));

    // The key works for its tenant, and is never shown again.
    let reply = api
        .call(key, "GET", "/v1/tenants/acme/endpoints", None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let listed = api.list("/v1/tenants/acme/keys").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], created["id"]);
    assert_eq!(listed[0]["key_prefix"], key[..7]);
    assert!(listed[0].get("key").is_none(), "{}", listed[0]);

    let path = format!("/v1/tenants/acme/keys/{}", created["id"].as_str().unwrap());
    let reply = api.admin("DELETE", &path, None).await;
    assert_eq!((reply.status, reply.body.len()), (204, 0));
    api.call(key, "GET", "/v1/tenants/acme/endpoints", None)
        .await
        .problem(401);
    api.admin("DELETE", &path, None).await.problem(404);
    assert!(api.list("/v1/tenants/acme/keys").await.is_empty());
}

#[tokio::test]
async fn keys_need_an_existing_tenant_and_an_empty_body() {
    let api = Api::new();
    api.admin("POST", "/v1/tenants/nosuch/keys", None)
        .await
        .problem(404);
    api.admin("GET", "/v1/tenants/nosuch/keys", None)
        .await
        .problem(404);
    api.tenant("acme").await;
    api.admin("POST", "/v1/tenants/acme/keys", Some(json!({"name": "ci"})))
        .await
        .invalid("name");
    let reply = api
        .admin("POST", "/v1/tenants/acme/keys", Some(json!({})))
        .await;
    assert_eq!(reply.status, 201);
}

#[tokio::test]
async fn names_with_control_characters_are_refused() {
    let api = Api::new();
    for name in ["a\u{0}b", "line\nbreak", "bell\u{7}"] {
        api.admin(
            "POST",
            "/v1/tenants",
            Some(json!({"id": "acme", "name": name})),
        )
        .await
        .invalid("name");
    }
    assert!(api.list("/v1/tenants").await.is_empty());
}
