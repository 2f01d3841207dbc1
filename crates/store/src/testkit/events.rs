//! Checks of ingest and the event and delivery lists.

use herald_event::{DeliveryStatus, EventId, TenantId};

use super::fixtures::{
    at, delivery_ids, endpoint, event, ids, pending, seed, seed_tenant, settled, tenant, LEASE,
};
use crate::{DeliveryFilter, EventFilter, InsertOutcome, PageRequest, Store};

/// `insert_event` stores the event byte for byte and every delivery exactly, each
/// readable only by its own tenant.
pub async fn insert_event_stores_event_and_deliveries(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let first = endpoint(&acme.id, at(1000));
    let second = endpoint(&acme.id, at(2000));
    seed_tenant(store, &acme, &[&first, &second]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(3000));
    let to_first = pending(&sent, &first.id, at(3001), at(3000));
    let to_second = pending(&sent, &second.id, at(3002), at(3000));

    let outcome = store
        .insert_event(&sent, &[to_first.clone(), to_second.clone()])
        .await;
    assert_eq!(outcome.unwrap(), InsertOutcome::Inserted);
    assert_eq!(
        store.get_event(&acme.id, &sent.id).await.unwrap(),
        Some(sent.clone())
    );
    assert_eq!(
        store
            .get_event(&acme.id, &EventId::new("evt-2"))
            .await
            .unwrap(),
        None
    );
    let got_first = store.get_delivery(&acme.id, &to_first.id).await.unwrap();
    assert_eq!(got_first, Some(to_first.clone()));
    let got_second = store.get_delivery(&acme.id, &to_second.id).await.unwrap();
    assert_eq!(got_second, Some(to_second.clone()));

    let filter = DeliveryFilter {
        event_id: Some(sent.id.clone()),
        ..Default::default()
    };
    let page = store
        .list_deliveries(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items, [to_second, to_first]);
    assert_eq!(page.next_cursor, None);

    // An event without deliveries (nobody subscribed) is still stored.
    let lonely = event(&acme.id, "evt-2", "email.opened", at(4000));
    assert_eq!(
        store.insert_event(&lonely, &[]).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        store.get_event(&acme.id, &lonely.id).await.unwrap(),
        Some(lonely)
    );
}

/// A repeated event id returns the stored event and its delivery count and writes
/// nothing: no new delivery, no second list entry. Ids are scoped by tenant.
pub async fn insert_event_duplicate_writes_nothing(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let globex = tenant("globex", at(0));
    let first = endpoint(&acme.id, at(1000));
    let second = endpoint(&acme.id, at(2000));
    let foreign = endpoint(&globex.id, at(2500));
    seed_tenant(store, &acme, &[&first, &second]).await;
    seed_tenant(store, &globex, &[&foreign]).await;
    let original = event(&acme.id, "order-7", "email.sent", at(3000));
    let deliveries = [
        pending(&original, &first.id, at(3001), at(3000)),
        pending(&original, &second.id, at(3002), at(3000)),
    ];
    seed(store, &original, &deliveries).await;

    let retry = event(&acme.id, "order-7", "email.bounced", at(9000));
    let extra = pending(&retry, &first.id, at(9001), at(9000));
    let outcome = store
        .insert_event(&retry, std::slice::from_ref(&extra))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        InsertOutcome::Duplicate {
            event: original.clone(),
            deliveries: 2
        }
    );

    assert_eq!(
        store.get_event(&acme.id, &original.id).await.unwrap(),
        Some(original.clone())
    );
    assert_eq!(store.get_delivery(&acme.id, &extra.id).await.unwrap(), None);
    let all_events = EventFilter::default();
    let events = store
        .list_events(&acme.id, &all_events, &PageRequest::first(10))
        .await;
    assert_eq!(events.unwrap().items, vec![original.clone()]);
    let all = DeliveryFilter::default();
    let listed = store
        .list_deliveries(&acme.id, &all, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items, [deliveries[1].clone(), deliveries[0].clone()]);

    // The same client-chosen id under another tenant is another event.
    let theirs = event(&globex.id, "order-7", "email.sent", at(9500));
    let their_delivery = pending(&theirs, &foreign.id, at(9501), at(9500));
    seed(store, &theirs, &[their_delivery]).await;
    assert_eq!(
        store.get_event(&globex.id, &theirs.id).await.unwrap(),
        Some(theirs)
    );
    assert_eq!(
        store.get_event(&acme.id, &original.id).await.unwrap(),
        Some(original)
    );

    let claims = store.claim_due(at(10_000), 10, LEASE).await.unwrap();
    assert_eq!(
        claims.len(),
        3,
        "two deliveries of acme's event and one of globex's"
    );
}

