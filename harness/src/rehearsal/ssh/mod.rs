//! `rotate-ssh-user`: a fake Linux machine ([`crate::fakes::ssh`]) seeded
//! with the PAM User (its password, and its key in `authorized_keys`) and
//! the admin the binary will pick, the PAM Machine pointed at it and pinned
//! to its host key.

use russh::keys::{HashAlg, PublicKey};
use serde_json::{Map, Value, json};

mod hosts;

pub(crate) use hosts::contained_hosts;
use hosts::{HOSTNAME_FIELD, repoint_hosts, selected_machine};

use super::Rehearsal;
use super::world::{Call, Service, Staging, lookup_keys, named, pem_lines, which_password};
use crate::fakes::ssh::{FakeSsh, Sudo};
use crate::fakes::vault::FakeVault;
use crate::faults::Armable;
use crate::runner::Outcome;
use crate::sshd::User;

/// The vault field of the user's key, and the custom field of its public half.
pub(crate) const KEY_FIELD: &str = "privatePEMKey";
const PUBLIC_KEY_FIELD: &str = "Public Key";
/// A key of someone else's (a laptop, a cloud agent) that the harness puts
/// in `authorized_keys` next to the record's: every outcome must keep it.
const OTHER_KEY: &str = include_str!("../../../../fixtures/keys/ecdsa256.openssh.pub");

struct Ssh {
    fake: FakeSsh,
    login: String,
    old: String,
    new: String,
    user_uid: String,
    /// The record's key, as the fake read it.
    original: Option<PublicKey>,
    /// Whether the binary is expected to rotate the key.
    rotates_key: bool,
    /// `authorized_keys` as seeded (absent: `None`).
    seeded_file: Option<String>,
    /// Keys others hold: kept whatever the outcome.
    others: Vec<PublicKey>,
    /// Every secret the machine was given, for the command-line check.
    secrets: Vec<String>,
    seeded: Vec<String>,
}

/// A field as the binary reads it (the shared lookup: ignoring case,
/// numbered duplicates), trimmed.
fn text(dict: &Map<String, Value>, key: &str) -> Option<String> {
    super::world::lookup_text(dict, key).map(|s| s.trim().to_owned())
}

fn title(dict: &Map<String, Value>) -> String {
    dict.get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A private key's public half, if the text is a key the fake can read
/// (the binary also reads keys pasted onto one line; the fake does not).
pub(crate) fn public_of(private: &str) -> Option<PublicKey> {
    russh::keys::decode_secret_key(private, None)
        .ok()
        .map(|k| k.public_key().clone())
}

/// The `authorized_keys` a rehearsal gives the user: a comment, someone
/// else's key, and the record's key tagged `keeper-security-<login>` (as
/// after an earlier rotation, so the run replaces it).
pub(crate) fn seeded_authorized_keys(login: &str, record_key: &PublicKey) -> String {
    let mut record_key = record_key.clone();
    record_key.set_comment(format!("keeper-security-{login}"));
    format!(
        "# {login}'s keys (seeded by the harness)\n{} laptop\n{}\n",
        OTHER_KEY
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" "),
        record_key.to_openssh().unwrap_or_default()
    )
}

/// The admin as the binary picks it: an attached record (not the user,
/// machine or PAM configuration) with a login and a password or key;
/// several: the one titled by the user's `ssh_admin_record_title`. Else the
/// machine's legacy login. `None`: self-rotation.
pub(crate) fn admin(
    rehearsal: &Rehearsal,
    machine_uid: Option<&str>,
) -> Option<(String, String, Option<String>, Option<String>)> {
    let config_uid = rehearsal.roles.config.uid.as_str();
    let user = rehearsal
        .dicts
        .iter()
        .find(|d| text(d, "uid").as_deref() == Some(rehearsal.roles.user.uid.as_str()));
    let candidates: Vec<&Map<String, Value>> = rehearsal
        .other_dicts()
        .filter(|d| {
            let uid = text(d, "uid").unwrap_or_default();
            uid != config_uid && Some(uid.as_str()) != machine_uid
        })
        .filter(|d| {
            text(d, "login").is_some()
                && (text(d, "password").is_some() || text(d, KEY_FIELD).is_some())
        })
        .collect();
    let pick = match candidates.as_slice() {
        [one] => Some(*one),
        [] => None,
        several => {
            let wanted = user.and_then(|u| text(u, "ssh_admin_record_title"))?;
            several.iter().copied().find(|d| title(d) == wanted)
        }
    };
    let legacy = || {
        rehearsal
            .dicts
            .iter()
            .filter(|d| text(d, "uid").as_deref() == machine_uid)
            .find(|d| text(d, "login").is_some())
    };
    let dict = pick.or_else(legacy)?;
    Some((
        title(dict),
        text(dict, "login")?,
        text(dict, "password"),
        text(dict, KEY_FIELD),
    ))
}

