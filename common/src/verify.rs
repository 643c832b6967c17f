//! Waiting for a new credential to work: new IAM keys and Entra secrets take
//! seconds to be accepted everywhere, and one success is not enough. A
//! credential counts as working after K successes in a row, checked at a
//! jittered interval, within a time budget cut to the run's deadline.

use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::error::Result;
use crate::vault::VaultRecord;

/// How a new credential is checked: from the user record's custom fields
/// `verify_successes`, `verify_interval_seconds`, `verify_timeout_seconds`.
#[derive(Debug, Clone)]
pub struct Verify {
    pub successes: u32,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Why a credential was not shown to work.
#[derive(Debug, Clone)]
pub struct NotVerified {
    pub checks: u32,
    pub budget: Duration,
    pub last_error: String,
}

impl Verify {
    /// Defaults: 3 in a row, 1.5 s apart (jittered to 1-2 s), within 120 s.
    pub fn from_record(record: &VaultRecord) -> Result<Self> {
        Self::from_record_or(record, 1.5, 120.0)
    }

    /// The record's `verify_successes`, `verify_interval_seconds` and
    /// `verify_timeout_seconds`, else 3 in a row, `interval` seconds apart,
    /// within `timeout` seconds.
    pub fn from_record_or(record: &VaultRecord, interval: f64, timeout: f64) -> Result<Self> {
        Ok(Self {
            successes: record.number("verify_successes", 3.0, 1.0..=20.0)? as u32,
            interval: Duration::from_secs_f64(record.number(
                "verify_interval_seconds",
                interval,
                0.05..=30.0,
            )?),
            timeout: Duration::from_secs_f64(record.number(
                "verify_timeout_seconds",
                timeout,
                1.0..=900.0,
            )?),
        })
    }

    /// Calls `probe` until it succeeds `successes` times in a row, or the
    /// budget (the timeout, cut to the deadline less `reserve`) runs out.
    pub fn until_it_works(
        &self,
        deadline: &Deadline,
        reserve: Duration,
        mut probe: impl FnMut() -> std::result::Result<(), String>,
    ) -> std::result::Result<u32, NotVerified> {
        let budget = self
            .timeout
            .min(deadline.remaining().saturating_sub(reserve));
        let started = Instant::now();
        let mut in_a_row = 0;
        let mut checks = 0;
        let mut last_error = String::from("no check could be made before the deadline");
        loop {
            checks += 1;
            match probe() {
                Ok(()) => {
                    in_a_row += 1;
                    tracing::info!(
                        "the new credential works ({in_a_row} of {} in a row)",
                        self.successes
                    );
                    if in_a_row >= self.successes {
                        return Ok(checks);
                    }
                }
                Err(error) => {
                    if in_a_row > 0 {
                        tracing::info!(
                            "the new credential failed after {in_a_row} successes; counting again"
                        );
                    }
                    in_a_row = 0;
                    tracing::debug!("the new credential does not work yet: {error}");
                    last_error = error;
                }
            }
            let wait = self
                .interval
                .mul_f64(2.0 / 3.0 + fastrand::f64() * 2.0 / 3.0);
            if started.elapsed() + wait > budget {
                return Err(NotVerified {
                    checks,
                    budget,
                    last_error,
                });
            }
            std::thread::sleep(wait);
        }
    }
}

/// Reads `read` until `settled` holds for what it returns, at most
/// `attempts` times, `pause` apart, and returns the last reading: IAM and
/// Graph listings can still show a credential for a moment after it was
/// deleted.
pub fn until_settled<T>(
    attempts: u32,
    pause: Duration,
    mut read: impl FnMut() -> Result<T>,
    settled: impl Fn(&T) -> bool,
) -> Result<T> {
    let mut reading = read()?;
    for _ in 1..attempts {
        if settled(&reading) {
            break;
        }
        std::thread::sleep(pause);
        reading = read()?;
    }
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(successes: u32) -> Verify {
        Verify {
            successes,
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn a_failure_resets_the_count() {
        let answers = [true, true, false, true, true, true];
        let mut next = answers.iter();
        let checks = verify(3)
            .until_it_works(
                &Deadline::after(Duration::from_secs(10)),
                Duration::ZERO,
                || {
                    if *next.next().unwrap_or(&true) {
                        Ok(())
                    } else {
                        Err("no".into())
                    }
                },
            )
            .unwrap();
        assert_eq!(checks, 6);
    }

    #[test]
    fn a_listing_is_read_again_until_it_settles() {
        let mut readings = [3, 2, 1].into_iter();
        let last = until_settled(
            5,
            Duration::from_millis(1),
            || Ok(readings.next().unwrap_or(1)),
            |n| *n == 1,
        );
        assert_eq!(last.unwrap(), 1);
        let mut count = 0;
        let last = until_settled(
            3,
            Duration::from_millis(1),
            || {
                count += 1;
                Ok(count)
            },
            |_| false,
        );
        assert_eq!(last.unwrap(), 3);
    }

    #[test]
    fn it_gives_up_within_the_budget() {
        let started = Instant::now();
        let failure = Verify {
            successes: 1,
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(300),
        }
        .until_it_works(
            &Deadline::after(Duration::from_secs(10)),
            Duration::ZERO,
            || Err("InvalidClientTokenId".into()),
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(failure.checks >= 3);
        assert_eq!(failure.last_error, "InvalidClientTokenId");
    }
}
