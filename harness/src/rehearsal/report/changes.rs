//! What the report shows of the records: the Gateway's input masked, and
//! each vault record's fields before and after the run.
//!
//! Why apart from the rest of the report: this is where the report touches
//! secrets field by field (a field of a hidden type is masked whatever its
//! label, a value every secret of the world is masked in), so it is read on
//! its own when the masking rules change.

use serde_json::{Map, Value, json};

use super::{FieldChange, RecordChange, esc, fingerprint};
use crate::inputs::commander::is_flag;
use crate::rehearsal::world::{self, World, mask};
use crate::runner::Outcome;

/// The Gateway's input with every secret-named value, every field of a
/// hidden type (whatever its label) and every known secret masked, and
/// every key and text escaped.
pub(super) fn masked_input(world: &World, secrets: &[String]) -> Value {
    fn walk(key: &str, hidden: bool, value: &Value, secrets: &[String]) -> Value {
        let secret_key = hidden
            || key == "newPassword"
            || key == "oldPassword"
            || common::records::names_a_secret(key);
        match value {
            // A flag under a secret's name is a setting (`password_hash_locally:
            // false`), unless the field is of a hidden type.
            Value::String(s) if secret_key && !s.is_empty() && (hidden || !is_flag(value)) => {
                json!("********")
            }
            Value::String(s) => Value::String(esc(&mask(s, secrets))),
            Value::Number(_) if secret_key => json!("********"),
            Value::Bool(_) if secret_key && hidden => json!("********"),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| walk(key, hidden, v, secrets))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let k2 = if secret_key { key } else { k.as_str() };
                        (esc(&mask(k, secrets)), walk(k2, secret_key, v, secrets))
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut input = Map::new();
    for (key, value) in world.params() {
        input.insert(esc(key), walk(key, false, value, secrets));
    }
    input.insert(
        "records".into(),
        Value::Array(
            world
                .dicts()
                .iter()
                .map(|d| {
                    let uid = d.get("uid").and_then(Value::as_str).unwrap_or_default();
                    let hidden: Vec<String> = world
                        .vault_before
                        .iter()
                        .find(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                        .map(world::secret_keys)
                        .unwrap_or_default();
                    Value::Object(
                        d.iter()
                            .map(|(k, v)| {
                                let hidden = hidden.contains(k);
                                (esc(&mask(k, secrets)), walk(k, hidden, v, secrets))
                            })
                            .collect(),
                    )
                })
                .collect(),
        ),
    );
    Value::Object(input)
}

/// A vault record's fields as (name, shown value) pairs, in order, named
/// as the Gateway names them (label, else type; numbered on a clash).
fn shown_fields(record: &Value) -> Vec<(String, String)> {
    let mut taken = Map::new();
    let mut out = Vec::new();
    for typed in crate::rehearsal::world::vault_fields(record) {
        let name = crate::inputs::commander::numbered_key(&taken, typed.key());
        taken.insert(name.clone(), Value::Null);
        let shown = match typed.gateway_value() {
            Value::String(s) if s.is_empty() => "(empty)".to_owned(),
            value if typed.is_secret() => {
                let text = match &value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("secret {}", fingerprint(&text))
            }
            Value::String(s) => s,
            other => other.to_string(),
        };
        out.push((name, shown));
    }
    out
}

/// The records before and after. `scrub` masks each shown value (for a
/// third-party script, which may write anything into a field, the
/// redactor too: [`crate::rehearsal::program::Program::mask`]).
pub(super) fn record_changes(
    world: &World,
    out: &Outcome,
    dry_run: bool,
    scrub: &dyn Fn(&str) -> String,
) -> Vec<RecordChange> {
    let mut changes = Vec::new();
    for before in &world.vault_before {
        let uid = before
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut after = world.vault_now(&uid).unwrap_or(Value::Null);
        let mut note = None;
        let is_user = uid == world.user_uid();
        if is_user && world.service.gateway_stores_password() {
            if out.code == Some(0) && !dry_run {
                set_password(&mut after, &world.param("newPassword"));
                note = Some(
                    "the binary does not write the password: on exit 0 the Gateway stores \
                     newPassword as the PAM User's password (shown here)"
                        .to_owned(),
                );
            } else {
                note = Some(
                    "the binary does not write the password, and the Gateway stores \
                     newPassword only on exit 0"
                        .to_owned(),
                );
            }
        }
        let before_fields = shown_fields(before);
        let after_fields = shown_fields(&after);
        let mut names: Vec<String> = before_fields.iter().map(|(n, _)| n.clone()).collect();
        for (name, _) in &after_fields {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let find = |list: &[(String, String)], name: &str| {
            list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        };
        let fields: Vec<FieldChange> = names
            .iter()
            .map(|name| {
                let b = find(&before_fields, name);
                let a = find(&after_fields, name);
                FieldChange {
                    name: esc(&scrub(name)),
                    changed: a != b,
                    before: b.map(|v| esc(&scrub(&v))),
                    after: a.map(|v| esc(&scrub(&v))),
                }
            })
            .collect();
        if !is_user && !fields.iter().any(|f| f.changed) {
            continue;
        }
        changes.push(RecordChange {
            title: esc(&scrub(
                before
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            )),
            uid: esc(&uid),
            note,
            fields,
        });
    }
    changes
}

/// Sets the first `password` field of a vault record, as the Gateway does.
fn set_password(record: &mut Value, password: &str) {
    if let Some(field) = record
        .get_mut("fields")
        .and_then(Value::as_array_mut)
        .and_then(|fields| {
            fields
                .iter_mut()
                .find(|f| f.get("type").and_then(Value::as_str) == Some("password"))
        })
    {
        field["value"] = json!([password]);
    }
}
