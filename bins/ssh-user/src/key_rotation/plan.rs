//! Planning the key: which file sshd reads, who may edit it, the file as
//! read, and which keys go once the new one works.
//!
//! Read-only: everything here runs before the first change, so a refusal
//! is exit 1 or 2 with nothing changed.

use std::fmt;

use common::error::{Error, Location, Result};
use common::secret::Secret;

use super::{blob_fingerprint, fingerprints};
use crate::admin::Admin;
use crate::authorized_keys::{self, AuthorizedKeys};
use crate::conn::Conn;
use crate::keys::{self, Family, KeyType, ParsedKey};
use crate::remote::{self, KeysFile, Owner, PasswordPath, Problem};
use crate::settings::{KEY_FIELD, PUBLIC_KEY_FIELD, UserSettings};
use crate::ssh::SshError;

/// What [`KeyPlan::decide`] decides from: the record's key and the file
/// as planning read it.
#[derive(Debug)]
pub struct KeyFacts<'a> {
    /// The Linux user (whose tagged lines are the previous rotation's).
    pub user: &'a str,
    /// The user record (where the key is stored).
    pub location: Location,
    pub current: ParsedKey,
    pub new_type: KeyType,
    /// The file edited.
    pub path: String,
    pub owner: Owner,
    pub read: KeysFile,
    pub remove_previous: bool,
}

/// What planning found and decided about the key.
pub struct KeyPlan {
    /// The user record (where the key is stored).
    pub location: Location,
    pub current: ParsedKey,
    pub current_fingerprint: String,
    pub current_blob: String,
    pub new_type: KeyType,
    pub family: Family,
    /// The file edited.
    pub path: String,
    /// Other files sshd reads keys from (`authorized_keys2`), for messages.
    pub other_files: Vec<String>,
    /// `AuthorizedKeysCommand`, when sshd has one.
    pub keys_command: Option<String>,
    pub owner: Owner,
    /// The file as planning read it.
    pub read: KeysFile,
    /// Every key in the file at planning time.
    pub before: Vec<String>,
    /// The keys to remove once the new one works, the record's last.
    pub retire: Vec<String>,
    /// Whether the record's current key is in the file at all.
    pub current_in_file: bool,
    pub remove_previous: bool,
    /// The record's current private key as text, as the user record holds
    /// it: what another record holding the same key holds (see
    /// [`AuthorizedKeyFile::before_retire`]).
    pub held_as: Vec<Secret>,
}

impl fmt::Debug for KeyPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPlan")
            .field("current", &self.current_fingerprint)
            .field("new_type", &self.new_type)
            .field("family", &self.family)
            .field("path", &self.path)
            .field("retire", &self.retire)
            .finish_non_exhaustive()
    }
}

impl KeyPlan {
    /// Decides from the file as read: `before` is every key in it; `retire`
    /// the keys on lines tagged for `user` (the previous rotation's) and the
    /// record's current key, which goes last.
    ///
    /// Why the record's key is always retired, whatever its line's comment:
    /// it is the credential being rotated. A line a person added (no tag),
    /// or whose tag a tool rewrote, still logs in with the key the record
    /// held; keeping it would leave the old credential valid behind an exit
    /// 0. `remove_previous` (`Remove Previous Key`) is kept for the record
    /// template; it no longer decides anything.
    pub fn decide(facts: KeyFacts<'_>) -> Result<Self> {
        let KeyFacts {
            user,
            location,
            current,
            new_type,
            path,
            owner,
            read,
            remove_previous,
        } = facts;
        let public = current.public_line()?;
        let current_blob = authorized_keys::blob_of(&public)
            .unwrap_or_default()
            .to_owned();
        let current_fingerprint = keys::fingerprint(current.key.public_key());
        let file = AuthorizedKeys::parse(read.content());
        let before = fingerprints(&file);
        let current_in_file = before.contains(&current_fingerprint);
        let mut retire: Vec<String> = Vec::new();
        let mut retire_current = current_in_file;
        for (_, entry) in file.entries().filter(|(_, e)| e.is_tagged_for(user)) {
            let Some(id) = blob_fingerprint(&entry.blob) else {
                continue;
            };
            if id == current_fingerprint {
                retire_current = true;
            } else if !retire.contains(&id) {
                retire.push(id);
            }
        }
        if retire_current {
            retire.push(current_fingerprint.clone());
        }
        let family = current.family.for_type(new_type);
        Ok(Self {
            location,
            current,
            current_fingerprint,
            current_blob,
            new_type,
            family,
            path,
            other_files: Vec::new(),
            keys_command: None,
            owner,
            read,
            before,
            retire,
            current_in_file,
            remove_previous,
            held_as: Vec::new(),
        })
    }

    /// Adds the keys an interrupted rotation of this record meant to retire
    /// (fingerprints, [`common::lease::Interrupted::retirable`]), those still
    /// in the file, ahead of the rest: the record's key stays the last.
    pub fn also_retire(&mut self, ids: &[String]) {
        for id in ids.iter().rev() {
            if self.before.contains(id) && !self.retire.contains(id) {
                self.retire.insert(0, id.clone());
            }
        }
    }

    /// The plan in words, for the dry run.
    pub fn describe(&self, user: &str, owner_name: &str) -> String {
        let mut text = format!(
            "Would make a new {} key ({}), add it to {} as {owner_name} tagged {} ({} key(s) \
             there now; the record's key {} {}), check that it logs in, store it in {} \
             ({KEY_FIELD}, {PUBLIC_KEY_FIELD})",
            self.new_type,
            self.family,
            self.path,
            authorized_keys::tag(user),
            self.before.len(),
            self.current_fingerprint,
            if self.current_in_file {
                "is in it"
            } else {
                "is not in it"
            },
            self.location,
        );
        if self.retire.is_empty() {
            text.push_str(
                ", and remove no key (the record's key is not in the file, and no line is tagged)",
            );
        } else {
            text.push_str(&format!(
                ", then remove {} and check that it is refused",
                self.retire.join(", ")
            ));
        }
        text.push('.');
        text
    }
}

/// What [`plan_key`] plans from.
pub(crate) struct KeyInputs<'a> {
    pub admin: &'a Admin,
    /// The password path: who may edit the file follows from it.
    pub path: PasswordPath,
    pub user: &'a str,
    pub home: &'a str,
    /// The record's key, and the type of the new one.
    pub current: keys::ParsedKey,
    pub new_type: keys::KeyType,
    pub settings: &'a UserSettings,
}

/// Where the keys are and who edits them; reads the file.
pub(crate) fn plan_key(conn: &mut Conn, inputs: KeyInputs<'_>) -> Result<KeyPlan> {
    let KeyInputs {
        admin,
        path,
        user,
        home,
        current,
        new_type,
        settings,
    } = inputs;
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
    let mut read = conn.read_keys(&at).map_err(SshError::into_error)?;
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
        read = conn.read_keys(&at).map_err(SshError::into_error)?;
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
    let mut plan = KeyPlan::decide(KeyFacts {
        user,
        location: settings.location.clone(),
        current,
        new_type,
        path: file,
        owner,
        read,
        remove_previous: settings.remove_previous,
    })?;
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
