//! A record as the vault holds it, read and changed on its JSON with this
//! module's own code (the SDK's getters panic on empty or non-list values).

use keeper_secrets_manager_core::Record as SdkRecord;
use serde_json::{Value, json};

use crate::error::{Error, Location, Result};
use crate::records::kind;
use crate::secret::Secret;

/// One field value to store: plain text, a secret kept in a hidden field,
/// or a `keyPair` field's public and private key (one object, as Keeper's
/// record types hold it).
#[derive(Debug, Clone)]
pub enum FieldValue {
    Text(String),
    Secret(Secret),
    KeyPair { public: String, private: Secret },
}

impl FieldValue {
    /// The text a save is checked by: a key pair's private key.
    pub(super) fn as_str(&self) -> &str {
        match self {
            Self::Text(t) => t,
            Self::Secret(s) | Self::KeyPair { private: s, .. } => s.expose(),
        }
    }

    /// The field's `value` list as the record stores it.
    fn to_json(&self) -> Value {
        match self {
            Self::KeyPair { public, private } => {
                json!([{"publicKey": public, "privateKey": private.expose()}])
            }
            other => json!([other.as_str()]),
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

    /// A `keyPair` field: its public key and its private key.
    pub fn key_pair(label: &str, public: impl Into<String>, private: &Secret) -> Self {
        Self {
            label: label.to_owned(),
            value: FieldValue::KeyPair {
                public: public.into(),
                private: private.clone(),
            },
        }
    }
}

/// A record fetched from the vault.
pub struct VaultRecord {
    pub(super) inner: SdkRecord,
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

    /// A field's first value as it is stored (a `keyPair` field's object),
    /// found as [`VaultRecord::text`] finds a field; `None` when absent.
    pub fn value<'a>(&'a self, name: &'a str) -> Option<&'a Value> {
        ["fields", "custom"].iter().find_map(|section| {
            self.matching(section, name)
                .filter_map(|f| f.pointer("/value/0"))
                .find(|v| !v.is_null())
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
        let value = change.value.to_json();
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
                FieldValue::KeyPair { .. } => "keyPair",
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

    pub(super) fn matching<'a>(
        &'a self,
        section: &str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Value> {
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
pub(super) fn field_text(field: &Value) -> std::result::Result<Option<String>, String> {
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
