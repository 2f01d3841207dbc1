//! Unit tests of the destination guard: every address form of field case 20, the
//! embedded-IPv4 forms, the development switch and the operator allowlist.

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test addresses are valid")
}

fn v4(text: &str) -> Ipv4Addr {
    text.parse().expect("test addresses are valid")
}

fn policy_with(cidrs: &[&str]) -> DestinationPolicy {
    DestinationPolicy {
        allow_private_networks: false,
        allowed_cidrs: cidrs
            .iter()
            .map(|cidr| cidr.parse().expect("test cidrs are valid"))
            .collect(),
    }
}

/// Checks the public-only verdict on `address`: blocked for `range`, with the IPv4
/// address found inside it when `embedded` is given.
#[track_caller]
fn check(address: &str, embedded: Option<&str>, range: ReservedRange) {
    let expect = BlockReason {
        ip: ip(address),
        embedded: embedded.map(v4),
        range,
    };
    assert_eq!(
        DestinationPolicy::public_only().check_ip(ip(address)),
        Err(expect)
    );
}

/// Checks that `policy` answers `expect` for `address`.
#[track_caller]
fn check_admission(policy: &DestinationPolicy, address: &str, expect: Option<Admission>) {
    let got = policy.admit(ip(address)).ok();
    assert_eq!(got, expect, "{address}");
}

#[test]
fn field_case_20_addresses_are_blocked() {
    use ReservedRange::*;
    check("169.254.169.254", None, CloudMetadata);
    check(
        "::ffff:169.254.169.254",
        Some("169.254.169.254"),
        CloudMetadata,
    );
    check("64:ff9b::a9fe:a9fe", Some("169.254.169.254"), CloudMetadata);
    check("100.64.0.1", None, SharedAddressSpace);
    check("0.1.2.3", None, ThisNetwork);
    check("127.0.0.1", None, Loopback);
    check("::1", None, Loopback);
    check("fd00:ec2::254", None, CloudMetadata);
    check("fe80::1", None, LinkLocal);
    check("2002:7f00:1::1", Some("127.0.0.1"), Loopback);
    check("10.0.0.5", None, Private);
    check("192.168.1.1", None, Private);
    check("172.16.0.1", None, Private);
}

#[test]
fn other_ipv4_ranges_are_blocked() {
    use ReservedRange::*;
    check("100.100.100.200", None, CloudMetadata);
    check("169.254.170.2", None, CloudMetadata);
    check("169.254.1.1", None, LinkLocal);
    check("172.31.255.255", None, Private);
    check("100.127.255.255", None, SharedAddressSpace);
    check("0.0.0.0", None, ThisNetwork);
    check("224.0.0.1", None, Multicast);
    check("239.255.255.250", None, Multicast);
    check("255.255.255.255", None, Broadcast);
    check("240.0.0.1", None, Reserved);
    check("192.0.2.10", None, Documentation);
    check("198.51.100.7", None, Documentation);
    check("203.0.113.99", None, Documentation);
    check("198.18.0.1", None, Benchmarking);
    check("198.19.255.255", None, Benchmarking);
    check("192.0.0.8", None, IetfProtocol);
}

#[test]
fn other_ipv6_ranges_are_blocked() {
    use ReservedRange::*;
    check("::", None, Unspecified);
    check("fc00::1", None, UniqueLocal);
    check("fd12:3456::1", None, UniqueLocal);
    check("febf::1", None, LinkLocal);
    check("fec0::1", None, SiteLocal);
    check("ff02::1", None, Multicast);
    check("2001:db8::1", None, Documentation);
    check("3fff::1", None, Documentation);
    check("2001:2::1", None, Benchmarking);
    check("2001:10::1", None, IetfProtocol);
    check("100::1", None, Reserved);
    check("4000::1", None, Reserved);
}

