//! A world: the fake vault and one use case's fakes, seeded from a
//! [`Rehearsal`]'s records, and runs of the real binary against them.
//!
//! Why one type for every use case: the things a rehearsal and the
//! conformance suite need from a world are the same everywhere (the
//! Gateway's line, the environment that points the binary at the fakes, the
//! services faults can be armed on, every secret the outputs must not hold,
//! and a verdict on the end state). Only seeding, call details and the
//! verdict differ per use case: those are its [`Service`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::Rehearsal;
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, FaultProxy, ProxiedRequest};
use crate::inputs::scenario::leak_forms;
use crate::runner::{Outcome, Run};

/// Secrets shorter than this are not scanned for: they would match by chance
/// (as in [`crate::inputs::scenario`]).
const MIN_SCANNED_LEN: usize = 6;

/// The Gateway's input and notes while a use case's fakes start: the
/// service may point an API record's url at its fake.
#[derive(Debug)]
pub struct Staging {
    pub params: Map<String, Value>,
    pub dicts: Vec<Map<String, Value>>,
    pub notes: Vec<String>,
}

impl Staging {
    /// The dictionary with `uid`.
    pub fn dict_mut(&mut self, uid: &str) -> Option<&mut Map<String, Value>> {
        self.dicts
            .iter_mut()
            .find(|d| d.get("uid").and_then(Value::as_str) == Some(uid))
    }

    pub fn param(&self, name: &str) -> String {
        super::input::text_param(&self.params, name)
    }
}

/// One use case's fakes: seeded from the records, judged by their state.
pub trait Service: Send + Sync {
    /// The name faults and reports use for it: `aws`, `azure`, `okta`, `rest`.
    fn name(&self) -> &'static str;
    /// Every call the fake received, in order, unmasked.
    fn calls(&self) -> Vec<Call>;
    /// The fake, for arming faults.
    fn armable(&self) -> &dyn Armable;
    /// The environment that points the binary at the fake.
    fn env(&self) -> Vec<(String, String)>;
    /// The real service's hosts a third-party script may name, each with
    /// the fake that answers for it (`http://127.0.0.1:PORT`): a script
    /// run routes them through the script proxy ([`FakeVault::route`]) and
    /// is then given none of [`Service::env`]'s
    /// endpoint variables, so its SDK goes where it would on a gateway.
    /// Empty: the script is pointed by [`Service::env`] alone.
    fn hosts(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The ids of the use case's credentials that authenticate now (an
    /// Active AWS key, a listed Azure secret), for the summary line's
    /// `retired` to be checked against; empty where credentials have no
    /// id (the password use cases) or none is tracked.
    fn working(&self) -> Vec<String> {
        Vec::new()
    }
    /// Every secret the fake knows now (issued keys, secrets, tokens).
    fn issued(&self) -> Vec<String>;
    /// What the fake was seeded with, one line each (secrets masked).
    fn seeded(&self) -> Vec<String>;
    /// Whether the end state matches the exit code (see the conformance
    /// suite's rules); `Err` says what contradicts it.
    fn verdict(&self, vault: &FakeVault, out: &Outcome) -> Result<(), String>;
    /// Whether a credential was lost: no working one in the vault, or a
    /// live one no record holds and the output does not name (`harness
    /// grade`'s LOST). `None`: none lost. Only the use cases `harness
    /// grade` takes (the password and key-set rotators) judge it; the
    /// others are never asked.
    fn lost(&self, _vault: &FakeVault, _out: &Outcome) -> Option<String> {
        None
    }
    /// Whether the service's state is as seeded (a dry run's verdict).
    fn unchanged(&self, vault: &FakeVault) -> Result<(), String>;
    /// The end state in sentences (secrets masked).
    fn end_state(&self, vault: &FakeVault) -> Vec<String>;
    /// The end state in one short line, for a matrix cell.
    fn state_line(&self, vault: &FakeVault) -> String;
    /// Whether the Gateway, not the binary, stores the new password (on
    /// exit 0, as `newPassword` in the PAM User record).
    fn gateway_stores_password(&self) -> bool {
        false
    }
    /// For an HTTP password rotator ([`super::password`]): its description
    /// and the fake's state now, for the shared end-to-end suite.
    fn password_rotator(&self) -> Option<super::password::PasswordFacts> {
        None
    }
}

/// One call a service received, and what became of it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The call's name, as faults are armed on it.
    pub call: String,
    /// 1-based occurrence of the call.
    pub nth: usize,
    /// The status sent; `None` when no answer reached the binary.
    pub status: Option<u16>,
    /// The fault applied to it, by name.
    pub fault: Option<String>,
    /// What was asked, for the report (secrets not yet masked).
    pub detail: String,
}

