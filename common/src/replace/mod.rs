//! The credential-replacement sequence every binary that creates credentials
//! shares (AWS access keys, Entra secrets, SSH keys), written once so that
//! "never lose a credential" does not depend on each binary getting it right.
//!
//! The order is the safety argument:
//!
//! 1. **make room** (only when the service's limit demands it, and only with a
//!    credential the plan shows to be unused);
//! 2. **create** the new credential;
//! 3. **store** it in the vault at once (its secret exists nowhere else); on
//!    a definite store failure it is revoked again; on an unknown outcome
//!    both are kept and the run says so (exit 4);
//! 4. **verify** it works, K times in a row;
//! 5. a binary-specific step before retiring (Azure's self-rotation swaps to
//!    the new secret);
//! 6. **re-read** the record: it must still hold the new credential (a second
//!    run or a person may have changed it);
//! 7. **retire** the old credentials, the record's last; only ones listed
//!    before this run created anything, so another run's credential is never
//!    taken for an old one;
//! 8. **confirm** by listing again (listings lag: read until settled);
//! 9. **clean up** what this run provably made besides the new credential
//!    (a create the service applied twice, e.g. a request sent again after
//!    an error that followed the change): nobody knows its secret.
//!
//! Every step has three outcomes (success, a definite failure that had no
//! effect, an unknown outcome) and each combination maps to one exit code and
//! one message naming the ids the operator must act on. The table is
//! unit-tested below against a scripted service and store.
//!
//! The same ids go to the run's summary ([`crate::summary`]) as each step
//! settles them: created, stored, retired, and, when the run ends having
//! changed something, the old credentials it meant to retire that are still
//! valid (`left`), so the JSON line names them without a binary's help.

use std::fmt;
use std::time::Duration;

use crate::change;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::lease::Progress;
use crate::verify::{NotVerified, Verify};

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The request had no effect (refused, or never sent).
    Definite(String),
    /// The request may or may not have taken effect.
    Unknown(String),
    /// The service refused the request because of the configuration (a
    /// policy the settings break): it had no effect, and the fix is in the
    /// record.
    Config(String),
    /// Only from [`Cloud::before_retire`]: the new credential, stored and
    /// proven, is no longer the service's (another run or a person replaced
    /// it since): the record may hold one that does not work. Nothing old is
    /// retired, and the run ends needing attention (exit 4), never saying
    /// the new one works.
    Superseded(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Definite(text)
            | Self::Unknown(text)
            | Self::Config(text)
            | Self::Superseded(text) => f.write_str(text),
        }
    }
}

impl Failure {
    /// An [`Error`] from a lower layer: `NoAnswer` is unknown; any other is
    /// definite (the layers below report an unknown outcome as `NoAnswer`).
    pub fn from_error(error: Error) -> Self {
        match error {
            Error::NoAnswer { .. } => Self::Unknown(error.to_string()),
            other => Self::Definite(other.to_string()),
        }
    }
}

/// The outcome of one step.
pub type Step<T> = std::result::Result<T, Failure>;

/// What a run finds after a create whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Credentials this run can prove it made (a tag unique to the run):
    /// nobody knows their secret, so they are revoked.
    Ours(Vec<String>),
    /// Credentials that appeared during the run that cannot be told apart
    /// from someone else's: left alone and named.
    Unproven(Vec<String>),
    /// Nothing appeared (yet: listings lag). `hint` says how to recognise
    /// one that appears later.
    Nothing { hint: String },
}

pub use crate::lease::Retirement;

/// The service side of a replacement.
pub trait Credentials {
    /// A new credential: its id and its secret.
    type New;

    /// What one credential is called: "access key", "client secret".
    fn noun(&self) -> &'static str;
    /// Whose credentials they are, for messages: "IAM user 'alice'".
    fn holder(&self) -> String;
    /// The id of a new credential.
    fn id(new: &Self::New) -> &str;

