//! `herald-api`: Herald's REST API (v1) as a library.
//!
//! [`router`] builds an [`axum::Router`] over any [`Store`](herald_store::Store); [`serve`] runs it on a
//! listener until a shutdown future completes. The binaries (through `herald-app`) pick
//! the store backend, compute the admin key hash and hand in the delivery engine's
//! wake-up [`Notify`](tokio::sync::Notify); this crate never names a backend, reads no
//! environment or files, and sends no webhooks itself.
//!
//! The contract lives in `DESIGN.md` section 6 and `docs/openapi.yaml`:
//!
//! - JSON in and out; `Authorization: Bearer <key>` with the admin key or a tenant key.
//! - Every error is `application/problem+json` ([`ApiError`]).
//! - Ingest (`POST /v1/tenants/{tenant_id}/events`) answers 202 only once the event and
//!   its deliveries are durable, then wakes the delivery engine.
//!
//! Module map: `routes` holds the route table and builds the router; `extract` does
//! authentication and reads paths, queries and bodies; `fields` validates JSON bodies
//! field by field; `views` renders stored records as JSON; the handlers live in
//! `tenants`, `catalog`, `events`, `endpoints`, `logs` and `health`.
#![warn(missing_docs)]

mod catalog;
mod endpoints;
mod error;
mod events;
mod extract;
mod fields;
mod health;
mod json_text;
mod logs;
mod routes;
mod server;
mod state;
mod tenants;
mod views;

use std::future::Future;

use sha2::{Digest, Sha256};

pub use error::{ApiError, FieldError};
pub use routes::{router, ROUTES};
pub use server::{serve_with_limits, ServeLimits};
pub use state::{ApiConfig, ApiState, UrlCheck};

/// Lowercase hex SHA-256 of an API key: the only form in which keys are stored or
/// compared (the admin key hash and tenant keys alike).
pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// A fresh random API key: `prefix` followed by 32 base62 characters.
///
/// The randomness comes from a freshly generated signing secret (32 bytes from the
/// operating system's random source), so this crate needs no random source of its own.
/// Reducing a byte modulo 62 biases the alphabet slightly; 32 characters still carry
/// more than 180 bits, far beyond guessing.
pub fn generate_key(prefix: &str) -> String {
    const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let secret = herald_signing::Secret::generate();
    let mut key = String::with_capacity(prefix.len() + 32);
    key.push_str(prefix);
    for byte in secret.key().iter().take(32) {
        key.push(char::from(BASE62[usize::from(*byte) % 62]));
    }
    key
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting
/// connections and waits for in-flight requests to finish (graceful shutdown).
///
/// Taking the listener (rather than an address) lets callers bind port 0 in tests and
/// lets embedders run several instances side by side; there is no global shutdown
/// state.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve_with_limits(listener, router, ServeLimits::standard(), shutdown).await
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The current time. The API's only clock reading: handlers take `now` from here once
/// per request and pass it down, so every record a request writes shares one time.
fn now() -> herald_event::Timestamp {
    herald_event::Timestamp::from_system_time(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(key: &str, expect_hash: &str) {
        assert_eq!(hash_key(key), expect_hash);
    }

    #[test]
    fn hashes_keys_as_lowercase_hex_sha256() {
        check(
            "",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
        check(
            "abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
    }

    #[test]
    fn generated_keys_have_prefix_and_32_base62_chars() {
        let key = generate_key("hk_");
        assert!(key.starts_with("hk_"), "{key}");
        assert_eq!(key.len(), 3 + 32);
        assert!(key[3..].chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
        assert_ne!(generate_key("hk_"), generate_key("hk_"));
    }
}
