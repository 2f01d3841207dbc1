//! Tenants, API keys, endpoints with subscriptions, deliveries and the attempt log.
//!
//! These are the stored shapes. They hold no behaviour beyond small, pure helpers
//! (subscription matching, which secrets are live); scheduling lives in `herald-retry`
//! and the state machine that moves deliveries along lives in `herald-delivery`.

use std::fmt;

use crate::{
    ApiKeyId, AttemptId, DeliveryId, EndpointId, EventError, EventId, TenantId, Timestamp,
};

/// One customer account; owns endpoints, events and logs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tenant {
    /// Its id (client-chosen or generated).
    pub id: TenantId,
    /// A human name.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A tenant API key. Only a SHA-256 hash of the key is stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiKey {
    /// Its id, used to list and revoke it.
    pub id: ApiKeyId,
    /// The only tenant this key may act for.
    pub tenant: TenantId,
    /// Lowercase hex SHA-256 of the key.
    pub key_hash: String,
    /// The first characters of the key, so people can tell keys apart.
    pub key_prefix: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A signing secret of an endpoint.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndpointSecret {
    /// `whsec_` + base64 of the key bytes.
    pub secret: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// After a rotation, when this (previous) secret stops signing; `None` while current.
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointSecret")
            .field("secret", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A URL that receives the event types it subscribed to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// Its id.
    pub id: EndpointId,
    /// The tenant that owns it.
    pub tenant: TenantId,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Free text for people.
    pub description: String,
    /// Subscriptions: exact types, `prefix.*` or `*`.
    pub event_types: Vec<String>,
    /// Disabled endpoints receive nothing; their events are recorded as skipped.
    pub enabled: bool,
    /// Why it was disabled automatically (410 Gone, failing too long), if it was.
    pub disabled_reason: Option<String>,
    /// Signing secrets, current first, then previous ones still in their grace window.
    pub secrets: Vec<EndpointSecret>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

impl Endpoint {
    /// Whether any of its subscriptions matches `event_type` (an event matches at most once).
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        self.event_types
            .iter()
            .any(|pattern| subscription_matches(pattern, event_type))
    }

    /// The secrets that sign at `now`, newest first.
    pub fn live_secrets(&self, now: Timestamp) -> impl Iterator<Item = &str> + '_ {
        self.secrets
            .iter()
            .filter(move |secret| secret.expires_at.is_none_or(|expiry| expiry > now))
            .map(|secret| secret.secret.as_str())
    }
}

/// Whether a subscription pattern (`email.sent`, `email.*`, `*`) matches an event type.
pub fn subscription_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

/// Checks the form of a subscription pattern: `*`, `prefix.*` or an event type name.
pub fn validate_subscription(pattern: &str) -> Result<(), EventError> {
    if pattern == "*" {
        return Ok(());
    }
    let name = pattern.strip_suffix(".*").unwrap_or(pattern);
    let segment_ok = |segment: &str| {
        segment.starts_with(|c: char| c.is_ascii_lowercase())
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if name.len() <= 128 && !name.is_empty() && name.split('.').all(segment_ok) {
        Ok(())
    } else {
        Err(EventError::InvalidSubscription)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or in flight).
    Pending,
    /// A 2xx was received.
    Succeeded,
    /// Every scheduled attempt failed, or the receiver answered 410 Gone.
    Failed,
    /// The endpoint was disabled when the event arrived or fell due; recoverable.
    Skipped,
    /// The endpoint was deleted.
    Cancelled,
}

impl DeliveryStatus {
    /// Its name in the API (`pending`, `succeeded`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    /// Parses an API name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Failed,
            DeliveryStatus::Skipped,
            DeliveryStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// One event on its way to one endpoint.
///
/// Protocol: `next_attempt_at` is set while `Pending`. A worker that claims it sets
/// `lease_until` (past the attempt's total timeout); recording the attempt clears it. A
/// lease found expired means the worker died mid-attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The owning tenant.
    pub tenant: TenantId,
    /// The event being delivered.
    pub event_id: EventId,
    /// Its type (kept here so logs can be filtered without loading the event).
    pub event_type: String,
    /// The destination.
    pub endpoint_id: EndpointId,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far, all rounds included.
    pub attempts: u32,
    /// Attempts made before the current schedule round began (a recovery starts a new round).
    pub round_base: u32,
    /// When the first attempt of the current round went out; the 24 h horizon counts from it.
    pub round_started_at: Option<Timestamp>,
    /// When it is next due, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// Set while a worker holds it.
    pub lease_until: Option<Timestamp>,
    /// The last response status, if any.
    pub last_status_code: Option<u16>,
    /// The last error kind or status summary, if the last attempt failed.
    pub last_error: Option<String>,
    /// Sent by test mode.
    pub test: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Why an attempt got no HTTP answer (or why the answer was unusable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The attempt's deadline passed (connect or whole attempt).
    Timeout,
    /// The host name did not resolve.
    Dns,
    /// The TCP connection failed.
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The destination guard refused the address; no connection was made.
    BlockedDestination,
    /// The peer spoke something that is not valid HTTP.
    InvalidResponse,
    /// The process died mid-attempt; the outcome is unknown.
    Interrupted,
}

impl ErrorKind {
    /// Its name in the log (`timeout`, `dns`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::BlockedDestination => "blocked_destination",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Interrupted => "interrupted",
        }
    }
}

