//! Unit tests of `next_attempt`: the rules one by one, then field cases 11, 26, 27
//! and 28 (`shared/cases/field-cases.md`) where they concern the schedule.

use std::time::Duration;

use herald_event::{AttemptOutcome, ErrorKind, Timestamp, Unreachable};

use super::*;

/// 2026-10-21T06:00:00Z: the start of the round in most tests.
const T0: Timestamp = Timestamp::from_millis(1_792_562_400_000);
const NO_JITTER: f64 = 0.0;

/// `seconds` after `T0`.
fn at(seconds: u64) -> Timestamp {
    T0.add(Duration::from_secs(seconds))
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn delivered(status: u16) -> AttemptOutcome {
    AttemptOutcome::Delivered { status }
}

fn rejected(status: u16, retry_after: Option<&str>) -> AttemptOutcome {
    AttemptOutcome::Rejected {
        status,
        retry_after: retry_after.map(str::to_owned),
    }
}

fn unreachable(kind: ErrorKind) -> AttemptOutcome {
    AttemptOutcome::Unreachable(Unreachable {
        kind,
        message: "no answer".to_owned(),
    })
}

#[track_caller]
fn check(
    policy: &RetryPolicy,
    attempts_done: u32,
    outcome: AttemptOutcome,
    now: Timestamp,
    jitter_sample: f64,
    expect: Next,
) {
    let next = next_attempt(policy, attempts_done, &outcome, T0, now, jitter_sample);
    assert_eq!(next, expect, "after attempt {attempts_done} with {outcome:?} at {now}");
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
    let standard = RetryPolicy::standard();
    check(&standard, 1, delivered(200), at(0), NO_JITTER, Next::Done);
    check(&standard, 3, delivered(204), at(150), NO_JITTER, Next::Done);
    // Even the last attempt of the schedule can succeed.
    check(&standard, 11, delivered(202), at(85_950), NO_JITTER, Next::Done);
}

#[test]
fn gone_gives_up_at_once() {
    let standard = RetryPolicy::standard();
    check(&standard, 1, rejected(410, None), at(0), NO_JITTER, Next::GiveUp);
    check(&standard, 1, rejected(410, Some("60")), at(0), NO_JITTER, Next::GiveUp);
}

#[test]
fn is_gone_only_for_410() {
    assert!(is_gone(&rejected(410, None)));
    assert!(!is_gone(&rejected(404, None)));
    assert!(!is_gone(&rejected(500, None)));
    assert!(!is_gone(&delivered(200)));
    assert!(!is_gone(&unreachable(ErrorKind::Dns)));
}

#[test]
fn every_other_status_is_retried() {
    let standard = RetryPolicy::standard();
    // Field case 13: redirects are failures, retried on the schedule.
    for status in [301, 302, 307, 308, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504] {
        check(&standard, 1, rejected(status, None), at(0), NO_JITTER, Next::At(at(30)));
    }
}

#[test]
fn every_unreachable_kind_is_retried() {
    let standard = RetryPolicy::standard();
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
        check(&standard, 2, unreachable(kind), at(30), NO_JITTER, Next::At(at(150)));
    }
}

#[test]
fn follows_the_standard_schedule() {
    let standard = RetryPolicy::standard();
    let offsets = [0, 30, 150, 450, 1350, 3150, 6750, 13_950, 28_350, 57_150, 85_950];
    for attempts_done in 1..=10 {
        let now = at(offsets[attempts_done - 1]);
        let expect = Next::At(at(offsets[attempts_done]));
        check(&standard, attempts_done as u32, rejected(500, None), now, NO_JITTER, expect);
    }
    check(&standard, 11, rejected(500, None), at(85_950), NO_JITTER, Next::GiveUp);
}

#[test]
fn schedule_is_anchored_to_the_round_start() {
    // Attempt 2 ran 40 s late; attempt 3 stays planned at 150 s after the start.
    let standard = RetryPolicy::standard();
    check(&standard, 2, rejected(500, None), at(70), NO_JITTER, Next::At(at(150)));
}

#[test]
fn zero_attempts_done_reads_as_one() {
    let standard = RetryPolicy::standard();
    check(&standard, 0, rejected(500, None), at(0), NO_JITTER, Next::At(at(30)));
}

#[test]
fn a_policy_without_delays_makes_one_attempt() {
    let single = RetryPolicy::with_delays(Vec::new());
    check(&single, 1, rejected(500, None), at(0), NO_JITTER, Next::GiveUp);
}

#[test]
fn jitter_scales_with_the_step_that_follows() {
    let standard = RetryPolicy::standard();
    // After attempt 2 the step is 2 min, so +-10 % is +-12 s around 150 s.
    check(&standard, 2, rejected(500, None), at(30), 1.0, Next::At(at(162)));
    check(&standard, 2, rejected(500, None), at(30), -1.0, Next::At(at(138)));
    check(&standard, 2, rejected(500, None), at(30), 0.5, Next::At(at(156)));
    // After attempt 9 the step is 8 h: +-48 min around 57150 s.
    check(&standard, 9, rejected(500, None), at(28_350), -1.0, Next::At(at(54_270)));
}

