//! The one error type of `herald-signing`, [`SignatureError`].
//!
//! Errors here are plain data (`Copy`, comparable) so callers branch on the variant,
//! never on the message text. They deliberately carry no secret-derived data: not the
//! secret text, not the key, not even the offending byte of a malformed secret. That is
//! why a base64 decoding failure is reported as [`SecretProblem::NotBase64`] without the
//! decoder's own error as a source (that error names the offending character).

use std::fmt;

/// Why signing input or a received signature was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The secret text is not a usable `whsec_` secret; the payload says what is wrong.
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(SecretProblem),
    /// The signature header holds no signature of a scheme this crate understands
    /// (it is empty, only spaces or commas, or only has entries such as `v1a,…`).
    #[error("no signature of a supported scheme in the header")]
    MissingSignature,
    /// Signatures were present, but none matches the body under any of the secrets.
    #[error("no signature matches any secret")]
    NoMatch,
    /// The `webhook-timestamp` value is not a plain decimal integer of Unix seconds.
    #[error("webhook timestamp is not integer unix seconds")]
    InvalidTimestamp,
    /// The timestamp is further than the tolerance from `now`, in either direction.
    /// A timestamp in milliseconds also lands here, as it reads as far in the future.
    #[error("webhook timestamp is outside the tolerance")]
    TimestampOutOfTolerance,
}

/// What exactly is wrong with a secret passed to [`crate::Secret::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretProblem {
    /// The text does not start with the case-sensitive prefix `whsec_`.
    MissingPrefix,
    /// The part after `whsec_` is not standard-alphabet base64 (`A–Z a–z 0–9 + /`,
    /// optional `=` padding). URL-safe base64 (`-`, `_`) is rejected.
    NotBase64,
    /// The decoded key has an unsupported length (accepted: 16 to 64 bytes).
    KeyLength {
        /// Length of the decoded key in bytes.
        len: usize,
    },
}

impl fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretProblem::MissingPrefix => f.write_str("missing `whsec_` prefix"),
            SecretProblem::NotBase64 => f.write_str("text after `whsec_` is not standard base64"),
            SecretProblem::KeyLength { len } => write!(
                f,
                "decoded key is {len} bytes, expected {} to {}",
                crate::secret::MIN_KEY_LEN,
                crate::secret::MAX_KEY_LEN
            ),
        }
    }
}

impl From<SecretProblem> for SignatureError {
    fn from(problem: SecretProblem) -> Self {
        SignatureError::InvalidSecret(problem)
    }
}
