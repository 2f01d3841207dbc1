//! `Clock`: where the engine gets `now`. The only clock reader in Herald's libraries.

use std::fmt::Debug;

use herald_event::Timestamp;

/// A source of the current time.
pub trait Clock: Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        #[allow(clippy::disallowed_methods)] // The one place the wall clock is read.
        let now = std::time::SystemTime::now();
        Timestamp::from_system_time(now)
    }
}

/// A clock that follows tokio's (pausable) time from a fixed start, for tests.
///
/// With `tokio::time::pause()`, sleeps advance this clock instantly and exactly, so a
/// 24-hour retry schedule runs in milliseconds and every attempt time is predictable.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: Timestamp,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn starting_at(start: Timestamp) -> Self {
        TokioClock {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.start.plus(self.origin.elapsed())
    }
}