    /// Creates the new credential.
    fn create(&mut self) -> Step<Self::New>;
    /// After a create with an unknown outcome: looks (with a few paced
    /// listings) for a credential that was not in `before`.
    fn find_created(&mut self, before: &[String]) -> Step<Found>;
    /// Revokes a credential; one already gone counts as revoked.
    fn revoke(&mut self, id: &str) -> Step<()>;
    /// How step 7 retires the old credentials. Whatever it says, a
    /// credential made to make room, or made by this run and not kept, is
    /// revoked.
    fn retirement(&self) -> Retirement {
        Retirement::Revoke
    }
    /// Step 7: retires an old credential as [`Credentials::retirement`]
    /// says; by default [`Credentials::revoke`]. After a deactivation
    /// [`Credentials::list`] must list only the credentials still valid.
    fn retire(&mut self, id: &str) -> Step<()> {
        self.revoke(id)
    }
    /// One check that the new credential works.
    fn probe(&mut self, new: &Self::New) -> std::result::Result<(), String>;
    /// The ids of the credentials that exist now.
    fn list(&mut self) -> Step<Vec<String>>;
    /// Whether the new credential is verified before it is stored. A cloud
    /// credential's secret exists nowhere but in the create's answer, so it is
    /// stored first (the default). A key made on this machine (SSH) is in
    /// memory until stored: verifying it first means a key that does not
    /// work never replaces the stored one; it is revoked and nothing changed.
    fn verify_before_store(&self) -> bool {
        false
    }
    /// What must happen after verifying and before retiring (Azure's
    /// self-rotation). A failure keeps every old credential: exit 3 (the
    /// new one works), or exit 4 for [`Failure::Superseded`].
    fn before_retire(&mut self, _new: &Self::New) -> Step<()> {
        Ok(())
    }
    /// After the listing confirmed the retired credentials are gone: which
    /// of them does the service still accept? (An SSH key may also sit in a
    /// second authorized_keys file.) Each one named here ends the run with
    /// exit 3. By default the listing is trusted.
    fn still_accepted(&mut self, _retired: &[String]) -> Step<Vec<String>> {
        Ok(Vec::new())
    }
    /// How long a listing may lag behind a deletion: the confirmation reads
    /// again until settled, this many times, this far apart.
    fn settle(&self) -> (u32, Duration) {
        (4, Duration::from_secs(1))
    }
}

/// Where the new credential is kept: the vault record.
pub trait Store<N> {
    /// The record, for messages: "record 'alice' (uid X)".
    fn location(&self) -> String;
    /// Saves the new credential in the record. `Definite` only when the
    /// record does not hold it and never will.
    fn save(&mut self, new: &N) -> Step<()>;
    /// The id of the credential the record holds, read again now.
    fn stored_id(&mut self) -> Step<Option<String>>;
    /// [`Store::save`], recording in the same save what the run stored and
    /// still means to retire, so that a run killed before it finishes is
    /// completed by the next ([`crate::lease`]). By default only saves.
    fn save_recording(&mut self, new: &N, _progress: &Progress) -> Step<()> {
        self.save(new)
    }
    /// The rotation completed: nothing recorded is left to do.
    fn completed(&mut self) {}
}

/// What the binary decided before any change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every credential listed at planning time.
    pub before: Vec<String>,
    /// A credential to revoke first, to make room, with the reason it is
    /// known to be unused.
    pub make_room: Option<(String, String)>,
    /// The credentials to revoke after the new one is stored and verified,
    /// in order (the record's last).
    pub retire: Vec<String>,
}

/// A finished replacement.
#[derive(Debug)]
pub struct Replaced<N> {
    pub new: N,
    /// Revoked by this run: the one that made room first, then the retired.
    pub removed: Vec<String>,
    /// Of [`Replaced::removed`], the ones deactivated rather than revoked
    /// ([`Retirement::Deactivate`]).
    pub deactivated: Vec<String>,
    /// Things the operator should know that did not change the outcome.
    pub notes: Vec<String>,
}

impl<N> Replaced<N> {
    /// The end of a credential binary's summary line: what it did (`done`,
    /// naming the new credential and where it is stored), then the ids this
    /// run revoked.
    pub fn summary(&self, done: impl fmt::Display) -> String {
        format!("{done}; removed {}", list_of(&self.removed))
    }
}

/// How the new credential is verified.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    pub verify: &'a Verify,
    pub deadline: &'a Deadline,
    /// Time kept back from verification for the steps after it.
    pub reserve: Duration,
}

