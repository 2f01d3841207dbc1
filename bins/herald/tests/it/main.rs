//! End-to-end tests of the real `herald` binary: a recording receiver on loopback, the
//! REST API over TCP, and signatures checked with `hmac`/`sha2` (independent of
//! `herald-signing`).

mod chaos;
mod durability;
mod support;
