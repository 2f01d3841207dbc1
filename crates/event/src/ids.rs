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

/// The last suffix handed out: (millisecond, random digits as indexes into BASE62).
static LAST: std::sync::Mutex<Option<(u64, [u8; RANDOM_CHARS])>> = std::sync::Mutex::new(None);

/// The 22-character time-ordered suffix shared by every generated id kind.
///
/// Ids are strictly increasing within a process, as in ULID's monotonic mode: a second
/// id in the same millisecond (or after the clock stepped back) increments the previous
/// random part instead of drawing a new one, so "newest first" is exact.
fn generate_suffix(now: Timestamp) -> String {
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let (millis, digits) = match *last {
        Some((last_millis, last_digits)) if now.as_millis() <= last_millis => {
            match increment(last_digits) {
                Some(next) => (last_millis, next),
                // 62^13 ids in one millisecond cannot happen; move on a millisecond.
                None => (last_millis + 1, random_digits()),
            }
        }
        _ => (now.as_millis(), random_digits()),
    };
    *last = Some((millis, digits));
    drop(last);

    let mut suffix = [0u8; TIME_CHARS + RANDOM_CHARS];
    suffix[..TIME_CHARS].copy_from_slice(&encode_time(millis));
    for (slot, digit) in suffix[TIME_CHARS..].iter_mut().zip(digits) {
        *slot = BASE62[usize::from(digit)];
    }
    suffix.iter().map(|&byte| char::from(byte)).collect()
}

/// Milliseconds as nine base62 characters, left-padded with `0`.
fn encode_time(millis: u64) -> [u8; TIME_CHARS] {
    let mut encoded = [0u8; TIME_CHARS];
    let mut remaining = millis;
    for slot in encoded.iter_mut().rev() {
        *slot = BASE62[(remaining % 62) as usize];
        remaining /= 62;
    }
    encoded
}

/// Thirteen random base62 digits.
fn random_digits() -> [u8; RANDOM_CHARS] {
    let mut random = [0u8; RANDOM_CHARS];
    // The operating system's random source is a precondition of running Herald at all;
    // without it no secret could be generated either.
    getrandom::fill(&mut random).expect("operating system random source is available");
    // 256 is not a multiple of 62; the slight bias is harmless for ids. The top digit
    // stays below 31 so increments within a millisecond have room before overflowing.
    random[0] %= 31;
    for digit in &mut random[1..] {
        *digit %= 62;
    }
    random
}

/// `digits + 1` in base 62, or `None` on overflow.
fn increment(mut digits: [u8; RANDOM_CHARS]) -> Option<[u8; RANDOM_CHARS]> {
    for digit in digits.iter_mut().rev() {
        if *digit < 61 {
            *digit += 1;
            return Some(digits);
        }
        *digit = 0;
    }
    None
}

/// Checks an id chosen by a client: 1 to 128 characters of `[A-Za-z0-9_.-]`, not `.`
/// or `..` (URL clients collapse those path segments, so the id could not be read back).
pub fn validate_client_id(id: &str) -> Result<(), EventError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if id.is_empty() || id.len() > 128 || !id.chars().all(allowed) || id == "." || id == ".." {
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
        assert_ne!(
            EventId::generate(Timestamp::EPOCH),
            EventId::generate(Timestamp::EPOCH)
        );
    }

    #[test]
    fn ids_of_one_millisecond_are_strictly_increasing() {
        let now = Timestamp::from_millis(1_796_310_245_123);
        let ids: Vec<DeliveryId> = (0..1000).map(|_| DeliveryId::generate(now)).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        // A clock that steps back does not break the order either.
        let earlier = DeliveryId::generate(Timestamp::from_millis(1_000));
        assert!(ids[999] < earlier);
    }

    #[test]
    fn time_part_encodes_milliseconds_in_base62() {
        // 1000 ms = 16 * 62 + 8: "G8", left-padded to nine characters.
        assert_eq!(&encode_time(1000), b"0000000G8");
        assert_eq!(&encode_time(0), b"000000000");
        assert_eq!(&encode_time(62), b"000000010");
        assert!(
            encode_time(61) < encode_time(62),
            "byte order is time order"
        );
    }

    #[test]
    fn increments_carry_in_base62() {
        let mut digits = [0u8; RANDOM_CHARS];
        digits[RANDOM_CHARS - 1] = 61;
        let next = increment(digits).unwrap();
        assert_eq!(next[RANDOM_CHARS - 2..], [1, 0]);
        assert_eq!(increment([61; RANDOM_CHARS]), None);
    }

    #[test]
    fn client_ids_are_checked() {
        assert_eq!(validate_client_id("acme"), Ok(()));
        assert_eq!(validate_client_id("evt_A-b.9"), Ok(()));
        assert_eq!(validate_client_id(""), Err(EventError::InvalidId));
        assert_eq!(validate_client_id("a b"), Err(EventError::InvalidId));
        assert_eq!(validate_client_id("a/b"), Err(EventError::InvalidId));
        assert_eq!(validate_client_id("."), Err(EventError::InvalidId));
        assert_eq!(validate_client_id(".."), Err(EventError::InvalidId));
        assert_eq!(
            validate_client_id("..."),
            Ok(()),
            "only the two dot segments"
        );
        assert_eq!(
            validate_client_id(&"x".repeat(129)),
            Err(EventError::InvalidId)
        );
    }
}
