//! What an eventually consistent listing shows: a list as it was some time
//! ago.
//!
//! Why: IAM's `ListAccessKeys` and Graph's application read can both show
//! the credentials as they were before a create or delete that already
//! succeeded, and a rotator must not take such a listing for the truth.
//! Both fakes keep their credentials in a [`Lagging`] list and answer those
//! reads from its past (`listing_lag`); every other call sees it as it is.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// A list (read and changed as a `Vec`) with the values it had and since
/// when (`None`: since before the test), oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Lagging<T> {
    now: Vec<T>,
    past: Vec<(Option<Instant>, Vec<T>)>,
}

impl<T: Clone> Lagging<T> {
    /// Empty since before the test.
    pub(crate) fn new() -> Self {
        Self {
            now: Vec::new(),
            past: vec![(None, Vec::new())],
        }
    }

    /// Makes the list as it is now the list "since forever" (test setup).
    pub(crate) fn settle(&mut self) {
        self.past = vec![(None, self.now.clone())];
    }

    /// Remembers a change made through the API.
    pub(crate) fn remember(&mut self) {
        self.past.push((Some(Instant::now()), self.now.clone()));
    }

    /// The list as a read `lag` behind shows it.
    pub(crate) fn as_of(&self, lag: Duration) -> &[T] {
        if lag.is_zero() {
            return &self.now;
        }
        let cutoff = Instant::now().checked_sub(lag);
        self.past
            .iter()
            .rev()
            .find(|(since, _)| match (since, cutoff) {
                (None, _) => true,
                (Some(since), Some(cutoff)) => *since <= cutoff,
                (Some(_), None) => false,
            })
            .map_or(&self.now, |(_, value)| value)
    }
}

impl<T> Deref for Lagging<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.now
    }
}

impl<T> DerefMut for Lagging<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lagging_read_shows_the_list_from_before_a_recent_change() {
        let mut keys = Lagging::new();
        keys.push("old");
        keys.settle();
        keys.push("new");
        keys.remember();
        assert_eq!(keys.as_of(Duration::ZERO), ["old", "new"]);
        assert_eq!(keys.as_of(Duration::from_secs(60)), ["old"]);
    }
}
