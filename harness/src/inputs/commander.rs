//! Keeper records as an administrator can produce them, turned into what the
//! vault stores and what the Gateway sends.
//!
//! Why: a rehearsal is only worth something if it runs on the administrator's
//! own record layout (their labels, their field types, their duplicates), not
//! on ours. So the harness reads the files Keeper's own tools write, and
//! derives both sides from the same records: the vault's record JSON (for the
//! fake vault) and the Gateway's record dictionaries (for the binary's input).
//!
//! Accepted shapes, per file (several files may be given; a file may also hold
//! several JSON values one after the other, as `get … --format json` appended
//! to one file does):
//!
//! - **a typed record**: `{"type", "title", "fields": [...], "custom": [...]}`
//!   with its uid as `uid` or `record_uid`. This is what Commander's
//!   `get UID --format json` prints for a v3 record (its `record_uid`,
//!   `title`, then the record's own data: `type`, `fields`, `custom`,
//!   `notes`) and what the fake vault and `harness vault serve` hold;
//! - **an array** of such records, or of Commander export records;
//! - **Commander's JSON export** (`export --format json`): `{"records": [...]}`,
//!   each record with `uid`, `title`, `$type`, `login`, `password`,
//!   `login_url`, `custom_fields` (a dictionary keyed `$type:label`, `$type`,
//!   or a bare label) and, for record types that are not Commander's standard
//!   ones (every `pam*` type), `schema`: the record type's own fields, as
//!   `$type` or `$type:label`;
//! - **the project's scenario JSON** (`fixtures/scenarios/`): the Gateway's
//!   `params` and its `records` dictionaries, used as given.
//!
//! How an export is read back into fields (Commander's exporter,
//! `keepercommander/importer/imp_exp.py` and `importer/json/json.py`):
//! `login`, `password` and `login_url` are the first `login`, `password` and
//! unlabelled `url` fields; every other field is in `custom_fields`; a field
//! holding one value is written as that value; empty fields of the record
//! type's own are left out; two fields with one key are merged into a list.
//! So here: a `schema` entry takes the first unused field of its type and
//! label (an empty one if none is left: the export dropped it), in schema
//! order, into `fields`; everything else goes to `custom`, in file order. A
//! list under one key becomes one field per element. Without a `schema`,
//! `login`, `password` and `login_url` are the standard fields.
//!
//! The Gateway's dictionaries follow its contract (`../shared/README.md`,
//! from Keeper's "Inputs and Outputs" page): `uid`, `title`, then one key per
//! field, standard fields first, then custom: the field's label, or its type
//! when it has no label, with a number appended when the key already exists
//! (`url`, `url2`, `url3`). What the contract does not say, and this harness
//! decides: a field with one value is sent as that value, an empty field as
//! `""`, a field with several values as a list (`common::records` reads all
//! three).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// One field of a Keeper record.
#[derive(Clone, PartialEq)]
pub struct Field {
    /// The field type: `login`, `password`, `text`, `secret`, `url`, ...
    pub kind: String,
    /// The label; `None` when the field has none (or an empty one).
    pub label: Option<String>,
    /// The values, as the vault stores them.
    pub value: Vec<Value>,
}

impl Field {
    pub fn new(kind: &str, label: Option<&str>, value: Vec<Value>) -> Self {
        Self {
            kind: kind.to_owned(),
            label: label.filter(|l| !l.is_empty()).map(str::to_owned),
            value,
        }
    }

