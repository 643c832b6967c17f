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

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use keeper_secrets_manager_core::{
    ClientOptions, InMemoryKeyValueStorage, KSMRError, KvStoreType, Record as SdkRecord,
    SecretsManager,
};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::cli::catch_panic;
use crate::deadline::Deadline;
use crate::error::{Error, Location, Result};
use crate::records::kind;
use crate::secret::Secret;

/// The environment variable naming the Gateway's KSM config file.
pub const CONFIG_VAR: &str = "KEEPER_GATEWAY_CONFIG";
/// Where the Gateway keeps its KSM config.
pub const DEFAULT_CONFIG: &str = "/etc/keeper-gateway/gateway-config.json";

/// The config keys the SDK knows, less `clientKey` (a one-time binding token:
/// a bound Gateway never needs it, and with it the SDK may try to bind).
const KNOWN_KEYS: [&str; 10] = [
    "clientId",
    "privateKey",
    "appKey",
    "hostname",
    "serverPublicKeyId",
    "serverPublicKey",
    "appOwnerPublicKey",
    "url",
    "bat",
    "bindingKey",
];
/// The config values that are secrets (the others, such as `hostname` and
/// `serverPublicKeyId`, are public and would make the redactor hide ordinary
/// text).
const SECRET_KEYS: [&str; 5] = ["clientId", "privateKey", "appKey", "bat", "bindingKey"];
/// Without these the SDK would attempt a first-time binding.
const REQUIRED_KEYS: [&str; 3] = ["clientId", "privateKey", "appKey"];

/// How often a save is tried again after a revision conflict.
const MAX_SAVE_ATTEMPTS: u32 = 3;

/// The Gateway's KSM config, filtered to the keys the SDK knows.
pub struct VaultConfig {
    json: Zeroizing<String>,
    path: PathBuf,
}

impl std::fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultConfig")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl VaultConfig {
    /// The config path: `KEEPER_GATEWAY_CONFIG`, else the Gateway's default.
    pub fn path() -> PathBuf {
        std::env::var_os(CONFIG_VAR)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_CONFIG), PathBuf::from)
    }

    /// Reads the config at [`VaultConfig::path`].
    pub fn load_default() -> Result<Self> {
        Self::load(&Self::path())
    }

    /// Reads a config file holding JSON or base64 of JSON. The file is never
    /// written.
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display();
        let raw = Zeroizing::new(std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Config(format!(
                    "the Gateway's KSM config {shown} does not exist; set {CONFIG_VAR} to its path"
                ))
            } else {
                Error::Config(format!("cannot read the Gateway's KSM config {shown}: {e}"))
            }
        })?);
        warn_if_shared(path);
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim();
        let parsed: Option<Value> = if text.starts_with('{') {
            serde_json::from_str(text).ok()
        } else {
            decode_base64(text).and_then(|bytes| serde_json::from_slice(&bytes).ok())
        };
        let Some(Value::Object(map)) = parsed else {
            return Err(Error::Config(format!(
                "the Gateway's KSM config {shown} is neither a JSON object nor base64 of one"
            )));
        };
        let mut kept = Map::new();
        for key in KNOWN_KEYS {
            if let Some(Value::String(value)) = map.get(key)
                && !value.trim().is_empty()
            {
                if SECRET_KEYS.contains(&key) {
                    crate::secret::register(value);
                }
                kept.insert(key.to_owned(), Value::String(value.clone()));
            }
        }
        let missing: Vec<&str> = REQUIRED_KEYS
            .into_iter()
            .filter(|k| !kept.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Config(format!(
                "the Gateway's KSM config {shown} lacks {}; it must be the config of a bound \
                 Gateway (refusing to run: the SDK would try to bind a new device)",
                missing.join(", ")
            )));
        }
        Ok(Self {
            json: Zeroizing::new(Value::Object(kept).to_string()),
            path: path.to_owned(),
        })
    }
}

