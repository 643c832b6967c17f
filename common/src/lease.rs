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
//! deadline plus a minute, plus [`CLOCK_TOLERANCE`]) and may then be taken
//! over.
//!
//! The value is one readable line: `<run id> until <UTC time> (host <name>,
//! pid <n>)`, so an administrator who finds it knows what holds the record.
//!
//! **Progress.** A run that stores a new credential records, in the same
//! save, what it created and what it still means to retire:
//! `…; stored <id>; to retire: <id>, <id>` (or `none`). A run killed after
//! that save (while verifying, retiring) leaves it behind; the next run that
//! takes the lease over reads it ([`Interrupted`]) and completes the
//! rotation: a credential on that list may be retired although it was used
//! recently (the interrupted run's own plan retired it), as long as the
//! record still holds the credential that run stored. Every credential off
//! the list keeps every protection. The record is carried in the lease until
//! a rotation completes: a run that ends without completing it (exit 1 to 4)
//! writes it back, as a lease that has already expired.
//!
//! **Clocks.** The expiry is written and judged by the clock of the vault
//! when it can be read (the `Date` of one answer from the vault's host, see
//! [`crate::clock`]), else by the local clock; either way a lease counts as
//! expired only [`CLOCK_TOLERANCE`] after its time, so two gateways whose
//! clocks differ by less than that never take over each other's live lease.
//! A lease that ends further ahead than the longest possible run
//! ([`MAX_TTL`]) plus that tolerance cannot have been written by a rotator
//! with a sane clock (or was edited by hand): it is not a lease; the run
//! warns and takes it over.

use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};
use crate::time::{iso8601, parse_iso8601};
use crate::vault::{Change, Fence, Vault, VaultRecord};

/// The custom field holding the lease.
pub const FIELD: &str = "rotation_lease";

/// The longest lease a run takes: the longest deadline (`--timeout` 3600)
/// plus the minute a lease outlives its run's deadline.
pub const MAX_TTL: Duration = Duration::from_secs(3600 + 60);

/// How far apart two clocks may be before a lease is misjudged: a lease is
/// expired only this long after its time, and is no lease at all if it ends
/// more than [`MAX_TTL`] plus this ahead. Defined with the vault's clock.
pub use crate::clock::CLOCK_TOLERANCE;

/// The lease this run holds. The driver keeps it ([`crate::driver::Run`])
/// and the vault only its [`Fence`]: every save to the leased record first
/// checks that the record still names this run ([`check_held`]).
#[derive(Debug, Clone)]
pub struct HeldLease {
    uid: String,
    run_id: String,
    /// The lease's own text, without a record of progress.
    text: String,
    /// What the record says a rotation on it has done and still has to do:
    /// this run's, or an interrupted run's it took over. Written back when
    /// the lease is released unless the rotation completed.
    progress: Option<Progress>,
}

/// How step 7 retires an old credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Retirement {
    /// Revoked: deleted for good (the default).
    #[default]
    Revoke,
    /// Deactivated: kept, but refused by the service until someone makes
    /// it active again (AWS `retire_old_key = deactivate`). A change like a
    /// revocation: entered in the ledger, and an answer lost to it settled
    /// on evidence like a revocation's ([`crate::replace::Credentials::list`] lists only
    /// the credentials still valid).
    Deactivate,
}

impl Retirement {
    /// "revoking", "deactivating".
    pub fn doing(self) -> &'static str {
        match self {
            Self::Revoke => "revoking",
            Self::Deactivate => "deactivating",
        }
    }

    /// "revoked", "deactivated".
    pub fn done(self) -> &'static str {
        match self {
            Self::Revoke => "revoked",
            Self::Deactivate => "deactivated",
        }
    }
}

/// What a run stored and still meant to retire, as recorded with its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The credential the run created and stored in the record.
    pub stored: String,
    /// The credentials it meant to retire once that one works.
    pub retiring: Vec<String>,
    /// How it meant to retire them: revoked (`to retire:`, also what a
    /// record written before the mode was recorded says) or deactivated
    /// (`to deactivate:`). Read by the AWS binary's plan: keys recorded
    /// `to deactivate:` are never deleted to make room as the interrupted
    /// run's plan; when the stored key is listed Active they are completed
    /// by deactivating, whatever the record's `retire_old_key` says now.
    pub retirement: Retirement,
}

