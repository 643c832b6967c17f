//! The pure step from the Gateway's input to what a run will do: the
//! machine and its pins, the user record's settings, the admin and its
//! credentials, the user's key, and a first check that the password can be
//! sent. Everything the input alone can refuse is refused here, before any
//! connection; nothing here touches the network or the vault (the vault's
//! copy of the user record is handed in), so the fuzz target
//! (`fuzz-entry`) runs it on any input.

use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::records::Record;
use common::secret::Secret;

use crate::admin::{self, Admin, Selection, Source};
use crate::conn::Login;
use crate::host_key::{TOFU_FIELD, host_key_pins};
use crate::keys;
use crate::password;
use crate::settings::{self, KEY_FIELD, UserSettings};
use crate::ssh::{self, HostKeyPins};
use crate::target::Target;

/// What the input says the run is to do, before connecting.
#[derive(Debug)]
pub struct Config<'r> {
    /// The Linux user (`user`).
    pub user: &'r str,
    pub new_password: &'r Secret,
    /// The PAM Machine record, parsed.
    pub target: Target,
    /// `SSH Host Key`: `None` when absent or empty.
    pub pins: Option<HostKeyPins>,
    /// `trust_host_key_on_first_use`.
    pub tofu: bool,
    /// The user record's settings: the vault's copy when the vault is used.
    pub settings: UserSettings,
    pub user_uid: Option<&'r str>,
    pub admin: Admin,
    /// The admin's credentials, the key first.
    pub credentials: Vec<Login>,
    /// The user's current password: `oldPassword`, or a self-rotating
    /// admin record's password.
    pub old_password: Option<Secret>,
    /// The user's key and the new key's type, when the key is rotated.
    pub user_key: Option<(keys::ParsedKey, keys::KeyType)>,
    /// Why the key is not rotated, when it is not.
    pub no_key: String,
}

/// Whether the run uses the vault (and so takes the lease): when the key
/// is rotated or a host key is to be stored on first use.
pub fn uses_vault(input: &GatewayInput) -> bool {
    let key = input
        .records
        .user()
        .and_then(|user| UserSettings::read(user).ok())
        .is_some_and(|s| s.rotates_key());
    let tofu = machine(input).is_ok_and(|(_, record)| {
        matches!(host_key_pins(record), Ok(None))
            && settings::flag(record, TOFU_FIELD, false).unwrap_or(false)
    });
    key || tofu
}

/// What the Gateway's input alone refuses about the password: no user, a
/// missing or too short `newPassword` (exit 2), or one the machine's
/// password file cannot hold. The driver calls it before anything is
/// written (the lease); [`read`] checks the same again.
pub fn check_input(input: &GatewayInput) -> Result<()> {
    let user = input.require_user()?;
    let new_password = input.require_new_password()?;
    password::check_new(user, new_password)
        .map_err(|e| Error::Config(format!("the password cannot be changed: {e}")))
}

/// Reads the input. `uses_vault` is [`uses_vault`]'s answer, computed by
/// the caller; with it, the user record's settings are `vault_settings()`
/// (read from the vault's copy), else the input's.
pub fn read<'r>(
    input: &'r GatewayInput,
    uses_vault: bool,
    vault_settings: impl FnOnce() -> Result<UserSettings>,
) -> Result<Config<'r>> {
    let user = input.require_user()?;
    let new_password = input.require_new_password()?;
    let (target, machine_record) = machine(input)?;
    let pins = host_key_pins(machine_record)?;
    let tofu = settings::flag(machine_record, TOFU_FIELD, false)?;

    // The user record: the vault's copy when the vault is used.
    let (settings, user_uid) = if uses_vault {
        let uid = input.require_user_record_uid()?;
        (vault_settings()?, Some(uid))
    } else {
        let settings = match input.records.user() {
            Some(record) => UserSettings::read(record)?,
            None => UserSettings::none(),
        };
        (settings, input.user_record_uid.as_deref())
    };

    let admin = admin::select(&Selection {
        records: &input.records,
        machine_uid: &target.uid,
        configuration_uid: input.provider_record_uid.as_deref(),
        user,
        old_password: input.old_password.as_ref(),
    })?;
    let credentials = admin_logins(&admin)?;
    let old_password = match (admin.is_self(user), &input.old_password) {
        (_, Some(old)) => Some(old.clone()),
        (true, None) => admin.password.clone(),
        (false, None) => None,
    };

    // Everything the input alone can refuse, before connecting.
    let (user_key, no_key) = user_key(&settings)?;
    password::check_new(user, new_password)
        .map_err(|e| Error::Config(format!("the password cannot be changed: {e}")))?;
    Ok(Config {
        user,
        new_password,
        target,
        pins,
        tofu,
        settings,
        user_uid,
        admin,
        credentials,
        old_password,
        user_key,
        no_key,
    })
}

/// The PAM Machine record: its parsed target and its dictionary.
pub(crate) fn machine(input: &GatewayInput) -> Result<(Target, &Record)> {
    let target = Target::select(&input.records, input.resource_record_uid.as_deref())?;
    let record = input
        .records
        .others()
        .find(|r| r.uid() == target.uid)
        .ok_or_else(|| {
            Error::Config(format!(
                "the machine record {} is not in the input",
                target.uid
            ))
        })?;
    Ok((target, record))
}

/// The admin's credentials, the key first (no password crosses the wire).
fn admin_logins(admin: &Admin) -> Result<Vec<Login>> {
    let location = match &admin.source {
        Source::Attached { uid, title } | Source::MachineLegacy { uid, title } => {
            Location::Record {
                title: title.clone(),
                uid: uid.clone(),
            }
        }
        Source::SelfRotation => Location::Params,
    };
    let mut logins = Vec::new();
    if let Some(text) = &admin.private_key {
        let parsed = keys::parse_field(text, admin::KEY_FIELD, &location)?;
        logins.push(Login {
            credential: ssh::Credential::Key(parsed.shared()),
            what: "a key",
        });
    }
    if let Some(password) = &admin.password {
        logins.push(Login {
            credential: ssh::Credential::Password(password.clone()),
            what: "a password",
        });
    }
    if logins.is_empty() {
        return Err(Error::Config(format!(
            "the admin ({}) has neither a password nor a private key",
            admin.source.describe()
        )));
    }
    Ok(logins)
}

/// The user's key and the new key's type, when the key is rotated; else
/// why not.
fn user_key(settings: &UserSettings) -> Result<(Option<(keys::ParsedKey, keys::KeyType)>, String)> {
    let Some(text) = settings.private_key.as_ref() else {
        return Ok((None, format!("the user record has no {KEY_FIELD}")));
    };
    if !settings.rotate_key {
        return Ok((None, format!("'{}' is FALSE", keys::ROTATE_FIELD)));
    }
    let parsed = keys::parse_field(text, KEY_FIELD, &settings.location)?;
    let new_type =
        keys::new_key_type(parsed.kind(), settings.key_type.as_deref()).ok_or_else(|| {
            Error::invalid(
                keys::TYPE_FIELD,
                settings.location.clone(),
                format!(
                    "'{}' is not one of ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, \
                     ecdsa-sha2-nistp521, ssh-ed25519",
                    settings.key_type.as_deref().unwrap_or_default()
                ),
            )
        })?;
    Ok((Some((parsed, new_type)), String::new()))
}
