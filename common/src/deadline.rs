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
