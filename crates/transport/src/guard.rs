//! The destination guard: which IP addresses Herald may connect to.
//!
//! Webhook URLs are written by customers, so without a guard Herald would be a
//! server-side request forgery (SSRF) tool pointed at its own network: the cloud
//! metadata service, databases on private addresses, admin ports on loopback.
//! [`DestinationPolicy::check_ip`] refuses every address that is not globally routable
//! (DESIGN.md section 5, field case 20), including IPv4 addresses smuggled inside IPv6
//! forms (mapped, compatible, NAT64, 6to4, Teredo), which a single "is global" flag
//! gets wrong.
//!
//! This module only classifies addresses. It does not parse URLs (see [`crate::url`])
//! and does not resolve names (see [`crate::resolve`]); both feed their addresses here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::cidr::{mask, Cidr};

/// Which destinations the transport may connect to.
///
/// The default stance ([`DestinationPolicy::public_only`]) admits only globally
/// routable addresses. Two escape hatches exist, and neither ever admits a cloud
/// metadata address:
/// - `allow_private_networks` (local development and tests) admits loopback, private,
///   link-local, shared (CGNAT) and IPv6 unique-local/link-local/site-local addresses;
/// - `allowed_cidrs` (operators) re-admits listed ranges. Responses from addresses
///   admitted only this way have their bodies withheld (field case 23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Admit loopback and private-use ranges (development mode).
    pub allow_private_networks: bool,
    /// Ranges re-admitted by the operator even though they are not globally routable.
    pub allowed_cidrs: Vec<Cidr>,
}

/// How an address got past the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The address is globally routable.
    Public,
    /// The address is private-use and `allow_private_networks` is on.
    PrivateNetworks,
    /// The address is not globally routable and was admitted only by an `allowed_cidrs`
    /// entry. Response bodies from such destinations are withheld.
    Allowlisted,
}

impl DestinationPolicy {
    /// Only globally routable destinations: the production default.
    pub fn public_only() -> Self {
        DestinationPolicy {
            allow_private_networks: false,
            allowed_cidrs: Vec::new(),
        }
    }

    /// Also loopback and private networks (local development, tests). Cloud metadata
    /// addresses stay blocked.
    pub fn allow_private() -> Self {
        DestinationPolicy {
            allow_private_networks: true,
            allowed_cidrs: Vec::new(),
        }
    }

    /// Whether a connection to `ip` is allowed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), BlockReason> {
        self.admit(ip).map(|_admission| ())
    }

    /// Whether a connection to `ip` is allowed, and on what grounds.
    pub fn admit(&self, ip: IpAddr) -> Result<Admission, BlockReason> {
        let Some(reason) = blocked_range(ip) else {
            return Ok(Admission::Public);
        };
        // Invariant: metadata services hand out cloud credentials; nothing re-admits them.
        if reason.range == ReservedRange::CloudMetadata {
            return Err(reason);
        }
        if self.allow_private_networks && reason.range.is_private_use() {
            return Ok(Admission::PrivateNetworks);
        }
        let embedded = reason.embedded.map(IpAddr::V4);
        let listed = self
            .allowed_cidrs
            .iter()
            .any(|cidr| cidr.contains(ip) || embedded.is_some_and(|inner| cidr.contains(inner)));
        if listed {
            Ok(Admission::Allowlisted)
        } else {
            Err(reason)
        }
    }
}

/// Why the guard refused an address: `127.0.0.1 is loopback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockReason {
    /// The address as given (or resolved).
    pub ip: IpAddr,
    /// The IPv4 address found inside an IPv6 form, when that is what was refused.
    pub embedded: Option<Ipv4Addr>,
    /// The range that is not globally routable.
    pub range: ReservedRange,
}