    /// The dictionary key the Gateway gives this field before numbering:
    /// the label, else the type.
    pub fn key(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.kind)
    }

    /// Whether the value must never be shown: by type (`password`,
    /// `secret`, ...) or by a name that says so (see
    /// [`common::records::names_a_secret`]).
    ///
    /// A field of a text type whose every value is a flag (`TRUE`, `false`:
    /// see [`is_flag`]) is a setting whatever its name says
    /// (`Private Key Rotate`, `password_hash_locally`), and shown.
    pub fn is_secret(&self) -> bool {
        if is_hidden_type(&self.kind) {
            return true;
        }
        let named = common::records::names_a_secret(&self.kind)
            || self
                .label
                .as_deref()
                .is_some_and(common::records::names_a_secret);
        let a_setting = !self.value.is_empty() && self.value.iter().all(is_flag);
        named && !a_setting
    }

    /// The first value as text, if it is text (or a number or boolean).
    pub fn text(&self) -> Option<String> {
        match self.value.first()? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The value as the Gateway sends it: one value as itself, none as
    /// `""`, several as a list.
    pub fn gateway_value(&self) -> Value {
        match self.value.as_slice() {
            [] => Value::String(String::new()),
            [one] => one.clone(),
            many => Value::Array(many.to_vec()),
        }
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the value: it may be a secret.
        f.debug_struct("Field")
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("values", &self.value.len())
            .finish()
    }
}

/// A setting's on/off value: a boolean, or `true` or `false` in any case
/// (`TRUE`, `False`). No secret is one of these two words.
pub fn is_flag(value: &Value) -> bool {
    match value {
        Value::Bool(_) => true,
        Value::String(s) => ["true", "false"]
            .iter()
            .any(|flag| s.trim().eq_ignore_ascii_case(flag)),
        _ => false,
    }
}

/// Whether Keeper hides fields of this type: `password`, `secret`, ...
/// ([`common::records::is_hidden_type`], the one list).
pub fn is_hidden_type(kind: &str) -> bool {
    common::records::is_hidden_type(kind)
}

/// One Keeper record.
#[derive(Debug, Clone, PartialEq)]
pub struct KeeperRecord {
    pub uid: String,
    /// The record type: `pamUser`, `login`, `pamAwsConfiguration`, ...
    pub kind: String,
    pub title: String,
    /// The record type's own fields.
    pub fields: Vec<Field>,
    /// Custom fields.
    pub custom: Vec<Field>,
    /// The file gave no uid, so the harness made one up from the title.
    pub uid_made_up: bool,
    /// The shared folder the fake vault keeps the record in (a typed
    /// record's `folder`, as `harness vault serve` writes it back); `None`:
    /// shared with the application directly.
    pub folder: Option<String>,
}

