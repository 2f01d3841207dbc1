//! Integration tests of the delivery engine: a real sled store, a scripted transport
//! and tokio's paused clock, so whole retry schedules run in milliseconds with exact
//! attempt times. Signatures are checked with `hmac`/`sha2` directly, independent of
//! `herald-signing`.

mod harness;
mod health;
mod retries;
