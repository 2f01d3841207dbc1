//! Durability: every event answered 202 is delivered after SIGKILL and restart.

use std::collections::HashSet;

use serde_json::json;

use crate::support::{hex_signature, standard_signature, wait_until, Herald, Receiver};

#[test]
fn accepted_events_survive_sigkill_and_are_delivered_signed() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let receiver = Receiver::start();
    let herald = Herald::start(&data_dir, "1s,1s,1s");

    let (status, _) = herald.call(
        "POST",
        "/v1/tenants",
        Some(&json!({"id": "acme", "name": "Acme"})),
    );
    assert_eq!(status, 201);
    let endpoint = json!({"url": format!("{}/hooks", receiver.url), "event_types": ["email.*"]});
    let (status, endpoint) = herald.call("POST", "/v1/tenants/acme/endpoints", Some(&endpoint));
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap().to_owned();

    // Eight clients post concurrently; the process is killed right after the last 202.
    let accepted: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|client| {
                let herald = &herald;
                scope.spawn(move || {
                    (0..25)
                        .map(|n| {
                            let event = json!({"type": "email.sent", "data": {"email_id": format!("eml_{client}_{n}"), "n": n}});
                            let (status, body) = herald.call("POST", "/v1/tenants/acme/events", Some(&event));
                            assert_eq!(status, 202, "{body}");
                            body["id"].as_str().unwrap().to_owned()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|client| client.join().unwrap())
            .collect()
    });
    herald.kill();
    assert_eq!(accepted.len(), 200);

    let herald = Herald::start(&data_dir, "1s,1s,1s");
    let wanted: HashSet<String> = accepted.iter().cloned().collect();
    let arrived = |receiver: &Receiver| -> HashSet<String> {
        receiver
            .received()
            .iter()
            .map(|request| request.header("webhook-id").to_owned())
            .collect()
    };
    assert!(
        wait_until(60, || wanted.is_subset(&arrived(&receiver))),
        "missing after restart: {:?}",
        wanted
            .difference(&arrived(&receiver))
            .take(5)
            .collect::<Vec<_>>()
    );

    for request in receiver.received() {
        assert_eq!(request.path, "/hooks");
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("x-supapitch-event"), "email.sent");
        assert_eq!(
            request.header("x-supapitch-signature"),
            hex_signature(&secret, &request.body)
        );
        let expected = standard_signature(
            &secret,
            request.header("webhook-id"),
            request.header("webhook-timestamp"),
            &request.body,
        );
        assert_eq!(request.header("webhook-signature"), expected);
        let envelope: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(envelope["id"], request.header("webhook-id"));
        assert_eq!(envelope["type"], "email.sent");
    }
    drop(herald);
}
