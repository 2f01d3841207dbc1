//! Pages of large events end early, by payload bytes, with a cursor to the rest.

use herald_store::{EventFilter, PageRequest, Store};

use crate::support::{at, event, open_at, tenant, T0};

#[tokio::test]
async fn a_page_of_large_events_ends_once_its_payloads_pass_4_mib() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(dir.path(), T0);
    let acme = tenant("acme");
    store.create_tenant(&acme).await.unwrap();
    for n in 0..20u64 {
        let mut large = event(&acme.id, &format!("evt-large-{n:02}"), at(1000 + n));
        large.payload = vec![b' '; 300_000];
        store.insert_event(&large, &[]).await.unwrap();
    }
    let first = store
        .list_events(&acme.id, &EventFilter::default(), &PageRequest::first(100))
        .await
        .unwrap();
    // 14 x 300,000 bytes is the first count at or past 4 MiB (4,194,304).
    assert_eq!(first.items.len(), 14);
    assert_eq!(first.items[0].id.as_str(), "evt-large-19");
    let cursor = first.next_cursor.expect("more follow");
    let rest = store
        .list_events(
            &acme.id,
            &EventFilter::default(),
            &PageRequest {
                limit: 100,
                cursor: Some(cursor),
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = rest.items.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "evt-large-05",
            "evt-large-04",
            "evt-large-03",
            "evt-large-02",
            "evt-large-01",
            "evt-large-00"
        ]
    );
    assert_eq!(rest.next_cursor, None);
}
