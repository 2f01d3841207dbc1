//! Endpoint URL rules: what Herald accepts as a webhook destination.
//!
//! [`check_endpoint_url`] is used twice: by the API when an endpoint is created or
//! changed (a refusal is a 422 with [`UrlError`]'s message), and by the transport before
//! every attempt. It accepts `http` and `https` URLs with a host and optional port,
//! refuses credentials in the URL (field case 19), drops fragments, and reads numeric
//! hosts the way `inet_aton` and browsers do (`2130706433`, `0x7f000001`, `127.1` and
//! `0177.0.0.1` are all 127.0.0.1), so the destination guard sees the address the
//! connection would really use (field case 20).
//!
//! It is written on top of [`http::Uri`], without a general URL library: only absolute
//! `http(s)` URLs matter here. It does no DNS; names are checked when they resolve
//! (see [`crate::Resolve`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::guard::{BlockReason, DestinationPolicy};

/// A URL that passed [`check_endpoint_url`], in normal form: lowercase scheme and host,
/// numeric hosts written as the address they mean, no credentials, no fragment, and a
/// path of at least `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    uri: http::Uri,
    text: String,
    scheme: Scheme,
    host: Host,
    port: u16,
}

impl EndpointUrl {
    /// The normal form as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The normal form as an [`http::Uri`].
    pub fn uri(&self) -> &http::Uri {
        &self.uri
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host: a name or an address.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The two schemes Herald delivers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The host part of an endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lowercase, checked when it resolves.
    Name(String),
    /// An address, checked right away.
    Ip(IpAddr),
}

impl Host {
    /// The address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
        }
    }
}

/// Why an endpoint URL was refused. Messages are meant for the person who typed it
/// (the API returns them with a 422) and never repeat credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not an absolute URL at all.
    #[error("not a valid absolute url")]
    Malformed {
        /// The parser's complaint.
        #[source]
        source: http::uri::InvalidUri,
    },
    /// A scheme other than `http` or `https` (or none).
    #[error("scheme must be http or https")]
    Scheme,
    /// `user:password@` in the URL.
    #[error("credentials in the URL are not allowed (they would be stored and logged); remove the user:password@ part")]
    Credentials,
    /// No host.
    #[error("the url has no host")]
    MissingHost,
    /// A host that is neither a DNS name nor an IP address (`1.2.3.256`, `[::1%eth0]`).
    #[error("host `{host}` is not a valid host name or ip address")]
    InvalidHost {
        /// The host as written.
        host: String,
    },
    /// A port outside 1..=65535 or not a number.
    #[error("port must be a number from 1 to 65535")]
    InvalidPort,
    /// An address the destination guard refuses.
    #[error("destination {} is not globally routable ({})", .reason.ip, .reason.detail())]
    Blocked {
        /// What the guard said.
        #[source]
        reason: BlockReason,
    },
    /// `localhost` or a name under `.localhost`, which always mean loopback (RFC 6761).
    #[error("destination {host} is not globally routable (loopback)")]
    LocalhostName {
        /// The host as written.
        host: String,
    },
}

/// Parses `url` and checks it against the URL rules and, for IP hosts and `localhost`
/// names, against `policy`.
pub fn check_endpoint_url(url: &str, policy: &DestinationPolicy) -> Result<EndpointUrl, UrlError> {
    let endpoint = parse_endpoint_url(url)?;
    match endpoint.host() {
        Host::Ip(ip) => policy
            .check_ip(*ip)
            .map_err(|reason| UrlError::Blocked { reason })?,
        Host::Name(name) if is_localhost_name(name) => {
            // Judge the name as the address it stands for, so an operator who re-admits
            // loopback gets the same answer here as at connect time.
            let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
            if policy.check_ip(loopback).is_err() {
                return Err(UrlError::LocalhostName { host: name.clone() });
            }
        }
        Host::Name(_) => {}
    }
    Ok(endpoint)
}

/// Parses `url` under the URL rules, without consulting the destination guard.
pub fn parse_endpoint_url(url: &str) -> Result<EndpointUrl, UrlError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|source| UrlError::Malformed { source })?;
    let scheme = match uri.scheme_str() {
        Some(text) if text.eq_ignore_ascii_case("http") => Scheme::Http,
        Some(text) if text.eq_ignore_ascii_case("https") => Scheme::Https,
        _ => return Err(UrlError::Scheme),
    };
    let authority = uri.authority().ok_or(UrlError::MissingHost)?.as_str();
    if authority.contains('@') {
        return Err(UrlError::Credentials);
    }
    let (host_text, port_text) = split_host_port(authority)?;
    let host = parse_host(host_text)?;
    let port = match port_text {
        None | Some("") => None,
        Some(text) => Some(parse_port(text)?),
    };
    let path_and_query = match uri.path_and_query().map(http::uri::PathAndQuery::as_str) {
        None | Some("") => "/".to_owned(),
        Some(text) if text.starts_with('/') => text.to_owned(),
        Some(text) => format!("/{text}"),
    };
    let text = match port {
        Some(port) => format!("{}://{host}:{port}{path_and_query}", scheme.as_str()),
        None => format!("{}://{host}{path_and_query}", scheme.as_str()),
    };
    let uri = text
        .parse()
        .map_err(|source| UrlError::Malformed { source })?;
    Ok(EndpointUrl {
        uri,
        text,
        scheme,
        host,
        port: port.unwrap_or(scheme.default_port()),
    })
}

