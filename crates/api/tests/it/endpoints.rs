//! Endpoint CRUD and validation.

use herald_event::{EndpointId, TenantId};
use herald_store::Store;
use serde_json::{json, Value};

use crate::support::Api;

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn creates_reads_changes_and_deletes_endpoints() {
    let api = Api::new();
    api.tenant("acme").await;
    let body = json!({
        "url": "https://hooks.example.com/in",
        "description": "CRM sync",
        "event_types": ["email.sent", "email.*", "email.sent"],
    });
    let reply = api
        .admin("POST", "/v1/tenants/acme/endpoints", Some(body))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created = reply.json();
    assert_eq!(
        keys(&created),
        [
            "created_at",
            "description",
            "disabled_reason",
            "enabled",
            "event_types",
            "id",
            "secret",
            "updated_at",
            "url"
        ]
    );
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("ep_") && id.len() == 25, "{id}");
    assert_eq!(created["url"], "https://hooks.example.com/in");
    assert_eq!(created["description"], "CRM sync");
    assert_eq!(created["event_types"], json!(["email.sent", "email.*"]));
    assert_eq!(
        (
            created["enabled"].clone(),
            created["disabled_reason"].clone()
        ),
        (json!(true), Value::Null)
    );
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && herald_signing::Secret::parse(secret).is_ok(),
        "{secret}"
    );
    assert_eq!(created["created_at"], created["updated_at"]);

    let path = format!("/v1/tenants/acme/endpoints/{id}");
    let reply = api.admin("GET", &path, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), created);

    let listed = api.list("/v1/tenants/acme/endpoints").await;
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].get("secret").is_none(),
        "lists omit secrets: {}",
        listed[0]
    );
    assert_eq!(listed[0]["id"], id);

    let change =
        json!({"enabled": false, "description": "paused", "url": "https://hooks.example.com/v2"});
    let reply = api.admin("PATCH", &path, Some(change)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let changed = reply.json();
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["description"], "paused");
    assert_eq!(changed["url"], "https://hooks.example.com/v2");
    assert_eq!(changed["event_types"], json!(["email.sent", "email.*"]));
    assert_eq!(changed["secret"], secret);
    let reply = api
        .admin("PATCH", &path, Some(json!({"event_types": ["*"]})))
        .await;
    assert_eq!(reply.json()["event_types"], json!(["*"]));
    assert_eq!(reply.json()["enabled"], false);

    let reply = api.admin("DELETE", &path, None).await;
    assert_eq!((reply.status, reply.body.len()), (204, 0));
    api.admin("GET", &path, None).await.problem(404);
    api.admin("DELETE", &path, None).await.problem(404);
    api.admin("PATCH", &path, Some(json!({"enabled": true})))
        .await
        .problem(404);
    assert!(api.list("/v1/tenants/acme/endpoints").await.is_empty());
}

#[tokio::test]
async fn enabling_clears_the_disabled_reason() {
    let api = Api::new();
    api.tenant("acme").await;
    let created = api.endpoint("acme", &["*"], true).await;
    let tenant = TenantId::new("acme");
    let id = EndpointId::new(created["id"].as_str().unwrap());
    let mut endpoint = api.store.get_endpoint(&tenant, &id).await.unwrap().unwrap();
    endpoint.enabled = false;
    endpoint.disabled_reason = Some("the receiver answered 410 Gone".into());
    api.store.put_endpoint(&endpoint).await.unwrap();

    let path = format!("/v1/tenants/acme/endpoints/{id}");
    let reply = api.admin("GET", &path, None).await;
    assert_eq!(
        reply.json()["disabled_reason"],
        "the receiver answered 410 Gone"
    );
    let reply = api
        .admin("PATCH", &path, Some(json!({"enabled": true})))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        (
            reply.json()["enabled"].clone(),
            reply.json()["disabled_reason"].clone()
        ),
        (json!(true), Value::Null)
    );
}

