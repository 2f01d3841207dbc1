//! What a crash can leave on disk, written into the directory with sled itself, and
//! what the store makes of it at the next open.
//!
//! These tests know the key layout of `keys.rs` (the tag letters and the queue keys
//! `q/`, `r/`: an 8-byte big-endian time, the tenant, NUL, the delivery id); that
//! coupling is the point: they stand in for a process that died between two writes.

use std::path::Path;
use std::time::Duration;

use herald_event::{Delivery, Event, Tenant};
use herald_store::{DeliveryFilter, PageRequest, Store};
use herald_store_sled::SledStore;

use crate::support::{at, delivery, endpoint, event, open_at, succeeded, tenant, T0};

const LEASE: Duration = Duration::from_secs(60);

/// Opens the raw sled database of a closed store (its lock is released a moment
/// after the store is dropped, so the open is retried briefly).
fn raw(dir: &Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir) {
            return db;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the closed store's directory does not open");
}

fn queue_key(prefix: &[u8], time: u64, tenant: &str, id: &str) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&time.to_be_bytes());
    key.extend_from_slice(tenant.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Tenant `acme` with one endpoint, and event `id` received at 2 s with one delivery
/// due then, accepted through `store`.
async fn accept_one(store: &SledStore, id: &str) -> (Tenant, Event, Delivery) {
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(1000));
    let sent = event(&acme.id, id, at(2000));
    let pending = delivery(&sent, &target.id);
    store.create_tenant(&acme).await.unwrap();
    store.put_endpoint(&target).await.unwrap();
    store
        .insert_event(&sent, std::slice::from_ref(&pending))
        .await
        .unwrap();
    (acme, sent, pending)
}

/// Leaves the closed store in `dir` as a crash part-way through an ingest would: the
/// deliveries in sled, but neither the event record (written last) nor its log record.
fn cut_before_the_event_record(dir: &Path) {
    let db = raw(dir);
    for tag in [b"v/", b"V/"] {
        for key in db.scan_prefix(tag).keys() {
            db.remove(key.unwrap()).unwrap();
        }
    }
    db.flush().unwrap();
    std::fs::remove_dir_all(dir.join("herald-wal")).unwrap();
}

#[tokio::test]
async fn an_accepted_event_sled_never_flushed_is_replayed_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, sent, pending) = {
        let store = open_at(dir.path(), T0);
        accept_one(&store, "evt-lost-by-sled").await
    };
    // The crash: sled's own log never got the event's keys (ingest does not wait for
    // sled), only the write-ahead log did.
    {
        let db = raw(dir.path());
        let mut removed = 0;
        for tag in [b"v/", b"V/", b"d/", b"P/", b"q/"] {
            for key in db.scan_prefix(tag).keys() {
                db.remove(key.unwrap()).unwrap();
                removed += 1;
            }
        }
        assert_eq!(
            removed, 5,
            "event (listing its delivery), its index, the delivery, its endpoint index, 1 queue entry"
        );
        db.flush().unwrap();
    }

    let store = open_at(dir.path(), at(3000));
    assert_eq!(
        store.get_event(&acme.id, &sent.id).await.unwrap(),
        Some(sent.clone())
    );
    assert_eq!(
        store.get_delivery(&acme.id, &pending.id).await.unwrap(),
        Some(pending.clone())
    );
    let listed = store
        .list_deliveries(
            &acme.id,
            &DeliveryFilter::default(),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(listed.items, vec![pending.clone()]);
    let claims = store.claim_due(at(3000), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].delivery.id, pending.id);
    assert_eq!(claims[0].event, sent);
}

