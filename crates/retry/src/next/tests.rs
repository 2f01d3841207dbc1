//! Unit tests of `next_attempt`: the rules one by one, then field cases 11, 26, 27
//! and 28 (`shared/cases/field-cases.md`) where they concern the schedule.

use std::time::Duration;

use herald_event::{AttemptOutcome, ErrorKind, Timestamp, Unreachable};

use super::*;

/// 2026-10-21T06:43:00Z: the start of every round here, 45 minutes before the
/// HTTP-date of field case 11.
const T0: Timestamp = Timestamp::from_millis(1_792_564_980_000);
const NO_JITTER: f64 = 0.0;

/// `seconds` after `T0`.
fn at(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

fn retry_at(seconds: u64) -> Next {
    Next::At(at(seconds))
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn delivered(status: u16) -> AttemptOutcome {
    AttemptOutcome::Delivered { status }
}

/// The receiver answered `status` without a `Retry-After`.
fn fail(status: u16) -> AttemptOutcome {
    AttemptOutcome::Rejected {
        status,
        retry_after: None,
    }
}

/// The receiver answered `status` with `Retry-After: retry_after`.
fn fail_after(status: u16, retry_after: &str) -> AttemptOutcome {
    AttemptOutcome::Rejected {
        status,
        retry_after: Some(retry_after.to_owned()),
    }
}

fn unreachable(kind: ErrorKind) -> AttemptOutcome {
    AttemptOutcome::Unreachable(Unreachable {
        kind,
        message: "no answer".to_owned(),
    })
}

/// Attempt number `attempts_done` of a round started at `T0` ended `ended_secs`
/// after `T0` with `outcome`; `expect` is what must follow.
#[track_caller]
fn check(
    policy: &RetryPolicy,
    attempts_done: u32,
    ended_secs: u64,
    jitter_sample: f64,
    outcome: AttemptOutcome,
    expect: Next,
) {
    let now = at(ended_secs);
    let next = next_attempt(policy, attempts_done, &outcome, T0, now, jitter_sample);
    assert_eq!(
        next, expect,
        "after attempt {attempts_done} with {outcome:?} at {now}"
    );
}

/// Runs a whole round against a receiver that always answers `outcome`, each attempt
/// taking no time, and returns the seconds after `T0` at which attempts were made.
fn round_offsets(policy: &RetryPolicy, outcome: &AttemptOutcome, jitter_sample: f64) -> Vec<u64> {
    let mut attempt_times = vec![T0];
    // Bounded so that a broken schedule fails the test instead of hanging it.
    while attempt_times.len() < 100 {
        let attempts_done = u32::try_from(attempt_times.len()).unwrap();
        let now = *attempt_times.last().unwrap();
        match next_attempt(policy, attempts_done, outcome, T0, now, jitter_sample) {
            Next::At(time) => attempt_times.push(time),
            Next::GiveUp => break,
            Next::Done => panic!("a failing receiver cannot complete a delivery"),
        }
    }
    attempt_times
        .iter()
        .map(|time| {
            let offset = time.since(T0);
            assert_eq!(offset.subsec_millis(), 0, "whole seconds expected");
            offset.as_secs()
        })
        .collect()
}

// The rules, one by one.

#[test]
fn delivered_is_done() {
    let policy = RetryPolicy::standard();
    check(&policy, 1, 0, NO_JITTER, delivered(200), Next::Done);
    check(&policy, 3, 150, NO_JITTER, delivered(204), Next::Done);
    // Even the last attempt of the schedule can succeed.
    check(&policy, 11, 85_950, NO_JITTER, delivered(202), Next::Done);
}

#[test]
fn gone_gives_up_at_once() {
    let policy = RetryPolicy::standard();
    check(&policy, 1, 0, NO_JITTER, fail(410), Next::GiveUp);
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(410, "60"),
        Next::GiveUp,
    );
}

#[test]
fn is_gone_only_for_410() {
    assert!(is_gone(&fail(410)));
    assert!(!is_gone(&fail(404)));
    assert!(!is_gone(&fail(500)));
    assert!(!is_gone(&delivered(200)));
    assert!(!is_gone(&unreachable(ErrorKind::Dns)));
}

#[test]
fn every_other_status_is_retried() {
    let policy = RetryPolicy::standard();
    // Field case 13: redirects are failures, retried on the schedule.
    let statuses = [
        301, 302, 307, 308, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504,
    ];
    for status in statuses {
        check(&policy, 1, 0, NO_JITTER, fail(status), retry_at(30));
    }
}

#[test]
fn every_unreachable_kind_is_retried() {
    let policy = RetryPolicy::standard();
    let kinds = [
        ErrorKind::Timeout,
        ErrorKind::Dns,
        ErrorKind::Connect,
        ErrorKind::Tls,
        ErrorKind::BlockedDestination,
        ErrorKind::InvalidResponse,
        ErrorKind::Interrupted,
    ];
    for kind in kinds {
        check(&policy, 2, 30, NO_JITTER, unreachable(kind), retry_at(150));
    }
}

#[test]
fn follows_the_standard_schedule() {
    let policy = RetryPolicy::standard();
    let offsets = [
        0, 30, 150, 450, 1350, 3150, 6750, 13_950, 28_350, 57_150, 85_950,
    ];
    for (attempts_done, pair) in (1..).zip(offsets.windows(2)) {
        check(
            &policy,
            attempts_done,
            pair[0],
            NO_JITTER,
            fail(500),
            retry_at(pair[1]),
        );
    }
    check(&policy, 11, 85_950, NO_JITTER, fail(500), Next::GiveUp);
}

#[test]
fn schedule_is_anchored_to_the_round_start() {
    // Attempt 2 ran 40 s late; attempt 3 stays planned at 150 s after the start.
    let policy = RetryPolicy::standard();
    check(&policy, 2, 70, NO_JITTER, fail(500), retry_at(150));
}

#[test]
fn zero_attempts_done_reads_as_one() {
    let policy = RetryPolicy::standard();
    check(&policy, 0, 0, NO_JITTER, fail(500), retry_at(30));
}

#[test]
fn a_policy_without_delays_makes_one_attempt() {
    let single = RetryPolicy::with_delays(Vec::new());
    check(&single, 1, 0, NO_JITTER, fail(500), Next::GiveUp);
}

#[test]
fn jitter_scales_with_the_step_that_follows() {
    let policy = RetryPolicy::standard();
    // After attempt 2 the step is 2 min, so +-10 % is +-12 s around 150 s.
    check(&policy, 2, 30, 1.0, fail(500), retry_at(162));
    check(&policy, 2, 30, -1.0, fail(500), retry_at(138));
    check(&policy, 2, 30, 0.5, fail(500), retry_at(156));
    // After attempt 9 the step is 8 h: +-48 min around 57150 s.
    check(&policy, 9, 28_350, -1.0, fail(500), retry_at(54_270));
}

#[test]
fn out_of_range_jitter_samples_are_tamed() {
    let policy = RetryPolicy::standard();
    check(&policy, 2, 30, 5.0, fail(500), retry_at(162));
    check(&policy, 2, 30, -5.0, fail(500), retry_at(138));
    check(&policy, 2, 30, f64::NAN, fail(500), retry_at(150));
    check(&policy, 2, 30, f64::INFINITY, fail(500), retry_at(150));
}

#[test]
fn unusable_jitter_fractions_mean_no_jitter() {
    for fraction in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        let policy = RetryPolicy {
            jitter: fraction,
            ..RetryPolicy::standard()
        };
        check(&policy, 2, 30, 1.0, fail(500), retry_at(150));
    }
}

