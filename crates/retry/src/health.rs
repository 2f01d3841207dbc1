//! Endpoint health: the circuit breaker that holds back an endpoint that keeps failing.
//!
//! One `EndpointHealth` per endpoint, kept by the engine. It is pure state: every
//! method takes `now`, and it decides only whether an attempt may start; the engine
//! defers what is not admitted. It does not count attempts of a delivery (that is
//! `next_attempt`'s job) and is not persisted: after a restart an endpoint starts
//! healthy, which at worst costs a few probes.

use std::time::Duration;

use herald_event::Timestamp;

/// Thresholds of the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitPolicy {
    /// Failures in a row that open the circuit.
    pub failure_threshold: u32,
    /// The first cool-down; each further failure while open doubles it.
    pub base_cooldown: Duration,
    /// The longest cool-down.
    pub max_cooldown: Duration,
    /// An endpoint failing every attempt for this long should be disabled.
    pub disable_after: Duration,
}

impl CircuitPolicy {
    /// 5 failures open it for 30 s, doubling up to 10 min; disable after 5 days.
    pub fn standard() -> Self {
        CircuitPolicy {
            failure_threshold: 5,
            base_cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(600),
            disable_after: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

/// Whether an attempt to the endpoint may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Go,
    /// Not now; try again at this time.
    WaitUntil(Timestamp),
}

/// The health of one endpoint, as seen by one engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointHealth {
    consecutive_failures: u32,
    failing_since: Option<Timestamp>,
    open_until: Option<Timestamp>,
    /// Successes since the circuit last closed; sets the ramp-up concurrency.
    successes_since_recovery: u32,
    recovering: bool,
}

impl EndpointHealth {
    /// Whether an attempt may start, given how many are in flight and the normal cap.
    ///
    /// Closed: up to `cap` (during recovery 1, 2, 4, ... up to `cap`). Open: nothing
    /// until the cool-down ends. After it: one probe at a time (half-open).
    pub fn admit(
        &self,
        now: Timestamp,
        in_flight: usize,
        cap: usize,
        retry_in: Duration,
    ) -> Admission {
        if let Some(open_until) = self.open_until {
            if now < open_until {
                return Admission::WaitUntil(open_until);
            }
            return if in_flight == 0 {
                Admission::Go
            } else {
                Admission::WaitUntil(now.plus(retry_in))
            };
        }
        let allowed = if self.recovering {
            let ramp = 1usize
                .checked_shl(self.successes_since_recovery)
                .unwrap_or(usize::MAX);
            ramp.min(cap)
        } else {
            cap
        };
        if in_flight < allowed.max(1) {
            Admission::Go
        } else {
            Admission::WaitUntil(now.plus(retry_in))
        }
    }

    /// Records a successful attempt (2xx).
    pub fn record_success(&mut self) {
        if self.open_until.take().is_some() {
            self.recovering = true;
            self.successes_since_recovery = 0;
        }
        if self.recovering {
            self.successes_since_recovery = self.successes_since_recovery.saturating_add(1);
            if self.successes_since_recovery >= 16 {
                self.recovering = false;
            }
        }
        self.consecutive_failures = 0;
        self.failing_since = None;
    }

    /// Records a failed attempt (anything but 2xx) that ended at `now`.
    pub fn record_failure(&mut self, now: Timestamp, policy: &CircuitPolicy) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.failing_since.get_or_insert(now);
        if self.consecutive_failures >= policy.failure_threshold {
            let doublings = self.consecutive_failures - policy.failure_threshold;
            let factor = 1u32.checked_shl(doublings.min(16)).unwrap_or(u32::MAX);
            let cooldown = policy
                .base_cooldown
                .saturating_mul(factor)
                .min(policy.max_cooldown);
            self.open_until = Some(now.plus(cooldown));
            self.recovering = false;
        }
    }

    /// Whether the endpoint has failed every attempt for `policy.disable_after`.
    pub fn should_disable(&self, now: Timestamp, policy: &CircuitPolicy) -> bool {
        self.failing_since
            .is_some_and(|since| now.since(since) >= policy.disable_after)
    }

    /// Whether the circuit is open (held back) at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.open_until.is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_millis(1_000_000_000);
    const BUSY: Duration = Duration::from_millis(250);

    fn at(seconds: u64) -> Timestamp {
        T0.plus(Duration::from_secs(seconds))
    }

    #[track_caller]
    fn check(health: &EndpointHealth, now: Timestamp, in_flight: usize, expect: Admission) {
        assert_eq!(health.admit(now, in_flight, 8, BUSY), expect);
    }

    #[test]
    fn opens_after_threshold_and_backs_off() {
        let policy = CircuitPolicy::standard();
        let mut health = EndpointHealth::default();
        for _ in 0..4 {
            health.record_failure(T0, &policy);
        }
        check(&health, T0, 0, Admission::Go);
        health.record_failure(T0, &policy);
        check(&health, at(10), 0, Admission::WaitUntil(at(30)));
        // Half-open: one probe after the cool-down, not two.
        check(&health, at(30), 0, Admission::Go);
        check(&health, at(30), 1, Admission::WaitUntil(at(30).plus(BUSY)));
        // The probe fails: the cool-down doubles.
        health.record_failure(at(31), &policy);
        check(&health, at(40), 0, Admission::WaitUntil(at(91)));
        for _ in 0..10 {
            health.record_failure(at(100), &policy);
        }
        check(&health, at(101), 0, Admission::WaitUntil(at(700)));
    }

    #[test]
    fn ramps_back_up_after_recovery() {
        let policy = CircuitPolicy::standard();
        let mut health = EndpointHealth::default();
        for _ in 0..5 {
            health.record_failure(T0, &policy);
        }
        health.record_success();
        // 1 success: 2 in flight, then 4, then 8 (the cap).
        check(&health, at(31), 1, Admission::Go);
        check(&health, at(31), 2, Admission::WaitUntil(at(31).plus(BUSY)));
        health.record_success();
        check(&health, at(31), 3, Admission::Go);
        check(&health, at(31), 4, Admission::WaitUntil(at(31).plus(BUSY)));
        health.record_success();
        check(&health, at(31), 7, Admission::Go);
        check(&health, at(31), 8, Admission::WaitUntil(at(31).plus(BUSY)));
    }

    #[test]
    fn disables_after_five_days_of_failures_only() {
        let policy = CircuitPolicy::standard();
        let mut health = EndpointHealth::default();
        health.record_failure(T0, &policy);
        health.record_failure(at(4 * 86_400), &policy);
        assert!(!health.should_disable(at(5 * 86_400 - 1), &policy));
        assert!(health.should_disable(at(5 * 86_400), &policy));
        health.record_success();
        assert!(!health.should_disable(at(10 * 86_400), &policy));
    }
}
