//! rotate-ssh-user: rotates a Linux user's password, and SSH key when the
//! record holds one, over SSH, as a Keeper Gateway PAM script.
//!
//! The order is fixed by the Gateway: it stores `newPassword` only on exit 0,
//! so **all key work comes first and the password last**. If the key part
//! ends in anything but success, the password is not touched, and the host
//! keeps the password the record keeps.
//!
//! - **Plan** (read-only, also what `--dry-run` does): the machine, its host
//!   key pin, the admin; connect and check the pin (no pin: exit 2 printing
//!   the server's key, unless trust on first use is on); log in; find the
//!   password path (root `chpasswd`, a read-only `sudo -n -l` preflight, or
//!   `passwd` for self-rotation); learn whether password logins are offered
//!   (for verification); read `authorized_keys` as its owner; parse the key.
//! - **Apply**: store a host key trusted on first use; rotate the key through
//!   the shared replacement sequence ([`common::replace`], see
//!   [`key_rotation`]); then change the password ([`password`]).
//!
//! The run around it (flags, lease, dry run, exit-code discipline) is
//! [`common::driver`]'s.
//!
//! | module | holds |
//! |---|---|
//! | [`target`] | the PAM Machine record: host, port, operating system |
//! | [`admin`] | which credential logs in (attached record, legacy fields, or self) |
//! | [`settings`] | the user record's settings (key, options), from the input or the vault |
//! | [`keys`] | reading, making and writing private keys in their format family |
//! | [`authorized_keys`] | a line-preserving editor of `authorized_keys` |
//! | [`ssh`] | the one wrapper around russh: pinning, authentication, exec |
//! | [`conn`] | the admin's connection for the synchronous flow: runtime, reconnects, probe logins |
//! | [`remote`] | the constant remote scripts and the classification of their output |
//! | [`key_rotation`] | the SSH key as a credential of the shared replacement sequence |
//! | [`password`] | the password change, its verification and its reconciliation |

use std::time::Duration;

use common::change;
use common::driver::{Rotator, Run};
use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::records::Record;
use common::replace::{self, Checks};
use common::secret::Secret;
use common::store::VaultStore;
use common::vault::Change;
use common::verify::Verify;
use serde_json::Value;

pub mod admin;
pub mod authorized_keys;
pub mod conn;
pub mod key_rotation;
pub mod keys;
pub mod password;
pub mod remote;
pub mod settings;
pub mod ssh;
pub mod target;

use admin::{Admin, Selection, Source};
use conn::{Conn, HostKey, Locked, Login};
use key_rotation::{AuthorizedKeyFile, KeyPlan};
use password::{NotChanged, PasswordLogins, PasswordPlan};
use remote::{Owner, PasswordPath, Problem, SudoAccess};
use settings::{KEY_FIELD, PUBLIC_KEY_FIELD, UserSettings};
use ssh::{HostKeyPins, SeenKey, SshError};
use target::Target;

/// The machine record's custom field holding the pinned host key(s).
pub const HOST_KEY_FIELD: &str = "SSH Host Key";
/// The machine record's opt-in to store the first key seen as the pin.
pub const TOFU_FIELD: &str = "trust_host_key_on_first_use";

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record (login = the Linux user) whose rotation is \"Run PAM scripts
only\", with its PAM Machine as the resource. Rotating the key, or trusting a host key on
first use, needs a KSM config that may edit the records.

Gateway input read: user, newPassword, oldPassword, userRecordUid, resourceRecordUid,
providerRecordUid, records.

PAM Machine record (uid resourceRecordUid, else the only record holding pamHostname):
  pamHostname             {hostName, port}, or host:port ([IPv6]:port); port 22 by default
  operatingSystem         must be Linux
  SSH Host Key            custom: the host's public key line, a known_hosts line or a SHA256:
                          fingerprint (one per line). Without it nothing is sent: exit 2
                          prints the server's key to check and store here
  trust_host_key_on_first_use
                          custom, optional: true to trust the key seen when SSH Host Key is
                          empty; written: SSH Host Key (default false)
  login, password, privatePEMKey
                          legacy admin credential, used when no admin record is attached

