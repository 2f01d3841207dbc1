//! Checks of the due queue: claims, leases, recording attempts, recovery, the log.

use std::time::Duration;

use herald_event::{Attempt, Delivery, DeliveryStatus, ErrorKind, NextAction, TenantId};

use super::fixtures::{
    after, at, attempt, delivery_ids, endpoint, error_kind, event, ids, just_before, pending,
    plus, seed, seed_tenant, settled, tenant, unleased, LEASE, T0,
};
use crate::{AttemptFilter, Claim, PageRequest, Store, StoreErrorKind};

const LEASE_MS: u64 = 60_000;

fn claimed_ids(claims: &[Claim]) -> Vec<String> {
    claims.iter().map(|claim| claim.delivery.id.to_string()).collect()
}

async fn attempts_of(store: &dyn Store, delivery: &Delivery) -> Vec<Attempt> {
    let filter = AttemptFilter { delivery_id: Some(delivery.id.clone()), ..Default::default() };
    let page = store.list_attempts(&delivery.tenant, &filter, &PageRequest::first(100)).await;
    page.unwrap().items
}

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
    let deliveries = [&due_300, &due_100, &due_400, &due_200, &succeeded, &failed, &skipped];
    seed(store, &sent, &deliveries.map(Delivery::clone)).await;

    assert_eq!(claimed_ids(&store.claim_due(at(99_999), 10, HOUR).await.unwrap()), Vec::<String>::new());
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
        let stored = store.get_delivery(&acme.id, &expected.id).await.unwrap().unwrap();
        assert_eq!(stored.lease_until, Some(lease_until));
    }
    // Leased: not claimed again before the lease expires.
    assert_eq!(claimed_ids(&store.claim_due(at(250_000), 10, HOUR).await.unwrap()), Vec::<String>::new());

    // Due exactly now counts as due; `max` caps the batch, oldest first.
    let claims = store.claim_due(at(300_000), 1, HOUR).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&due_300]));
    let claims = store.claim_due(at(300_000), 1, HOUR).await.unwrap();
    assert_eq!(claims, []);
    let claims = store.claim_due(at(400_000), 5, HOUR).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&due_400]));

    // A delivery stored for an endpoint deleted meanwhile (fan-out raced the delete)
    // comes with no endpoint.
    assert!(store.delete_endpoint(&acme.id, &doomed.id, at(500_000)).await.unwrap());
    let orphan = pending(&sent, &doomed.id, at(500_001), at(500_001));
    store.insert_deliveries(&[orphan.clone()]).await.unwrap();
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
    seed(store, &sent, &[delivery.clone()]).await;

    let claims = store.claim_due(at(2000), 10, LEASE).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&delivery]));
    let expiry = at(2000 + LEASE_MS);
    assert_eq!(store.next_due_at().await.unwrap(), Some(expiry));
    assert_eq!(store.claim_due(just_before(expiry), 10, LEASE).await.unwrap(), []);
    assert_eq!(attempts_of(store, &delivery).await, []);

    let claims = store.claim_due(expiry, 10, LEASE).await.unwrap();
    assert_eq!(claimed_ids(&claims), delivery_ids(&[&delivery]));
    let retaken = &claims[0].delivery;
    assert_eq!(retaken.attempts, 1);
    assert_eq!(retaken.status, DeliveryStatus::Pending);
    assert_eq!(retaken.lease_until, Some(plus(expiry, LEASE_MS)));
    let stored = store.get_delivery(&acme.id, &delivery.id).await.unwrap().unwrap();
    assert_eq!(stored.attempts, 1);

    let log = attempts_of(store, &delivery).await;
    assert_eq!(log.len(), 1, "one interrupted attempt: {log:?}");
    let interrupted = &log[0];
    assert_eq!(interrupted.attempt, 1);
    assert_eq!(interrupted.tenant, acme.id);
    assert_eq!(interrupted.event_id, sent.id);
    assert_eq!(interrupted.endpoint_id, target.id);
    assert_eq!(interrupted.status_code, None);
    assert_eq!(interrupted.error.as_ref().map(|error| error.kind), Some(ErrorKind::Interrupted));
    assert!(!interrupted.succeeded());
    assert_eq!(store.next_due_at().await.unwrap(), Some(plus(expiry, LEASE_MS)));
}

