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
//! | [`config`] | the pure step from the Gateway's input to the run's plan (fuzzed) |
//! | [`target`] | the PAM Machine record: host, port, operating system |
//! | [`host_key`] | the machine record's host-key pins, and storing one trusted on first use |
//! | [`admin`] | which credential logs in (attached record, legacy fields, or self) |
//! | [`settings`] | the user record's settings (key, options), from the input or the vault |
//! | [`keys`] | reading, making and writing private keys in their format family |
//! | [`authorized_keys`] | a line-preserving editor of `authorized_keys` |
//! | [`ssh`] | the one wrapper around russh: pinning, authentication, exec |
//! | [`account`] | the user's home directory (the admin's first command) |
//! | [`conn`] | the admin's connection for the synchronous flow: runtime, reconnects, probe logins |
//! | [`remote`] | the constant remote scripts and the classification of their output |
//! | [`key_rotation`] | the key's plan and the key as a credential of the shared replacement sequence |
//! | [`password`] | the password path (sudo's decision tree), the change, its verification and reconciliation |

use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::secret::Secret;

pub mod account;
pub mod admin;
pub mod authorized_keys;
pub mod config;
pub mod conn;
pub mod host_key;
pub mod key_rotation;
pub mod keys;
pub mod password;
pub mod remote;
pub mod settings;
pub mod ssh;
pub mod target;

use admin::Admin;
use admin::Source;
use config::Config;
use conn::{Conn, ConnectOptions, HostKey, Locked};
pub use host_key::{HOST_KEY_FIELD, TOFU_FIELD};
use key_rotation::{KeyInputs, KeyPlan, KeyRun};
use password::{ChangeRequest, NotChanged, PasswordLogins, PasswordPlan};
use remote::PasswordPath;
use settings::UserSettings;
use ssh::SshError;
use target::Target;

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
    /// a host key is to be stored ([`config::uses_vault`]).
    fn wants_lease(run: &Run) -> bool {
        config::uses_vault(&run.input)
    }

    /// The user and the new password, checked before the lease is written
    /// to the user record: a password the run would refuse anyway must not
    /// cost a write to the vault.
    fn check_input(input: &GatewayInput) -> Result<()> {
        config::check_input(input)
    }

    type Plan<'r> = Planned<'r>;

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let Config {
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
        } = config::read(&run.input, run.wants_lease(), || {
            UserSettings::read(&run.user_record()?)
        })?;
        let is_self = admin.is_self(user);

        let (mut conn, host_key) = Conn::open(ConnectOptions {
            endpoint: target.endpoint.clone(),
            pins,
            trust_on_first_use: tofu,
            deadline: run.deadline,
            login: &admin.login,
            credentials,
            fix: &match &admin.source {
                Source::SelfRotation => format!(
                    "there is no admin record, so '{user}' logs in with the record's current \
                     password (oldPassword), which must be the password the machine has"
                ),
                other => format!("update the admin credential in {}", other.describe()),
            },
            user,
        })?;
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

        let home = account::home_of(&mut conn, &admin, user)?;
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
        let path = password::path(&mut conn, &admin, user)?;
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
                let mut plan = key_rotation::plan_key(
                    &mut conn,
                    KeyInputs {
                        admin: &admin,
                        path,
                        user,
                        home: &home,
                        current: parsed,
                        new_type,
                        settings: &settings,
                    },
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
        let change = password::build(&ChangeRequest {
            path,
            user,
            new: new_password,
            hashed: hashed.as_ref(),
            admin_password: admin.password.as_ref(),
            old: old_password.as_ref(),
        })
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

    fn checked(p: &Planned<'_>, _run: &Run) -> Checked {
        let checked = Checked::input()
            .did("the machine record and the admin credentials")
            .did("the machine's host key")
            .did("the admin's SSH login")
            .did(format!(
                "the user '{}' and how its password is changed ({})",
                p.user, p.password.path
            ))
            .not("that the machine's password policy accepts the new password");
        if p.key.is_some() {
            checked.not("a login with the new key")
        } else {
            checked
        }
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
            host_key::store_pin(run, &target, &address, seen)?;
        }

        let key_done = match (&key, user_uid) {
            (Some(plan), Some(uid)) => Some(
                key_rotation::rotate(
                    run,
                    &mut conn,
                    KeyRun {
                        plan,
                        uid,
                        user,
                        admin: &admin,
                    },
                )
                .map_err(|e| {
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
