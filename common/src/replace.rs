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

use std::fmt;
use std::time::Duration;

use crate::change;
use crate::deadline::Deadline;
use crate::driver::Run;
use crate::error::{Error, Location, Result};
use crate::lease::{self, Progress};
use crate::vault::{Change, VaultRecord};
use crate::verify::Verify;

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
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Definite(text) | Self::Unknown(text) | Self::Config(text) => f.write_str(text),
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
    /// self-rotation). A failure keeps every old credential.
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

/// A vault record as the [`Store`]: `fields` says what a new credential
/// writes, `stored_id` which credential a record holds. The vault is
/// borrowed from the run for each call, so the binary's own steps can use it
/// in between.
pub struct VaultStore<'v, N> {
    run: &'v Run,
    uid: String,
    location: Location,
    fields: fn(&N) -> Vec<Change>,
    stored_id: fn(&VaultRecord) -> Result<Option<String>>,
}

impl<N> fmt::Debug for VaultStore<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultStore")
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl<'v, N> VaultStore<'v, N> {
    pub fn new(
        run: &'v Run,
        uid: &str,
        location: Location,
        fields: fn(&N) -> Vec<Change>,
        stored_id: fn(&VaultRecord) -> Result<Option<String>>,
    ) -> Self {
        Self {
            run,
            uid: uid.to_owned(),
            location,
            fields,
            stored_id,
        }
    }
}

