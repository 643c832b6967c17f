//! The one deadline a run must finish by. Every wait (a request, a retry
//! back-off, a propagation check) is cut to what is left of it.

use std::time::{Duration, Instant};

/// Default overall deadline of a run, in seconds.
pub const DEFAULT_SECONDS: u64 = 30;

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start: Instant,
    limit: Duration,
    /// Time at the end of the run this deadline leaves to a later step
    /// ([`Deadline::keeping`]).
    kept: Duration,
}

/// The share of the time left that a password change leaves to the sign-in
/// that proves the new password: one part in `PROOF_SHARE`, a third.
///
/// Why a third: a healthy sign-in takes well under a second, but one that
/// meets a transient failure needs its back-off (0.25 s, 0.5 s, 1 s, ...), a
/// `Retry-After` of a second or two, and a second attempt after a first one
/// that timed out (each proof attempt may take at most half of what is left).
/// With the default deadline (30 s) a third is about 10 s, enough for four or
/// five attempts, and leaves the change about 19 s, close to the default
/// per-request timeout (20 s), so a slow but healthy change is hardly cut. A
/// larger share would cut slow changes into "may or may not have changed";
/// a smaller one would leave a proof no room for one retry after a timeout.
pub const PROOF_SHARE: u32 = 3;

impl Deadline {
    pub fn after(limit: Duration) -> Self {
        Self {
            start: Instant::now(),
            limit,
            kept: Duration::ZERO,
        }
    }

    /// The same deadline, ending `kept` earlier: what a step may use when
    /// the step after it must still have `kept`.
    pub fn keeping(&self, kept: Duration) -> Self {
        Self {
            kept: self.kept.saturating_add(kept),
            ..*self
        }
    }

    /// What a password change leaves to proving the new password: a
    /// [`PROOF_SHARE`] of the time left now.
    pub fn proof_reserve(&self) -> Duration {
        self.remaining() / PROOF_SHARE
    }

    /// Time this deadline leaves to a later step (zero for the run's own).
    pub fn kept(&self) -> Duration {
        self.kept
    }

    /// Time left; zero once passed.
    pub fn remaining(&self) -> Duration {
        self.limit
            .saturating_sub(self.kept)
            .saturating_sub(self.start.elapsed())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Whether a wait of `wait` still ends before the deadline.
    pub fn allows(&self, wait: Duration) -> bool {
        wait < self.remaining()
    }

    /// The run's whole limit (what it keeps for a later step included), in
    /// seconds, for messages.
    pub fn limit_secs(&self) -> u64 {
        self.limit.as_secs()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The environment variable bounding one request (an HTTP exchange, a vault
/// call): after that long without an answer, the request counts as
/// unanswered and its outcome as unknown.
pub const REQUEST_TIMEOUT_VAR: &str = "KEEPER_ROTATOR_REQUEST_TIMEOUT";

/// Default bound of one request, in seconds.
pub const DEFAULT_REQUEST_SECONDS: u64 = 20;

/// How long one request may take: [`REQUEST_TIMEOUT_VAR`] (1 to 300 seconds,
/// fractions allowed), else [`DEFAULT_REQUEST_SECONDS`]. Read once.
pub fn request_timeout() -> crate::Result<Duration> {
    static VALUE: std::sync::OnceLock<Result<Duration, String>> = std::sync::OnceLock::new();
    VALUE
        .get_or_init(|| match std::env::var(REQUEST_TIMEOUT_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(Duration::from_secs(DEFAULT_REQUEST_SECONDS)),
            Ok(text) if text.trim().is_empty() => Ok(Duration::from_secs(DEFAULT_REQUEST_SECONDS)),
            Ok(text) => match text.trim().parse::<f64>() {
                Ok(seconds) if (1.0..=300.0).contains(&seconds) => {
                    Ok(Duration::from_secs_f64(seconds))
                }
                _ => Err(format!(
                    "{REQUEST_TIMEOUT_VAR}='{text}' is not a number of seconds from 1 to 300"
                )),
            },
            Err(_) => Err(format!("{REQUEST_TIMEOUT_VAR} is not valid text")),
        })
        .clone()
        .map_err(crate::Error::Config)
}

/// [`request_timeout`], or the default when it is invalid (the driver has
/// already refused to run with an invalid value).
pub fn request_timeout_or_default() -> Duration {
    request_timeout().unwrap_or(Duration::from_secs(DEFAULT_REQUEST_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_keeping_time_for_a_later_step_ends_that_much_earlier() {
        let run = Deadline::after(Duration::from_secs(30));
        let reserve = run.proof_reserve();
        assert!(reserve > Duration::from_millis(9_900) && reserve <= Duration::from_secs(10));
        let change = run.keeping(reserve);
        let gap = run.remaining() - change.remaining();
        assert!(gap.abs_diff(reserve) < Duration::from_millis(50), "{gap:?}");
        assert_eq!(change.limit_secs(), 30);
        assert_eq!(change.kept(), reserve);
        assert!(run.kept().is_zero());
        // Keeping more than is left leaves nothing, never a panic.
        assert!(change.keeping(Duration::from_secs(60)).expired());
    }
}