/// Seeds the fake machine and points the PAM Machine at it:
///
/// - the PAM User's login, with its password (the Gateway's
///   `oldPassword`) and, when the record holds a key, an `authorized_keys`
///   with a comment, someone else's key, and the record's key tagged
///   `keeper-security-<login>` (as after an earlier rotation: this run
///   replaces it);
/// - the admin the binary will pick (see [`admin`]) with its password and
///   key: root as root, anyone else with sudo NOPASSWD for chpasswd and
///   `/bin/sh` as the users;
/// - `pamHostname` is the fake's address, in the machine the binary picks
///   ([`selected_machine`]) and in every other record holding a host (the
///   binary connects directly, past the proxy that contains the HTTP
///   binaries, so no record it could pick may name a real host), and a pin
///   in `SSH Host Key` is replaced by the fake's own key (the fake cannot
///   hold your host's private key). A record without a pin keeps none, and
///   the binary refuses, as it would on the Gateway;
/// - last, [`contained_hosts`]: a record still naming a host off this
///   machine refuses the rehearsal before anything runs.
pub fn start(rehearsal: &Rehearsal, staging: &mut Staging) -> Result<Box<dyn Service>, String> {
    let mut seeded = Vec::new();
    let mut secrets = Vec::new();
    let login = staging.param("user");
    let old = staging.param("oldPassword");
    let new = staging.param("newPassword");
    secrets.extend([old.clone(), new.clone()]);
    let user_uid = rehearsal.roles.user.uid.clone();
    let user_dict = rehearsal
        .dicts
        .iter()
        .find(|d| text(d, "uid").as_deref() == Some(user_uid.as_str()))
        .cloned()
        .unwrap_or_default();
    let mut fake = FakeSsh::start();

    // The machine as the binary selects it; and every record it could
    // select (every one holding a host) points at the fake, so no record
    // set, however odd, sends the rehearsal to a real host.
    let machine_uid = selected_machine(&staging.params, &staging.dicts);
    let host = json!({"hostName": "127.0.0.1", "port": fake.port().to_string()});
    for dict in &mut staging.dicts {
        let uid = text(dict, "uid");
        let holds_host = lookup_keys(dict, HOSTNAME_FIELD)
            .iter()
            .any(|k| dict.get(k).is_some_and(|v| !common::records::is_blank(v)));
        let selected = uid.is_some() && uid == machine_uid;
        if !holds_host && !selected {
            continue;
        }
        let machine_title = title(dict);
        let was = lookup_keys(dict, HOSTNAME_FIELD)
            .iter()
            .filter_map(|k| dict.get(k))
            .find(|v| !common::records::is_blank(v))
            .map(Value::to_string)
            .unwrap_or_else(|| "none".into());
        // Every field the binary could read the host from (the shared
        // lookup: a custom `PAMHOSTNAME` too); blank ones stay blank, as
        // the binary passes over them.
        if selected {
            super::world::replace_field(dict, HOSTNAME_FIELD, &host);
        } else {
            repoint_hosts(dict, &host);
        }
        let pinned = text(dict, "SSH Host Key").is_some();
        if pinned {
            super::world::replace_field(dict, "SSH Host Key", &json!(fake.host_key_line()));
        }
        staging.notes.push(format!(
            "pamHostname of '{machine_title}' ({was}) points at the fake machine \
             (127.0.0.1:{}) for this rehearsal{}",
            fake.port(),
            if selected {
                ""
            } else {
                " (not the machine the binary picks, but a record it could read a host from)"
            }
        ));
        if !selected {
            continue;
        }
        staging.notes.push(if pinned {
            format!(
                "the pin in 'SSH Host Key' of '{machine_title}' is replaced by the fake's \
                 own host key {} (the fake cannot hold your host's private key)",
                fake.host_key_fingerprint()
            )
        } else {
            format!(
                "'{machine_title}' has no 'SSH Host Key': the binary refuses to send \
                 anything and prints the host's key, here the fake's {}",
                fake.host_key_fingerprint()
            )
        });
    }
    if machine_uid.is_none() {
        seeded.push(
            "no PAM Machine record (resourceRecordUid naming a sent record, or the only \
             record with pamHostname): the binary has nowhere to connect and refuses"
                .into(),
        );
    }

    // The user, and its key in authorized_keys.
    let private = text(&user_dict, KEY_FIELD);
    let original = private.as_deref().and_then(public_of);
    secrets.extend(private.clone());
    let rotates_key = original.is_some()
        && !text(&user_dict, "Private Key Rotate").is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let mut others = Vec::new();
    let mut seeded_file = None;
    if login.is_empty() {
        seeded.push("no user: the PAM User has no login".into());
    } else {
        let mut user = User::new(&login).password(&old);
        match (&private, &original) {
            (Some(_), Some(key)) => {
                let other = PublicKey::from_openssh(OTHER_KEY.trim())
                    .map_err(|e| format!("the harness's other key: {e}"))?;
                let file = seeded_authorized_keys(&login, key);
                seeded.push(format!(
                    "user '{login}' whose password is the PAM User's (oldPassword), and \
                     ~/.ssh/authorized_keys with the record's key {} tagged \
                     keeper-security-{login} (as after an earlier rotation) and someone else's \
                     key {}",
                    fingerprint(key),
                    fingerprint(&other)
                ));
                others.push(other);
                user = user.authorized_keys(&file);
                seeded_file = Some(file);
            }
            (Some(_), None) => {
                staging.notes.push(format!(
                    "the PAM User's {KEY_FIELD} is not a key the fake can read (pasted onto one \
                     line?): {login}'s authorized_keys is left absent"
                ));
                seeded.push(format!(
                    "user '{login}' whose password is the PAM User's (oldPassword), no \
                     authorized_keys"
                ));
            }
            (None, _) => seeded.push(format!(
                "user '{login}' whose password is the PAM User's (oldPassword); the record \
                 holds no key, so no authorized_keys"
            )),
        }
        fake = fake.user(user);
    }

    // The admin.
    match admin(rehearsal, machine_uid.as_deref()) {
        Some((admin_title, admin_login, password, key)) => {
            let mut user = User::new(&admin_login);
            if let Some(password) = &password {
                user = user.password(password);
                secrets.push(password.clone());
            }
            if let Some(key) = &key {
                secrets.push(key.clone());
                if let Some(public) = public_of(key) {
                    user = user
                        .authorized_keys(&format!("{}\n", public.to_openssh().unwrap_or_default()));
                }
            }
            let is_root = admin_login == crate::fakes::ssh::ROOT;
            fake = fake.user(user);
            if !is_root && admin_login != login {
                fake = fake.sudo(&admin_login, Sudo::no_password());
            }
            seeded.push(format!(
                "admin '{admin_login}' from '{admin_title}'{}{}, {}",
                if password.is_some() {
                    " with its password"
                } else {
                    ""
                },
                if key.is_some() { " and its key" } else { "" },
                if is_root {
                    "root".to_owned()
                } else if admin_login == login {
                    "the user itself".to_owned()
                } else {
                    "with sudo NOPASSWD for /usr/sbin/chpasswd and /bin/sh as the users".to_owned()
                }
            ));
        }
        None => seeded.push(format!(
            "no admin record: '{login}' changes its own password with passwd (self-rotation)"
        )),
    }
    seeded.push(format!(
        "host key {} (made for this rehearsal); password and publickey logins offered",
        fake.host_key_fingerprint()
    ));
    // The last guard: whatever the selection above decided, no record the
    // binary is given may still name a host off this machine.
    contained_hosts(&staging.dicts)?;
    pem_lines(&mut secrets);
    secrets.retain(|s| s.len() >= 6);
    Ok(Box::new(Ssh {
        fake,
        login,
        old,
        new,
        user_uid,
        original,
        rotates_key,
        seeded_file,
        others,
        secrets,
        seeded,
    }))
}

