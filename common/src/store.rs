//! The vault record as the replacement sequence's [`Store`]: what the driver
//! gives [`crate::replace`], which itself knows no vault, lease or run.
//!
//! Each call borrows the vault from the run, so a binary's own steps can use
//! it in between; a save that records progress writes the lease's note in
//! the same save ([`crate::lease`]).
//!
//! [`Run::replace`] is the one call a credential binary makes: it says what
//! it rotates (its [`Credentials`]), in which record, under which plan, and
//! gets back the [`Replaced`] outcome or the error whose exit code matches
//! the state the run leaves. Building the store and the checks here, once,
//! keeps the binaries from each wiring them their own way.

use std::fmt;
use std::time::Duration;

use crate::driver::Run;
use crate::error::{Error, Location, Result};
use crate::lease::{self, Progress};
use crate::replace::{self, Checks, Credentials, Failure, Plan, Replaced, Step, Store};
use crate::vault::{Change, VaultRecord};
use crate::verify::Verify;

/// What a credential binary asks of [`Run::replace`].
#[derive(Debug)]
pub struct Replacement<'a, N> {
    /// The user record that holds the credential.
    pub record_uid: &'a str,
    /// The same record, for messages.
    pub location: Location,
    /// The credentials listed before the run, and which go.
    pub plan: &'a Plan,
    /// How the new credential is shown to work.
    pub verify: &'a Verify,
    /// Time kept back from verification for the steps after it.
    pub reserve: Duration,
    /// The record's changes that store a new credential.
    pub fields: fn(&N) -> Vec<Change>,
    /// The id of the credential a record holds.
    pub stored_id: fn(&VaultRecord) -> Result<Option<String>>,
}

impl Run {
    /// Replaces a credential with [`replace::replace`], the vault record as
    /// its store and the run's deadline as its limit.
    pub fn replace<C: Credentials>(
        &self,
        cloud: &mut C,
        replacement: Replacement<'_, C::New>,
    ) -> Result<Replaced<C::New>> {
        let (mut store, plan, checks) = self.parts(replacement);
        replace::replace(cloud, &mut store, plan, checks)
    }

    /// Completes, with [`replace::complete`], the replacement an interrupted
    /// run began: `stored` is the credential it stored in the record.
    /// `replacement.plan.retire` says what is left to retire.
    pub fn complete<C: Credentials>(
        &self,
        cloud: &mut C,
        replacement: Replacement<'_, C::New>,
        stored: &C::New,
    ) -> Result<Replaced<String>> {
        let (mut store, plan, checks) = self.parts(replacement);
        replace::complete(cloud, &mut store, plan, checks, stored)
    }

    /// The record as the store, the plan and the checks of `replacement`.
    fn parts<'a, N>(
        &'a self,
        replacement: Replacement<'a, N>,
    ) -> (VaultStore<'a, N>, &'a Plan, Checks<'a>) {
        let Replacement {
            record_uid,
            location,
            plan,
            verify,
            reserve,
            fields,
            stored_id,
        } = replacement;
        let store = VaultStore::new(self, record_uid, location, fields, stored_id);
        let checks = Checks {
            verify,
            deadline: &self.deadline,
            reserve,
        };
        (store, plan, checks)
    }
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

/// Stores a pin trusted on first use (a host key, a certificate's
/// SHA-256): `value` in `field` of the record `uid`, described by `what`.
/// The write is entered in the change ledger (a dry run never reaches it,
/// and an unanswered save is never reported as "nothing changed"); once the
/// vault confirms it, it is settled: a stored pin is no change to the
/// account, which is what the exit code reports on. Refused, before the
/// save, when the record's `field` now holds something else: another run
/// or the administrator pinned something since this run read the record,
/// and a pin is never overwritten by one merely seen.
pub fn store_pin(run: &Run, uid: &str, field: &str, value: &str, what: &str) -> Result<()> {
    let sent = crate::change::sent(what)?;
    let saved = run.vault().and_then(|mut vault| {
        vault.update_checked(uid, &[Change::text(field, value)], |fresh| {
            match fresh.text(field)?.filter(|t| !t.trim().is_empty()) {
                Some(now) if now.trim() != value.trim() => Err(Error::Config(format!(
                    "'{field}' of {} was given a pin since this run read the record; it is \
                     kept, nothing was sent. Check that it is the right one and rotate again",
                    fresh.location()
                ))),
                _ => Ok(()),
            }
        })
    });
    match saved {
        Ok(_) => {
            sent.settle();
            Ok(())
        }
        Err(e @ Error::NoAnswer { .. }) => {
            sent.keep();
            Err(Error::NeedsAttention(format!(
                "{what}: {e}. Nothing else was changed; check the field and rotate again"
            )))
        }
        Err(e @ Error::Config(_)) => {
            sent.settle();
            Err(e)
        }
        Err(e) => {
            sent.settle();
            Err(Error::Failed(format!(
                "{what} failed: {e}; nothing was changed"
            )))
        }
    }
}
