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

/// Keys whose values the leak scan looks for in every output.
const SECRET_KEY_PARTS: [&str; 8] = [
    "password",
    "secret",
    "token",
    "privatekey",
    "private_key",
    "apikey",
    "api_key",
    "passphrase",
];

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

    /// Sets or replaces one Gateway parameter.
    pub fn param(mut self, name: &str, value: Value) -> Self {
        self.params.insert(name.to_owned(), value);
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

    /// The params object with variables substituted.
    pub fn params(&self) -> Map<String, Value> {
        let mut params = self.params.clone();
        for value in params.values_mut() {
            self.substitute(value);
        }
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
        for (key, value) in self.params() {
            if key == "newPassword" || key == "oldPassword" || looks_secret(&key) {
                collect_strings(&value, &mut found);
            }
        }
        for record in self.records() {
            collect_secret_values(&record, &mut found);
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
}

fn collect_strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => found.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, found)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The forms a secret takes when a program prints it carelessly, or a
/// server echoes it into an answer a program prints: as is, JSON-escaped
/// (as serde, PHP, Gson and .NET write it), HTML-escaped, URL-encoded.
pub fn leak_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let json = Value::String(secret.to_owned()).to_string();
    let inner = json[1..json.len() - 1].to_owned();
    let unicode = |c: char, upper: bool| -> String {
        let mut units = [0u16; 2];
        c.encode_utf16(&mut units)
            .iter()
            .map(|u| {
                if upper {
                    format!("\\u{u:04X}")
                } else {
                    format!("\\u{u:04x}")
                }
            })
            .collect()
    };
    // PHP's json_encode: '/' as '\/', non-ASCII as lowercase \u escapes.
    forms.push(
        inner
            .chars()
            .map(|c| match c {
                '/' => "\\/".to_owned(),
                c if !c.is_ascii() => unicode(c, false),
                c => c.to_string(),
            })
            .collect(),
    );
    // Gson: < > & = ' as lowercase \u escapes.
    forms.push(
        inner
            .chars()
            .map(|c| {
                if "<>&='".contains(c) {
                    unicode(c, false)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    );
    // .NET System.Text.Json: < > & ' + ` " and non-ASCII as uppercase.
    forms.push(
        secret
            .chars()
            .map(|c| {
                if !c.is_ascii() || "<>&'+`\"".contains(c) {
                    unicode(c, true)
                } else if c == '\\' {
                    "\\\\".to_owned()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    );
    forms.push(
        secret
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;"),
    );
    forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    forms.push(inner);
    let url: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    forms.push(url);
    forms.sort();
    forms.dedup();
    forms
}