impl Ssh {
    /// The password the user has now, as `which_password` words it.
    fn password_now(&self) -> &'static str {
        let now = if self.fake.password_is(&self.login, &self.new) {
            self.new.as_str()
        } else if self.fake.password_is(&self.login, &self.old) {
            self.old.as_str()
        } else {
            ""
        };
        which_password(Some(now), &self.old, &self.new)
    }

    /// The key the vault's user record holds now, if readable.
    fn stored(&self, vault: &FakeVault) -> Result<Option<PublicKey>, String> {
        match vault.field(&self.user_uid, KEY_FIELD) {
            Some(text) if !text.trim().is_empty() => public_of(&text)
                .map(Some)
                .ok_or_else(|| format!("the vault's {KEY_FIELD} is not a readable private key")),
            _ => Ok(None),
        }
    }

    fn file(&self) -> Option<String> {
        self.fake.authorized_keys(&self.login)
    }

    /// A key's fingerprint and whose it is, for the end state.
    fn describe(&self, key: &PublicKey, stored: Option<&PublicKey>) -> String {
        let whose = if stored.is_some_and(|s| s.key_data() == key.key_data()) {
            "the vault's privatePEMKey"
        } else if self
            .original
            .as_ref()
            .is_some_and(|o| o.key_data() == key.key_data())
        {
            "the record's key before the run"
        } else if self.others.iter().any(|o| o.key_data() == key.key_data()) {
            "someone else's key"
        } else {
            "a key nobody holds"
        };
        format!("{} ({whose})", fingerprint(key))
    }

    /// What no rotation may do, whatever its exit code.
    fn never(&self) -> Result<(), String> {
        if let Some(unknown) = self.fake.unknown_scripts().first() {
            return Err(format!(
                "the binary sent a command the fake machine does not know (update \
                 harness::fakes::ssh): {}",
                unknown.chars().take(120).collect::<String>()
            ));
        }
        for received in self.fake.commands() {
            if self.secrets.iter().any(|s| received.holds(s)) {
                return Err(format!(
                    "a command line sent as '{}' held a secret",
                    received.user
                ));
            }
        }
        Ok(())
    }
}