/// The config holds the Gateway's private key: warn when anyone but its owner
/// can read it (the SDK's own file storage would refuse such a file).
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the Gateway's KSM config {} is readable or writable by group or others (mode \
                 {mode:03o}); it holds the Gateway's private key: chmod 600 it",
                path.display()
            );
        }
    }
}

fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
        .map(Zeroizing::new)
}

/// One field value to store: plain text, or a secret kept in a hidden field.
#[derive(Debug, Clone)]
pub enum FieldValue {
    Text(String),
    Secret(Secret),
}

impl FieldValue {
    fn as_str(&self) -> &str {
        match self {
            Self::Text(t) => t,
            Self::Secret(s) => s.expose(),
        }
    }
}

/// A custom field this run owns and sets.
#[derive(Debug, Clone)]
pub struct Change {
    pub label: String,
    pub value: FieldValue,
}

impl Change {
    pub fn text(label: &str, value: impl Into<String>) -> Self {
        Self {
            label: label.to_owned(),
            value: FieldValue::Text(value.into()),
        }
    }

    pub fn secret(label: &str, value: &Secret) -> Self {
        Self {
            label: label.to_owned(),
            value: FieldValue::Secret(value.clone()),
        }
    }
}

/// A record fetched from the vault.
pub struct VaultRecord {
    inner: SdkRecord,
}

impl std::fmt::Debug for VaultRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultRecord")
            .field("uid", &self.inner.uid)
            .field("title", &self.inner.title)
            .field("revision", &self.inner.revision)
            .finish_non_exhaustive()
    }
}

impl VaultRecord {
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    pub fn title(&self) -> &str {
        &self.inner.title
    }

    pub fn record_type(&self) -> &str {
        &self.inner.record_type
    }

    pub fn revision(&self) -> Option<i64> {
        self.inner.revision
    }

    pub fn location(&self) -> Location {
        Location::Record {
            title: self.inner.title.clone(),
            uid: self.inner.uid.clone(),
        }
    }

    /// A field's first value as text: standard fields by label then type,
    /// then custom fields by label then type (names compared ignoring case).
    /// `None` when absent or empty; an error when the value is not text.
    pub fn text(&self, name: &str) -> Result<Option<String>> {
        for section in ["fields", "custom"] {
            for field in self.matching(section, name) {
                if let Some(text) = field_text(field)
                    .map_err(|problem| Error::invalid(name, self.location(), problem))?
                {
                    return Ok(Some(text));
                }
            }
        }
        Ok(None)
    }

