//! Identifier newtypes and their generation.
//!
//! Generated ids are a prefix (`evt_`, `ep_`, ...) and 22 base62 characters: nine
//! encode the creation millisecond, thirteen are random (about 77 bits). Because the
//! alphabet is in ASCII order and the width is fixed, ids sort by creation time, which
//! lets stores list newest-first without a separate time index. Client-chosen ids
//! (tenants, events) follow `validate_client_id` and carry no such guarantee.

use std::fmt;

use crate::{EventError, Timestamp};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TIME_CHARS: usize = 9;
const RANDOM_CHARS: usize = 13;

/// The 22-character time-ordered suffix shared by every generated id kind.
fn generate_suffix(now: Timestamp) -> String {
    let mut suffix = [0u8; TIME_CHARS + RANDOM_CHARS];
    let mut millis = now.as_millis();
    for slot in suffix[..TIME_CHARS].iter_mut().rev() {
        *slot = BASE62[(millis % 62) as usize];
        millis /= 62;
    }
    let mut random = [0u8; RANDOM_CHARS];
    // The operating system's random source is a precondition of running Herald at all;
    // without it no secret could be generated either.
    getrandom::fill(&mut random).expect("operating system random source is available");
    for (slot, byte) in suffix[TIME_CHARS..].iter_mut().zip(random) {
        // 256 is not a multiple of 62; the slight bias is harmless for ids.
        *slot = BASE62[usize::from(byte) % 62];
    }
    suffix.iter().map(|&byte| char::from(byte)).collect()
}

/// Checks an id chosen by a client: 1 to 128 characters of `[A-Za-z0-9_.-]`.
pub fn validate_client_id(id: &str) -> Result<(), EventError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if id.is_empty() || id.len() > 128 || !id.chars().all(allowed) {
        return Err(EventError::InvalidId);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix of generated ids of this kind.
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id created at `now`.
            pub fn generate(now: Timestamp) -> Self {
                $name(format!("{}{}", $prefix, generate_suffix(now)))
            }

            /// Wraps an existing id (from storage or a validated request).
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// A tenant: one customer account of the outreach platform.
    TenantId, "ten_"
);
id_type!(
    /// An event; stable across retries and replays, so receivers dedupe on it.
    EventId, "evt_"
);
id_type!(
    /// An endpoint (a URL that receives webhooks).
    EndpointId, "ep_"
);
id_type!(
    /// A delivery: one event to one endpoint, with all its attempts.
    DeliveryId, "dlv_"
);
id_type!(
    /// One HTTP attempt of a delivery.
    AttemptId, "att_"
);
id_type!(
    /// A tenant API key (its id, not the secret key itself).
    ApiKeyId, "key_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_sort_by_time_and_have_fixed_width() {
        let early = EventId::generate(Timestamp::from_millis(1_000));
        let late = EventId::generate(Timestamp::from_millis(1_796_310_245_123));
        assert!(early < late);
        assert_eq!(early.as_str().len(), 4 + 22);
        assert!(early.as_str().starts_with("evt_0000000G8"));
        assert_ne!(
            EventId::generate(Timestamp::EPOCH),
            EventId::generate(Timestamp::EPOCH)
        );
    }

    #[test]
    fn client_ids_are_checked() {
        assert_eq!(validate_client_id("acme"), Ok(()));
        assert_eq!(validate_client_id("evt_A-b.9"), Ok(()));
        assert_eq!(validate_client_id(""), Err(EventError::InvalidId));
        assert_eq!(validate_client_id("a b"), Err(EventError::InvalidId));
        assert_eq!(validate_client_id("a/b"), Err(EventError::InvalidId));
        assert_eq!(
            validate_client_id(&"x".repeat(129)),
            Err(EventError::InvalidId)
        );
    }
}
