//! Checks of the due queue: claims, leases, `next_due_at` and recovery.

use std::time::Duration;

use herald_event::{Delivery, DeliveryStatus, ErrorKind, NextAction, TenantId};

use super::fixtures::{
    after, at, attempt, attempts_of, claimed_ids, delivery_ids, endpoint, event, just_before,
    pending, plus, seed, seed_tenant, settled, tenant, LEASE, LEASE_MS, T0,
};
use crate::{AttemptFilter, PageRequest, Store};

/// `claim_due` returns only due deliveries (`next_attempt_at <= now`), oldest due
/// first, at most `max`, each with its lease, event and endpoint (`None` once deleted),
/// and never a settled one.
pub async fn claim_due_takes_due_oldest_first(store: &dyn Store) {
    // Leases outlast the whole check, so no claim here is retaken.
    const HOUR: Duration = Duration::from_secs(3600);
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    let doomed = endpoint(&acme.id, at(1500));
    seed_tenant(store, &acme, &[&target, &doomed]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    // Created in a different order from their due times.
    let due_300 = pending(&sent, &target.id, at(2001), at(300_000));
    let due_100 = pending(&sent, &target.id, at(2002), at(100_000));
    let due_400 = pending(&sent, &target.id, at(2003), at(400_000));
    let due_200 = pending(&sent, &target.id, at(2004), at(200_000));
    let succeeded = settled(&sent, &target.id, at(2005), DeliveryStatus::Succeeded);
    let failed = settled(&sent, &target.id, at(2006), DeliveryStatus::Failed);
    let skipped = settled(&sent, &target.id, at(2007), DeliveryStatus::Skipped);
    let deliveries = [
        &due_300, &due_100, &due_400, &due_200, &succeeded, &failed, &skipped,
    ];
    seed(store, &sent, &deliveries.map(Delivery::clone)).await;

    assert_eq!(
        claimed_ids(&store.claim_due(at(99_999), 10, HOUR).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(store.claim_due(at(250_000), 0, HOUR).await.unwrap(), []);

    let claims = store.claim_due(at(250_000), 10, HOUR).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&due_100, &due_200]));
    let lease_until = at(250_000 + 3_600_000);
    for (claim, expected) in claims.iter().zip([&due_100, &due_200]) {
        assert_eq!(claim.delivery.lease_until, Some(lease_until));
        assert_eq!(claim.delivery.status, DeliveryStatus::Pending);
        assert_eq!(claim.delivery.attempts, 0);
        assert_eq!(claim.delivery.next_attempt_at, expected.next_attempt_at);
        assert_eq!(claim.event, sent);
        assert_eq!(claim.endpoint.as_ref(), Some(&target));
        let stored = store
            .get_delivery(&acme.id, &expected.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.lease_until, Some(lease_until));
    }
    // Leased: not claimed again before the lease expires.
    assert_eq!(
        claimed_ids(&store.claim_due(at(250_000), 10, HOUR).await.unwrap()),
        Vec::<String>::new()
    );

    // Due exactly now counts as due; `max` caps the batch, oldest first.
    let claims = store.claim_due(at(300_000), 1, HOUR).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&due_300]));
    let claims = store.claim_due(at(300_000), 1, HOUR).await.unwrap();
    assert_eq!(claims, []);
    let claims = store.claim_due(at(400_000), 5, HOUR).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&due_400]));

    // A delivery stored for an endpoint deleted meanwhile (fan-out raced the delete)
    // comes with no endpoint.
    assert!(store
        .delete_endpoint(&acme.id, &doomed.id, at(500_000))
        .await
        .unwrap());
    let orphan = pending(&sent, &doomed.id, at(500_001), at(500_001));
    store
        .insert_deliveries(std::slice::from_ref(&orphan))
        .await
        .unwrap();
    let claims = store.claim_due(at(500_001), 10, HOUR).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&orphan]));
    assert_eq!(claims[0].endpoint, None);
    assert_eq!(claims[0].event, sent);
}

/// A lease that runs out without a record is taken again at its expiry (the time
/// `next_due_at` reports), with `attempts` incremented and an `interrupted` attempt
/// logged for the lost one.
pub async fn claim_due_retakes_expired_lease(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let delivery = pending(&sent, &target.id, at(2001), at(2000));
    seed(store, &sent, std::slice::from_ref(&delivery)).await;

    let claims = store.claim_due(at(2000), 10, LEASE).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&delivery]));
    let expiry = at(2000 + LEASE_MS);
    assert_eq!(store.next_due_at().await.unwrap(), Some(expiry));
    assert_eq!(
        store
            .claim_due(just_before(expiry), 10, LEASE)
            .await
            .unwrap(),
        []
    );
    assert_eq!(attempts_of(store, &delivery).await, []);

    let claims = store.claim_due(expiry, 10, LEASE).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&delivery]));
    let retaken = &claims[0].delivery;
    assert_eq!(retaken.attempts, 1);
    assert_eq!(retaken.status, DeliveryStatus::Pending);
    assert_eq!(retaken.lease_until, Some(plus(expiry, LEASE_MS)));
    let stored = store
        .get_delivery(&acme.id, &delivery.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.attempts, 1);

    let log = attempts_of(store, &delivery).await;
    assert_eq!(log.len(), 1, "one interrupted attempt: {log:?}");
    let interrupted = &log[0];
    assert_eq!(interrupted.attempt, 1);
    assert_eq!(interrupted.tenant, acme.id);
    assert_eq!(interrupted.event_id, sent.id);
    assert_eq!(interrupted.endpoint_id, target.id);
    assert_eq!(interrupted.status_code, None);
    assert_eq!(
        interrupted.error.as_ref().map(|error| error.kind),
        Some(ErrorKind::Interrupted)
    );
    assert!(!interrupted.succeeded());
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(plus(expiry, LEASE_MS))
    );
}

