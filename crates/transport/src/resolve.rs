//! Name resolution with the destination guard applied to every answer.
//!
//! Checking a host name once, when an endpoint is created, protects nothing: DNS can
//! answer with a public address then and with 127.0.0.1 a second later (DNS rebinding).
//! So the guard sits inside the resolver that `hyper-util`'s connector uses for every
//! new connection: [`GuardedResolver`] resolves, drops every address the policy refuses,
//! and hands back only vetted ones, which are exactly the addresses the connector then
//! dials. If nothing is left the lookup fails with a typed cause, so the attempt is
//! classified `blocked_destination`.
//!
//! IP-literal hosts never reach a resolver (`hyper-util` dials them directly); the
//! transport checks those itself before sending. This module does not parse URLs.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

use crate::error::{BlockedHost, DnsFailure};
use crate::guard::DestinationPolicy;
use crate::url::{parse_numeric_ipv4, NumericHost};

/// Looks up the addresses of a host name.
///
/// This is the seam tests use to simulate DNS (failures, rebinding). Contract: `host`
/// is a name, never an IP literal; an empty answer counts as a lookup failure; the
/// answer is not trusted, every address is checked by the destination guard.
pub trait Resolve: std::fmt::Debug + Send + Sync + 'static {
    /// The addresses `host` resolves to, in preference order.
    fn resolve(&self, host: &str) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send;
}

/// The operating system's resolver (`getaddrinfo` through [`tokio::net::lookup_host`]).
#[derive(Debug, Clone, Copy)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send {
        let host = host.to_owned();
        async move {
            let addresses = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addresses.map(|address| address.ip()).collect())
        }
    }
}

/// The future a [`GuardedResolver`] returns.
type Lookup =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, BoxError>> + Send>>;

/// The error type `hyper-util` expects from a resolver.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A `hyper-util` resolver that returns only addresses the policy admits.
#[derive(Debug)]
pub(crate) struct GuardedResolver<R> {
    resolver: Arc<R>,
    policy: Arc<DestinationPolicy>,
}

impl<R> Clone for GuardedResolver<R> {
    fn clone(&self) -> Self {
        GuardedResolver {
            resolver: Arc::clone(&self.resolver),
            policy: Arc::clone(&self.policy),
        }
    }
}

impl<R: Resolve> GuardedResolver<R> {
    pub(crate) fn new(resolver: R, policy: Arc<DestinationPolicy>) -> Self {
        GuardedResolver {
            resolver: Arc::new(resolver),
            policy,
        }
    }
}

impl<R: Resolve> tower_service::Service<Name> for GuardedResolver<R> {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Lookup;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = Arc::clone(&self.resolver);
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = lookup(&*resolver, &host).await?;
            let vetted = vet(&policy, &host, addresses)?;
            Ok(vetted.into_iter())
        })
    }
}

/// Resolves `host`, reading numeric spellings (`2130706433`, `127.1`) as addresses
/// rather than asking DNS, so they mean the same here as in [`crate::url`].
async fn lookup<R: Resolve>(resolver: &R, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
    let failure = |source| DnsFailure {
        host: host.to_owned(),
        source,
    };
    let addresses = match parse_numeric_ipv4(host) {
        NumericHost::Ipv4(v4) => vec![IpAddr::V4(v4)],
        NumericHost::Invalid => {
            let problem = io::Error::new(io::ErrorKind::InvalidInput, "malformed numeric host");
            return Err(failure(problem));
        }
        NumericHost::NotNumeric => resolver.resolve(host).await.map_err(failure)?,
    };
    if addresses.is_empty() {
        let problem = io::Error::new(io::ErrorKind::NotFound, "no addresses found");
        return Err(failure(problem));
    }
    Ok(addresses)
}

