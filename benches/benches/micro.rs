//! Criterion micro-benchmarks of Herald's hot paths (issue 4, item 5).
//!
//! ```sh
//! cargo bench -p herald-bench --bench micro
//! ```
//!
//! - `sign/1KiB`: `herald_signing::sign_all` with one secret over a 1 KiB body (both
//!   signature schemes, as every attempt does).
//! - `match/10k_endpoints`: which of a tenant's 10,000 endpoints (mixed exact, prefix
//!   and `*` subscriptions) an event goes to, with `Endpoint::subscribes_to`.
//! - `store/insert_event`: one event with one delivery into `SledStore`, durable
//!   (waits for its group-commit flush, as ingest does).
//! - `store/claim_due_256`: leasing 256 due deliveries out of 10,000. Only the claim is
//!   timed; the claimed deliveries are handed back between iterations.
//!
//! These time library calls in isolation; the end-to-end harness is `src/main.rs`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use herald_event::{
    build_envelope, Delivery, DeliveryId, DeliveryStatus, Endpoint, EndpointId, EndpointSecret,
    Event, EventId, Tenant, TenantId, Timestamp,
};
use herald_signing::{sign_all, Secret};
use herald_store::Store;
use herald_store_sled::{SledConfig, SledStore};

/// A fixed instant (2026-12-03T14:40:00Z), so runs are comparable.
const T0: Timestamp = Timestamp::from_millis(1_796_310_000_000);

const EVENT_TYPES: [&str; 9] = [
    "email.sent",
    "email.opened",
    "email.clicked",
    "email.bounced",
    "email.replied",
    "reply.categorized",
    "campaign.completed",
    "recipient.added",
    "recipient.unsubscribed",
];

fn signing(c: &mut Criterion) {
    let secret =
        Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a valid fixed secret");
    let body = vec![b'x'; 1024];
    let secrets = [secret];
    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("1KiB", |b| {
        b.iter(|| {
            sign_all(
                black_box(&secrets),
                "evt_00VclKK6Y7amPCyRNvk2vR",
                1_796_310_000,
                black_box(&body),
            )
        })
    });
    group.finish();
}

fn endpoint(tenant: &TenantId, index: usize, event_types: Vec<String>) -> Endpoint {
    Endpoint {
        id: EndpointId::new(format!("ep_{index:06}")),
        tenant: tenant.clone(),
        url: format!("https://hooks.example.com/{index}"),
        description: String::new(),
        event_types,
        enabled: true,
        disabled_reason: None,
        secrets: vec![EndpointSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            created_at: T0,
            expires_at: None,
        }],
        created_at: T0,
        updated_at: T0,
    }
}

/// Subscriptions as customers write them: mostly one or two exact types, some
/// prefixes, a few catch-alls.
fn mixed_subscriptions(index: usize) -> Vec<String> {
    match index % 10 {
        0 => vec!["*".to_owned()],
        1 | 2 => vec!["email.*".to_owned()],
        3 => vec!["reply.*".to_owned(), "recipient.*".to_owned()],
        _ => vec![
            EVENT_TYPES[index % EVENT_TYPES.len()].to_owned(),
            EVENT_TYPES[(index / 10) % EVENT_TYPES.len()].to_owned(),
        ],
    }
}

fn matching(c: &mut Criterion) {
    let tenant = TenantId::new("acme");
    let endpoints: Vec<Endpoint> = (0..10_000)
        .map(|index| endpoint(&tenant, index, mixed_subscriptions(index)))
        .collect();
    let mut group = c.benchmark_group("match");
    group.throughput(Throughput::Elements(endpoints.len() as u64));
    group.bench_function("10k_endpoints", |b| {
        b.iter(|| {
            endpoints
                .iter()
                .filter(|endpoint| endpoint.subscribes_to(black_box("email.replied")))
                .count()
        })
    });
    group.finish();
}

fn event(tenant: &TenantId, n: u64) -> Event {
    let id = EventId::new(format!("evt_bench_{n}"));
    let data = format!(
        r#"{{"recipient":{{"email":"lead{n}@example.com"}},"email_id":"eml_{n}","campaign_id":"cmp_1"}}"#
    );
    Event {
        payload: build_envelope(&id, "email.sent", T0, &data),
        id,
        tenant: tenant.clone(),
        event_type: "email.sent".to_owned(),
        timestamp: T0,
        received_at: T0,
        test: false,
    }
}

