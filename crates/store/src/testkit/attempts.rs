//! Checks of recording attempts (`record_attempt`) and of the attempt log.

use herald_event::{Attempt, Delivery, DeliveryStatus, NextAction, TenantId};

use super::fixtures::{
    after, at, attempt, attempts_of, claimed_ids, delivery_ids, endpoint, error_kind, event, ids,
    just_before, pending, plus, seed, seed_tenant, tenant, unleased, LEASE, LEASE_MS,
};
use crate::{AttemptFilter, Claim, PageRequest, Store, StoreErrorKind};

/// Recording an attempt clears the lease, stores the worker's delivery as given and
/// logs the attempt atomically; the delivery is claimable again at its next time and
/// not before (and, having been recorded, without an `interrupted` entry).
pub async fn record_attempt_schedules_next(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let delivery = pending(&sent, &target.id, at(2001), at(2000));
    seed(store, &sent, std::slice::from_ref(&delivery)).await;

    let claim = store.claim_due(at(2000), 1, LEASE).await.unwrap().remove(0);
    let retry_at = at(32_000);
    let failure = attempt(
        &claim.delivery,
        at(2010),
        Some(500),
        NextAction::Retry(retry_at),
    );
    let failed_once = after(&claim.delivery, &failure);
    store
        .record_attempt(&failed_once, Some(&failure))
        .await
        .unwrap();

    let stored = store.get_delivery(&acme.id, &delivery.id).await.unwrap();
    assert_eq!(stored, Some(unleased(&failed_once)));
    assert_eq!(attempts_of(store, &delivery).await, vec![failure.clone()]);
    assert_eq!(store.next_due_at().await.unwrap(), Some(retry_at));
    assert_eq!(
        store
            .claim_due(just_before(retry_at), 10, LEASE)
            .await
            .unwrap(),
        []
    );

    let claim = store
        .claim_due(retry_at, 10, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        claim.delivery.attempts, 1,
        "a recorded attempt is not counted again"
    );
    assert_eq!(claim.delivery.lease_until, Some(plus(retry_at, LEASE_MS)));
    let success = attempt(&claim.delivery, at(32_010), Some(204), NextAction::Done);
    let delivered = after(&claim.delivery, &success);
    store
        .record_attempt(&delivered, Some(&success))
        .await
        .unwrap();

    let stored = store.get_delivery(&acme.id, &delivery.id).await.unwrap();
    assert_eq!(stored, Some(unleased(&delivered)));
    assert_eq!(attempts_of(store, &delivery).await, [success, failure]);
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert_eq!(
        store.claim_due(at(999_999_999), 10, LEASE).await.unwrap(),
        []
    );
}

/// A delivery recorded as `failed`, `succeeded` or `skipped` is never claimed again,
/// not even after its lease would have run out; recording without an attempt works.
pub async fn terminal_status_is_never_claimed(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let gives_up = pending(&sent, &target.id, at(2001), at(2000));
    let skipped = pending(&sent, &target.id, at(2002), at(2001));
    seed(store, &sent, &[gives_up.clone(), skipped.clone()]).await;

    let claims = store.claim_due(at(2001), 10, LEASE).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&gives_up, &skipped]));
    let gone = attempt(&claims[0].delivery, at(2010), Some(410), NextAction::GiveUp);
    let failed = after(&claims[0].delivery, &gone);
    store.record_attempt(&failed, Some(&gone)).await.unwrap();
    // A worker that finds the endpoint disabled records `skipped` without an attempt.
    let not_sent = Delivery {
        status: DeliveryStatus::Skipped,
        next_attempt_at: None,
        updated_at: at(2020),
        ..claims[1].delivery.clone()
    };
    store.record_attempt(&not_sent, None).await.unwrap();

    assert_eq!(store.next_due_at().await.unwrap(), None);
    for now in [at(2001 + LEASE_MS), at(999_999_999)] {
        assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap(), []);
    }
    let stored = store.get_delivery(&acme.id, &gives_up.id).await.unwrap();
    assert_eq!(stored, Some(unleased(&failed)));
    let stored = store.get_delivery(&acme.id, &skipped.id).await.unwrap();
    assert_eq!(stored, Some(unleased(&not_sent)));
    assert_eq!(attempts_of(store, &skipped).await, []);
}