/// Splits `host[:port]` or `[v6][:port]` (no userinfo).
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if authority.starts_with('[') {
        let Some(close) = authority.find(']') else {
            return Err(UrlError::InvalidHost {
                host: authority.to_owned(),
            });
        };
        let (host, rest) = authority.split_at(close + 1);
        match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(UrlError::InvalidPort),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => Ok((host, Some(port))),
            None => Ok((authority, None)),
        }
    }
}

/// A port of 1..=65535 written in decimal digits only (no sign).
fn parse_port(text: &str) -> Result<u16, UrlError> {
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    text.parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .ok_or(UrlError::InvalidPort)
}

/// A bracketed IPv6 literal, a numeric IPv4 spelling, or a DNS name (lowercased).
fn parse_host(text: &str) -> Result<Host, UrlError> {
    let invalid = || UrlError::InvalidHost {
        host: text.to_owned(),
    };
    if text.is_empty() {
        return Err(UrlError::MissingHost);
    }
    if let Some(inside) = text.strip_prefix('[') {
        let literal = inside.strip_suffix(']').ok_or_else(invalid)?;
        let v6: Ipv6Addr = literal.parse().map_err(|_| invalid())?;
        return Ok(Host::Ip(IpAddr::V6(v6)));
    }
    let lowercase = text.to_ascii_lowercase();
    match parse_numeric_ipv4(&lowercase) {
        NumericHost::Ipv4(v4) => return Ok(Host::Ip(IpAddr::V4(v4))),
        NumericHost::Invalid => return Err(invalid()),
        NumericHost::NotNumeric => {}
    }
    if is_dns_name(&lowercase) {
        Ok(Host::Name(lowercase))
    } else {
        Err(invalid())
    }
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1..=63 bytes, 253 in all; one
/// trailing dot allowed.
fn is_dns_name(name: &str) -> bool {
    let labels = name.strip_suffix('.').unwrap_or(name);
    labels.len() <= 253
        && labels.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

/// `localhost`, `localhost.` and names under `.localhost`.
pub(crate) fn is_localhost_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name
            .len()
            .checked_sub(".localhost".len())
            .and_then(|start| name.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
}

/// What a host made of numbers means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumericHost {
    /// A name: its last label is not a number.
    NotNumeric,
    /// A number spelling of an IPv4 address.
    Ipv4(Ipv4Addr),
    /// It ends in a number but is not a valid address (`1.2.3.256`, `1.2.3.4.5`,
    /// `example.123`). Browsers refuse these, and so do we, rather than guess.
    Invalid,
}

/// Reads a host the way `inet_aton` and the WHATWG URL standard do: one to four parts
/// separated by dots, each decimal, octal (leading `0`) or hexadecimal (`0x`), the last
/// part filling the remaining bytes. A host counts as numeric when its last label is a
/// number.
pub(crate) fn parse_numeric_ipv4(host: &str) -> NumericHost {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    let Some(last) = parts.last() else {
        return NumericHost::NotNumeric;
    };
    let last_is_number = last.bytes().all(|byte| byte.is_ascii_digit())
        || last
            .strip_prefix("0x")
            .or_else(|| last.strip_prefix("0X"))
            .is_some_and(|hex| hex.bytes().all(|byte| byte.is_ascii_hexdigit()));
    if last.is_empty() || !last_is_number {
        return NumericHost::NotNumeric;
    }
    if parts.len() > 4 {
        return NumericHost::Invalid;
    }
    let Some(numbers) = parts
        .iter()
        .map(|part| parse_ipv4_number(part))
        .collect::<Option<Vec<u64>>>()
    else {
        return NumericHost::Invalid;
    };
    let (leading, final_part) = numbers.split_at(numbers.len() - 1);
    if leading.iter().any(|number| *number > 255) {
        return NumericHost::Invalid;
    }
    let remaining_bits = 8 * (4 - leading.len() as u32);
    let final_value = final_part.first().copied().unwrap_or(0);
    if final_value >= 1u64 << remaining_bits {
        return NumericHost::Invalid;
    }
    let prefix = leading
        .iter()
        .fold(0u64, |value, number| (value << 8) | number);
    let address = (prefix << remaining_bits) | final_value;
    match u32::try_from(address) {
        Ok(bits) => NumericHost::Ipv4(Ipv4Addr::from_bits(bits)),
        Err(_) => NumericHost::Invalid,
    }
}

/// One part of a numeric host: `0x1f` (hex, `0x` alone is 0), `017` (octal), `15`.
fn parse_ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let hex = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X"));
    let octal = part.strip_prefix('0').filter(|rest| !rest.is_empty());
    let (digits, radix) = match (hex, octal) {
        (Some(hex), _) => (hex, 16),
        (None, Some(octal)) => (octal, 8),
        (None, None) => (part, 10),
    };
    if digits.is_empty() {
        return Some(0);
    }
    // A sign or a very long number would be accepted or overflow in `from_str_radix`;
    // anything past 32 bits is invalid anyway.
    if digits.len() > 32 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|value| *value <= u64::from(u32::MAX))
}

#[cfg(test)]
mod tests;
