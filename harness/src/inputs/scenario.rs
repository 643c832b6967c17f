//! Scenarios: the Gateway's input as a readable JSON fixture.
//!
//! ```json
//! {
//!   "description": "what the scenario shows",
//!   "params": { "user": "...", "newPassword": "...", "userRecordUid": "...", ... },
//!   "records": [ { "uid": "...", "title": "...", "url": "${API_URL}", ... } ],
//!   "secrets": ["any other value that must never be printed"]
//! }
//! ```
//!
//! `${NAME}` in any string is replaced by a variable set with
//! [`Scenario::var`] (the address of a fake, say). For malformed input,
//! `records_base64` replaces the encoded records, `params_text` replaces the
//! whole JSON object, and `line` replaces the whole stdin line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Parts of keys whose values the leak scan looks for in every output.
const SECRET_KEY_PARTS: [&str; 9] = [
    "password",
    "secret",
    "token",
    "privatekey",
    "private_key",
    "privatepemkey",
    "apikey",
    "api_key",
    "passphrase",
];

/// Key endings that name a setting or an identifier, not a secret
/// (`client_secret_id`, `secret_expiry_days`, `keep_previous_secrets`...).
const NOT_SECRET_SUFFIXES: [&str; 6] = ["_id", "_ids", "id", "_days", "_count", "_title"];
const NOT_SECRET_PREFIXES: [&str; 1] = ["keep_"];

/// Any value holding this is a private key, whatever its key.
const PRIVATE_KEY_MARKER: &str = "PRIVATE KEY-----";

/// Secrets shorter than this are not scanned for: they would match by chance.
const MIN_SCANNED_LEN: usize = 6;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    params: Map<String, Value>,
    #[serde(default)]
    records: Vec<Value>,
    #[serde(default)]
    records_base64: Option<String>,
    #[serde(default)]
    params_text: Option<String>,
    #[serde(default)]
    line: Option<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(skip)]
    vars: BTreeMap<String, String>,
    /// Parameters set by [`Scenario::param`]: literal values (a random
    /// password may hold `${`), applied after substitution.
    #[serde(skip)]
    literal_params: Map<String, Value>,
}

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

impl Scenario {
    /// Loads `fixtures/<name>`, e.g. `scenarios/rest-api/default.json`.
    pub fn load(name: &str) -> Self {
        let path = fixtures_dir().join(name);
        Self::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("scenario {}: {e}", path.display()))
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("not a scenario: {e}"))
    }

    /// Sets `${name}` for every string of the scenario.
    pub fn var(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// Sets or replaces one Gateway parameter, as it is: no `${NAME}` in it
    /// is substituted.
    pub fn param(mut self, name: &str, value: Value) -> Self {
        self.literal_params.insert(name.to_owned(), value);
        self
    }

    /// Sets a field of the record with `uid` (added if missing).
    pub fn record_field(mut self, uid: &str, key: &str, value: Value) -> Self {
        let record = self
            .records
            .iter_mut()
            .find(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            .unwrap_or_else(|| panic!("scenario has no record with uid {uid}"));
        if let Value::Object(map) = record {
            map.insert(key.to_owned(), value);
        }
        self
    }

    /// Adds a record dictionary (sent after the others).
    pub fn record(mut self, dict: Value) -> Self {
        self.records.push(dict);
        self
    }

    /// The params object with variables substituted.
    pub fn params(&self) -> Map<String, Value> {
        let mut params = self.params.clone();
        for value in params.values_mut() {
            self.substitute(value);
        }
        params.extend(self.literal_params.clone());
        params
    }

    /// The record dictionaries with variables substituted.
    pub fn records(&self) -> Vec<Value> {
        let mut records = self.records.clone();
        records.iter_mut().for_each(|r| self.substitute(r));
        records
    }

    /// The Gateway's stdin line: base64 of the params, whose `records` is
    /// base64 of the records array.
    pub fn encode(&self) -> String {
        if let Some(line) = &self.line {
            return self.substituted(line);
        }
        if let Some(text) = &self.params_text {
            return STANDARD.encode(self.substituted(text));
        }
        let mut params = self.params();
        let records = match &self.records_base64 {
            Some(raw) => self.substituted(raw),
            None => STANDARD.encode(Value::Array(self.records()).to_string()),
        };
        params
            .entry("records")
            .or_insert_with(|| Value::String(records));
        STANDARD.encode(Value::Object(params).to_string())
    }

    /// Every value that must never appear in an output: the passwords, every
    /// value under a secret-looking key, the `secrets` list, and the encoded
    /// line and records themselves.
    pub fn secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        let params = self.params();
        let user = params.get("user").and_then(Value::as_str);
        for (key, value) in &params {
            if key == "newPassword" || key == "oldPassword" || looks_secret(key) {
                collect_strings(value, &mut found);
                if let (Some(user), Value::String(password)) = (user, value) {
                    found.push(basic_auth(user, password));
                }
            } else {
                collect_private_keys(value, &mut found);
            }
        }
        for record in self.records() {
            collect_secret_values(&record, &mut found);
            let login = record.get("login").and_then(Value::as_str);
            if let (Some(login), Some(Value::String(password))) = (login, record.get("password")) {
                found.push(basic_auth(login, password));
            }
        }
        found.extend(self.secrets.iter().map(|s| self.substituted(s)));
        let line = self.encode();
        found.push(line);
        found.retain(|s| s.chars().count() >= MIN_SCANNED_LEN);
        found.sort();
        found.dedup();
        found
    }

    fn substituted(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.vars {
            out = out.replace(&format!("${{{name}}}"), value);
        }
        if let Some(start) = out.find("${") {
            let end = out[start..].find('}').map_or(out.len(), |e| start + e + 1);
            panic!(
                "scenario uses {} but no value was set for it",
                &out[start..end]
            );
        }
        out
    }

    fn substitute(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.substituted(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.substitute(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.substitute(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|p| key.contains(p))
        && !NOT_SECRET_SUFFIXES.iter().any(|s| key.ends_with(s))
        && !NOT_SECRET_PREFIXES.iter().any(|p| key.starts_with(p))
}

fn basic_auth(user: &str, password: &str) -> String {
    STANDARD.encode(format!("{user}:{password}"))
}

fn collect_secret_values(value: &Value, found: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, value) in map {
            if looks_secret(key) {
                collect_strings(value, found);
            } else {
                collect_secret_values(value, found);
            }
        }
    }
    collect_private_keys(value, found);
}

/// Strings holding a private key, under any key.
fn collect_private_keys(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains(PRIVATE_KEY_MARKER) => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_private_keys(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_private_keys(v, found)),
        _ => {}
    }
}

fn collect_strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, found)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The forms a secret takes when a program or a server prints it carelessly
/// (see [`crate::encodings::echo_forms`]).
pub fn leak_forms(secret: &str) -> Vec<String> {
    crate::encodings::echo_forms(secret, None)
        .into_iter()
        .map(|(_, form)| form)
        .collect()
}
