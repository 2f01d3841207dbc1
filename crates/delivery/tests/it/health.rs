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

#[tokio::test(start_paused = true)]
async fn hanging_endpoints_do_not_delay_a_healthy_one() {
    let harness = start_configured(&[30, 120], vec![ok(200, "ok")], |config| {
        config.max_in_flight = 256;
    })
    .await;
    // 50 endpoints that accept and never answer, 20 events each, published first so
    // they are ahead of the healthy endpoint's events in the due queue.
    for endpoint in 0..50 {
        let id = harness.add_endpoint(
            &format!("ep_hang_{endpoint}"),
            &format!("https://hang{endpoint}.example.com/hang"),
        );
        for event in 0..20 {
            harness
                .publish_to(&id, &format!("evt_hang_{endpoint}_{event}"), "{}")
                .await;
        }
    }
    let mut healthy = Vec::new();
    for event in 0..10 {
        healthy.push(harness.publish(&format!("evt_healthy_{event}"), "{}").await);
    }
    harness
        .eventually(|| async {
            let mut all = true;
            for delivery in &healthy {
                all &= harness.delivery(delivery).await.status == DeliveryStatus::Succeeded;
            }
            all
        })
        .await;

    let sent = harness.sent();
    let healthy_sent: Vec<_> = sent
        .iter()
        .filter(|request| !request.url.contains("/hang"))
        .collect();
    assert_eq!(healthy_sent.len(), 10);
    let first = sent[0].at;
    for request in &healthy_sent {
        // Sent before any hanging attempt could end (15 s): the hanging ones took
        // only part of the permits, never all of them.
        assert!(
            request.at.since(first) < Duration::from_secs(15),
            "{:?}",
            request.at.since(first)
        );
    }
    let max_in_flight = harness
        .transport
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(max_in_flight <= 256, "global bound held: {max_in_flight}");
    assert!(
        max_in_flight >= 50,
        "every hanging endpoint got at least one attempt: {max_in_flight}"
    );
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_backlog_for_a_busy_endpoint_waits_in_memory_and_drains_in_waves() {
    let harness = start(&[30, 120], vec![ok(200, "ok")]).await;
    let slow = harness.add_endpoint("ep_slow", "https://slow.example.com/slow");
    let mut deliveries = Vec::new();
    for event in 0..320 {
        deliveries.push(
            harness
                .publish_to(&slow, &format!("evt_slow_{event}"), "{}")
                .await,
        );
    }
    harness
        .eventually(|| async { harness.sent().len() == 320 })
        .await;
    harness.run_for(5).await;

    // 32 at a time (the per-endpoint cap), each answered in 100 ms, and the next wave
    // starts the moment a slot frees: no claim is handed back and re-claimed later,
    // which would leave the endpoint idle for `endpoint_busy_delay` (250 ms).
    let sent = harness.sent();
    let first = sent[0].at;
    let mut waves = std::collections::BTreeMap::new();
    for request in &sent {
        *waves
            .entry(request.at.since(first).as_millis())
            .or_insert(0) += 1;
    }
    let expected: std::collections::BTreeMap<u128, i32> =
        (0..10).map(|wave| (wave * 100, 32)).collect();
    assert_eq!(waves, expected);
    assert_eq!(
        harness
            .transport
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        32
    );
    for delivery in &deliveries {
        let delivery = harness.delivery(delivery).await;
        assert_eq!(
            (delivery.status, delivery.attempts),
            (DeliveryStatus::Succeeded, 1)
        );
    }
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_hanging_endpoints_backlog_is_handed_back_for_longer_as_it_stays_stalled() {
    let harness = start(&[30, 120], vec![ok(200, "ok")]).await;
    let hang = harness.add_endpoint("ep_hang", "https://hang.example.com/hang");
    let mut hanging = Vec::new();
    for event in 0..400 {
        hanging.push(
            harness
                .publish_to(&hang, &format!("evt_hang_{event}"), "{}")
                .await,
        );
    }
    // 12 s in: the 32 attempts in flight hang until 15 s.
    harness.run_for(12).await;
    let now = harness.transport.clock.now();
    let (mut leased, mut handed_back) = (0, 0);
    for id in &hanging {
        let delivery = harness.delivery(id).await;
        assert_eq!(delivery.attempts, 0, "no attempt has ended yet");
        if delivery.lease_until.is_some_and(|until| until > now) {
            leased += 1;
        } else {
            handed_back += 1;
            let due = delivery.next_attempt_at.expect("pending");
            // Not back every 250 ms: the endpoint has finished nothing for seconds.
            assert!(
                due.since(now) >= Duration::from_secs(2),
                "due {:?} after now",
                due.since(now)
            );
        }
    }
    // 32 in flight plus at most 4 x 32 waiting in memory; the rest are in the store.
    assert_eq!(leased, 32 + 128);
    assert_eq!(handed_back, 400 - 160);
    assert_eq!(harness.sent().len(), 32);
    harness.stop().await;
}
