//! Ingest: the 202 answer, fan-out by subscription, exact bytes, idempotency and the
//! 400/422 split for bad input (nothing is stored for a refused request).

use herald_event::{EventId, TenantId};
use herald_store::Store;
use serde_json::{json, Value};

use crate::support::{strings, Api};

#[tokio::test]
async fn answers_202_with_id_type_timestamp_and_delivery_count() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["email.replied"], true).await;
    let body = json!({
        "type": "email.replied",
        "id": "evt_client_1",
        "timestamp": "2026-12-03T16:04:05.123+01:00",
        "data": {"email_id": "eml_456"},
    });
    let reply = api
        .admin("POST", "/v1/tenants/acme/events", Some(body))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("idempotent-replayed"), None);
    assert_eq!(
        reply.json(),
        json!({"id": "evt_client_1", "type": "email.replied", "timestamp": "2026-12-03T15:04:05.123Z", "deliveries": 1})
    );
    assert!(
        api.woken().await,
        "the delivery engine is woken after ingest"
    );

    let generated = api.ingest("acme", "email.sent", json!({})).await;
    let id = generated["id"].as_str().unwrap();
    assert!(id.starts_with("evt_") && id.len() == 26, "{id}");
    assert_eq!(generated["deliveries"], 0);
    assert!(
        herald_event::Timestamp::parse_rfc3339(generated["timestamp"].as_str().unwrap()).is_ok()
    );
}

