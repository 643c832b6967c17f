//! The one deadline a run must finish by. Every wait (a request, a retry
//! back-off, a propagation check) is cut to what is left of it.

use std::time::{Duration, Instant};

/// Default overall deadline of a run, in seconds.
pub const DEFAULT_SECONDS: u64 = 30;

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start: Instant,
    limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Self {
        Self {
            start: Instant::now(),
            limit,
        }
    }

    /// Time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.limit.saturating_sub(self.start.elapsed())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Whether a wait of `wait` still ends before the deadline.
    pub fn allows(&self, wait: Duration) -> bool {
        wait < self.remaining()
    }

    /// The whole limit, in seconds, for messages.
    pub fn limit_secs(&self) -> u64 {
        self.limit.as_secs()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}
