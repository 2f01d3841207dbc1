//! Reading a `Retry-After` header (RFC 9110 section 10.2.3).
//!
//! The header is either delta-seconds (`120`) or an HTTP-date
//! (`Wed, 21 Oct 2026 07:28:00 GMT`). This module turns either into the point in time
//! the receiver asked for. Whether that request is honoured, and how far, is decided
//! in `next.rs`: only 429 and 503 count, and the wait is capped.

use herald_event::Timestamp;

/// The time a `Retry-After` value asks the next attempt to wait for, seen at `now`.
///
/// Delta-seconds must be a plain non-negative whole number (`0`, `120`); a number too
/// large to represent means "very far away" and saturates. HTTP-dates are read in the
/// three forms RFC 9110 allows, through the `httpdate` crate; a date in the past comes
/// back as it is (so it asks for no wait). Anything else, such as `soon`, `-5`,
/// `1.5` or an empty value, gives `None`, and the caller retries on its normal
/// schedule. Spaces around the value are ignored.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Timestamp> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Only digits remain, so the one way `parse` fails is overflow: the receiver
        // asked for an enormous wait, which the cap in `next_attempt` bounds anyway.
        let seconds: u64 = value.parse().unwrap_or(u64::MAX);
        let millis = seconds.saturating_mul(1000);
        return Some(Timestamp::from_millis(
            now.as_millis().saturating_add(millis),
        ));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(Timestamp::from_system_time(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-10-21T06:43:00Z, 45 minutes before the HTTP-date of field case 11.
    const NOW: Timestamp = Timestamp::from_millis(1_792_564_980_000);

    #[track_caller]
    fn check(value: &str, expect_millis: Option<u64>) {
        let parsed = parse_retry_after(value, NOW).map(Timestamp::as_millis);
        assert_eq!(parsed, expect_millis, "{value:?}");
    }

    #[test]
    fn reads_delta_seconds() {
        check("120", Some(1_792_564_980_000 + 120_000));
        check("0", Some(1_792_564_980_000));
        check(" 86400 ", Some(1_792_564_980_000 + 86_400_000));
    }

    #[test]
    fn saturates_enormous_delta_seconds() {
        check("99999999999999999999999", Some(u64::MAX));
    }

    #[test]
    fn reads_http_dates_in_every_form() {
        // 2026-10-21T07:28:00Z: 45 minutes after NOW.
        let expect = Some(1_792_567_680_000);
        check("Wed, 21 Oct 2026 07:28:00 GMT", expect);
        check("Wednesday, 21-Oct-26 07:28:00 GMT", expect);
        check("Wed Oct 21 07:28:00 2026", expect);
    }

    #[test]
    fn keeps_dates_in_the_past() {
        check("Wed, 21 Oct 2026 06:00:00 GMT", Some(1_792_562_400_000));
    }

    #[test]
    fn refuses_everything_else() {
        for value in [
            "",
            "  ",
            "soon",
            "-5",
            "+5",
            "1.5",
            "120s",
            "2026-10-21T07:28:00Z",
        ] {
            check(value, None);
        }
        check("Wed, 21 Oct 2026 07:28:00 PST", None);
    }
}
