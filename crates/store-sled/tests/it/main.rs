//! Integration tests of the sled backend.
//!
//! `conformance` runs the shared store suite (`herald_store::testkit`) on temporary
//! databases. The other modules cover what that suite cannot see from behind the
//! trait: data and leases across a close and reopen of the same directory, and many
//! writers at once (group commit, the claim lock). Every time is fixed; no test reads
//! a clock or sleeps.

mod by_event;
mod concurrency;
mod conformance;
mod crash;
mod fresh;
mod pages;
mod reopen;
mod support;