impl<N> Store<N> for VaultStore<'_, N> {
    fn location(&self) -> String {
        self.location.to_string()
    }

    fn save(&mut self, new: &N) -> Step<()> {
        self.run
            .vault()
            .and_then(|mut vault| vault.update(&self.uid, &(self.fields)(new)))
            .map_err(Failure::from_error)
    }

    fn save_recording(&mut self, new: &N, progress: &Progress) -> Step<()> {
        let mut vault = self.run.vault().map_err(Failure::from_error)?;
        let mut changes = (self.fields)(new);
        let note = lease::progress_change(&self.run.lease(), &self.uid, progress);
        changes.extend(note.iter().cloned());
        let result = vault
            .update(&self.uid, &changes)
            .map_err(Failure::from_error);
        // Saved, or perhaps saved: the record may now say so, and the next
        // run must not lose it.
        if note.is_some() && matches!(result, Ok(()) | Err(Failure::Unknown(_))) {
            lease::set_progress(&mut self.run.lease(), &self.uid, Some(progress.clone()));
        }
        result
    }

    fn completed(&mut self) {
        lease::set_progress(&mut self.run.lease(), &self.uid, None);
    }

    fn stored_id(&mut self) -> Step<Option<String>> {
        let record = self
            .run
            .vault()
            .and_then(|mut vault| vault.fetch(&self.uid))
            .map_err(Failure::from_error)?;
        (self.stored_id)(&record).map_err(Failure::from_error)
    }
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
    /// Things the operator should know that did not change the outcome.
    pub notes: Vec<String>,
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
    let noun = cloud.noun();
    let holder = cloud.holder();
    let location = store.location();
    let retire: Vec<String> = plan
        .retire
        .iter()
        .filter(|id| plan.before.contains(id))
        .cloned()
        .collect();
    let mut removed = Vec::new();
    let mut notes = Vec::new();

    // 1. Make room.
    let made_room = match &plan.make_room {
        None => None,
        Some((id, why)) if plan.before.contains(id) => {
            tracing::info!("revoking {noun} {id} to make room: {why}");
            match cloud.revoke(id) {
                Ok(()) => {
                    removed.push(id.clone());
                    Some((id.clone(), why.clone()))
                }
                Err(Failure::Definite(e) | Failure::Config(e)) => {
                    return Err(Error::Failed(format!(
                        "revoking {noun} {id} of {holder} to make room failed: {e}; nothing was \
                         changed"
                    )));
                }
                Err(Failure::Unknown(e)) => {
                    return Err(Error::NeedsAttention(format!(
                        "revoking {noun} {id} of {holder} to make room got no answer ({e}): it may \
                         or may not be revoked ({why}). Nothing else was changed; the {noun} in \
                         {location} still works. Run the rotation again"
                    )));
                }
            }
        }
        Some((id, _)) => {
            return Err(Error::Failed(format!(
                "internal error: the plan would revoke {noun} {id}, which was not listed (a bug, \
                 please report it); nothing was changed"
            )));
        }
    };
    let room_note = made_room
        .as_ref()
        .map(|(id, why)| {
            format!(" Before that, {noun} {id} had been revoked to make room ({why}).")
        })
        .unwrap_or_default();
    // An error that would say "nothing changed" while a make-room revocation
    // did change something.
    let unchanged_but_room = |text: String| -> Error {
        match &made_room {
            None => Error::Failed(format!("{text}; nothing was changed")),
            Some(_) => Error::NeedsAttention(format!(
                "{text}.{room_note} The {noun} in {location} is unchanged and still works; run the \
                 rotation again"
            )),
        }
    };

    // 2. Create.
    let mark = change::mark();
    let new = match cloud.create() {
        Ok(new) => new,
        Err(Failure::Config(e)) if made_room.is_none() => {
            return Err(Error::Config(format!(
                "creating a new {noun} for {holder} was refused: {e}; nothing was changed"
            )));
        }
        Err(Failure::Definite(e) | Failure::Config(e)) => {
            return Err(unchanged_but_room(format!(
                "creating a new {noun} for {holder} failed: {e}"
            )));
        }
        Err(Failure::Unknown(e)) => {
            return Err(lost_create(
                cloud,
                plan,
                &e,
                &location,
                mark,
                &room_note,
                &unchanged_but_room,
            ));
        }
    };
    let id = C::id(&new).to_owned();
    tracing::info!("created {noun} {id}");

    let verify = |cloud: &mut C| {
        checks
            .verify
            .until_it_works(checks.deadline, checks.reserve, || cloud.probe(&new))
    };
    let early = cloud.verify_before_store();
    if early && let Err(failed) = verify(cloud) {
        let why = format!(
            "{holder} did not accept the new {noun} {id} {} times in a row within {} s ({} \
             checks; last: {})",
            checks.verify.successes,
            failed.budget.as_secs(),
            failed.checks,
            failed.last_error
        );
        return Err(match cloud.revoke(&id) {
            Ok(()) => {
                change::rollback_to(mark);
                unchanged_but_room(format!("{why}; it was revoked again"))
            }
            Err(e2) => Error::NeedsAttention(format!(
                "{why}, and revoking it again failed ({e2}): revoke {noun} {id} of {holder} (no \
                 record holds it). The {noun} in {location} is unchanged.{room_note}"
            )),
        });
    }

    // 3. Store at once, recording what is left to do.
    match store_recording(store, &new, &id, &retire) {
        Ok(()) => tracing::info!("stored {noun} {id} in {location}"),
        Err(Failure::Definite(e) | Failure::Config(e)) => {
            return Err(match cloud.revoke(&id) {
                Ok(()) => {
                    change::rollback_to(mark);
                    unchanged_but_room(format!(
                        "storing the new {noun} {id} in {location} failed: {e}. The new {noun} was \
                         revoked again"
                    ))
                }
                Err(e2) => Error::NeedsAttention(format!(
                    "storing the new {noun} {id} in {location} failed ({e}), and revoking it again \
                     failed too ({e2}): revoke {noun} {id} of {holder} (its secret is in no \
                     record). The {noun} in {location} is unchanged.{room_note}"
                )),
            });
        }
        Err(Failure::Unknown(e)) => {
            return Err(Error::NeedsAttention(format!(
                "storing the new {noun} {id} in {location} has an unknown outcome ({e}). The new \
                 {noun} {id} and the old ({}) are all valid; none was revoked. Check the record: \
                 if it holds {id}, revoke {}; if it does not, revoke {id}.{room_note}",
                list_of(&retire),
                list_of(&retire),
            )));
        }
    }

    // 4. Verify (unless it was verified before storing).
    if !early && let Err(failed) = verify(cloud) {
        return Err(Error::OldNotRetired(format!(
            "the new {noun} {id} is stored in {location}, but {holder} did not accept it {} times \
             in a row within {} s ({} checks; last: {}). Every old {noun} was kept and is still \
             valid ({}); run the rotation again later: it continues from the stored {noun}",
            checks.verify.successes,
            failed.budget.as_secs(),
            failed.checks,
            failed.last_error,
            list_of(&retire),
        )));
    }

    // 5. The binary's step before retiring.
    if let Err(e) = cloud.before_retire(&new) {
        return Err(Error::OldNotRetired(format!(
            "the new {noun} {id} is stored in {location} and works, but {e}. The old {noun}s were \
             kept and are still valid ({})",
            list_of(&retire)
        )));
    }

    // 6. The record must still hold the new credential.
    match store.stored_id() {
        Ok(Some(now)) if now == id => {}
        Ok(other) => {
            return Err(Error::NeedsAttention(format!(
                "the new {noun} {id} is stored and works, but {location} now holds {} instead: \
                 another rotation or a person changed the record. No old {noun} was revoked; the \
                 valid ones are {id} and {}. Keep the one the record holds and revoke the others",
                other.map_or_else(|| format!("no {noun}"), |o| format!("{noun} {o}")),
                list_of(&retire)
            )));
        }
        Err(e) => {
            return Err(Error::OldNotRetired(format!(
                "the new {noun} {id} is stored in {location} and works, but reading the record \
                 again before revoking the old {noun}s failed ({e}); they were kept and are still \
                 valid ({})",
                list_of(&retire)
            )));
        }
    }

    // 7. Retire, the record's last.
    for (index, old) in retire.iter().enumerate() {
        if *old == id {
            continue;
        }
        tracing::info!("revoking old {noun} {old}");
        let failure = match cloud.revoke(old) {
            Ok(()) => {
                removed.push(old.clone());
                continue;
            }
            Err(Failure::Definite(e) | Failure::Config(e)) => {
                format!("revoking old {noun} {old} failed: {e}")
            }
            Err(Failure::Unknown(e)) => {
                format!("revoking old {noun} {old} got no answer ({e}), so it may still be valid")
            }
        };
        let rest = &retire[index + 1..];
        return Err(Error::OldNotRetired(format!(
            "{failure}. The new {noun} {id} is stored in {location} and works. Still valid: {old}{}. \
             Revoke {} once nothing uses {}, or run the rotation again",
            if rest.is_empty() {
                String::new()
            } else {
                format!(", {}", rest.join(", "))
            },
            if rest.is_empty() { "it" } else { "them" },
            if rest.is_empty() { "it" } else { "them" },
        )));
    }

    // 8. Confirm.
    let (attempts, pause) = cloud.settle();
    let confirmed = settle_listing(cloud, attempts, pause, |ids| {
        !ids.iter().any(|i| removed.contains(i)) && ids.contains(&id)
    });
    match confirmed {
        Err(e) => {
            let note = format!(
                "the final listing of {holder} failed ({e}), so the result was not confirmed; \
                 every revocation had been acknowledged"
            );
            tracing::warn!("{note}");
            notes.push(note);
        }
        Ok(ids) => {
            let left: Vec<String> = removed
                .iter()
                .filter(|r| ids.contains(r))
                .cloned()
                .collect();
            if !left.is_empty() {
                return Err(Error::OldNotRetired(format!(
                    "{noun}(s) {} of {holder} are still listed after they were revoked; the new \
                     {noun} {id} is stored in {location} and works. Check them and revoke them",
                    left.join(", ")
                )));
            }
            if !ids.contains(&id) {
                return Err(Error::NeedsAttention(format!(
                    "after the rotation {holder} does not list the new {noun} {id}, which \
                     {location} holds: check the {noun}s of {holder} and the record"
                )));
            }
            match cloud.still_accepted(&removed) {
                Ok(accepted) if !accepted.is_empty() => {
                    return Err(Error::OldNotRetired(format!(
                        "{noun}(s) {} of {holder} were revoked but are still accepted; the new \
                         {noun} {id} is stored in {location} and works. Find where else they are \
                         trusted and remove them",
                        accepted.join(", ")
                    )));
                }
                Ok(_) => {}
                Err(e) => {
                    let note = format!(
                        "checking that the revoked {noun}s are refused failed ({e}); they were \
                         removed from the listing"
                    );
                    tracing::warn!("{note}");
                    notes.push(note);
                }
            }
            let strangers: Vec<String> = ids
                .iter()
                .filter(|i| **i != id && !plan.before.contains(i))
                .cloned()
                .collect();
            if !strangers.is_empty() {
                // 9. Clean up: a newcomer this run can prove it made (its
                // tag) is a second copy of the create, whose secret nobody
                // knows.
                let ours: Vec<String> = match cloud.find_created(&plan.before) {
                    Ok(Found::Ours(found)) => found
                        .into_iter()
                        .filter(|f| strangers.contains(f))
                        .collect(),
                    _ => Vec::new(),
                };
                let mut failed = Vec::new();
                for orphan in &ours {
                    match cloud.revoke(orphan) {
                        Ok(()) => {
                            tracing::info!(
                                "revoked {noun} {orphan}: this run made it too (the create was \
                                 applied twice) and its secret is known to nobody"
                            );
                            removed.push(orphan.clone());
                        }
                        Err(e) => failed.push(format!("{orphan} ({e})")),
                    }
                }
                if !failed.is_empty() {
                    return Err(Error::OldNotRetired(format!(
                        "the new {noun} {id} is stored in {location} and works, but this run's \
                         create was applied twice and revoking the extra {noun}(s) failed: {}. \
                         Their secret is known to nobody: revoke them",
                        failed.join("; ")
                    )));
                }
                let others: Vec<&str> = strangers
                    .iter()
                    .filter(|s| !ours.contains(s))
                    .map(String::as_str)
                    .collect();
                if !others.is_empty() {
                    let note = format!(
                        "{noun}(s) {} of {holder} appeared during this run and were left alone: \
                         this run cannot show it made them",
                        others.join(", ")
                    );
                    tracing::warn!("{note}");
                    notes.push(note);
                }
            }
        }
    }
    store.completed();
    Ok(Replaced {
        new,
        removed,
        notes,
    })
}

