//! [`TransportError`]: why an attempt got no usable HTTP answer, with its causes kept.
//!
//! Callers branch on [`TransportError::kind`] (the log's `timeout`, `dns`, `connect`,
//! `tls`, `blocked_destination`, `invalid_response`). The kind is found by walking the
//! `source()` chain and downcasting each cause to a type we know (`hyper-util`'s client
//! error, `hyper::Error`, `io::Error`, `rustls::Error` and the two guard causes defined
//! here), never by reading message text. A receiver that answers, even with a 500, is
//! not an error at all: that is a [`crate::Response`].

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use herald_event::ErrorKind;

use crate::guard::BlockReason;
use crate::url::UrlError;

/// An attempt that produced no usable HTTP response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The URL broke the URL rules (scheme, credentials, host); nothing was sent.
    #[error("endpoint url refused: {source}")]
    InvalidUrl {
        /// Which rule.
        #[source]
        source: UrlError,
    },
    /// The URL names an address the destination guard refuses; nothing was sent.
    #[error("destination blocked: {reason}")]
    Blocked {
        /// What the guard said.
        #[source]
        reason: BlockReason,
    },
    /// Resolving, connecting, the TLS handshake or the exchange failed.
    #[error("{}", request_summary(.source, .host))]
    Request {
        /// The host of the URL.
        host: String,
        /// The client's error, with its own causes.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The status and headers arrived but the body broke off or was malformed.
    #[error("reading the response body from {host} failed")]
    Body {
        /// The host of the URL.
        host: String,
        /// What `hyper` reported.
        #[source]
        source: hyper::Error,
    },
    /// No complete response within the attempt's total timeout.
    #[error("no complete response within {after:?}")]
    Timeout {
        /// The total timeout that expired.
        after: Duration,
        /// The timer's report.
        #[source]
        source: tokio::time::error::Elapsed,
    },
    /// The TLS client configuration could not be built.
    #[error("could not set up tls")]
    TlsSetup {
        /// What `rustls` reported.
        #[source]
        source: rustls::Error,
    },
}

impl TransportError {
    /// The class of failure, as logged and as the retry policy sees it.
    ///
    /// A refused URL counts as `blocked_destination`: like a guard refusal, it means
    /// the attempt was stopped before any connection was made.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TransportError::InvalidUrl { .. } | TransportError::Blocked { .. } => {
                ErrorKind::BlockedDestination
            }
            TransportError::Request { source, .. } => classify(source),
            TransportError::Body { source, .. } => match classify(source) {
                ErrorKind::Timeout => ErrorKind::Timeout,
                _ => ErrorKind::InvalidResponse,
            },
            TransportError::Timeout { .. } => ErrorKind::Timeout,
            TransportError::TlsSetup { .. } => ErrorKind::Tls,
        }
    }

    /// The guard's reason, when the destination guard refused the attempt (on an IP
    /// host, or on every address a name resolved to).
    pub fn block_reason(&self) -> Option<&BlockReason> {
        causes(self).find_map(|cause| cause.downcast_ref::<BlockReason>())
    }

    /// This error and its causes in one line, `outer: inner: innermost`, for the attempt
    /// log. Causes whose message the line already ends with are skipped.
    pub fn report(&self) -> String {
        let mut line = self.to_string();
        for cause in causes(self).skip(1) {
            if cause.is::<hyper_util::client::legacy::Error>() {
                // Its message ("client error (Connect)") only repeats the summary.
                continue;
            }
            let message = cause.to_string();
            if !message.is_empty() && !line.ends_with(&message) {
                line.push_str(": ");
                line.push_str(&message);
            }
        }
        line
    }
}

impl From<UrlError> for TransportError {
    fn from(error: UrlError) -> Self {
        match error {
            UrlError::Blocked { reason } => TransportError::Blocked { reason },
            source => TransportError::InvalidUrl { source },
        }
    }
}

/// The message of a [`TransportError::Request`]: what failed, and where.
fn request_summary(source: &hyper_util::client::legacy::Error, host: &str) -> String {
    match classify(source) {
        ErrorKind::Dns => format!("dns lookup for {host} failed"),
        ErrorKind::Connect => format!("could not connect to {host}"),
        ErrorKind::Tls => format!("tls handshake with {host} failed"),
        ErrorKind::Timeout => format!("connecting to {host} timed out"),
        ErrorKind::BlockedDestination => {
            format!("destination blocked: every address of {host} is refused")
        }
        ErrorKind::InvalidResponse => format!("invalid http response from {host}"),
        ErrorKind::Interrupted => format!("request to {host} was interrupted"),
    }
}

/// The resolver's answer contained only addresses the guard refuses.
#[derive(Debug)]
pub(crate) struct BlockedHost {
    /// The name looked up.
    pub(crate) host: String,
    /// Why each address was refused, in answer order (never empty).
    pub(crate) reasons: Vec<BlockReason>,
}

impl fmt::Display for BlockedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to addresses refused by the destination guard",
            self.host
        )
    }
}

