//! Chaos: steady load, receivers failing 30 % of requests at random, and `herald`
//! killed with SIGKILL five times at random moments. At the end every accepted event
//! has succeeded at every subscribed endpoint; duplicates carry the same `webhook-id`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::support::{wait_until, Herald, Receiver};

#[test]
fn every_accepted_event_succeeds_everywhere_despite_kills_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    // Random 500s would open the circuit breaker now and then and slow the test down;
    // it has its own tests, so raise its threshold here.
    let config = dir.path().join("herald.toml");
    std::fs::write(&config, "circuit_failure_threshold = 1000\n").unwrap();
    // Twelve 1 s retries: with 30 % failures, the chance that one delivery fails all
    // 13 attempts is 0.3^13, about 1.6e-7.
    let schedule = ["1s"; 12].join(",");
    let start = || Herald::start_with(&data_dir, &schedule, Some(&config));

    let emails = Receiver::failing(30);
    let everything = Receiver::failing(30);
    let herald = start();
    herald.call(
        "POST",
        "/v1/tenants",
        Some(&json!({"id": "acme", "name": "Acme"})),
    );
    for (receiver, types) in [(&emails, json!(["email.*"])), (&everything, json!(["*"]))] {
        let body = json!({"url": format!("{}/hooks", receiver.url), "event_types": types});
        let (status, _) = herald.call("POST", "/v1/tenants/acme/endpoints", Some(&body));
        assert_eq!(status, 201);
    }

    // The load: events with client-chosen ids, so a request whose answer was lost in
    // a kill can be repeated safely; only a 202 counts as accepted.
    let herald = Arc::new(Mutex::new(herald));
    let accepted: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (herald, accepted, stop) = (
            Arc::clone(&herald),
            Arc::clone(&accepted),
            Arc::clone(&stop),
        );
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let event_type = if n % 2 == 0 {
                    "email.sent"
                } else {
                    "campaign.completed"
                };
                let id = format!("evt_chaos_{n}");
                let body = json!({"id": id, "type": event_type, "data": {"n": n}});
                let base = herald.lock().unwrap().base.clone();
                let probe = Herald::probe(&base);
                if let Ok((202, _)) = probe.try_call("POST", "/v1/tenants/acme/events", Some(&body))
                {
                    accepted.lock().unwrap().push((id, event_type));
                    n += 1;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    for _ in 0..5 {
        let pause = 300 + random_millis(1_200);
        std::thread::sleep(Duration::from_millis(pause));
        let mut guard = herald.lock().unwrap();
        let old = std::mem::replace(&mut *guard, Herald::placeholder());
        old.kill();
        *guard = start();
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();

    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= 100, "load too small: {}", accepted.len());
    let succeeded = |receiver: &Receiver| -> HashSet<String> {
        receiver
            .received()
            .iter()
            .filter(|request| request.answered == 200)
            .map(|request| request.header("webhook-id").to_owned())
            .collect()
    };
    let done = || {
        let at_emails = succeeded(&emails);
        let at_everything = succeeded(&everything);
        accepted.iter().all(|(id, event_type)| {
            at_everything.contains(id)
                && (!event_type.starts_with("email.") || at_emails.contains(id))
        })
    };
    if !wait_until(120, done) {
        let at_emails = succeeded(&emails);
        let at_everything = succeeded(&everything);
        let missing: Vec<_> = accepted
            .iter()
            .filter(|(id, event_type)| {
                !at_everything.contains(id)
                    || (event_type.starts_with("email.") && !at_emails.contains(id))
            })
            .collect();
        let base = herald.lock().unwrap().base.clone();
        let probe = Herald::probe(&base);
        for (id, _) in missing.iter().take(3) {
            let deliveries = probe.try_call(
                "GET",
                &format!("/v1/tenants/acme/deliveries?event_id={id}"),
                None,
            );
            let attempts = probe.try_call(
                "GET",
                &format!("/v1/tenants/acme/attempts?event_id={id}"),
                None,
            );
            eprintln!("missing {id}: deliveries {deliveries:?}\nattempts {attempts:?}");
        }
        panic!(
            "not every accepted event succeeded everywhere: {} missing",
            missing.len()
        );
    }

    let mut duplicates = 0;
    for receiver in [&emails, &everything] {
        let mut successes: HashMap<String, usize> = HashMap::new();
        for request in receiver.received() {
            let envelope: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(
                envelope["id"],
                request.header("webhook-id"),
                "a duplicate keeps its webhook-id"
            );
            if request.answered == 200 {
                *successes
                    .entry(request.header("webhook-id").to_owned())
                    .or_default() += 1;
            }
        }
        duplicates += successes.values().map(|count| count - 1).sum::<usize>();
        // Nothing was delivered that was not accepted (or at least attempted by a client).
        assert!(successes.keys().all(|id| id.starts_with("evt_chaos_")));
    }
    let email_events = accepted
        .iter()
        .filter(|(_, event_type)| event_type.starts_with("email."))
        .count();
    eprintln!(
        "chaos: {} events accepted ({} deliveries), 5 kills, {duplicates} duplicate successful deliveries",
        accepted.len(),
        accepted.len() + email_events
    );
    drop(herald);
}

fn random_millis(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % bound
}