/// Events list newest received first (whatever their ids), filtered by type and by
/// `since` (inclusive) and `until` (exclusive), in stable pages.
pub async fn list_events_newest_first_with_filters(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    store.create_tenant(&acme).await.unwrap();
    let specs = [
        ("evt-c", "email.sent", 10_000),
        ("evt-a", "email.opened", 20_000),
        ("evt-e", "email.sent", 30_000),
        ("evt-b", "email.opened", 40_000),
        ("evt-d", "email.sent", 50_000),
    ];
    for (id, event_type, received) in specs {
        seed(store, &event(&acme.id, id, event_type, at(received)), &[]).await;
    }
    let globex = TenantId::new("globex");
    seed(
        store,
        &event(&globex, "evt-z", "email.sent", at(60_000)),
        &[],
    )
    .await;

    let acme_id = &acme.id;
    let list = |filter: EventFilter, page: PageRequest| async move {
        let listed = store.list_events(acme_id, &filter, &page).await.unwrap();
        (
            ids(&listed.items, |event| event.id.as_str()),
            listed.next_cursor,
        )
    };
    let sent_only = || EventFilter {
        event_type: Some("email.sent".to_owned()),
        ..Default::default()
    };

    let (all, cursor) = list(EventFilter::default(), PageRequest::first(10)).await;
    assert_eq!(all, ["evt-d", "evt-b", "evt-e", "evt-a", "evt-c"]);
    assert_eq!(cursor, None);
    assert_eq!(
        list(sent_only(), PageRequest::first(10)).await.0,
        ["evt-d", "evt-e", "evt-c"]
    );
    let since = EventFilter {
        since: Some(at(20_000)),
        ..Default::default()
    };
    assert_eq!(
        list(since, PageRequest::first(10)).await.0,
        ["evt-d", "evt-b", "evt-e", "evt-a"]
    );
    let until = EventFilter {
        until: Some(at(40_000)),
        ..Default::default()
    };
    assert_eq!(
        list(until, PageRequest::first(10)).await.0,
        ["evt-e", "evt-a", "evt-c"]
    );
    let window = EventFilter {
        since: Some(at(10_001)),
        until: Some(at(50_000)),
        ..sent_only()
    };
    assert_eq!(list(window, PageRequest::first(10)).await.0, ["evt-e"]);
    let empty = EventFilter {
        event_type: Some("campaign.completed".to_owned()),
        ..Default::default()
    };
    assert_eq!(
        list(empty, PageRequest::first(10)).await,
        (Vec::<String>::new(), None)
    );

    let (page_1, cursor) = list(sent_only(), PageRequest::first(2)).await;
    assert_eq!(page_1, ["evt-d", "evt-e"]);
    assert!(cursor.is_some());
    // A newer event arriving between two pages does not shift the next page.
    seed(
        store,
        &event(&acme.id, "evt-f", "email.sent", at(70_000)),
        &[],
    )
    .await;
    let (page_2, cursor) = list(sent_only(), PageRequest { limit: 2, cursor }).await;
    assert_eq!(page_2, ["evt-c"]);
    assert_eq!(cursor, None);

    let theirs = store
        .list_events(&globex, &EventFilter::default(), &PageRequest::first(10))
        .await;
    assert_eq!(
        ids(&theirs.unwrap().items, |event| event.id.as_str()),
        ["evt-z"]
    );
}

