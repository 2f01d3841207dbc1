//! [`Secret`]: an endpoint's `whsec_` signing secret and the HMAC key inside it.
//!
//! A secret is text of the form `whsec_` + standard base64. The HMAC key is the
//! *decoded* bytes, never the UTF-8 of the text: field case 4 shows the two wrong
//! derivations (whole text, or undecoded tail) that other implementations got wrong.
//! This module only parses and generates secrets; it does not store or rotate them.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::error::{SecretProblem, SignatureError};

/// Prefix every secret text starts with (Standard Webhooks convention).
const PREFIX: &str = "whsec_";
/// Shortest accepted key, in bytes. Shorter keys are too weak for HMAC-SHA256.
pub(crate) const MIN_KEY_LEN: usize = 16;
/// Longest accepted key, in bytes. Longer than one SHA-256 block (64 bytes) would be
/// hashed down by HMAC anyway, so anything beyond is almost certainly a mistake.
pub(crate) const MAX_KEY_LEN: usize = 64;
/// Key length of secrets Herald generates itself (DESIGN.md section 3).
const GENERATED_KEY_LEN: usize = 32;

/// Standard base64 alphabet that accepts the tail with or without `=` padding, since
/// secrets are copied by hand between systems and padding is often dropped. Trailing
/// bits must still be zero, so every key has exactly one accepted spelling per padding
/// choice.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A parsed `whsec_` secret: the text as given plus the decoded HMAC key.
///
/// Its `Debug` output is `Secret([redacted])`, so a secret inside a logged struct
/// never leaks. There is deliberately no `Display`; use [`Secret::as_str`] where the
/// text really must be shown (for example once, when an endpoint is created).
#[derive(Clone)]
pub struct Secret {
    /// The full text, `whsec_…`, exactly as parsed or generated.
    text: String,
    /// The base64-decoded part after the prefix; `MIN_KEY_LEN..=MAX_KEY_LEN` bytes.
    key: Vec<u8>,
}

impl Secret {
    /// Generates a fresh secret: `whsec_` + padded standard base64 of 32 random bytes
    /// from the operating system's random source.
    ///
    /// # Panics
    ///
    /// Only if the operating system has no working random source, in which case no
    /// secret could be generated safely at all.
    pub fn generate() -> Secret {
        let mut key = vec![0_u8; GENERATED_KEY_LEN];
        getrandom::fill(&mut key)
            .expect("the OS random source works on every platform Herald supports");
        let text = format!("{PREFIX}{}", STANDARD.encode(&key));
        Secret { text, key }
    }

    /// Parses `whsec_` + base64 text into a secret.
    ///
    /// The prefix is case-sensitive; the rest must be standard-alphabet base64, padded
    /// or not, with no surrounding whitespace; the decoded key must be 16 to 64 bytes.
    /// The error names which of these failed, never the secret itself.
    pub fn parse(text: &str) -> Result<Secret, SignatureError> {
        let encoded = text
            .strip_prefix(PREFIX)
            .ok_or(SecretProblem::MissingPrefix)?;
        let key = SECRET_BASE64
            .decode(encoded)
            .map_err(|_| SecretProblem::NotBase64)?;
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) {
            return Err(SecretProblem::KeyLength { len: key.len() }.into());
        }
        Ok(Secret {
            text: text.to_owned(),
            key,
        })
    }

    /// The full secret text, `whsec_…`, as parsed or generated.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The HMAC key: the decoded bytes after `whsec_`.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public Standard Webhooks test secret (field-cases.md, Fixtures).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// Parses `text` and compares the outcome: the key length, or the problem.
    #[track_caller]
    fn check(text: &str, expect: Result<usize, SecretProblem>) {
        let outcome = Secret::parse(text).map(|secret| {
            assert_eq!(secret.as_str(), text, "as_str returns the text as given");
            secret.key().len()
        });
        assert_eq!(outcome, expect.map_err(SignatureError::InvalidSecret));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn secret_of_len(len: usize) -> String {
        format!("{PREFIX}{}", STANDARD.encode(vec![7_u8; len]))
    }

    #[test]
    fn fixture_key_is_the_decoded_bytes() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(
            hex(secret.key()),
            "31f290f6bf06298aab4f08d43c3f082cf648a362da2da4b0"
        );
        assert_eq!(secret.key().len(), 24);
        assert_eq!(secret.as_str(), SECRET);
    }

    #[test]
    fn accepts_fixture_secret() {
        check(SECRET, Ok(24))
    }

    #[test]
    fn requires_prefix() {
        check(
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Err(SecretProblem::MissingPrefix),
        )
    }

    #[test]
    fn prefix_is_case_sensitive() {
        check(
            "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            Err(SecretProblem::MissingPrefix),
        )
    }

    #[test]
    fn rejects_non_base64() {
        check("whsec_not base64!", Err(SecretProblem::NotBase64))
    }

    #[test]
    fn rejects_url_safe_alphabet() {
        // Standard `+/` spelled as URL-safe `-_`; the standard alphabet is required.
        check(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_",
            Err(SecretProblem::NotBase64),
        )
    }

    #[test]
    fn rejects_surrounding_whitespace() {
        check(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
            Err(SecretProblem::NotBase64),
        )
    }

    #[test]
    fn rejects_empty_key() {
        check("whsec_", Err(SecretProblem::KeyLength { len: 0 }))
    }

    #[test]
    fn rejects_short_key() {
        check(
            &secret_of_len(15),
            Err(SecretProblem::KeyLength { len: 15 }),
        )
    }

    #[test]
    fn accepts_shortest_key() {
        check(&secret_of_len(16), Ok(16))
    }

    #[test]
    fn accepts_longest_key() {
        check(&secret_of_len(64), Ok(64))
    }

    #[test]
    fn rejects_long_key() {
        check(
            &secret_of_len(65),
            Err(SecretProblem::KeyLength { len: 65 }),
        )
    }

    #[test]
    fn accepts_padded_and_unpadded() {
        let padded = secret_of_len(32);
        assert!(padded.ends_with('='));
        check(&padded, Ok(32));
        check(padded.trim_end_matches('='), Ok(32));
    }

    #[test]
    fn generated_secret_parses_back() {
        let generated = Secret::generate();
        assert!(generated.as_str().starts_with(PREFIX));
        assert_eq!(generated.key().len(), 32);
        let parsed = Secret::parse(generated.as_str()).unwrap();
        assert_eq!(parsed.key(), generated.key());
        assert_ne!(Secret::generate().key(), generated.key());
    }

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::parse(SECRET).unwrap();
        let debug = format!("{secret:?} {:?}", Some(&secret));
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(
            !debug.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{debug}"
        );
        assert!(!debug.contains("whsec_"), "{debug}");
    }

    #[test]
    fn errors_do_not_echo_the_secret() {
        let error = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!!").unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("MfKQ9r8G"), "{shown}");
        assert_eq!(
            error.to_string(),
            "invalid webhook secret: text after `whsec_` is not standard base64"
        );
    }
}
