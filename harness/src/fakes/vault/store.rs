//! What the fake vault holds: its records (encrypted as the service stores
//! them), their revisions and open rotation transactions, and what it
//! answers for each endpoint (`get_secret`, `update_secret`,
//! `finalize_secret_update`, `rollback_secret_update`), with the
//! service's plain-JSON errors.
//!
//! Why apart: this is the service's logic, the part a test's verdict rests
//! on (what the vault holds after a save, a rollback, a stale revision);
//! the wire (`serve.rs`) and the handle (`mod.rs`) only carry it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::crypto::{Keys, decode_lenient, decrypt, encrypt};
use super::fault::Fault;
use crate::faults::Engine;

/// One stored record.
#[derive(Debug, Clone)]
pub(super) struct StoredRecord {
    pub(super) key: [u8; 32],
    pub(super) data: Value,
    pub(super) revision: i64,
    pub(super) folder: Option<String>,
    /// The state before an open rotation transaction.
    pub(super) before_transaction: Option<(Value, i64)>,
    /// The data and revision before the latest write, for
    /// [`Fault::StaleRead`].
    pub(super) previous: Option<(Value, i64)>,
}

impl StoredRecord {
    /// Remembers the current state before a write changes it.
    pub(super) fn remember(&mut self) {
        self.previous = Some((self.data.clone(), self.revision));
    }

    /// Sets custom field `label` as another writer would: the revision
    /// goes up.
    pub(super) fn edit_custom(&mut self, label: &str, value: &str) {
        self.remember();
        set_custom(&mut self.data, label, value);
        self.revision += 1;
    }
}

pub(super) struct State {
    pub(super) keys: Keys,
    pub(super) records: Vec<(String, StoredRecord)>,
    pub(super) folder_keys: HashMap<String, [u8; 32]>,
    /// The record uids each request named, by its 1-based index (the rest
    /// of each call is the engine's record).
    pub(super) named: HashMap<usize, Vec<String>>,
    /// Every HTTP request and response as seen inside TLS.
    pub(super) wire: Vec<u8>,
    pub(super) records_file: Option<PathBuf>,
    /// Every connection through this proxy to a host that is not this
    /// machine, refused: `host:port` (see [`FakeVault::escapes`]).
    pub(super) escapes: Vec<String>,
    /// How far this vault's clock (its answers' `Date`) is ahead of the
    /// machine's, in seconds; negative: behind.
    pub(super) clock_offset: i64,
    /// Requests that were not API calls (a `HEAD /` reading the clock).
    pub(super) other_requests: Vec<String>,
    /// How such requests are answered.
    pub(super) others: Others,
}

/// How the fake answers a request that is not an API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Others {
    /// 404 with this vault's `Date` (see [`FakeVault::set_clock_offset`]).
    Answer,
    /// 404 with this `Date` header text (`None`: no `Date` at all).
    Date(Option<String>),
    /// The connection is closed without an answer.
    HangUp,
    /// No answer, ever (the connection stays open).
    Hold,
}

impl State {
    /// This vault's time, as its answers' `Date` give it.
    pub(super) fn date(&self) -> String {
        let now = std::time::SystemTime::now();
        let shift = Duration::from_secs(self.clock_offset.unsigned_abs());
        let at = if self.clock_offset >= 0 {
            now + shift
        } else {
            now - shift
        };
        httpdate::fmt_http_date(at)
    }
}

/// What the server tasks share with the handle.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// The calls, what is armed or queued on them, gates, refusal, late
    /// saves: the one transport-fault engine ([`crate::faults`]).
    pub(super) engine: Engine<Fault>,
}

pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn set_custom(data: &mut Value, label: &str, value: &str) {
    let Value::Object(map) = data else { return };
    let custom = map.entry("custom").or_insert_with(|| json!([]));
    let Value::Array(fields) = custom else { return };
    match fields
        .iter_mut()
        .find(|f| f.get("label").and_then(Value::as_str) == Some(label))
    {
        Some(field) => field["value"] = json!([value]),
        None => fields.push(json!({"type": "text", "label": label, "value": [value]})),
    }
}

impl State {
    pub(super) fn find(&self, uid: &str) -> Option<&StoredRecord> {
        self.records.iter().find(|(u, _)| u == uid).map(|(_, r)| r)
    }

    pub(super) fn find_mut(&mut self, uid: &str) -> Option<&mut StoredRecord> {
        self.records
            .iter_mut()
            .find(|(u, _)| u == uid)
            .map(|(_, r)| r)
    }

    /// Rewrites `records.json` atomically with the decrypted records.
    pub(super) fn write_records_file(&self) {
        let Some(path) = &self.records_file else {
            return;
        };
        let records: Vec<Value> = self
            .records
            .iter()
            .map(|(uid, r)| {
                let mut data = r.data.clone();
                if let Value::Object(map) = &mut data {
                    map.insert("uid".into(), json!(uid));
                    map.insert("revision".into(), json!(r.revision));
                }
                data
            })
            .collect();
        let _ = crate::teardown::write_private(
            path,
            &serde_json::to_string_pretty(&records).unwrap_or_default(),
        );
    }