#[test]
fn never_earlier_than_now() {
    let policy = RetryPolicy::standard();
    // The first attempt took 29 s to fail; negative jitter would plan it at 27 s.
    check(&policy, 1, 29, -1.0, fail(500), retry_at(29));
}

#[test]
fn gives_up_when_the_base_time_is_past_the_horizon() {
    let long = RetryPolicy::with_delays(vec![secs(23 * 3600), secs(2 * 3600)]);
    check(&long, 1, 0, NO_JITTER, fail(500), retry_at(23 * 3600));
    check(&long, 2, 23 * 3600, NO_JITTER, fail(500), Next::GiveUp);
    // A base time exactly at the horizon is still allowed.
    let exact = RetryPolicy::with_delays(vec![secs(3600), secs(23 * 3600), secs(60)]);
    check(&exact, 2, 3600, NO_JITTER, fail(500), retry_at(86_400));
    check(&exact, 3, 86_400, NO_JITTER, fail(500), Next::GiveUp);
}

#[test]
fn gives_up_when_the_failed_attempt_ended_past_the_horizon() {
    let policy = RetryPolicy::standard();
    check(&policy, 10, 86_401, NO_JITTER, fail(500), Next::GiveUp);
}

#[test]
fn jitter_never_pushes_past_the_horizon() {
    let policy = RetryPolicy::standard();
    // 85950 s + 10 % of 8 h would be 88830 s.
    check(&policy, 10, 57_150, 1.0, fail(500), retry_at(86_400));
}

