//! An event's deliveries are found through its record (the ids it was ingested with)
//! and through the `E/` index (deliveries added later, and events fanned out to more
//! endpoints than a record lists), as one newest-first list.

use herald_event::{Delivery, DeliveryId, EndpointId};
use herald_store::{DeliveryFilter, InsertOutcome, PageRequest, Store};
use herald_store_sled::SledStore;

use crate::support::{at, delivery, endpoint, event, open_at, tenant, T0};

/// Every delivery id of `event_id`, newest first, read in pages of `limit`.
async fn listed(store: &SledStore, sent: &herald_event::Event, limit: usize) -> Vec<Vec<String>> {
    let filter = DeliveryFilter {
        event_id: Some(sent.id.clone()),
        ..DeliveryFilter::default()
    };
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_deliveries(&sent.tenant, &filter, &PageRequest { limit, cursor })
            .await
            .unwrap();
        pages.push(
            page.items
                .iter()
                .map(|delivery| delivery.id.as_str().to_owned())
                .collect(),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
}

/// Adds a delivery of `sent` to `endpoint` made later (at 9 s), as a replay does.
async fn replay(store: &SledStore, sent: &herald_event::Event, endpoint: &EndpointId) -> Delivery {
    let mut replayed = delivery(sent, endpoint);
    replayed.id = DeliveryId::generate(at(9000));
    replayed.created_at = at(9000);
    store
        .insert_deliveries(std::slice::from_ref(&replayed))
        .await
        .unwrap();
    replayed
}

fn newest_first(deliveries: &[Delivery]) -> Vec<String> {
    let mut ids: Vec<String> = deliveries
        .iter()
        .map(|delivery| delivery.id.as_str().to_owned())
        .collect();
    ids.sort();
    ids.reverse();
    ids
}

#[tokio::test]
async fn deliveries_listed_by_the_event_record_and_added_later_form_one_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(dir.path(), T0);
    let acme = tenant("acme");
    store.create_tenant(&acme).await.unwrap();
    let target = endpoint(&acme.id, at(1000));
    store.put_endpoint(&target).await.unwrap();
    let sent = event(&acme.id, "evt-mixed", at(2000));
    let at_ingest: Vec<Delivery> = (0..3).map(|_| delivery(&sent, &target.id)).collect();
    store.insert_event(&sent, &at_ingest).await.unwrap();
    // A replay, later: its delivery is indexed, not listed in the event's record.
    let replayed = replay(&store, &sent, &target.id).await;

    let mut all = at_ingest.clone();
    all.push(replayed.clone());
    let expected = newest_first(&all);
    assert_eq!(
        expected[0],
        replayed.id.as_str(),
        "the replay is the newest"
    );
    assert_eq!(
        listed(&store, &sent, 3).await,
        vec![expected[..3].to_vec(), expected[3..].to_vec()]
    );
    // A repeat is answered as the ingest was: its three, not the replay.
    let again = store.insert_event(&sent, &[]).await.unwrap();
    assert_eq!(
        again,
        InsertOutcome::Duplicate {
            event: sent.clone(),
            deliveries: 3
        }
    );
}

#[tokio::test]
async fn an_event_fanned_out_past_what_its_record_lists_keeps_every_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(dir.path(), T0);
    let acme = tenant("acme");
    store.create_tenant(&acme).await.unwrap();
    let sent = event(&acme.id, "evt-wide", at(2000));
    // More endpoints than a record lists (64): all 65 go to the index.
    let deliveries: Vec<Delivery> = (0..65)
        .map(|n| delivery(&sent, &EndpointId::new(format!("ep_{n:02}"))))
        .collect();
    store.insert_event(&sent, &deliveries).await.unwrap();
    let pages = listed(&store, &sent, 50).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages.concat(), newest_first(&deliveries));
    let again = store.insert_event(&sent, &[]).await.unwrap();
    assert_eq!(
        again,
        InsertOutcome::Duplicate {
            event: sent.clone(),
            deliveries: 65
        }
    );
}

#[tokio::test]
async fn every_delivery_is_claimed_whether_its_event_lists_it_or_the_index_does() {
    // 64 is the most a record lists; 65 go to the index; a replay is indexed either way.
    for fan_out in [64, 65] {
        let dir = tempfile::tempdir().unwrap();
        let store = open_at(dir.path(), T0);
        let acme = tenant("acme");
        store.create_tenant(&acme).await.unwrap();
        let sent = event(&acme.id, "evt-edge", at(2000));
        let mut deliveries: Vec<Delivery> = (0..fan_out)
            .map(|n| delivery(&sent, &EndpointId::new(format!("ep_{n:02}"))))
            .collect();
        store.insert_event(&sent, &deliveries).await.unwrap();
        let replayed = replay(&store, &sent, &EndpointId::new("ep_00")).await;
        deliveries.push(replayed);

        let claimed = store
            .claim_due(at(10_000), 100, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let mut ids: Vec<String> = claimed
            .iter()
            .map(|claim| claim.delivery.id.as_str().to_owned())
            .collect();
        ids.sort();
        ids.reverse();
        assert_eq!(ids, newest_first(&deliveries), "fan-out {fan_out}");
        assert_eq!(
            listed(&store, &sent, 100).await.concat(),
            newest_first(&deliveries),
            "fan-out {fan_out}"
        );
    }
}