/// Keeps the addresses `policy` admits, with port 0 (the connector fills in the URL's
/// port). Fails when none is left.
fn vet(
    policy: &DestinationPolicy,
    host: &str,
    addresses: Vec<IpAddr>,
) -> Result<Vec<SocketAddr>, BlockedHost> {
    let mut vetted = Vec::with_capacity(addresses.len());
    let mut refused = Vec::new();
    for ip in addresses {
        match policy.check_ip(ip) {
            Ok(()) => vetted.push(SocketAddr::new(ip, 0)),
            Err(reason) => {
                tracing::warn!(host, %reason, "dropping resolved address refused by the destination guard");
                refused.push(reason);
            }
        }
    }
    if vetted.is_empty() {
        return Err(BlockedHost {
            host: host.to_owned(),
            reasons: refused,
        });
    }
    Ok(vetted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::classify;
    use herald_event::ErrorKind;
    use std::net::Ipv4Addr;
    use tower_service::Service;

    /// Answers every lookup with a fixed result.
    #[derive(Debug)]
    struct Fixed(Result<Vec<IpAddr>, io::ErrorKind>);

    impl Resolve for Fixed {
        fn resolve(&self, _host: &str) -> impl Future<Output = io::Result<Vec<IpAddr>>> + Send {
            let answer = self.0.clone().map_err(io::Error::from);
            async move { answer }
        }
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[track_caller]
    fn check(
        policy: DestinationPolicy,
        host: &str,
        answer: Result<Vec<IpAddr>, io::ErrorKind>,
        expect: Result<Vec<IpAddr>, ErrorKind>,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime without drivers always builds");
        let mut resolver = GuardedResolver::new(Fixed(answer), Arc::new(policy));
        let name: Name = host.parse().expect("test host names are valid");
        let result = runtime.block_on(resolver.call(name));
        let got = match &result {
            Ok(addresses) => Ok(addresses.clone().map(|address| address.ip()).collect()),
            Err(error) => Err(classify(error.as_ref())),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn public_answers_pass() {
        check(
            DestinationPolicy::public_only(),
            "hooks.example.com",
            Ok(vec![v4(93, 184, 215, 14)]),
            Ok(vec![v4(93, 184, 215, 14)]),
        );
    }

    #[test]
    fn blocked_answers_are_dropped() {
        check(
            DestinationPolicy::public_only(),
            "mixed.test",
            Ok(vec![
                v4(127, 0, 0, 1),
                v4(93, 184, 215, 14),
                v4(10, 0, 0, 5),
            ]),
            Ok(vec![v4(93, 184, 215, 14)]),
        );
    }

    #[test]
    fn all_blocked_is_blocked_destination() {
        check(
            DestinationPolicy::public_only(),
            "rebind.test",
            Ok(vec![v4(127, 0, 0, 1)]),
            Err(ErrorKind::BlockedDestination),
        );
        check(
            DestinationPolicy::allow_private(),
            "metadata.test",
            Ok(vec![v4(169, 254, 169, 254)]),
            Err(ErrorKind::BlockedDestination),
        );
    }

    #[test]
    fn lookup_failures_are_dns() {
        check(
            DestinationPolicy::public_only(),
            "nxdomain.invalid",
            Err(io::ErrorKind::NotFound),
            Err(ErrorKind::Dns),
        );
        check(
            DestinationPolicy::public_only(),
            "slow.test",
            Err(io::ErrorKind::TimedOut),
            Err(ErrorKind::Dns),
        );
        check(
            DestinationPolicy::public_only(),
            "empty.test",
            Ok(vec![]),
            Err(ErrorKind::Dns),
        );
    }

    #[test]
    fn numeric_hosts_are_read_as_addresses_not_looked_up() {
        // The fixed answer would be admitted; the numeric host must win over it.
        let public = Ok(vec![v4(93, 184, 215, 14)]);
        check(
            DestinationPolicy::public_only(),
            "2130706433",
            public.clone(),
            Err(ErrorKind::BlockedDestination),
        );
        check(
            DestinationPolicy::public_only(),
            "0x7f000001",
            public.clone(),
            Err(ErrorKind::BlockedDestination),
        );
        check(
            DestinationPolicy::public_only(),
            "127.1",
            public.clone(),
            Err(ErrorKind::BlockedDestination),
        );
        check(
            DestinationPolicy::public_only(),
            "1.2.3.256",
            public,
            Err(ErrorKind::Dns),
        );
    }
}