impl KeeperRecord {
    /// Every field, standard first, as the Gateway walks them.
    pub fn all_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().chain(&self.custom)
    }

    /// The first field whose label, else type, is `name` (ignoring case),
    /// standard fields first, as `common::vault` looks fields up.
    pub fn field(&self, name: &str) -> Option<&Field> {
        let by = |labelled: bool| {
            self.all_fields().find(move |f| {
                if labelled {
                    f.label
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case(name))
                } else {
                    f.kind.eq_ignore_ascii_case(name)
                }
            })
        };
        by(true).or_else(|| by(false))
    }

    /// The first non-empty text of the field named `name`.
    pub fn text(&self, name: &str) -> Option<String> {
        let matches = |f: &&Field| {
            f.label
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(name))
                || (f.label.is_none() && f.kind.eq_ignore_ascii_case(name))
        };
        self.all_fields()
            .filter(matches)
            .find_map(Field::text)
            .or_else(|| self.field(name).and_then(Field::text))
    }

    /// The record as the vault stores it (and as the fake vault takes it).
    pub fn vault_json(&self) -> Value {
        let fields = |list: &[Field]| -> Vec<Value> {
            list.iter()
                .map(|f| {
                    let mut field = Map::new();
                    field.insert("type".into(), json!(f.kind));
                    if let Some(label) = &f.label {
                        field.insert("label".into(), json!(label));
                    }
                    field.insert("value".into(), Value::Array(f.value.clone()));
                    Value::Object(field)
                })
                .collect()
        };
        let mut record = json!({
            "uid": self.uid,
            "type": self.kind,
            "title": self.title,
            "fields": fields(&self.fields),
            "custom": fields(&self.custom),
        });
        if let (Some(folder), Value::Object(map)) = (&self.folder, &mut record) {
            map.insert("folder".into(), json!(folder));
        }
        record
    }

    /// The record's dictionary in the Gateway's input: `uid`, `title`, then
    /// one key per field (label, else type; `key2`, `key3` on a clash).
    pub fn gateway_dict(&self) -> Map<String, Value> {
        let mut dict = Map::new();
        dict.insert("uid".into(), json!(self.uid));
        dict.insert("title".into(), json!(self.title));
        for field in self.all_fields() {
            let key = numbered_key(&dict, field.key());
            dict.insert(key, field.gateway_value());
        }
        dict
    }

    /// A record rebuilt from a Gateway dictionary (scenario input), so the
    /// fake vault can hold it: `login`, `password` and `url` become the
    /// standard fields of those types, every other key a custom field
    /// labelled with the key (`secret` when the key names a secret, else
    /// `text`).
    pub fn from_gateway_dict(dict: &Map<String, Value>, kind: &str) -> Result<Self, String> {
        let uid = dict
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.trim().is_empty())
            .ok_or("a record dictionary has no uid")?
            .to_owned();
        let title = dict
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut record = Self {
            uid,
            kind: kind.to_owned(),
            title,
            fields: Vec::new(),
            custom: Vec::new(),
            uid_made_up: false,
            folder: None,
        };
        for (key, value) in dict {
            if key == "uid" || key == "title" {
                continue;
            }
            let value = vault_value(value.clone());
            if ["login", "password", "url"].contains(&key.as_str()) {
                record.fields.push(Field::new(key, None, value));
            } else {
                let kind = if common::records::names_a_secret(key) {
                    "secret"
                } else {
                    "text"
                };
                record.custom.push(Field::new(kind, Some(key), value));
            }
        }
        Ok(record)
    }
}

/// `key`, or `key2`, `key3`, ... : the first not yet in `dict`.
pub fn numbered_key(dict: &Map<String, Value>, key: &str) -> String {
    if !dict.contains_key(key) {
        return key.to_owned();
    }
    (2..)
        .map(|n| format!("{key}{n}"))
        .find(|k| !dict.contains_key(k))
        .unwrap_or_else(|| unreachable!("an unbounded range always yields a free key"))
}

/// A Gateway value (or an export's) as the vault's value list.
fn vault_value(value: Value) -> Vec<Value> {
    match value {
        Value::Null => Vec::new(),
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::Array(items) => items,
        other => vec![other],
    }
}

/// Which shape a file (or one JSON value in it) had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// One typed record (`get --format json`, the vault's JSON).
    Record,
    /// A JSON array of records.
    Array,
    /// Commander's `export --format json`.
    CommanderExport,
    /// The project's scenario JSON.
    Scenario,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Record => "one record (Commander's get --format json, or the vault's JSON)",
            Self::Array => "a JSON array of records",
            Self::CommanderExport => "Commander's JSON export ({\"records\": [...]})",
            Self::Scenario => "the project's scenario JSON (params and Gateway dictionaries)",
        })
    }
}

/// A scenario file's Gateway input, used as given.
#[derive(Debug, Clone)]
pub struct ScenarioInput {
    pub description: String,
    /// The Gateway's params, without `records`.
    pub params: Map<String, Value>,
    /// The record dictionaries, in the order the scenario sends them.
    pub dicts: Vec<Map<String, Value>>,
}

/// What the files held.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Every record of the record files, in file order (a scenario's
    /// dictionaries are in [`Loaded::scenario`]).
    pub records: Vec<KeeperRecord>,
    /// Set when a file was a scenario (at most one may be).
    pub scenario: Option<ScenarioInput>,
    /// Each file read, its shape and how many records it gave.
    pub sources: Vec<Source>,
}

/// One file read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Source {
    pub path: PathBuf,
    pub shape: Shape,
    pub records: usize,
}