/// Posts an endpoint body and expects a 422 naming `field`.
async fn refused(api: &Api, body: Value, field: &str) {
    let reply = api
        .admin("POST", "/v1/tenants/acme/endpoints", Some(body.clone()))
        .await;
    assert_eq!(reply.problem(422), [field], "{body}");
}

#[tokio::test]
async fn refuses_invalid_endpoints_and_stores_nothing() {
    let api = Api::new();
    api.tenant("acme").await;
    let types = json!(["email.sent"]);
    refused(&api, json!({"event_types": types}), "url").await;
    refused(&api, json!({"url": 5, "event_types": types}), "url").await;
    refused(
        &api,
        json!({"url": "not a url", "event_types": types}),
        "url",
    )
    .await;
    refused(
        &api,
        json!({"url": "ftp://hooks.example.com/in", "event_types": types}),
        "url",
    )
    .await;
    let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
    refused(&api, json!({"url": long, "event_types": types}), "url").await;
    let url = "https://hooks.example.com/in";
    refused(&api, json!({"url": url}), "event_types").await;
    refused(&api, json!({"url": url, "event_types": []}), "event_types").await;
    refused(
        &api,
        json!({"url": url, "event_types": "email.sent"}),
        "event_types",
    )
    .await;
    refused(
        &api,
        json!({"url": url, "event_types": ["email.sent", "Email.Sent"]}),
        "event_types[1]",
    )
    .await;
    refused(
        &api,
        json!({"url": url, "event_types": ["email.sent", 5]}),
        "event_types[1]",
    )
    .await;
    refused(
        &api,
        json!({"url": url, "event_types": ["email.*.x"]}),
        "event_types[0]",
    )
    .await;
    refused(
        &api,
        json!({"url": url, "event_types": ["email.sentt"]}),
        "event_types[0]",
    )
    .await;
    refused(
        &api,
        json!({"url": url, "event_types": types, "enabled": "yes"}),
        "enabled",
    )
    .await;
    refused(
        &api,
        json!({"url": url, "event_types": types, "description": 1}),
        "description",
    )
    .await;
    refused(
        &api,
        json!({"url": url, "event_types": types, "secret": "whsec_x"}),
        "secret",
    )
    .await;
    assert!(api.list("/v1/tenants/acme/endpoints").await.is_empty());
}

#[tokio::test]
async fn credentials_in_the_url_are_refused_with_the_checks_message() {
    // Field case 19: refuse `https://user:p%40ss@hooks.example.com/in` with 422.
    let api = Api::new();
    api.tenant("acme").await;
    let body = json!({"url": "https://user:p%40ss@hooks.example.com/in", "event_types": ["*"]});
    let reply = api
        .admin("POST", "/v1/tenants/acme/endpoints", Some(body))
        .await;
    reply.invalid("url");
    let problem = reply.json();
    assert_eq!(
        problem["errors"][0]["message"],
        "must not contain credentials"
    );
    assert!(
        !reply.text().contains("p%40ss"),
        "the password is not echoed: {}",
        reply.text()
    );
    assert!(api.list("/v1/tenants/acme/endpoints").await.is_empty());

    let created = api.endpoint("acme", &["*"], true).await;
    let path = format!(
        "/v1/tenants/acme/endpoints/{}",
        created["id"].as_str().unwrap()
    );
    let change = json!({"url": "https://user:pw@hooks.example.com/in"});
    api.admin("PATCH", &path, Some(change)).await.invalid("url");
    assert_eq!(
        api.admin("GET", &path, None).await.json()["url"],
        "https://hooks.example.com/in"
    );
}

#[tokio::test]
async fn operator_defined_types_can_be_subscribed_to() {
    let api = Api::new();
    api.tenant("acme").await;
    let event_type = json!({"name": "meeting.booked", "description": "A meeting was booked."});
    assert_eq!(
        api.admin("POST", "/v1/event-types", Some(event_type))
            .await
            .status,
        201
    );
    let created = api.endpoint("acme", &["meeting.booked"], true).await;
    assert_eq!(created["event_types"], json!(["meeting.booked"]));
}