fn list_of(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

/// Runs the sequence. Every error it returns carries the exit code that
/// matches the state it leaves.
pub fn replace<C: Credentials, S: Store<C::New>>(
    cloud: &mut C,
    store: &mut S,
    plan: &Plan,
    checks: Checks<'_>,
) -> Result<Replaced<C::New>> {
    let mut run = Sequence::new(cloud, store, plan, checks);
    let result = run.steps();
    run.note_left();
    result.map(|new| Replaced {
        new,
        deactivated: run.deactivated(),
        removed: run.removed,
        notes: run.notes,
    })
}

/// Completes a replacement an interrupted run began and did not finish:
/// `stored` is the credential it created and stored (the record holds it),
/// `plan.retire` what it still meant to retire. Steps 4 to 8 only (verify,
/// the binary's step before retiring, re-read, retire, confirm), with the
/// same outcomes as a replacement's; nothing is created or stored, and no
/// credential is revoked to make room. `Replaced::new` is `stored`'s id.
pub fn complete<C: Credentials, S: Store<C::New>>(
    cloud: &mut C,
    store: &mut S,
    plan: &Plan,
    checks: Checks<'_>,
    stored: &C::New,
) -> Result<Replaced<String>> {
    let mut run = Sequence::new(cloud, store, plan, checks);
    // What `left` and the messages treat as the run's own credential.
    run.created = Some(C::id(stored).to_owned());
    let result = run.completion(stored);
    run.note_left();
    result.map(|()| Replaced {
        new: C::id(stored).to_owned(),
        deactivated: run.deactivated(),
        removed: run.removed,
        notes: run.notes,
    })
}

/// One replacement in progress: what every step reads (the names for
/// messages, the plan) and what the steps so far have done (revoked ids,
/// notes, the make-room revocation that later messages must mention). Each
/// step is a method that either moves the sequence on or ends it with the
/// error whose exit code matches the state it leaves.
struct Sequence<'r, C, S> {
    cloud: &'r mut C,
    store: &'r mut S,
    plan: &'r Plan,
    checks: Checks<'r>,
    noun: &'static str,
    holder: String,
    location: String,
    /// The plan's retirements that were listed before the run.
    retire: Vec<String>,
    /// Revoked by this run, in order.
    removed: Vec<String>,
    notes: Vec<String>,
    /// The credential revoked to make room, and why it was unused.
    made_room: Option<(String, String)>,
    /// The new credential's id, once created.
    created: Option<String>,
    /// The retirements whose answer was lost and that a listing settled.
    settled: Vec<String>,
}

impl<'r, C: Credentials, S: Store<C::New>> Sequence<'r, C, S> {
    fn new(cloud: &'r mut C, store: &'r mut S, plan: &'r Plan, checks: Checks<'r>) -> Self {
        let retire = plan
            .retire
            .iter()
            .filter(|id| plan.before.contains(id))
            .cloned()
            .collect();
        Self {
            noun: cloud.noun(),
            holder: cloud.holder(),
            location: store.location(),
            cloud,
            store,
            plan,
            checks,
            retire,
            removed: Vec::new(),
            notes: Vec::new(),
            made_room: None,
            created: None,
            settled: Vec::new(),
        }
    }

    /// Every step, in order.
    fn steps(&mut self) -> Result<C::New> {
        self.make_room()?;
        let mark = change::mark();
        let new = self.create(mark)?;
        let early = self.cloud.verify_before_store();
        if early {
            self.verify_before_storing(&new, mark)?;
        }
        self.store(&new, mark)?;
        if !early {
            self.verify_stored(&new)?;
        }
        self.before_retire(&new)?;
        self.reread(&new)?;
        self.retire(&new)?;
        self.confirm(&new)?;
        self.store.completed();
        Ok(new)
    }

    /// Steps 4 to 8 for a credential an interrupted run stored.
    fn completion(&mut self, stored: &C::New) -> Result<()> {
        self.verify_stored(stored)?;
        self.before_retire(stored)?;
        self.reread(stored)?;
        self.retire(stored)?;
        self.confirm(stored)?;
        self.store.completed();
        Ok(())
    }

    /// Of the credentials retired, those deactivated rather than revoked.
    fn deactivated(&self) -> Vec<String> {
        match self.cloud.retirement() {
            Retirement::Revoke => Vec::new(),
            Retirement::Deactivate => self
                .retire
                .iter()
                .filter(|id| self.removed.contains(id))
                .cloned()
                .collect(),
        }
    }

    /// A credential revoked by this run.
    fn revoked(&mut self, id: &str) {
        crate::summary::retired(id);
        self.removed.push(id.to_owned());
    }