/// `record_attempt` is `Conflict` for a delivery that is not leased (never claimed,
/// or already recorded) and for a claimant whose lease expired and was taken by
/// another; a refused record changes nothing and logs nothing.
pub async fn record_attempt_conflicts_without_lease(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let delivery = pending(&sent, &target.id, at(2001), at(2000));
    seed(store, &sent, std::slice::from_ref(&delivery)).await;

    // Never claimed.
    let premature = attempt(&delivery, at(1500), Some(200), NextAction::Done);
    let result = store
        .record_attempt(&after(&delivery, &premature), Some(&premature))
        .await;
    assert_eq!(error_kind(result), StoreErrorKind::Conflict);
    assert_eq!(
        store.get_delivery(&acme.id, &delivery.id).await.unwrap(),
        Some(delivery.clone())
    );
    assert_eq!(attempts_of(store, &delivery).await, []);

    // Worker A's lease expires and worker B takes the delivery: A may no longer record.
    let worker_a = store.claim_due(at(2000), 1, LEASE).await.unwrap().remove(0);
    let expiry = at(2000 + LEASE_MS);
    let worker_b = store.claim_due(expiry, 1, LEASE).await.unwrap().remove(0);
    assert_eq!(worker_b.delivery.id, delivery.id);
    let late = attempt(&worker_a.delivery, at(2010), Some(200), NextAction::Done);
    let result = store
        .record_attempt(&after(&worker_a.delivery, &late), Some(&late))
        .await;
    assert_eq!(error_kind(result), StoreErrorKind::Conflict);
    let stored = store
        .get_delivery(&acme.id, &delivery.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.lease_until, worker_b.delivery.lease_until);

    let current = attempt(
        &worker_b.delivery,
        plus(expiry, 10),
        Some(200),
        NextAction::Done,
    );
    let delivered = after(&worker_b.delivery, &current);
    store
        .record_attempt(&delivered, Some(&current))
        .await
        .unwrap();
    assert_eq!(
        store.get_delivery(&acme.id, &delivery.id).await.unwrap(),
        Some(unleased(&delivered))
    );
    let log = attempts_of(store, &delivery).await;
    let kinds: Vec<_> = log
        .iter()
        .map(|entry| (entry.attempt, entry.status_code))
        .collect();
    assert_eq!(
        kinds,
        [(2, Some(200)), (1, None)],
        "B's attempt, then the interrupted one"
    );

    // Already recorded.
    let again = store.record_attempt(&delivered, Some(&current)).await;
    assert_eq!(error_kind(again), StoreErrorKind::Conflict);
    assert_eq!(attempts_of(store, &delivery).await.len(), 2);
}

/// An endpoint deleted while its delivery is in flight: the record is accepted and
/// logged, but the delivery stays `cancelled` and is never claimed again.
pub async fn record_after_endpoint_deleted_stays_cancelled(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let recorded = pending(&sent, &target.id, at(2001), at(2000));
    let abandoned = pending(&sent, &target.id, at(2002), at(2001));
    seed(store, &sent, &[recorded.clone(), abandoned.clone()]).await;

    let claims = store.claim_due(at(2001), 10, LEASE).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&recorded, &abandoned]));
    assert!(store
        .delete_endpoint(&acme.id, &target.id, at(2005))
        .await
        .unwrap());
    assert_eq!(
        store.next_due_at().await.unwrap(),
        None,
        "cancelled leases are not due"
    );

    let failure = attempt(
        &claims[0].delivery,
        at(2010),
        Some(503),
        NextAction::Retry(at(32_000)),
    );
    store
        .record_attempt(&after(&claims[0].delivery, &failure), Some(&failure))
        .await
        .unwrap();
    let stored = store
        .get_delivery(&acme.id, &recorded.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Cancelled);
    assert_eq!(stored.next_attempt_at, None);
    assert_eq!(stored.lease_until, None);
    assert_eq!(attempts_of(store, &recorded).await, [failure]);

    // The other worker never records; its lease runs out, yet nothing is retried.
    for now in [at(32_000), at(2001 + LEASE_MS), at(999_999_999)] {
        assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap(), []);
    }
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let stored = store
        .get_delivery(&acme.id, &abandoned.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Cancelled);
    assert_eq!(attempts_of(store, &abandoned).await, []);
}

