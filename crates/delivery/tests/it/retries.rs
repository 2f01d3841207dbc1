//! Retries on the configured schedule, identical bodies, fresh signatures, final states.

use herald_event::DeliveryStatus;
use herald_store::{AttemptFilter, PageRequest, Store};

use crate::harness::{expected_hex, expected_standard, off_runtime, ok, start, T0};

const DATA: &str = r#"{"b":2, "a":1}"#;

#[tokio::test(start_paused = true)]
async fn failing_endpoint_is_retried_on_schedule_then_failed() {
    let harness = start(&[30, 120, 300], vec![ok(500, "try later")]).await;
    let delivery = harness.publish("evt_fail", DATA).await;
    harness.run_for(3_600).await;

    let sent = harness.sent();
    let first = sent[0].at;
    let offsets: Vec<u64> = sent
        .iter()
        .map(|request| request.at.since(first).as_secs())
        .collect();
    assert_eq!(offsets, [0, 30, 150, 450]);
    let first_body = &sent[0].body;
    assert!(String::from_utf8_lossy(first_body).contains(r#""data":{"b":2, "a":1}"#));
    for request in &sent {
        assert_eq!(
            &request.body, first_body,
            "every attempt sends the identical bytes"
        );
        assert_eq!(request.header("webhook-id"), "evt_fail");
        assert_eq!(request.header("x-supapitch-event"), "email.sent");
        assert_eq!(
            request.header("x-supapitch-signature"),
            expected_hex(first_body)
        );
        let timestamp = request.header("webhook-timestamp");
        assert_eq!(
            timestamp,
            request.at.as_secs().to_string(),
            "timestamp is the attempt's own, in seconds"
        );
        assert_eq!(
            request.header("webhook-signature"),
            expected_standard("evt_fail", timestamp, first_body)
        );
    }
    let timestamps: Vec<&str> = sent
        .iter()
        .map(|request| request.header("webhook-timestamp"))
        .collect();
    let first_secs = T0.as_secs();
    let wanted: Vec<String> = [0, 30, 150, 450]
        .iter()
        .map(|offset| (first_secs + offset).to_string())
        .collect();
    assert_eq!(timestamps, wanted);

    let delivery = harness.delivery(&delivery).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(delivery.attempts, 4);
    assert_eq!(delivery.next_attempt_at, None);
    assert_eq!(delivery.last_status_code, Some(500));

    let log = harness
        .store
        .list_attempts(
            &harness.tenant,
            &AttemptFilter::default(),
            &PageRequest::first(100),
        )
        .await
        .unwrap();
    let numbers: Vec<u32> = log.items.iter().map(|attempt| attempt.attempt).collect();
    assert_eq!(numbers, [4, 3, 2, 1], "newest first");
    for attempt in &log.items {
        assert_eq!(attempt.status_code, Some(500));
        assert_eq!(attempt.response.as_ref().unwrap().body, b"try later");
        // The body is logged by reference to the event (its size; the API shows the bytes).
        assert!(attempt.request.body.is_empty());
        assert_eq!(attempt.request.size, Some(first_body.len() as u64));
    }
    assert_eq!(log.items[0].next, herald_event::NextAction::GiveUp);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_2xx_ends_the_delivery() {
    let harness = start(&[30, 120], vec![ok(503, "busy"), ok(204, "")]).await;
    let delivery = harness.publish("evt_ok", DATA).await;
    harness.run_for(600).await;

    assert_eq!(harness.sent().len(), 2);
    let delivery = harness.delivery(&delivery).await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(delivery.attempts, 2);
    assert_eq!(delivery.last_status_code, Some(204));
    assert_eq!(delivery.last_error, None);
    let log = harness
        .store
        .list_attempts(
            &harness.tenant,
            &AttemptFilter::default(),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    let statuses: Vec<Option<u16>> = log
        .items
        .iter()
        .map(|attempt| attempt.status_code)
        .collect();
    assert_eq!(statuses, [Some(204), Some(503)]);
    assert_eq!(log.items[1].response.as_ref().unwrap().body, b"busy");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn standard_schedule_makes_eleven_attempts_within_24_hours() {
    let standard = [
        30, 120, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 28_800,
    ];
    let harness = start(&standard, vec![ok(403, "forbidden")]).await;
    let delivery = harness.publish("evt_day", DATA).await;
    harness.run_for(2 * 86_400).await;

    let sent = harness.sent();
    let first = sent[0].at;
    let offsets: Vec<u64> = sent
        .iter()
        .map(|request| request.at.since(first).as_secs())
        .collect();
    assert_eq!(
        offsets,
        [0, 30, 150, 450, 1_350, 3_150, 6_750, 13_950, 28_350, 57_150, 85_950]
    );
    let delivery = harness.delivery(&delivery).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(delivery.attempts, 11);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn gone_stops_the_delivery_and_disables_the_endpoint() {
    let harness = start(&[30, 120], vec![ok(410, "gone")]).await;
    let delivery = harness.publish("evt_gone", DATA).await;
    // Disabling the endpoint waits for a disk flush on another thread, during which the
    // paused clock may jump; so wait for the outcome rather than for a fixed time.
    harness
        .eventually(|| async { harness.delivery(&delivery).await.status == DeliveryStatus::Failed })
        .await;

    assert_eq!(harness.sent().len(), 1);
    let endpoint = harness
        .store
        .get_endpoint(&harness.tenant, &harness.endpoint.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!endpoint.enabled);
    assert!(endpoint
        .disabled_reason
        .unwrap()
        .starts_with("receiver answered 410 Gone at "));

    // Later events for the disabled endpoint are recorded as skipped, not sent.
    let later = harness.publish("evt_after", DATA).await;
    harness.run_for(60).await;
    assert_eq!(harness.sent().len(), 1);
    assert_eq!(
        harness.delivery(&later).await.status,
        DeliveryStatus::Skipped
    );
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn deleting_the_endpoint_cancels_pending_retries() {
    let harness = start(&[30, 120], vec![ok(500, "no")]).await;
    let delivery = harness.publish("evt_del", DATA).await;
    harness.run_for(5).await;
    assert_eq!(harness.sent().len(), 1);
    let deleted = off_runtime(harness.store.delete_endpoint(
        &harness.tenant,
        &harness.endpoint.id,
        T0,
    ));
    assert!(deleted.unwrap());
    harness.run_for(600).await;

    assert_eq!(harness.sent().len(), 1, "no attempt after deletion");
    assert_eq!(
        harness.delivery(&delivery).await.status,
        DeliveryStatus::Cancelled
    );
    harness.stop().await;
}