// Field case 11: 429/503 with Retry-After. The schedule's next delay is 5 s.

/// `Retry-After` as an HTTP-date 45 minutes after `T0` (2026-10-21T07:28:00Z).
const IN_45_MINUTES: &str = "Wed, 21 Oct 2026 07:28:00 GMT";
/// `Retry-After` as an HTTP-date 24 h 45 min after `T0`.
const TOMORROW: &str = "Thu, 22 Oct 2026 07:28:00 GMT";
/// `Retry-After` as an HTTP-date 43 minutes before `T0`.
const THIS_MORNING: &str = "Wed, 21 Oct 2026 06:00:00 GMT";

fn five_seconds() -> RetryPolicy {
    RetryPolicy::with_delays(vec![secs(5); 4])
}

#[test]
fn case_11_retry_after_seconds_is_honoured() {
    let policy = five_seconds();
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(429, "120"),
        retry_at(120),
    );
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(503, "120"),
        retry_at(120),
    );
    // Jitter never brings the attempt before what the receiver asked for.
    check(&policy, 1, 0, -1.0, fail_after(429, "120"), retry_at(120));
}

#[test]
fn case_11_retry_after_date_is_honoured() {
    let policy = five_seconds();
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(503, IN_45_MINUTES),
        retry_at(2700),
    );
}

#[test]
fn case_11_retry_after_is_capped() {
    let policy = five_seconds();
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(429, "86400"),
        retry_at(3600),
    );
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(503, TOMORROW),
        retry_at(3600),
    );
    let short_cap = RetryPolicy {
        retry_after_cap: secs(600),
        ..five_seconds()
    };
    check(
        &short_cap,
        1,
        0,
        NO_JITTER,
        fail_after(429, "3600"),
        retry_at(600),
    );
}

#[test]
fn case_11_unparseable_retry_after_means_normal_backoff() {
    let policy = five_seconds();
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(503, "soon"),
        retry_at(5),
    );
    check(&policy, 1, 0, NO_JITTER, fail_after(429, ""), retry_at(5));
    check(&policy, 1, 0, NO_JITTER, fail(429), retry_at(5));
}

#[test]
fn retry_after_shorter_than_the_plan_changes_nothing() {
    let policy = five_seconds();
    check(&policy, 1, 0, NO_JITTER, fail_after(503, "0"), retry_at(5));
    check(
        &policy,
        1,
        0,
        NO_JITTER,
        fail_after(503, THIS_MORNING),
        retry_at(5),
    );
    let standard = RetryPolicy::standard();
    check(
        &standard,
        8,
        13_950,
        NO_JITTER,
        fail_after(503, "3600"),
        retry_at(28_350),
    );
}

#[test]
fn retry_after_counts_only_on_429_and_503() {
    let policy = five_seconds();
    for status in [301, 400, 500, 502, 504] {
        check(
            &policy,
            1,
            0,
            NO_JITTER,
            fail_after(status, "120"),
            retry_at(5),
        );
    }
}

#[test]
fn case_11_retry_after_never_passes_the_horizon() {
    let policy = RetryPolicy::standard();
    for retry_after in ["3600", "86400", TOMORROW] {
        let outcome = fail_after(429, retry_after);
        check(&policy, 10, 85_000, NO_JITTER, outcome, retry_at(86_400));
    }
}