/// The calls a [`FaultProxy`] saw, each described by `describe`.
pub fn proxied_calls(
    proxy: &FaultProxy,
    describe: impl Fn(&ProxiedRequest) -> String,
) -> Vec<Call> {
    let requests = proxy.requests();
    proxy
        .exchanges()
        .into_iter()
        .enumerate()
        .map(|(i, e)| Call {
            call: e.call,
            nth: e.nth,
            status: e.status,
            fault: e.fault.map(|k| k.name().to_owned()),
            detail: requests.get(i).map(&describe).unwrap_or_default(),
        })
        .collect()
}

/// How one run is made.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Pass `--dry-run` to the binary.
    pub dry_run: bool,
    /// The short timeouts of fault runs; `None` for the binary's own.
    pub timing: Option<super::Timing>,
    /// Run the binary under this program and arguments (the benchmark's
    /// measuring wrapper).
    pub wrapper: Option<(PathBuf, Vec<String>)>,
    /// Ask the binary for its JSON summary line (`KEEPER_ROTATOR_OUTPUT=json`);
    /// else the prose line, whatever the harness's own environment says.
    pub json: bool,
    /// More arguments, after `--dry-run`.
    pub args: Vec<String>,
    /// More environment, set last.
    pub env: Vec<(String, String)>,
    /// What stdin gets instead of the Gateway's line.
    pub stdin: Option<Vec<u8>>,
}

impl RunOptions {
    /// A rotation (not a dry run) with the fault runs' short timeouts.
    pub fn timed(timing: super::Timing) -> Self {
        RunOptions {
            timing: Some(timing),
            ..RunOptions::default()
        }
    }
}

/// The fake vault and the use case's fakes, seeded, serving until dropped.
pub struct World {
    pub vault: FakeVault,
    pub service: Box<dyn Service>,
    params: Map<String, Value>,
    dicts: Vec<Map<String, Value>>,
    /// Everything the harness made up or changed (the rehearsal's notes and
    /// the service's).
    pub notes: Vec<String>,
    /// The vault's records as seeded.
    pub vault_before: Vec<Value>,
    user_uid: String,
    /// The binaries' gateway-host locks for this world's runs: its own
    /// private directory, removed when the world is dropped and on a
    /// signal, so that a rehearsal never waits for, or blocks, a real
    /// rotation of the same account on this host, and two worlds never
    /// block each other.
    locks: crate::teardown::PrivateDir,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("service", &self.service.name())
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

impl World {
    /// Starts fresh fakes for `rehearsal`.
    pub fn start(rehearsal: &Rehearsal) -> Result<Self, String> {
        let vault_before: Vec<Value> = rehearsal
            .records
            .iter()
            .map(crate::inputs::commander::KeeperRecord::vault_json)
            .collect();
        let vault = FakeVault::start(&vault_before);
        let mut staging = Staging {
            params: rehearsal.params.clone(),
            dicts: rehearsal.dicts.clone(),
            notes: rehearsal.notes.clone(),
        };
        let service = (rehearsal.use_case.start)(rehearsal, &mut staging)?;
        Ok(Self {
            vault,
            service,
            params: staging.params,
            dicts: staging.dicts,
            notes: staging.notes,
            vault_before,
            user_uid: rehearsal.roles.user.uid.clone(),
            locks: crate::teardown::PrivateDir::new()
                .map_err(|e| format!("cannot make a lock directory for the rehearsal: {e}"))?,
        })
    }

