//! Checks of the plain records: settings, tenants, API keys, event types, endpoints.

use herald_event::{builtin_catalog, DeliveryStatus, EventTypeDef, TenantId};

use super::fixtures::{
    api_key, at, endpoint, error_kind, event, ids, pending, seed, seed_tenant, settled, tenant,
};
use crate::{DeliveryFilter, PageRequest, Store, StoreErrorKind};

/// A setting reads back exactly as written, can be overwritten (even with nothing), and
/// an unknown name reads as `None`.
pub async fn settings_round_trip(store: &dyn Store) {
    assert_eq!(store.get_setting("admin_key_hash").await.unwrap(), None);
    store
        .put_setting("admin_key_hash", b"\x00abc\xff")
        .await
        .unwrap();
    assert_eq!(
        store.get_setting("admin_key_hash").await.unwrap(),
        Some(b"\x00abc\xff".to_vec())
    );
    store.put_setting("admin_key_hash", b"").await.unwrap();
    assert_eq!(
        store.get_setting("admin_key_hash").await.unwrap(),
        Some(Vec::new())
    );
    assert_eq!(store.get_setting("admin_key").await.unwrap(), None);
}

/// A tenant reads back exactly; creating a taken id is `Conflict` and changes nothing.
pub async fn tenant_create_get_conflict(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    store.create_tenant(&acme).await.unwrap();
    assert_eq!(
        store.get_tenant(&acme.id).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(
        store.get_tenant(&TenantId::new("acme2")).await.unwrap(),
        None
    );

    let impostor = tenant("acme", at(5));
    assert_eq!(
        error_kind(store.create_tenant(&impostor).await),
        StoreErrorKind::Conflict
    );
    assert_eq!(store.get_tenant(&acme.id).await.unwrap(), Some(acme));
    let listed = store.list_tenants(&PageRequest::first(10)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
}

/// Tenants list newest created first, even when their (client-chosen) ids sort
/// otherwise; pages follow the cursor, the last page has no cursor, and a tenant
/// created between two pages does not shift the second page.
pub async fn tenant_list_newest_first_with_pages(store: &dyn Store) {
    let names = ["m-tenant", "a-tenant", "z-tenant", "b-tenant", "k-tenant"];
    let tenants: Vec<_> = (0u64..)
        .zip(names)
        .map(|(index, name)| tenant(name, at(index * 1000)))
        .collect();
    for tenant in &tenants {
        store.create_tenant(tenant).await.unwrap();
    }
    let newest_first: Vec<_> = tenants.iter().rev().cloned().collect();

    let page_1 = store.list_tenants(&PageRequest::first(2)).await.unwrap();
    assert_eq!(page_1.items, newest_first[0..2]);
    assert!(page_1.next_cursor.is_some());

    store
        .create_tenant(&tenant("c-tenant", at(9000)))
        .await
        .unwrap();

    let page_2 = store
        .list_tenants(&PageRequest {
            limit: 2,
            cursor: page_1.next_cursor,
        })
        .await
        .unwrap();
    assert_eq!(page_2.items, newest_first[2..4]);
    assert!(page_2.next_cursor.is_some());
    let page_3 = store
        .list_tenants(&PageRequest {
            limit: 2,
            cursor: page_2.next_cursor,
        })
        .await
        .unwrap();
    assert_eq!(page_3.items, newest_first[4..5]);
    assert_eq!(page_3.next_cursor, None);

    // A page that exactly fills the limit is still the last page.
    let everything = store.list_tenants(&PageRequest::first(6)).await.unwrap();
    let names: Vec<_> = ids(&everything.items, |tenant| tenant.id.as_str());
    assert_eq!(
        names,
        ["c-tenant", "k-tenant", "b-tenant", "z-tenant", "a-tenant", "m-tenant"]
    );
    assert_eq!(everything.next_cursor, None);
}

/// Keys are found by hash, listed per tenant and revoked only by their own tenant.
pub async fn api_keys_create_find_list_delete(store: &dyn Store) {
    let acme = TenantId::new("acme");
    let globex = TenantId::new("globex");
    let first = api_key(&acme, 'a', at(0));
    let second = api_key(&acme, 'b', at(1000));
    let foreign = api_key(&globex, 'c', at(2000));
    for key in [&first, &second, &foreign] {
        store.create_api_key(key).await.unwrap();
    }

    assert_eq!(
        store.find_api_key(&first.key_hash).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.find_api_key(&"d".repeat(64)).await.unwrap(), None);
    let mut listed = store.list_api_keys(&acme).await.unwrap();
    listed.sort_by(|left, right| left.id.cmp(&right.id));
    assert_eq!(listed, [first.clone(), second.clone()]);
    assert_eq!(
        store.list_api_keys(&globex).await.unwrap(),
        vec![foreign.clone()]
    );
    assert_eq!(
        store
            .list_api_keys(&TenantId::new("initech"))
            .await
            .unwrap(),
        []
    );

    // Another tenant cannot revoke it.
    assert!(!store
        .delete_api_key(&globex, first.id.as_str())
        .await
        .unwrap());
    assert_eq!(
        store.find_api_key(&first.key_hash).await.unwrap(),
        Some(first.clone())
    );

    assert!(store
        .delete_api_key(&acme, first.id.as_str())
        .await
        .unwrap());
    assert_eq!(store.find_api_key(&first.key_hash).await.unwrap(), None);
    assert_eq!(store.list_api_keys(&acme).await.unwrap(), [second]);
    assert!(!store
        .delete_api_key(&acme, first.id.as_str())
        .await
        .unwrap());
    assert_eq!(
        store.find_api_key(&foreign.key_hash).await.unwrap(),
        Some(foreign)
    );
}

/// Operator event types are stored, listed, and replaced by name.
pub async fn event_types_put_and_list(store: &dyn Store) {
    assert_eq!(store.list_event_types().await.unwrap(), []);
    let template = builtin_catalog().remove(0);
    let meeting = EventTypeDef {
        name: "meeting.booked".to_owned(),
        description: "A prospect booked a meeting.".to_owned(),
        strict: true,
        ..template.clone()
    };
    let contact = EventTypeDef {
        name: "crm.contact_created".to_owned(),
        ..template
    };
    store.put_event_type(&meeting).await.unwrap();
    store.put_event_type(&contact).await.unwrap();
    let by_name = |mut defs: Vec<EventTypeDef>| {
        defs.sort_by(|left, right| left.name.cmp(&right.name));
        defs
    };
    let listed = by_name(store.list_event_types().await.unwrap());
    assert_eq!(listed, [contact.clone(), meeting.clone()]);

    let rescheduled = EventTypeDef {
        description: "Booked or moved.".to_owned(),
        ..meeting
    };
    store.put_event_type(&rescheduled).await.unwrap();
    let listed = by_name(store.list_event_types().await.unwrap());
    assert_eq!(listed, [contact, rescheduled]);
}

/// Endpoints read back per tenant, list newest first in pages, and `put_endpoint`
/// replaces one in place.
pub async fn endpoints_put_get_list(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let globex = tenant("globex", at(0));
    let first = endpoint(&acme.id, at(1000));
    let second = endpoint(&acme.id, at(2000));
    let third = endpoint(&acme.id, at(3000));
    let foreign = endpoint(&globex.id, at(4000));
    seed_tenant(store, &acme, &[&first, &second, &third]).await;
    seed_tenant(store, &globex, &[&foreign]).await;

    assert_eq!(
        store.get_endpoint(&acme.id, &first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.get_endpoint(&globex.id, &first.id).await.unwrap(),
        None
    );

    let page_1 = store
        .list_endpoints(&acme.id, &PageRequest::first(2))
        .await
        .unwrap();
    assert_eq!(page_1.items, [third.clone(), second.clone()]);
    assert!(page_1.next_cursor.is_some());
    let page_2 = store
        .list_endpoints(
            &acme.id,
            &PageRequest {
                limit: 2,
                cursor: page_1.next_cursor,
            },
        )
        .await
        .unwrap();
    assert_eq!(page_2.items, vec![first.clone()]);
    assert_eq!(page_2.next_cursor, None);
    let globex_page = store
        .list_endpoints(&globex.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(globex_page.items, [foreign]);

    let moved = herald_event::Endpoint {
        url: "https://hooks.example.com/moved".to_owned(),
        updated_at: at(5000),
        ..second.clone()
    };
    store.put_endpoint(&moved).await.unwrap();
    assert_eq!(
        store.get_endpoint(&acme.id, &second.id).await.unwrap(),
        Some(moved.clone())
    );
    let everything = store
        .list_endpoints(&acme.id, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(everything.items, [third, moved, first]);
    assert_eq!(everything.next_cursor, None);
}

/// `tenant_endpoints` (which a backend may cache) reflects every put and delete at once.
pub async fn tenant_endpoints_follow_changes(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    store.create_tenant(&acme).await.unwrap();
    let sorted = |endpoints: &[herald_event::Endpoint]| {
        let mut endpoints = endpoints.to_vec();
        endpoints.sort_by(|left, right| left.id.cmp(&right.id));
        endpoints
    };
    assert_eq!(*store.tenant_endpoints(&acme.id).await.unwrap(), []);

    let first = endpoint(&acme.id, at(1000));
    store.put_endpoint(&first).await.unwrap();
    assert_eq!(
        *store.tenant_endpoints(&acme.id).await.unwrap(),
        vec![first.clone()]
    );

    let second = endpoint(&acme.id, at(2000));
    store.put_endpoint(&second).await.unwrap();
    let listed = store.tenant_endpoints(&acme.id).await.unwrap();
    assert_eq!(sorted(&listed), [first.clone(), second.clone()]);

    let disabled = herald_event::Endpoint {
        enabled: false,
        disabled_reason: Some("410 Gone".to_owned()),
        updated_at: at(3000),
        ..first.clone()
    };
    store.put_endpoint(&disabled).await.unwrap();
    let listed = store.tenant_endpoints(&acme.id).await.unwrap();
    assert_eq!(sorted(&listed), [disabled.clone(), second.clone()]);

    assert!(store
        .delete_endpoint(&acme.id, &second.id, at(4000))
        .await
        .unwrap());
    assert_eq!(*store.tenant_endpoints(&acme.id).await.unwrap(), [disabled]);
    assert_eq!(
        *store
            .tenant_endpoints(&TenantId::new("globex"))
            .await
            .unwrap(),
        []
    );
}

/// Deleting an endpoint removes it and cancels its pending deliveries (which are then
/// never claimed), leaves its settled deliveries and other endpoints' alone, and is
/// `false` for an absent endpoint or another tenant's.
pub async fn delete_endpoint_cancels_pending(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    let doomed = endpoint(&acme.id, at(1000));
    let kept = endpoint(&acme.id, at(2000));
    seed_tenant(store, &acme, &[&doomed, &kept]).await;
    let sent = event(&acme.id, "order-1", "email.sent", at(3000));
    let to_doomed = pending(&sent, &doomed.id, at(3001), at(3000));
    let to_kept = pending(&sent, &kept.id, at(3002), at(3000));
    let delivered = settled(&sent, &doomed.id, at(3003), DeliveryStatus::Succeeded);
    let failed = settled(&sent, &doomed.id, at(3004), DeliveryStatus::Failed);
    let deliveries = [
        to_doomed.clone(),
        to_kept.clone(),
        delivered.clone(),
        failed.clone(),
    ];
    seed(store, &sent, &deliveries).await;

    let globex = TenantId::new("globex");
    assert!(!store
        .delete_endpoint(&globex, &doomed.id, at(4000))
        .await
        .unwrap());
    assert_eq!(
        store.get_endpoint(&acme.id, &doomed.id).await.unwrap(),
        Some(doomed.clone())
    );

    assert!(store
        .delete_endpoint(&acme.id, &doomed.id, at(5000))
        .await
        .unwrap());
    assert_eq!(
        store.get_endpoint(&acme.id, &doomed.id).await.unwrap(),
        None
    );
    assert!(!store
        .delete_endpoint(&acme.id, &doomed.id, at(6000))
        .await
        .unwrap());

    let cancelled = store
        .get_delivery(&acme.id, &to_doomed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, DeliveryStatus::Cancelled);
    assert_eq!(cancelled.next_attempt_at, None);
    assert_eq!(cancelled.lease_until, None);
    assert_eq!(cancelled.updated_at, at(5000));
    assert_eq!(
        store.get_delivery(&acme.id, &delivered.id).await.unwrap(),
        Some(delivered)
    );
    assert_eq!(
        store.get_delivery(&acme.id, &failed.id).await.unwrap(),
        Some(failed)
    );
    assert_eq!(
        store.get_delivery(&acme.id, &to_kept.id).await.unwrap(),
        Some(to_kept.clone())
    );

    let filter = DeliveryFilter {
        status: Some(DeliveryStatus::Cancelled),
        ..Default::default()
    };
    let page = store
        .list_deliveries(&acme.id, &filter, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        ids(&page.items, |delivery| delivery.id.as_str()),
        [to_doomed.id.to_string()]
    );

    let claims = store
        .claim_due(at(3_600_000), 10, super::fixtures::LEASE)
        .await
        .unwrap();
    let claimed: Vec<_> = claims
        .iter()
        .map(|claim| claim.delivery.id.clone())
        .collect();
    assert_eq!(claimed, [to_kept.id]);
}

/// Every list refuses a cursor it could not have handed out with `InvalidCursor`:
/// malformed, made by another list, or altered.
pub async fn malformed_cursors_are_refused(store: &dyn Store) {
    let acme = tenant("acme", at(0));
    store.create_tenant(&acme).await.unwrap();
    let bad = PageRequest {
        limit: 10,
        cursor: Some("not a cursor!".to_owned()),
    };
    let invalid = StoreErrorKind::InvalidCursor;
    assert_eq!(error_kind(store.list_tenants(&bad).await), invalid);
    assert_eq!(
        error_kind(store.list_endpoints(&acme.id, &bad).await),
        invalid
    );
    let events = store.list_events(&acme.id, &Default::default(), &bad).await;
    assert_eq!(error_kind(events), invalid);
    let deliveries = store
        .list_deliveries(&acme.id, &Default::default(), &bad)
        .await;
    assert_eq!(error_kind(deliveries), invalid);
    let attempts = store
        .list_attempts(&acme.id, &Default::default(), &bad)
        .await;
    assert_eq!(error_kind(attempts), invalid);

    // A real cursor from one list is no position in another (a client that mixed them
    // up would otherwise read an empty page as the end), nor once altered.
    let globex = tenant("globex", at(1));
    store.create_tenant(&globex).await.unwrap();
    let target = endpoint(&acme.id, at(1000));
    store.put_endpoint(&target).await.unwrap();
    let sent = event(&acme.id, "evt-1", "email.sent", at(2000));
    seed(
        store,
        &sent,
        &[pending(&sent, &target.id, at(2001), at(2000))],
    )
    .await;
    let tenants = store.list_tenants(&PageRequest::first(1)).await.unwrap();
    let cursor = tenants.next_cursor.expect("two tenants, pages of one");
    let foreign = PageRequest {
        limit: 10,
        cursor: Some(cursor.clone()),
    };
    assert_eq!(
        error_kind(store.list_endpoints(&acme.id, &foreign).await),
        invalid
    );
    let events = store
        .list_events(&acme.id, &Default::default(), &foreign)
        .await;
    assert_eq!(error_kind(events), invalid);
    for filter in [
        DeliveryFilter::default(),
        DeliveryFilter {
            event_id: Some(sent.id.clone()),
            ..Default::default()
        },
    ] {
        let deliveries = store.list_deliveries(&acme.id, &filter, &foreign).await;
        assert_eq!(error_kind(deliveries), invalid);
    }
    let attempts = store
        .list_attempts(&acme.id, &Default::default(), &foreign)
        .await;
    assert_eq!(error_kind(attempts), invalid);
    let mut altered = cursor.into_bytes();
    altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
    let altered = PageRequest {
        limit: 10,
        cursor: Some(String::from_utf8(altered).unwrap()),
    };
    assert_eq!(error_kind(store.list_tenants(&altered).await), invalid);
}