Admin, the first that applies (never the user, machine or PAM configuration record):
  1. an attached record with login and password and/or privatePEMKey (several: the one
     titled by the user record's ssh_admin_record_title)
  2. the machine record's legacy login, password, privatePEMKey
  3. the user itself with oldPassword (self-rotation: passwd)
  root uses chpasswd; another admin needs sudo for /usr/sbin/chpasswd (NOPASSWD, or with
  its password), and to rotate the key, sudo to run /bin/sh as the user.

User record (the vault's copy when the key is rotated, else the Gateway's):
  login                   the Linux user
  privatePEMKey           the user's private key; written: the new key, same algorithm, size
                          and format (OpenSSH, PKCS#1, SEC1 or PKCS#8), never encrypted
  Public Key              custom: written: the new public key (OpenSSH line)
  Private Key Type        custom, optional: the new key's type: ssh-rsa (4096 bits),
                          ecdsa-sha2-nistp256|384|521, ssh-ed25519
  Private Key Rotate      custom, optional: FALSE leaves the key alone (default TRUE)
  Remove Previous Key     custom, optional: accepted and ignored: the record's previous key
                          is always removed from authorized_keys once the new one works,
                          whatever its line's comment (it is the credential rotated)
  ssh_admin_record_title  custom, optional: the title of the admin record to use
  password_hash_locally   custom, optional: true sends chpasswd -e a SHA-512-crypt hash made
                          here, so sudo's I/O log never sees the password (default false)
  rotation_lease          custom text: written: held while a run that uses the vault runs
                          (one run at a time per record), cleared at the end; a run
                          that did not complete leaves what is left to retire there

The key goes first, the password last (the Gateway stores newPassword on exit 0 only):
when the key part does not succeed, the password is not changed. One run at a time per
user and admin account: a lock on the machine (flock in /run/keeper-rotators for root,
else the admin's runtime directory or /tmp) held from planning to the end; a second run
exits 1. Default --timeout: 60 s.";

/// The rotator.
#[derive(Debug)]
pub struct SshUser;

/// What planning found and decided.
#[derive(Debug)]
pub struct Planned<'r> {
    user: &'r str,
    user_uid: Option<&'r str>,
    new_password: &'r Secret,
    /// The user's current password: `oldPassword`, or a self-rotating
    /// admin record's password.
    old_password: Option<Secret>,
    target: Target,
    admin: Admin,
    host_key: HostKey,
    password: PasswordPlan,
    key: Option<KeyPlan>,
    /// Why the key is not rotated, when it is not.
    no_key: String,
    // Last: dropped after everything that may hold its session.
    conn: Conn,
}

impl Rotator for SshUser {
    const NAME: &'static str = "rotate-ssh-user";
    const ABOUT: &'static str = "Rotates a Linux user's password and SSH key over SSH (Gateway \
                                 PAM script).";
    const FIELDS: &'static str = FIELDS;
    const DEFAULT_TIMEOUT: u64 = 60;

    /// The vault is needed (and the lease taken) when the key is rotated or
    /// a host key is to be stored.
    fn wants_lease(run: &Run) -> bool {
        let input = &run.input;
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

    type Plan<'r> = Planned<'r>;

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let input = &run.input;
        let user = input.require_user()?;
        let new_password = input.require_new_password()?;
        let (target, machine_record) = machine(input)?;
        let pins = host_key_pins(machine_record)?;
        let tofu = settings::flag(machine_record, TOFU_FIELD, false)?;

        // The user record: the vault's copy when the vault is used.
        let (settings, user_uid) = if Self::wants_lease(run) {
            let uid = input.require_user_record_uid()?;
            (UserSettings::read(&run.user_record()?)?, Some(uid))
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
        let is_self = admin.is_self(user);
        let old_password = match (is_self, &input.old_password) {
            (_, Some(old)) => Some(old.clone()),
            (true, None) => admin.password.clone(),
            (false, None) => None,
        };

        // Everything the input alone can refuse, before connecting.
        let (user_key, no_key) = user_key(&settings)?;
        password::build(PasswordPath::Root, user, new_password, None, None, None)
            .map_err(|e| Error::Config(format!("the password cannot be changed: {e}")))?;

        let (mut conn, host_key) = Conn::open(
            target.endpoint.clone(),
            pins,
            tofu,
            run.deadline,
            &admin.login,
            credentials,
            &match &admin.source {
                Source::SelfRotation => format!(
                    "there is no admin record, so '{user}' logs in with the record's current \
                     password (oldPassword), which must be the password the machine has"
                ),
                other => format!("update the admin credential in {}", other.describe()),
            },
            user,
        )?;
        tracing::info!(
            "machine '{}' at {}: host key {} ({})",
            target.title,
            conn.address(),
            host_key.seen().fingerprint,
            match host_key {
                HostKey::Pinned(_) => "pinned",
                HostKey::TrustedOnFirstUse(_) => "trusted on first use",
            }
        );
        tracing::info!(
            "logged in as '{}' with {} ({})",
            admin.login,
            conn.used(),
            admin.source.describe()
        );

        let home = home_of(&mut conn, &admin, user)?;
        // One run at a time per user (through one admin account) on this
        // machine, whatever records and leases say (a password-only run
        // takes no lease). Taken before anything is read that the change is
        // judged against (the shadow entry, authorized_keys): a run that
        // waited behind another must not act on what it read before.
        match conn.lock(user).map_err(SshError::into_error)? {
            Locked::Held => {}
            Locked::Busy => {
                return Err(Error::Failed(format!(
                    "another rotation of '{user}' is running on {} (it holds the lock \
                     keeper-rotate-{}.lock in /run/keeper-rotators for root, else in the \
                     admin's $XDG_RUNTIME_DIR/keeper-rotators or /tmp/keeper-rotators-<uid>); \
                     nothing was changed. Let it \
                     finish; rotate again afterwards if it failed",
                    conn.address(),
                    remote::lock_id(user)
                )));
            }
            Locked::Unavailable(why) => tracing::warn!(
                "no lock on rotating '{user}' on {} ({why}): a second run at the same \
                 time would not be stopped",
                conn.address()
            ),
        }
        let path = password_path(&mut conn, &admin, user)?;
        tracing::info!("the password is changed with {path}");
        let logins = if is_self && conn.used() == "a password" {
            PasswordLogins::Offered
        } else {
            password::check_logins(&conn, user)
        };
        let shadow_before = if admin.is_root() {
            match password::shadow_digest(&mut conn, user) {
                Ok(digest) => Some(digest),
                Err(e) => {
                    tracing::warn!("reading the shadow entry of '{user}' failed: {e}");
                    None
                }
            }
        } else {
            None
        };

        let key = match user_key {
            Some((parsed, new_type)) => {
                let mut plan = plan_key(
                    &mut conn, &admin, path, user, &home, parsed, new_type, &settings,
                )?;
                // An interrupted rotation of this record stored the key the
                // record holds and meant to retire others (an untagged line
                // it left, say): this run completes that.
                if let Some(interrupted) = run.interrupted() {
                    plan.also_retire(interrupted.retirable(Some(&plan.current_fingerprint)));
                }
                Some(plan)
            }
            None => None,
        };

        let hashed = match (settings.hash_locally, path) {
            (false, _) => None,
            (true, PasswordPath::SelfPasswd) => {
                tracing::info!(
                    "password_hash_locally does not apply to self-rotation: passwd takes the \
                     password itself"
                );
                None
            }
            (true, _) => Some(remote::sha512_crypt(new_password).map_err(Error::Failed)?),
        };
        let change = password::build(
            path,
            user,
            new_password,
            hashed.as_ref(),
            admin.password.as_ref(),
            old_password.as_ref(),
        )
        .map_err(|e| Error::Config(format!("the password cannot be changed: {e}")))?;

        Ok(Planned {
            user,
            user_uid,
            new_password,
            old_password,
            target,
            admin,
            host_key,
            password: PasswordPlan {
                path,
                change,
                logins,
                shadow_before,
                hashed_locally: hashed.is_some(),
            },
            key,
            no_key,
            conn,
        })
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        let seen = p.host_key.seen();
        let mut text = format!(
            "machine '{}' at {}: host key {} ({}). Logged in as '{}' with {} ({}). ",
            p.target.title,
            p.conn.address(),
            seen.fingerprint,
            match &p.host_key {
                HostKey::Pinned(_) => "pinned".to_owned(),
                HostKey::TrustedOnFirstUse(_) => format!(
                    "not pinned; would be stored in '{HOST_KEY_FIELD}' of the machine record, as \
                     {TOFU_FIELD} asks"
                ),
            },
            p.admin.login,
            p.conn.used(),
            p.admin.source.describe()
        );
        match &p.key {
            Some(key) => {
                text.push_str(&key.describe(p.user, p.user));
                text.push_str(" Then would change");
            }
            None => {
                text.push_str(&format!(
                    "The SSH key is not rotated ({}). Would change",
                    p.no_key
                ));
            }
        }
        text.push_str(&format!(
            " the password of '{}' with {}{}, {}.",
            p.user,
            p.password.path,
            if p.password.hashed_locally {
                " (a SHA-512-crypt hash made here)"
            } else {
                ""
            },
            match p.password.logins {
                PasswordLogins::Offered => "then check it with a login",
                PasswordLogins::NotOffered =>
                    "unchecked by a login (the machine does not offer password logins to the user)",
                PasswordLogins::Unknown =>
                    "then check it with a login if the machine allows one (it did not say which \
                     logins it offers)",
            }
        ));
        text
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        let Planned {
            user,
            user_uid,
            new_password,
            old_password,
            target,
            admin,
            host_key,
            password: password_plan,
            key,
            no_key,
            mut conn,
        } = p;
        let address = conn.address();

        if let HostKey::TrustedOnFirstUse(seen) = &host_key {
            store_pin(run, &target, &address, seen)?;
        }

        let key_done = match (&key, user_uid) {
            (Some(plan), Some(uid)) => Some(
                rotate_key(run, &mut conn, plan, uid, user, &admin).map_err(|e| {
                    with_note(
                        e,
                        &format!(
                            "The password of '{user}' was not changed (the record keeps the old \
                             one)"
                        ),
                    )
                })?,
            ),
            (Some(_), None) => {
                return Err(Error::missing("userRecordUid", Location::Params));
            }
            (None, _) => None,
        };

        let changed = password::change(
            &mut conn,
            &password_plan,
            user,
            new_password,
            old_password.as_ref(),
        );
        conn.close();
        let key_note = key_done
            .as_deref()
            .map(|done| format!(" The SSH key was rotated: {done}."))
            .unwrap_or_default();
        match changed {
            Ok(evidence) => Ok(format!(
                "rotated '{user}' on {address}: password changed with {}{} ({}); {}",
                password_plan.path,
                if password_plan.hashed_locally {
                    ", sent as a SHA-512-crypt hash made here"
                } else {
                    ""
                },
                evidence.describe(),
                match &key_done {
                    Some(done) => format!("SSH key rotated: {done}"),
                    None => format!("SSH key not rotated ({no_key})"),
                }
            )),
            Err(NotChanged::Refused(why)) if key_done.is_some() => {
                Err(Error::OldNotRetired(format!(
                    "the password was not changed: {why}. The password of '{user}' is still the \
                     old one, which the record keeps; rotate again to change it.{key_note}"
                )))
            }
            Err(NotChanged::Refused(why)) => Err(Error::Failed(format!(
                "{why}. The password of '{user}' is unchanged"
            ))),
            Err(NotChanged::Unknown(why)) => Err(Error::NeedsAttention(format!(
                "{why}. The record keeps the old password; if the new one is in force, set the \
                 record's password by hand.{key_note}"
            ))),
        }
    }
}

/// `error` with `note` appended to its message (the kinds that carry one).
fn with_note(error: Error, note: &str) -> Error {
    match error {
        Error::Failed(text) => Error::Failed(format!("{text}. {note}")),
        Error::Config(text) => Error::Config(format!("{text}. {note}")),
        Error::OldNotRetired(text) => Error::OldNotRetired(format!("{text}. {note}")),
        Error::NeedsAttention(text) => Error::NeedsAttention(format!("{text}. {note}")),
        other => other,
    }
}

/// The PAM Machine record: its parsed target and its dictionary.
fn machine(input: &GatewayInput) -> Result<(Target, &Record)> {
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

/// `SSH Host Key` of the machine record: `None` when absent or empty.
fn host_key_pins(machine: &Record) -> Result<Option<HostKeyPins>> {
    let invalid = |problem: String| Error::invalid(HOST_KEY_FIELD, machine.location(), problem);
    let text = match machine.value(HOST_KEY_FIELD) {
        None => return Ok(None),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => {
            let mut lines = Vec::new();
            for item in items {
                match item {
                    Value::String(line) => lines.push(line.clone()),
                    Value::Null => {}
                    other => {
                        return Err(invalid(format!(
                            "holds {}, expected text",
                            common::records::kind(other)
                        )));
                    }
                }
            }
            lines.join("\n")
        }
        Some(other) => {
            return Err(invalid(format!(
                "holds {}, expected text",
                common::records::kind(other)
            )));
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    HostKeyPins::parse(&text).map(Some).map_err(invalid)
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

/// The user's home directory, which also proves the admin can run a
/// command (an expired password stops exactly here).
fn home_of(conn: &mut Conn, admin: &Admin, user: &str) -> Result<String> {
    let expired = |text: &str| {
        (remote::classify(text) == Some(Problem::Expired)).then(|| {
            Error::Failed(format!(
                "the password of '{}' has expired and {} demands an interactive change before \
                 running any command: {}; nothing was changed",
                admin.login,
                conn_address(admin, user),
                Problem::Expired.message()
            ))
        })
    };
    let out = match conn.exec(remote::HOME_OF, &[user], b"", false) {
        Ok(out) => out,
        Err(e) => return Err(expired(&e.to_string()).unwrap_or_else(|| e.into_error())),
    };
    let home = out.stdout.trim();
    if out.success() && !home.is_empty() {
        // The key files are found from it: something printed in getent's
        // place (a wrapper's banner) must not become a path to write in.
        if !home.starts_with('/') || home.contains('\n') {
            return Err(Error::Failed(format!(
                "the home directory of '{user}' as {} printed it is not one absolute path (a \
                 login banner or a wrapper writing to stdout?); nothing was changed",
                conn.address()
            )));
        }
        return Ok(home.to_owned());
    }
    if let Some(error) = expired(&out.text()) {
        return Err(error);
    }
    if out.success() {
        return Err(Error::Config(format!(
            "there is no user '{user}' on {} (getent passwd finds nothing): check the user \
             record's login",
            conn.address()
        )));
    }
    Err(Error::Failed(remote::failure(
        &format!("running a command as '{}'", admin.login),
        &out,
    )))
}

fn conn_address(admin: &Admin, user: &str) -> String {
    if admin.login == user {
        "the machine".into()
    } else {
        format!("the machine (as '{}')", admin.login)
    }
}

/// How the password is changed: root, self, or what the sudo preflight
/// (read-only, never prompting) allows.
fn password_path(conn: &mut Conn, admin: &Admin, user: &str) -> Result<PasswordPath> {
    if admin.is_root() {
        return Ok(PasswordPath::Root);
    }
    if admin.is_self(user) {
        return Ok(PasswordPath::SelfPasswd);
    }
    let preflight = |conn: &mut Conn, pty: bool| {
        conn.exec(remote::SUDO_PREFLIGHT, &[], b"", pty)
            .map_err(SshError::into_error)
    };
    let out = preflight(conn, false)?;
    let (access, out) = match remote::classify_preflight(&out) {
        SudoAccess::NeedsTty => {
            let out = preflight(conn, true)?;
            let access = match remote::classify_preflight(&out) {
                SudoAccess::NoPassword => SudoAccess::NoPassword,
                SudoAccess::PasswordRequired => SudoAccess::PasswordRequired,
                _ => SudoAccess::NotAllowed,
            };
            (access, (true, out))
        }
        access => (access, (false, out)),
    };
    let (tty, out) = out;
    // A listing that asks for a password proves only that listing does
    // (`listpw`): ask the command itself, which must then refuse too, or
    // the admin password would reach chpasswd as a line of its input.
    let access = if access == SudoAccess::PasswordRequired {
        let check = conn
            .exec(remote::SUDO_CHPASSWD_NO_INPUT, &[], b"", tty)
            .map_err(SshError::into_error)?;
        if check.success() {
            tracing::info!(
                "sudo asks '{}' for a password to list its rights, but runs chpasswd without one",
                admin.login
            );
            SudoAccess::NoPassword
        } else if remote::classify(&check.text()) == Some(Problem::SudoPasswordRequired) {
            SudoAccess::PasswordRequired
        } else {
            // Neither: sending the admin's password could hand it to a
            // chpasswd that sudo runs without asking.
            return Err(Error::Failed(format!(
                "sudo asks '{}' for a password to list its rights, and checking whether it runs \
                 chpasswd without one failed ({}); nothing was changed",
                admin.login,
                remote::failure("sudo -n /usr/sbin/chpasswd with no input", &check)
            )));
        }
    } else {
        access
    };
    match access {
        SudoAccess::NoPassword => Ok(PasswordPath::Sudo {
            password: false,
            tty,
        }),
        SudoAccess::PasswordRequired if admin.password.is_some() => Ok(PasswordPath::Sudo {
            password: true,
            tty,
        }),
        SudoAccess::PasswordRequired => Err(Error::Config(format!(
            "'{}' may run chpasswd through sudo only with a password, and the admin ({}) has \
             none: {}",
            admin.login,
            admin.source.describe(),
            Problem::SudoPasswordRequired.message()
        ))),
        SudoAccess::NeedsTty | SudoAccess::NotAllowed => {
            if remote::classify(&out.text()) == Some(Problem::Expired) {
                return Err(Error::Failed(format!(
                    "the password of '{}' has expired: {}; nothing was changed",
                    admin.login,
                    Problem::Expired.message()
                )));
            }
            Err(Error::Config(format!(
                "'{}' is not root and sudo does not let it run chpasswd ({}): {}",
                admin.login,
                remote::failure("sudo -n -l /usr/sbin/chpasswd", &out),
                Problem::NotAllowed.message()
            )))
        }
    }
}

/// Where the keys are and who edits them; reads the file.
#[allow(clippy::too_many_arguments, reason = "the plan's parts, read once")]
fn plan_key(
    conn: &mut Conn,
    admin: &Admin,
    path: PasswordPath,
    user: &str,
    home: &str,
    current: keys::ParsedKey,
    new_type: keys::KeyType,
    settings: &UserSettings,
) -> Result<KeyPlan> {
    let owner = match path {
        PasswordPath::Root => Owner::Root,
        PasswordPath::SelfPasswd => Owner::SelfUser,
        // Its own sudo rule, not chpasswd's: first without a password (see
        // the read below).
        PasswordPath::Sudo { tty: false, .. } => Owner::Sudo,
        PasswordPath::Sudo { tty: true, .. } => {
            return Err(Error::Config(format!(
                "sudo requires a terminal for '{}' (requiretty), and editing authorized_keys as \
                 '{user}' needs sudo without one: drop requiretty for '{}', or set '{}' to FALSE \
                 to rotate the password only",
                admin.login,
                admin.login,
                keys::ROTATE_FIELD
            )));
        }
    };
    let (files, command) = if admin.is_root() {
        sshd_keys(conn, user, home)
    } else {
        (remote::default_keys_files(home), None)
    };
    if let Some(command) = &command {
        tracing::warn!(
            "sshd also asks AuthorizedKeysCommand '{command}' for keys; keys it returns are not \
             managed here"
        );
    }
    let mut files = files.into_iter();
    let file = files
        .next()
        .unwrap_or_else(|| format!("{}/.ssh/authorized_keys", home.trim_end_matches('/')));
    let mut at = remote::KeysPath {
        owner,
        user,
        path: &file,
        admin_password: admin.password.as_ref(),
    };
    let mut read = {
        let (runtime, session) = conn.parts().map_err(SshError::into_error)?;
        runtime.block_on(remote::read_keys(session, &at))
    };
    // `sudo -n -u USER` refused for want of a password (nothing ran): that
    // rule asks for one, so only now is the admin's password sent, and only
    // to sudo's askpass helper (never on the script's stdin: a PAM stack
    // that grants without asking would hand it to the script).
    let asks = |read: &std::result::Result<remote::KeysFile, remote::KeysError>| {
        matches!(read, Err(remote::KeysError::Failed(text))
            if remote::classify(text) == Some(Problem::SudoPasswordRequired))
    };
    if owner == Owner::Sudo && admin.password.is_some() && asks(&read) {
        at.owner = Owner::SudoPassword;
        read = {
            let (runtime, session) = conn.parts().map_err(SshError::into_error)?;
            runtime.block_on(remote::read_keys(session, &at))
        };
    }
    let owner = at.owner;
    let read = read.map_err(|e| match e {
        remote::KeysError::Symlink => Error::Config(format!("{file}: {e}")),
        remote::KeysError::Ssh(e) => e.into_error(),
        remote::KeysError::Failed(text)
            if remote::classify(&text).is_some_and(Problem::is_refusal_before_running) =>
        {
            Error::Config(format!(
                "reading {file} as '{user}' was refused ({text}). Rotating the key needs '{}' to \
                 run /bin/sh as '{user}' through sudo (for example: {} ALL=({user}) NOPASSWD: \
                 /bin/sh), or set '{}' to FALSE",
                admin.login,
                admin.login,
                keys::ROTATE_FIELD
            ))
        }
        other => Error::Failed(format!("reading {file} failed: {other}")),
    })?;
    let mut plan = KeyPlan::decide(
        user,
        settings.location.clone(),
        current,
        new_type,
        file,
        owner,
        read,
        settings.remove_previous,
    )?;
    plan.other_files = files.collect();
    plan.keys_command = command;
    plan.held_as.extend(settings.private_key.clone());
    tracing::info!(
        "{} holds {} key(s); the record's key {} {}; to retire after the new key works: {}",
        plan.path,
        plan.before.len(),
        plan.current_fingerprint,
        if plan.current_in_file {
            "is there (the credential being rotated, whatever its line's comment)"
        } else {
            "is not there"
        },
        if plan.retire.is_empty() {
            "none".to_owned()
        } else {
            plan.retire.join(", ")
        }
    );
    Ok(plan)
}

/// `AuthorizedKeysFile` and `AuthorizedKeysCommand` from `sshd -T` (root
/// only); OpenSSH's defaults when it cannot tell.
fn sshd_keys(conn: &mut Conn, user: &str, home: &str) -> (Vec<String>, Option<String>) {
    match conn.exec(remote::SSHD_T_CLIENT, &[user], b"", false) {
        Ok(out) if out.success() => {
            let keys = remote::parse_sshd_t(&out.stdout, user, home);
            (keys.files, keys.command)
        }
        Ok(out) => {
            tracing::warn!(
                "{}; assuming sshd's default key files",
                remote::failure("sshd -T", &out)
            );
            (remote::default_keys_files(home), None)
        }
        Err(e) => {
            tracing::warn!("sshd -T failed ({e}); assuming sshd's default key files");
            (remote::default_keys_files(home), None)
        }
    }
}

/// Stores a host key trusted on first use in the machine record. The write
/// is entered in the change ledger (a dry run can never reach it, and an
/// unanswered save is never reported as "nothing changed"); once the vault
/// confirms it, it is settled: a stored pin is not a change to the account,
/// which is what the exit code reports on.
fn store_pin(run: &Run, target: &Target, address: &str, seen: &SeenKey) -> Result<()> {
    let what = format!(
        "storing the host key {} of {address} in '{HOST_KEY_FIELD}' of {}",
        seen.fingerprint,
        target.location()
    );
    let sent = change::sent(&what)?;
    let saved = run.vault().and_then(|mut vault| {
        vault.update(&target.uid, &[Change::text(HOST_KEY_FIELD, &seen.line)])
    });
    match saved {
        Ok(()) => {
            sent.settle();
            tracing::info!("stored the host key {} as the pin", seen.fingerprint);
            Ok(())
        }
        Err(e @ Error::NoAnswer { .. }) => {
            sent.keep();
            Err(Error::NeedsAttention(format!(
                "{what}: {e}. Nothing else was changed; check the field and rotate again"
            )))
        }
        Err(e) => {
            sent.settle();
            Err(Error::Failed(format!(
                "{what} failed: {e}; nothing was changed"
            )))
        }
    }
}

/// The key, through the shared replacement sequence. Returns what was done,
/// for the summary.
fn rotate_key(
    run: &Run,
    conn: &mut Conn,
    plan: &KeyPlan,
    uid: &str,
    user: &str,
    admin: &Admin,
) -> Result<String> {
    let sequence = replace::Plan {
        before: plan.before.clone(),
        make_room: None,
        retire: plan.retire.clone(),
    };
    // sshd reads authorized_keys at every login: one accepted login proves
    // the key, and a refusal is not going to change by waiting long.
    let verify = Verify {
        successes: 1,
        interval: Duration::from_millis(500),
        timeout: Duration::from_secs(3),
    };
    let mut file =
        AuthorizedKeyFile::new(conn, plan, user, admin.password.as_ref()).handing_over(run, uid);
    let mut store = VaultStore::new(
        run,
        uid,
        plan.location.clone(),
        key_rotation::fields,
        key_rotation::stored_fingerprint,
    );
    let replaced = replace::replace(
        &mut file,
        &mut store,
        &sequence,
        Checks {
            verify: &verify,
            deadline: &run.deadline,
            reserve: Duration::from_secs(15),
        },
    )?;
    for note in &replaced.notes {
        tracing::warn!("{note}");
    }
    Ok(format!(
        "new {} key {} ({}) stored in {} ({KEY_FIELD}, {PUBLIC_KEY_FIELD}); removed {}",
        plan.new_type,
        replaced.new.id,
        plan.family,
        plan.location,
        if replaced.removed.is_empty() {
            "none".to_owned()
        } else {
            replaced.removed.join(", ")
        }
    ))
}