    /// Changes the Gateway's input after the fakes started (a field blanked,
    /// a record left out, the url pointed elsewhere): `change` gets the
    /// params (without `records`) and the record dictionaries. The secrets
    /// and the line follow the input as changed.
    pub fn change_input(
        &mut self,
        change: impl FnOnce(&mut Map<String, Value>, &mut Vec<Map<String, Value>>),
    ) {
        change(&mut self.params, &mut self.dicts);
    }

    /// The PAM User's uid.
    pub fn user_uid(&self) -> &str {
        &self.user_uid
    }

    /// The Gateway's params (without `records`).
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The record dictionaries as sent.
    pub fn dicts(&self) -> &[Map<String, Value>] {
        &self.dicts
    }

    /// A param as text.
    pub fn param(&self, name: &str) -> String {
        super::input::text_param(&self.params, name)
    }

    /// The Gateway's stdin line: base64 of the params, whose `records` is
    /// base64 of the dictionaries.
    pub fn line(&self) -> String {
        gateway_line(&self.params, &self.dicts)
    }

    /// What a run reads on stdin: the options' own bytes, else the line
    /// and its newline, as the Gateway writes it.
    pub fn stdin(&self, options: &RunOptions) -> Vec<u8> {
        options.stdin.clone().unwrap_or_else(|| {
            let mut line = self.line().into_bytes();
            line.push(b'\n');
            line
        })
    }

    /// The services faults can be armed on: the use case's, then the vault.
    pub fn services(&self) -> Vec<(&'static str, &dyn Armable)> {
        vec![
            (self.service.name(), self.service.armable()),
            ("vault", &self.vault as &dyn Armable),
        ]
    }

    /// The environment of a run: the vault's and the service's.
    /// Every proxy variable points at the fake vault, which refuses any
    /// connection off this machine ([`FakeVault::contained_env`]).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = self.vault.contained_env();
        env.extend(self.service.env());
        env
    }

