//! `RetryPolicy`: the retry schedule, the horizon, jitter and the `Retry-After` cap.
//!
//! This module only holds the configuration and what follows from it directly (how
//! many attempts it allows, when each is planned). Deciding what happens after one
//! particular attempt is `next_attempt`'s job, in `next.rs`.

use std::time::Duration;

/// How a delivery is retried after failed attempts.
///
/// The first attempt of a round goes out at once. After attempt `n` fails, attempt
/// `n + 1` is planned at `round start + delays[0] + ... + delays[n - 1]`: the plan is
/// anchored to the start of the round, not to when the previous attempt happened, so a
/// late attempt (or one postponed by `Retry-After`) does not push the rest of the
/// schedule back. A round allows `delays.len() + 1` attempts and none later than
/// `round start + horizon`.
///
/// There is deliberately no `Default`: callers pick [`RetryPolicy::standard`] or build
/// one from an operator's schedule with [`RetryPolicy::with_delays`].
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The delay after each failed attempt; `delays[n - 1]` separates the plans of
    /// attempts `n` and `n + 1`.
    pub delays: Vec<Duration>,
    /// No attempt is planned later than this long after the round started; an attempt
    /// whose plan falls beyond it is not made and the delivery gives up.
    pub horizon: Duration,
    /// The jitter as a fraction of the delay step (`0.10` spreads retries over
    /// +-10 % of the step). A negative or non-finite value means no jitter.
    pub jitter: f64,
    /// The longest wait a `Retry-After` header can impose on the next attempt.
    pub retry_after_cap: Duration,
}

/// The delays of the standard schedule, in seconds (DESIGN section 4).
const STANDARD_DELAYS_SECS: [u64; 10] = [
    30,
    2 * 60,
    5 * 60,
    15 * 60,
    30 * 60,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    8 * 3600,
];

/// How long a round of attempts may last: 24 hours.
const STANDARD_HORIZON: Duration = Duration::from_secs(24 * 3600);

/// The standard jitter: +-10 % of the delay step.
const STANDARD_JITTER: f64 = 0.10;

/// The standard cap on `Retry-After`: one hour.
const STANDARD_RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    /// The schedule of DESIGN section 4.
    ///
    /// Delays of 30 s, 2 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h and 8 h put the
    /// 11 attempts at 0, 30, 150, 450, 1350, 3150, 6750, 13950, 28350, 57150 and
    /// 85950 seconds after the first, all within the 24 h horizon. Jitter is +-10 %
    /// and `Retry-After` is honoured up to one hour.
    pub fn standard() -> Self {
        Self::with_delays(
            STANDARD_DELAYS_SECS
                .iter()
                .map(|&secs| Duration::from_secs(secs))
                .collect(),
        )
    }

    /// A policy with the given delays and the standard horizon, jitter and cap.
    ///
    /// The delays are taken as they are; `parse_schedule` is the place that refuses
    /// empty lists and zero delays typed by an operator.
    pub fn with_delays(delays: Vec<Duration>) -> Self {
        RetryPolicy {
            delays,
            horizon: STANDARD_HORIZON,
            jitter: STANDARD_JITTER,
            retry_after_cap: STANDARD_RETRY_AFTER_CAP,
        }
    }

    /// The most attempts a round can make: the first one plus one per delay.
    ///
    /// Fewer are made when the horizon cuts the schedule short.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len().saturating_add(1)).unwrap_or(u32::MAX)
    }

    /// When each attempt of a round is planned, measured from the round's start and
    /// before jitter: `[0, delays[0], delays[0] + delays[1], ...]`.
    ///
    /// Offsets beyond the horizon are included; such attempts are never made.
    pub fn attempt_offsets(&self) -> Vec<Duration> {
        let mut offset = Duration::ZERO;
        let mut offsets = Vec::with_capacity(self.delays.len() + 1);
        offsets.push(offset);
        for delay in &self.delays {
            offset = offset.saturating_add(*delay);
            offsets.push(offset);
        }
        offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(policy: &RetryPolicy, expect_max_attempts: u32, expect_offsets_secs: &[u64]) {
        assert_eq!(policy.max_attempts(), expect_max_attempts);
        let offsets: Vec<Duration> = expect_offsets_secs
            .iter()
            .map(|&secs| Duration::from_secs(secs))
            .collect();
        assert_eq!(policy.attempt_offsets(), offsets);
    }

    #[test]
    fn standard_schedule_matches_design() {
        check(
            &RetryPolicy::standard(),
            11,
            &[
                0, 30, 150, 450, 1350, 3150, 6750, 13950, 28350, 57150, 85950,
            ],
        );
    }

    #[test]
    fn standard_settings() {
        let policy = RetryPolicy::standard();
        assert_eq!(policy.horizon, Duration::from_secs(86_400));
        assert_eq!(policy.jitter, 0.10);
        assert_eq!(policy.retry_after_cap, Duration::from_secs(3600));
    }

    #[test]
    fn custom_delays_keep_standard_settings() {
        let policy = RetryPolicy::with_delays(vec![Duration::from_secs(5); 3]);
        check(&policy, 4, &[0, 5, 10, 15]);
        let standard = RetryPolicy::standard();
        assert_eq!(policy.horizon, standard.horizon);
        assert_eq!(policy.jitter, standard.jitter);
        assert_eq!(policy.retry_after_cap, standard.retry_after_cap);
    }

    #[test]
    fn no_delays_means_a_single_attempt() {
        check(&RetryPolicy::with_delays(Vec::new()), 1, &[0]);
    }
}
