//! Reads and writes Keeper records through the official Keeper Secrets
//! Manager SDK (`keeper-secrets-manager-core`), with the Gateway's own KSM
//! configuration.
//!
//! The SDK is blocking, may sleep for minutes when throttled, and panics on
//! some malformed answers. So every call runs on a worker thread, bounded by
//! the run's deadline. A panic inside it becomes an error. Fields are read
//! and written on the record's JSON with this module's own code, never with
//! the SDK's getters, which panic on empty or non-list values.
//!
//! Writes use a plain `update_secret` (transaction type "general"): the stored
//! value is the new one as soon as the call returns. See docs/concepts/vault.md
//! ("Vault writes: plain update, not the rotation transaction") for why the
//! rotation transaction is not used.
//!
//! Rooms: [`config`] (the Gateway's KSM config), [`record`] (a record's
//! fields read and changed on its JSON), and here the SDK client: fetches,
//! fenced saves that settle a lost answer, the clock that leases go by.

mod config;
mod record;

pub use config::{CONFIG_VAR, DEFAULT_CONFIG, VaultConfig};
pub use record::{Change, FieldValue, VaultRecord};

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use keeper_secrets_manager_core::{
    ClientOptions, InMemoryKeyValueStorage, KSMRError, KvStoreType, SecretsManager,
};
use zeroize::Zeroizing;

use crate::cli::catch_panic;
use crate::deadline::Deadline;
use crate::error::{Error, Result};

use record::field_text;

/// How often a save is tried again after a revision conflict.
const MAX_SAVE_ATTEMPTS: u32 = 3;

/// Why a call to the SDK failed.
enum CallError {
    /// The SDK returned an error.
    Sdk(KSMRError),
    /// The SDK panicked (at this location).
    Panic(String),
    /// No answer within the request timeout or before the run's deadline.
    /// The call may still be in flight on its abandoned worker thread.
    NoAnswer,
}

/// A check every save to one record must pass first. The rotation lease
/// (the `lease` module, a layer above this one) sets one on the record it
/// holds: the record must still
/// name this run, or another run has taken it over. The vault knows no more
/// of leases than this.
pub struct Fence {
    pub uid: String,
    pub check: Box<FenceCheck>,
}

/// What a [`Fence`] asks of the record before each save to it.
pub type FenceCheck = dyn Fn(&VaultRecord) -> Result<()> + Send;

impl std::fmt::Debug for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fence")
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