    /// Every value no output may hold: the passwords and every value under
    /// a secret-named key in the input, the input line itself, every secret
    /// the fakes know, and every secret-named field in the vault, before and
    /// now.
    pub fn secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (key, value) in &self.params {
            if key == "newPassword" || key == "oldPassword" || secret_name(key) {
                strings(value, &mut found);
            }
        }
        for dict in &self.dicts {
            secret_values(&Value::Object(dict.clone()), &mut found);
        }
        found.push(self.line());
        found.extend(self.service.issued());
        let now: Vec<Value> = self
            .vault_before
            .iter()
            .filter_map(|r| r.get("uid").and_then(Value::as_str))
            .filter_map(|uid| self.vault.record(uid))
            .collect();
        // Every field of a hidden type, whatever its label; but a value the
        // records also hold in clear under a name that is not a secret's
        // (a PAM configuration's hidden `clientId`, the same id in an admin
        // record's text field) is not a secret of this vault.
        let mut clear = Vec::new();
        for record in &self.vault_before {
            vault_clear_values(record, &mut clear);
        }
        for record in self.vault_before.iter().chain(&now) {
            vault_secrets(record, &mut found, &clear);
        }
        pem_lines(&mut found);
        found.retain(|s| s.chars().count() >= MIN_SCANNED_LEN);
        found.sort();
        found.dedup();
        found
    }

    /// Replaces every secret (in any printed form) with `********`.
    pub fn mask(&self, text: &str) -> String {
        mask(text, &self.secrets())
    }

    /// Runs `bin` once. Never panics on a leak: see [`Outcome::find_leak`]
    /// with [`World::secrets`].
    pub fn run(&self, bin: &Path, options: &RunOptions) -> Outcome {
        let mut run = Run::new(bin).stdin(self.stdin(options)).env(
            "KEEPER_ROTATOR_LOCK_DIR",
            self.locks.path().display().to_string(),
        );
        if let Some((program, args)) = &options.wrapper {
            run = run.wrapped(program, args.clone());
        }
        if options.dry_run {
            run = run.arg("--dry-run");
        }
        for key in crate::fakes::vault::PLAIN_PROXY_VARS {
            run = run.env_remove(key);
        }
        // The administrator's own AWS settings stay outside the rehearsal: a
        // per-service endpoint (`AWS_ENDPOINT_URL_IAM`) outranks the fake's
        // `AWS_ENDPOINT_URL`, and `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`
        // drops it, either of which would send the rotation to the real IAM.
        // So do extra CA certificates (`SSL_CERT_DIR`): the fakes' test CA
        // comes through `SSL_CERT_FILE`, and a real CA would let a client
        // that reached a real host finish its handshake.
        for (key, _) in std::env::vars_os() {
            if let Some(key) = key
                .to_str()
                .filter(|k| k.starts_with("AWS_") || *k == "SSL_CERT_DIR")
            {
                run = run.env_remove(key);
            }
        }
        for (key, value) in self.env() {
            run = run.env(&key, value);
        }
        run = run.env(
            common::summary::OUTPUT_VAR,
            if options.json { "json" } else { "text" },
        );
        for arg in &options.args {
            run = run.arg(arg.clone());
        }
        for (key, value) in &options.env {
            run = run.env(key, value.clone());
        }
        match &options.timing {
            Some(timing) => {
                run = run
                    .env(
                        "KEEPER_ROTATOR_REQUEST_TIMEOUT",
                        timing.request_timeout.as_secs().to_string(),
                    )
                    .kill_after(timing.kill_after);
            }
            None => run = run.kill_after(Duration::from_secs(240)),
        }
        run.run()
    }

    /// Whether the end state matches the outcome. A dry run must leave
    /// everything as seeded and exit 0, 1 or 2.
    pub fn verdict(&self, out: &Outcome, dry_run: bool) -> Result<(), String> {
        self.contained()?;
        if !dry_run {
            return self.service.verdict(&self.vault, out);
        }
        if !matches!(out.code, Some(0..=2)) {
            return Err(format!(
                "a dry run exited {}; it can only report 0, 1 or 2",
                super::exit_text(out.code)
            ));
        }
        self.service.unchanged(&self.vault)?;
        for before in &self.vault_before {
            let uid = before
                .get("uid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut now = self.vault.record(uid).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut now {
                map.insert("uid".into(), json!(uid));
            }
            if &now != before {
                return Err(format!("a dry run changed the vault record {uid}"));
            }
        }
        Ok(())
    }

    /// Whether the binary stayed on this machine: any connection it tried
    /// to a host that is not a loopback address was refused, and fails the
    /// rehearsal, whatever the exit code says (a rehearsal that reached, or
    /// tried to reach, a real service proves nothing and may have changed
    /// a real credential).
    pub fn contained(&self) -> Result<(), String> {
        let escapes = self.vault.escapes();
        if escapes.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the binary tried to reach {} outside this machine; the harness refused it, so this \
             is not a rehearsal: some field the harness did not point at a fake names a real \
             service (check the records' urls and hosts)",
            escapes
                .iter()
                .map(|e| format!("'{}'", common::log::escape_controls(e)))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// The vault record `uid` now, with its uid (as seeded records carry it).
    pub fn vault_now(&self, uid: &str) -> Option<Value> {
        let mut record = self.vault.record(uid)?;
        if let Value::Object(map) = &mut record {
            map.insert("uid".into(), json!(uid));
        }
        Some(record)
    }
}

/// The Gateway's stdin line for `params` and `dicts`: base64 of the
/// params, whose `records` is base64 of the dictionaries.
pub fn gateway_line(params: &Map<String, Value>, dicts: &[Map<String, Value>]) -> String {
    let mut params = params.clone();
    let records = STANDARD
        .encode(Value::Array(dicts.iter().cloned().map(Value::Object).collect()).to_string());
    params.insert("records".into(), Value::String(records));
    STANDARD.encode(Value::Object(params).to_string())
}

/// The keys of a record dictionary a binary could read `name` from, in the
/// order it tries them: the binaries' own lookup
/// ([`common::records::lookup_order`]: ignoring case, then numbered
/// duplicates), over the dictionary's fields (`uid` and `title` are not
/// fields).
pub fn lookup_keys(dict: &Map<String, Value>, name: &str) -> Vec<String> {
    let keys: Vec<&str> = dict
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "uid" && *k != "title")
        .collect();
    common::records::lookup_order(keys.iter().copied(), name)
        .into_iter()
        .map(|i| keys[i].to_owned())
        .collect()
}