#[test]
fn embedded_ipv4_is_judged_by_the_ipv4_address() {
    use ReservedRange::*;
    check("::ffff:127.0.0.1", Some("127.0.0.1"), Loopback);
    check("::ffff:10.0.0.5", Some("10.0.0.5"), Private);
    check("::ffff:0:10.0.0.5", Some("10.0.0.5"), Private);
    check("::127.0.0.1", Some("127.0.0.1"), Loopback);
    check("64:ff9b::7f00:1", Some("127.0.0.1"), Loopback);
    check("2002:a9fe:a9fe::", Some("169.254.169.254"), CloudMetadata);
    check("2002:c0a8:101::1", Some("192.168.1.1"), Private);
    // Local-use NAT64 with a /96 and with a /48 prefix (the "u" octet skipped).
    check(
        "64:ff9b:1::a9fe:a9fe",
        Some("169.254.169.254"),
        CloudMetadata,
    );
    check(
        "64:ff9b:1:a9fe:a9:fe00:0:808",
        Some("169.254.169.254"),
        CloudMetadata,
    );
    // Teredo: client 192.0.2.45 stored bit-inverted in the last 32 bits.
    check(
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        Some("192.0.2.45"),
        Documentation,
    );
    // Teredo whose server is private.
    check("2001:0:a00:5::f7f7:f7f7", Some("10.0.0.5"), Private);
}

#[test]
fn public_addresses_are_admitted() {
    let policy = DestinationPolicy::public_only();
    for address in [
        "8.8.8.8",
        "93.184.215.14",
        "172.32.0.1",
        "100.128.0.1",
        "198.20.0.1",
        "192.0.3.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2001:0:4136:e378::f7f7:f7f7",
    ] {
        check_admission(&policy, address, Some(Admission::Public));
    }
}

#[test]
fn block_reasons_read_well() {
    let reason = |address: &str| {
        DestinationPolicy::public_only()
            .check_ip(ip(address))
            .expect_err("test addresses are blocked")
    };
    assert_eq!(reason("127.0.0.1").to_string(), "127.0.0.1 is loopback");
    assert_eq!(reason("10.0.0.5").to_string(), "10.0.0.5 is private");
    assert_eq!(
        reason("::ffff:169.254.169.254").to_string(),
        "::ffff:169.254.169.254 embeds 169.254.169.254, which is cloud metadata"
    );
    assert_eq!(reason("10.0.0.5").detail(), "private");
    assert_eq!(
        reason("2002:7f00:1::1").detail(),
        "embeds 127.0.0.1, loopback"
    );
}

#[test]
fn private_networks_switch_admits_private_use_but_not_metadata() {
    let policy = DestinationPolicy::allow_private();
    for address in [
        "127.0.0.1",
        "::1",
        "10.0.0.5",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
        "100.64.0.1",
        "fd00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
    ] {
        check_admission(&policy, address, Some(Admission::PrivateNetworks));
    }
    for address in [
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "0.0.0.0",
        "224.0.0.1",
        "192.0.2.1",
        "255.255.255.255",
    ] {
        check_admission(&policy, address, None);
    }
    check_admission(&policy, "8.8.8.8", Some(Admission::Public));
}

#[test]
fn allowlist_readmits_listed_ranges_only() {
    let policy = policy_with(&["10.1.0.0/16", "fd00:1::/32"]);
    check_admission(&policy, "10.1.2.3", Some(Admission::Allowlisted));
    check_admission(&policy, "::ffff:10.1.2.3", Some(Admission::Allowlisted));
    check_admission(&policy, "fd00:1::5", Some(Admission::Allowlisted));
    check_admission(&policy, "10.2.0.1", None);
    check_admission(&policy, "127.0.0.1", None);
    check_admission(&policy, "8.8.8.8", Some(Admission::Public));
}

#[test]
fn allowlist_never_readmits_metadata() {
    let policy = policy_with(&["169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/0", "::/0"]);
    for address in [
        "169.254.169.254",
        "169.254.170.2",
        "100.100.100.200",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::",
    ] {
        check_admission(&policy, address, None);
    }
    check_admission(&policy, "169.254.1.1", Some(Admission::Allowlisted));
    check_admission(&policy, "127.0.0.1", Some(Admission::Allowlisted));
}
