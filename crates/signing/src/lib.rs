//! `herald-signing`: signs webhook deliveries and verifies received signatures.
//!
//! Every Herald delivery carries two signatures over the exact body bytes, so
//! receivers can use either a simple hand-written check or a stock Standard Webhooks
//! library:
//!
//! - **Scheme B** (`X-Supapitch-Signature`): lowercase hex of
//!   HMAC-SHA256(key, body). See [`sign_hex`] and [`verify_hex`].
//! - **Scheme S** ([Standard Webhooks], `webhook-signature`): `v1,` + base64 of
//!   HMAC-SHA256(key, `{webhook-id}.{webhook-timestamp}.{body}`), where the id is the
//!   event id (the same on every retry) and the timestamp is the attempt's Unix time
//!   in seconds (fresh on every retry). See [`sign_standard`] and [`verify_standard`];
//!   receivers reject timestamps more than a tolerance ([`DEFAULT_TOLERANCE_SECS`],
//!   five minutes) away from their clock, in either direction.
//!
//! Both use the key inside the endpoint's [`Secret`]: the text is `whsec_` + base64,
//! and the key is the *decoded* bytes, not the text.
//!
//! # Rotation
//!
//! When an endpoint's secret is rotated, the new secret becomes current at once and
//! the previous one keeps signing for a grace period. During that window
//! [`sign_all`] is given the live secrets **newest first** and lists one signature per
//! secret in that order: comma-separated (no spaces) for scheme B, space-separated for
//! scheme S. Verifiers accept a header if *any* listed signature matches *any* secret
//! they hold, so a receiver can switch to the new secret whenever it likes.
//!
//! # What this crate is not
//!
//! It has no Herald dependencies and does no I/O: it neither reads a clock (callers
//! pass `now`), nor knows HTTP header names (the `Supapitch` prefix is configuration),
//! nor stores secrets. Verification compares in constant time after a length check.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/
#![warn(missing_docs)]

mod error;
mod secret;
mod sign;
mod verify;

#[cfg(test)]
mod fixtures;

pub use error::{SecretProblem, SignatureError};
pub use secret::Secret;
pub use sign::{sign_all, sign_hex, sign_standard, SignatureHeaders};
pub use verify::{verify_hex, verify_standard, DEFAULT_TOLERANCE_SECS};