/// Reads every file (see the module documentation for the shapes).
pub fn load(paths: &[PathBuf]) -> Result<Loaded, String> {
    let mut texts = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        texts.push((path.clone(), text));
    }
    let named: Vec<(&Path, &str)> = texts
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    parse_files(&named)
}

/// [`load`] on texts already read: `(name, text)` pairs.
pub fn parse_files(files: &[(&Path, &str)]) -> Result<Loaded, String> {
    let mut loaded = Loaded {
        records: Vec::new(),
        scenario: None,
        sources: Vec::new(),
    };
    for (path, text) in files {
        let at = |e: String| format!("{}: {e}", path.display());
        let mut values = Vec::new();
        for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            values.push(value.map_err(|e| at(format!("not JSON: {e}")))?);
        }
        if values.is_empty() {
            return Err(at("holds no JSON".into()));
        }
        for value in values {
            let (shape, records, scenario) = parse_value(value).map_err(at)?;
            if let Some(scenario) = scenario {
                if loaded.scenario.is_some() {
                    return Err(at(
                        "a second scenario: give at most one scenario file per run".into(),
                    ));
                }
                loaded.scenario = Some(scenario);
            }
            let count = match &loaded.scenario {
                Some(scenario) if shape == Shape::Scenario => scenario.dicts.len(),
                _ => records.len(),
            };
            loaded.sources.push(Source {
                path: path.to_path_buf(),
                shape,
                records: count,
            });
            loaded.records.extend(records);
        }
    }
    let mut seen = HashSet::new();
    for record in &loaded.records {
        if !seen.insert(record.uid.clone()) {
            return Err(format!(
                "two records have the uid {} (the second is '{}'); a vault holds each record once",
                record.uid, record.title
            ));
        }
    }
    if loaded.records.is_empty() && loaded.scenario.is_none() {
        return Err("the files hold no record".into());
    }
    Ok(loaded)
}

type Parsed = (Shape, Vec<KeeperRecord>, Option<ScenarioInput>);

fn parse_value(value: Value) -> Result<Parsed, String> {
    match value {
        Value::Array(items) => {
            let records = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| parse_record(item).map_err(|e| format!("record [{i}]: {e}")))
                .collect::<Result<_, _>>()?;
            Ok((Shape::Array, records, None))
        }
        Value::Object(map) if map.contains_key("params") => {
            let scenario = parse_scenario(map)?;
            Ok((Shape::Scenario, Vec::new(), Some(scenario)))
        }
        Value::Object(mut map)
            if map.get("records").is_some_and(Value::is_array)
                && !map.contains_key("fields")
                && !map.contains_key("$type") =>
        {
            let Some(Value::Array(items)) = map.remove("records") else {
                unreachable!("checked to be an array")
            };
            let records = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| parse_record(item).map_err(|e| format!("records[{i}]: {e}")))
                .collect::<Result<_, _>>()?;
            Ok((Shape::CommanderExport, records, None))
        }
        Value::Object(_) => Ok((Shape::Record, vec![parse_record(value)?], None)),
        other => Err(format!(
            "holds {}, expected a record, an array of records, Commander's export or a scenario",
            common::records::kind(&other)
        )),
    }
}