/// The value a binary reads under `name`: the first non-blank one in
/// [`lookup_keys`] order, as text (a list of one value is that value).
/// `uid` and `title` are read as themselves.
pub fn lookup_text(dict: &Map<String, Value>, name: &str) -> Option<String> {
    let as_text = |value: &Value| -> Option<String> {
        let value = match value {
            Value::Array(items) if items.len() == 1 => &items[0],
            other => other,
        };
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    if name == "uid" || name == "title" {
        return dict.get(name).and_then(as_text);
    }
    lookup_keys(dict, name)
        .iter()
        .filter_map(|k| dict.get(k))
        .find(|v| !common::records::is_blank(v))
        .and_then(as_text)
}

/// Points every field a binary could read `name` from at `to` (see
/// [`lookup_keys`]: a custom field labelled `URL` or `url2` is read as
/// `url`), or adds `name` when there is none. Returns the keys set.
pub fn repoint(dict: &mut Map<String, Value>, name: &str, to: &str) -> Vec<String> {
    replace_field(dict, name, &Value::String(to.to_owned()))
}

/// Sets every field a binary could read `name` from to `to` (see
/// [`lookup_keys`]), or adds `name` when there is none. Returns the keys set.
pub fn replace_field(dict: &mut Map<String, Value>, name: &str, to: &Value) -> Vec<String> {
    let mut keys = lookup_keys(dict, name);
    if keys.is_empty() {
        keys.push(name.to_owned());
    }
    for key in &keys {
        dict.insert(key.clone(), to.clone());
    }
    keys
}

/// Whether `url` names this machine (a loopback address): where a
/// repointed url must lead before the binary runs.
/// A url from a record, for a note or an error: scheme, host, port and path
/// only (`user:pass@` and `?api_key=` stay out of the report), as the
/// binaries show urls.
pub fn shown_url(url: &str) -> String {
    url::Url::parse(url.trim()).map_or_else(
        |_| "a value that is not a URL".into(),
        |u| common::http::display_url(&u),
    )
}

pub fn is_loopback_url(url: &str) -> bool {
    url::Url::parse(url.trim()).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    })
}

/// Whether `id` appears in the binary's output.
pub fn named(out: &Outcome, id: &str) -> bool {
    !id.is_empty() && (out.stderr.contains(id) || out.stdout.contains(id))
}

/// Replaces every form of every secret with `********`, longest first (a
/// secret may contain another).
/// The binary's error and warning lines of `stderr`, trimmed and masked:
/// what it told the administrator (the instruction of an exit 3 or 4).
pub fn told(stderr: &str, secrets: &[String]) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(": error: ") || l.trim_start().starts_with("WARN"))
        .map(|l| mask(l.trim(), secrets))
        .collect()
}

pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut forms: Vec<String> = secrets.iter().flat_map(|s| leak_forms(s)).collect();
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    let mut out = text.to_owned();
    for form in forms.iter().filter(|f| !f.is_empty()) {
        out = out.replace(form.as_str(), "********");
    }
    out
}