/// The vault, through the official SDK.
pub struct Vault {
    sm: Option<SecretsManager>,
    config: Zeroizing<String>,
    config_path: PathBuf,
    deadline: Deadline,
    fence: Option<Fence>,
    /// The last record read, per uid, until the next save to it.
    cache: std::collections::HashMap<String, VaultRecord>,
    /// The host the SDK sends to, for reading its clock.
    host: Option<String>,
    /// The vault's clock, once [`Vault::read_clock`] started reading it.
    clock: Option<crate::clock::VaultClock>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

/// The environment variables the SDK reads that would weaken or redirect
/// vault traffic: `KSM_SKIP_VERIFY` turns certificate checks off and
/// `KSM_HOSTNAME` sends every request (and the record keys in it) to another
/// host. A Gateway never needs either.
pub const REFUSED_ENV: [&str; 2] = ["KSM_SKIP_VERIFY", "KSM_HOSTNAME"];

fn check_environment() -> Result<()> {
    for var in REFUSED_ENV {
        if std::env::var_os(var).is_some() {
            return Err(Error::Config(format!(
                "{var} is set in the environment; it would {} for the vault. Unset it: the \
                 rotators refuse to run with it",
                if var == "KSM_SKIP_VERIFY" {
                    "turn certificate verification off"
                } else {
                    "redirect the Keeper SDK to another host"
                }
            )));
        }
    }
    Ok(())
}

fn new_client(config: &str) -> std::result::Result<SecretsManager, CallError> {
    let json = config.to_owned();
    catch_panic(move || {
        let storage = InMemoryKeyValueStorage::new(Some(json))?;
        SecretsManager::new(ClientOptions::new_client_options(KvStoreType::InMemory(
            storage,
        )))
    })
    .map_err(CallError::Panic)?
    .map_err(CallError::Sdk)
}

/// The host the SDK will send to, from the config's `hostname`. Only that
/// key is kept: the config's secrets are skipped, not copied.
fn config_hostname(config: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Host {
        hostname: Option<String>,
    }
    let host: Host = serde_json::from_str(config).ok()?;
    crate::clock::vault_host(host.hostname.as_deref())
}

/// How often a read without a usable answer is tried.
pub const MAX_READ_ATTEMPTS: u32 = 3;

/// The most a save whose answer was lost is read back and re-sent.
const MAX_FENCE_ROUNDS: u32 = 3;

impl Vault {
    /// Builds the SDK client from `config`. Makes no network call. Refuses
    /// to run when the environment would weaken the vault's TLS.
    pub fn open(config: &VaultConfig, deadline: Deadline) -> Result<Self> {
        check_environment()?;
        let sm = new_client(&config.json).map_err(|failure| match failure {
            CallError::Panic(at) => Error::Config(format!(
                "the Keeper SDK failed on the KSM config {} (it crashed at {at})",
                config.path.display()
            )),
            CallError::Sdk(e) => Error::Config(format!(
                "the Keeper SDK refused the KSM config {}: {e}",
                config.path.display()
            )),
            CallError::NoAnswer => Error::Config("the Keeper SDK did not start".into()),
        })?;
        Ok(Self {
            sm: Some(sm),
            config: config.json.clone(),
            config_path: config.path.clone(),
            deadline,
            fence: None,
            cache: std::collections::HashMap::new(),
            host: config_hostname(&config.json),
            clock: None,
        })
    }

    /// Opens the vault with the Gateway's config ([`VaultConfig::path`]).
    pub fn open_default(deadline: Deadline) -> Result<Self> {
        Self::open(&VaultConfig::load_default()?, deadline)
    }

    /// Fetches the record `uid`.
    ///
    /// A read changes nothing, so one that got no usable answer (a dropped
    /// connection, an answer cut short, a timeout) is tried again, up to
    /// [`MAX_READ_ATTEMPTS`] times within the deadline. An answer from the
    /// server (an error it sent) is final.
    pub fn fetch(&mut self, uid: &str) -> Result<VaultRecord> {
        let mut attempt = 0;
        let records = loop {
            attempt += 1;
            let wanted = uid.to_owned();
            match self.call(move |sm| sm.get_secrets(vec![wanted])) {
                Ok(records) => break records,
                Err(failure) => {
                    let wait = Duration::from_millis(250 * u64::from(attempt));
                    let again = attempt < MAX_READ_ATTEMPTS
                        && !matches!(
                            failure,
                            CallError::Sdk(KSMRError::HTTPError(_) | KSMRError::Throttled(_))
                        )
                        && self.deadline.allows(wait);
                    if !again {
                        return Err(describe("reading", uid, failure));
                    }
                    tracing::info!(
                        "{}; reading it again (attempt {} of {MAX_READ_ATTEMPTS})",
                        describe("reading", uid, failure),
                        attempt + 1
                    );
                    std::thread::sleep(wait);
                }
            }
        };
        let record = records
            .into_iter()
            .find(|r| r.uid == uid)
            .map(|inner| VaultRecord { inner })
            .ok_or_else(|| {
                Error::Config(format!(
                    "record {uid} is not in the vault, or not shared with the Gateway's \
                     application: share its folder with the application"
                ))
            })?;
        self.cache.insert(
            uid.to_owned(),
            VaultRecord {
                inner: record.inner.clone(),
            },
        );
        Ok(record)
    }