fn parse_scenario(mut map: Map<String, Value>) -> Result<ScenarioInput, String> {
    for unusable in ["line", "params_text", "records_base64"] {
        if map.contains_key(unusable) {
            return Err(format!(
                "this scenario replaces the Gateway's input with '{unusable}' (malformed input): \
                 there are no records to rehearse with"
            ));
        }
    }
    let Some(Value::Object(params)) = map.remove("params") else {
        return Err("the scenario's params is not an object".into());
    };
    let dicts = match map.remove("records") {
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(dict) => Ok(dict),
                other => Err(format!(
                    "the scenario's records[{i}] is {}, expected an object",
                    common::records::kind(&other)
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("the scenario has no records array".into()),
    };
    let mut params = params;
    params.remove("records");
    Ok(ScenarioInput {
        description: map
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        params,
        dicts,
    })
}

/// One record object, typed (`fields`/`custom`) or as Commander exports it.
fn parse_record(value: Value) -> Result<KeeperRecord, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "is {}, expected an object",
            common::records::kind(&value)
        ));
    };
    let title = map
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let uid = ["uid", "record_uid", "recordUid"]
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let typed = map.contains_key("fields") || map.contains_key("custom");
    let mut record = if typed {
        typed_record(&map, &title)?
    } else {
        exported_record(&map, &title)?
    };
    match uid {
        Some(uid) => record.uid = uid,
        None => {
            record.uid = made_up_uid(&title);
            record.uid_made_up = true;
        }
    }
    Ok(record)
}

/// A uid for a record the file gives none: 22 characters, as Keeper's, the
/// same for the same title on every run.
pub fn made_up_uid(title: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(format!("keeper-rotators rehearsal {title}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn typed_record(map: &Map<String, Value>, title: &str) -> Result<KeeperRecord, String> {
    let kind = map
        .get("type")
        .or_else(|| map.get("$type"))
        .and_then(Value::as_str)
        .unwrap_or("login")
        .to_owned();
    let section = |name: &str| -> Result<Vec<Field>, String> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| typed_field(item).map_err(|e| format!("{name}[{i}] {e}")))
                .collect(),
            Some(other) => Err(format!(
                "'{name}' is {}, expected a list of fields",
                common::records::kind(other)
            )),
        }
    };
    Ok(KeeperRecord {
        uid: String::new(),
        kind,
        title: title.to_owned(),
        fields: section("fields").map_err(|e| format!("record '{title}': {e}"))?,
        custom: section("custom").map_err(|e| format!("record '{title}': {e}"))?,
        uid_made_up: false,
        folder: map.get("folder").and_then(Value::as_str).map(str::to_owned),
    })
}

fn typed_field(item: &Value) -> Result<Field, String> {
    let Value::Object(field) = item else {
        return Err(format!(
            "is {}, expected a field object",
            common::records::kind(item)
        ));
    };
    let kind = field.get("type").and_then(Value::as_str).unwrap_or("text");
    let label = field.get("label").and_then(Value::as_str);
    let value = match field.get("value") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    };
    Ok(Field::new(kind, label, value))
}

/// A `custom_fields` key: `$type:label`, `$type`, or a bare label (text).
fn parse_custom_key(key: &str) -> (String, Option<String>) {
    let (kind, label) = match key.strip_prefix('$') {
        Some(rest) => match rest.split_once(':') {
            Some((kind, label)) => (kind.trim().to_owned(), label.trim().to_owned()),
            None => (rest.trim().to_owned(), String::new()),
        },
        None => ("text".to_owned(), key.trim().to_owned()),
    };
    // Commander's importer drops a `:N` suffix it may add to tell apart two
    // fields with one label.
    let label = match label.as_bytes() {
        [.., b':', d] if d.is_ascii_digit() => label[..label.len() - 2].to_owned(),
        _ => label,
    };
    let kind = if kind.is_empty() { "text".into() } else { kind };
    (kind, Some(label).filter(|l| !l.is_empty()))
}