impl BlockReason {
    /// The short explanation used in parentheses: `private`, or
    /// `embeds 169.254.169.254, cloud metadata`.
    pub fn detail(&self) -> String {
        match self.embedded {
            Some(inner) => format!("embeds {inner}, {}", self.range),
            None => self.range.to_string(),
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.embedded {
            Some(inner) => write!(f, "{} embeds {inner}, which is {}", self.ip, self.range),
            None => write!(f, "{} is {}", self.ip, self.range),
        }
    }
}

impl std::error::Error for BlockReason {}

/// A range of addresses that is not globally routable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReservedRange {
    /// Cloud instance metadata and credential services (169.254.169.254, fd00:ec2::254,
    /// 100.100.100.200, ...). Never admitted.
    CloudMetadata,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedAddressSpace,
    /// fc00::/7.
    UniqueLocal,
    /// fec0::/10 (deprecated).
    SiteLocal,
    /// 0.0.0.0/8.
    ThisNetwork,
    /// `::`.
    Unspecified,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18.0.0/15, 2001:2::/48.
    Benchmarking,
    /// 192.0.0.0/24, 2001::/23.
    IetfProtocol,
    /// 240.0.0.0/4, 100::/64 and IPv6 outside 2000::/3.
    Reserved,
}

impl ReservedRange {
    /// Ranges a developer's own machine and network use; admitted by
    /// `allow_private_networks`.
    pub fn is_private_use(self) -> bool {
        matches!(
            self,
            ReservedRange::Loopback
                | ReservedRange::Private
                | ReservedRange::LinkLocal
                | ReservedRange::SharedAddressSpace
                | ReservedRange::UniqueLocal
                | ReservedRange::SiteLocal
        )
    }

    /// Its name in messages (`loopback`, `cloud metadata`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ReservedRange::CloudMetadata => "cloud metadata",
            ReservedRange::Loopback => "loopback",
            ReservedRange::Private => "private",
            ReservedRange::LinkLocal => "link-local",
            ReservedRange::SharedAddressSpace => "shared address space (cgnat)",
            ReservedRange::UniqueLocal => "unique local",
            ReservedRange::SiteLocal => "site-local",
            ReservedRange::ThisNetwork => "this network",
            ReservedRange::Unspecified => "unspecified",
            ReservedRange::Multicast => "multicast",
            ReservedRange::Broadcast => "broadcast",
            ReservedRange::Documentation => "documentation",
            ReservedRange::Benchmarking => "benchmarking",
            ReservedRange::IetfProtocol => "ietf protocol assignment",
            ReservedRange::Reserved => "reserved",
        }
    }
}

impl fmt::Display for ReservedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reserved range `ip` falls in, or `None` when it is globally routable.
pub(crate) fn blocked_range(ip: IpAddr) -> Option<BlockReason> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4).map(|range| BlockReason {
            ip,
            embedded: None,
            range,
        }),
        IpAddr::V6(v6) => v6_range(v6).map(|(range, embedded)| BlockReason {
            ip,
            embedded,
            range,
        }),
    }
}

/// Whether `ip` lies in `a.b.c.d/prefix_len`.
fn in_v4(ip: u32, network: [u8; 4], prefix_len: u8) -> bool {
    let network = u128::from(u32::from_be_bytes(network));
    u128::from(ip) & mask(32, prefix_len) == network
}

/// Whether `ip` lies in the IPv6 network `network/prefix_len`.
fn in_v6(ip: u128, network: u128, prefix_len: u8) -> bool {
    ip & mask(128, prefix_len) == network
}

/// Cloud metadata and credential endpoints: AWS/GCP/Azure/OCI 169.254.169.254, AWS ECS
/// task credentials 169.254.170.2, EKS pod identity 169.254.170.23, Alibaba
/// 100.100.100.200, legacy OCI 192.0.0.192.
const METADATA_V4: [[u8; 4]; 5] = [
    [169, 254, 169, 254],
    [169, 254, 170, 2],
    [169, 254, 170, 23],
    [100, 100, 100, 200],
    [192, 0, 0, 192],
];

