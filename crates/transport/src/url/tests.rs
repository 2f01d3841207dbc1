//! Unit tests of the endpoint URL rules and of numeric host spellings.

use super::*;

/// Checks `url` under `policy`: the normal form when accepted, the message when not.
#[track_caller]
fn check(url: &str, policy: &DestinationPolicy, expect: Result<&str, &str>) {
    let got = check_endpoint_url(url, policy)
        .map(|endpoint| endpoint.as_str().to_owned())
        .map_err(|error| error.to_string());
    assert_eq!(
        got.as_ref().map(String::as_str).map_err(String::as_str),
        expect
    );
}

#[track_caller]
fn check_public(url: &str, expect: Result<&str, &str>) {
    check(url, &DestinationPolicy::public_only(), expect);
}

#[track_caller]
fn check_private(url: &str, expect: Result<&str, &str>) {
    check(url, &DestinationPolicy::allow_private(), expect);
}

const CREDENTIALS: &str = "credentials in the URL are not allowed (they would be stored and logged); remove the user:password@ part";
const SCHEME: &str = "scheme must be http or https";
const PORT: &str = "port must be a number from 1 to 65535";

#[test]
fn credentials_are_refused() {
    check_public("https://user:p%40ss@hooks.example.com/in", Err(CREDENTIALS));
    check_public("https://user@hooks.example.com/in", Err(CREDENTIALS));
    check_public("https://:secret@hooks.example.com/in", Err(CREDENTIALS));
}

#[test]
fn only_http_and_https() {
    check_public("ftp://hooks.example.com/in", Err(SCHEME));
    check_public("file:///etc/passwd", Err("not a valid absolute url"));
    check_public("gopher://hooks.example.com/", Err(SCHEME));
    check_public("//hooks.example.com/in", Err(SCHEME));
    check_public("hooks.example.com/in", Err("not a valid absolute url"));
    check_public(
        "HTTPS://Hooks.Example.COM",
        Ok("https://hooks.example.com/"),
    );
}

#[test]
fn normal_form() {
    check_public(
        "https://hooks.example.com/in?a=1&b=2#fragment",
        Ok("https://hooks.example.com/in?a=1&b=2"),
    );
    check_public(
        "http://hooks.example.com?x=1",
        Ok("http://hooks.example.com/?x=1"),
    );
    check_public(
        "http://hooks.example.com:/x",
        Ok("http://hooks.example.com/x"),
    );
    check_public(
        "https://hooks.example.com:8443/x",
        Ok("https://hooks.example.com:8443/x"),
    );
    check_public(
        "https://hooks_1.example.com./x",
        Ok("https://hooks_1.example.com./x"),
    );
}

#[test]
fn hosts_and_ports_are_checked() {
    check_public("http://:80/", Err("the url has no host"));
    check_public("http://hooks.example.com:0/", Err(PORT));
    check_public("http://hooks.example.com:99999/", Err(PORT));
    check_public("http://hooks.example.com:+80/", Err(PORT));
    check_public("http://exa mple.com/", Err("not a valid absolute url"));
    check_public(
        "http://a..b/",
        Err("host `a..b` is not a valid host name or ip address"),
    );
    check_public(
        "http://[fe80::1%25eth0]/",
        Err("host `[fe80::1%25eth0]` is not a valid host name or ip address"),
    );
}

#[test]
fn ipv6_literals_with_ports_are_accepted() {
    check_public(
        "https://[2606:4700:4700::1111]:8443/hook",
        Ok("https://[2606:4700:4700::1111]:8443/hook"),
    );
    check_private("http://[::1]:8080/hook", Ok("http://[::1]:8080/hook"));
    check_public(
        "http://[::1]:8080/hook",
        Err("destination ::1 is not globally routable (loopback)"),
    );
}

