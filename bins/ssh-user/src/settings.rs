//! The user record's settings: the key to rotate and how.
//!
//! Why two sources: a run that rotates the key holds the rotation lease and
//! reads the user record from the vault (the copy read when the lease was
//! taken, which no other run can change under it), because it writes the new
//! key back there. A password-only run never opens the vault (many gateways
//! rotating passwords have no KSM config that may edit records), so it reads
//! the same fields from the Gateway's dictionary of the record. [`Fields`]
//! hides which one it is; the names and their meaning are the same.

use common::error::{Error, Location, Result};
use common::records::Record;
use common::secret::Secret;
use common::vault::VaultRecord;

use crate::keys;

/// The user's private key (a standard field of the PAM User record).
pub const KEY_FIELD: &str = "privatePEMKey";
/// Written: the new public key as an OpenSSH line.
pub const PUBLIC_KEY_FIELD: &str = "Public Key";
/// Accepted for the record template and ignored: the key the record held is
/// the credential being rotated, so it is always removed once the new key
/// works ([`crate::key_rotation::KeyPlan::decide`]).
pub const REMOVE_PREVIOUS_FIELD: &str = "Remove Previous Key";
/// Opt-in: send `chpasswd -e` a SHA-512-crypt hash made locally.
pub const HASH_LOCALLY_FIELD: &str = "password_hash_locally";

/// A record to read settings from.
pub trait Fields {
    /// The field's text, `None` when absent or empty.
    fn text(&self, name: &str) -> Result<Option<String>>;
    fn location(&self) -> Location;
}

impl Fields for Record {
    fn text(&self, name: &str) -> Result<Option<String>> {
        Record::text(self, name)
    }

    fn location(&self) -> Location {
        Record::location(self)
    }
}

impl Fields for VaultRecord {
    fn text(&self, name: &str) -> Result<Option<String>> {
        VaultRecord::text(self, name)
    }

    fn location(&self) -> Location {
        VaultRecord::location(self)
    }
}

/// A yes/no field: `true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off`, any
/// case; `default` when absent or empty.
pub fn flag(fields: &impl Fields, name: &str, default: bool) -> Result<bool> {
    match fields.text(name)?.map(|t| t.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) if ["true", "yes", "1", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["false", "no", "0", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(Error::invalid(
            name,
            fields.location(),
            format!("'{v}' is neither TRUE nor FALSE"),
        )),
    }
}

/// What the user record says about this rotation.
#[derive(Debug)]
pub struct UserSettings {
    /// The record's private key, when it holds one.
    pub private_key: Option<Secret>,
    /// `Private Key Type`, when set.
    pub key_type: Option<String>,
    /// `Private Key Rotate` (absent or TRUE: rotate a key that exists).
    pub rotate_key: bool,
    pub remove_previous: bool,
    pub hash_locally: bool,
    /// The record read, for messages.
    pub location: Location,
}

impl UserSettings {
    pub fn read(fields: &impl Fields) -> Result<Self> {
        let private_key = fields
            .text(KEY_FIELD)?
            .filter(|k| !k.trim().is_empty())
            .map(Secret::new);
        Ok(Self {
            private_key,
            key_type: fields
                .text(keys::TYPE_FIELD)?
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
            rotate_key: flag(fields, keys::ROTATE_FIELD, true)?,
            remove_previous: flag(fields, REMOVE_PREVIOUS_FIELD, false)?,
            hash_locally: flag(fields, HASH_LOCALLY_FIELD, false)?,
            location: fields.location(),
        })
    }

    /// The settings of a run whose input carries no user record: no key,
    /// every option off.
    pub fn none() -> Self {
        Self {
            private_key: None,
            key_type: None,
            rotate_key: true,
            remove_previous: false,
            hash_locally: false,
            location: Location::Params,
        }
    }

    /// Whether this run rotates the key: the record holds one and
    /// `Private Key Rotate` is not FALSE.
    pub fn rotates_key(&self) -> bool {
        self.rotate_key && self.private_key.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::records::Records;
    use serde_json::json;

    fn user(fields: serde_json::Value) -> Records {
        let mut record = json!({"uid": "u", "title": "alice", "login": "alice"});
        if let (Some(r), Some(f)) = (record.as_object_mut(), fields.as_object()) {
            r.extend(f.clone());
        }
        Records::parse(json!([record]).to_string().as_bytes(), Some("u")).unwrap()
    }

    fn settings(fields: serde_json::Value) -> Result<UserSettings> {
        UserSettings::read(user(fields).user().unwrap())
    }

    #[test]
    fn a_key_is_rotated_unless_private_key_rotate_is_false() {
        let with_key = settings(json!({"privatePEMKey": "-----BEGIN x"})).unwrap();
        assert!(with_key.rotates_key());
        for off in ["FALSE", "false", "No", "0"] {
            let s = settings(json!({"privatePEMKey": "k", "Private Key Rotate": off})).unwrap();
            assert!(!s.rotates_key(), "{off}");
        }
        let on = settings(json!({"privatePEMKey": "k", "Private Key Rotate": "TRUE"})).unwrap();
        assert!(on.rotates_key());
        let no_key = settings(json!({"privatePEMKey": "  "})).unwrap();
        assert!(!no_key.rotates_key());
    }

    #[test]
    fn a_flag_that_is_neither_true_nor_false_is_exit_2_naming_it() {
        let error = settings(json!({"Remove Previous Key": "maybe"})).unwrap_err();
        assert_eq!(error.exit().code(), 2);
        assert!(error.to_string().contains("Remove Previous Key"), "{error}");
    }

    #[test]
    fn options_default_to_off_and_the_key_type_is_trimmed() {
        let s = settings(json!({"Private Key Type": " ssh-ed25519 "})).unwrap();
        assert!(!s.remove_previous && !s.hash_locally);
        assert_eq!(s.key_type.as_deref(), Some("ssh-ed25519"));
        let s = settings(json!({"Remove Previous Key": "true", "password_hash_locally": "yes"}))
            .unwrap();
        assert!(s.remove_previous && s.hash_locally);
    }
}