fn pending_delivery(event: &Event, endpoint: &EndpointId, n: u64) -> Delivery {
    Delivery {
        id: DeliveryId::new(format!("dlv_bench_{n}")),
        tenant: event.tenant.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        endpoint_id: endpoint.clone(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        round_base: 0,
        round_started_at: None,
        next_attempt_at: Some(T0),
        lease_until: None,
        last_status_code: None,
        last_error: None,
        test: false,
        created_at: T0,
        updated_at: T0,
    }
}

fn store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime always builds");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(
        SledStore::open(&SledConfig::temporary(dir.path().join("db")), T0)
            .expect("a fresh sled store opens"),
    );
    let tenant = TenantId::new("acme");
    let target = endpoint(&tenant, 0, vec!["*".to_owned()]);
    runtime.block_on(async {
        let record = Tenant {
            id: tenant.clone(),
            name: "Acme".to_owned(),
            created_at: T0,
        };
        store.create_tenant(&record).await.expect("tenant stored");
        store.put_endpoint(&target).await.expect("endpoint stored");
    });
    let mut next = 0u64;
    let mut group = c.benchmark_group("store");
    group.bench_function("insert_event", |b| {
        b.iter(|| {
            next += 1;
            let event = event(&tenant, next);
            let deliveries = [pending_delivery(&event, &target.id, next)];
            runtime
                .block_on(store.insert_event(&event, &deliveries))
                .expect("insert succeeds")
        })
    });
    // A queue of 10,000 due deliveries, written in batches of 1,000.
    runtime.block_on(async {
        for chunk in 0..10u64 {
            let items: Vec<(Event, Vec<Delivery>)> = (0..1000)
                .map(|i| {
                    let n = 1_000_000 + chunk * 1000 + i;
                    let event = event(&tenant, n);
                    let delivery = pending_delivery(&event, &target.id, n);
                    (event, vec![delivery])
                })
                .collect();
            store.insert_events(&items).await.expect("queue filled");
        }
    });
    let now = T0.plus(Duration::from_secs(3600));
    group.throughput(Throughput::Elements(256));
    group.bench_function("claim_due_256", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                let started = Instant::now();
                let claims = runtime
                    .block_on(store.claim_due(now, 256, Duration::from_secs(60)))
                    .expect("claim succeeds");
                timed += started.elapsed();
                // Hand them back, still due, so the queue stays the same size.
                runtime.block_on(async {
                    for claim in claims {
                        let mut delivery = claim.delivery;
                        delivery.next_attempt_at = Some(T0);
                        store
                            .record_attempt(&delivery, None)
                            .await
                            .expect("hand back");
                    }
                });
            }
            timed
        })
    });
    group.finish();
}

/// One sled insert, the unit the store's writes are made of: a 41-byte index key in
/// append order with an empty value, into a tree that already holds 100,000 such keys
/// (sled 0.34 copies the leaf it changes and splits leaves at 16 entries). Only the
/// calling thread's time; sled's I/O threads add to it (docs/performance.md).
fn sled_insert(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = sled::Config::new()
        .path(dir.path().join("db"))
        .cache_capacity(8 << 20)
        .flush_every_ms(Some(200))
        .open()
        .expect("a fresh sled database opens");
    let key = |n: u64| {
        let mut key = b"P/acme\0ep_00VcrNxVK5sAY5aRBe1kBL\0".to_vec();
        key.extend_from_slice(&n.to_be_bytes());
        key
    };
    for n in 0..100_000 {
        db.insert(key(n), &[]).expect("insert succeeds");
    }
    let mut next = 100_000u64;
    c.bench_function("sled/insert_index_key", |b| {
        b.iter(|| {
            next += 1;
            db.insert(key(next), &[]).expect("insert succeeds")
        })
    });
}

criterion_group!(benches, signing, matching, store, sled_insert);
criterion_main!(benches);
