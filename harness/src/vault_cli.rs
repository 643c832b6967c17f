//! `harness vault ...`: serve the fake vault standalone, and read or write a
//! record through `common::vault` (the same code the rotators use) with
//! whatever KSM config the environment names: the fake's or a real Gateway's.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::deadline::Deadline;
use common::vault::{Change, Vault};
use common::{Error, Secret};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fakes::vault::FakeVault;

/// Runs the fake vault on the records of `files` until the process is
/// killed. The files are read as `harness run` reads them (a Commander
/// export, records, arrays of records: [`crate::inputs::commander`]); a
/// scenario is the Gateway's input, not a vault, and is refused.
pub fn serve(files: &[PathBuf], dir: &Path, port: u16) -> Result<(), String> {
    let loaded = crate::inputs::commander::load(files)?;
    if loaded.scenario.is_some() {
        return Err(
            "a scenario file is the Gateway's input, not a vault: give record files \
                    (a Commander export, records or arrays of records)"
                .into(),
        );
    }
    let records: Vec<Value> = loaded.records.iter().map(|r| r.vault_json()).collect();
    let vault = FakeVault::start_in(dir, &records, port)?;
    #[allow(clippy::print_stdout, reason = "the port is the command's output")]
    {
        println!("{}", vault.port());
    }
    loop {
        std::thread::park();
    }
}

/// A short fingerprint of a secret: enough to compare, nothing to reuse.
pub fn fingerprint(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Reads `fields` of record `uid`. Text is shown, its control characters
/// escaped; secrets (a field of a hidden type, whatever its label, or a
/// name that says secret) only as a fingerprint.
pub fn get(uid: &str, fields: &[String], timeout: Duration) -> Result<String, Error> {
    let mut vault = Vault::open_default(Deadline::after(timeout))?;
    let record = vault.fetch(uid)?;
    let e = common::log::escape_controls;
    let mut out = format!(
        "record {} '{}' (type {}, revision {})\n",
        e(record.uid()),
        e(record.title()),
        e(record.record_type()),
        record.revision().unwrap_or_default()
    );
    for name in fields {
        let shown = if common::records::names_a_secret(name) || record.is_hidden(name) {
            record
                .secret(name)?
                .map(|s| format!("secret {}", fingerprint(s.expose())))
        } else {
            record.text(name)?.map(|t| e(&t))
        };
        out.push_str(&format!(
            "{}: {}\n",
            e(name),
            shown.unwrap_or_else(|| "(empty)".into())
        ));
    }
    Ok(out)
}

/// Sets custom fields of record `uid` from stdin: a JSON list of
/// `{"label", "value", "secret": bool}`.
pub fn set(uid: &str, timeout: Duration) -> Result<String, Error> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| Error::Input(format!("cannot read stdin: {e}")))?;
    let items: Vec<Value> = serde_json::from_str(&input)
        .map_err(|e| Error::Input(format!("stdin is not a JSON list of changes: {e}")))?;
    let mut changes = Vec::new();
    for item in &items {
        let label = item.get("label").and_then(Value::as_str);
        let value = item.get("value").and_then(Value::as_str);
        let (Some(label), Some(value)) = (label, value) else {
            return Err(Error::Input("each change needs a label and a value".into()));
        };
        if item.get("secret").and_then(Value::as_bool) == Some(true) {
            changes.push(Change::secret(label, &Secret::new(value)));
        } else {
            changes.push(Change::text(label, value));
        }
    }
    let mut vault = Vault::open_default(Deadline::after(timeout))?;
    vault.update(uid, &changes)?;
    Ok(format!("saved {} field(s) on record {uid}", changes.len()))
}