impl Service for Ssh {
    fn name(&self) -> &'static str {
        "ssh"
    }

    fn calls(&self) -> Vec<Call> {
        self.fake
            .calls()
            .into_iter()
            .map(|c| Call {
                call: c.call,
                nth: c.nth,
                status: c.status.and_then(|s| u16::try_from(s).ok()),
                fault: c.fault.map(|k| k.name().to_owned()),
                detail: c.detail,
            })
            .collect()
    }

    fn armable(&self) -> &dyn Armable {
        &self.fake
    }

    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn issued(&self) -> Vec<String> {
        self.secrets.clone()
    }

    fn seeded(&self) -> Vec<String> {
        self.seeded.clone()
    }

    /// The user's password is the one the Gateway keeps (newPassword on
    /// exit 0, the old one on 1, 2 and 3, either on 4); the vault's key logs
    /// in; no key is authorized that nobody holds and the output does not
    /// name; 0 retired the record's old key, 1 and 2 left `authorized_keys`
    /// byte for byte, 3 stored a new key; no command line held a secret.
    fn verdict(&self, vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        self.never()?;
        let password = self.password_now();
        let new = self.fake.password_is(&self.login, &self.new);
        let old = self.fake.password_is(&self.login, &self.old);
        match out.code {
            Some(0) if new => {}
            Some(1..=3) if old => {}
            Some(4) if new || old => {}
            other => {
                return Err(format!(
                    "exit {} but '{}' has {password}",
                    other.map_or("none".into(), |c| c.to_string()),
                    self.login
                ));
            }
        }
        let stored = self.stored(vault)?;
        if let Some(original) = &self.original {
            let Some(stored) = &stored else {
                return Err(format!("the vault holds no {KEY_FIELD}"));
            };
            if !self.fake.accepts_key(&self.login, stored) {
                return Err(format!(
                    "the vault's {KEY_FIELD} ({}) does not log in as '{}'",
                    fingerprint(stored),
                    self.login
                ));
            }
            let changed = stored.key_data() != original.key_data();
            match out.code {
                Some(0) if self.rotates_key && !changed => {
                    return Err("exit 0 but the vault still holds the old key".into());
                }
                Some(0) if self.rotates_key && self.fake.accepts_key(&self.login, original) => {
                    return Err(format!(
                        "exit 0 but the retired key {} still logs in",
                        fingerprint(original)
                    ));
                }
                Some(1 | 2) if changed => {
                    return Err(format!(
                        "exit {} (nothing changed) but the vault holds a new key",
                        out.code.unwrap_or_default()
                    ));
                }
                Some(3) if !changed => {
                    return Err("exit 3 but the vault still holds the old key".into());
                }
                _ => {}
            }
            if let (true, Some(public)) = (changed, vault.field(&self.user_uid, PUBLIC_KEY_FIELD)) {
                let matches = PublicKey::from_openssh(public.trim())
                    .is_ok_and(|p| p.key_data() == stored.key_data());
                if !matches {
                    return Err(format!(
                        "the vault's '{PUBLIC_KEY_FIELD}' is not the public half of its \
                         {KEY_FIELD}"
                    ));
                }
            }
        }
        for (file, key) in self.fake.authorized(&self.login) {
            let held = stored
                .as_ref()
                .is_some_and(|s| s.key_data() == key.key_data())
                || self.others.iter().any(|o| o.key_data() == key.key_data())
                || (!self.rotates_key
                    && self
                        .original
                        .as_ref()
                        .is_some_and(|o| o.key_data() == key.key_data()));
            if !held && !named(out, &fingerprint(&key)) {
                return Err(format!(
                    "{file} authorizes {}, a key the vault does not hold, and the output does \
                     not name it",
                    fingerprint(&key)
                ));
            }
        }
        if matches!(out.code, Some(1 | 2)) && self.file() != self.seeded_file {
            return Err(format!(
                "exit {} (nothing changed) but authorized_keys changed",
                out.code.unwrap_or_default()
            ));
        }
        Ok(())
    }

    fn unchanged(&self, _vault: &FakeVault) -> Result<(), String> {
        if !self.fake.password_is(&self.login, &self.old) {
            return Err(format!("'{}' now has {}", self.login, self.password_now()));
        }
        if self.file() != self.seeded_file {
            return Err(format!("{}'s authorized_keys changed", self.login));
        }
        if !self.fake.unknown_scripts().is_empty() {
            return Err("the binary sent a command the fake machine does not know".into());
        }
        Ok(())
    }

    fn end_state(&self, vault: &FakeVault) -> Vec<String> {
        let stored = self.stored(vault).ok().flatten();
        let mut lines = vec![
            format!(
                "'{}' on the fake machine now has {}",
                self.login,
                self.password_now()
            ),
            format!(
                "{}'s password is now the Gateway's newPassword: {}",
                self.login,
                if self.fake.password_is(&self.login, &self.new) {
                    "yes"
                } else {
                    "no"
                }
            ),
        ];
        let authorized = self.fake.authorized(&self.login);
        if authorized.is_empty() {
            lines.push(format!("no key logs in as '{}'", self.login));
        }
        for (file, key) in &authorized {
            lines.push(format!(
                "{file} authorizes {}",
                self.describe(key, stored.as_ref())
            ));
        }
        if let Some(stored) = &stored {
            lines.push(format!(
                "the vault's {KEY_FIELD} {} logs in as '{}': {}",
                fingerprint(stored),
                self.login,
                if self.fake.accepts_key(&self.login, stored) {
                    "yes"
                } else {
                    "no"
                }
            ));
        }
        let commands = self.fake.commands();
        let holding = commands
            .iter()
            .filter(|c| self.secrets.iter().any(|s| c.holds(s)))
            .count();
        lines.push(format!(
            "the machine received {} command line(s); {}",
            commands.len(),
            if holding == 0 {
                "none holds a secret".to_owned()
            } else {
                format!("{holding} held a secret")
            }
        ));
        lines
    }

    fn state_line(&self, vault: &FakeVault) -> String {
        let stored = self.stored(vault).ok().flatten();
        let keys: Vec<String> = self
            .fake
            .authorized(&self.login)
            .iter()
            .map(|(_, k)| {
                let d = self.describe(k, stored.as_ref());
                d.split_once(" (").map_or(d.clone(), |(_, whose)| {
                    whose.trim_end_matches(')').to_owned()
                })
            })
            .collect();
        format!(
            "the user has {}; authorized: {}",
            self.password_now(),
            if keys.is_empty() {
                "no key".to_owned()
            } else {
                keys.join(", ")
            }
        )
    }

    fn gateway_stores_password(&self) -> bool {
        true
    }
}
