//! Batch ingest: per-item results in order, refused items store nothing, repeats
//! within and across batches are idempotent, and the batch is one durable write.

use serde_json::json;

use tower::ServiceExt;

use crate::support::{strings, Api, ADMIN};

#[tokio::test]
async fn accepts_every_valid_item_and_reports_each_refusal() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["email.*"], true).await;
    let body = json!({"events": [
        {"type": "email.sent", "id": "evt_b1", "data": {"n": 1}},
        {"type": "email.nope", "data": {}},
        {"type": "campaign.completed", "id": "evt_b2", "data": {"n": 2}},
        {"type": "email.opened", "data": []},
        {"type": "email.sent", "id": "evt_b1", "data": {"n": 1}},
    ]});
    let reply = api
        .admin("POST", "/v1/tenants/acme/events/batch", Some(body))
        .await;
    assert_eq!(reply.status, 207, "{}", reply.text());
    let results = reply.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 5);
    let summary: Vec<(u64, u64)> = results
        .iter()
        .map(|result| {
            (
                result["index"].as_u64().unwrap(),
                result["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [(0, 202), (1, 422), (2, 202), (3, 422), (4, 202)]);
    assert_eq!(results[0]["id"], "evt_b1");
    assert_eq!(results[0]["deliveries"], 1);
    assert_eq!(results[0]["replayed"], false);
    assert_eq!(
        results[2]["deliveries"], 0,
        "no endpoint subscribes to campaign.completed"
    );
    assert_eq!(
        results[4]["replayed"], true,
        "a repeat within the batch creates nothing"
    );
    assert_eq!(results[1]["error"]["errors"][0]["field"], "events[1].type");
    assert_eq!(results[3]["error"]["errors"][0]["field"], "events[3].data");
    assert_eq!(results[1]["error"]["status"], 422);

    let mut stored = strings(&api.list("/v1/tenants/acme/events").await, "id");
    stored.sort();
    assert_eq!(stored, ["evt_b1", "evt_b2"]);
    assert_eq!(api.list("/v1/tenants/acme/deliveries").await.len(), 1);
    assert!(api.woken().await);
}

#[tokio::test]
async fn all_accepted_is_200_and_repeating_the_batch_creates_nothing() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let events: Vec<_> = (0..3)
        .map(|n| json!({"type": "recipient.added", "id": format!("evt_r{n}"), "data": {"n": n}}))
        .collect();
    let body = json!({ "events": events });
    let first = api
        .admin("POST", "/v1/tenants/acme/events/batch", Some(body.clone()))
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let again = api
        .admin("POST", "/v1/tenants/acme/events/batch", Some(body))
        .await;
    assert_eq!(again.status, 200);
    let replayed: Vec<bool> = again.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["replayed"].as_bool().unwrap())
        .collect();
    assert_eq!(replayed, [true, true, true]);
    assert_eq!(api.list("/v1/tenants/acme/events").await.len(), 3);
    assert_eq!(api.list("/v1/tenants/acme/deliveries").await.len(), 3);
}

#[tokio::test]
async fn refuses_malformed_batches_whole() {
    let api = Api::new();
    api.tenant("acme").await;
    for (body, field) in [
        (json!({}), "events"),
        (json!({"events": []}), "events"),
        (json!({"events": {"type": "email.sent"}}), "events"),
        (json!({"events": [], "extra": 1}), "extra"),
    ] {
        let reply = api
            .admin("POST", "/v1/tenants/acme/events/batch", Some(body))
            .await;
        assert_eq!(reply.problem(422), [field]);
    }
    let too_many: Vec<_> = (0..1001)
        .map(|_| json!({"type": "email.sent", "data": {}}))
        .collect();
    let reply = api
        .admin(
            "POST",
            "/v1/tenants/acme/events/batch",
            Some(json!({ "events": too_many })),
        )
        .await;
    assert_eq!(reply.problem(422), ["events"]);
    let reply = api
        .admin_raw("POST", "/v1/tenants/acme/events/batch", b"{\"events\": [")
        .await;
    assert_eq!(reply.status, 400);
    assert!(api.list("/v1/tenants/acme/events").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_beyond_the_turns_all_complete() {
    // More batches at once than take turns (two): the rest wait for a turn, none is
    // refused or lost.
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let mut requests = tokio::task::JoinSet::new();
    for batch in 0..6 {
        let events: Vec<_> = (0..50)
            .map(|n| json!({"type": "email.sent", "id": format!("evt_c{batch}_{n}"), "data": {"n": n}}))
            .collect();
        let request = axum::http::Request::post("/v1/tenants/acme/events/batch")
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({ "events": events }).to_string(),
            ))
            .unwrap();
        let router = api.router();
        requests.spawn(async move { router.oneshot(request).await.unwrap().status().as_u16() });
    }
    let statuses = requests.join_all().await;
    assert_eq!(statuses, [200; 6]);
    for batch in 0..6 {
        for n in [0, 49] {
            let reply = api
                .admin(
                    "GET",
                    &format!("/v1/tenants/acme/events/evt_c{batch}_{n}"),
                    None,
                )
                .await;
            assert_eq!(reply.status, 200, "evt_c{batch}_{n}");
        }
    }
}
