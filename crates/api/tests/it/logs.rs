//! The delivery log views (deliveries and attempts), health and metrics.

use std::time::Duration;

use herald_event::{
    Attempt, AttemptId, DeliveryStatus, ErrorKind, HttpRecord, NextAction, TenantId, Timestamp,
    Unreachable,
};
use herald_store::Store;
use serde_json::json;

use crate::support::{now, Api};

const STARTED: Timestamp = Timestamp::from_millis(1_796_310_245_123);

/// Plays the delivery engine for one due delivery: records `attempt` (its ids filled in)
/// and leaves the delivery pending (due now) or in `status`.
async fn record(api: &Api, number: u32, status: DeliveryStatus, mut attempt: Attempt) -> Attempt {
    let claims = api
        .store
        .claim_due(now(), 1, Duration::from_secs(60))
        .await
        .unwrap();
    let mut delivery = claims[0].delivery.clone();
    attempt.tenant = delivery.tenant.clone();
    attempt.delivery_id = delivery.id.clone();
    attempt.event_id = delivery.event_id.clone();
    attempt.endpoint_id = delivery.endpoint_id.clone();
    attempt.attempt = number;
    delivery.attempts = number;
    delivery.status = status;
    delivery.next_attempt_at = (status == DeliveryStatus::Pending).then(now);
    delivery.last_status_code = attempt.status_code;
    api.store
        .record_attempt(&delivery, Some(&attempt))
        .await
        .unwrap();
    attempt
}

fn attempt(status_code: Option<u16>, response: Option<HttpRecord>, next: NextAction) -> Attempt {
    Attempt {
        id: AttemptId::generate(now()),
        tenant: TenantId::new(""),
        delivery_id: herald_event::DeliveryId::new(""),
        event_id: herald_event::EventId::new(""),
        endpoint_id: herald_event::EndpointId::new(""),
        attempt: 0,
        started_at: STARTED,
        duration_ms: 42,
        url: "https://hooks.example.com/in".into(),
        request: HttpRecord {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-supapitch-event".into(), "email.sent".into()),
            ],
            body: br#"{"id":"evt_x"}"#.to_vec(),
            truncated: false,
            size: Some(14),
        },
        status_code,
        response,
        error: None,
        next,
        test: false,
    }
}