/// `next_due_at` is the earliest next attempt or lease expiry of any pending
/// delivery, and `None` when nothing is pending.
pub async fn next_due_at_is_earliest(store: &dyn Store) {
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let early = pending(&sent, &target.id, at(2001), at(100_000));
    let late = pending(&sent, &target.id, at(2002), at(500_000));
    let done = settled(&sent, &target.id, at(2003), DeliveryStatus::Succeeded);
    seed(store, &sent, &[late.clone(), early.clone(), done]).await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(100_000)));

    let claim = store
        .claim_due(at(100_000), 10, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(at(100_000 + LEASE_MS))
    );
    let delivered = attempt(&claim.delivery, at(100_010), Some(200), NextAction::Done);
    store
        .record_attempt(&after(&claim.delivery, &delivered), Some(&delivered))
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(500_000)));

    let claim = store
        .claim_due(at(500_000), 10, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(claim.delivery.id, late.id);
    let delivered = attempt(&claim.delivery, at(500_010), Some(200), NextAction::Done);
    store
        .record_attempt(&after(&claim.delivery, &delivered), Some(&delivered))
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

/// Recovery puts an endpoint's `failed` and `skipped` deliveries created at or after
/// `since` back to pending, due at once, in a new round (`round_base = attempts`, no
/// round start); older ones, other statuses, other endpoints and other tenants stay.
pub async fn recover_deliveries_resets_failed_and_skipped(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    let other = endpoint(&acme.id, at(1100));
    seed_tenant(store, &acme, &[&target, &other]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let since = at(100_000);
    let exhausted = Delivery {
        attempts: 11,
        round_started_at: Some(at(100_000)),
        last_status_code: Some(500),
        last_error: Some("HTTP 500".to_owned()),
        ..settled(&sent, &target.id, since, DeliveryStatus::Failed)
    };
    let skipped = settled(&sent, &target.id, at(200_000), DeliveryStatus::Skipped);
    let too_old = settled(
        &sent,
        &target.id,
        just_before(since),
        DeliveryStatus::Failed,
    );
    let succeeded = settled(&sent, &target.id, at(300_000), DeliveryStatus::Succeeded);
    let cancelled = settled(&sent, &target.id, at(300_001), DeliveryStatus::Cancelled);
    let waiting = pending(&sent, &target.id, at(300_002), at(36_000_000));
    let elsewhere = settled(&sent, &other.id, at(300_003), DeliveryStatus::Failed);
    let untouched = [&too_old, &succeeded, &cancelled, &waiting, &elsewhere];
    let mut deliveries: Vec<Delivery> =
        untouched.iter().map(|&delivery| delivery.clone()).collect();
    deliveries.extend([exhausted.clone(), skipped.clone()]);
    seed(store, &sent, &deliveries).await;

    let now = at(3_600_000);
    let globex = TenantId::new("globex");
    assert_eq!(
        store
            .recover_deliveries(&globex, &target.id, T0, now)
            .await
            .unwrap(),
        0
    );
    let recovered = store
        .recover_deliveries(&acme.id, &target.id, since, now)
        .await
        .unwrap();
    assert_eq!(recovered, 2);

    let stored = store
        .get_delivery(&acme.id, &exhausted.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.next_attempt_at, Some(now));
    assert_eq!(stored.attempts, 11);
    assert_eq!(stored.round_base, 11);
    assert_eq!(stored.round_started_at, None);
    assert_eq!(stored.lease_until, None);
    let stored = store
        .get_delivery(&acme.id, &skipped.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.next_attempt_at, Some(now));
    assert_eq!(stored.round_base, 0);
    for delivery in untouched {
        let stored = store.get_delivery(&acme.id, &delivery.id).await.unwrap();
        assert_eq!(stored.as_ref(), Some(delivery));
    }

    assert_eq!(store.next_due_at().await.unwrap(), Some(now));
    let claims = store.claim_due(now, 10, LEASE).await.unwrap();
    let mut claimed = claimed_ids(&claims);
    claimed.sort();
    let mut expected = delivery_ids(&[&exhausted, &skipped]);
    expected.sort();
    assert_eq!(claimed, expected);
    assert!(claims
        .iter()
        .all(|claim| claim.delivery.round_base == claim.delivery.attempts));
    let log = store
        .list_attempts(&acme.id, &AttemptFilter::default(), &PageRequest::first(10))
        .await;
    assert_eq!(
        log.unwrap().items,
        [],
        "recovery is not an interrupted attempt"
    );

    // They are pending now, so a second recovery finds nothing.
    assert_eq!(
        store
            .recover_deliveries(&acme.id, &target.id, since, now)
            .await
            .unwrap(),
        0
    );
}