#[tokio::test]
async fn replay_does_not_undo_what_happened_after_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, _, pending) = {
        let store = open_at(dir.path(), T0);
        let accepted = accept_one(&store, "evt-settled").await;
        let claim = store
            .claim_due(at(2000), 10, LEASE)
            .await
            .unwrap()
            .remove(0);
        let mut done = claim.delivery.clone();
        done.status = herald_event::DeliveryStatus::Succeeded;
        done.attempts = 1;
        done.next_attempt_at = None;
        store.record_attempt(&done, None).await.unwrap();
        accepted
    };
    // The log still holds the event's record (no checkpoint yet); replaying it over
    // the settled delivery would make it pending again and send it twice.
    let store = open_at(dir.path(), at(3000));
    let stored = store
        .get_delivery(&acme.id, &pending.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, herald_event::DeliveryStatus::Succeeded);
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert!(store
        .claim_due(at(100_000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn stale_queue_entries_left_by_a_cut_write_are_dropped_not_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(1000));
    let sent = event(&acme.id, "evt-retry", at(2000));
    let mut retry = delivery(&sent, &target.id);
    // Waiting for its second attempt at 32 s.
    retry.attempts = 1;
    retry.next_attempt_at = Some(at(32_000));
    {
        let store = open_at(dir.path(), T0);
        store.create_tenant(&acme).await.unwrap();
        store.put_endpoint(&target).await.unwrap();
        store
            .insert_event(&sent, std::slice::from_ref(&retry))
            .await
            .unwrap();
    }
    // A claim or record cut short leaves the old entries beside the live one: a due
    // entry at 2 s and a lease entry at 3 s that the record no longer agrees with.
    {
        let db = raw(dir.path());
        let (tenant, id) = (acme.id.as_str(), retry.id.as_str());
        db.insert(queue_key(b"q/", at(2000).as_millis(), tenant, id), b"")
            .unwrap();
        db.insert(queue_key(b"r/", at(3000).as_millis(), tenant, id), b"")
            .unwrap();
        db.flush().unwrap();
    }
    let store = open_at(dir.path(), at(2500));
    // Neither stale entry releases or claims it early...
    assert!(store
        .claim_due(at(10_000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(32_000)));
    // ...and the live entry still does, once.
    let claims = store.claim_due(at(32_000), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].delivery.attempts, 1);
    assert!(store
        .claim_due(at(33_000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn deliveries_of_an_event_that_was_never_accepted_are_dropped_not_due_forever() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, _, orphan) = {
        let store = open_at(dir.path(), T0);
        accept_one(&store, "evt-cut").await
    };
    // The crash: ingest had written the deliveries to sled and sled flushed them, but
    // neither the event record (written last) nor the log record got to disk, so the
    // event was never accepted.
    cut_before_the_event_record(dir.path());
    let store = open_at(dir.path(), at(3000));
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(2000)));
    assert!(store
        .claim_due(at(3000), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    // Not due again and again: the entry and the delivery are gone.
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert_eq!(
        store.get_delivery(&acme.id, &orphan.id).await.unwrap(),
        None
    );
    let listed = store
        .list_deliveries(
            &acme.id,
            &DeliveryFilter::default(),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(listed.items.is_empty());
}

#[tokio::test]
async fn a_cut_write_is_not_delivered_beside_the_event_sent_again_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, sent, orphan) = {
        let store = open_at(dir.path(), T0);
        accept_one(&store, "evt-sent-twice").await
    };
    // The crash of the test above: the first write's delivery is in sled, its event
    // record and log record are not.
    cut_before_the_event_record(dir.path());
    let store = open_at(dir.path(), at(2500));
    // The client got no answer and sends the event again, with the same id.
    let mut again = delivery(&sent, &orphan.endpoint_id);
    again.created_at = at(2500);
    store
        .insert_event(&sent, std::slice::from_ref(&again))
        .await
        .unwrap();
    let claimed = store.claim_due(at(3000), 10, LEASE).await.unwrap();
    let ids: Vec<&str> = claimed
        .iter()
        .map(|claim| claim.delivery.id.as_str())
        .collect();
    assert_eq!(ids, [again.id.as_str()], "the event goes out once");
    assert_eq!(
        store.get_delivery(&acme.id, &orphan.id).await.unwrap(),
        None
    );
    let listed = store
        .list_deliveries(
            &acme.id,
            &DeliveryFilter::default(),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    let listed: Vec<&str> = listed
        .items
        .iter()
        .map(|delivery| delivery.id.as_str())
        .collect();
    assert_eq!(listed, [again.id.as_str()]);
    // Only the new delivery's lease is left to wake for.
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(at(3000).plus(LEASE))
    );
}

#[tokio::test]
async fn a_claim_held_in_memory_past_its_lease_is_handed_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let acme = tenant("acme");
    let target = endpoint(&acme.id, at(1000));
    let sent = event(&acme.id, "evt-late", at(2000));
    let pending = delivery(&sent, &target.id);
    let store = open_at(dir.path(), T0);
    store.create_tenant(&acme).await.unwrap();
    store.put_endpoint(&target).await.unwrap();
    // The engine has claimed once, so ingest leases new deliveries and keeps their
    // claims in memory.
    assert!(store
        .claim_due(at(1500), 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    store
        .insert_event(&sent, std::slice::from_ref(&pending))
        .await
        .unwrap();
    // Not claimed until after its lease from ingest ran out: the claim in memory and
    // the expired lease entry are the same delivery.
    let late = at(2000 + 60_000 + 1000);
    let claims = store.claim_due(late, 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].delivery.id, pending.id);
    assert_eq!(claims[0].delivery.lease_until, Some(late.plus(LEASE)));
    assert!(store.claim_due(late, 10, LEASE).await.unwrap().is_empty());
}

#[tokio::test]
async fn attempts_indexed_the_way_earlier_versions_did_are_still_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (acme, _, pending) = {
        let store = open_at(dir.path(), T0);
        let accepted = accept_one(&store, "evt-old-layout").await;
        store.claim_due(at(2000), 10, LEASE).await.unwrap();
        // Unrecorded past its lease: the interrupted attempt is logged.
        store.claim_due(at(62_000), 10, LEASE).await.unwrap();
        accepted
    };
    // Rewrite the delivery the way earlier versions stored it: a version 1 record,
    // and its attempt in the `A/{delivery}\0{attempt number}` index.
    {
        let db = raw(dir.path());
        let mut key = b"d/acme\0".to_vec();
        key.extend_from_slice(pending.id.as_str().as_bytes());
        let record = db.get(&key).unwrap().unwrap();
        assert_eq!(record[0], 2, "the record lists its attempt");
        let (delivery, tail): (Delivery, &[u8]) = postcard::take_from_bytes(&record[1..]).unwrap();
        let attempts: Vec<String> = postcard::from_bytes(tail).unwrap();
        assert_eq!(attempts.len(), 1);
        let mut old = vec![1u8];
        old.extend(postcard::to_allocvec(&delivery).unwrap());
        db.insert(&key, old).unwrap();
        let mut index = b"A/".to_vec();
        index.extend_from_slice(pending.id.as_str().as_bytes());
        index.push(0);
        index.extend_from_slice(&1u32.to_be_bytes());
        db.insert(index, attempts[0].as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store = open_at(dir.path(), at(63_000));
    let filter = herald_store::AttemptFilter {
        delivery_id: Some(pending.id.clone()),
        ..Default::default()
    };
    let log = store
        .list_attempts(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1);
    assert_eq!(log.items[0].attempt, 1);

    // A new attempt is listed in the record's tail; the old one stays in the index.
    let mut claims = store.claim_due(at(63_000), 10, LEASE).await.unwrap();
    assert_eq!(claims.len(), 1);
    let claimed = claims.pop().unwrap().delivery;
    // Released at open, so claimed as interrupted: its second attempt is logged.
    assert_eq!(claimed.attempts, 2);
    let (success, delivered) = succeeded(&claimed, 3, at(63_010), "https://hooks.example.com/new");
    store
        .record_attempt(&delivered, Some(&success))
        .await
        .unwrap();
    let log = store
        .list_attempts(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    let mut numbers: Vec<u32> = log.items.iter().map(|attempt| attempt.attempt).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3]);
}

/// The key prefixes of the one record in the write-ahead log of `dir`, in order
/// (frames `[len u32 LE][crc u32][payload]`, payload `[count u32]` then
/// `[klen u32][key][vlen u32][value]` per pair, as `wal.rs` writes them).
fn logged_key_tags(dir: &Path) -> Vec<String> {
    let wal_dir = dir.join("herald-wal");
    let file = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "log"))
        .expect("a log file");
    let bytes = std::fs::read(file).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let len = u32_at(0);
    assert_eq!(bytes.len(), 8 + len, "one record");
    let mut at = 8;
    let count = u32_at(at);
    at += 4;
    let mut tags = Vec::new();
    for _ in 0..count {
        let key_len = u32_at(at);
        at += 4;
        tags.push(String::from_utf8_lossy(&bytes[at..at + 2]).into_owned());
        at += key_len;
        let value_len = u32_at(at);
        at += 4 + value_len;
    }
    tags
}

#[tokio::test]
async fn a_delivery_record_is_written_after_its_queue_entry_and_index() {
    // Ingest writes the log record's pairs one by one in this order, the event (the
    // record's first pair) last; a crash keeps a prefix. So a delivery record on disk
    // always has its queue entry (else it would be pending and never claimed), and an
    // event on disk has everything it brought.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_at(dir.path(), T0);
        accept_one(&store, "evt-order").await;
    }
    assert_eq!(logged_key_tags(dir.path()), ["v/", "V/", "q/", "P/", "d/"]);
}