/// `insert_deliveries` adds deliveries (replay, test mode) to a stored event; they are
/// stored exactly and claimed when due, and a repeat of the event still reports the
/// deliveries its ingest made.
pub async fn insert_deliveries_adds_to_event(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let original = settled(&sent, &target.id, at(2001), DeliveryStatus::Succeeded);
    seed(store, &sent, std::slice::from_ref(&original)).await;

    let replay = pending(&sent, &target.id, at(5000), at(5000));
    let test = herald_event::Delivery {
        test: true,
        ..pending(&sent, &target.id, at(6000), at(7000))
    };
    store
        .insert_deliveries(&[replay.clone(), test.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.get_delivery(&acme.id, &replay.id).await.unwrap(),
        Some(replay.clone())
    );
    assert_eq!(
        store.get_delivery(&acme.id, &test.id).await.unwrap(),
        Some(test.clone())
    );

    let filter = DeliveryFilter {
        event_id: Some(sent.id.clone()),
        ..Default::default()
    };
    let page = store
        .list_deliveries(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items, [test.clone(), replay.clone(), original]);

    let claims = store.claim_due(at(5000), 10, LEASE).await.unwrap();
    let claimed: Vec<_> = claims
        .iter()
        .map(|claim| claim.delivery.id.to_string())
        .collect();
    assert_eq!(claimed, delivery_ids(&[&replay]));
    let claims = store.claim_due(at(7000), 10, LEASE).await.unwrap();
    let claimed: Vec<_> = claims
        .iter()
        .map(|claim| claim.delivery.id.to_string())
        .collect();
    assert_eq!(claimed, delivery_ids(&[&test]));
    assert_eq!(claims[0].event, sent);

    // A repeat of the event is answered as its ingest was: one delivery, not three.
    let outcome = store.insert_event(&sent, &[]).await.unwrap();
    assert_eq!(
        outcome,
        InsertOutcome::Duplicate {
            event: sent.clone(),
            deliveries: 1
        }
    );
}

/// A delivery (and its event) is visible to its own tenant only.
pub async fn get_delivery_is_scoped_by_tenant(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let globex = tenant("globex", at(0));
    let target = endpoint(&acme.id, at(1000));
    seed_tenant(store, &acme, &[&target]).await;
    store.create_tenant(&globex).await.unwrap();
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    let delivery = pending(&sent, &target.id, at(2001), at(2000));
    seed(store, &sent, std::slice::from_ref(&delivery)).await;

    assert_eq!(
        store.get_delivery(&acme.id, &delivery.id).await.unwrap(),
        Some(delivery.clone())
    );
    assert_eq!(
        store.get_delivery(&globex.id, &delivery.id).await.unwrap(),
        None
    );
    assert_eq!(store.get_event(&globex.id, &sent.id).await.unwrap(), None);
    let all = DeliveryFilter::default();
    let theirs = store
        .list_deliveries(&globex.id, &all, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(theirs.items, []);
    let by_event = DeliveryFilter {
        event_id: Some(sent.id.clone()),
        ..Default::default()
    };
    let theirs = store
        .list_deliveries(&globex.id, &by_event, &PageRequest::first(10))
        .await;
    assert_eq!(theirs.unwrap().items, []);
    let by_endpoint = DeliveryFilter {
        endpoint_id: Some(target.id.clone()),
        ..Default::default()
    };
    let theirs = store
        .list_deliveries(&globex.id, &by_endpoint, &PageRequest::first(10))
        .await;
    assert_eq!(theirs.unwrap().items, []);
}

/// Deliveries list newest first, filtered by event, endpoint and status (alone and
/// combined), in stable pages.
pub async fn list_deliveries_filters_and_pages(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let globex = tenant("globex", at(0));
    let first = endpoint(&acme.id, at(1000));
    let second = endpoint(&acme.id, at(2000));
    let foreign = endpoint(&globex.id, at(2500));
    seed_tenant(store, &acme, &[&first, &second]).await;
    seed_tenant(store, &globex, &[&foreign]).await;
    let sent = event(&acme.id, "evt-1", "email.sent", at(3000));
    let opened = event(&acme.id, "evt-2", "email.opened", at(4000));
    let d1 = pending(&sent, &first.id, at(3001), at(3000));
    let d2 = pending(&sent, &second.id, at(3002), at(3000));
    let d3 = settled(&opened, &first.id, at(4001), DeliveryStatus::Failed);
    let d4 = pending(&opened, &second.id, at(4002), at(4000));
    seed(store, &sent, &[d1.clone(), d2.clone()]).await;
    seed(store, &opened, &[d3.clone(), d4.clone()]).await;
    let theirs = event(&globex.id, "evt-1", "email.sent", at(5000));
    let d5 = pending(&theirs, &foreign.id, at(5001), at(5000));
    seed(store, &theirs, std::slice::from_ref(&d5)).await;

    let acme_id = &acme.id;
    let list = |filter: DeliveryFilter, page: PageRequest| async move {
        let listed = store
            .list_deliveries(acme_id, &filter, &page)
            .await
            .unwrap();
        (
            ids(&listed.items, |delivery| delivery.id.as_str()),
            listed.next_cursor,
        )
    };
    let all = DeliveryFilter::default();
    let of_sent = DeliveryFilter {
        event_id: Some(sent.id.clone()),
        ..Default::default()
    };
    let to_first = DeliveryFilter {
        endpoint_id: Some(first.id.clone()),
        ..Default::default()
    };
    let failed = DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        ..Default::default()
    };
    let pending_only = DeliveryFilter {
        status: Some(DeliveryStatus::Pending),
        ..Default::default()
    };
    let ten = || PageRequest::first(10);

    assert_eq!(
        list(all.clone(), ten()).await,
        (delivery_ids(&[&d4, &d3, &d2, &d1]), None)
    );
    assert_eq!(
        list(of_sent.clone(), ten()).await.0,
        delivery_ids(&[&d2, &d1])
    );
    assert_eq!(
        list(to_first.clone(), ten()).await.0,
        delivery_ids(&[&d3, &d1])
    );
    assert_eq!(list(failed.clone(), ten()).await.0, delivery_ids(&[&d3]));
    assert_eq!(
        list(pending_only, ten()).await.0,
        delivery_ids(&[&d4, &d2, &d1])
    );
    let opened_to_second = DeliveryFilter {
        event_id: Some(opened.id.clone()),
        endpoint_id: Some(second.id.clone()),
        status: None,
    };
    assert_eq!(list(opened_to_second, ten()).await.0, delivery_ids(&[&d4]));
    let sent_failed = DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        ..of_sent
    };
    assert_eq!(list(sent_failed, ten()).await, (Vec::new(), None));
    let first_failed = DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        ..to_first.clone()
    };
    assert_eq!(list(first_failed, ten()).await.0, delivery_ids(&[&d3]));

    let (page_1, cursor) = list(all.clone(), PageRequest::first(3)).await;
    assert_eq!(page_1, delivery_ids(&[&d4, &d3, &d2]));
    assert!(cursor.is_some());
    let (page_2, cursor) = list(all.clone(), PageRequest { limit: 3, cursor }).await;
    assert_eq!(page_2, delivery_ids(&[&d1]));
    assert_eq!(cursor, None);

    let (page_1, cursor) = list(to_first.clone(), PageRequest::first(1)).await;
    assert_eq!(page_1, delivery_ids(&[&d3]));
    // A newer delivery to the same endpoint does not shift the next page.
    let replay = pending(&sent, &first.id, at(9000), at(9000));
    store
        .insert_deliveries(std::slice::from_ref(&replay))
        .await
        .unwrap();
    let (page_2, cursor) = list(to_first.clone(), PageRequest { limit: 1, cursor }).await;
    assert_eq!(page_2, delivery_ids(&[&d1]));
    assert_eq!(cursor, None);
    assert_eq!(
        list(to_first, ten()).await.0,
        delivery_ids(&[&replay, &d3, &d1])
    );

    let globex_all = store
        .list_deliveries(&globex.id, &all, &ten())
        .await
        .unwrap();
    assert_eq!(globex_all.items, [d5]);
}
