//! The text form of a retry schedule: `30s,2m,5m,15m`.
//!
//! This is what operators write in `--retry-schedule` and `HERALD_RETRY_SCHEDULE`
//! (DESIGN section 7). The module parses and prints that form and nothing more; it
//! does not check the schedule against the horizon, because a schedule that runs past
//! it is legal (the later attempts are simply never made).

use std::time::Duration;

use crate::RetryError;

/// The accepted units and their length in milliseconds, largest first so that
/// `format_schedule` can pick the largest unit that divides a delay exactly.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses a comma-separated list of delays such as `30s,2m,5m,15m`.
///
/// Each item is a whole number followed directly by a unit: `ms`, `s`, `m`, `h` or
/// `d`. Spaces around items (and so around commas) are ignored. The list must hold at
/// least one delay and every delay must be greater than zero; otherwise the error
/// names the offending item.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, RetryError> {
    if text.trim().is_empty() {
        return Err(RetryError::EmptySchedule);
    }
    text.split(',')
        .enumerate()
        .map(|(index, item)| parse_delay(index + 1, item.trim()))
        .collect()
}

/// Parses one trimmed item; `position` is 1-based and only used in errors.
fn parse_delay(position: usize, item: &str) -> Result<Duration, RetryError> {
    let owned_item = || item.to_owned();
    if item.is_empty() {
        return Err(RetryError::EmptyItem { position });
    }
    if item.starts_with('-') {
        return Err(RetryError::NotPositive { item: owned_item() });
    }
    let digits_len = item.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, unit) = item.split_at(digits_len);
    // A fraction such as `1.5h` is a number problem, not a unit problem.
    if digits.is_empty() || unit.starts_with('.') {
        return Err(RetryError::MissingNumber { item: owned_item() });
    }
    if unit.is_empty() {
        return Err(RetryError::MissingUnit { item: owned_item() });
    }
    let unit_millis = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, millis)| *millis)
        .ok_or_else(|| RetryError::UnknownUnit { item: owned_item() })?;
    let amount: u64 = digits
        .parse()
        .map_err(|_| RetryError::TooLarge { item: owned_item() })?;
    let millis = amount
        .checked_mul(unit_millis)
        .ok_or_else(|| RetryError::TooLarge { item: owned_item() })?;
    if millis == 0 {
        return Err(RetryError::NotPositive { item: owned_item() });
    }
    Ok(Duration::from_millis(millis))
}

/// Prints delays in the form `parse_schedule` reads, e.g. `30s,2m,1h`.
///
/// Each delay uses the largest unit that divides it exactly, so `90s` stays `90s` and
/// `120s` becomes `2m`. Parts of a millisecond are dropped. A zero delay prints as
/// `0s`, which `parse_schedule` refuses, as it refuses any zero delay.
pub fn format_schedule(delays: &[Duration]) -> String {
    delays
        .iter()
        .map(|delay| format_delay(*delay))
        .collect::<Vec<_>>()
        .join(",")
}

fn format_delay(delay: Duration) -> String {
    let millis = delay.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let (unit, unit_millis) = UNITS
        .iter()
        .find(|(_, unit_millis)| millis % u128::from(*unit_millis) == 0)
        .copied()
        // The last unit is one millisecond, which divides every whole number of them.
        .unwrap_or(("ms", 1));
    format!("{}{unit}", millis / u128::from(unit_millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn item(text: &str) -> String {
        text.to_owned()
    }

    #[track_caller]
    fn check(text: &str, expect: Result<Vec<Duration>, RetryError>) {
        assert_eq!(parse_schedule(text), expect, "{text:?}");
    }

    #[track_caller]
    fn check_format(delays: &[Duration], expect: &str) {
        assert_eq!(format_schedule(delays), expect);
    }

    #[test]
    fn parses_every_unit() {
        check(
            "250ms,30s,2m,1h,1d",
            Ok(vec![
                Duration::from_millis(250),
                secs(30),
                secs(120),
                secs(3600),
                secs(86_400),
            ]),
        );
    }

    #[test]
    fn parses_the_standard_schedule() {
        check(
            "30s,2m,5m,15m,30m,1h,2h,4h,8h,8h",
            Ok(crate::RetryPolicy::standard().delays),
        );
    }

    #[test]
    fn ignores_spaces_around_commas() {
        check(
            " 30s , 2m,5m ,15m ",
            Ok(vec![secs(30), secs(120), secs(300), secs(900)]),
        );
    }

    #[test]
    fn refuses_empty_lists_and_items() {
        check("", Err(RetryError::EmptySchedule));
        check("   ", Err(RetryError::EmptySchedule));
        check("30s,,2m", Err(RetryError::EmptyItem { position: 2 }));
        check("30s,2m,", Err(RetryError::EmptyItem { position: 3 }));
        check(",30s", Err(RetryError::EmptyItem { position: 1 }));
    }

    #[test]
    fn refuses_zero_and_negative_delays() {
        check("30s,0s", Err(RetryError::NotPositive { item: item("0s") }));
        check("0ms", Err(RetryError::NotPositive { item: item("0ms") }));
        check("-5m", Err(RetryError::NotPositive { item: item("-5m") }));
    }

    #[test]
    fn refuses_unknown_and_missing_units() {
        check(
            "30s,5 m",
            Err(RetryError::UnknownUnit { item: item("5 m") }),
        );
        check("2w", Err(RetryError::UnknownUnit { item: item("2w") }));
        check("30S", Err(RetryError::UnknownUnit { item: item("30S") }));
        check("30s,30", Err(RetryError::MissingUnit { item: item("30") }));
    }

    #[test]
    fn refuses_missing_or_fractional_numbers() {
        check("s", Err(RetryError::MissingNumber { item: item("s") }));
        check(
            "30s,m5",
            Err(RetryError::MissingNumber { item: item("m5") }),
        );
        check(
            "1.5h",
            Err(RetryError::MissingNumber { item: item("1.5h") }),
        );
        check("+5s", Err(RetryError::MissingNumber { item: item("+5s") }));
    }

    #[test]
    fn refuses_delays_too_large_for_milliseconds() {
        check(
            "99999999999999999999s",
            Err(RetryError::TooLarge {
                item: item("99999999999999999999s"),
            }),
        );
        check(
            "999999999999999d",
            Err(RetryError::TooLarge {
                item: item("999999999999999d"),
            }),
        );
    }

    #[test]
    fn errors_name_the_bad_item() {
        let message = parse_schedule("30s,2x").unwrap_err().to_string();
        assert_eq!(
            message,
            "retry delay \"2x\" has an unknown unit: use ms, s, m, h or d"
        );
        let message = parse_schedule("30s,,2m").unwrap_err().to_string();
        assert_eq!(
            message,
            "retry schedule item 2 is empty: remove the extra comma"
        );
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        check_format(&[], "");
        check_format(&[secs(30), secs(120), secs(3600)], "30s,2m,1h");
        check_format(
            &[secs(90), Duration::from_millis(1500), secs(86_400)],
            "90s,1500ms,1d",
        );
        check_format(&[secs(36 * 3600), Duration::ZERO], "36h,0s");
    }

    #[test]
    fn format_is_the_inverse_of_parse() {
        let standard = crate::RetryPolicy::standard().delays;
        check_format(&standard, "30s,2m,5m,15m,30m,1h,2h,4h,8h,8h");
        for text in ["30s,2m,5m,15m", "250ms,1d,90m", "7s"] {
            let delays = parse_schedule(text).unwrap();
            check_format(&delays, text);
        }
    }
}
