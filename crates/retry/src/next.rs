//! `next_attempt`: what happens after an attempt, given the policy and the outcome.
//!
//! This is the whole retry decision, as a pure function: it takes `now` and a jitter
//! sample from the caller and never reads a clock or a random source, so every rule
//! is tested with exact times. It does not record anything, disable endpoints or
//! track endpoint health; the delivery engine acts on the returned [`Next`].

use std::time::Duration;

use herald_event::{AttemptOutcome, Timestamp};

use crate::{parse_retry_after, RetryPolicy};

/// What the engine should do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The receiver answered 2xx: the delivery succeeded.
    Done,
    /// The attempt failed; make the next one at this time (never earlier than `now`,
    /// never later than the round's horizon).
    At(Timestamp),
    /// The attempt failed and no further attempt is allowed: the schedule is used up,
    /// the next planned time is past the horizon, or the receiver answered 410 Gone.
    GiveUp,
}

/// Whether the receiver answered `410 Gone`.
///
/// A 410 says the endpoint no longer exists: `next_attempt` gives up at once and the
/// engine disables the endpoint, recording the reason (DESIGN section 4).
pub fn is_gone(outcome: &AttemptOutcome) -> bool {
    matches!(outcome, AttemptOutcome::Rejected { status: 410, .. })
}

/// Decides what follows an attempt of a delivery.
///
/// `attempts_done` counts the attempts made in this round, including the one that
/// just finished, so it is at least 1 (a 0 is read as 1). `round_started_at` is when
/// the round's first attempt was planned; the schedule and the horizon are measured
/// from it. `now` is when the attempt finished. `jitter_sample` is a number in
/// `[-1.0, 1.0]` drawn by the caller (see [`jitter_sample_from`]); `0.0` means no
/// jitter, values outside the range are clamped and a NaN counts as `0.0`.
///
/// The rules, in order:
///
/// 1. `Delivered` (any 2xx) is [`Next::Done`].
/// 2. `Rejected` with status 410 is [`Next::GiveUp`]: the endpoint is gone.
/// 3. Every other outcome is a failure to retry: any other status (3xx redirects,
///    4xx, 5xx) and every kind of `Unreachable`. When `attempts_done` has reached
///    [`RetryPolicy::max_attempts`], or `now` is already past the horizon, it is
///    [`Next::GiveUp`].
/// 4. The next attempt is planned at `round_started_at + delays[0] + ... +
///    delays[attempts_done - 1]`. When that base time lies past `round_started_at +
///    horizon` it is [`Next::GiveUp`].
/// 5. Jitter moves the plan by `jitter_sample * policy.jitter * delays[attempts_done -
///    1]`, rounded to the millisecond, but never past the horizon (the time is clamped
///    to it) and never before `now`. An overdue plan (its base time already passed, as
///    after downtime) is moved to `now + step` before jitter, keeping the spacing.
/// 6. On 429 and 503 only, a `Retry-After` the receiver sent (seconds or HTTP-date)
///    makes the next attempt no earlier than `now + min(asked wait,
///    policy.retry_after_cap)`, itself clamped to the horizon. A value that does not
///    parse, such as `soon`, is ignored and the plan stands.
pub fn next_attempt(
    policy: &RetryPolicy,
    attempts_done: u32,
    outcome: &AttemptOutcome,
    round_started_at: Timestamp,
    now: Timestamp,
    jitter_sample: f64,
) -> Next {
    let retry_after_value = match outcome {
        AttemptOutcome::Delivered { .. } => return Next::Done,
        AttemptOutcome::Rejected { status: 410, .. } => return Next::GiveUp,
        AttemptOutcome::Rejected {
            status: 429 | 503,
            retry_after,
        } => retry_after.as_deref(),
        AttemptOutcome::Rejected { .. } | AttemptOutcome::Unreachable(_) => None,
    };

    // Reading 0 as 1 keeps a caller's off-by-one from panicking or retrying forever.
    let attempts_done = attempts_done.max(1);
    if attempts_done >= policy.max_attempts() {
        return Next::GiveUp;
    }
    let horizon_end = round_started_at.plus(policy.horizon);
    // Nothing is sent after the horizon, even when the failed attempt itself ran late.
    if now > horizon_end {
        return Next::GiveUp;
    }
    // `attempts_done < max_attempts` makes this slice exist; `get` keeps the function
    // free of panics should that ever change.
    let Some(steps) = usize::try_from(attempts_done)
        .ok()
        .and_then(|done| policy.delays.get(..done))
    else {
        return Next::GiveUp;
    };
    let base_offset = steps
        .iter()
        .fold(Duration::ZERO, |total, delay| total.saturating_add(*delay));
    let base = round_started_at.plus(base_offset);
    if base > horizon_end {
        return Next::GiveUp;
    }

    let step = steps.last().copied().unwrap_or(Duration::ZERO);
    // An overdue plan (the attempt ran late, e.g. after downtime) keeps the step's
    // spacing from now instead of firing at once, so the schedule is not burned in a
    // burst and deliveries that were overdue together are spread by jitter (field
    // cases 27 and 28).
    let anchor = if base < now { now.plus(step) } else { base };
    let jittered = add_jitter(anchor, step, policy.jitter, jitter_sample);
    let planned = jittered.min(horizon_end).max(now);

    let asked = retry_after_value.and_then(|value| parse_retry_after(value, now));
    let next = match asked {
        Some(asked) => {
            let wait = asked.since(now).min(policy.retry_after_cap);
            let earliest = now.plus(wait).min(horizon_end);
            planned.max(earliest)
        }
        None => planned,
    };
    Next::At(next)
}

/// `base` moved by `sample * fraction * step`, rounded to the millisecond.
///
/// A non-finite or negative `fraction` and a non-finite `sample` mean no jitter; the
/// sample is clamped to `[-1, 1]`. The result is never before the epoch.
fn add_jitter(base: Timestamp, step: Duration, fraction: f64, sample: f64) -> Timestamp {
    let fraction = if fraction.is_finite() && fraction > 0.0 {
        fraction
    } else {
        0.0
    };
    let sample = if sample.is_finite() {
        sample.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let offset_millis = (sample * fraction * step.as_millis() as f64).round();
    // Float-to-integer `as` saturates, so an absurd fraction cannot wrap around.
    let millis = i128::from(base.as_millis()) + offset_millis as i128;
    Timestamp::from_millis(u64::try_from(millis.max(0)).unwrap_or(u64::MAX))
}

/// Maps a random `u64` uniformly onto `[-1.0, 1.0)`, for `next_attempt`'s jitter.
///
/// The caller owns the random source (this crate reads none). The top 53 bits are
/// used, so the result takes 2^53 evenly spaced values, each computed exactly:
/// `0` gives `-1.0`, `1 << 63` gives `0.0` and `u64::MAX` gives `1.0 - 2^-52`.
pub fn jitter_sample_from(random: u64) -> f64 {
    const HALF_RANGE: f64 = (1u64 << 52) as f64;
    let top_bits = random >> 11;
    (top_bits as f64 - HALF_RANGE) / HALF_RANGE
}

#[cfg(test)]
mod tests;