    /// After a run that changed something: the old credentials it meant to
    /// retire that are still valid go to the summary's `left`.
    fn note_left(&self) {
        if self.created.is_none() && self.removed.is_empty() {
            return;
        }
        for old in &self.retire {
            if !self.removed.contains(old) && Some(old) != self.created.as_ref() {
                crate::summary::left(old);
            }
        }
    }

    /// What later messages add when a make-room revocation happened.
    fn room_note(&self) -> String {
        self.made_room
            .as_ref()
            .map(|(id, why)| {
                format!(
                    " Before that, {} {id} had been revoked to make room ({why}).",
                    self.noun
                )
            })
            .unwrap_or_default()
    }

    /// An error that would say "nothing changed", unless a make-room
    /// revocation did change something.
    fn unchanged(&self, text: String) -> Error {
        match &self.made_room {
            None => Error::Failed(format!("{text}; nothing was changed")),
            Some(_) => Error::NeedsAttention(format!(
                "{text}.{} The {} in {} is unchanged and still works; run the rotation again",
                self.room_note(),
                self.noun,
                self.location
            )),
        }
    }

    /// Step 1: make room, with a credential the plan listed.
    fn make_room(&mut self) -> Result<()> {
        let Some((id, why)) = &self.plan.make_room else {
            return Ok(());
        };
        let (noun, holder, location) = (self.noun, &self.holder, &self.location);
        if !self.plan.before.contains(id) {
            return Err(Error::Failed(format!(
                "internal error: the plan would revoke {noun} {id}, which was not listed (a bug, \
                 please report it); nothing was changed"
            )));
        }
        tracing::info!("revoking {noun} {id} to make room: {why}");
        match self.cloud.revoke(id) {
            Ok(()) => {
                let (id, why) = (id.clone(), why.clone());
                self.revoked(&id);
                self.made_room = Some((id, why));
                Ok(())
            }
            Err(Failure::Definite(e) | Failure::Config(e) | Failure::Superseded(e)) => {
                Err(Error::Failed(format!(
                    "revoking {noun} {id} of {holder} to make room failed: {e}; nothing was \
                     changed"
                )))
            }
            Err(Failure::Unknown(e)) => Err(Error::NeedsAttention(format!(
                "revoking {noun} {id} of {holder} to make room got no answer that says whether it \
                 was done ({e}): it may or may not be revoked ({why}). Nothing else was changed; \
                 the {noun} in {location} still works. Run the rotation again"
            ))),
        }
    }

    /// Step 2: create the new credential; a lost answer is looked for.
    fn create(&mut self, mark: change::Mark) -> Result<C::New> {
        let (noun, holder) = (self.noun, &self.holder);
        match self.cloud.create() {
            Ok(new) => {
                tracing::info!("created {noun} {}", C::id(&new));
                crate::summary::created(C::id(&new));
                self.created = Some(C::id(&new).to_owned());
                Ok(new)
            }
            Err(Failure::Config(e)) if self.made_room.is_none() => Err(Error::Config(format!(
                "creating a new {noun} for {holder} was refused: {e}; nothing was changed"
            ))),
            Err(Failure::Definite(e) | Failure::Config(e) | Failure::Superseded(e)) => {
                Err(self.unchanged(format!("creating a new {noun} for {holder} failed: {e}")))
            }
            Err(Failure::Unknown(e)) => Err(self.lost_create(&e, mark)),
        }
    }

    /// Checks the new credential K times in a row.
    fn verify(&mut self, new: &C::New) -> std::result::Result<u32, NotVerified> {
        let Self { cloud, checks, .. } = self;
        checks
            .verify
            .until_it_works(checks.deadline, checks.reserve, || cloud.probe(new))
    }

    /// Step 2½ (a key made here): verified before it is stored; one that
    /// does not work is revoked and nothing changed.
    fn verify_before_storing(&mut self, new: &C::New, mark: change::Mark) -> Result<()> {
        let Err(failed) = self.verify(new) else {
            return Ok(());
        };
        let (noun, holder, location, id) = (self.noun, &self.holder, &self.location, C::id(new));
        let why = format!(
            "{holder} did not accept the new {noun} {id} {} times in a row within {} s ({} \
             checks; last: {})",
            self.checks.verify.successes,
            failed.budget.as_secs(),
            failed.checks,
            failed.last_error
        );
        Err(match self.cloud.revoke(id) {
            Ok(()) => {
                change::rollback_to(mark);
                crate::summary::retired(id);
                self.unchanged(format!("{why}; it was revoked again"))
            }
            Err(e2) => {
                crate::summary::left(id);
                Error::NeedsAttention(format!(
                    "{why}, and revoking it again failed ({e2}): revoke {noun} {id} of {holder} \
                     (no record holds it). The {noun} in {location} is unchanged.{}",
                    self.room_note()
                ))
            }
        })
    }

