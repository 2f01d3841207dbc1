//! Secret rotation, test mode, recovery and replay.

use std::time::Duration;

use herald_event::{DeliveryStatus, EndpointId, TenantId, Timestamp};
use herald_store::Store;
use serde_json::{json, Value};

use crate::support::{now, strings, Api};

/// Plays the delivery engine: claims every due delivery and records it as `status`.
async fn finish_due(api: &Api, status: DeliveryStatus) -> usize {
    let claims = api
        .store
        .claim_due(now(), 100, Duration::from_secs(60))
        .await
        .unwrap();
    for claim in &claims {
        let mut delivery = claim.delivery.clone();
        delivery.status = status;
        delivery.attempts += 1;
        delivery.next_attempt_at = None;
        delivery.last_status_code = Some(500);
        api.store.record_attempt(&delivery, None).await.unwrap();
    }
    claims.len()
}

#[tokio::test]
async fn rotation_keeps_the_previous_secret_for_the_grace_period() {
    let api = Api::new();
    api.tenant("acme").await;
    let endpoint = api.endpoint("acme", &["*"], true).await;
    let first = endpoint["secret"].as_str().unwrap().to_owned();
    let id = endpoint["id"].as_str().unwrap();
    let path = format!("/v1/tenants/acme/endpoints/{id}/rotate-secret");
    let stored = || async {
        let endpoint = api
            .store
            .get_endpoint(&TenantId::new("acme"), &EndpointId::new(id))
            .await
            .unwrap()
            .unwrap();
        endpoint
            .secrets
            .iter()
            .map(|s| (s.secret.clone(), s.expires_at))
            .collect::<Vec<_>>()
    };

    let before = now();
    let reply = api
        .admin("POST", &path, Some(json!({"grace_seconds": 3600})))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let rotated = reply.json();
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    let expiry =
        Timestamp::parse_rfc3339(rotated["previous_expires_at"].as_str().unwrap()).unwrap();
    assert!(
        expiry >= before.plus(Duration::from_secs(3600))
            && expiry <= now().plus(Duration::from_secs(3600))
    );
    assert_eq!(
        stored().await,
        [(second.clone(), None), (first.clone(), Some(expiry))]
    );
    let current = api
        .admin("GET", &format!("/v1/tenants/acme/endpoints/{id}"), None)
        .await;
    assert_eq!(current.json()["secret"], second.as_str());

    // Grace 0 revokes the previous secret at once; the older one keeps its own window.
    let reply = api
        .admin("POST", &path, Some(json!({"grace_seconds": 0})))
        .await;
    assert_eq!(reply.json()["previous_expires_at"], Value::Null);
    let third = reply.json()["secret"].as_str().unwrap().to_owned();
    assert_eq!(stored().await, [(third, None), (first, Some(expiry))]);

    // Without a body the default grace (24 h) applies.
    let reply = api
        .send("POST", &path, Some(crate::support::ADMIN), None, &[])
        .await;
    assert_eq!(reply.status, 200);
    let expiry =
        Timestamp::parse_rfc3339(reply.json()["previous_expires_at"].as_str().unwrap()).unwrap();
    let grace = expiry.since(before);
    assert!(
        grace >= Duration::from_secs(86_400) && grace < Duration::from_secs(86_460),
        "{grace:?}"
    );

    api.admin("POST", &path, Some(json!({"grace_seconds": -1})))
        .await
        .invalid("grace_seconds");
    api.admin("POST", &path, Some(json!({"grace_seconds": "1h"})))
        .await
        .invalid("grace_seconds");
    api.admin("POST", &path, Some(json!({"grace_seconds": 2_592_001})))
        .await
        .invalid("grace_seconds");
    api.admin(
        "POST",
        "/v1/tenants/acme/endpoints/ep_nope/rotate-secret",
        None,
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn test_mode_sends_the_sample_to_one_endpoint_as_a_test() {
    let api = Api::new();
    api.tenant("acme").await;
    // Not subscribed to the tested type: test mode ignores subscriptions.
    let endpoint = api.endpoint("acme", &["email.sent"], true).await;
    let id = endpoint["id"].as_str().unwrap();
    let path = format!("/v1/tenants/acme/endpoints/{id}/test");
    let reply = api
        .admin(
            "POST",
            &path,
            Some(json!({"event_type": "recipient.added"})),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer.as_object().unwrap().len(), 2);
    assert!(api.woken().await);

    let delivery_path = format!(
        "/v1/tenants/acme/deliveries/{}",
        answer["delivery_id"].as_str().unwrap()
    );
    let delivery = api.admin("GET", &delivery_path, None).await.json();
    assert_eq!(delivery["test"], true);
    assert_eq!(delivery["status"], "pending");
    assert_eq!(delivery["endpoint_id"], id);
    assert_eq!(delivery["event_type"], "recipient.added");
    assert_eq!(delivery["event_id"], answer["event_id"]);

    let event_path = format!(
        "/v1/tenants/acme/events/{}",
        answer["event_id"].as_str().unwrap()
    );
    let event = api.admin("GET", &event_path, None).await.json();
    assert_eq!(event["test"], true);
    let sample = herald_event::builtin_catalog()
        .into_iter()
        .find(|def| def.name == "recipient.added")
        .unwrap()
        .sample;
    assert_eq!(event["payload"]["data"], sample);
    assert_eq!(event["payload"]["id"], answer["event_id"]);
    assert_eq!(event["payload"]["type"], "recipient.added");

    api.admin("POST", &path, Some(json!({"event_type": "email.nonsense"})))
        .await
        .invalid("event_type");
    api.admin("POST", &path, Some(json!({})))
        .await
        .invalid("event_type");
    let unknown = "/v1/tenants/acme/endpoints/ep_nope/test";
    api.admin("POST", unknown, Some(json!({"event_type": "email.sent"})))
        .await
        .problem(404);
    assert_eq!(api.list("/v1/tenants/acme/deliveries").await.len(), 1);
}

#[tokio::test]
async fn recover_puts_failed_and_skipped_deliveries_back_in_the_queue() {
    let api = Api::new();
    api.tenant("acme").await;
    let endpoint = api.endpoint("acme", &["*"], true).await;
    let id = endpoint["id"].as_str().unwrap();
    let since = now().to_rfc3339();
    api.ingest("acme", "email.sent", json!({})).await;
    api.ingest("acme", "email.opened", json!({})).await;
    assert_eq!(finish_due(&api, DeliveryStatus::Failed).await, 2);
    assert_eq!(
        api.list("/v1/tenants/acme/deliveries?status=failed")
            .await
            .len(),
        2
    );
    while api.woken().await {}

    let path = format!("/v1/tenants/acme/endpoints/{id}/recover");
    let reply = api
        .admin("POST", &path, Some(json!({"since": since})))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.json(), json!({"recovered": 2}));
    assert!(api.woken().await);
    let pending = api.list("/v1/tenants/acme/deliveries?status=pending").await;
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0]["attempts"], 1);

    let reply = api
        .admin("POST", &path, Some(json!({"since": since})))
        .await;
    assert_eq!(reply.json(), json!({"recovered": 0}));
    api.admin("POST", &path, Some(json!({"since": "last week"})))
        .await
        .invalid("since");
    api.admin("POST", &path, None).await.invalid("since");
    let endpoint_path = format!("/v1/tenants/acme/endpoints/{id}");
    api.admin("PATCH", &endpoint_path, Some(json!({"enabled": false})))
        .await;
    api.admin("POST", &path, Some(json!({"since": since})))
        .await
        .problem(409);
    let unknown = "/v1/tenants/acme/endpoints/ep_nope/recover";
    api.admin("POST", unknown, Some(json!({"since": since})))
        .await
        .problem(404);
}