    /// Sets `changes` on record `uid` and saves it.
    ///
    /// - `Ok(())`: the record holds the changes.
    /// - `Err(Error::NoAnswer)`: whether it does is unknown, and a late save
    ///   may still land.
    /// - any other error: the record does not hold them, and this call's
    ///   saves can no longer be applied.
    ///
    /// The record is fetched fresh, so the save carries its current revision;
    /// on a revision conflict it is fetched again and only `changes`
    /// re-applied, a bounded number of times. When a save goes unanswered,
    /// the record is read back ([`Vault::update`]'s fence): either the
    /// changes are there, or the revision moved on to a newer one (the vault
    /// refuses a save made for an older revision, so the lost one can never
    /// land), or the record is unchanged and the same save is sent again at
    /// the same revision: at most one of the two can be applied. A copy at an
    /// older revision, or without one (a read that lags behind the writes),
    /// proves nothing and is read again.
    pub fn update(&mut self, uid: &str, changes: &[Change]) -> Result<()> {
        self.update_checked(uid, changes, |_| Ok(())).map(|_| ())
    }

    /// [`Vault::update`], calling `check` on the freshly fetched record
    /// before each save (an error from it stops the save: nothing is sent).
    /// Returns the record as it was saved.
    pub fn update_checked(
        &mut self,
        uid: &str,
        changes: &[Change],
        check: impl Fn(&VaultRecord) -> Result<()>,
    ) -> Result<VaultRecord> {
        self.update_checked_with(uid, |record, _| {
            check(record)?;
            Ok(changes.to_vec())
        })
    }

    /// [`Vault::update_checked`] with the changes decided from the freshly
    /// fetched record (and the time: [`Vault::now`]) before each save.
    pub fn update_checked_with(
        &mut self,
        uid: &str,
        changes_for: impl Fn(&VaultRecord, SystemTime) -> Result<Vec<Change>>,
    ) -> Result<VaultRecord> {
        crate::change::ensure_applying(&format!("saving record {uid}"))?;
        // The record as last read, if nothing was saved since: saving from it
        // spares a round trip; if it is stale, the revision check refuses the
        // save and the record is fetched fresh.
        let mut cached = self.cache.remove(uid);
        let result = self.save_attempts(uid, &changes_for, &mut cached);
        self.cache.remove(uid);
        result
    }

    fn save_attempts(
        &mut self,
        uid: &str,
        changes_for: &impl Fn(&VaultRecord, SystemTime) -> Result<Vec<Change>>,
        cached: &mut Option<VaultRecord>,
    ) -> Result<VaultRecord> {
        let mut attempt = 0;
        loop {
            let from_cache = cached.is_some();
            let mut record = match cached.take() {
                Some(record) => record,
                None => {
                    attempt += 1;
                    self.fetch(uid)?
                }
            };
            self.check_fence(&record)?;
            let changes = changes_for(&record, self.now())?;
            let changes = changes.as_slice();
            let revision = record.revision();
            for change in changes {
                record.set_custom(change);
            }
            let inner = record.inner.clone();
            match self.call(move |sm| sm.update_secret(inner)) {
                Ok(()) => return Ok(record),
                Err(CallError::Sdk(e)) if is_conflict(&e) && from_cache => {
                    tracing::debug!("record {uid} changed since it was read; fetching it again");
                }
                Err(CallError::Sdk(e)) if is_conflict(&e) => {
                    if attempt >= MAX_SAVE_ATTEMPTS {
                        // A refusal is only as good as the text that says so:
                        // before calling the save lost, look.
                        if let Ok(now) = self.fetch(uid)
                            && saved(&now, changes)
                        {
                            tracing::info!("record {uid} holds the change after all");
                            return Ok(now);
                        }
                        return Err(Error::Failed(format!(
                            "saving record {uid} in the vault: the record changed while it was \
                             being saved, {MAX_SAVE_ATTEMPTS} times in a row (revision \
                             conflicts); it was not saved"
                        )));
                    }
                    tracing::info!(
                        "record {uid} changed while it was being saved (revision conflict); \
                         fetching it again (attempt {} of {MAX_SAVE_ATTEMPTS})",
                        attempt + 1
                    );
                }
                Err(failure) => return self.fence(uid, changes, revision, failure, record),
            }
        }
    }

