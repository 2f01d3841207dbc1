//! `Timestamp`: milliseconds since the Unix epoch, printed as RFC 3339 UTC.
//!
//! Herald never reads the clock here; `Timestamp::from_system_time` converts what a
//! caller's clock returned. Formatting and parsing are hand-written (civil-date
//! arithmetic) to keep the bottom crate free of a date library.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::EventError;

/// A point in time, in whole milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from milliseconds since the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch (what `webhook-timestamp` carries).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Converts a clock reading; times before the epoch become the epoch.
    pub fn from_system_time(time: SystemTime) -> Self {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// This timestamp plus a duration, saturating.
    pub fn plus(self, duration: Duration) -> Self {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// The time from `earlier` to `self`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-12-03T15:04:05.123Z`.
    pub fn to_rfc3339(self) -> String {
        let total_secs = self.0 / 1000;
        let millis = self.0 % 1000;
        let days = total_secs / 86_400;
        let secs_of_day = total_secs % 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        )
    }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`.
    ///
    /// Fractions beyond milliseconds are truncated; `t` and `z` are accepted in lowercase,
    /// as RFC 3339 allows. Times before 1970 are refused.
    pub fn parse_rfc3339(text: &str) -> Result<Self, EventError> {
        parse_rfc3339(text.as_bytes()).ok_or(EventError::InvalidTimestamp)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Human-readable formats (the API's JSON) get RFC 3339; binary storage formats
        // get the integer, which is smaller and cheaper to decode.
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_rfc3339())
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
            Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
        } else {
            u64::deserialize(deserializer).map(Timestamp)
        }
    }
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01, after Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = i64::from(if month > 2 { month - 3 } else { month + 9 });
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn digits(bytes: &[u8], start: usize, len: usize) -> Option<u32> {
    let slice = bytes.get(start..start + len)?;
    slice.iter().try_fold(0u32, |acc, byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + u32::from(byte - b'0'))
    })
}

fn parse_rfc3339(bytes: &[u8]) -> Option<Timestamp> {
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    let hour = digits(bytes, 11, 2)?;
    let minute = digits(bytes, 14, 2)?;
    let second = digits(bytes, 17, 2)?;
    let separators_ok = bytes.get(4) == Some(&b'-')
        && bytes.get(7) == Some(&b'-')
        && matches!(bytes.get(10), Some(b'T' | b't'))
        && bytes.get(13) == Some(&b':')
        && bytes.get(16) == Some(&b':');
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    // A leap second (:60) is accepted and folded into the next second, as most parsers do.
    if !separators_ok || day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let mut position = 19;
    let mut millis = 0u32;
    if bytes.get(position) == Some(&b'.') {
        position += 1;
        let fraction_start = position;
        while bytes.get(position).is_some_and(u8::is_ascii_digit) {
            let digit = u32::from(bytes[position] - b'0');
            let place = position - fraction_start;
            if place < 3 {
                millis += digit * 10u32.pow(2 - place as u32);
            }
            position += 1;
        }
        if position == fraction_start {
            return None;
        }
    }
    let offset_secs: i64 = match bytes.get(position)? {
        b'Z' | b'z' if position + 1 == bytes.len() => 0,
        sign @ (b'+' | b'-') if position + 6 == bytes.len() => {
            let offset_hours = digits(bytes, position + 1, 2)?;
            let offset_minutes = digits(bytes, position + 4, 2)?;
            if bytes[position + 3] != b':' || offset_hours > 23 || offset_minutes > 59 {
                return None;
            }
            let magnitude = i64::from(offset_hours * 3600 + offset_minutes * 60);
            if *sign == b'+' {
                magnitude
            } else {
                -magnitude
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let local_secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    let utc_secs = local_secs - offset_secs;
    let utc_secs = u64::try_from(utc_secs).ok()?;
    Some(Timestamp(utc_secs * 1000 + u64::from(millis)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect_millis: Option<u64>) {
        let parsed = Timestamp::parse_rfc3339(text)
            .ok()
            .map(Timestamp::as_millis);
        assert_eq!(parsed, expect_millis, "{text}");
    }

    #[test]
    fn formats_with_milliseconds() {
        assert_eq!(
            Timestamp::from_millis(0).to_rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_614_265_330_000).to_rfc3339(),
            "2021-02-25T15:02:10.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_796_310_245_123).to_rfc3339(),
            "2026-12-03T15:04:05.123Z"
        );
        assert_eq!(
            Timestamp::from_millis(951_782_400_000).to_rfc3339(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_rfc3339_forms() {
        check("2026-12-03T15:04:05.123Z", Some(1_796_310_245_123));
        check("1969-12-31T23:59:59Z", None);
        assert_eq!(
            Timestamp::parse_rfc3339("1969-12-31T23:59:59Z")
                .unwrap_err()
                .to_string(),
            "must be an RFC 3339 timestamp from 1970 on, such as 2026-12-03T15:04:05.123Z"
        );
        check("2026-12-03T15:04:05Z", Some(1_796_310_245_000));
        check("2026-12-03t15:04:05.1234567z", Some(1_796_310_245_123));
        check("2026-12-03T16:04:05.123+01:00", Some(1_796_310_245_123));
        check("2026-12-03T10:04:05.123-05:00", Some(1_796_310_245_123));
        check("2000-02-29T00:00:00Z", Some(951_782_400_000));
    }

    #[test]
    fn refuses_malformed_timestamps() {
        check("", None);
        check("2026-12-03", None);
        check("2026-12-03 15:04:05Z", None);
        check("2026-13-03T15:04:05Z", None);
        check("2026-02-29T15:04:05Z", None);
        check("2026-12-03T24:00:00Z", None);
        check("2026-12-03T15:04:05.Z", None);
        check("2026-12-03T15:04:05", None);
        check("2026-12-03T15:04:05Zjunk", None);
        check("1969-12-31T23:59:59Z", None);
    }

    #[test]
    fn round_trips() {
        for millis in [0, 1, 999, 86_399_999, 1_796_310_245_123, 4_102_444_800_000] {
            let text = Timestamp::from_millis(millis).to_rfc3339();
            check(&text, Some(millis));
        }
    }
}