#[tokio::test]
async fn attempts_show_request_response_error_and_next_step() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let event = api.ingest("acme", "email.sent", json!({})).await;

    let failed_response = HttpRecord {
        headers: vec![
            ("content-type".into(), "text/plain".into()),
            ("retry-after".into(), "30".into()),
        ],
        body: b"try later".to_vec(),
        truncated: false,
        size: Some(9),
    };
    let retry_at = STARTED.plus(Duration::from_secs(30));
    let first = record(
        &api,
        1,
        DeliveryStatus::Pending,
        attempt(
            Some(503),
            Some(failed_response),
            NextAction::Retry(retry_at),
        ),
    )
    .await;
    let mut timeout = attempt(None, None, NextAction::Retry(retry_at));
    timeout.error = Some(Unreachable {
        kind: ErrorKind::Timeout,
        message: "no response within 15 s".into(),
    });
    record(&api, 2, DeliveryStatus::Pending, timeout).await;
    let binary = HttpRecord {
        headers: vec![],
        body: vec![0xff, 0x00, b'o', b'k'],
        truncated: true,
        size: Some(52_428_800),
    };
    record(
        &api,
        3,
        DeliveryStatus::Succeeded,
        attempt(Some(200), Some(binary), NextAction::Done),
    )
    .await;

    let log = api
        .list(&format!(
            "/v1/tenants/acme/attempts?event_id={}",
            event["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(log.len(), 3);
    let numbered = |n: u32| {
        log.iter()
            .find(|entry| entry["attempt"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(
        numbered(1),
        json!({
            "id": first.id.as_str(),
            "delivery_id": first.delivery_id.as_str(),
            "event_id": event["id"],
            "endpoint_id": first.endpoint_id.as_str(),
            "attempt": 1,
            "started_at": "2026-12-03T15:04:05.123Z",
            "duration_ms": 42,
            "url": "https://hooks.example.com/in",
            "status_code": 503,
            "request": {
                "headers": {"content-type": "application/json", "x-supapitch-event": "email.sent"},
                "body": "{\"id\":\"evt_x\"}",
                "body_encoding": "text",
            },
            "response": {
                "status": 503,
                "headers": {"content-type": "text/plain", "retry-after": "30"},
                "body": "try later",
                "body_encoding": "text",
                "truncated": false,
                "size": 9,
            },
            "error": null,
            "next": {"action": "retry", "at": "2026-12-03T15:04:35.123Z"},
            "test": false,
        })
    );
    let second = numbered(2);
    assert_eq!(
        (second["status_code"].clone(), second["response"].clone()),
        (json!(null), json!(null))
    );
    assert_eq!(
        second["error"],
        json!({"kind": "timeout", "message": "no response within 15 s"})
    );
    let third = numbered(3);
    assert_eq!(
        third["response"],
        json!({"status": 200, "headers": {}, "body": "/wBvaw==", "body_encoding": "base64",
               "body_text": "\u{fffd}\u{0}ok", "truncated": true, "size": 52_428_800})
    );
    assert_eq!(third["next"], json!({"action": "done"}));

    let failed = api.list("/v1/tenants/acme/attempts?outcome=failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(
        api.list("/v1/tenants/acme/attempts?outcome=succeeded")
            .await
            .len(),
        1
    );
    assert_eq!(
        api.list("/v1/tenants/acme/attempts?status_code=503")
            .await
            .len(),
        1
    );
    let by_delivery = format!(
        "/v1/tenants/acme/attempts?delivery_id={}",
        first.delivery_id.as_str()
    );
    assert_eq!(api.list(&by_delivery).await.len(), 3);

    let delivery = api
        .admin(
            "GET",
            &format!("/v1/tenants/acme/deliveries/{}", first.delivery_id.as_str()),
            None,
        )
        .await
        .json();
    let mut keys: Vec<&str> = delivery
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attempts",
            "created_at",
            "endpoint_id",
            "event_id",
            "event_type",
            "id",
            "last_error",
            "last_status_code",
            "next_attempt_at",
            "status",
            "test",
            "updated_at"
        ]
    );
    assert_eq!(
        (
            delivery["status"].clone(),
            delivery["attempts"].clone(),
            delivery["last_status_code"].clone()
        ),
        (json!("succeeded"), json!(3), json!(200))
    );
    assert_eq!(delivery["next_attempt_at"], json!(null));
}

#[tokio::test]
async fn health_reports_the_due_lag() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let health = api.send("GET", "/healthz", None, None, &[]).await.json();
    assert_eq!(health, json!({"status": "ok", "due_lag_seconds": 0}));

    // A delivery due two minutes ago that no engine picked up (field case 29).
    api.ingest("acme", "email.sent", json!({})).await;
    let claims = api
        .store
        .claim_due(now(), 1, Duration::from_secs(60))
        .await
        .unwrap();
    let mut delivery = claims[0].delivery.clone();
    let two_minutes_ago = Timestamp::from_millis(now().as_millis() - 120_000);
    delivery.next_attempt_at = Some(two_minutes_ago);
    api.store.record_attempt(&delivery, None).await.unwrap();

    let health = api.send("GET", "/healthz", None, None, &[]).await.json();
    assert_eq!(health["status"], "ok");
    let lag = health["due_lag_seconds"].as_u64().unwrap();
    assert!((120..=125).contains(&lag), "{lag}");
    let metrics = api.send("GET", "/metrics", None, None, &[]).await.text();
    assert!(metrics.contains("\nherald_due_lag_seconds 12"), "{metrics}");
}

#[tokio::test]
async fn metrics_count_ingests_and_responses() {
    let api = Api::new();
    api.tenant("acme").await;
    api.ingest("acme", "email.sent", json!({})).await;
    let repeat = json!({"type": "email.sent", "id": "evt_r", "data": {}});
    api.admin("POST", "/v1/tenants/acme/events", Some(repeat.clone()))
        .await;
    api.admin("POST", "/v1/tenants/acme/events", Some(repeat))
        .await;
    api.admin("GET", "/v1/tenants/nosuch/events", None).await;
    let reply = api.send("GET", "/metrics", None, None, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = reply.text();
    for line in [
        "# TYPE herald_due_lag_seconds gauge",
        "herald_store_up 1",
        "herald_events_ingested_total 2",
        "herald_http_requests_total{class=\"2xx\"} 4",
        "herald_http_requests_total{class=\"4xx\"} 1",
        "herald_http_requests_total{class=\"5xx\"} 0",
    ] {
        assert!(
            text.lines().any(|got| got == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test]
async fn a_request_body_logged_by_reference_shows_the_event_bytes() {
    let api = Api::new();
    api.tenant("acme").await;
    api.endpoint("acme", &["*"], true).await;
    let event = api
        .ingest("acme", "email.sent", json!({"b": 2, "a": 1}))
        .await;
    let id = event["id"].as_str().unwrap();
    let stored = api
        .store
        .get_event(&TenantId::new("acme"), &herald_event::EventId::new(id))
        .await
        .unwrap()
        .unwrap();

    // As the engine records it: headers kept, body by reference (its size only).
    let mut by_reference = attempt(Some(200), None, NextAction::Done);
    by_reference.request.body = Vec::new();
    by_reference.request.size = Some(stored.payload.len() as u64);
    record(&api, 1, DeliveryStatus::Succeeded, by_reference).await;

    let log = api
        .list(&format!("/v1/tenants/acme/attempts?event_id={id}"))
        .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["request"]["body_encoding"], "text");
    assert_eq!(
        log[0]["request"]["body"].as_str().unwrap().as_bytes(),
        stored.payload.as_slice()
    );
}