    /// Step 3: store at once, recording what is left to do; a definite
    /// failure revokes the new credential, an unknown one keeps both.
    fn store(&mut self, new: &C::New, mark: change::Mark) -> Result<()> {
        let (noun, holder, location, id) = (self.noun, &self.holder, &self.location, C::id(new));
        let how = self.cloud.retirement();
        match store_recording(self.store, new, id, &self.retire, how) {
            Ok(()) => {
                tracing::info!("stored {noun} {id} in {location}");
                crate::summary::stored(id);
                Ok(())
            }
            Err(Failure::Definite(e) | Failure::Config(e) | Failure::Superseded(e)) => {
                Err(match self.cloud.revoke(id) {
                    Ok(()) => {
                        change::rollback_to(mark);
                        crate::summary::retired(id);
                        self.unchanged(format!(
                        "storing the new {noun} {id} in {location} failed: {e}. The new {noun} was \
                         revoked again"
                    ))
                    }
                    Err(e2) => {
                        crate::summary::left(id);
                        Error::NeedsAttention(format!(
                            "storing the new {noun} {id} in {location} failed ({e}), and revoking it \
                         again failed too ({e2}): revoke {noun} {id} of {holder} (its secret is in \
                         no record). The {noun} in {location} is unchanged.{}",
                            self.room_note()
                        ))
                    }
                })
            }
            Err(Failure::Unknown(e)) => {
                crate::summary::left(id);
                Err(Error::NeedsAttention(format!(
                    "storing the new {noun} {id} in {location} has an unknown outcome ({e}). The \
                     new {noun} {id} and the old ({}) are all valid; none was revoked. Check the \
                     record: if it holds {id}, revoke {}; if it does not, revoke {id}.{}",
                    list_of(&self.retire),
                    list_of(&self.retire),
                    self.room_note()
                )))
            }
        }
    }

    /// Step 4: the stored credential must work; if not, every old one is
    /// kept (exit 3).
    fn verify_stored(&mut self, new: &C::New) -> Result<()> {
        let Err(failed) = self.verify(new) else {
            return Ok(());
        };
        let (noun, holder, location, id) = (self.noun, &self.holder, &self.location, C::id(new));
        Err(Error::OldNotRetired(format!(
            "the new {noun} {id} is stored in {location}, but {holder} did not accept it {} times \
             in a row within {} s ({} checks; last: {}). Every old {noun} was kept and is still \
             valid ({}); run the rotation again later: it continues from the stored {noun}",
            self.checks.verify.successes,
            failed.budget.as_secs(),
            failed.checks,
            failed.last_error,
            list_of(&self.retire),
        )))
    }

    /// Step 5: the binary's step before retiring.
    fn before_retire(&mut self, new: &C::New) -> Result<()> {
        self.cloud.before_retire(new).map_err(|e| {
            if let Failure::Superseded(e) = e {
                return Error::NeedsAttention(format!(
                    "the new {} {} is stored in {}, but {e}. No old {} was retired ({})",
                    self.noun,
                    C::id(new),
                    self.location,
                    self.noun,
                    list_of(&self.retire)
                ));
            }
            Error::OldNotRetired(format!(
                "the new {} {} is stored in {} and works, but {e}. The old {}s were kept and are \
                 still valid ({})",
                self.noun,
                C::id(new),
                self.location,
                self.noun,
                list_of(&self.retire)
            ))
        })
    }

    /// Step 6: the record must still hold the new credential.
    fn reread(&mut self, new: &C::New) -> Result<()> {
        let (noun, location, id) = (self.noun, &self.location, C::id(new));
        match self.store.stored_id() {
            Ok(Some(now)) if now == id => Ok(()),
            Ok(other) => {
                // Valid, and no longer what the record holds.
                crate::summary::left(id);
                Err(Error::NeedsAttention(format!(
                    "the new {noun} {id} is stored and works, but {location} now holds {} instead: \
                 another rotation or a person changed the record. No old {noun} was revoked; the \
                 valid ones are {id} and {}. Keep the one the record holds and revoke the others",
                    other.map_or_else(|| format!("no {noun}"), |o| format!("{noun} {o}")),
                    list_of(&self.retire)
                )))
            }
            Err(e) => Err(Error::OldNotRetired(format!(
                "the new {noun} {id} is stored in {location} and works, but reading the record \
                 again before revoking the old {noun}s failed ({e}); they were kept and are still \
                 valid ({})",
                list_of(&self.retire)
            ))),
        }
    }