/// No usable HTTP answer, with what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unreachable {
    /// The class of failure.
    pub kind: ErrorKind,
    /// A human description (never contains secrets).
    pub message: String,
}

/// What an attempt came to, as the retry policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered {
        /// The status code.
        status: u16,
    },
    /// The receiver answered with anything else.
    Rejected {
        /// The status code.
        status: u16,
        /// The raw `Retry-After` header, if present.
        retry_after: Option<String>,
    },
    /// No answer.
    Unreachable(Unreachable),
}

/// The error part of an attempt record.
pub type AttemptError = Unreachable;

/// A request or response as logged: headers and a (possibly truncated) body.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct HttpRecord {
    /// Header names and values, in the order sent or received.
    pub headers: Vec<(String, String)>,
    /// The body bytes kept (up to the log cap).
    pub body: Vec<u8>,
    /// Whether `body` is a prefix of a longer body.
    pub truncated: bool,
    /// The full body size when known (declared `Content-Length` or bytes seen).
    pub size: Option<u64>,
}

/// What the engine decided after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NextAction {
    /// Delivered; nothing more to do.
    Done,
    /// Failed; retried at the given time.
    Retry(Timestamp),
    /// Failed and out of schedule (or stopped by 410): the delivery is `failed`.
    GiveUp,
}

/// One logged HTTP attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// Its id.
    pub id: AttemptId,
    /// The owning tenant.
    pub tenant: TenantId,
    /// The delivery it belongs to.
    pub delivery_id: DeliveryId,
    /// The event sent.
    pub event_id: EventId,
    /// The destination.
    pub endpoint_id: EndpointId,
    /// 1-based number within the delivery.
    pub attempt: u32,
    /// When the request started.
    pub started_at: Timestamp,
    /// How long it took until the response (or error) was complete.
    pub duration_ms: u64,
    /// The URL requested.
    pub url: String,
    /// Request headers and the exact body sent.
    pub request: HttpRecord,
    /// The response status, if one arrived.
    pub status_code: Option<u16>,
    /// Response headers and body, if a response arrived.
    pub response: Option<HttpRecord>,
    /// What went wrong, when no usable response arrived.
    pub error: Option<AttemptError>,
    /// What happens next.
    pub next: NextAction,
    /// Sent by test mode.
    pub test: bool,
}

impl Attempt {
    /// Whether the attempt was a success (2xx).
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|status| (200..300).contains(&status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_match_exact_prefix_and_all() {
        assert!(subscription_matches("email.sent", "email.sent"));
        assert!(!subscription_matches("email.sent", "email.sent2"));
        assert!(subscription_matches("email.*", "email.bounced"));
        assert!(!subscription_matches("email.*", "reply.categorized"));
        assert!(!subscription_matches("email.*", "emails.x"));
        assert!(subscription_matches("*", "recipient.added"));
    }

    #[test]
    fn subscription_patterns_are_checked() {
        for good in ["*", "email.*", "email.sent", "reply.categorized", "a_b.c1"] {
            assert_eq!(validate_subscription(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "email.",
            "Email.sent",
            "email..sent",
            "*.sent",
            "email.*.x",
            "em ail",
        ] {
            assert_eq!(
                validate_subscription(bad),
                Err(EventError::InvalidSubscription),
                "{bad}"
            );
        }
    }

    #[test]
    fn delivery_status_names_round_trip() {
        for name in ["pending", "succeeded", "failed", "skipped", "cancelled"] {
            assert_eq!(
                DeliveryStatus::parse(name).map(DeliveryStatus::as_str),
                Some(name)
            );
        }
        assert_eq!(DeliveryStatus::parse("done"), None);
    }
}