fn strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => found.push(s.clone()),
        Value::Number(n) => found.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, found)),
        Value::Object(map) => map.values().for_each(|v| strings(v, found)),
        Value::Null | Value::Bool(_) => {}
    }
}

/// Whether a field or key name says its value is secret: the binaries'
/// rule ([`common::records::names_a_secret`]), and a private key's field
/// (`privatePEMKey`, which rotate-ssh-user registers itself).
fn secret_name(key: &str) -> bool {
    common::records::names_a_secret(key) || key.to_ascii_lowercase().contains("pemkey")
}

/// Values under secret-named keys, at any depth (as the binaries' redactor
/// registers them).
fn secret_values(value: &Value, found: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, value) in map {
            if secret_name(key) {
                strings(value, found);
            } else {
                secret_values(value, found);
            }
        }
    }
}

/// The lines of every PEM block among `found` (a private key's fragment
/// leaks as surely as the whole key), added to it.
pub(crate) fn pem_lines(found: &mut Vec<String>) {
    let lines: Vec<String> = found
        .iter()
        .filter(|s| s.contains("-----BEGIN"))
        .flat_map(|s| s.lines())
        .map(str::trim)
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    found.extend(lines);
}

/// The values of a vault record's secret fields: every field of a hidden
/// type (`password`, `secret`, `pinCode`, ...), whatever its label, and
/// every field whose name (label, else type) says secret
/// ([`crate::inputs::commander::Field::is_secret`], the report's rule too).
fn vault_secrets(record: &Value, found: &mut Vec<String>, clear: &[String]) {
    for field in vault_fields(record) {
        if !field.is_secret() {
            continue;
        }
        let named = secret_name(field.key());
        let mut values = Vec::new();
        field.value.iter().for_each(|v| strings(v, &mut values));
        found.extend(values.into_iter().filter(|v| named || !clear.contains(v)));
    }
}

/// The values a vault record holds in clear: in fields neither of a hidden
/// type nor named like a secret.
fn vault_clear_values(record: &Value, found: &mut Vec<String>) {
    for field in vault_fields(record) {
        if !field.is_secret() {
            field.value.iter().for_each(|v| strings(v, found));
        }
    }
}

/// A vault record's fields, standard then custom, as typed fields.
pub(crate) fn vault_fields(record: &Value) -> Vec<crate::inputs::commander::Field> {
    let mut out = Vec::new();
    for section in ["fields", "custom"] {
        for field in record
            .get(section)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = field.get("type").and_then(Value::as_str).unwrap_or("text");
            let label = field.get("label").and_then(Value::as_str);
            let value = field
                .get("value")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            out.push(crate::inputs::commander::Field::new(kind, label, value));
        }
    }
    out
}

/// The Gateway dictionary keys of a vault record's secret fields (named as
/// [`crate::inputs::commander::KeeperRecord::gateway_dict`] names them: label, else
/// type, numbered on a clash), so the input can be masked by field, not
/// only by value (a 4-digit PIN is too short to be looked for).
pub fn secret_keys(record: &Value) -> Vec<String> {
    let mut taken = Map::new();
    taken.insert("uid".into(), Value::Null);
    taken.insert("title".into(), Value::Null);
    let mut keys = Vec::new();
    for field in vault_fields(record) {
        let key = crate::inputs::commander::numbered_key(&taken, field.key());
        taken.insert(key.clone(), Value::Null);
        if field.is_secret() {
            keys.push(key);
        }
    }
    keys
}

/// A deterministic UUID-shaped id derived from `seed`: the same record gives
/// the same made-up ids on every run.
pub fn derived_uuid(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("keeper-rotators rehearsal {seed}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The password the account has now, in words: for the verdict and the end
/// state of the binaries whose account the Gateway updates.
pub fn which_password(now: Option<&str>, old: &str, new: &str) -> &'static str {
    match now {
        Some(now) if now == new => "the new password (the Gateway's newPassword)",
        Some(now) if now == old => "the old password",
        Some(_) => "a password nobody has",
        None => "no account",
    }
}
