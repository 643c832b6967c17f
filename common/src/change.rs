//! What this run may have changed: the ledger behind every exit code.
//!
//! The Gateway trusts only the exit code, and codes 1 and 2 promise that
//! nothing changed. That promise must not depend on every error path
//! remembering what was sent before it. So every request that may change an
//! account is entered here *before* it is sent, and taken out again only on
//! evidence that it had no effect (the server refused it, or the connection
//! was never made) or that the run undid it ([`rollback_to`]). The rotation
//! driver turns any exit 1 or 2 into 4 while an entry is outstanding, and the
//! panic hook uses the same ledger.
//!
//! The ledger also enforces `--dry-run` structurally: while the driver is
//! planning, [`sent`] refuses, so a write reached by mistake during a dry run
//! fails before anything leaves the process.
//!
//! This module sits at the bottom of the crate (it depends only on
//! [`crate::error`]) so that the HTTP layer, the vault and the driver can all
//! use it without importing each other.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// The phases of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and deciding: no change may be sent.
    Planning,
    /// Carrying out the plan.
    Applying,
}

static PLANNING: AtomicBool = AtomicBool::new(false);

/// One entry: what was sent, and whether it is settled (shown to have had no
/// effect, or undone).
#[derive(Debug)]
struct Entry {
    what: String,
    settled: bool,
}

static LEDGER: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn ledger() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    LEDGER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets the phase. The driver calls this; nothing else should.
pub fn set_phase(phase: Phase) {
    PLANNING.store(phase == Phase::Planning, Ordering::SeqCst);
}

pub fn phase() -> Phase {
    if PLANNING.load(Ordering::SeqCst) {
        Phase::Planning
    } else {
        Phase::Applying
    }
}

/// Fails while planning: call it before any write that is not a change to the
/// account (a vault write, say).
pub fn ensure_applying(what: &str) -> Result<()> {
    match phase() {
        Phase::Applying => Ok(()),
        Phase::Planning => Err(Error::Failed(format!(
            "internal error: {what} was attempted while planning (a bug, please report it); \
             it was not sent and nothing was changed"
        ))),
    }
}

/// A change that may have been sent, until [`Sent::settle`] says it had no
/// effect.
#[derive(Debug)]
#[must_use = "a sent change stays outstanding unless settled"]
pub struct Sent(usize);

/// Enters `what` (a short description naming the request and its target,
/// never a secret) before it is sent. Fails while planning.
pub fn sent(what: impl Into<String>) -> Result<Sent> {
    let what = what.into();
    ensure_applying(&what)?;
    let mut ledger = ledger();
    ledger.push(Entry {
        what,
        settled: false,
    });
    Ok(Sent(ledger.len() - 1))
}

impl Sent {
    /// The request is shown to have had no effect: the server refused it, or
    /// it never left.
    pub fn settle(self) {
        if let Some(entry) = ledger().get_mut(self.0) {
            entry.settled = true;
        }
    }

    /// The request may have taken effect (or did): it stays outstanding.
    pub fn keep(self) {}
}

/// A point in the ledger, for [`rollback_to`].
#[derive(Debug, Clone, Copy)]
pub struct Mark(usize);

pub fn mark() -> Mark {
    Mark(ledger().len())
}

/// Everything entered since `mark` has been undone (a new credential was
/// created and revoked again): it no longer counts as a change.
pub fn rollback_to(mark: Mark) {
    for entry in ledger().iter_mut().skip(mark.0) {
        entry.settled = true;
    }
}

/// What may have changed and was not undone, in the order it was sent.
pub fn outstanding() -> Vec<String> {
    ledger()
        .iter()
        .filter(|e| !e.settled)
        .map(|e| e.what.clone())
        .collect()
}

/// Whether anything may have changed.
pub fn any_outstanding() -> bool {
    ledger().iter().any(|e| !e.settled)
}

/// [`any_outstanding`] without waiting for the ledger's lock, for the panic
/// hook (a panic while the lock is held must not hang it): `None` when the
/// lock is held, and the answer is then unknown.
pub fn try_any_outstanding() -> Option<bool> {
    match LEDGER.try_lock() {
        Ok(ledger) => Some(ledger.iter().any(|e| !e.settled)),
        Err(std::sync::TryLockError::Poisoned(ledger)) => {
            Some(ledger.into_inner().iter().any(|e| !e.settled))
        }
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

#[cfg(test)]
pub(crate) fn reset_for_test() {
    ledger().clear();
    set_phase(Phase::Applying);
}

#[cfg(test)]
pub(crate) static TEST_LOCK: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> std::sync::MutexGuard<'static, ()> {
        let g = TEST_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reset_for_test();
        g
    }

    #[test]
    fn a_change_stays_outstanding_until_settled() {
        let _g = guard();
        let first = sent("POST https://h/a").unwrap();
        let second = sent("POST https://h/b").unwrap();
        first.settle();
        second.keep();
        assert_eq!(outstanding(), ["POST https://h/b"]);
        assert!(any_outstanding());
    }

    #[test]
    fn a_rollback_settles_everything_since_the_mark_only() {
        let _g = guard();
        sent("delete unused key").unwrap().keep();
        let mark = mark();
        sent("create key").unwrap().keep();
        sent("delete new key").unwrap().keep();
        rollback_to(mark);
        assert_eq!(outstanding(), ["delete unused key"]);
    }

    #[test]
    fn nothing_can_be_sent_while_planning() {
        let _g = guard();
        set_phase(Phase::Planning);
        let error = sent("POST https://h/change").unwrap_err();
        assert_eq!(error.exit().code(), 1);
        assert!(error.to_string().contains("while planning"), "{error}");
        assert!(!any_outstanding());
        set_phase(Phase::Applying);
        assert!(sent("POST https://h/change").is_ok());
    }
}
