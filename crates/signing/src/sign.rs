//! Producing signatures: scheme B (hex of the body's HMAC) and scheme S (Standard
//! Webhooks `v1,` + base64), singly or for every live secret at once.
//!
//! Everything here is a pure function of the key and the exact body bytes. Callers
//! must send the very bytes they signed (field cases 1 and 3). This module does not
//! know header names (the `Supapitch` prefix is configuration) and reads no clock:
//! the attempt's timestamp is passed in, fresh for every attempt (field case 7).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// HMAC-SHA256, the only MAC both schemes use.
type HmacSha256 = Hmac<Sha256>;

/// Version tag of the Standard Webhooks signature scheme this crate speaks.
pub(crate) const STANDARD_VERSION_PREFIX: &str = "v1,";

/// Signature headers for one delivery attempt, one signature per live secret.
///
/// Both fields list signatures in the order of the secrets given to [`sign_all`],
/// which is newest first by convention, so a receiver that only checks the first
/// entry keeps working across a rotation once it has the new secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// Scheme B: lowercase hex signatures joined by `,` with no spaces, for
    /// `X-Supapitch-Signature`.
    pub hex: String,
    /// Scheme S: `v1,<base64>` entries joined by single spaces, for
    /// `webhook-signature`.
    pub standard: String,
}

/// Scheme B: lowercase hex of HMAC-SHA256(key, body).
///
/// `body` must be exactly the bytes sent on the wire; a single added newline changes
/// the signature.
///
/// Receiver-side use, with the value Herald sends in `X-Supapitch-Signature`:
///
/// ```
/// use herald_signing::{sign_hex, verify_hex, Secret, SignatureError};
///
/// let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"test": 2432232314}"#; // the raw request body, not re-serialized JSON
/// let header = sign_hex(&secret, body);
/// assert_eq!(header, "e2cb4f5251572539d458bfb8a7adb533b08801e6a794467e06f771debbb0818b");
///
/// // The receiver checks the header against its copy of the secret(s).
/// verify_hex(std::slice::from_ref(&secret), &header, body)?;
/// assert_eq!(
///     verify_hex(&[secret], &header, b"{\"test\": 2432232315}"),
///     Err(SignatureError::NoMatch),
/// );
/// # Ok::<(), SignatureError>(())
/// ```
pub fn sign_hex(secret: &Secret, body: &[u8]) -> String {
    hex_lower(&hex_mac(secret.key(), body))
}

/// Scheme S (Standard Webhooks): `v1,` + base64 of
/// HMAC-SHA256(key, `{msg_id}.{timestamp_secs}.{body}`).
///
/// `msg_id` is the event id (unchanged across retries); `timestamp_secs` is the
/// attempt's Unix time in seconds, never milliseconds. The MAC is fed piece by piece,
/// so the body is never copied.
pub fn sign_standard(secret: &Secret, msg_id: &str, timestamp_secs: u64, body: &[u8]) -> String {
    let signature = standard_mac(secret.key(), msg_id, timestamp_secs, body);
    format!("{STANDARD_VERSION_PREFIX}{}", STANDARD.encode(signature))
}

/// Signs one attempt with every live secret, for both schemes.
///
/// Pass `secrets` newest first (the current secret, then any still in its rotation
/// grace window); the headers keep that order. With no secrets, both fields are empty.
pub fn sign_all(
    secrets: &[Secret],
    msg_id: &str,
    timestamp_secs: u64,
    body: &[u8],
) -> SignatureHeaders {
    let hex: Vec<String> = secrets
        .iter()
        .map(|secret| sign_hex(secret, body))
        .collect();
    let standard: Vec<String> = secrets
        .iter()
        .map(|secret| sign_standard(secret, msg_id, timestamp_secs, body))
        .collect();
    SignatureHeaders {
        hex: hex.join(","),
        standard: standard.join(" "),
    }
}

/// A fresh HMAC-SHA256 keyed with `key`.
fn keyed_mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// Raw scheme B MAC. Takes a bare key (not a [`Secret`]) so tests can reproduce the
/// wrong key derivations of field case 4.
pub(crate) fn hex_mac(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = keyed_mac(key);
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Raw scheme S MAC over `{msg_id}.{timestamp_secs}.{body}`, fed incrementally.
pub(crate) fn standard_mac(key: &[u8], msg_id: &str, timestamp_secs: u64, body: &[u8]) -> [u8; 32] {
    let mut mac = keyed_mac(key);
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex encoding (scheme B is defined as lowercase).
fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests;