    /// After a save at `revision` whose outcome is unknown: settle it.
    fn fence(
        &mut self,
        uid: &str,
        changes: &[Change],
        revision: Option<i64>,
        failure: CallError,
        mut saved_record: VaultRecord,
    ) -> Result<VaultRecord> {
        let cause = describe("saving", uid, failure).to_string();
        tracing::info!("{cause}; reading the record back to settle whether it was saved");
        for _ in 0..MAX_FENCE_ROUNDS {
            if self.deadline.expired() {
                break;
            }
            let record = match self.fetch(uid) {
                Ok(record) => record,
                Err(e) => {
                    return Err(Error::NoAnswer {
                        target: format!("saving record {uid}"),
                        detail: format!(
                            "{cause}; reading it back failed too ({e}), so whether it was saved \
                             is unknown"
                        ),
                    });
                }
            };
            if saved(&record, changes) {
                tracing::info!("record {uid} was saved after all");
                saved_record.inner.revision = record.inner.revision;
                return Ok(saved_record);
            }
            match (record.revision(), revision) {
                (Some(now), Some(sent)) if now > sent => {
                    return Err(Error::Failed(format!(
                        "{cause}; the record was read back without the change and at a newer \
                         revision, so the unanswered save can no longer be applied (the vault \
                         refuses a save made for an older revision); it was not saved"
                    )));
                }
                (now, sent) if now != sent => {
                    // An older revision (a read served by a lagging replica)
                    // or none at all proves nothing: the save may still land.
                    // Read again; never save on top of such a copy.
                    tracing::info!(
                        "record {uid} was read back at revision {} although the save was made \
                         at {}: the read lags; reading it again",
                        now.map_or_else(|| "(none)".to_owned(), |r| r.to_string()),
                        sent.map_or_else(|| "(none)".to_owned(), |r| r.to_string()),
                    );
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
                _ => {}
            }
            // Unchanged at the same revision: send the same save again. The
            // vault applies at most one of the two.
            tracing::info!("record {uid} is unchanged; saving again at the same revision");
            let mut again = record;
            for change in changes {
                again.set_custom(change);
            }
            let inner = again.inner.clone();
            match self.call(move |sm| sm.update_secret(inner)) {
                Ok(()) => return Ok(again),
                Err(e) => {
                    tracing::info!("{}; reading it back again", describe("saving", uid, e));
                }
            }
        }
        Err(Error::NoAnswer {
            target: format!("saving record {uid}"),
            detail: format!(
                "{cause}; reading it back and saving again did not settle whether it was saved \
                 before the deadline"
            ),
        })
    }

    /// Sets (or with `None`, clears) the check every save to its record
    /// must pass first.
    pub fn set_fence(&mut self, fence: Option<Fence>) {
        self.fence = fence;
    }

    /// Starts reading the vault's clock ([`crate::clock`]) beside whatever
    /// the run asks the vault next. Leases are judged by it.
    pub fn read_clock(&mut self) {
        if self.clock.is_none()
            && let Some(host) = &self.host
        {
            self.clock = Some(crate::clock::VaultClock::start(host.clone(), self.deadline));
        }
    }

    /// The time leases are written and judged by: the vault's clock when
    /// [`Vault::read_clock`] could read it, else this machine's. Gateways'
    /// clocks may differ by up to the lease's `CLOCK_TOLERANCE` when the
    /// vault's clock is unknown.
    pub fn now(&mut self) -> SystemTime {
        match &mut self.clock {
            Some(clock) => clock.now(),
            None => SystemTime::now(),
        }
    }

    /// A save to the fenced record must pass the fence's check.
    fn check_fence(&self, record: &VaultRecord) -> Result<()> {
        match &self.fence {
            Some(fence) if fence.uid == record.uid() => (fence.check)(record),
            _ => Ok(()),
        }
    }

    /// Runs `f` on a worker thread with the SDK client, waiting at most the
    /// request timeout and never past the run's deadline. A panic in the SDK
    /// becomes an error. A call that does not return in time is abandoned
    /// (its request may still be in flight) and a new client is built for
    /// the next call.
    fn call<T, F>(&mut self, f: F) -> std::result::Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce(&mut SecretsManager) -> std::result::Result<T, KSMRError> + Send + 'static,
    {
        let mut sm = match self.sm.take() {
            Some(sm) => sm,
            None => new_client(&self.config)?,
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let result = catch_panic(|| f(&mut sm));
            let _ = tx.send((sm, result));
        });
        let wait = self
            .deadline
            .remaining()
            .min(crate::deadline::request_timeout_or_default())
            .max(Duration::from_millis(1));
        match rx.recv_timeout(wait) {
            Ok((sm, Ok(result))) => {
                self.sm = Some(sm);
                result.map_err(CallError::Sdk)
            }
            Ok((sm, Err(location))) => {
                self.sm = Some(sm);
                Err(CallError::Panic(location))
            }
            Err(_) => Err(CallError::NoAnswer),
        }
    }