    /// Step 8: confirm by listing until settled; then step 9.
    fn confirm(&mut self, new: &C::New) -> Result<()> {
        let (noun, holder, location, id) = (self.noun, &self.holder, &self.location, C::id(new));
        let (attempts, pause) = self.cloud.settle();
        let removed = &self.removed;
        let listed = settle_listing(self.cloud, attempts, pause, |ids| {
            !ids.iter().any(|i| removed.contains(i)) && ids.iter().any(|i| i == id)
        });
        let ids = match listed {
            Ok(ids) => ids,
            Err(e) => {
                let how = match self.cloud.retirement() {
                    Retirement::Revoke => "revocation",
                    Retirement::Deactivate => "deactivation",
                };
                let acknowledged = if self.settled.is_empty() {
                    format!("every {how} had been acknowledged")
                } else {
                    format!(
                        "the {how} of {} got no answer and was settled by an earlier listing, \
                         which no longer listed it as valid; every other {how} had been \
                         acknowledged",
                        self.settled.join(", ")
                    )
                };
                self.note(format!(
                    "the final listing of {holder} failed ({e}), so the result was not \
                     confirmed; {acknowledged}"
                ));
                return Ok(());
            }
        };
        let left: Vec<String> = removed
            .iter()
            .filter(|r| ids.contains(r))
            .cloned()
            .collect();
        if !left.is_empty() {
            for still in &left {
                crate::summary::still_valid(still);
            }
            return Err(Error::OldNotRetired(format!(
                "{noun}(s) {} of {holder} are still listed as valid after they were {}; the new \
                 {noun} {id} is stored in {location} and works. Check them and revoke them",
                left.join(", "),
                self.cloud.retirement().done()
            )));
        }
        if !ids.iter().any(|i| i == id) {
            return Err(Error::NeedsAttention(format!(
                "after the rotation {holder} does not list the new {noun} {id}, which {location} \
                 holds: check the {noun}s of {holder} and the record"
            )));
        }
        match self.cloud.still_accepted(&self.removed) {
            Ok(accepted) if !accepted.is_empty() => {
                for still in &accepted {
                    crate::summary::still_valid(still);
                }
                return Err(Error::OldNotRetired(format!(
                    "{noun}(s) {} of {holder} were revoked but are still accepted; the new {noun} \
                     {id} is stored in {location} and works. Find where else they are trusted \
                     and remove them",
                    accepted.join(", ")
                )));
            }
            Ok(_) => {}
            Err(e) => self.note(format!(
                "checking that the revoked {noun}s are refused failed ({e}); they were removed \
                 from the listing"
            )),
        }
        self.clean_up(id, &ids)
    }

    /// Something the operator should know that does not change the outcome:
    /// warned once here, and returned in [`Replaced::notes`].
    fn note(&mut self, note: String) {
        tracing::warn!("{note}");
        crate::summary::advise(&note);
        self.notes.push(note);
    }
}

/// Step 3: saves the new credential `id` with the record of what this run
/// still means to retire (every credential of the plan but the new one),
/// and how.
fn store_recording<N, S: Store<N>>(
    store: &mut S,
    new: &N,
    id: &str,
    retire: &[String],
    retirement: Retirement,
) -> Step<()> {
    let progress = Progress {
        stored: id.to_owned(),
        retiring: retire.iter().filter(|r| *r != id).cloned().collect(),
        retirement,
    };
    store.save_recording(new, &progress)
}

/// Lists until `settled` holds for the listing, at most `attempts` times.
fn settle_listing<C: Credentials>(
    cloud: &mut C,
    attempts: u32,
    pause: Duration,
    settled: impl Fn(&[String]) -> bool,
) -> Step<Vec<String>> {
    let mut ids = cloud.list()?;
    for _ in 1..attempts {
        if settled(&ids) {
            break;
        }
        std::thread::sleep(pause);
        ids = cloud.list()?;
    }
    Ok(ids)
}

mod found;
mod retire;
#[cfg(test)]
mod tests;