#[tokio::test]
async fn replay_redelivers_to_current_subscribers_or_one_endpoint() {
    let api = Api::new();
    api.tenant("acme").await;
    let exact = api.endpoint("acme", &["email.sent"], true).await;
    let prefix = api.endpoint("acme", &["email.*"], true).await;
    let other = api.endpoint("acme", &["reply.categorized"], true).await;
    let disabled = api.endpoint("acme", &["email.sent"], false).await;
    let event = api
        .ingest("acme", "email.sent", json!({"email_id": "eml_1"}))
        .await;
    assert_eq!(event["deliveries"], 3);
    let event_id = event["id"].as_str().unwrap();
    let path = format!("/v1/tenants/acme/events/{event_id}/replay");
    while api.woken().await {}

    let reply = api
        .send("POST", &path, Some(crate::support::ADMIN), None, &[])
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["event_id"], event_id);
    assert_eq!(answer["deliveries"].as_array().unwrap().len(), 2);
    assert!(api.woken().await);

    let reply = api
        .admin("POST", &path, Some(json!({"endpoint_id": other["id"]})))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let one = reply.json()["deliveries"][0].as_str().unwrap().to_owned();
    let delivery = api
        .admin("GET", &format!("/v1/tenants/acme/deliveries/{one}"), None)
        .await
        .json();
    assert_eq!(
        (delivery["endpoint_id"].clone(), delivery["status"].clone()),
        (other["id"].clone(), json!("pending"))
    );

    api.admin("POST", &path, Some(json!({"endpoint_id": "ep_nope"})))
        .await
        .problem(404);
    api.admin("POST", &path, Some(json!({"endpoint_id": disabled["id"]})))
        .await
        .problem(409);
    api.admin("POST", &path, Some(json!({"endpoint_id": 5})))
        .await
        .invalid("endpoint_id");
    api.admin("POST", "/v1/tenants/acme/events/evt_nope/replay", None)
        .await
        .problem(404);

    let all = api
        .list(&format!("/v1/tenants/acme/deliveries?event_id={event_id}"))
        .await;
    assert_eq!(all.len(), 6);
    let mut pending = strings(&all, "endpoint_id");
    pending.sort();
    let mut want: Vec<String> = [&exact, &exact, &prefix, &prefix, &other, &disabled]
        .iter()
        .map(|endpoint| endpoint["id"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    assert_eq!(pending, want);

    // Sent again, the event is answered as it was first: three deliveries, replays aside.
    let repeat = api
        .admin(
            "POST",
            "/v1/tenants/acme/events",
            Some(json!({"type": "email.sent", "id": event_id, "data": {"email_id": "eml_1"}})),
        )
        .await;
    assert_eq!(repeat.status, 202, "{}", repeat.text());
    assert_eq!(repeat.json()["deliveries"], 3);
}