    /// Where the config came from, for messages.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }
}

/// Whether every change is in `record` (an empty value counts as the field
/// being empty or absent).
fn saved(record: &VaultRecord, changes: &[Change]) -> bool {
    changes.iter().all(|change| {
        let now = ["fields", "custom"]
            .iter()
            .find_map(|section| record.matching(section, &change.label).next())
            .and_then(|f| match change.value {
                FieldValue::KeyPair { .. } => f
                    .pointer("/value/0/privateKey")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                _ => field_text(f).ok().flatten(),
            })
            .unwrap_or_default();
        now == change.value.as_str()
    })
}

/// The server's answer to a stale revision. Its exact code is not
/// documented; Keeper's services use `out_of_sync`.
fn is_conflict(error: &KSMRError) -> bool {
    match error {
        KSMRError::HTTPError(message) => {
            let lower = message.to_ascii_lowercase();
            lower.contains("out_of_sync") || lower.contains("revision")
        }
        _ => false,
    }
}

fn describe(doing: &str, uid: &str, failure: CallError) -> Error {
    match failure {
        CallError::Sdk(KSMRError::Throttled(_)) => Error::Failed(format!(
            "{doing} record {uid} in the vault: the vault throttled every attempt; try again later"
        )),
        CallError::Sdk(e) => Error::Failed(format!(
            "{doing} record {uid} in the vault failed: {}",
            sdk_error(&e)
        )),
        CallError::Panic(at) => Error::Failed(format!(
            "{doing} record {uid} in the vault failed: the vault's answer could not be read \
             (the Keeper SDK crashed at {at})"
        )),
        CallError::NoAnswer => Error::Failed(format!(
            "{doing} record {uid} in the vault: no answer in time (the request timeout or the \
             run's deadline passed)"
        )),
    }
}

/// The SDK's error, shortened: its texts can carry a server body.
fn sdk_error(error: &KSMRError) -> String {
    match error {
        // The service's error JSON, as the SDK passes it on:
        // "Error: <error>, message=<message>". Its two fields are shown, each
        // through the output policy (one line, redacted, capped).
        KSMRError::HTTPError(text) => {
            match text
                .strip_prefix("Error: ")
                .and_then(|rest| rest.split_once(", message="))
            {
                Some((code, message)) => {
                    format!(
                        "{}: {}",
                        crate::http::shown(code),
                        crate::http::shown(message)
                    )
                }
                None => crate::http::shown(text),
            }
        }
        // It carries the answer's body: never shown.
        KSMRError::DeserializationError(text) => format!(
            "the vault's answer could not be read ({} characters, not shown)",
            text.chars().count()
        ),
        other => crate::http::shown_capped(&other.to_string(), 300),
    }
}

#[cfg(test)]
mod tests;
