//! Deliveries leased at ingest and handed over in memory (the `fresh` module).
//!
//! The mark of a hand-over is the lease: counted from the event's ingest, where a claim
//! through the queues leases from the claim's `now`. Each test first claims once (on an
//! empty store), as the engine does, so the store knows which lease to give.

use std::time::Duration;

use herald_event::{DeliveryStatus, Endpoint};
use herald_store::{AttemptFilter, PageRequest, Store};
use herald_store_sled::SledStore;

use crate::support::{at, delivery, endpoint, event, open_at, tenant, T0};

const LEASE: Duration = Duration::from_secs(60);

/// A store that has seen the engine's first claim, with tenant `acme` and one endpoint.
async fn started(store: SledStore) -> (SledStore, Endpoint) {
    let acme = tenant("acme");
    store.create_tenant(&acme).await.unwrap();
    let target = endpoint(&acme.id, at(1000));
    store.put_endpoint(&target).await.unwrap();
    assert!(store
        .claim_due(at(1500), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    (store, target)
}

fn temporary() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(dir.path(), T0);
    (dir, store)
}

#[tokio::test]
async fn a_new_delivery_is_handed_over_once_with_the_lease_taken_at_ingest() {
    let (_dir, store) = temporary();
    let (store, target) = started(store).await;
    let sent = event(&target.tenant, "evt-1", at(2000));
    let pending = delivery(&sent, &target.id);
    store
        .insert_event(&sent, std::slice::from_ref(&pending))
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(2000)));
    // Not due before its event was received.
    assert!(store
        .claim_due(at(1999), 10, LEASE)
        .await
        .unwrap()
        .is_empty());

    let claims = store.claim_due(at(2010), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    let claim = &claims[0];
    assert_eq!(claim.delivery.id, pending.id);
    assert_eq!(claim.delivery.lease_until, Some(at(2000 + 60_000)));
    assert_eq!(claim.event, sent);
    assert_eq!(claim.endpoint.as_ref(), Some(&target));
    let stored = store
        .get_delivery(&target.tenant, &pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.lease_until, Some(at(62_000)));
    // Taken once: neither the memory nor the lease queue gives it again before the
    // lease runs out.
    assert!(store
        .claim_due(at(2020), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .claim_due(at(61_999), 10, LEASE)
        .await
        .unwrap()
        .is_empty());

    let mut done = claim.delivery.clone();
    done.status = DeliveryStatus::Succeeded;
    done.attempts = 1;
    done.next_attempt_at = None;
    store.record_attempt(&done, None).await.unwrap();
    let stored = store
        .get_delivery(&target.tenant, &pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.status, stored.lease_until),
        (DeliveryStatus::Succeeded, None)
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert!(store
        .claim_due(at(999_999), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_changed_endpoint_is_read_again_and_the_lease_taken_from_now() {
    let (_dir, store) = temporary();
    let (store, target) = started(store).await;
    let sent = event(&target.tenant, "evt-2", at(2000));
    let pending = delivery(&sent, &target.id);
    store
        .insert_event(&sent, std::slice::from_ref(&pending))
        .await
        .unwrap();
    let mut moved = target.clone();
    moved.url = "https://moved.example.com/hooks".to_owned();
    moved.updated_at = at(2005);
    store.put_endpoint(&moved).await.unwrap();

    let claims = store.claim_due(at(2010), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].endpoint.as_ref(), Some(&moved));
    assert_eq!(claims[0].delivery.lease_until, Some(at(2010 + 60_000)));
    let stored = store
        .get_delivery(&target.tenant, &pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.lease_until, Some(at(62_010)));
    // The lease taken at ingest is gone from the lease queue.
    assert!(store
        .claim_due(at(62_000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(62_010)));
}

#[tokio::test]
async fn a_delivery_whose_endpoint_was_deleted_is_not_handed_over() {
    let (_dir, store) = temporary();
    let (store, target) = started(store).await;
    let sent = event(&target.tenant, "evt-3", at(2000));
    let pending = delivery(&sent, &target.id);
    store
        .insert_event(&sent, std::slice::from_ref(&pending))
        .await
        .unwrap();
    assert!(store
        .delete_endpoint(&target.tenant, &target.id, at(2005))
        .await
        .unwrap());

    assert!(store
        .claim_due(at(2010), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    let stored = store
        .get_delivery(&target.tenant, &pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Cancelled);
    assert!(store
        .claim_due(at(999_999), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_claim_kept_waiting_longer_than_a_second_is_leased_again() {
    let (_dir, store) = temporary();
    let (store, target) = started(store).await;
    let sent = event(&target.tenant, "evt-4", at(2000));
    let pending = delivery(&sent, &target.id);
    store
        .insert_event(&sent, std::slice::from_ref(&pending))
        .await
        .unwrap();
    // Exactly one second late still goes as it is...
    let claims = store.claim_due(at(3000), 10, LEASE).await.unwrap();
    assert_eq!(claims[0].delivery.lease_until, Some(at(62_000)));

    let later = event(&target.tenant, "evt-5", at(4000));
    let waiting = delivery(&later, &target.id);
    store
        .insert_event(&later, std::slice::from_ref(&waiting))
        .await
        .unwrap();
    // ...one millisecond more is claimed through the lease queue, from now, and is not
    // logged as interrupted (its attempt never started).
    let claims = store.claim_due(at(5001), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].delivery.id, waiting.id);
    assert_eq!(claims[0].delivery.lease_until, Some(at(65_001)));
    assert_eq!(claims[0].delivery.attempts, 0);
    let log = store
        .list_attempts(
            &target.tenant,
            &AttemptFilter::default(),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(log.items, vec![]);
}

#[tokio::test]
async fn claims_in_memory_and_in_the_due_queue_go_oldest_first() {
    let (_dir, store) = temporary();
    let (store, target) = started(store).await;
    // A retry due at 2.5 s, written to the due queue (not due at ingest).
    let first = event(&target.tenant, "evt-early", at(2000));
    let mut retry = delivery(&first, &target.id);
    retry.attempts = 1;
    retry.next_attempt_at = Some(at(2500));
    store
        .insert_event(&first, std::slice::from_ref(&retry))
        .await
        .unwrap();
    // New events at 2.2 s and 3 s, handed over in memory.
    let middle = event(&target.tenant, "evt-middle", at(2200));
    let middle_delivery = delivery(&middle, &target.id);
    let last = event(&target.tenant, "evt-last", at(3000));
    let last_delivery = delivery(&last, &target.id);
    let outcomes = store
        .insert_events(&[
            (middle.clone(), vec![middle_delivery.clone()]),
            (last.clone(), vec![last_delivery.clone()]),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 2);

    let claims = store.claim_due(at(3000), 10, LEASE).await.unwrap();
    let order: Vec<_> = claims
        .iter()
        .map(|claim| (claim.delivery.id.clone(), claim.delivery.lease_until))
        .collect();
    assert_eq!(
        order,
        vec![
            (middle_delivery.id, Some(at(62_200))),
            (retry.id, Some(at(63_000))),
            (last_delivery.id, Some(at(63_000))),
        ]
    );
    // `max` bounds the memory too.
    let next = event(&target.tenant, "evt-next", at(4000));
    let next_delivery = delivery(&next, &target.id);
    store
        .insert_event(&next, std::slice::from_ref(&next_delivery))
        .await
        .unwrap();
    assert!(store
        .claim_due(at(4000), 0, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.claim_due(at(4000), 1, LEASE).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_orderly_close_returns_unclaimed_deliveries_to_the_due_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (store, target) = started(open_at(dir.path(), T0)).await;
    let sent = event(&target.tenant, "evt-6", at(2000));
    let pending = delivery(&sent, &target.id);
    store
        .insert_event(&sent, std::slice::from_ref(&pending))
        .await
        .unwrap();
    drop(store);

    let store = open_at(dir.path(), at(10_000));
    let stored = store
        .get_delivery(&target.tenant, &pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, pending, "pending, due at ingest, not leased");
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(2000)));
    let claims = store.claim_due(at(10_000), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].delivery.attempts, 0);
    assert_eq!(claims[0].delivery.lease_until, Some(at(70_000)));
    let log = store
        .list_attempts(
            &target.tenant,
            &AttemptFilter::default(),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(log.items, vec![], "nothing was interrupted");
}