/// Ingests `event_type` and checks it fanned out to exactly the `expect` endpoints.
async fn check_fan_out(api: &Api, event_type: &str, expect: &[&Value]) {
    let accepted = api.ingest("acme", event_type, json!({})).await;
    assert_eq!(accepted["deliveries"], expect.len(), "{event_type}");
    let path = format!(
        "/v1/tenants/acme/deliveries?event_id={}",
        accepted["id"].as_str().unwrap()
    );
    let mut got = strings(&api.list(&path).await, "endpoint_id");
    got.sort();
    let mut want: Vec<String> = expect
        .iter()
        .map(|endpoint| endpoint["id"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    assert_eq!(got, want, "{event_type}");
}

#[tokio::test]
async fn fans_out_by_exact_prefix_and_wildcard_subscriptions() {
    let api = Api::new();
    api.tenant("acme").await;
    let exact = api.endpoint("acme", &["email.sent"], true).await;
    let prefix = api.endpoint("acme", &["email.*"], true).await;
    let all = api.endpoint("acme", &["*"], true).await;
    let replies = api
        .endpoint("acme", &["reply.categorized", "email.bounced"], true)
        .await;

    check_fan_out(&api, "email.sent", &[&exact, &prefix, &all]).await;
    check_fan_out(&api, "email.opened", &[&prefix, &all]).await;
    check_fan_out(&api, "email.bounced", &[&prefix, &all, &replies]).await;
    check_fan_out(&api, "reply.categorized", &[&all, &replies]).await;
    check_fan_out(&api, "campaign.completed", &[&all]).await;
}

#[tokio::test]
async fn events_without_subscribers_are_stored_with_no_deliveries() {
    // Field case 29.
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["recipient.added"], true).await;
    let accepted = api
        .ingest(
            "acme",
            "campaign.completed",
            json!({"campaign_id": "cmp_1"}),
        )
        .await;
    assert_eq!(accepted["deliveries"], 0);
    assert!(!api.woken().await, "nothing to deliver, nothing to wake");
    let path = format!(
        "/v1/tenants/acme/events/{}",
        accepted["id"].as_str().unwrap()
    );
    assert_eq!(api.admin("GET", &path, None).await.status, 200);
    let second = api
        .ingest("acme", "recipient.added", json!({"campaign_id": "cmp_1"}))
        .await;
    assert_eq!(second["deliveries"], 1);
}

#[tokio::test]
async fn disabled_endpoints_get_skipped_deliveries() {
    let api = Api::new();
    api.tenant("acme").await;
    let enabled = api.endpoint("acme", &["email.sent"], true).await;
    let disabled = api.endpoint("acme", &["email.sent"], false).await;
    let accepted = api.ingest("acme", "email.sent", json!({})).await;
    assert_eq!(accepted["deliveries"], 2);
    let path = format!(
        "/v1/tenants/acme/deliveries?event_id={}",
        accepted["id"].as_str().unwrap()
    );
    let deliveries = api.list(&path).await;
    let of = |endpoint: &Value| {
        deliveries
            .iter()
            .find(|d| d["endpoint_id"] == endpoint["id"])
            .unwrap()
            .clone()
    };
    let (pending, skipped) = (of(&enabled), of(&disabled));
    assert_eq!(pending["status"], "pending");
    assert!(pending["next_attempt_at"].is_string());
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(skipped["next_attempt_at"], Value::Null);
    assert_eq!(
        (skipped["attempts"].clone(), skipped["test"].clone()),
        (json!(0), json!(false))
    );
}

#[tokio::test]
async fn data_is_kept_byte_for_byte() {
    // Field case 1: the client's `{"b":2, "a":1}` (one space after the comma).
    let api = Api::new();
    api.tenant("acme").await;
    let body = br#"{"type":"email.sent","id":"evt_bytes","timestamp":"2026-12-03T15:04:05.123Z","data":{"b":2, "a":1}}"#;
    let reply = api.admin_raw("POST", "/v1/tenants/acme/events", body).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let envelope = r#"{"id":"evt_bytes","type":"email.sent","timestamp":"2026-12-03T15:04:05.123Z","data":{"b":2, "a":1}}"#;

    let stored = api
        .store
        .get_event(&TenantId::new("acme"), &EventId::new("evt_bytes"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8(stored.payload).unwrap(), envelope);

    let reply = api
        .admin("GET", "/v1/tenants/acme/events/evt_bytes", None)
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.text().contains(&format!(r#""payload":{envelope}"#)),
        "{}",
        reply.text()
    );
    let event = reply.json();
    assert_eq!(event["type"], "email.sent");
    assert_eq!(event["test"], false);
    assert_eq!(event["timestamp"], "2026-12-03T15:04:05.123Z");
    assert!(event["received_at"].is_string());

    let listed = api.admin("GET", "/v1/tenants/acme/events", None).await;
    assert!(
        listed.text().contains(&format!(r#""payload":{envelope}"#)),
        "{}",
        listed.text()
    );
}

#[tokio::test]
async fn a_repeated_id_returns_the_first_result_and_creates_nothing() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["email.*"], true).await;
    let first = json!({"type": "email.sent", "id": "evt_once", "data": {"n": 1}});
    let reply = api
        .admin("POST", "/v1/tenants/acme/events", Some(first))
        .await;
    assert_eq!(reply.status, 202);
    let answer = reply.json();

    api.endpoint("acme", &["*"], true).await;
    let again = json!({"type": "email.opened", "id": "evt_once", "data": {"n": 2}});
    let reply = api
        .admin("POST", "/v1/tenants/acme/events", Some(again))
        .await;
    assert_eq!(reply.status, 202);
    assert_eq!(reply.header("idempotent-replayed"), Some("true"));
    assert_eq!(reply.json(), answer);
    assert_eq!(answer["deliveries"], 1);

    assert_eq!(api.list("/v1/tenants/acme/events").await.len(), 1);
    assert_eq!(api.list("/v1/tenants/acme/deliveries").await.len(), 1);
}

#[tokio::test]
async fn idempotency_keys_derive_a_stable_event_id() {
    let api = Api::new();
    api.tenant("acme").await;
    api.tenant("globex").await;
    let body = json!({"type": "email.sent", "data": {}})
        .to_string()
        .into_bytes();
    let header = [("idempotency-key", "order-1")];
    let first = api
        .send(
            "POST",
            "/v1/tenants/acme/events",
            Some(crate::support::ADMIN),
            Some(body.clone()),
            &header,
        )
        .await;
    assert_eq!(first.status, 202);
    // python3: "evt_" + hashlib.sha256(b"acme\0order-1").hexdigest()[:22]
    assert_eq!(first.json()["id"], "evt_af5f4f1841e88ebcae5020");
    let second = api
        .send(
            "POST",
            "/v1/tenants/acme/events",
            Some(crate::support::ADMIN),
            Some(body.clone()),
            &header,
        )
        .await;
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.json(), first.json());
    assert_eq!(api.list("/v1/tenants/acme/events").await.len(), 1);

    let other = api
        .send(
            "POST",
            "/v1/tenants/globex/events",
            Some(crate::support::ADMIN),
            Some(body.clone()),
            &header,
        )
        .await;
    assert_ne!(other.json()["id"], first.json()["id"]);
    let bad = [("idempotency-key", "")];
    api.send(
        "POST",
        "/v1/tenants/acme/events",
        Some(crate::support::ADMIN),
        Some(body),
        &bad,
    )
    .await
    .invalid("Idempotency-Key");
}

#[tokio::test]
async fn bad_input_is_400_or_422_naming_the_field_and_stores_nothing() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let post = |body: &'static [u8]| api.admin_raw("POST", "/v1/tenants/acme/events", body);

    let reply = post(br#"{"type": "email.sent", "data": "#).await;
    assert!(reply.problem(400).is_empty());
    assert_eq!(
        reply.json()["type"],
        "https://herald.dev/problems/malformed-request"
    );
    post(b"type=email.sent").await.problem(400);
    post(br#"{"type":"email.sent","data":{}} {}"#)
        .await
        .problem(400);

    post(br#"{"data": {}}"#).await.invalid("type");
    post(br#"{"type": 5, "data": {}}"#).await.invalid("type");
    post(br#"{"type": null, "data": {}}"#).await.invalid("type");
    let unknown = post(br#"{"type": "email.nonsense", "data": {}}"#).await;
    unknown.invalid("type");
    assert_eq!(
        unknown.json()["errors"][0]["message"],
        "email.nonsense is not in the event-type catalog"
    );
    post(br#"{"type": "email.sent"}"#).await.invalid("data");
    post(br#"{"type": "email.sent", "data": null}"#)
        .await
        .invalid("data");
    post(br#"{"type": "email.sent", "data": [1]}"#)
        .await
        .invalid("data");
    post(br#"{"type": "email.sent", "data": "text"}"#)
        .await
        .invalid("data");
    post(br#"{"type": "email.sent", "data": {}, "id": "a b"}"#)
        .await
        .invalid("id");
    post(br#"{"type": "email.sent", "data": {}, "id": 7}"#)
        .await
        .invalid("id");
    post(br#"{"type": "email.sent", "data": {}, "timestamp": "yesterday"}"#)
        .await
        .invalid("timestamp");
    post(br#"{"type": "email.sent", "data": {}, "extra": 1}"#)
        .await
        .invalid("extra");
    post(br#"{"type": "email.sent", "type": "email.opened", "data": {}}"#)
        .await
        .invalid("type");
    post(b"[]").await.invalid("body");
    post(b"").await.invalid("type");

    assert!(api.list("/v1/tenants/acme/events").await.is_empty());
    assert!(api.list("/v1/tenants/acme/deliveries").await.is_empty());
    assert!(!api.woken().await);
}

#[tokio::test]
async fn strict_types_require_their_schemas_top_level_fields() {
    let api = Api::new();
    api.tenant("acme").await;
    let definition = json!({
        "name": "meeting.booked",
        "description": "A prospect booked a meeting.",
        "schema": {"type": "object", "required": ["meeting_id", "starts_at"]},
        "sample": {"meeting_id": "mtg_1", "starts_at": "2026-12-08T10:00:00Z"},
        "strict": true,
    });
    let reply = api
        .admin("POST", "/v1/event-types", Some(definition.clone()))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created = reply.json();
    assert_eq!(
        (created["strict"].clone(), created["builtin"].clone()),
        (json!(true), json!(false))
    );

    let missing = json!({"type": "meeting.booked", "data": {"meeting_id": "mtg_1"}});
    api.admin("POST", "/v1/tenants/acme/events", Some(missing))
        .await
        .invalid("data.starts_at");
    let both_missing = json!({"type": "meeting.booked", "data": {}});
    let reply = api
        .admin("POST", "/v1/tenants/acme/events", Some(both_missing))
        .await;
    assert_eq!(reply.problem(422), ["data.meeting_id", "data.starts_at"]);
    api.ingest(
        "acme",
        "meeting.booked",
        json!({"meeting_id": "m", "starts_at": "t", "more": 1}),
    )
    .await;

    // Built-in types are not strict: data is not checked against their schemas.
    api.ingest("acme", "email.sent", json!({"unexpected": true}))
        .await;
}

#[tokio::test]
async fn the_catalog_lists_builtins_and_is_add_only() {
    let api = Api::new();
    let catalog = api.list("/v1/event-types").await;
    assert_eq!(catalog.len(), 9);
    assert_eq!(catalog[0]["name"], "email.sent");
    assert_eq!(catalog[0]["builtin"], true);
    assert!(catalog[0]["schema"]["required"].is_array() && catalog[0]["sample"].is_object());

    let builtin = json!({"name": "email.sent", "description": "mine"});
    api.admin("POST", "/v1/event-types", Some(builtin))
        .await
        .problem(409);
    let custom = json!({"name": "meeting.booked", "description": "A meeting was booked."});
    let reply = api
        .admin("POST", "/v1/event-types", Some(custom.clone()))
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.json(),
        json!({"name": "meeting.booked", "description": "A meeting was booked.", "schema": {"type": "object"},
               "sample": {}, "strict": false, "builtin": false})
    );
    api.admin("POST", "/v1/event-types", Some(custom))
        .await
        .problem(409);
    api.admin(
        "POST",
        "/v1/event-types",
        Some(json!({"name": "Meeting", "description": "x"})),
    )
    .await
    .invalid("name");
    api.admin("POST", "/v1/event-types", Some(json!({"name": "a.b"})))
        .await
        .invalid("description");
    api.admin(
        "POST",
        "/v1/event-types",
        Some(json!({"name": "a.b", "description": "x", "schema": []})),
    )
    .await
    .invalid("schema");
    let bad_required = json!({"name": "a.b", "description": "x", "schema": {"required": "id"}});
    api.admin("POST", "/v1/event-types", Some(bad_required))
        .await
        .invalid("schema.required");
    let catalog = api.list("/v1/event-types").await;
    assert_eq!(catalog.len(), 10);
    assert_eq!(catalog[9]["name"], "meeting.booked");
}

#[tokio::test]
async fn deeply_nested_schemas_are_refused_so_the_catalog_stays_readable() {
    let api = Api::new();
    let depth = 126;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let body = format!(
        r#"{{"name":"poison.x","description":"x","schema":{{"type":"object","x":{nested}}}}}"#
    );
    let reply = api
        .admin_raw("POST", "/v1/event-types", body.as_bytes())
        .await;
    assert_eq!(reply.problem(422), ["schema"]);
    let body = format!(r#"{{"name":"poison.y","description":"x","sample":{{"x":{nested}}}}}"#);
    let reply = api
        .admin_raw("POST", "/v1/event-types", body.as_bytes())
        .await;
    assert_eq!(reply.problem(422), ["sample"]);
    let reply = api.admin("GET", "/v1/event-types", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["data"].as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn data_that_breaks_common_receivers_is_refused_and_nothing_is_stored() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    for data in [
        format!(r#"{{"a":{deep}}}"#),
        r#"{"a":"\ud800"}"#.to_owned(),
        r#"{"a":1e999999}"#.to_owned(),
    ] {
        let body = format!(r#"{{"type":"email.sent","data":{data}}}"#);
        let reply = api
            .admin_raw("POST", "/v1/tenants/acme/events", body.as_bytes())
            .await;
        reply.invalid("data");
        let batch = format!(r#"{{"events":[{{"type":"email.sent","data":{data}}}]}}"#);
        let reply = api
            .admin_raw("POST", "/v1/tenants/acme/events/batch", batch.as_bytes())
            .await;
        assert_eq!(reply.status, 207, "{}", reply.text());
        assert_eq!(
            reply.json()["results"][0]["error"]["errors"][0]["field"],
            "events[0].data"
        );
    }
    assert!(api.list("/v1/tenants/acme/events").await.is_empty());
}

#[tokio::test]
async fn an_event_type_sample_must_fit_the_payload_limit() {
    let api = Api::new();
    // Test mode sends the sample as `data`, so it is held to the same 256 KiB.
    let large = json!({
        "name": "crm.synced",
        "description": "a sample too large to send",
        "sample": {"blob": "x".repeat(300_000)},
    });
    api.admin("POST", "/v1/event-types", Some(large))
        .await
        .invalid("sample");
    let fits = json!({
        "name": "crm.synced",
        "description": "a sample that fits",
        "sample": {"blob": "x".repeat(200_000)},
    });
    assert_eq!(
        api.admin("POST", "/v1/event-types", Some(fits))
            .await
            .status,
        201
    );
}