#[test]
fn numeric_hosts_are_normalized() {
    check_private("http://2130706433/", Ok("http://127.0.0.1/"));
    check_private("http://0x7f000001:8080/a", Ok("http://127.0.0.1:8080/a"));
    check_private("http://0X7F000001/", Ok("http://127.0.0.1/"));
    check_private("http://127.1/", Ok("http://127.0.0.1/"));
    check_private("http://0177.0.0.1/", Ok("http://127.0.0.1/"));
    check_private("http://0x7f.1/", Ok("http://127.0.0.1/"));
    check_private("http://127.0.0.1./", Ok("http://127.0.0.1/"));
    check_public("http://134744072/hook", Ok("http://8.8.8.8/hook"));
}

#[test]
fn numeric_hosts_are_checked_as_addresses() {
    let loopback = "destination 127.0.0.1 is not globally routable (loopback)";
    for url in [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
    ] {
        check_public(url, Err(loopback));
    }
    check_public(
        "http://169.254.169.254/latest/meta-data/",
        Err("destination 169.254.169.254 is not globally routable (cloud metadata)"),
    );
    check_public(
        "http://[::ffff:169.254.169.254]/",
        Err("destination ::ffff:169.254.169.254 is not globally routable (embeds 169.254.169.254, cloud metadata)"),
    );
    check_public(
        "http://10.0.0.5/admin",
        Err("destination 10.0.0.5 is not globally routable (private)"),
    );
    check_public(
        "http://0.1.2.3/",
        Err("destination 0.1.2.3 is not globally routable (this network)"),
    );
}

#[test]
fn malformed_numeric_hosts_are_refused() {
    for host in [
        "1.2.3.256",
        "1.2.3.4.5",
        "example.123",
        "09.1.1.1",
        "0x1g.1",
        "4294967296",
    ] {
        let message = format!("host `{host}` is not a valid host name or ip address");
        check_public(&format!("http://{host}/"), Err(&message));
    }
}

#[test]
fn localhost_names_are_loopback() {
    let refused = |host: &str| format!("destination {host} is not globally routable (loopback)");
    check_public("http://localhost:8080/", Err(&refused("localhost")));
    check_public("http://LOCALHOST./", Err(&refused("localhost.")));
    check_public("http://api.localhost/", Err(&refused("api.localhost")));
    check_public("http://notlocalhost/", Ok("http://notlocalhost/"));
    check_private("http://localhost:8080/", Ok("http://localhost:8080/"));
    let loopback_allowed = DestinationPolicy {
        allow_private_networks: false,
        allowed_cidrs: vec!["127.0.0.0/8".parse().expect("valid")],
    };
    check(
        "http://localhost/",
        &loopback_allowed,
        Ok("http://localhost/"),
    );
}

#[track_caller]
fn check_numeric(host: &str, expect: NumericHost) {
    assert_eq!(parse_numeric_ipv4(host), expect);
}

#[test]
fn numeric_spellings() {
    let ip = |text: &str| NumericHost::Ipv4(text.parse().expect("valid"));
    check_numeric("127.0.0.1", ip("127.0.0.1"));
    check_numeric("2130706433", ip("127.0.0.1"));
    check_numeric("0x7f000001", ip("127.0.0.1"));
    check_numeric("017700000001", ip("127.0.0.1"));
    check_numeric("127.1", ip("127.0.0.1"));
    check_numeric("127.0.1", ip("127.0.0.1"));
    check_numeric("0x7f.0.0.0x1", ip("127.0.0.1"));
    check_numeric("0", ip("0.0.0.0"));
    check_numeric("0x", ip("0.0.0.0"));
    check_numeric("4294967295", ip("255.255.255.255"));
    check_numeric("192.168.257", ip("192.168.1.1"));
    check_numeric("hooks.example.com", NumericHost::NotNumeric);
    check_numeric("cafe", NumericHost::NotNumeric);
    check_numeric("1.2.3.a", NumericHost::NotNumeric);
    check_numeric("4294967296", NumericHost::Invalid);
    check_numeric("256.1.1.1", NumericHost::Invalid);
    check_numeric("1.2.65536", NumericHost::Invalid);
    check_numeric("08", NumericHost::Invalid);
    check_numeric("1..1", NumericHost::Invalid);
}