/// Step 3: saves the new credential `id` with the record of what this run
/// still means to retire (every credential of the plan but the new one).
fn store_recording<N, S: Store<N>>(
    store: &mut S,
    new: &N,
    id: &str,
    retire: &[String],
) -> Step<()> {
    let progress = Progress {
        stored: id.to_owned(),
        retiring: retire.iter().filter(|r| *r != id).cloned().collect(),
    };
    store.save_recording(new, &progress)
}

/// A create whose answer was lost: find what it may have made.
fn lost_create<C: Credentials>(
    cloud: &mut C,
    plan: &Plan,
    cause: &str,
    location: &str,
    mark: change::Mark,
    room_note: &str,
    unchanged_but_room: &dyn Fn(String) -> Error,
) -> Error {
    let noun = cloud.noun();
    let holder = cloud.holder();
    let lost = format!("creating a new {noun} for {holder} got no answer ({cause})");
    match cloud.find_created(&plan.before) {
        Ok(Found::Ours(ids)) if !ids.is_empty() => {
            for id in &ids {
                if let Err(e) = cloud.revoke(id) {
                    return Error::NeedsAttention(format!(
                        "{lost}; {noun} {id} was created anyway and revoking it failed ({e}): \
                         revoke {noun} {id} of {holder} (its secret is known to nobody). The \
                         {noun} in {location} is unchanged.{room_note}"
                    ));
                }
                tracing::info!("revoked {noun} {id}, created although the answer was lost");
            }
            change::rollback_to(mark);
            unchanged_but_room(format!(
                "{lost}; the {noun}(s) it made anyway ({}) were revoked",
                ids.join(", ")
            ))
        }
        Ok(Found::Ours(_)) => Error::NeedsAttention(format!(
            "{lost}, and no new {noun} appeared in the listings since; one may still appear \
             (listings lag). Check {holder} for a {noun} that {location} does not hold and revoke \
             it. The {noun} in {location} is unchanged.{room_note}"
        )),
        Ok(Found::Nothing { hint }) => Error::NeedsAttention(format!(
            "{lost}, and no new {noun} appeared in the listings since; one may still appear \
             (listings lag). Check {holder} for a {noun} {hint} and revoke it (its secret is \
             known to nobody). The {noun} in {location} is unchanged.{room_note}"
        )),
        Ok(Found::Unproven(ids)) => Error::NeedsAttention(format!(
            "{lost}; {noun}(s) {} appeared since, and nothing shows whether this run made them. \
             Their secret is known to nobody if it did: unless someone else created them, revoke \
             them. The {noun} in {location} is unchanged.{room_note}",
            ids.join(", ")
        )),
        Err(e) => Error::NeedsAttention(format!(
            "{lost}, and listing the {noun}s afterwards failed ({e}): check {holder} for a new \
             {noun} that {location} does not hold and revoke it (its secret is known to nobody). \
             The {noun} in {location} is unchanged.{room_note}"
        )),
    }
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

#[cfg(test)]
mod tests {
    //! The outcome table: every step × success / definite failure / unknown,
    //! against a scripted service and store, asserting the exit code and
    //! that the message names what the operator must act on.

    use super::*;
    use crate::error::Exit;
    use std::collections::VecDeque;

    /// A scripted service: live credentials, and queued outcomes per step.
    #[derive(Default)]
    struct Service {
        live: Vec<String>,
        /// What this run's creates made (what a tag would prove).
        made: Vec<String>,
        /// A create the service applies twice (resent after an error that
        /// followed the change): one more credential nobody knows.
        applied_twice: bool,
        next: u32,
        create: VecDeque<Step<()>>,
        /// What a lost create actually did (whether a credential exists).
        lost_create_made_one: bool,
        find: Option<Step<Found>>,
        revoke: VecDeque<(String, Step<()>)>,
        probe_fails: bool,
        early_verify: bool,
        before_retire: Option<Failure>,
        list: VecDeque<Step<Vec<String>>>,
        revoked: Vec<String>,
    }

    impl Credentials for Service {
        type New = String;

        fn noun(&self) -> &'static str {
            "key"
        }
        fn holder(&self) -> String {
            "user 'alice'".into()
        }
        fn id(new: &String) -> &str {
            new
        }
        fn create(&mut self) -> Step<String> {
            self.next += 1;
            let id = format!("NEW{}", self.next);
            match self.create.pop_front().unwrap_or(Ok(())) {
                Ok(()) => {
                    if self.applied_twice {
                        let twin = format!("{id}-TWIN");
                        self.live.push(twin.clone());
                        self.made.push(twin);
                    }
                    self.live.push(id.clone());
                    self.made.push(id.clone());
                    Ok(id)
                }
                Err(Failure::Unknown(e)) => {
                    if self.lost_create_made_one {
                        self.live.push(id.clone());
                        self.made.push(id);
                    }
                    Err(Failure::Unknown(e))
                }
                Err(definite) => Err(definite),
            }
        }
        fn find_created(&mut self, before: &[String]) -> Step<Found> {
            self.find.clone().unwrap_or_else(|| {
                Ok(Found::Ours(
                    self.live
                        .iter()
                        .filter(|i| !before.contains(i) && self.made.contains(i))
                        .cloned()
                        .collect(),
                ))
            })
        }
        fn revoke(&mut self, id: &str) -> Step<()> {
            if let Some(pos) = self.revoke.iter().position(|(i, _)| i == id) {
                let outcome = self.revoke.remove(pos).map_or(Ok(()), |(_, o)| o);
                if let Err(Failure::Definite(_)) = outcome {
                    return outcome;
                }
                self.live.retain(|l| l != id);
                self.revoked.push(id.into());
                return outcome;
            }
            self.live.retain(|l| l != id);
            self.revoked.push(id.into());
            Ok(())
        }
        fn probe(&mut self, _new: &String) -> std::result::Result<(), String> {
            if self.probe_fails {
                Err("InvalidClientTokenId".into())
            } else {
                Ok(())
            }
        }
        fn list(&mut self) -> Step<Vec<String>> {
            self.list
                .pop_front()
                .unwrap_or_else(|| Ok(self.live.clone()))
        }
        fn verify_before_store(&self) -> bool {
            self.early_verify
        }
        fn before_retire(&mut self, _new: &String) -> Step<()> {
            match self.before_retire.clone() {
                Some(f) => Err(f),
                None => Ok(()),
            }
        }
        fn settle(&self) -> (u32, Duration) {
            (2, Duration::from_millis(1))
        }
    }

    /// A scripted record.
    struct Record {
        holds: Option<String>,
        save: Step<()>,
        /// What an unknown save actually did.
        unknown_save_landed: bool,
        reread: Option<Step<Option<String>>>,
        /// What the record says is left to do (the lease's record).
        progress: Option<Progress>,
    }

    impl Default for Record {
        fn default() -> Self {
            Self {
                holds: Some("OLD".into()),
                save: Ok(()),
                unknown_save_landed: false,
                reread: None,
                progress: None,
            }
        }
    }

    impl Store<String> for Record {
        fn location(&self) -> String {
            "record 'alice' (uid U)".into()
        }
        fn save(&mut self, new: &String) -> Step<()> {
            match self.save.clone() {
                Ok(()) => {
                    self.holds = Some(new.clone());
                    Ok(())
                }
                Err(Failure::Unknown(e)) => {
                    if self.unknown_save_landed {
                        self.holds = Some(new.clone());
                    }
                    Err(Failure::Unknown(e))
                }
                Err(e) => Err(e),
            }
        }
        fn stored_id(&mut self) -> Step<Option<String>> {
            self.reread
                .clone()
                .unwrap_or_else(|| Ok(self.holds.clone()))
        }
        fn save_recording(&mut self, new: &String, progress: &Progress) -> Step<()> {
            let result = self.save(new);
            if self.holds.as_ref() == Some(new) {
                self.progress = Some(progress.clone());
            }
            result
        }
        fn completed(&mut self) {
            self.progress = None;
        }
    }

    fn service(live: &[&str]) -> Service {
        Service {
            live: live.iter().map(|s| s.to_string()).collect(),
            ..Service::default()
        }
    }

    fn plan(before: &[&str], make_room: Option<&str>, retire: &[&str]) -> Plan {
        Plan {
            before: before.iter().map(|s| s.to_string()).collect(),
            make_room: make_room.map(|id| (id.to_string(), "it is not in use".to_string())),
            retire: retire.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn run(svc: &mut Service, rec: &mut Record, plan: &Plan) -> Result<Replaced<String>> {
        let verify = Verify {
            successes: 2,
            interval: Duration::from_millis(1),
            timeout: Duration::from_millis(50),
        };
        let deadline = Deadline::after(Duration::from_secs(30));
        replace(
            svc,
            rec,
            plan,
            Checks {
                verify: &verify,
                deadline: &deadline,
                reserve: Duration::ZERO,
            },
        )
    }

    fn guard() -> std::sync::MutexGuard<'static, ()> {
        let g = change::TEST_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change::reset_for_test();
        g
    }

    fn exit_of(result: &Result<Replaced<String>>) -> Exit {
        match result {
            Ok(_) => Exit::Rotated,
            Err(e) => e.exit(),
        }
    }

    fn text(result: &Result<Replaced<String>>) -> String {
        match result {
            Ok(r) => format!("ok {:?}", r.removed),
            Err(e) => e.to_string(),
        }
    }

    fn assert_names(result: &Result<Replaced<String>>, ids: &[&str]) {
        let t = text(result);
        for id in ids {
            assert!(t.contains(id), "message lacks {id}: {t}");
        }
    }

    // --- success --------------------------------------------------------------

    #[test]
    fn everything_answers_the_new_credential_is_stored_and_the_old_ones_go_the_records_last() {
        let _g = guard();
        let mut svc = service(&["SPARE", "OLD"]);
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
        assert_eq!(svc.live, ["NEW1"]);
        assert_eq!(svc.revoked, ["SPARE", "OLD"]);
        assert_eq!(rec.holds.as_deref(), Some("NEW1"));
    }

    // --- make room ------------------------------------------------------------

    #[test]
    fn make_room_refused_changes_nothing_exit_1() {
        let _g = guard();
        let mut svc = service(&["SPARE", "OLD"]);
        svc.revoke.push_back((
            "SPARE".into(),
            Err(Failure::Definite("AccessDenied".into())),
        ));
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::Failed);
        assert_eq!(svc.live, ["SPARE", "OLD"]);
    }

    #[test]
    fn make_room_unanswered_exits_4_naming_the_credential() {
        let _g = guard();
        let mut svc = service(&["SPARE", "OLD"]);
        svc.revoke
            .push_back(("SPARE".into(), Err(Failure::Unknown("timeout".into()))));
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["SPARE"]);
        assert_eq!(rec.holds.as_deref(), Some("OLD"));
    }

    #[test]
    fn a_make_room_candidate_that_was_not_listed_is_never_revoked() {
        let _g = guard();
        let mut svc = service(&["OLD", "LATE"]);
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], Some("LATE"), &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Failed);
        assert!(svc.revoked.is_empty());
    }

    // --- create ---------------------------------------------------------------

    #[test]
    fn create_refused_changes_nothing_exit_1() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.create
            .push_back(Err(Failure::Definite("LimitExceeded".into())));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Failed);
        assert_eq!(svc.live, ["OLD"]);
    }

    #[test]
    fn create_refused_after_making_room_is_never_exit_1() {
        let _g = guard();
        let mut svc = service(&["SPARE", "OLD"]);
        svc.create
            .push_back(Err(Failure::Definite("ServiceFailure".into())));
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["SPARE", "OLD"], Some("SPARE"), &["OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["SPARE"]);
        assert_eq!(svc.live, ["OLD"]);
    }

    #[test]
    fn a_lost_create_that_made_one_is_found_by_its_tag_revoked_and_exits_1() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.create
            .push_back(Err(Failure::Unknown("timeout".into())));
        svc.lost_create_made_one = true;
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Failed, "{}", text(&result));
        assert_eq!(svc.live, ["OLD"]);
        assert_names(&result, &["NEW1"]);
        assert!(!change::any_outstanding());
    }

    #[test]
    fn a_lost_create_that_cannot_be_found_exits_4() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.create
            .push_back(Err(Failure::Unknown("timeout".into())));
        svc.find = Some(Ok(Found::Nothing {
            hint: "named 'keeper-rotated X'".into(),
        }));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["keeper-rotated X"]);
    }

    #[test]
    fn a_lost_create_with_unproven_newcomers_leaves_them_alone_and_names_them() {
        let _g = guard();
        let mut svc = service(&["OLD", "STRANGER"]);
        svc.create
            .push_back(Err(Failure::Unknown("timeout".into())));
        svc.find = Some(Ok(Found::Unproven(vec!["STRANGER".into()])));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["STRANGER"]);
        assert!(svc.revoked.is_empty());
    }

    #[test]
    fn a_lost_create_whose_orphan_cannot_be_revoked_exits_4_naming_it() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.create
            .push_back(Err(Failure::Unknown("timeout".into())));
        svc.lost_create_made_one = true;
        svc.revoke
            .push_back(("NEW1".into(), Err(Failure::Definite("AccessDenied".into()))));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["NEW1"]);
    }

    #[test]
    fn a_lost_create_and_a_failed_listing_exit_4() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.create
            .push_back(Err(Failure::Unknown("timeout".into())));
        svc.find = Some(Err(Failure::Unknown("listing timed out".into())));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
    }

    // --- store ----------------------------------------------------------------

    #[test]
    fn a_definite_store_failure_revokes_the_new_credential_exit_1() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        let mut rec = Record {
            save: Err(Failure::Definite("access_denied".into())),
            ..Record::default()
        };
        change::sent("CreateAccessKey").unwrap().keep();
        let mark_all = change::outstanding().len();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Failed, "{}", text(&result));
        assert_eq!(svc.live, ["OLD"]);
        assert_eq!(rec.holds.as_deref(), Some("OLD"));
        // What the run sent before the sequence stays; nothing of its own.
        assert_eq!(change::outstanding().len(), mark_all);
    }

    #[test]
    fn a_definite_store_failure_whose_revocation_fails_exits_4_naming_the_new_one() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.revoke
            .push_back(("NEW1".into(), Err(Failure::Unknown("timeout".into()))));
        let mut rec = Record {
            save: Err(Failure::Definite("access_denied".into())),
            ..Record::default()
        };
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["NEW1"]);
    }

    #[test]
    fn an_unknown_store_outcome_keeps_both_and_exits_4_naming_both() {
        let _g = guard();
        for landed in [false, true] {
            let mut svc = service(&["OLD"]);
            let mut rec = Record {
                save: Err(Failure::Unknown("no answer".into())),
                unknown_save_landed: landed,
                ..Record::default()
            };
            let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
            assert_eq!(exit_of(&result), Exit::NeedsAttention);
            assert_names(&result, &["NEW1", "OLD"]);
            assert_eq!(svc.live, ["OLD", "NEW1"], "both stay valid");
        }
    }

    // --- what the record says is left to do ----------------------------------

    #[test]
    fn the_store_save_records_what_the_run_stored_and_still_means_to_retire() {
        let _g = guard();
        let mut svc = service(&["A", "OLD"]);
        svc.probe_fails = true;
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["A", "OLD"], None, &["A", "OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::OldNotRetired);
        assert_eq!(
            rec.progress,
            Some(Progress {
                stored: "NEW1".into(),
                retiring: vec!["A".into(), "OLD".into()],
            }),
            "a run that stops here leaves the plan for the next"
        );
    }

    #[test]
    fn a_completed_rotation_leaves_nothing_recorded() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
        assert_eq!(rec.progress, None);
    }

    // --- verify and before retiring ------------------------------------------

    #[test]
    fn a_credential_that_never_verifies_keeps_every_old_one_exit_3() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.probe_fails = true;
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::OldNotRetired);
        assert_names(&result, &["NEW1", "OLD"]);
        assert_eq!(svc.live, ["OLD", "NEW1"]);
    }

    #[test]
    fn a_credential_verified_before_storing_that_never_works_is_revoked_exit_1() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.probe_fails = true;
        svc.early_verify = true;
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Failed, "{}", text(&result));
        assert_eq!(svc.live, ["OLD"]);
        assert_eq!(rec.holds.as_deref(), Some("OLD"), "never stored");
        assert!(!change::any_outstanding());
    }

    #[test]
    fn a_credential_verified_before_storing_whose_revocation_fails_exits_4() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.probe_fails = true;
        svc.early_verify = true;
        svc.revoke
            .push_back(("NEW1".into(), Err(Failure::Unknown("timeout".into()))));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["NEW1"]);
        assert_eq!(rec.holds.as_deref(), Some("OLD"));
    }

    #[test]
    fn a_failed_step_before_retiring_keeps_every_old_one_exit_3() {
        for failure in [
            Failure::Definite("the token was refused".into()),
            Failure::Unknown("the token request timed out".into()),
        ] {
            let _g = guard();
            let mut svc = service(&["OLD"]);
            svc.before_retire = Some(failure);
            let mut rec = Record::default();
            let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
            assert_eq!(exit_of(&result), Exit::OldNotRetired);
            assert_eq!(svc.live, ["OLD", "NEW1"]);
        }
    }

    // --- the re-read ----------------------------------------------------------

    #[test]
    fn a_record_changed_by_someone_else_stops_before_any_revocation_exit_4() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        let mut rec = Record {
            reread: Some(Ok(Some("OTHER".into()))),
            ..Record::default()
        };
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["NEW1", "OLD", "OTHER"]);
        assert!(svc.revoked.is_empty());
    }

    #[test]
    fn a_failed_re_read_keeps_every_old_one_exit_3() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        let mut rec = Record {
            reread: Some(Err(Failure::Unknown("timeout".into()))),
            ..Record::default()
        };
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::OldNotRetired);
        assert!(svc.revoked.is_empty());
    }

    // --- retire ---------------------------------------------------------------

    #[test]
    fn a_failed_retirement_exits_3_naming_what_is_still_valid() {
        for failure in [
            Failure::Definite("AccessDenied".into()),
            Failure::Unknown("timeout".into()),
        ] {
            let _g = guard();
            let mut svc = service(&["A", "OLD"]);
            svc.revoke.push_back(("A".into(), Err(failure)));
            let mut rec = Record::default();
            let result = run(
                &mut svc,
                &mut rec,
                &plan(&["A", "OLD"], None, &["A", "OLD"]),
            );
            assert_eq!(exit_of(&result), Exit::OldNotRetired);
            assert_names(&result, &["A", "OLD", "NEW1"]);
        }
    }

    #[test]
    fn a_credential_created_after_the_first_listing_is_never_retired() {
        let _g = guard();
        let mut svc = service(&["OLD", "OTHER_RUNS"]);
        let mut rec = Record::default();
        let result = run(
            &mut svc,
            &mut rec,
            &plan(&["OLD"], None, &["OTHER_RUNS", "OLD"]),
        );
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
        assert_eq!(svc.revoked, ["OLD"]);
        let replaced = result.unwrap();
        assert!(replaced.notes.iter().any(|n| n.contains("OTHER_RUNS")));
    }

    // --- confirm --------------------------------------------------------------

    #[test]
    fn a_failed_confirmation_after_a_completed_rotation_is_not_a_failure() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.list
            .push_back(Err(Failure::Definite("ServiceFailure".into())));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
        assert!(!result.unwrap().notes.is_empty());
    }

    #[test]
    fn a_lagging_listing_is_read_again_until_it_settles() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.list.push_back(Ok(vec!["OLD".into(), "NEW1".into()]));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
    }

    #[test]
    fn a_revoked_credential_still_listed_after_settling_exits_3() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        for _ in 0..2 {
            svc.list.push_back(Ok(vec!["OLD".into(), "NEW1".into()]));
        }
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::OldNotRetired);
        assert_names(&result, &["OLD"]);
    }

    #[test]
    fn a_revoked_credential_the_service_still_accepts_exits_3() {
        struct Stubborn(Service);
        impl Credentials for Stubborn {
            type New = String;
            fn noun(&self) -> &'static str {
                self.0.noun()
            }
            fn holder(&self) -> String {
                self.0.holder()
            }
            fn id(new: &String) -> &str {
                new
            }
            fn create(&mut self) -> Step<String> {
                self.0.create()
            }
            fn find_created(&mut self, before: &[String]) -> Step<Found> {
                self.0.find_created(before)
            }
            fn revoke(&mut self, id: &str) -> Step<()> {
                self.0.revoke(id)
            }
            fn probe(&mut self, new: &String) -> std::result::Result<(), String> {
                self.0.probe(new)
            }
            fn list(&mut self) -> Step<Vec<String>> {
                self.0.list()
            }
            fn still_accepted(&mut self, retired: &[String]) -> Step<Vec<String>> {
                Ok(retired.to_vec())
            }
            fn settle(&self) -> (u32, Duration) {
                self.0.settle()
            }
        }
        let _g = guard();
        let mut svc = Stubborn(service(&["OLD"]));
        let mut rec = Record::default();
        let verify = Verify {
            successes: 1,
            interval: Duration::from_millis(1),
            timeout: Duration::from_millis(50),
        };
        let deadline = Deadline::after(Duration::from_secs(30));
        let checks = Checks {
            verify: &verify,
            deadline: &deadline,
            reserve: Duration::ZERO,
        };
        let result = replace(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]), checks);
        assert_eq!(exit_of(&result), Exit::OldNotRetired);
        assert_names(&result, &["OLD", "still accepted"]);
    }

    // --- clean up -------------------------------------------------------------

    #[test]
    fn a_second_copy_of_the_create_is_revoked_and_the_run_exits_0() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.applied_twice = true;
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::Rotated, "{}", text(&result));
        assert_eq!(svc.live, ["NEW1"]);
        assert_eq!(svc.revoked, ["OLD", "NEW1-TWIN"]);
        assert!(result.unwrap().notes.is_empty());
    }

    #[test]
    fn a_second_copy_of_the_create_that_cannot_be_revoked_exits_3_naming_it() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        svc.applied_twice = true;
        svc.revoke.push_back((
            "NEW1-TWIN".into(),
            Err(Failure::Definite("Authorization_RequestDenied".into())),
        ));
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::OldNotRetired, "{}", text(&result));
        assert_names(&result, &["NEW1-TWIN", "NEW1"]);
    }

    #[test]
    fn a_new_credential_missing_from_the_final_listing_exits_4() {
        let _g = guard();
        let mut svc = service(&["OLD"]);
        for _ in 0..2 {
            svc.list.push_back(Ok(vec![]));
        }
        let mut rec = Record::default();
        let result = run(&mut svc, &mut rec, &plan(&["OLD"], None, &["OLD"]));
        assert_eq!(exit_of(&result), Exit::NeedsAttention);
        assert_names(&result, &["NEW1"]);
    }
}
