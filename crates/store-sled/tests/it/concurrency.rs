//! Many writers at once: group commit, idempotent ingest, and exclusive claims.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use herald_event::DeliveryId;
use herald_store::{DeliveryFilter, EventFilter, InsertOutcome, PageRequest, Store};
use herald_store_sled::SledStore;

use crate::support::{at, delivery, endpoint, event, temporary_stores, tenant};

const LEASE: Duration = Duration::from_secs(60);

async fn shared_store() -> Arc<SledStore> {
    let mut make = temporary_stores();
    Arc::new(make().await)
}

/// 200 requests ingesting at once each get `Inserted` only once their batch is durable
/// (waiting on shared flushes), and every event and delivery is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_inserts_all_land() {
    let store = shared_store().await;
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(0));
    store.create_tenant(&acme).await.unwrap();
    store.put_endpoint(&target).await.unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..200u64 {
        let store = Arc::clone(&store);
        let sent = event(&acme.id, &format!("evt-{n:03}"), at(1000 + n));
        let pending = delivery(&sent, &target.id);
        tasks.spawn(async move { store.insert_event(&sent, &[pending]).await });
    }
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.unwrap().unwrap(), InsertOutcome::Inserted);
    }

    let all_events = EventFilter::default();
    let listed = store
        .list_events(&acme.id, &all_events, &PageRequest::first(1000))
        .await;
    let listed = listed.unwrap();
    assert_eq!(listed.items.len(), 200);
    assert_eq!(listed.next_cursor, None);
    let expected: Vec<String> = (0..200).rev().map(|n| format!("evt-{n:03}")).collect();
    let got: Vec<String> = listed
        .items
        .iter()
        .map(|event| event.id.to_string())
        .collect();
    assert_eq!(got, expected, "all 200, newest received first");
    let all = DeliveryFilter::default();
    let deliveries = store
        .list_deliveries(&acme.id, &all, &PageRequest::first(1000))
        .await
        .unwrap();
    assert_eq!(deliveries.items.len(), 200);
    assert_eq!(
        store
            .claim_due(at(10_000), 1000, LEASE)
            .await
            .unwrap()
            .len(),
        200
    );
}

/// The same event posted 20 times at once is stored once; the others see `Duplicate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_duplicates_insert_once() {
    let store = shared_store().await;
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(0));
    store.create_tenant(&acme).await.unwrap();
    store.put_endpoint(&target).await.unwrap();
    let sent = event(&acme.id, "evt-once", at(1000));

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = Arc::clone(&store);
        let sent = sent.clone();
        let pending = delivery(&sent, &target.id);
        tasks.spawn(async move { store.insert_event(&sent, &[pending]).await.unwrap() });
    }
    let mut inserted = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            InsertOutcome::Inserted => inserted += 1,
            InsertOutcome::Duplicate { event, deliveries } => {
                assert_eq!((event, deliveries), (sent.clone(), 1));
            }
        }
    }
    assert_eq!(inserted, 1);
    let all = DeliveryFilter::default();
    let deliveries = store
        .list_deliveries(&acme.id, &all, &PageRequest::first(100))
        .await
        .unwrap();
    assert_eq!(deliveries.items.len(), 1);
}

/// Workers claiming at the same time never receive the same delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_claims_are_exclusive() {
    let store = shared_store().await;
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(0));
    store.create_tenant(&acme).await.unwrap();
    store.put_endpoint(&target).await.unwrap();
    for n in 0..100u64 {
        let sent = event(&acme.id, &format!("evt-{n:03}"), at(1000 + n));
        store
            .insert_event(&sent, &[delivery(&sent, &target.id)])
            .await
            .unwrap();
    }

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        workers.spawn(async move {
            let mut claimed: Vec<DeliveryId> = Vec::new();
            loop {
                let claims = store.claim_due(at(5000), 7, LEASE).await.unwrap();
                if claims.is_empty() {
                    return claimed;
                }
                claimed.extend(claims.into_iter().map(|claim| claim.delivery.id));
                tokio::task::yield_now().await;
            }
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = workers.join_next().await {
        all.extend(joined.unwrap());
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 100, "every delivery claimed exactly once");
    assert_eq!(unique.len(), 100);
}
