//! The rotation lease: one run at a time per PAM User record.
//!
//! A Gateway can start the same rotation twice (a schedule and an on-demand
//! run, a retry after a timeout). Two runs that each create a credential and
//! retire "every other one" destroy each other's work: each sees the other's
//! new credential as an old one. So before any change, a run writes a lease
//! into the user record's custom field [`FIELD`]: its run id and an expiry,
//! with a revision-checked save (two runs racing for it cannot both win: the
//! second save carries a stale revision). A live lease held by another run
//! stops the run with exit 1 and nothing changed. Every later save to the
//! record checks the lease is still this run's ([`check_held`]), and the
//! lease is cleared at the end. A crashed run's lease expires (the run's
//! deadline plus a minute) and may then be taken over.
//!
//! The value is one readable line: `<run id> until <UTC time> (host <name>,
//! pid <n>)`, so an administrator who finds it knows what holds the record.

use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::time::{iso8601, parse_iso8601};
use crate::vault::{Change, Vault, VaultRecord};

/// The custom field holding the lease.
pub const FIELD: &str = "rotation_lease";

/// A lease as read from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub run_id: String,
    pub until: SystemTime,
    /// The whole value, for messages.
    pub text: String,
}

/// What the lease field of a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Free,
    Held(Held),
    /// Text that is not a lease.
    Garbled(String),
}

/// Reads the lease field of `record`.
pub fn read(record: &VaultRecord) -> Result<State> {
    let Some(text) = record.text(FIELD)? else {
        return Ok(State::Free);
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Ok(State::Free);
    }
    Ok(parse(&text).map_or(State::Garbled(text), State::Held))
}

fn parse(text: &str) -> Option<Held> {
    let (run_id, rest) = text.split_once(" until ")?;
    let until = rest.split_whitespace().next().and_then(parse_iso8601)?;
    if run_id.is_empty() || run_id.contains(char::is_whitespace) {
        return None;
    }
    Some(Held {
        run_id: run_id.to_owned(),
        until,
        text: text.to_owned(),
    })
}

/// A new run id: 16 hex digits.
pub fn new_run_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

fn value(run_id: &str, until: SystemTime) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{run_id} until {} (host {}, pid {})",
        iso8601(until),
        if host.is_empty() { "unknown" } else { &host },
        std::process::id()
    )
}

/// Whether `state` lets run `run_id` take the lease now.
fn may_take(state: &State, run_id: &str, location: &str, now: SystemTime) -> Result<()> {
    match state {
        State::Free => Ok(()),
        State::Held(held) if held.run_id == run_id => Ok(()),
        State::Held(held) if held.until <= now => {
            tracing::warn!(
                "taking over an expired rotation lease on {location} ({}): the run that held it \
                 did not finish cleanly; its credentials are checked like any other",
                held.text
            );
            Ok(())
        }
        State::Held(held) => Err(Error::Failed(format!(
            "another rotation of {location} is in progress (its lease: {}); nothing was \
             changed. If no rotation is running (a run that crashed), wait until the lease \
             expires or clear the record's {FIELD} field",
            held.text
        ))),
        State::Garbled(_) => Err(Error::Config(format!(
            "the custom field {FIELD} of {location} holds text that is not a rotation lease; \
             this field is written by the rotators: clear it"
        ))),
    }
}

/// Takes the lease on record `uid` for `ttl`. Returns the record as saved
/// with the lease (its fields as they were just read).
pub fn acquire(vault: &mut Vault, uid: &str, ttl: Duration) -> Result<VaultRecord> {
    let run_id = new_run_id();
    let until = SystemTime::now() + ttl;
    let lease = value(&run_id, until);
    let record = vault
        .update_checked(uid, &[Change::text(FIELD, &lease)], |record| {
            let state = read(record)?;
            may_take(
                &state,
                &run_id,
                &record.location().to_string(),
                SystemTime::now(),
            )
        })
        .map_err(|error| match error {
            // Unknown whether the lease was written: no credential was touched.
            Error::NoAnswer { target, detail } => Error::Failed(format!(
                "{target}: taking the rotation lease got no answer ({detail}); nothing was \
                 changed. If the record's {FIELD} field now names this run, clear it"
            )),
            other => other,
        })?;
    vault.hold_lease(uid, &run_id);
    tracing::info!("holding the rotation lease on {}", record.location());
    Ok(record)
}

/// Clears the lease this run holds.
pub fn release(vault: &mut Vault) -> Result<()> {
    let Some((uid, _)) = vault.held_lease() else {
        return Ok(());
    };
    vault.update(&uid, &[Change::text(FIELD, "")])?;
    vault.drop_lease();
    Ok(())
}

/// Saves `changes` to record `uid` and, if this run holds the lease on it,
/// clears the lease in the same save: a finished rotation's last write.
pub fn finish(vault: &mut Vault, uid: &str, changes: &[Change]) -> Result<()> {
    let mut all = changes.to_vec();
    let holds = vault.held_lease().is_some_and(|(held, _)| held == uid);
    if holds {
        all.push(Change::text(FIELD, ""));
    }
    vault.update(uid, &all)?;
    if holds {
        vault.drop_lease();
    }
    Ok(())
}

/// A save to a leased record: the lease must still be `run_id`'s.
pub fn check_held(record: &VaultRecord, run_id: &str) -> Result<()> {
    match read(record)? {
        State::Held(held) if held.run_id == run_id => Ok(()),
        other => Err(Error::Failed(format!(
            "the rotation lease on {} is no longer this run's ({}): another run took the record \
             over, so this run's change was not saved",
            record.location(),
            match other {
                State::Free => "the field was cleared".to_owned(),
                State::Held(held) => format!("now: {}", held.text),
                State::Garbled(_) => "the field was overwritten".to_owned(),
            }
        ))),
    }
}

/// For [`crate::driver::Run`]: keeps the vault API in one place.
pub struct Lease;

impl Lease {
    pub fn acquire(vault: &mut Vault, uid: &str, ttl: Duration) -> Result<VaultRecord> {
        acquire(vault, uid, ttl)
    }

    pub fn release(vault: &mut Vault) -> Result<()> {
        release(vault)
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lease")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_lease_reads_back() {
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_305_600);
        let text = value("00112233aabbccdd", until);
        let held = parse(&text).unwrap();
        assert_eq!(held.run_id, "00112233aabbccdd");
        assert_eq!(held.until, until);
        assert!(text.contains("until 2026-11-22T00:00:00Z (host "), "{text}");
    }

    #[test]
    fn who_may_take_the_lease() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let held = |run: &str, secs: u64| {
            State::Held(Held {
                run_id: run.into(),
                until: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
                text: format!("{run} until ..."),
            })
        };
        assert!(may_take(&State::Free, "me", "r", now).is_ok());
        assert!(may_take(&held("me", 2_000_000), "me", "r", now).is_ok());
        assert!(may_take(&held("other", 999_999), "me", "r", now).is_ok());
        let busy = may_take(&held("other", 2_000_000), "me", "record 'R'", now).unwrap_err();
        assert_eq!(busy.exit().code(), 1);
        assert!(
            busy.to_string()
                .contains("another rotation of record 'R' is in progress")
        );
        let garbled = may_take(&State::Garbled("x".into()), "me", "r", now).unwrap_err();
        assert_eq!(garbled.exit().code(), 2);
    }

    #[test]
    fn text_that_is_not_a_lease_is_garbled() {
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("a b until 2026-11-22T00:00:00Z"), None);
        assert_eq!(parse("ab until tomorrow"), None);
    }
}