#[test]
fn out_of_range_jitter_samples_are_tamed() {
    let standard = RetryPolicy::standard();
    check(&standard, 2, rejected(500, None), at(30), 5.0, Next::At(at(162)));
    check(&standard, 2, rejected(500, None), at(30), -5.0, Next::At(at(138)));
    check(&standard, 2, rejected(500, None), at(30), f64::NAN, Next::At(at(150)));
    check(&standard, 2, rejected(500, None), at(30), f64::INFINITY, Next::At(at(150)));
}

#[test]
fn unusable_jitter_fractions_mean_no_jitter() {
    for fraction in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        let policy = RetryPolicy {
            jitter: fraction,
            ..RetryPolicy::standard()
        };
        check(&policy, 2, rejected(500, None), at(30), 1.0, Next::At(at(150)));
    }
}

#[test]
fn never_earlier_than_now() {
    let standard = RetryPolicy::standard();
    // The first attempt took 29 s to fail; negative jitter would plan it at 27 s.
    check(&standard, 1, rejected(500, None), at(29), -1.0, Next::At(at(29)));
}

#[test]
fn gives_up_when_the_base_time_is_past_the_horizon() {
    let long = RetryPolicy::with_delays(vec![secs(23 * 3600), secs(2 * 3600)]);
    check(&long, 1, rejected(500, None), at(0), NO_JITTER, Next::At(at(23 * 3600)));
    check(&long, 2, rejected(500, None), at(23 * 3600), NO_JITTER, Next::GiveUp);
    // A base time exactly at the horizon is still allowed.
    let exact = RetryPolicy::with_delays(vec![secs(3600), secs(23 * 3600), secs(60)]);
    check(&exact, 2, rejected(500, None), at(3600), NO_JITTER, Next::At(at(86_400)));
    check(&exact, 3, rejected(500, None), at(86_400), NO_JITTER, Next::GiveUp);
}

#[test]
fn gives_up_when_the_failed_attempt_ended_past_the_horizon() {
    let standard = RetryPolicy::standard();
    check(&standard, 10, rejected(500, None), at(86_401), NO_JITTER, Next::GiveUp);
}

#[test]
fn jitter_never_pushes_past_the_horizon() {
    let standard = RetryPolicy::standard();
    // 85950 s + 10 % of 8 h would be 88830 s.
    check(&standard, 10, rejected(500, None), at(57_150), 1.0, Next::At(at(86_400)));
}

// Field case 11: 429/503 with Retry-After.

/// 2026-10-21T06:43:00Z: the first attempt fails 45 minutes before the HTTP-date.
const CASE_11_START: Timestamp = Timestamp::from_millis(1_792_564_980_000);

#[track_caller]
fn check_case_11(outcome: AttemptOutcome, jitter_sample: f64, expect_after_start: Duration) {
    let five_seconds = RetryPolicy::with_delays(vec![secs(5); 4]);
    let next = next_attempt(
        &five_seconds,
        1,
        &outcome,
        CASE_11_START,
        CASE_11_START,
        jitter_sample,
    );
    assert_eq!(next, Next::At(CASE_11_START.add(expect_after_start)), "{outcome:?}");
}

#[test]
fn case_11_retry_after_seconds_is_honoured() {
    check_case_11(rejected(429, Some("120")), NO_JITTER, secs(120));
    check_case_11(rejected(503, Some("120")), NO_JITTER, secs(120));
    // Jitter never brings the attempt before what the receiver asked for.
    check_case_11(rejected(429, Some("120")), -1.0, secs(120));
}

#[test]
fn case_11_retry_after_date_is_honoured() {
    // 2026-10-21T07:28:00Z, 45 minutes after the attempt.
    check_case_11(rejected(503, Some("Wed, 21 Oct 2026 07:28:00 GMT")), NO_JITTER, secs(2700));
}

#[test]
fn case_11_retry_after_is_capped() {
    check_case_11(rejected(429, Some("86400")), NO_JITTER, secs(3600));
    check_case_11(rejected(503, Some("Thu, 22 Oct 2026 07:28:00 GMT")), NO_JITTER, secs(3600));
    let short_cap = RetryPolicy {
        retry_after_cap: secs(600),
        ..RetryPolicy::with_delays(vec![secs(5); 4])
    };
    let next = next_attempt(
        &short_cap,
        1,
        &rejected(429, Some("3600")),
        CASE_11_START,
        CASE_11_START,
        NO_JITTER,
    );
    assert_eq!(next, Next::At(CASE_11_START.add(secs(600))));
}

#[test]
fn case_11_unparseable_retry_after_means_normal_backoff() {
    check_case_11(rejected(503, Some("soon")), NO_JITTER, secs(5));
    check_case_11(rejected(429, Some("")), NO_JITTER, secs(5));
    check_case_11(rejected(429, None), NO_JITTER, secs(5));
}