/// The attempt log lists newest first, filtered by endpoint, event, delivery, status
/// code and success (alone and combined), per tenant, in pages.
pub async fn list_attempts_filters_and_pages(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let globex = tenant("globex", at(0));
    let first = endpoint(&acme.id, at(1000));
    let second = endpoint(&acme.id, at(1100));
    let foreign = endpoint(&globex.id, at(1200));
    seed_tenant(store, &acme, &[&first, &second]).await;
    seed_tenant(store, &globex, &[&foreign]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let opened = event(&acme.id, "evt-2", "email.opened", at(2000));
    let theirs = event(&globex.id, "evt-1", "email.sent", at(2000));
    let d1 = pending(&sent, &first.id, at(2001), at(2000));
    let d2 = pending(&sent, &second.id, at(2002), at(2000));
    let d3 = pending(&opened, &first.id, at(2003), at(2000));
    let d4 = pending(&theirs, &foreign.id, at(2004), at(2000));
    seed(store, &sent, &[d1.clone(), d2.clone()]).await;
    seed(store, &opened, std::slice::from_ref(&d3)).await;
    seed(store, &theirs, std::slice::from_ref(&d4)).await;

    let retry_at = at(32_000);
    let record = |claim: Claim, started: u64, status: Option<u16>, next: NextAction| async move {
        let logged = attempt(&claim.delivery, at(started), status, next);
        store
            .record_attempt(&after(&claim.delivery, &logged), Some(&logged))
            .await
            .unwrap();
        logged
    };
    let claim_of = |claims: &[Claim], delivery: &Delivery| {
        claims
            .iter()
            .find(|claim| claim.delivery.id == delivery.id)
            .cloned()
            .unwrap()
    };
    let claims = store.claim_due(at(2000), 10, LEASE).await.unwrap();
    let a1 = record(
        claim_of(&claims, &d1),
        2100,
        Some(500),
        NextAction::Retry(retry_at),
    )
    .await;
    let a2 = record(claim_of(&claims, &d2), 2200, Some(200), NextAction::Done).await;
    let a3 = record(
        claim_of(&claims, &d3),
        2300,
        None,
        NextAction::Retry(retry_at),
    )
    .await;
    let a4_theirs = record(claim_of(&claims, &d4), 2400, Some(200), NextAction::Done).await;
    let claims = store.claim_due(retry_at, 10, LEASE).await.unwrap();
    let a5 = record(claim_of(&claims, &d1), 32_100, Some(201), NextAction::Done).await;
    let a6 = record(
        claim_of(&claims, &d3),
        32_200,
        Some(410),
        NextAction::GiveUp,
    )
    .await;

    let acme_id = &acme.id;
    let list = |filter: AttemptFilter, page: PageRequest| async move {
        let listed = store.list_attempts(acme_id, &filter, &page).await.unwrap();
        (listed.items, listed.next_cursor)
    };
    let ten = || PageRequest::first(10);
    let none = AttemptFilter::default();
    let by_endpoint = |endpoint: &herald_event::Endpoint| AttemptFilter {
        endpoint_id: Some(endpoint.id.clone()),
        ..Default::default()
    };
    let by_event = |event: &herald_event::Event| AttemptFilter {
        event_id: Some(event.id.clone()),
        ..Default::default()
    };
    let by_delivery = |delivery: &Delivery| AttemptFilter {
        delivery_id: Some(delivery.id.clone()),
        ..Default::default()
    };
    let by_code = |code| AttemptFilter {
        status_code: Some(code),
        ..Default::default()
    };
    let by_success = |wanted| AttemptFilter {
        succeeded: Some(wanted),
        ..Default::default()
    };
    let all_acme = [a6.clone(), a5.clone(), a3.clone(), a2.clone(), a1.clone()];

    assert_eq!(list(none.clone(), ten()).await, (all_acme.to_vec(), None));
    assert_eq!(
        list(by_endpoint(&first), ten()).await.0,
        [a6.clone(), a5.clone(), a3.clone(), a1.clone()]
    );
    assert_eq!(list(by_endpoint(&second), ten()).await.0, vec![a2.clone()]);
    assert_eq!(
        list(by_event(&sent), ten()).await.0,
        [a5.clone(), a2.clone(), a1.clone()]
    );
    assert_eq!(
        list(by_event(&opened), ten()).await.0,
        [a6.clone(), a3.clone()]
    );
    assert_eq!(
        list(by_delivery(&d1), ten()).await.0,
        [a5.clone(), a1.clone()]
    );
    assert_eq!(list(by_code(200), ten()).await.0, vec![a2.clone()]);
    assert_eq!(list(by_code(410), ten()).await.0, vec![a6.clone()]);
    assert_eq!(
        list(by_success(true), ten()).await.0,
        [a5.clone(), a2.clone()]
    );
    assert_eq!(
        list(by_success(false), ten()).await.0,
        [a6.clone(), a3.clone(), a1.clone()]
    );
    let sent_failures = AttemptFilter {
        succeeded: Some(false),
        ..by_event(&sent)
    };
    assert_eq!(list(sent_failures, ten()).await.0, vec![a1.clone()]);
    let gone_of_d3 = AttemptFilter {
        status_code: Some(410),
        ..by_delivery(&d3)
    };
    assert_eq!(list(gone_of_d3, ten()).await.0, vec![a6.clone()]);
    let first_successes = AttemptFilter {
        succeeded: Some(true),
        ..by_endpoint(&first)
    };
    assert_eq!(list(first_successes, ten()).await.0, vec![a5.clone()]);
    let mismatch = AttemptFilter {
        endpoint_id: Some(second.id.clone()),
        ..by_delivery(&d1)
    };
    assert_eq!(list(mismatch, ten()).await, (Vec::new(), None));

    // Pages, with and without filters, each ending without a cursor.
    let pages = [
        (
            none.clone(),
            2,
            vec![vec![&a6, &a5], vec![&a3, &a2], vec![&a1]],
        ),
        (by_event(&sent), 2, vec![vec![&a5, &a2], vec![&a1]]),
        (by_delivery(&d1), 1, vec![vec![&a5], vec![&a1]]),
        (by_success(false), 2, vec![vec![&a6, &a3], vec![&a1]]),
        (by_endpoint(&first), 3, vec![vec![&a6, &a5, &a3], vec![&a1]]),
    ];
    for (filter, limit, expected_pages) in pages {
        let mut cursor = None;
        for (index, expected) in expected_pages.iter().enumerate() {
            let (items, next_cursor) = list(filter.clone(), PageRequest { limit, cursor }).await;
            let expected: Vec<Attempt> = expected.iter().map(|&entry| entry.clone()).collect();
            assert_eq!(items, expected, "page {index} of {filter:?}");
            let last = index + 1 == expected_pages.len();
            assert_eq!(
                next_cursor.is_none(),
                last,
                "cursor after page {index} of {filter:?}"
            );
            cursor = next_cursor;
        }
    }

    // Another tenant sees only its own log, whatever the filter names: its event has
    // the same client-chosen id as acme's first one, and only its own attempt matches.
    let globex_id = TenantId::new("globex");
    let their_log = store
        .list_attempts(&globex_id, &none, &ten())
        .await
        .unwrap();
    assert_eq!(their_log.items, vec![a4_theirs.clone()]);
    let same_event_id = store
        .list_attempts(&globex_id, &by_event(&sent), &ten())
        .await
        .unwrap();
    assert_eq!(same_event_id.items, [a4_theirs]);
    for filter in [by_delivery(&d1), by_endpoint(&first), by_event(&opened)] {
        let peek = store
            .list_attempts(&globex_id, &filter, &ten())
            .await
            .unwrap();
        assert_eq!(
            ids(&peek.items, |entry| entry.id.as_str()),
            Vec::<String>::new(),
            "{filter:?}"
        );
    }
}

/// A delivery's attempt log survives every later change to the delivery: a new claim,
/// a record that gives up, a recovery, and the deletion of its endpoint. Listed by
/// delivery and by event, newest first.
pub async fn attempt_log_survives_every_change_to_its_delivery(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let delivery = pending(&sent, &target.id, at(2001), at(2000));
    seed(store, &sent, std::slice::from_ref(&delivery)).await;

    let claim = store.claim_due(at(2000), 1, LEASE).await.unwrap().remove(0);
    let first = attempt(
        &claim.delivery,
        at(2010),
        Some(500),
        NextAction::Retry(at(32_000)),
    );
    let moved = after(&claim.delivery, &first);
    store.record_attempt(&moved, Some(&first)).await.unwrap();

    let claim = store
        .claim_due(at(32_000), 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    let second = attempt(&claim.delivery, at(32_010), Some(410), NextAction::GiveUp);
    let moved = after(&claim.delivery, &second);
    store.record_attempt(&moved, Some(&second)).await.unwrap();

    let recovered = store
        .recover_deliveries(&acme.id, &target.id, at(0), at(60_000))
        .await
        .unwrap();
    assert_eq!(recovered, 1);
    let claim = store
        .claim_due(at(60_000), 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    let third = attempt(
        &claim.delivery,
        at(60_010),
        None,
        NextAction::Retry(at(180_000)),
    );
    let moved = after(&claim.delivery, &third);
    store.record_attempt(&moved, Some(&third)).await.unwrap();
    assert!(store
        .delete_endpoint(&acme.id, &target.id, at(90_000))
        .await
        .unwrap());

    let expected = vec![third, second, first];
    assert_eq!(attempts_of(store, &delivery).await, expected);
    let by_event = store
        .list_attempts(
            &acme.id,
            &AttemptFilter {
                event_id: Some(sent.id.clone()),
                ..Default::default()
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(by_event.items, expected);
    let stored = store
        .get_delivery(&acme.id, &delivery.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Cancelled);
    assert_eq!(stored.attempts, 3);
}
