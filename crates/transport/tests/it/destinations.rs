//! The destination guard at send and connect time: refused destinations are never
//! connected to, whatever the spelling or the DNS answer (field cases 20 and 23).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;

use herald_event::ErrorKind;
use herald_transport::{DestinationPolicy, HyperTransport, ReservedRange, Resolve, Transport};
use tokio::net::TcpListener;

use crate::support::{config, post, reply, ScriptedResolver, Stub, Tripwire};

const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(93, 184, 215, 14));
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn guarded_transport(
    policy: DestinationPolicy,
    resolver: ScriptedResolver,
) -> HyperTransport<ScriptedResolver> {
    HyperTransport::with_resolver(config(policy), resolver).expect("transport builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_in_every_spelling_is_blocked_and_never_connected() {
    let tripwire = Tripwire::bind("127.0.0.1:0").await;
    let port = tripwire.addr.port();
    let resolver = ScriptedResolver::default();
    let lookups = resolver.lookups();
    let transport = guarded_transport(DestinationPolicy::public_only(), resolver);

    for host in [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[2002:7f00:1::1]",
    ] {
        let url = format!("http://{host}:{port}/hook");
        let error = transport.send(post(&url, "{}")).await.expect_err("blocked");
        assert_eq!(
            error.kind(),
            ErrorKind::BlockedDestination,
            "{url}: {}",
            error.report()
        );
        let reason = error.block_reason().expect("the guard refused it");
        assert_eq!(reason.range, ReservedRange::Loopback, "{url}");
    }
    let error = transport
        .send(post(&format!("http://localhost:{port}/"), "{}"))
        .await
        .expect_err("blocked");
    assert_eq!(error.kind(), ErrorKind::BlockedDestination);
    assert_eq!(
        error.to_string(),
        "endpoint url refused: destination localhost is not globally routable (loopback)"
    );

    assert_eq!(
        lookups.load(Ordering::SeqCst),
        0,
        "IP hosts are checked without DNS"
    );
    tripwire.assert_untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_blocked_even_when_allowlisted_in_private_mode() {
    let mut policy = DestinationPolicy::allow_private();
    policy.allowed_cidrs = vec![
        "169.254.0.0/16".parse().expect("valid"),
        "0.0.0.0/0".parse().expect("valid"),
    ];
    let transport = guarded_transport(
        policy,
        ScriptedResolver::new([Ok(vec![IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))])]),
    );

    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://metadata.google.internal/",
    ] {
        let error = transport.send(post(url, "{}")).await.expect_err("blocked");
        assert_eq!(error.kind(), ErrorKind::BlockedDestination, "{url}");
        let reason = error.block_reason().expect("the guard refused it");
        assert_eq!(reason.range, ReservedRange::CloudMetadata, "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_resolving_to_loopback_is_blocked_at_connect_time() {
    let tripwire = Tripwire::bind("127.0.0.1:0").await;
    let resolver =
        ScriptedResolver::new([Ok(vec![LOOPBACK, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))])]);
    let transport = guarded_transport(DestinationPolicy::public_only(), resolver);
    let url = format!("http://hooks.example.com:{}/hook", tripwire.addr.port());

    let error = transport.send(post(&url, "{}")).await.expect_err("blocked");

    assert_eq!(
        error.kind(),
        ErrorKind::BlockedDestination,
        "{}",
        error.report()
    );
    assert_eq!(
        error.to_string(),
        "destination blocked: every address of hooks.example.com is refused"
    );
    assert_eq!(error.block_reason().map(|reason| reason.ip), Some(LOOPBACK));
    tripwire.assert_untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_to_loopback_is_caught_on_the_connecting_lookup() {
    let tripwire = Tripwire::bind("127.0.0.1:0").await;
    let resolver = ScriptedResolver::new([Ok(vec![PUBLIC]), Ok(vec![LOOPBACK])]);
    // A validator that looked the name up earlier (as an API might at creation) saw a
    // public address and would have let the endpoint in.
    let first_answer = resolver
        .resolve("rebind.example.com")
        .await
        .expect("scripted answer");
    assert_eq!(first_answer, vec![PUBLIC]);
    assert!(DestinationPolicy::public_only()
        .check_ip(first_answer[0])
        .is_ok());
    let lookups = resolver.lookups();
    let transport = guarded_transport(DestinationPolicy::public_only(), resolver);
    let url = format!("http://rebind.example.com:{}/hook", tripwire.addr.port());

    let error = transport.send(post(&url, "{}")).await.expect_err("blocked");

    assert_eq!(
        error.kind(),
        ErrorKind::BlockedDestination,
        "{}",
        error.report()
    );
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        2,
        "the connection made its own lookup"
    );
    tripwire.assert_untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_vetted_addresses_are_dialled_and_allowlisted_bodies_are_withheld() {
    // Two listeners on one port: 127.0.0.1 (refused) and 127.0.0.2 (allowlisted).
    let refused = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let port = refused.local_addr().expect("bound").port();
    let allowed = TcpListener::bind(("127.0.0.2", port))
        .await
        .expect("bind 127.0.0.2 on the same port");
    let tripwire = Tripwire::on(refused);
    let stub = Stub::start_on(allowed, || {
        let mut response = reply(200, "SECRET-CANARY-7f3a");
        response.headers_mut().insert(
            "x-internal",
            http::HeaderValue::from_static("SECRET-CANARY-7f3a"),
        );
        response
            .headers_mut()
            .insert("retry-after", http::HeaderValue::from_static("120"));
        response
    });
    let mut policy = DestinationPolicy::public_only();
    policy.allowed_cidrs = vec!["127.0.0.2/32".parse().expect("valid")];
    let resolver =
        ScriptedResolver::new([Ok(vec![LOOPBACK, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))])]);
    let transport = guarded_transport(policy, resolver);

    let response = transport
        .send(post(
            &format!("http://internal.example.com:{port}/admin"),
            "{}",
        ))
        .await
        .expect("the allowlisted address answers");

    assert_eq!(response.status, 200);
    assert!(response.body_withheld);
    assert!(response.body.is_empty());
    assert_eq!(response.size, Some(18));
    let names: Vec<&str> = response
        .headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(names.contains(&"retry-after"), "{names:?}");
    assert!(
        !format!("{response:?}").contains("SECRET-CANARY"),
        "{response:?}"
    );
    assert_eq!(stub.requests().len(), 1);
    tripwire.assert_untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlisted_ip_literal_is_withheld_and_private_mode_is_not() {
    let stub = Stub::start(|| reply(200, "SECRET-CANARY-7f3a")).await;
    let mut policy = DestinationPolicy::public_only();
    policy.allowed_cidrs = vec!["127.0.0.1/32".parse().expect("valid")];
    let allowlisted = guarded_transport(policy, ScriptedResolver::default());
    let developer = guarded_transport(
        DestinationPolicy::allow_private(),
        ScriptedResolver::default(),
    );

    let withheld = allowlisted
        .send(post(&stub.url("/"), "{}"))
        .await
        .expect("answers");
    let kept = developer
        .send(post(&stub.url("/"), "{}"))
        .await
        .expect("answers");

    assert!(withheld.body_withheld);
    assert!(withheld.body.is_empty());
    assert!(!kept.body_withheld);
    assert_eq!(kept.body, b"SECRET-CANARY-7f3a");
}