    pub(super) fn encrypted_record(
        &self,
        uid: &str,
        record: &StoredRecord,
        wrap_key: &[u8; 32],
    ) -> Value {
        let data = serde_json::to_vec(&record.data).unwrap_or_default();
        json!({
            "recordUid": uid,
            "recordKey": STANDARD.encode(encrypt(wrap_key, &record.key)),
            "data": STANDARD.encode(encrypt(&record.key, &data)),
            "revision": record.revision,
            "isEditable": true,
            "files": null,
        })
    }

    pub(super) fn get_secret(&self, request: &Value, omit_folders: bool, stale: bool) -> Value {
        let wanted: Option<Vec<&str>> = request
            .get("requestedRecords")
            .and_then(Value::as_array)
            .map(|uids| uids.iter().filter_map(Value::as_str).collect());
        let selected = |uid: &str| wanted.as_ref().is_none_or(|w| w.contains(&uid));
        let mut records = Vec::new();
        let mut folders: HashMap<&str, Vec<Value>> = HashMap::new();
        for (uid, record) in &self.records {
            if !selected(uid) {
                continue;
            }
            let lagging;
            let shown = match (&record.previous, stale) {
                (Some((data, revision)), true) => {
                    lagging = StoredRecord {
                        data: data.clone(),
                        revision: *revision,
                        ..record.clone()
                    };
                    &lagging
                }
                _ => record,
            };
            match &record.folder {
                None => records.push(self.encrypted_record(uid, shown, &self.keys.app_key)),
                Some(folder) => {
                    let key = &self.folder_keys[folder];
                    folders
                        .entry(folder)
                        .or_default()
                        .push(self.encrypted_record(uid, shown, key));
                }
            }
        }
        let folders: Vec<Value> = folders
            .into_iter()
            .map(|(uid, records)| {
                json!({
                    "folderUid": uid,
                    "folderKey": STANDARD.encode(encrypt(&self.keys.app_key, &self.folder_keys[uid])),
                    "records": records,
                })
            })
            .collect();
        let mut answer = json!({"records": records, "folders": folders, "warnings": null});
        if omit_folders && let Value::Object(map) = &mut answer {
            map.remove("folders");
        }
        answer
    }

    pub(super) fn update_secret(&mut self, request: &Value, stale: bool) -> Reply {
        let uid = request
            .get("recordUid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let revision = request.get("revision").and_then(Value::as_i64);
        let rotation = request.get("transactionType").and_then(Value::as_str) == Some("rotation");
        let Some(record) = self.find_mut(uid) else {
            return error(404, "record_not_found", &format!("Record {uid} not found"));
        };
        if stale || revision != Some(record.revision) {
            return error(
                400,
                "out_of_sync",
                "The record has been changed since it was loaded; reload it and try again",
            );
        }
        let Some(encrypted) = request
            .get("data")
            .and_then(Value::as_str)
            .and_then(decode_lenient)
        else {
            return error(400, "invalid_data", "data is not base64");
        };
        let Ok(plain) = decrypt(&record.key, &encrypted) else {
            return error(
                400,
                "invalid_data",
                "data does not decrypt with the record key",
            );
        };
        let Ok(data @ Value::Object(_)) = serde_json::from_slice::<Value>(&plain) else {
            return error(400, "invalid_data", "data is not a JSON object");
        };
        if rotation {
            record.before_transaction = Some((record.data.clone(), record.revision));
        }
        record.remember();
        record.data = data;
        record.revision += 1;
        self.write_records_file();
        Reply::Empty
    }

    pub(super) fn complete(&mut self, request: &Value, rollback: bool) -> Reply {
        let uid = request
            .get("recordUid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(record) = self.find_mut(uid) else {
            return error(404, "record_not_found", &format!("Record {uid} not found"));
        };
        let Some((data, _)) = record.before_transaction.take() else {
            return error(
                400,
                "no_transaction",
                "No rotation transaction is open for this record",
            );
        };
        if rollback {
            record.remember();
            record.data = data;
            record.revision += 1;
        }
        self.write_records_file();
        Reply::Empty
    }
}

/// What to send back.
pub(super) enum Reply {
    /// 200 with an empty body.
    Empty,
    /// 200 with a JSON body encrypted with the transmission key.
    Encrypted(Value),
    /// Any status with a plain body.
    Plain(u16, String),
    /// Close the connection without answering.
    Hangup,
}

pub(super) fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::Plain(
        status,
        json!({
            "path": "https://127.0.0.1/api/rest/sm/v1, POST",
            "additional_info": "",
            "location": "default exception manager - api validation exception",
            "error": code,
            "message": message,
        })
        .to_string(),
    )
}
