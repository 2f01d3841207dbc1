//! `herald-retry`: when a failed webhook delivery is tried again, and when it stops.
//!
//! This crate is the retry policy of DESIGN section 4 as pure functions. It takes the
//! current time and a jitter sample as arguments and never reads a clock or a random
//! source, so every rule below is a unit test with exact times. It does no I/O,
//! records nothing and knows nothing of HTTP clients or storage: the delivery engine
//! (`herald-delivery`) calls [`next_attempt`] after each attempt and acts on the
//! returned [`Next`].
//!
//! # The schedule
//!
//! The first attempt goes out immediately. After each failure the delivery waits for
//! the next delay of the [`RetryPolicy`]. The plan is anchored to the start of the
//! round: attempt `n + 1` is planned at `round start + delays[0] + ... + delays[n - 1]`,
//! so an attempt that ran late does not push the rest of the schedule back. The
//! standard policy ([`RetryPolicy::standard`]) gives 11 attempts within 24 hours:
//!
//! | attempt | delay before it | planned at (after the first) |
//! |--------:|----------------:|-----------------------------:|
//! |       1 |               - |                          0 s |
//! |       2 |            30 s |                         30 s |
//! |       3 |           2 min |                        150 s |
//! |       4 |           5 min |                        450 s |
//! |       5 |          15 min |                       1350 s |
//! |       6 |          30 min |                       3150 s |
//! |       7 |             1 h |                       6750 s |
//! |       8 |             2 h |                      13950 s |
//! |       9 |             4 h |                      28350 s |
//! |      10 |             8 h |                      57150 s |
//! |      11 |             8 h |                      85950 s |
//!
//! After the 11th failure the delivery gives up and becomes `failed`. Operators change
//! the delays with `--retry-schedule` / `HERALD_RETRY_SCHEDULE` (DESIGN section 7),
//! written as `30s,2m,5m,15m` and read by [`parse_schedule`]; [`format_schedule`]
//! prints that form back.
//!
//! # The rules of `next_attempt`
//!
//! - A 2xx (`Delivered`) completes the delivery: [`Next::Done`].
//! - `410 Gone` gives up at once ([`Next::GiveUp`]); the engine also disables the
//!   endpoint. [`is_gone`] tells the engine when to do so.
//! - Every other answer (3xx redirects, which are not followed, 4xx and 5xx) and every
//!   failure to get an answer (timeout, DNS, connect, TLS, blocked destination,
//!   invalid response, interrupted) is retried on the schedule.
//! - No attempt is planned later than the horizon, 24 hours after the round started.
//!   When the schedule is used up, or its next planned time lies past the horizon, the
//!   delivery gives up.
//! - Jitter spreads retries that failed together: the plan moves by up to
//!   `jitter` (10 %) of the delay step that precedes it, in either direction, drawn
//!   by the caller ([`jitter_sample_from`] turns a random `u64` into a sample). Jitter
//!   never moves an attempt past the horizon nor before the current time.
//! - A retry is never planned in the past: after downtime, an overdue plan is moved
//!   to one delay step after "now" (then jittered), so the remaining schedule keeps
//!   its spacing instead of being spent in a burst.
//!
//! # Endpoint health
//!
//! [`EndpointHealth`] is the per-endpoint circuit breaker: after
//! [`CircuitPolicy::failure_threshold`] failures in a row the endpoint is held back for
//! a cool-down that doubles with each further failure (up to a cap), then one probe is
//! let through; a success closes the circuit and concurrency ramps back up (1, 2, 4,
//! ... attempts in flight). An endpoint that has failed every attempt for
//! [`CircuitPolicy::disable_after`] (5 days) should be disabled.
//! - On 429 and 503, a `Retry-After` header (seconds or an HTTP-date, read by
//!   [`parse_retry_after`]) holds the next attempt back until the time it asks for,
//!   but for no longer than the policy's cap (1 hour) and never past the horizon. A
//!   value that cannot be read, such as `soon`, is ignored.
#![warn(missing_docs)]

mod error;
mod health;
mod next;
mod policy;
mod retry_after;
mod schedule;

pub use error::RetryError;
pub use health::{Admission, CircuitPolicy, EndpointHealth};
pub use next::{is_gone, jitter_sample_from, next_attempt, Next};
pub use policy::RetryPolicy;
pub use retry_after::parse_retry_after;
pub use schedule::{format_schedule, parse_schedule};
