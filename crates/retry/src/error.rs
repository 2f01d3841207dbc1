//! `RetryError`: why a retry schedule written as text was refused.
//!
//! Scheduling itself never fails: a receiver answering 500 is an outcome that
//! `next_attempt` turns into a decision, not an error. The only fallible input of this
//! crate is the operator's schedule text (`--retry-schedule`, `HERALD_RETRY_SCHEDULE`),
//! so every variant names the item that was wrong and says what is allowed.

/// A retry schedule such as `30s,2m,5m,15m` could not be parsed.
///
/// The messages are written for the operator who typed the schedule: each names the
/// offending item and what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryError {
    /// The schedule holds no delay at all (empty or only spaces).
    #[error("retry schedule is empty: list delays such as 30s,2m,5m")]
    EmptySchedule,
    /// Two commas with nothing between them, or a comma at either end.
    #[error("retry schedule item {position} is empty: remove the extra comma")]
    EmptyItem {
        /// The 1-based position of the empty item in the list.
        position: usize,
    },
    /// An item that does not start with a whole number, such as `s` or `1.5h`.
    #[error("retry delay {item:?} needs a whole number followed by a unit, such as 30s")]
    MissingNumber {
        /// The item as written (without surrounding spaces).
        item: String,
    },
    /// A number without a unit, such as `30`.
    #[error("retry delay {item:?} has no unit: use ms, s, m, h or d")]
    MissingUnit {
        /// The item as written (without surrounding spaces).
        item: String,
    },
    /// A unit other than `ms`, `s`, `m`, `h` and `d`.
    #[error("retry delay {item:?} has an unknown unit: use ms, s, m, h or d")]
    UnknownUnit {
        /// The item as written (without surrounding spaces).
        item: String,
    },
    /// A delay of zero or a negative delay, such as `0s` or `-5m`.
    #[error("retry delay {item:?} must be greater than zero")]
    NotPositive {
        /// The item as written (without surrounding spaces).
        item: String,
    },
    /// A delay too large to represent in milliseconds.
    #[error("retry delay {item:?} is too large")]
    TooLarge {
        /// The item as written (without surrounding spaces).
        item: String,
    },
}