fn exported_record(map: &Map<String, Value>, title: &str) -> Result<KeeperRecord, String> {
    let kind = map
        .get("$type")
        .and_then(Value::as_str)
        .unwrap_or("login")
        .to_owned();
    // Fields in file order: login, password, login_url, then custom_fields.
    let mut pool: Vec<(Field, bool)> = Vec::new();
    for (key, kind) in [
        ("login", "login"),
        ("password", "password"),
        ("login_url", "url"),
    ] {
        if let Some(value) = map.get(key) {
            pool.push((Field::new(kind, None, vault_value(value.clone())), true));
        }
    }
    match map.get("custom_fields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(custom)) => {
            for (key, value) in custom {
                let (kind, label) = parse_custom_key(key);
                let values = match value {
                    // Merged duplicates: one field per element.
                    Value::Array(items) if !items.is_empty() => items.clone(),
                    other => vec![other.clone()],
                };
                for value in values {
                    pool.push((
                        Field::new(&kind, label.as_deref(), vault_value(value)),
                        false,
                    ));
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "record '{title}': custom_fields is {}, expected an object",
                common::records::kind(other)
            ));
        }
    }
    let mut used = vec![false; pool.len()];
    let mut fields = Vec::new();
    match map.get("schema") {
        Some(Value::Array(schema)) => {
            for entry in schema.iter().filter_map(Value::as_str) {
                let entry = entry.strip_suffix(":1").unwrap_or(entry);
                let (kind, label) = parse_custom_key(entry);
                let found = pool.iter().enumerate().position(|(i, (f, _))| {
                    !used[i]
                        && f.kind == kind
                        && (f.label == label
                            || (label.is_none() && f.label.as_deref() == Some(kind.as_str())))
                });
                match found {
                    Some(i) => {
                        used[i] = true;
                        fields.push(pool[i].0.clone());
                    }
                    None => fields.push(Field::new(&kind, label.as_deref(), Vec::new())),
                }
            }
        }
        None | Some(Value::Null) => {
            for (i, (field, standard)) in pool.iter().enumerate() {
                if *standard {
                    used[i] = true;
                    fields.push(field.clone());
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "record '{title}': schema is {}, expected a list",
                common::records::kind(other)
            ));
        }
    }
    let custom = pool
        .into_iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|((field, _), _)| field)
        .collect();
    Ok(KeeperRecord {
        uid: String::new(),
        kind,
        title: title.to_owned(),
        fields,
        custom,
        uid_made_up: false,
        folder: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Loaded {
        parse_files(&[(Path::new("test.json"), text)]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_custom_fields_key_names_type_and_label() {
        assert_eq!(
            parse_custom_key("$secret:client_secret"),
            ("secret".into(), Some("client_secret".into()))
        );
        assert_eq!(
            parse_custom_key("$pamHostname"),
            ("pamHostname".into(), None)
        );
        assert_eq!(
            parse_custom_key("NOOP"),
            ("text".into(), Some("NOOP".into()))
        );
        assert_eq!(
            parse_custom_key("$text:url:2"),
            ("text".into(), Some("url".into()))
        );
    }

    #[test]
    fn numbered_keys_skip_every_key_already_taken() {
        let mut dict = Map::new();
        assert_eq!(numbered_key(&dict, "url"), "url");
        dict.insert("url".into(), json!(""));
        dict.insert("url2".into(), json!(""));
        assert_eq!(numbered_key(&dict, "url"), "url3");
    }

    #[test]
    fn the_schema_puts_the_types_own_fields_first_and_restores_dropped_empty_ones() {
        let loaded = parse(
            r#"{"records": [{"uid": "U", "title": "T", "$type": "pamUser",
                 "login": "alice", "password": "pw-000001",
                 "custom_fields": {"$text:NOOP": "True", "$secret:privatePEMKey": "k-000001"},
                 "schema": ["$login", "$password", "$secret:privatePEMKey", "$text:distinguishedName"]}]}"#,
        );
        let record = &loaded.records[0];
        let fields: Vec<(&str, Option<&str>, usize)> = record
            .fields
            .iter()
            .map(|f| (f.kind.as_str(), f.label.as_deref(), f.value.len()))
            .collect();
        assert_eq!(
            fields,
            [
                ("login", None, 1),
                ("password", None, 1),
                ("secret", Some("privatePEMKey"), 1),
                ("text", Some("distinguishedName"), 0),
            ]
        );
        assert_eq!(record.custom.len(), 1);
        assert_eq!(record.custom[0].key(), "NOOP");
    }
}