/// AWS IMDS and EKS pod identity over IPv6 (fd00:ec2::254, fd00:ec2::23).
const METADATA_V6: [u128; 2] = [
    0xfd00_0ec2_0000_0000_0000_0000_0000_0254,
    0xfd00_0ec2_0000_0000_0000_0000_0000_0023,
];

/// The reserved IPv4 range `ip` falls in; metadata addresses are checked first so they
/// are never reported as plain link-local or CGNAT.
fn v4_range(ip: Ipv4Addr) -> Option<ReservedRange> {
    let bits = ip.to_bits();
    let table: [([u8; 4], u8, ReservedRange); 16] = [
        ([0, 0, 0, 0], 8, ReservedRange::ThisNetwork),
        ([127, 0, 0, 0], 8, ReservedRange::Loopback),
        ([10, 0, 0, 0], 8, ReservedRange::Private),
        ([172, 16, 0, 0], 12, ReservedRange::Private),
        ([192, 168, 0, 0], 16, ReservedRange::Private),
        ([169, 254, 0, 0], 16, ReservedRange::LinkLocal),
        ([100, 64, 0, 0], 10, ReservedRange::SharedAddressSpace),
        ([192, 0, 0, 0], 24, ReservedRange::IetfProtocol),
        ([192, 0, 2, 0], 24, ReservedRange::Documentation),
        ([198, 51, 100, 0], 24, ReservedRange::Documentation),
        ([203, 0, 113, 0], 24, ReservedRange::Documentation),
        ([198, 18, 0, 0], 15, ReservedRange::Benchmarking),
        ([224, 0, 0, 0], 4, ReservedRange::Multicast),
        ([255, 255, 255, 255], 32, ReservedRange::Broadcast),
        ([240, 0, 0, 0], 4, ReservedRange::Reserved),
        // 192.88.99.0/24 was the 6to4 relay anycast, deprecated by RFC 7526.
        ([192, 88, 99, 0], 24, ReservedRange::Reserved),
    ];
    if METADATA_V4.contains(&ip.octets()) {
        return Some(ReservedRange::CloudMetadata);
    }
    table
        .iter()
        .find(|(network, prefix_len, _)| in_v4(bits, *network, *prefix_len))
        .map(|(_, _, range)| *range)
}

/// The IPv4 address in bits `offset..offset + 32` of `ip` (counted from the top).
fn v4_at(ip: u128, offset: u32) -> Ipv4Addr {
    let shifted = ip >> (96 - offset);
    Ipv4Addr::from_bits(u32::try_from(shifted & 0xffff_ffff).unwrap_or(0))
}

/// The IPv4 address embedded by RFC 6052 under a prefix of `prefix_len` bits; bits
/// 64..72 (the "u" octet) are skipped.
fn rfc6052_v4(ip: u128, prefix_len: u32) -> Ipv4Addr {
    let bytes = ip.to_be_bytes();
    let start = (prefix_len / 8) as usize;
    let mut octets = (start..16)
        .filter(|index| *index != 8)
        .filter_map(|index| bytes.get(index).copied());
    let mut next = || octets.next().unwrap_or(0);
    Ipv4Addr::new(next(), next(), next(), next())
}

/// The embedded IPv4 address among `candidates` whose range is most severe: a metadata
/// address first (nothing re-admits it), then any range the development switch does
/// not admit, then private-use ranges; earlier candidates win ties. Picking the most
/// severe one keeps an ambiguous address from being admitted on its mildest reading.
fn blocked_embedded(
    candidates: impl IntoIterator<Item = Ipv4Addr>,
) -> Option<(ReservedRange, Option<Ipv4Addr>)> {
    let severity = |range: ReservedRange| match range {
        ReservedRange::CloudMetadata => 2,
        range if !range.is_private_use() => 1,
        _ => 0,
    };
    let mut worst: Option<(ReservedRange, Ipv4Addr)> = None;
    for inner in candidates {
        let Some(range) = v4_range(inner) else {
            continue;
        };
        if worst.is_none_or(|(worst_range, _)| severity(range) > severity(worst_range)) {
            worst = Some((range, inner));
        }
    }
    worst.map(|(range, inner)| (range, Some(inner)))
}