/// Recording an attempt clears the lease, stores the worker's delivery as given and
/// logs the attempt atomically; the delivery is claimable again at its next time and
/// not before (and, having been recorded, without an `interrupted` entry).
pub async fn record_attempt_schedules_next(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let delivery = pending(&sent, &target.id, at(2001), at(2000));
    seed(store, &sent, &[delivery.clone()]).await;

    let claim = store.claim_due(at(2000), 1, LEASE).await.unwrap().remove(0);
    let retry_at = at(32_000);
    let failure = attempt(&claim.delivery, at(2010), Some(500), NextAction::Retry(retry_at));
    let failed_once = after(&claim.delivery, &failure);
    store.record_attempt(&failed_once, Some(&failure)).await.unwrap();

    let stored = store.get_delivery(&acme.id, &delivery.id).await.unwrap();
    assert_eq!(stored, Some(unleased(&failed_once)));
    assert_eq!(attempts_of(store, &delivery).await, [failure.clone()]);
    assert_eq!(store.next_due_at().await.unwrap(), Some(retry_at));
    assert_eq!(store.claim_due(just_before(retry_at), 10, LEASE).await.unwrap(), []);

    let claim = store.claim_due(retry_at, 10, LEASE).await.unwrap().remove(0);
    assert_eq!(claim.delivery.attempts, 1, "a recorded attempt is not counted again");
    assert_eq!(claim.delivery.lease_until, Some(plus(retry_at, LEASE_MS)));
    let success = attempt(&claim.delivery, at(32_010), Some(204), NextAction::Done);
    let delivered = after(&claim.delivery, &success);
    store.record_attempt(&delivered, Some(&success)).await.unwrap();

    let stored = store.get_delivery(&acme.id, &delivery.id).await.unwrap();
    assert_eq!(stored, Some(unleased(&delivered)));
    assert_eq!(attempts_of(store, &delivery).await, [success, failure]);
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert_eq!(store.claim_due(at(999_999_999), 10, LEASE).await.unwrap(), []);
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
    seed(store, &sent, &[delivery.clone()]).await;

    // Never claimed.
    let premature = attempt(&delivery, at(1500), Some(200), NextAction::Done);
    let result = store.record_attempt(&after(&delivery, &premature), Some(&premature)).await;
    assert_eq!(error_kind(result), StoreErrorKind::Conflict);
    assert_eq!(store.get_delivery(&acme.id, &delivery.id).await.unwrap(), Some(delivery.clone()));
    assert_eq!(attempts_of(store, &delivery).await, []);

    // Worker A's lease expires and worker B takes the delivery: A may no longer record.
    let worker_a = store.claim_due(at(2000), 1, LEASE).await.unwrap().remove(0);
    let expiry = at(2000 + LEASE_MS);
    let worker_b = store.claim_due(expiry, 1, LEASE).await.unwrap().remove(0);
    assert_eq!(worker_b.delivery.id, delivery.id);
    let late = attempt(&worker_a.delivery, at(2010), Some(200), NextAction::Done);
    let result = store.record_attempt(&after(&worker_a.delivery, &late), Some(&late)).await;
    assert_eq!(error_kind(result), StoreErrorKind::Conflict);
    let stored = store.get_delivery(&acme.id, &delivery.id).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.lease_until, worker_b.delivery.lease_until);

    let current = attempt(&worker_b.delivery, plus(expiry, 10), Some(200), NextAction::Done);
    let delivered = after(&worker_b.delivery, &current);
    store.record_attempt(&delivered, Some(&current)).await.unwrap();
    assert_eq!(store.get_delivery(&acme.id, &delivery.id).await.unwrap(), Some(unleased(&delivered)));
    let log = attempts_of(store, &delivery).await;
    let kinds: Vec<_> = log.iter().map(|entry| (entry.attempt, entry.status_code)).collect();
    assert_eq!(kinds, [(2, Some(200)), (1, None)], "B's attempt, then the interrupted one");

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
    assert!(store.delete_endpoint(&acme.id, &target.id, at(2005)).await.unwrap());

    let failure = attempt(&claims[0].delivery, at(2010), Some(503), NextAction::Retry(at(32_000)));
    store.record_attempt(&after(&claims[0].delivery, &failure), Some(&failure)).await.unwrap();
    let stored = store.get_delivery(&acme.id, &recorded.id).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Cancelled);
    assert_eq!(stored.next_attempt_at, None);
    assert_eq!(stored.lease_until, None);
    assert_eq!(attempts_of(store, &recorded).await, [failure]);

    // The other worker never records; its lease runs out, yet nothing is retried.
    for now in [at(32_000), at(2001 + LEASE_MS), at(999_999_999)] {
        assert_eq!(store.claim_due(now, 10, LEASE).await.unwrap(), []);
    }
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let stored = store.get_delivery(&acme.id, &abandoned.id).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Cancelled);
    assert_eq!(attempts_of(store, &abandoned).await, []);
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

    let claim = store.claim_due(at(100_000), 10, LEASE).await.unwrap().remove(0);
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(100_000 + LEASE_MS)));
    let delivered = attempt(&claim.delivery, at(100_010), Some(200), NextAction::Done);
    store.record_attempt(&after(&claim.delivery, &delivered), Some(&delivered)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(500_000)));

    let claim = store.claim_due(at(500_000), 10, LEASE).await.unwrap().remove(0);
    assert_eq!(claim.delivery.id, late.id);
    let delivered = attempt(&claim.delivery, at(500_010), Some(200), NextAction::Done);
    store.record_attempt(&after(&claim.delivery, &delivered), Some(&delivered)).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
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
    seed(store, &opened, &[d3.clone()]).await;
    seed(store, &theirs, &[d4.clone()]).await;

    let retry_at = at(32_000);
    let record = |claim: Claim, started: u64, status: Option<u16>, next: NextAction| async move {
        let logged = attempt(&claim.delivery, at(started), status, next);
        store.record_attempt(&after(&claim.delivery, &logged), Some(&logged)).await.unwrap();
        logged
    };
    let claim_of = |claims: &[Claim], delivery: &Delivery| {
        claims.iter().find(|claim| claim.delivery.id == delivery.id).cloned().unwrap()
    };
    let claims = store.claim_due(at(2000), 10, LEASE).await.unwrap();
    let a1 = record(claim_of(&claims, &d1), 2100, Some(500), NextAction::Retry(retry_at)).await;
    let a2 = record(claim_of(&claims, &d2), 2200, Some(200), NextAction::Done).await;
    let a3 = record(claim_of(&claims, &d3), 2300, None, NextAction::Retry(retry_at)).await;
    let a4_theirs = record(claim_of(&claims, &d4), 2400, Some(200), NextAction::Done).await;
    let claims = store.claim_due(retry_at, 10, LEASE).await.unwrap();
    let a5 = record(claim_of(&claims, &d1), 32_100, Some(201), NextAction::Done).await;
    let a6 = record(claim_of(&claims, &d3), 32_200, Some(410), NextAction::GiveUp).await;

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
    let by_code = |code| AttemptFilter { status_code: Some(code), ..Default::default() };
    let by_success = |wanted| AttemptFilter { succeeded: Some(wanted), ..Default::default() };
    let all_acme = [a6.clone(), a5.clone(), a3.clone(), a2.clone(), a1.clone()];

    assert_eq!(list(none.clone(), ten()).await, (all_acme.to_vec(), None));
    assert_eq!(list(by_endpoint(&first), ten()).await.0, [a6.clone(), a5.clone(), a3.clone(), a1.clone()]);
    assert_eq!(list(by_endpoint(&second), ten()).await.0, [a2.clone()]);
    assert_eq!(list(by_event(&sent), ten()).await.0, [a5.clone(), a2.clone(), a1.clone()]);
    assert_eq!(list(by_event(&opened), ten()).await.0, [a6.clone(), a3.clone()]);
    assert_eq!(list(by_delivery(&d1), ten()).await.0, [a5.clone(), a1.clone()]);
    assert_eq!(list(by_code(200), ten()).await.0, [a2.clone()]);
    assert_eq!(list(by_code(410), ten()).await.0, [a6.clone()]);
    assert_eq!(list(by_success(true), ten()).await.0, [a5.clone(), a2.clone()]);
    assert_eq!(list(by_success(false), ten()).await.0, [a6.clone(), a3.clone(), a1.clone()]);
    let sent_failures = AttemptFilter { succeeded: Some(false), ..by_event(&sent) };
    assert_eq!(list(sent_failures, ten()).await.0, [a1.clone()]);
    let gone_of_d3 = AttemptFilter { status_code: Some(410), ..by_delivery(&d3) };
    assert_eq!(list(gone_of_d3, ten()).await.0, [a6.clone()]);
    let first_successes = AttemptFilter { succeeded: Some(true), ..by_endpoint(&first) };
    assert_eq!(list(first_successes, ten()).await.0, [a5.clone()]);
    let mismatch = AttemptFilter { endpoint_id: Some(second.id.clone()), ..by_delivery(&d1) };
    assert_eq!(list(mismatch, ten()).await, (Vec::new(), None));

    // Pages, with and without filters, each ending without a cursor.
    let pages = [
        (none.clone(), 2, vec![vec![&a6, &a5], vec![&a3, &a2], vec![&a1]]),
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
            assert_eq!(next_cursor.is_none(), last, "cursor after page {index} of {filter:?}");
            cursor = next_cursor;
        }
    }

    // Another tenant sees only its own log, whatever the filter names: its event has
    // the same client-chosen id as acme's first one, and only its own attempt matches.
    let globex_id = TenantId::new("globex");
    let their_log = store.list_attempts(&globex_id, &none, &ten()).await.unwrap();
    assert_eq!(their_log.items, [a4_theirs.clone()]);
    let same_event_id = store.list_attempts(&globex_id, &by_event(&sent), &ten()).await.unwrap();
    assert_eq!(same_event_id.items, [a4_theirs]);
    for filter in [by_delivery(&d1), by_endpoint(&first), by_event(&opened)] {
        let peek = store.list_attempts(&globex_id, &filter, &ten()).await.unwrap();
        assert_eq!(ids(&peek.items, |entry| entry.id.as_str()), Vec::<String>::new(), "{filter:?}");
    }
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
    let too_old = settled(&sent, &target.id, just_before(since), DeliveryStatus::Failed);
    let succeeded = settled(&sent, &target.id, at(300_000), DeliveryStatus::Succeeded);
    let cancelled = settled(&sent, &target.id, at(300_001), DeliveryStatus::Cancelled);
    let waiting = pending(&sent, &target.id, at(300_002), at(36_000_000));
    let elsewhere = settled(&sent, &other.id, at(300_003), DeliveryStatus::Failed);
    let untouched = [&too_old, &succeeded, &cancelled, &waiting, &elsewhere];
    let mut deliveries: Vec<Delivery> = untouched.iter().map(|&delivery| delivery.clone()).collect();
    deliveries.extend([exhausted.clone(), skipped.clone()]);
    seed(store, &sent, &deliveries).await;

    let now = at(3_600_000);
    let globex = TenantId::new("globex");
    assert_eq!(store.recover_deliveries(&globex, &target.id, T0, now).await.unwrap(), 0);
    let recovered = store.recover_deliveries(&acme.id, &target.id, since, now).await.unwrap();
    assert_eq!(recovered, 2);

    let stored = store.get_delivery(&acme.id, &exhausted.id).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.next_attempt_at, Some(now));
    assert_eq!(stored.attempts, 11);
    assert_eq!(stored.round_base, 11);
    assert_eq!(stored.round_started_at, None);
    assert_eq!(stored.lease_until, None);
    let stored = store.get_delivery(&acme.id, &skipped.id).await.unwrap().unwrap();
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
    assert!(claims.iter().all(|claim| claim.delivery.round_base == claim.delivery.attempts));
    let log = store.list_attempts(&acme.id, &AttemptFilter::default(), &PageRequest::first(10)).await;
    assert_eq!(log.unwrap().items, [], "recovery is not an interrupted attempt");

    // They are pending now, so a second recovery finds nothing.
    assert_eq!(store.recover_deliveries(&acme.id, &target.id, since, now).await.unwrap(), 0);
}
