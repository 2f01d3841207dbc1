//! Checking received signatures, for receivers and Herald's own test mode.
//!
//! Both verifiers accept a list of secrets (a receiver mid-rotation knows the old and
//! the new one) and a header that may list several signatures; any signature matching
//! any secret passes. Comparisons are constant-time after a length check, since the
//! length of a valid signature is public. The clock is not read here: the caller
//! passes `now_secs`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use crate::error::SignatureError;
use crate::secret::Secret;
use crate::sign::{sign_hex, standard_mac, STANDARD_VERSION_PREFIX};

/// Default maximum distance, in seconds, between `webhook-timestamp` and the
/// receiver's clock (five minutes, DESIGN.md section 3).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Verifies scheme B: `header` lists one or more lowercase hex signatures of `body`,
/// separated by commas (spaces around entries are ignored, empty entries skipped).
///
/// Passes if any entry equals the signature of `body` under any of `secrets`.
/// Uppercase hex does not match: the scheme defines lowercase.
///
/// Errors: [`SignatureError::MissingSignature`] when the header lists no entry at all,
/// [`SignatureError::NoMatch`] otherwise (including truncated entries).
///
/// See [`crate::sign_hex`] for a receiver-side example.
pub fn verify_hex(secrets: &[Secret], header: &str, body: &[u8]) -> Result<(), SignatureError> {
    let mut entries = header
        .split(',')
        .map(str::trim_ascii)
        .filter(|entry| !entry.is_empty())
        .peekable();
    if entries.peek().is_none() {
        return Err(SignatureError::MissingSignature);
    }
    let entries: Vec<&str> = entries.collect();
    for secret in secrets {
        // One MAC over the (possibly large) body per secret, compared to every entry.
        let expected = sign_hex(secret, body);
        if entries
            .iter()
            .any(|entry| constant_time_eq(expected.as_bytes(), entry.as_bytes()))
        {
            return Ok(());
        }
    }
    Err(SignatureError::NoMatch)
}

/// Verifies scheme S (Standard Webhooks) from the three `webhook-*` header values.
///
/// - `timestamp_header` must be a plain decimal integer of Unix seconds (no sign, no
///   spaces, no fraction); the signed content uses its integer value.
/// - It must lie within `tolerance_secs` of `now_secs` in either direction, so
///   timestamps from the future (or in milliseconds) are rejected too.
/// - `signature_header` is split on single spaces. Entries that do not start with
///   `v1,` (for example `v1a,…` or `v2,…`) are skipped without error; any `v1` entry
///   matching any of `secrets` passes.
///
/// Errors, checked in this order: [`SignatureError::InvalidTimestamp`],
/// [`SignatureError::TimestampOutOfTolerance`], [`SignatureError::MissingSignature`]
/// (no `v1` entry at all), [`SignatureError::NoMatch`].
///
/// ```
/// use herald_signing::{sign_standard, verify_standard, Secret, DEFAULT_TOLERANCE_SECS};
///
/// let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"test": 2432232314}"#;
/// let signature = sign_standard(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
///
/// let now_secs = 1614265330 + 10; // the receiver's clock
/// verify_standard(
///     &[secret],
///     "msg_p5jXN8AQM9LWM0D4loKWxJek", // webhook-id
///     "1614265330",                   // webhook-timestamp
///     &signature,                     // webhook-signature
///     body,
///     now_secs,
///     DEFAULT_TOLERANCE_SECS,
/// )?;
/// # Ok::<(), herald_signing::SignatureError>(())
/// ```
pub fn verify_standard(
    secrets: &[Secret],
    msg_id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    let timestamp_secs = parse_timestamp(timestamp_header)?;
    if timestamp_secs.abs_diff(now_secs) > tolerance_secs {
        return Err(SignatureError::TimestampOutOfTolerance);
    }
    let candidates: Vec<&str> = signature_header
        .split(' ')
        .filter_map(|entry| entry.strip_prefix(STANDARD_VERSION_PREFIX))
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::MissingSignature);
    }
    for secret in secrets {
        let signature = standard_mac(secret.key(), msg_id, timestamp_secs, body);
        let expected = STANDARD.encode(signature);
        if candidates
            .iter()
            .any(|candidate| constant_time_eq(expected.as_bytes(), candidate.as_bytes()))
        {
            return Ok(());
        }
    }
    Err(SignatureError::NoMatch)
}

/// Parses `webhook-timestamp`: ASCII digits only. `u64::from_str` alone would also
/// accept a leading `+`, which no sender produces.
fn parse_timestamp(text: &str) -> Result<u64, SignatureError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(SignatureError::InvalidTimestamp);
    }
    text.parse().map_err(|_| SignatureError::InvalidTimestamp)
}

/// Compares a computed signature with a received one without data-dependent timing.
/// The length check comes first and may return early: valid lengths are public.
fn constant_time_eq(expected: &[u8], received: &[u8]) -> bool {
    if expected.len() != received.len() {
        return false;
    }
    bool::from(expected.ct_eq(received))
}

#[cfg(test)]
mod tests;