/// The reserved IPv6 range `ip` falls in, with the embedded IPv4 address when the
/// verdict came from one.
fn v6_range(ip: Ipv6Addr) -> Option<(ReservedRange, Option<Ipv4Addr>)> {
    let bits = ip.to_bits();
    let plain = |range| Some((range, None));
    if METADATA_V6.contains(&bits) {
        return plain(ReservedRange::CloudMetadata);
    }
    if bits == 0 {
        return plain(ReservedRange::Unspecified);
    }
    if bits == 1 {
        return plain(ReservedRange::Loopback);
    }
    // Forms that carry an IPv4 address: judged by that address, because that is where
    // the packets end up (through the kernel, a NAT64 gateway or a tunnel relay).
    let last_32 = v4_at(bits, 96);
    let embedding_prefixes: [(u128, u8); 3] = [
        (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96), // mapped ::ffff:0:0/96
        (0x0000_0000_0000_0000_ffff_0000_0000_0000, 96), // translated ::ffff:0:0:0/96
        (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96), // NAT64 64:ff9b::/96
    ];
    if embedding_prefixes
        .iter()
        .any(|(network, prefix_len)| in_v6(bits, *network, *prefix_len))
    {
        return blocked_embedded([last_32]);
    }
    if in_v6(bits, 0, 96) {
        // IPv4-compatible ::a.b.c.d (deprecated); `::` and `::1` were handled above.
        return blocked_embedded([last_32]);
    }
    if in_v6(bits, 0x0064_ff9b_0001 << 80, 48) {
        // Local-use NAT64 (RFC 8215): the operator picks the prefix length, so every
        // RFC 6052 layout that fits under the /48 is checked.
        return blocked_embedded([96, 64, 56, 48].map(|prefix_len| rfc6052_v4(bits, prefix_len)));
    }
    if in_v6(bits, 0x2002 << 112, 16) {
        // 6to4: the IPv4 address of the tunnel end sits in bits 16..48.
        return blocked_embedded([v4_at(bits, 16)]);
    }
    if in_v6(bits, 0x2001_0000 << 96, 32) {
        // Teredo: the client address (bit-inverted) in the last 32 bits, the server
        // address in bits 32..64.
        let client = Ipv4Addr::from_bits(!last_32.to_bits());
        return blocked_embedded([client, v4_at(bits, 32)]);
    }
    let table: [(u128, u8, ReservedRange); 10] = [
        (0x2001_0002 << 96, 48, ReservedRange::Benchmarking),
        (0x2001_0db8 << 96, 32, ReservedRange::Documentation),
        (0x3fff << 112, 20, ReservedRange::Documentation),
        (0x2001 << 112, 23, ReservedRange::IetfProtocol),
        (0x0100 << 112, 64, ReservedRange::Reserved),
        (0xfc00 << 112, 7, ReservedRange::UniqueLocal),
        (0xfe80 << 112, 10, ReservedRange::LinkLocal),
        (0xfec0 << 112, 10, ReservedRange::SiteLocal),
        (0xff00 << 112, 8, ReservedRange::Multicast),
        // Only 2000::/3 is allocated for global unicast; the rest is reserved by IANA.
        (0, 0, ReservedRange::Reserved),
    ];
    let global_unicast = in_v6(bits, 0x2000 << 112, 3);
    table
        .iter()
        .filter(|(_, prefix_len, _)| *prefix_len > 0 || !global_unicast)
        .find(|(network, prefix_len, _)| in_v6(bits, *network, *prefix_len))
        .map(|(_, _, range)| (*range, None))
}

#[cfg(test)]
mod tests;