    /// A number field, `default` when absent; out of `range` is invalid.
    pub fn number(
        &self,
        name: &str,
        default: f64,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<f64> {
        match self.text(name)? {
            None => Ok(default),
            Some(text) => match text.trim().parse::<f64>() {
                Ok(v) if range.contains(&v) => Ok(v),
                _ => Err(Error::invalid(
                    name,
                    self.location(),
                    format!(
                        "'{text}' is not a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )),
            },
        }
    }

    /// A yes/no field (`true`/`false`, `yes`/`no`, `1`/`0`), `false` when
    /// absent.
    pub fn flag(&self, name: &str) -> Result<bool> {
        match self.text(name)?.map(|t| t.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if ["true", "yes", "1", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["false", "no", "0", "off"].contains(&v.as_str()) => Ok(false),
            Some(_) => Err(Error::invalid(
                name,
                self.location(),
                "expected true or false",
            )),
        }
    }

    /// Whether a field [`VaultRecord::text`] could read under `name` is of
    /// a hidden type ([`crate::records::is_hidden_type`]): then its value
    /// is a secret whatever the name says.
    pub fn is_hidden(&self, name: &str) -> bool {
        ["fields", "custom"].iter().any(|section| {
            self.matching(section, name).any(|f| {
                f.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(crate::records::is_hidden_type)
            })
        })
    }

    /// Like [`VaultRecord::text`], kept as a secret (and untrimmed).
    pub fn secret(&self, name: &str) -> Result<Option<Secret>> {
        Ok(self.text(name)?.map(Secret::new))
    }

    /// Sets the field named `change.label` to its value: the field
    /// [`VaultRecord::text`] reads under that name (standard fields by label
    /// then by type, then custom fields the same way), so a standard field
    /// such as a PAM configuration's `clientSecret` or a PAM User's
    /// `privatePEMKey` is written in place whether it carries the name as
    /// its label or only as its type. When no field has the name, a custom
    /// field is added (as `text`, or `secret` for a hidden value).
    pub fn set_custom(&mut self, change: &Change) {
        let value = json!([change.value.as_str()]);
        let named = |key: &str, f: &Value| {
            f.get(key)
                .and_then(Value::as_str)
                .is_some_and(|l| l.eq_ignore_ascii_case(&change.label))
        };
        let dict = &mut self.inner.record_dict;
        for section in ["fields", "custom"] {
            if let Some(Value::Array(fields)) = dict.get_mut(section) {
                let at = fields
                    .iter()
                    .position(|f| named("label", f))
                    .or_else(|| fields.iter().position(|f| named("type", f)));
                if let Some(Value::Object(field)) = at.and_then(|i| fields.get_mut(i)) {
                    field.insert("value".to_owned(), value);
                    return;
                }
            }
        }
        let custom = dict
            .entry("custom".to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !custom.is_array() {
            *custom = Value::Array(Vec::new());
        }
        if let Value::Array(fields) = custom {
            let kind = match change.value {
                FieldValue::Text(_) => "text",
                FieldValue::Secret(_) => "secret",
            };
            fields.push(json!({"type": kind, "label": change.label, "value": value}));
        }
    }

    /// The names (label, or type when it has none; empty when it has
    /// neither) of the standard and custom fields with a value equal to one
    /// of `values`, compared without surrounding spaces: where a record holds
    /// a credential, whatever the field is called.
    pub fn fields_holding(&self, values: &[&str]) -> Vec<String> {
        let wanted: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let mut names = Vec::new();
        for section in ["fields", "custom"] {
            let fields = self
                .inner
                .record_dict
                .get(section)
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            for field in fields {
                let holds = field
                    .get("value")
                    .and_then(Value::as_array)
                    .is_some_and(|items| {
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .any(|item| wanted.contains(&item.trim()))
                    });
                if holds {
                    let name = ["label", "type"]
                        .iter()
                        .filter_map(|key| field.get(*key).and_then(Value::as_str))
                        .find(|name| !name.is_empty())
                        .unwrap_or_default();
                    names.push(name.to_owned());
                }
            }
        }
        names
    }

    fn matching<'a>(&'a self, section: &str, name: &'a str) -> impl Iterator<Item = &'a Value> {
        let fields: &[Value] = self
            .inner
            .record_dict
            .get(section)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let by = move |key: &'static str| {
            fields.iter().filter(move |f| {
                f.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.eq_ignore_ascii_case(name))
            })
        };
        by("label").chain(by("type"))
    }
}

/// The first value of a field as text.
fn field_text(field: &Value) -> std::result::Result<Option<String>, String> {
    let items = match field.get("value") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("its value is {}, expected a list", kind(other))),
    };
    match items.first() {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(format!("holds {}, expected text", kind(other))),
    }
}

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
            .and_then(|f| field_text(f).ok().flatten())
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
mod tests {
    use super::*;

    fn record(dict: Value) -> VaultRecord {
        let Value::Object(map) = dict else {
            panic!("a record is an object")
        };
        VaultRecord {
            inner: SdkRecord {
                uid: "u1".into(),
                title: "t".into(),
                record_dict: map.into_iter().collect(),
                ..SdkRecord::default()
            },
        }
    }

    fn values(record: &VaultRecord, section: &str) -> Vec<Value> {
        record.inner.record_dict[section]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["value"].clone())
            .collect()
    }

    #[test]
    fn the_fields_holding_a_credential_are_named_by_label_else_by_type_in_both_sections() {
        let record = record(json!({
            "fields": [{"type": "login", "value": ["alice"]},
                       {"type": "secret", "label": "clientSecret", "value": [" old "]},
                       {"type": "password", "value": ["old"]}],
            "custom": [{"type": "secret", "label": "client_secret", "value": ["old"]},
                       {"type": "text", "label": "other", "value": ["older"]},
                       {"type": "text", "label": "list", "value": ["x", "old"]},
                       {"value": ["old"]}]
        }));
        assert_eq!(
            record.fields_holding(&["old"]),
            ["clientSecret", "password", "client_secret", "list", ""]
        );
        assert!(record.fields_holding(&["  "]).is_empty());
        assert!(record.fields_holding(&["new"]).is_empty());
    }

    #[test]
    fn a_field_is_written_where_it_is_read_by_label_else_by_type() {
        let mut by_label = record(json!({
            "fields": [{"type": "login", "value": ["alice"]},
                       {"type": "secret", "label": "privatePEMKey", "value": ["old"]}],
            "custom": []
        }));
        by_label.set_custom(&Change::text("privatePEMKey", "new"));
        assert_eq!(
            values(&by_label, "fields"),
            [json!(["alice"]), json!(["new"])]
        );
        assert_eq!(
            by_label.text("privatePEMKey").unwrap().as_deref(),
            Some("new")
        );
        assert!(values(&by_label, "custom").is_empty());

        let mut by_type = record(json!({
            "fields": [{"type": "privatePEMKey", "value": ["old"]}],
            "custom": [{"type": "text", "label": "other", "value": ["x"]}]
        }));
        by_type.set_custom(&Change::text("privatePEMKey", "new"));
        assert_eq!(values(&by_type, "fields"), [json!(["new"])]);
        assert_eq!(values(&by_type, "custom"), [json!(["x"])]);

        // Standard fields come before custom ones, as when reading; a missing
        // field is added as a custom one.
        let mut both = record(json!({
            "fields": [{"type": "Public Key", "value": ["typed"]}],
            "custom": [{"type": "text", "label": "Public Key", "value": ["labelled"]}]
        }));
        both.set_custom(&Change::text("Public Key", "new"));
        assert_eq!(values(&both, "fields"), [json!(["new"])]);
        both.set_custom(&Change::text("absent", "added"));
        assert_eq!(
            values(&both, "custom"),
            [json!(["labelled"]), json!(["added"])]
        );
    }

    #[test]
    fn a_vault_error_shows_its_two_fields_and_never_a_body() {
        let e = KSMRError::HTTPError("Error: out_of_sync, message=revision\nmismatch".into());
        assert_eq!(sdk_error(&e), "out_of_sync: revision mismatch");
        let body = KSMRError::DeserializationError("Invalid JSON response: <html>hello".into());
        let shown = sdk_error(&body);
        assert!(!shown.contains("hello"), "{shown}");
        assert!(shown.contains("not shown"), "{shown}");
    }

    #[test]
    fn only_the_secret_config_values_are_redacted() {
        let dir = std::env::temp_dir().join(format!("vault-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(
            &path,
            r#"{"hostname": "keeper.example", "clientId": "client-id-secret-1", "privateKey": "private-key-secret-1",
                "appKey": "app-key-secret-1", "serverPublicKeyId": "10"}"#,
        )
        .unwrap();
        VaultConfig::load(&path).unwrap();
        let shown = crate::secret::redact(
            "keeper.example 10 client-id-secret-1 private-key-secret-1 app-key-secret-1",
        );
        assert_eq!(shown, "keeper.example 10 [redacted] [redacted] [redacted]");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