// Field case 26: attempt accounting and the 24 h horizon.

#[test]
fn case_26a_three_retries_make_four_attempts() {
    let three_retries = RetryPolicy::with_delays(vec![secs(30), secs(120), secs(300)]);
    let offsets = round_offsets(&three_retries, &fail(403), NO_JITTER);
    assert_eq!(offsets, [0, 30, 150, 450]);
}

#[test]
fn case_26b_standard_schedule_makes_eleven_attempts() {
    let policy = RetryPolicy::standard();
    assert_eq!(
        round_offsets(&policy, &fail(500), NO_JITTER),
        [0, 30, 150, 450, 1350, 3150, 6750, 13_950, 28_350, 57_150, 85_950]
    );
}

#[test]
fn case_26b_jitter_keeps_eleven_attempts_within_24_hours() {
    let policy = RetryPolicy::standard();
    let always_failing = unreachable(ErrorKind::Connect);
    assert_eq!(
        round_offsets(&policy, &always_failing, 1.0),
        [0, 33, 162, 480, 1440, 3330, 7110, 14_670, 29_790, 60_030, 86_400]
    );
    assert_eq!(
        round_offsets(&policy, &always_failing, -1.0),
        [0, 27, 138, 420, 1260, 2970, 6390, 13_230, 26_910, 54_270, 83_070]
    );
}

// Field case 27: overdue retries after downtime.

#[test]
fn case_27_overdue_retries_keep_their_spacing_from_now() {
    let policy = RetryPolicy::standard();
    // Workers were down for 2 h: attempt 2, due at 30 s, ran at 7230 s and failed.
    // Attempt 3 was planned at 150 s; it now comes one step (2 min) after the failure,
    // not at once, so the rest of the schedule is not burned in a burst.
    check(&policy, 2, 7230, NO_JITTER, fail(500), retry_at(7350));
    // Jitter spreads deliveries that were overdue together: +-10 % of the step.
    check(&policy, 2, 7230, 1.0, fail(500), retry_at(7362));
    check(&policy, 2, 7230, -1.0, fail(500), retry_at(7338));
    // Later steps of the schedule keep their places.
    check(&policy, 7, 7230, NO_JITTER, fail(500), retry_at(13_950));
}

// Field case 28: jitter spreads a thundering herd.

#[test]
fn case_28_jitter_spreads_retries_over_plus_minus_20_percent() {
    let wide_jitter = RetryPolicy {
        jitter: 0.2,
        ..RetryPolicy::standard()
    };
    // Attempt 3 failed at 150 s; the next step is 5 min, so the base is 300 s later.
    let failed_at = at(150);
    let samples: u32 = 12_000;
    let mut per_second = std::collections::BTreeMap::<u64, u32>::new();
    for index in 0..=samples {
        let jitter_sample = f64::from(index) / f64::from(samples / 2) - 1.0;
        // Evenly spaced samples land every 10 ms from 240 s to 360 s after the failure.
        let after_failure = Duration::from_millis(240_000 + 10 * u64::from(index));
        let expect = Next::At(failed_at.plus(after_failure));
        check(&wide_jitter, 3, 150, jitter_sample, fail(503), expect);
        *per_second.entry(after_failure.as_secs()).or_default() += 1;
    }
    assert_eq!(per_second.keys().next(), Some(&240));
    assert_eq!(per_second.keys().next_back(), Some(&360));
    // No second holds more than 100 of the 12001 retries (0.83 %, under 2 %).
    assert_eq!(per_second.values().max(), Some(&100));
}

#[test]
fn jitter_samples_cover_minus_one_to_one() {
    let cases: [(u64, f64); 6] = [
        (0, -1.0),
        (1 << 62, -0.5),
        (1 << 63, 0.0),
        (3 << 62, 0.5),
        (u64::MAX, 1.0 - f64::EPSILON),
        // The low 11 bits do not matter.
        (0x7ff, -1.0),
    ];
    for (random, expect) in cases {
        assert_eq!(jitter_sample_from(random), expect, "{random:#x}");
    }
}