#[test]
fn retry_after_shorter_than_the_plan_changes_nothing() {
    check_case_11(rejected(503, Some("0")), NO_JITTER, secs(5));
    check_case_11(rejected(503, Some("Wed, 21 Oct 2026 06:00:00 GMT")), NO_JITTER, secs(5));
    let standard = RetryPolicy::standard();
    check(&standard, 8, rejected(503, Some("3600")), at(13_950), NO_JITTER, Next::At(at(28_350)));
}

#[test]
fn retry_after_counts_only_on_429_and_503() {
    for status in [301, 400, 500, 502, 504] {
        check_case_11(rejected(status, Some("120")), NO_JITTER, secs(5));
    }
}

#[test]
fn case_11_retry_after_never_passes_the_horizon() {
    let standard = RetryPolicy::standard();
    let horizon = Next::At(at(86_400));
    check(&standard, 10, rejected(429, Some("3600")), at(85_000), NO_JITTER, horizon);
    check(&standard, 10, rejected(503, Some("86400")), at(85_000), NO_JITTER, horizon);
    let far_date = Some("Thu, 22 Oct 2026 07:28:00 GMT");
    check(&standard, 10, rejected(503, far_date), at(85_000), NO_JITTER, horizon);
}

// Field case 26: attempt accounting and the 24 h horizon.

#[test]
fn case_26a_three_retries_make_four_attempts() {
    let three_retries = RetryPolicy::with_delays(vec![secs(30), secs(120), secs(300)]);
    assert_eq!(round_offsets(&three_retries, &rejected(403, None), NO_JITTER), [0, 30, 150, 450]);
}

#[test]
fn case_26b_standard_schedule_makes_eleven_attempts() {
    let standard = RetryPolicy::standard();
    let always_failing = rejected(500, None);
    assert_eq!(
        round_offsets(&standard, &always_failing, NO_JITTER),
        [0, 30, 150, 450, 1350, 3150, 6750, 13_950, 28_350, 57_150, 85_950]
    );
}

#[test]
fn case_26b_jitter_keeps_eleven_attempts_within_24_hours() {
    let standard = RetryPolicy::standard();
    let always_failing = unreachable(ErrorKind::Connect);
    assert_eq!(
        round_offsets(&standard, &always_failing, 1.0),
        [0, 33, 162, 480, 1440, 3330, 7110, 14_670, 29_790, 60_030, 86_400]
    );
    assert_eq!(
        round_offsets(&standard, &always_failing, -1.0),
        [0, 27, 138, 420, 1260, 2970, 6390, 13_230, 26_910, 54_270, 83_070]
    );
}

// Field case 27: overdue retries after downtime.

#[test]
fn case_27_overdue_retries_are_due_now_not_in_the_past() {
    let standard = RetryPolicy::standard();
    // Workers were down for 2 h: attempt 2, due at 30 s, ran at 7230 s and failed.
    // Attempt 3 was planned at 150 s; it is due at once rather than in the past.
    check(&standard, 2, rejected(500, None), at(7230), NO_JITTER, Next::At(at(7230)));
    check(&standard, 2, rejected(500, None), at(7230), 1.0, Next::At(at(7230)));
    // Later steps of the schedule keep their places.
    check(&standard, 7, rejected(500, None), at(7230), NO_JITTER, Next::At(at(13_950)));
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
    let samples = 12_000;
    let mut per_second = std::collections::BTreeMap::<u64, u32>::new();
    for index in 0..=samples {
        let jitter_sample = f64::from(index) / f64::from(samples / 2) - 1.0;
        let next = next_attempt(&wide_jitter, 3, &rejected(503, None), T0, failed_at, jitter_sample);
        // Evenly spaced samples land every 10 ms from 240 s to 360 s after the failure.
        let expect = failed_at.add(Duration::from_millis(240_000 + 10 * u64::from(index)));
        assert_eq!(next, Next::At(expect), "sample {jitter_sample}");
        *per_second.entry(expect.since(failed_at).as_secs()).or_default() += 1;
    }
    assert_eq!(per_second.keys().next(), Some(&240));
    assert_eq!(per_second.keys().next_back(), Some(&360));
    // No second holds more than 100 of the 12001 retries (0.83 %, under 2 %).
    assert_eq!(per_second.values().max(), Some(&100));
}

#[test]
fn jitter_samples_cover_minus_one_to_one() {
    #[track_caller]
    fn check_sample(random: u64, expect: f64) {
        assert_eq!(jitter_sample_from(random), expect, "{random:#x}");
    }
    check_sample(0, -1.0);
    check_sample(1 << 62, -0.5);
    check_sample(1 << 63, 0.0);
    check_sample(3 << 62, 0.5);
    check_sample(u64::MAX, 1.0 - f64::EPSILON);
    // The low 11 bits do not matter.
    check_sample(0x7ff, -1.0);
}
