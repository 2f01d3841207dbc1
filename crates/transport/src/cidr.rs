//! [`Cidr`]: the IP ranges an operator lists to re-admit destinations.
//!
//! Parsing is strict on purpose: `10.0.0.5/8` is refused with a suggestion rather than
//! silently widened, because an allowlist entry is a security decision and a typo in
//! one should be noticed. This module knows nothing about which ranges are reserved;
//! that is [`crate::guard`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP network such as `10.0.0.0/8` or `fd00::/8`; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` lies in this network (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                u128::from(ip.to_bits()) & mask(32, self.prefix_len)
                    == u128::from(network.to_bits())
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                ip.to_bits() & mask(128, self.prefix_len) == network.to_bits()
            }
            _ => false,
        }
    }
}

/// The netmask of `prefix_len` bits in an address of `width` bits, as a `u128`.
pub(crate) fn mask(width: u8, prefix_len: u8) -> u128 {
    let all_ones = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    let host_bits = width.saturating_sub(prefix_len);
    if host_bits >= 128 {
        0
    } else {
        all_ones & !((1u128 << host_bits) - 1)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

/// Why a string is not a [`Cidr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseCidrError {
    /// The part before `/` is not an IP address.
    #[error("`{input}` is not an ip address or cidr range")]
    Address {
        /// The text given.
        input: String,
        /// The parser's complaint.
        #[source]
        source: std::net::AddrParseError,
    },
    /// The prefix length is not a number within the address width.
    #[error("the prefix length in `{input}` is out of range")]
    PrefixLength {
        /// The text given.
        input: String,
    },
    /// Bits are set after the prefix, which usually means a typo.
    #[error("`{input}` has bits set after the prefix; did you mean {suggestion}?")]
    HostBits {
        /// The text given.
        input: String,
        /// The network the prefix describes.
        suggestion: Cidr,
    },
}

impl FromStr for Cidr {
    type Err = ParseCidrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (address_text, prefix_text) = match input.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (input, None),
        };
        let network: IpAddr = address_text
            .parse()
            .map_err(|source| ParseCidrError::Address {
                input: input.to_owned(),
                source,
            })?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix_text {
            None => width,
            Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text
                .parse::<u8>()
                .ok()
                .filter(|len| *len <= width)
                .ok_or_else(|| ParseCidrError::PrefixLength {
                    input: input.to_owned(),
                })?,
            Some(_) => {
                return Err(ParseCidrError::PrefixLength {
                    input: input.to_owned(),
                })
            }
        };
        let netmask = mask(width, prefix_len);
        let masked = match network {
            IpAddr::V4(v4) => {
                let bits = u128::from(v4.to_bits()) & netmask;
                // The mask of a 32-bit width keeps the value within u32.
                IpAddr::V4(Ipv4Addr::from_bits(u32::try_from(bits).unwrap_or(0)))
            }
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & netmask)),
        };
        let cidr = Cidr {
            network: masked,
            prefix_len,
        };
        if masked != network {
            return Err(ParseCidrError::HostBits {
                input: input.to_owned(),
                suggestion: cidr,
            });
        }
        Ok(cidr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test addresses are valid")
    }

    #[track_caller]
    fn check_cidr(text: &str, expect: Result<&str, &str>) {
        let got = text
            .parse::<Cidr>()
            .map(|cidr| cidr.to_string())
            .map_err(|error| error.to_string());
        assert_eq!(
            got.as_ref().map(String::as_str).map_err(String::as_str),
            expect
        );
    }

    #[test]
    fn cidrs_parse() {
        check_cidr("10.0.0.0/8", Ok("10.0.0.0/8"));
        check_cidr("10.0.0.5", Ok("10.0.0.5/32"));
        check_cidr("fd00::/8", Ok("fd00::/8"));
        check_cidr("::1", Ok("::1/128"));
        check_cidr("0.0.0.0/0", Ok("0.0.0.0/0"));
        check_cidr(
            "10.0.0.5/8",
            Err("`10.0.0.5/8` has bits set after the prefix; did you mean 10.0.0.0/8?"),
        );
        check_cidr(
            "10.0.0.0/33",
            Err("the prefix length in `10.0.0.0/33` is out of range"),
        );
        check_cidr(
            "10.0.0.0/",
            Err("the prefix length in `10.0.0.0/` is out of range"),
        );
        check_cidr(
            "10.0.0.0/+8",
            Err("the prefix length in `10.0.0.0/+8` is out of range"),
        );
        check_cidr(
            "fd00::/129",
            Err("the prefix length in `fd00::/129` is out of range"),
        );
        check_cidr("banana", Err("`banana` is not an ip address or cidr range"));
    }

    #[test]
    fn cidrs_contain_their_family_only() {
        let cidr: Cidr = "10.0.0.0/8".parse().expect("valid");
        assert!(cidr.contains(ip("10.255.255.255")));
        assert!(!cidr.contains(ip("11.0.0.0")));
        assert!(!cidr.contains(ip("::ffff:10.0.0.1")));
        let everything: Cidr = "::/0".parse().expect("valid");
        assert!(everything.contains(ip("2001:db8::1")));
        assert!(!everything.contains(ip("10.0.0.1")));
    }
}
