//! `herald-transport`: sends one webhook POST and reports what came back.
//!
//! The [`Transport`] trait is the seam the delivery engine holds as `Arc<dyn Transport>`;
//! [`HyperTransport`] implements it with `hyper` 1, `hyper-util`'s pooled client and
//! `rustls` (HTTP/1.1 keep-alive, HTTP/2 through ALPN, plain `http` allowed). Around a
//! single request it owns the things every attempt needs and nobody else should
//! re-implement:
//! - the destination guard against SSRF ([`DestinationPolicy`], DESIGN.md section 5),
//!   applied to IP hosts before sending and to every resolved address at connect time;
//! - the endpoint URL rules ([`url::check_endpoint_url`]), shared with the API;
//! - the connect and total timeouts, and a capped read of the response body;
//! - the classification of failures into the log's error kinds ([`TransportError::kind`]).
//!
//! It deliberately knows nothing about events, signing, retries or storage: the caller
//! passes finished headers and body bytes, and decides what a status code means.
#![warn(missing_docs)]

use std::fmt;
use std::time::Duration;

mod body;
mod cidr;
mod error;
mod guard;
mod hyper_transport;
mod resolve;
pub mod url;

pub use cidr::{Cidr, ParseCidrError};
pub use error::TransportError;
pub use guard::{Admission, BlockReason, DestinationPolicy, ReservedRange};
pub use hyper_transport::HyperTransport;
pub use resolve::{Resolve, SystemResolver};

/// Sends webhook requests.
///
/// Contract: `send` makes at most one request, never follows redirects, and returns
/// within the implementation's total timeout. A receiver that answers, with any status,
/// is `Ok`: a 500 or a 301 is an outcome for the retry policy, not an error. `Err` means
/// there was no usable answer, and [`TransportError::kind`] says why.
#[async_trait::async_trait]
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// Sends one POST. A non-2xx answer is Ok (it is an outcome, not an error).
    async fn send(&self, request: OutboundRequest) -> Result<Response, TransportError>;
}

/// One POST to send: the finished URL, headers and body bytes.
///
/// Header values that are secrets (a customer's `Authorization`) should be marked with
/// [`http::HeaderValue::set_sensitive`]; `Debug` then hides them, and HTTP/2 never
/// indexes them.
#[derive(Clone)]
pub struct OutboundRequest {
    /// The endpoint URL; checked against [`url::check_endpoint_url`] before sending.
    pub url: String,
    /// Headers in the order to send; `Host` and `Content-Length` are added.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The exact body bytes.
    pub body: bytes::Bytes,
}

impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body can be large; its length is what matters in a debug print.
        f.debug_struct("OutboundRequest")
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names and values as received, repeated names grouped together (values
    /// decoded lossily as UTF-8). When `body_withheld`, only `Retry-After`,
    /// `Content-Length`, `Content-Type` and `Date` are kept.
    pub headers: Vec<(String, String)>,
    /// At most [`TransportConfig::response_body_cap`] bytes from the start of the body;
    /// empty when `body_withheld`.
    pub body: Vec<u8>,
    /// Whether the body went on past `body`.
    pub truncated: bool,
    /// The declared `Content-Length`, or else the bytes seen when the body was read to
    /// the end; `None` when neither is known.
    pub size: Option<u64>,
    /// The destination was admitted only by an operator `allowed_cidrs` entry, so the
    /// body (and all but a few headers) is not returned: otherwise webhooks and test
    /// mode would let a tenant read internal services (field case 23).
    pub body_withheld: bool,
}

impl Response {
    /// The response as the attempt log stores it (the status is logged separately).
    pub fn into_record(self) -> herald_event::HttpRecord {
        herald_event::HttpRecord {
            headers: self.headers,
            body: self.body,
            truncated: self.truncated,
            size: self.size,
        }
    }
}

/// Settings of a [`HyperTransport`]. There is no `Default`: start from
/// [`TransportConfig::standard`] and change what you need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Limit on establishing the TCP connection (split across the addresses tried).
    pub connect_timeout: Duration,
    /// Limit on the whole attempt: resolving, connecting, TLS, sending, and reading the
    /// response body up to the cap. Expiry is a `timeout` error.
    pub total_timeout: Duration,
    /// How many response body bytes are kept; reading stops there.
    pub response_body_cap: usize,
    /// Which destinations may be connected to.
    pub destinations: DestinationPolicy,
}

impl TransportConfig {
    /// DESIGN.md section 8: 5 s connect, 15 s in all, 64 KiB of response body, public
    /// destinations only.
    pub fn standard() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            response_body_cap: 64 * 1024,
            destinations: DestinationPolicy::public_only(),
        }
    }
}