impl Progress {
    /// The words that introduce the list in the record: `to retire:`,
    /// `to deactivate:`.
    fn label(retirement: Retirement) -> &'static str {
        match retirement {
            Retirement::Revoke => "; to retire: ",
            Retirement::Deactivate => "; to deactivate: ",
        }
    }

    fn text(&self) -> String {
        format!(
            "stored {}{}{}",
            self.stored,
            Self::label(self.retirement),
            if self.retiring.is_empty() {
                "none".to_owned()
            } else {
                self.retiring.join(", ")
            }
        )
    }

    fn parse(text: &str) -> Option<Self> {
        let text = text.trim().strip_prefix("stored ")?;
        let (retirement, (stored, rest)) = [Retirement::Revoke, Retirement::Deactivate]
            .into_iter()
            .find_map(|how| Some((how, text.split_once(Self::label(how))?)))?;
        let stored = stored.trim();
        if !is_id(stored) {
            return None;
        }
        let rest = rest.trim();
        let retiring: Vec<String> = if rest == "none" {
            Vec::new()
        } else {
            rest.split(',').map(|id| id.trim().to_owned()).collect()
        };
        if !retiring.iter().all(|id| is_id(id)) {
            return None;
        }
        Some(Self {
            stored: stored.to_owned(),
            retiring,
            retirement,
        })
    }
}

/// What a credential id in a record of progress may be: printable ASCII
/// without the separators (IAM key ids, Entra key ids, SSH fingerprints).
/// Anything else is not what a rotator wrote, and is never printed.
fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b';')
}

/// A rotation an earlier run left unfinished, found when taking the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The run that recorded it.
    pub run_id: String,
    pub progress: Progress,
}

impl Interrupted {
    /// The credentials this run may retire to complete it: those on the
    /// interrupted run's list, provided the record still holds the one that
    /// run stored (`stored_now`); otherwise none (the record moved on, and
    /// the list no longer says anything).
    pub fn retirable(&self, stored_now: Option<&str>) -> &[String] {
        if stored_now == Some(self.progress.stored.as_str()) {
            &self.progress.retiring
        } else {
            &[]
        }
    }
}

/// A lease as read from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub run_id: String,
    pub until: SystemTime,
    /// What the holder recorded of its rotation, if anything.
    pub progress: Option<Progress>,
    /// The whole value, for messages.
    pub text: String,
}

/// What the lease field of a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Free,
    Held(Held),
    /// No run holds it; the last one left a rotation unfinished.
    Released {
        run_id: String,
        progress: Progress,
    },
    /// Text that is not a lease.
    Garbled(String),
}

/// How a released lease that keeps a record of progress starts.
const RELEASED: &str = "released by ";

/// Reads the lease field of `record`.
pub fn read(record: &VaultRecord) -> Result<State> {
    let Some(text) = record.text(FIELD)? else {
        return Ok(State::Free);
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Ok(State::Free);
    }
    if let Some(rest) = text.strip_prefix(RELEASED) {
        return Ok(parse_released(rest).unwrap_or(State::Garbled(text)));
    }
    Ok(parse(&text).map_or(State::Garbled(text), State::Held))
}

fn parse_released(rest: &str) -> Option<State> {
    let (run_id, rest) = rest.split_once(" at ")?;
    let (_, progress) = rest.split_once("; ")?;
    if run_id.is_empty() || run_id.contains(char::is_whitespace) {
        return None;
    }
    Some(State::Released {
        run_id: run_id.to_owned(),
        progress: Progress::parse(progress)?,
    })
}

