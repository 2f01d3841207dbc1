//! Endpoint health: the circuit breaker holds a failing endpoint back, and an endpoint
//! failing for long enough is disabled, its later events recorded as skipped.

use std::time::Duration;

use herald_event::DeliveryStatus;

use crate::harness::{ok, start, start_configured};

#[tokio::test(start_paused = true)]
async fn circuit_breaker_holds_back_a_failing_endpoint() {
    // Eight 1 s retries would hammer the endpoint; after 5 failures in a row the
    // circuit opens for 30 s, then 60, 120, 240 (standard circuit policy).
    let harness = start(&[1, 1, 1, 1, 1, 1, 1, 1], vec![ok(500, "down")]).await;
    let delivery = harness.publish("evt_cb", r#"{"n":1}"#).await;
    harness.run_for(3_600).await;

    let sent = harness.sent();
    let first = sent[0].at;
    let offsets: Vec<u64> = sent
        .iter()
        .map(|request| request.at.since(first).as_secs())
        .collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4, 34, 94, 214, 454]);
    let delivery = harness.delivery(&delivery).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(
        delivery.attempts, 9,
        "deferrals by the circuit are not attempts"
    );
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn endpoint_failing_too_long_is_disabled_and_later_events_skipped() {
    let delays = [600; 12];
    let harness = start_configured(&delays, vec![ok(503, "down")], |config| {
        config.circuit.disable_after = Duration::from_secs(3_600);
    })
    .await;
    let first = harness.publish("evt_long", r#"{"n":1}"#).await;
    harness
        .eventually(|| async { harness.delivery(&first).await.status == DeliveryStatus::Skipped })
        .await;

    // Attempts at 0, 10, ..., 60 min: the one at 60 min is the first after an hour of
    // failures, so the endpoint is disabled; the delivery's next retry finds it
    // disabled and is recorded as skipped (recoverable), not sent.
    assert_eq!(harness.sent().len(), 7);
    let endpoint = harness.store_endpoint().await;
    assert!(!endpoint.enabled);
    let reason = endpoint.disabled_reason.unwrap();
    assert!(
        reason.starts_with("every attempt failed for 1h (disabled at "),
        "{reason}"
    );

    let later = harness.publish("evt_later", r#"{"n":2}"#).await;
    harness
        .eventually(|| async { harness.delivery(&later).await.status == DeliveryStatus::Skipped })
        .await;
    assert_eq!(harness.sent().len(), 7);
    harness.stop().await;
}