impl StdError for BlockedHost {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.reasons
            .first()
            .map(|reason| reason as &(dyn StdError + 'static))
    }
}

/// Resolving a name failed (no such name, no answer, resolver unreachable).
#[derive(Debug, thiserror::Error)]
#[error("could not resolve {host}")]
pub(crate) struct DnsFailure {
    /// The name looked up.
    pub(crate) host: String,
    /// The resolver's error.
    #[source]
    pub(crate) source: io::Error,
}

/// The causes of `error`, starting with `error` itself.
///
/// `io::Error::source()` skips the error it wraps (it returns the wrapped error's
/// source), so for an `io::Error` the wrapped error is the next cause. That is how a
/// `rustls::Error` inside `tokio-rustls`'s `io::Error` is found.
pub(crate) fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&current| {
        match current.downcast_ref::<io::Error>() {
            Some(io_error) => io_error
                .get_ref()
                .map(|inner| inner as &(dyn StdError + 'static)),
            None => current.source(),
        }
    })
}

/// The kind of failure behind `error`, from the types found along its causes.
///
/// Precedence: a guard refusal or DNS failure decides at once (they wrap `io::Error`s
/// that would otherwise read as timeouts or connection errors); then TLS, timeouts,
/// malformed HTTP, and finally any other I/O or connect failure.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> ErrorKind {
    let mut tls = false;
    let mut timeout = false;
    let mut malformed = false;
    let mut connect = false;
    for cause in causes(error) {
        if cause.is::<BlockReason>() || cause.is::<BlockedHost>() {
            return ErrorKind::BlockedDestination;
        }
        if cause.is::<DnsFailure>() {
            return ErrorKind::Dns;
        }
        if cause.is::<rustls::Error>() {
            tls = true;
        }
        if cause.is::<tokio::time::error::Elapsed>() {
            timeout = true;
        }
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            if io_error.kind() == io::ErrorKind::TimedOut {
                timeout = true;
            } else {
                connect = true;
            }
        }
        if let Some(hyper_error) = cause.downcast_ref::<hyper::Error>() {
            timeout |= hyper_error.is_timeout();
            malformed |= hyper_error.is_parse()
                || hyper_error.is_parse_status()
                || hyper_error.is_parse_too_large()
                || hyper_error.is_incomplete_message();
        }
        if let Some(client_error) = cause.downcast_ref::<hyper_util::client::legacy::Error>() {
            connect |= client_error.is_connect();
        }
    }
    if tls {
        ErrorKind::Tls
    } else if timeout {
        ErrorKind::Timeout
    } else if malformed {
        ErrorKind::InvalidResponse
    } else if connect {
        ErrorKind::Connect
    } else {
        ErrorKind::InvalidResponse
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    use crate::guard::ReservedRange;

    fn loopback_reason() -> BlockReason {
        BlockReason {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            embedded: None,
            range: ReservedRange::Loopback,
        }
    }

    #[track_caller]
    fn check(error: &(dyn StdError + 'static), expect: ErrorKind) {
        assert_eq!(classify(error), expect);
    }

    #[test]
    fn guard_causes_are_blocked_destination() {
        check(&loopback_reason(), ErrorKind::BlockedDestination);
        let host = BlockedHost {
            host: "rebind.test".to_owned(),
            reasons: vec![loopback_reason()],
        };
        check(&host, ErrorKind::BlockedDestination);
        check(&io::Error::other(host), ErrorKind::BlockedDestination);
    }

    #[test]
    fn dns_wins_over_the_io_error_it_wraps() {
        let failure = DnsFailure {
            host: "slow.test".to_owned(),
            source: io::Error::from(io::ErrorKind::TimedOut),
        };
        check(&failure, ErrorKind::Dns);
    }

    #[test]
    fn tls_is_found_inside_io_errors() {
        let wrapped = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        check(&wrapped, ErrorKind::Tls);
    }

    #[test]
    fn io_kinds() {
        check(
            &io::Error::from(io::ErrorKind::TimedOut),
            ErrorKind::Timeout,
        );
        check(
            &io::Error::from(io::ErrorKind::ConnectionRefused),
            ErrorKind::Connect,
        );
        check(
            &io::Error::from(io::ErrorKind::ConnectionReset),
            ErrorKind::Connect,
        );
    }

    #[test]
    fn url_errors_map_to_blocked_destination() {
        let blocked = TransportError::from(UrlError::Blocked {
            reason: loopback_reason(),
        });
        assert_eq!(blocked.kind(), ErrorKind::BlockedDestination);
        assert_eq!(blocked.block_reason(), Some(&loopback_reason()));
        assert_eq!(
            blocked.to_string(),
            "destination blocked: 127.0.0.1 is loopback"
        );
        assert_eq!(
            blocked.report(),
            "destination blocked: 127.0.0.1 is loopback"
        );

        let credentials = TransportError::from(UrlError::Credentials);
        assert_eq!(credentials.kind(), ErrorKind::BlockedDestination);
        assert_eq!(credentials.block_reason(), None);
        assert_eq!(
            credentials.to_string(),
            "endpoint url refused: credentials in the URL are not allowed (they would be stored and logged); remove the user:password@ part"
        );
    }
}
