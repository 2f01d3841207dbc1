//! Closing and reopening one data directory: what was written is still there, and the
//! leases of the previous run are released at open (DESIGN section 4).
//!
//! Dropping the store stands in for the crash: the claims below are never recorded,
//! exactly as when a worker dies mid-attempt. (A real SIGKILL is covered by the e2e
//! test of the `herald` binary.)

use std::time::Duration;

use herald_event::{DeliveryStatus, ErrorKind};
use herald_store::{AttemptFilter, EventFilter, InsertOutcome, PageRequest, Store};

use crate::support::{at, delivery, endpoint, event, open_at, succeeded, tenant, T0};

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn written_data_is_found_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(1000));
    let sent = event(&acme.id, "evt-1", at(2000));
    let pending = delivery(&sent, &target.id);
    {
        let store = open_at(dir.path(), T0);
        store.put_setting("admin_key_hash", b"hash").await.unwrap();
        store.create_tenant(&acme).await.unwrap();
        store.put_endpoint(&target).await.unwrap();
        let outcome = store
            .insert_event(&sent, std::slice::from_ref(&pending))
            .await
            .unwrap();
        assert_eq!(outcome, InsertOutcome::Inserted);
    }

    let store = open_at(dir.path(), at(3000));
    assert_eq!(
        store.get_setting("admin_key_hash").await.unwrap(),
        Some(b"hash".to_vec())
    );
    assert_eq!(
        store.get_tenant(&acme.id).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(
        store.get_endpoint(&acme.id, &target.id).await.unwrap(),
        Some(target.clone())
    );
    assert_eq!(*store.tenant_endpoints(&acme.id).await.unwrap(), [target]);
    assert_eq!(
        store.get_event(&acme.id, &sent.id).await.unwrap(),
        Some(sent.clone())
    );
    let all_events = EventFilter::default();
    let events = store
        .list_events(&acme.id, &all_events, &PageRequest::first(10))
        .await;
    assert_eq!(events.unwrap().items, vec![sent.clone()]);
    assert_eq!(
        store.get_delivery(&acme.id, &pending.id).await.unwrap(),
        Some(pending.clone())
    );
    // The due queue survived too, and the event is still a duplicate of itself.
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(2000)));
    let claims = store.claim_due(at(3000), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].delivery.id, pending.id);
    let again = store.insert_event(&sent, &[]).await.unwrap();
    assert_eq!(
        again,
        InsertOutcome::Duplicate {
            event: sent,
            deliveries: 1
        }
    );
}

#[tokio::test]
async fn leases_of_the_previous_run_are_released_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let acme = tenant("acme");
    let kept = endpoint(&acme.id, at(1000));
    let doomed = endpoint(&acme.id, at(1100));
    let sent = event(&acme.id, "evt-1", at(2000));
    let to_kept = delivery(&sent, &kept.id);
    let to_doomed = delivery(&sent, &doomed.id);
    {
        let store = open_at(dir.path(), T0);
        store.create_tenant(&acme).await.unwrap();
        store.put_endpoint(&kept).await.unwrap();
        store.put_endpoint(&doomed).await.unwrap();
        store
            .insert_event(&sent, &[to_kept.clone(), to_doomed.clone()])
            .await
            .unwrap();
        let claims = store.claim_due(at(2000), 10, LEASE).await.unwrap();
        assert_eq!(claims.len(), 2);
        // Deleted while its attempt is in flight: cancelled, so not resumed below.
        assert!(store
            .delete_endpoint(&acme.id, &doomed.id, at(2001))
            .await
            .unwrap());
        // The process dies here: neither claim is recorded.
    }

    // Restarted 5 s later, well before the 60 s leases would have run out.
    let restart = at(7000);
    let store = open_at(dir.path(), restart);
    assert_eq!(store.next_due_at().await.unwrap(), Some(restart));
    let claims = store.claim_due(restart, 10, LEASE).await.unwrap();
    assert_eq!(
        claims.len(),
        1,
        "only the delivery whose endpoint still exists resumes"
    );
    let resumed = &claims[0].delivery;
    assert_eq!(resumed.id, to_kept.id);
    assert_eq!(resumed.attempts, 1);
    let filter = AttemptFilter {
        delivery_id: Some(to_kept.id.clone()),
        ..Default::default()
    };
    let log = store
        .list_attempts(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1);
    assert_eq!(log.items[0].attempt, 1);
    assert_eq!(
        log.items[0].error.as_ref().map(|error| error.kind),
        Some(ErrorKind::Interrupted)
    );
    let cancelled = store
        .get_delivery(&acme.id, &to_doomed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, DeliveryStatus::Cancelled);
    let filter = AttemptFilter {
        delivery_id: Some(to_doomed.id.clone()),
        ..Default::default()
    };
    let log = store
        .list_attempts(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(log.items, []);

    // This run records its attempt; the next start has nothing to release.
    let (success, delivered) = succeeded(resumed, 2, at(7010), &kept.url);
    store
        .record_attempt(&delivered, Some(&success))
        .await
        .unwrap();
    drop(store);

    let store = open_at(dir.path(), at(20_000));
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert_eq!(
        store.claim_due(at(999_999_999), 10, LEASE).await.unwrap(),
        []
    );
    let stored = store
        .get_delivery(&acme.id, &to_kept.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DeliveryStatus::Succeeded);
    assert_eq!(stored.lease_until, None);
}

#[tokio::test]
async fn a_second_store_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open_at(dir.path(), T0);
    let second =
        herald_store_sled::SledStore::open(&herald_store_sled::SledConfig::at(dir.path()), T0);
    let error = second.expect_err("the directory is locked by the first store");
    assert_eq!(error.kind(), herald_store::StoreErrorKind::Unavailable);
}

#[tokio::test]
async fn releasing_a_lease_at_open_keeps_the_deliverys_attempt_log() {
    let dir = tempfile::tempdir().unwrap();
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(1000));
    let sent = event(&acme.id, "evt-twice", at(2000));
    let pending = delivery(&sent, &target.id);
    {
        let store = open_at(dir.path(), T0);
        store.create_tenant(&acme).await.unwrap();
        store.put_endpoint(&target).await.unwrap();
        store
            .insert_event(&sent, std::slice::from_ref(&pending))
            .await
            .unwrap();
        assert_eq!(store.claim_due(at(2000), 10, LEASE).await.unwrap().len(), 1);
        // The lease runs out unrecorded: claimed again, logged as interrupted.
        let again = store.claim_due(at(62_000), 10, LEASE).await.unwrap();
        assert_eq!(again[0].delivery.attempts, 1);
        // The process dies with this second claim in flight.
    }
    let store = open_at(dir.path(), at(70_000));
    let claims = store.claim_due(at(70_000), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].delivery.attempts, 2);
    let filter = AttemptFilter {
        delivery_id: Some(pending.id.clone()),
        ..Default::default()
    };
    let log = store
        .list_attempts(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    let numbers: Vec<u32> = log.items.iter().map(|attempt| attempt.attempt).collect();
    assert_eq!(numbers, vec![2, 1]);
}