fn parse(text: &str) -> Option<Held> {
    let (run_id, rest) = text.split_once(" until ")?;
    let until = rest.split_whitespace().next().and_then(parse_iso8601)?;
    if run_id.is_empty() || run_id.contains(char::is_whitespace) {
        return None;
    }
    // A record of progress follows the lease after "; ". One that does not
    // read as one makes the whole value garbled: it is never half-trusted.
    let progress = match rest.split_once("; ") {
        None => None,
        Some((_, progress)) => Some(Progress::parse(progress)?),
    };
    Some(Held {
        run_id: run_id.to_owned(),
        until,
        progress,
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

fn with_progress(text: &str, progress: Option<&Progress>) -> String {
    match progress {
        None => text.to_owned(),
        Some(progress) => format!("{text}; {}", progress.text()),
    }
}

/// Whether `state` lets run `run_id` take the lease now.
fn may_take(state: &State, run_id: &str, location: &str, now: SystemTime) -> Result<()> {
    match state {
        State::Free | State::Released { .. } => Ok(()),
        State::Held(held) if held.run_id == run_id => Ok(()),
        State::Held(held) if held.until + CLOCK_TOLERANCE <= now => {
            tracing::warn!(
                "taking over an expired rotation lease on {location} ({}): the run that held it \
                 did not finish cleanly; {}",
                held.text,
                if held.progress.is_some() {
                    "it recorded an unfinished rotation, which this run completes"
                } else {
                    "its credentials are checked like any other"
                }
            );
            Ok(())
        }
        State::Held(held) if held.until > now + MAX_TTL + CLOCK_TOLERANCE => {
            tracing::warn!(
                "the rotation lease on {location} ({}) ends further ahead than any run can last \
                 ({} s plus {} s for clocks that differ): it was not written by a rotator with a \
                 correct clock, or was edited by hand. Taking it over",
                held.text,
                MAX_TTL.as_secs(),
                CLOCK_TOLERANCE.as_secs()
            );
            Ok(())
        }
        State::Held(held) => Err(Error::Failed(format!(
            "another rotation of {location} is in progress (its lease: {}); nothing was \
             changed. If no rotation is running (a run that crashed), wait until the lease \
             expires ({} s after its time, for clocks that differ) or clear the record's \
             {FIELD} field",
            held.text,
            CLOCK_TOLERANCE.as_secs()
        ))),
        State::Garbled(_) => Err(Error::Config(format!(
            "the custom field {FIELD} of {location} holds text that is not a rotation lease; \
             this field is written by the rotators: clear it"
        ))),
    }
}

/// Takes the lease on record `uid` for `ttl`. Returns the record as saved
/// with the lease (its fields as they were just read), and the rotation an
/// earlier run left unfinished on it, if its lease recorded one. That record
/// is carried over into this run's lease until this run's own replaces it.
pub fn acquire(
    vault: &mut Vault,
    lease: &mut Option<HeldLease>,
    uid: &str,
    ttl: Duration,
) -> Result<(VaultRecord, Option<Interrupted>)> {
    let run_id = new_run_id();
    vault.read_clock();
    // The expiry is decided with the save, by the clock of that moment.
    let decided = std::cell::RefCell::new(None::<(String, Option<Interrupted>)>);
    let record = vault
        .update_checked_with(uid, |record, now| {
            let state = read(record)?;
            may_take(&state, &run_id, &record.location().to_string(), now)?;
            let left = match state {
                State::Held(held) if held.run_id != run_id => {
                    held.progress.map(|progress| Interrupted {
                        run_id: held.run_id,
                        progress,
                    })
                }
                State::Released { run_id, progress } => Some(Interrupted { run_id, progress }),
                _ => None,
            };
            let text = value(&run_id, now + ttl);
            let lease = with_progress(&text, left.as_ref().map(|i| &i.progress));
            *decided.borrow_mut() = Some((text, left));
            Ok(vec![Change::text(FIELD, &lease)])
        })
        .map_err(|error| match error {
            // Unknown whether the lease was written: no credential was touched.
            Error::NoAnswer { target, detail } => Error::Failed(format!(
                "{target}: taking the rotation lease got no answer ({detail}); nothing was \
                 changed. If the record's {FIELD} field now names this run, clear it"
            )),
            other => other,
        })?;
    let (text, interrupted) = decided.into_inner().unwrap_or_default();
    let fenced = run_id.clone();
    vault.set_fence(Some(Fence {
        uid: uid.to_owned(),
        check: Box::new(move |record| check_held(record, &fenced)),
    }));
    *lease = Some(HeldLease {
        uid: uid.to_owned(),
        run_id,
        text,
        progress: interrupted.as_ref().map(|i| i.progress.clone()),
    });
    tracing::info!("holding the rotation lease on {}", record.location());
    if let Some(interrupted) = &interrupted {
        tracing::info!(
            "run {} stored {} in {} and did not finish: still to retire: {}",
            interrupted.run_id,
            interrupted.progress.stored,
            record.location(),
            if interrupted.progress.retiring.is_empty() {
                "none".to_owned()
            } else {
                interrupted.progress.retiring.join(", ")
            }
        );
    }
    Ok((record, interrupted))
}

/// The rotation an earlier run left unfinished on `record`, as a run taking
/// the lease at `now` would find it; for a dry run, which takes no lease.
pub fn left_unfinished(record: &VaultRecord, now: SystemTime) -> Option<Interrupted> {
    match read(record).ok()? {
        State::Released { run_id, progress } => Some(Interrupted { run_id, progress }),
        // Expired, or no lease at all (see may_take).
        State::Held(held)
            if held.until + CLOCK_TOLERANCE <= now
                || held.until > now + MAX_TTL + CLOCK_TOLERANCE =>
        {
            held.progress.map(|progress| Interrupted {
                run_id: held.run_id,
                progress,
            })
        }
        State::Held(_) => None,
        State::Free | State::Garbled(_) => None,
    }
}

/// Clears the lease this run holds. A rotation recorded in it that did not
/// complete (this run's, or one it took over) stays in the field, as
/// `released by <run id> at <time>; stored …`, for the next run.
pub fn release(vault: &mut Vault, lease: &mut Option<HeldLease>) -> Result<()> {
    let Some(held) = lease.clone() else {
        return Ok(());
    };
    let text = match &held.progress {
        None => String::new(),
        Some(progress) => {
            tracing::warn!(
                "the rotation that stored {} did not complete: the record keeps what is left \
                 ({}) for the next run",
                progress.stored,
                progress.text()
            );
            format!(
                "{RELEASED}{} at {}; {}",
                held.run_id,
                iso8601(vault.now()),
                progress.text()
            )
        }
    };
    vault.update(&held.uid, &[Change::text(FIELD, &text)])?;
    drop_lease(vault, lease);
    Ok(())
}

fn drop_lease(vault: &mut Vault, lease: &mut Option<HeldLease>) {
    vault.set_fence(None);
    *lease = None;
}

/// The lease field's value that records `progress` with this run's lease on
/// `uid`, to be saved together with the credential (one save: the record
/// never holds the one without the other). `None` when this run holds no
/// lease on `uid`.
pub fn progress_change(
    lease: &Option<HeldLease>,
    uid: &str,
    progress: &Progress,
) -> Option<Change> {
    let held = lease.as_ref().filter(|l| l.uid == uid)?;
    Some(Change::text(
        FIELD,
        with_progress(&held.text, Some(progress)),
    ))
}

/// Notes what the record now says of this run's rotation (after the save
/// carrying [`progress_change`]; `None` once the rotation completed).
pub fn set_progress(lease: &mut Option<HeldLease>, uid: &str, progress: Option<Progress>) {
    if let Some(held) = lease.as_mut().filter(|l| l.uid == uid) {
        held.progress = progress;
    }
}

/// Saves `changes` to record `uid` and, if this run holds the lease on it,
/// clears the lease in the same save: a finished rotation's last write.
pub fn finish(
    vault: &mut Vault,
    lease: &mut Option<HeldLease>,
    uid: &str,
    changes: &[Change],
) -> Result<()> {
    let mut all = changes.to_vec();
    let holds = lease.as_ref().is_some_and(|held| held.uid == uid);
    if holds {
        all.push(Change::text(FIELD, ""));
    }
    vault.update(uid, &all)?;
    if holds {
        drop_lease(vault, lease);
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
                State::Free | State::Released { .. } => "the field was cleared".to_owned(),
                State::Held(held) => format!("now: {}", held.text),
                State::Garbled(_) => "the field was overwritten".to_owned(),
            }
        ))),
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

    /// 1970-01-12T13:46:40Z, and a lease of `run` ending `secs` after it
    /// (negative: before).
    const NOW: u64 = 1_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn held(run: &str, secs: i64) -> State {
        State::Held(Held {
            run_id: run.into(),
            until: SystemTime::UNIX_EPOCH + Duration::from_secs(NOW.saturating_add_signed(secs)),
            progress: None,
            text: format!("{run} until ..."),
        })
    }

    #[test]
    fn who_may_take_the_lease() {
        let now = now();
        assert!(may_take(&State::Free, "me", "r", now).is_ok());
        assert!(may_take(&held("me", 1000), "me", "r", now).is_ok());
        assert!(may_take(&held("other", -301), "me", "r", now).is_ok());
        let busy = may_take(&held("other", 1000), "me", "record 'R'", now).unwrap_err();
        assert_eq!(busy.exit().code(), 1);
        assert!(
            busy.to_string()
                .contains("another rotation of record 'R' is in progress")
        );
        let garbled = may_take(&State::Garbled("x".into()), "me", "r", now).unwrap_err();
        assert_eq!(garbled.exit().code(), 2);
    }

    #[test]
    fn a_lease_just_past_its_time_is_still_live_for_a_clock_a_few_minutes_ahead() {
        // Written by a gateway whose clock is 90 s behind this one's: by its
        // own clock it still has a minute to run.
        let busy = may_take(&held("other", -90), "me", "r", now()).unwrap_err();
        assert_eq!(busy.exit().code(), 1);
        assert!(busy.to_string().contains("300 s after its time"), "{busy}");
        assert!(may_take(&held("other", -300), "me", "r", now()).is_ok());
    }

    #[test]
    fn a_lease_ending_further_ahead_than_any_run_can_last_is_taken_over() {
        let longest = i64::try_from((MAX_TTL + CLOCK_TOLERANCE).as_secs()).unwrap();
        assert!(may_take(&held("other", longest), "me", "r", now()).is_err());
        // Edited by hand to a far-future time, or written by a clock a day
        // ahead: it would block every rotation of the record for good.
        assert!(may_take(&held("other", longest + 1), "me", "r", now()).is_ok());
        assert!(may_take(&held("other", 86_400 * 365 * 70), "me", "r", now()).is_ok());
    }

    #[test]
    fn a_lease_with_a_record_of_progress_reads_back() {
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_305_600);
        let progress = Progress {
            stored: "NEW".into(),
            retiring: vec!["A".into(), "B".into()],
            retirement: Retirement::Revoke,
        };
        let text = with_progress(&value("00112233aabbccdd", until), Some(&progress));
        assert!(text.ends_with("; stored NEW; to retire: A, B"), "{text}");
        let held = parse(&text).unwrap();
        assert_eq!(held.run_id, "00112233aabbccdd");
        assert_eq!(held.until, until);
        assert_eq!(held.progress, Some(progress));
        let none =
            parse("ab until 2026-11-22T00:00:00Z (host h, pid 1); stored N; to retire: none")
                .unwrap();
        assert_eq!(none.progress.unwrap().retiring, Vec::<String>::new());
    }

    #[test]
    fn a_record_of_progress_keeps_whether_the_old_ones_are_deactivated() {
        let progress = Progress {
            stored: "NEW".into(),
            retiring: vec!["A".into()],
            retirement: Retirement::Deactivate,
        };
        let text = with_progress(
            "ab until 2026-11-22T00:00:00Z (host h, pid 1)",
            Some(&progress),
        );
        assert!(text.ends_with("; stored NEW; to deactivate: A"), "{text}");
        assert_eq!(parse(&text).unwrap().progress, Some(progress));
        // Written before the mode was recorded: revoked.
        let old =
            parse("ab until 2026-11-22T00:00:00Z (host h, pid 1); stored N; to retire: A").unwrap();
        assert_eq!(old.progress.unwrap().retirement, Retirement::Revoke);
    }

    #[test]
    fn a_released_lease_keeps_the_unfinished_rotation_and_is_free() {
        let state = match parse_released("ab at 2026-11-22T00:00:00Z; stored N; to retire: O") {
            Some(state) => state,
            None => panic!("not read"),
        };
        assert_eq!(
            state,
            State::Released {
                run_id: "ab".into(),
                progress: Progress {
                    stored: "N".into(),
                    retiring: vec!["O".into()],
                    retirement: Retirement::Revoke,
                }
            }
        );
        assert!(may_take(&state, "me", "r", now()).is_ok());
    }

    #[test]
    fn an_unfinished_rotation_completes_only_while_the_record_holds_what_it_stored() {
        let interrupted = Interrupted {
            run_id: "ab".into(),
            progress: Progress {
                stored: "N".into(),
                retiring: vec!["O".into()],
                retirement: Retirement::Revoke,
            },
        };
        assert_eq!(interrupted.retirable(Some("N")), ["O".to_owned()]);
        assert!(interrupted.retirable(Some("O")).is_empty());
        assert!(interrupted.retirable(None).is_empty());
    }

    #[test]
    fn a_record_of_progress_that_does_not_read_makes_the_lease_garbled() {
        assert_eq!(
            parse("ab until 2026-11-22T00:00:00Z (host h, pid 1); stored; to retire: O"),
            None
        );
        assert_eq!(
            parse("ab until 2026-11-22T00:00:00Z (host h, pid 1); stored N; to retire: O,,P"),
            None
        );
        assert_eq!(
            parse("ab until 2026-11-22T00:00:00Z (host h, pid 1); to retire everything"),
            None
        );
        assert_eq!(
            parse("ab until 2026-11-22T00:00:00Z (host h, pid 1); stored N; to retire: \u{1b}[2J"),
            None
        );
    }

    #[test]
    fn text_that_is_not_a_lease_is_garbled() {
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("a b until 2026-11-22T00:00:00Z"), None);
        assert_eq!(parse("ab until tomorrow"), None);
    }
}
