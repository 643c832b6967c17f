//! The SSH key as a credential of the shared replacement sequence.
//!
//! Why through [`common::replace`]: the order that never loses a working
//! credential (create, store at once, verify, re-read the record, retire the
//! old, confirm) is the same for an IAM access key, an Entra secret and an
//! SSH key, and it is written and tested once there. What is particular to
//! SSH is here:
//!
//! - a credential's id is the key's SHA-256 fingerprint; the listing is the
//!   distinct keys of `authorized_keys`;
//! - **create** makes a key like the record's (algorithm and size, or
//!   `Private Key Type`; same format family) and adds the line tagged
//!   `keeper-security-<user>` after the line it replaces, with that line's
//!   options. The first write uses the file as planning read it, so a file
//!   someone changed in between is refused (exit 1, nothing changed);
//! - **find_created**: after a write with no answer, the file is read again
//!   and the new key's blob (unique to this run) looked for;
//! - **revoke** removes every line holding the key;
//! - **probe** logs in with the new key, authentication only;
//! - **still_accepted**: a retired key the record held must now be refused.
//!   sshd also reads `authorized_keys2` (Debian's default) and may ask an
//!   `AuthorizedKeysCommand`; a key still accepted from there ends the run
//!   with exit 3, and the password is not changed.
//!
//! Every write is entered in the change ledger by [`remote::write_keys`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use common::driver::Run;
use common::error::{Error, Location, Result};
use common::holders::{self, Retiring};
use common::replace::{Credentials, Failure, Found, Step};
use common::secret::Secret;
use common::vault::{Change, VaultRecord};
use russh::keys::PrivateKey;
use sha2::{Digest, Sha256};

use crate::admin::LOGIN_FIELD;
use crate::authorized_keys::{self, AuthorizedKeys, Edit};
use crate::conn::Conn;
use crate::keys::{self, Family, KeyType, ParsedKey};
use crate::remote::{self, KeysError, KeysFile, KeysPath, Owner};
use crate::settings::{KEY_FIELD, PUBLIC_KEY_FIELD};
use crate::ssh::{Auth, Credential};

/// `SHA256:…` of a public key blob (base64, as in `authorized_keys`), as
/// ssh-keygen prints it. `None` when the blob is not base64.
pub fn blob_fingerprint(blob: &str) -> Option<String> {
    let bytes = STANDARD.decode(blob).ok()?;
    Some(format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(&bytes))
    ))
}

/// The distinct keys of a file, by fingerprint, in file order.
pub fn fingerprints(file: &AuthorizedKeys) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, entry) in file.entries() {
        if let Some(id) = blob_fingerprint(&entry.blob)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
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
    #[allow(clippy::too_many_arguments, reason = "one constructor of one plan")]
    pub fn decide(
        user: &str,
        location: Location,
        current: ParsedKey,
        new_type: KeyType,
        path: String,
        owner: Owner,
        read: KeysFile,
        remove_previous: bool,
    ) -> Result<Self> {
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

/// A key made by this run.
pub struct NewKey {
    pub id: String,
    /// The private key in the old key's family.
    pub private: Secret,
    /// `type blob keeper-security-<user>`.
    pub public: String,
    pub key: Arc<PrivateKey>,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What the record stores for a new key.
pub fn fields(new: &NewKey) -> Vec<Change> {
    vec![
        Change::secret(KEY_FIELD, &new.private),
        Change::text(PUBLIC_KEY_FIELD, &new.public),
    ]
}

/// The fingerprint of the key a record holds.
pub fn stored_fingerprint(record: &VaultRecord) -> Result<Option<String>> {
    let Some(text) = record.secret(KEY_FIELD)? else {
        return Ok(None);
    };
    if text.expose().trim().is_empty() {
        return Ok(None);
    }
    let parsed = keys::parse_field(&text, KEY_FIELD, &record.location())?;
    Ok(Some(keys::fingerprint(parsed.key.public_key())))
}

/// What names one run's backup of `authorized_keys`
/// (`authorized_keys.keeper-<id>.bak`): the UTC second, then the
/// nanoseconds and 16 random bits, `20260101T000000Z-123456789ab12`. Two
/// runs in the same second (one after the other: the machine's lock keeps
/// them from overlapping) get names of their own, so each keeps the file as
/// it was before it, and a rollback's removal of its own backup never takes
/// the other's. The names still sort by time, which is how the write script
/// keeps the newest few.
pub fn backup_id(now: std::time::SystemTime) -> String {
    use russh::keys::ssh_key::rand_core::Rng;
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut random = [0u8; 2];
    russh::keys::key::safe_rng().fill_bytes(&mut random);
    format!(
        "{}-{nanos:09}{:02x}{:02x}",
        common::time::iso8601(now).replace(['-', ':'], ""),
        random[0],
        random[1]
    )
}

/// The user's `authorized_keys` on the machine, for the replacement
/// sequence.
pub struct AuthorizedKeyFile<'a> {
    conn: &'a mut Conn,
    plan: &'a KeyPlan,
    user: &'a str,
    admin_password: Option<&'a Secret>,
    /// The file as last read or written by this run.
    current: KeysFile,
    /// Set when a write had no clear answer: read the file before editing.
    stale: bool,
    /// The blob of the key being added, once its write was sent.
    adding: Option<String>,
    /// The file's content before the new key was added, and the sha256 of
    /// the content that write sent: while the file still holds exactly that,
    /// revoking the new key puts the old content back byte for byte.
    undo: Option<(String, String)>,
    /// The run's one backup name ([`backup_id`]): every write of the run
    /// names its backup with it, so the backup (made by the first write
    /// only) is the file as it was before the run.
    timestamp: String,
    /// The run and the user record's uid, for handing the new key to every
    /// other record that holds the old one before it is retired.
    hand_over: Option<(&'a Run, &'a str)>,
}

impl fmt::Debug for AuthorizedKeyFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedKeyFile")
            .field("path", &self.plan.path)
            .finish_non_exhaustive()
    }
}

impl<'a> AuthorizedKeyFile<'a> {
    pub fn new(
        conn: &'a mut Conn,
        plan: &'a KeyPlan,
        user: &'a str,
        admin_password: Option<&'a Secret>,
    ) -> Self {
        Self {
            current: plan.read.clone(),
            conn,
            plan,
            user,
            admin_password,
            stale: false,
            adding: None,
            undo: None,
            timestamp: backup_id(std::time::SystemTime::now()),
            hand_over: None,
        }
    }

    /// Before the record's key is retired, every other record of `run`'s
    /// input holding it (for this user) gets the new key; `user_uid` is the
    /// record the sequence stores in.
    #[must_use]
    pub fn handing_over(mut self, run: &'a Run, user_uid: &'a str) -> Self {
        self.hand_over = Some((run, user_uid));
        self
    }

    /// Where the file is and who edits it (borrowing nothing of `self`, so
    /// the connection can be used meanwhile).
    fn at(&self) -> KeysPath<'a> {
        let plan: &'a KeyPlan = self.plan;
        KeysPath {
            owner: plan.owner,
            user: self.user,
            path: &plan.path,
            admin_password: self.admin_password,
        }
    }

    /// Reads the file again.
    fn reread(&mut self) -> Step<()> {
        let at = self.at();
        let (runtime, session) = self
            .conn
            .parts()
            .map_err(|e| Failure::Definite(e.to_string()))?;
        let read = runtime
            .block_on(remote::read_keys(session, &at))
            .map_err(|e| Failure::Definite(format!("reading {} failed: {e}", at.path)))?;
        self.current = read;
        self.stale = false;
        Ok(())
    }

    /// Replaces the file with `content` (the ledger entry says `what`).
    fn write(&mut self, content: String, what: String) -> Step<()> {
        let at = self.at();
        let read = self.current.clone();
        let (runtime, session) = self
            .conn
            .parts()
            .map_err(|e| Failure::Definite(e.to_string()))?;
        let result = runtime.block_on(remote::write_keys(
            session,
            &at,
            &read,
            &content,
            &self.timestamp,
            &what,
        ));
        match result {
            Ok(()) => {
                let mode = match &self.current {
                    KeysFile::Present { mode, .. } => mode.clone(),
                    KeysFile::Absent => "600".into(),
                };
                self.current = KeysFile::Present {
                    sha256: remote::sha256_hex(content.as_bytes()),
                    content,
                    mode,
                };
                Ok(())
            }
            Err(e) if e.may_have_changed() => {
                if matches!(e, KeysError::Ssh(_)) {
                    self.conn.forget_session();
                }
                self.stale = true;
                Err(Failure::Unknown(format!("{what}: {e}")))
            }
            Err(KeysError::Symlink) => {
                Err(Failure::Config(format!("{what}: {}", KeysError::Symlink)))
            }
            Err(e) => Err(Failure::Definite(format!("{what}: {e}"))),
        }
    }

    fn address(&self) -> String {
        self.conn.address()
    }

    fn login_with(&self, key: &Arc<PrivateKey>) -> std::result::Result<bool, String> {
        match self
            .conn
            .authenticate_as(self.user, &Credential::Key(Arc::clone(key)))
        {
            Ok(Auth::Accepted) => Ok(true),
            Ok(Auth::Rejected { .. }) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Credentials for AuthorizedKeyFile<'_> {
    type New = NewKey;

    fn noun(&self) -> &'static str {
        "SSH key"
    }

    fn holder(&self) -> String {
        format!("user '{}' on {}", self.user, self.address())
    }

    fn id(new: &NewKey) -> &str {
        &new.id
    }

    /// The new key is made here and held in memory until stored: verifying a
    /// login with it first means a key sshd does not take (StrictModes, an
    /// AuthorizedKeysFile elsewhere) never replaces the stored one.
    fn verify_before_store(&self) -> bool {
        true
    }

    /// The every-holder rule ([`common::holders`]): the record's private
    /// key may also sit in another record of the input (an admin record
    /// logging in as the user, a second PAM User for the same account).
    /// Retiring it from `authorized_keys` would lock that record out, so
    /// each one is given the new key first; one that cannot be (not shared
    /// with the Gateway's application, a save refused) keeps the old key
    /// authorized and the run exits 3 naming it. A record whose `login` is
    /// another account is left as it is: its copy of the key logs in as
    /// that account, which this rotation does not touch, and the new key
    /// would not log in there. A holder is found by the user record's key
    /// text, and by any private key in another record whose public half is
    /// among the keys retired (another format of the same key, a previous
    /// rotation's key).
    fn before_retire(&mut self, new: &NewKey) -> Step<()> {
        let Some((run, user_uid)) = self.hand_over else {
            return Ok(());
        };
        if self.plan.retire.is_empty() {
            return Ok(());
        }
        let mut retiring: Vec<Retiring> = Vec::new();
        // The record's own key, as the user record holds it (the vault's copy
        // and the input's), when it is retired.
        let current_retired = self.plan.retire.contains(&self.plan.current_fingerprint);
        let mut texts: Vec<&Secret> = if current_retired {
            self.plan.held_as.iter().collect()
        } else {
            Vec::new()
        };
        let input_copy = run
            .input
            .records
            .all()
            .iter()
            .find(|r| r.uid() == user_uid)
            .and_then(|r| r.secret(KEY_FIELD).ok().flatten());
        if let Some(text) = input_copy.as_ref().filter(|_| current_retired)
            && !texts.iter().any(|t| t.expose() == text.expose())
        {
            texts.push(text);
        }
        // Records that hold the key for another account, or for another
        // machine (a `pamHostname` that is not this one's), keep it: the new
        // key is authorized for this account on this machine only, and
        // theirs is not removed. A login that differs only in case is the
        // same account (sshd on a directory-joined host reads one file).
        let this_host = self.conn.endpoint().host.clone();
        let other_accounts: Vec<&str> = run
            .input
            .records
            .all()
            .iter()
            .filter(|r| r.uid() != user_uid)
            .filter(|r| {
                let other_login = r
                    .text(LOGIN_FIELD)
                    .ok()
                    .flatten()
                    .is_some_and(|login| !login.eq_ignore_ascii_case(self.user));
                let other_machine = crate::target::parse_hostname(r)
                    .is_ok_and(|endpoint| !endpoint.host.eq_ignore_ascii_case(&this_host));
                other_login || other_machine
            })
            .map(common::records::Record::uid)
            .collect();
        // A holder may hold a key being retired in another text: another
        // format of the record's key (PKCS#8 for OpenSSH), or a key this run
        // retires that the record no longer holds (the previous rotation's,
        // an interrupted run's). Any private key in another record of the
        // input whose public half is retired counts, by its own text. One
        // this run cannot write in place (encrypted with a passphrase it
        // does not know, or inside a key pair object) keeps the old key.
        let mut found: Vec<Secret> = Vec::new();
        let mut out_of_reach: Vec<String> = Vec::new();
        for record in run
            .input
            .records
            .all()
            .iter()
            .filter(|r| r.uid() != user_uid && !other_accounts.contains(&r.uid()))
        {
            for key in record.keys() {
                for value in record.values(key) {
                    // Only a private key becomes a Secret (a Secret is
                    // registered with the redactor, and a login registered
                    // there would be withheld everywhere).
                    let (raw, in_pair) = match value {
                        serde_json::Value::String(raw) => (raw.as_str(), false),
                        serde_json::Value::Object(pair) => {
                            match pair.get("privateKey").and_then(serde_json::Value::as_str) {
                                Some(raw) => (raw, true),
                                None => continue,
                            }
                        }
                        _ => continue,
                    };
                    if !raw.contains("PRIVATE KEY") {
                        continue;
                    }
                    let text = Secret::new(raw.trim());
                    let Some((print, encrypted)) = keys::held_fingerprint(text.expose()) else {
                        continue;
                    };
                    if !self.plan.retire.contains(&print) {
                        continue;
                    }
                    if in_pair || encrypted {
                        out_of_reach.push(format!(
                            "{} holds it {} in {key}",
                            record.location(),
                            if in_pair {
                                "in a key pair"
                            } else {
                                "encrypted"
                            }
                        ));
                    } else if !found.iter().any(|f| f.expose() == text.expose()) {
                        found.push(text);
                    }
                }
            }
        }
        texts.extend(found.iter());
        let mut seen: Vec<&str> = Vec::new();
        for text in texts {
            if seen.contains(&text.expose()) {
                continue;
            }
            seen.push(text.expose());
            retiring.push(Retiring::secret(text, &new.private));
        }
        let handed = holders::hand_over_skipping(
            run,
            user_uid,
            &other_accounts,
            &[],
            &retiring,
            "SSH private key",
        )
        .map(|updated| {
            if !updated.is_empty() {
                tracing::info!(
                    "the new key is in {} too, before the old one is removed",
                    updated.join(", ")
                );
            }
        });
        if out_of_reach.is_empty() {
            return handed;
        }
        let unreachable = format!(
            "the SSH private key being retired is held where this run cannot write the new \
             one: {}. Store the new key there (it is in the record being rotated), then \
             retire the old one or run the rotation again",
            out_of_reach.join("; ")
        );
        Err(match handed {
            Ok(()) => Failure::Definite(unreachable),
            Err(Failure::Definite(other)) => Failure::Definite(format!("{other}; {unreachable}")),
            Err(Failure::Unknown(other)) => Failure::Unknown(format!("{other}; {unreachable}")),
            Err(Failure::Config(other)) => Failure::Config(format!("{other}; {unreachable}")),
        })
    }

    fn create(&mut self) -> Step<NewKey> {
        let tag = authorized_keys::tag(self.user);
        let definite = |e: Error| Failure::Definite(e.to_string());
        let key = keys::generate_within(self.plan.new_type, &tag, self.conn.deadline())
            .map_err(definite)?;
        let private = keys::encode(&key, self.plan.family).map_err(definite)?;
        let public = keys::public_line(key.public_key(), &tag).map_err(definite)?;
        let id = keys::fingerprint(key.public_key());
        let blob = authorized_keys::blob_of(&public)
            .unwrap_or_default()
            .to_owned();
        if self.stale {
            self.reread()?;
        }
        let base = self.current.content().to_owned();
        let mut file = AuthorizedKeys::parse(&base);
        match file.add_tagged(&public, self.user, Some(&self.plan.current_blob)) {
            Edit::Added { .. } => {}
            other => {
                return Err(Failure::Definite(format!(
                    "the new key could not be added to {}: {other}",
                    self.plan.path
                )));
            }
        }
        self.adding = Some(blob);
        let what = format!(
            "adding the new key {id} to {} on {}",
            self.plan.path,
            self.address()
        );
        let content = file.render();
        self.undo = Some((base, remote::sha256_hex(content.as_bytes())));
        self.write(content, what)?;
        Ok(NewKey {
            id,
            private,
            public,
            key: Arc::new(key),
        })
    }

    fn find_created(&mut self, _before: &[String]) -> Step<Found> {
        self.reread()?;
        let file = AuthorizedKeys::parse(self.current.content());
        let ours: Vec<String> = file
            .entries()
            .filter(|(_, e)| self.adding.as_deref() == Some(e.blob.as_str()))
            .filter_map(|(_, e)| blob_fingerprint(&e.blob))
            .take(1)
            .collect();
        if ours.is_empty() {
            Ok(Found::Nothing {
                hint: format!(
                    "tagged {} in {} that the record does not hold",
                    authorized_keys::tag(self.user),
                    self.plan.path
                ),
            })
        } else {
            Ok(Found::Ours(ours))
        }
    }

    fn revoke(&mut self, id: &str) -> Step<()> {
        if self.stale {
            self.reread()?;
        }
        let mut file = AuthorizedKeys::parse(self.current.content());
        let blobs: Vec<String> = file
            .entries()
            .filter(|(_, e)| blob_fingerprint(&e.blob).as_deref() == Some(id))
            .map(|(_, e)| e.blob.clone())
            .collect();
        if blobs.is_empty() {
            return Ok(());
        }
        // Taking back the key this run added, from the file exactly as this
        // run wrote it: the file as it was (a final newline the add had to
        // supply goes again). Otherwise, only the key's lines go.
        let content = match &self.undo {
            Some((base, written))
                if self.current.sha256() == written
                    && blobs
                        .iter()
                        .all(|b| self.adding.as_deref() == Some(b.as_str())) =>
            {
                base.clone()
            }
            _ => {
                for blob in &blobs {
                    file.remove_blob(blob);
                }
                file.render()
            }
        };
        let what = format!(
            "removing key {id} from {} on {}",
            self.plan.path,
            self.address()
        );
        self.write(content, what)
    }

    fn probe(&mut self, new: &NewKey) -> std::result::Result<(), String> {
        match self.login_with(&new.key)? {
            true => {
                // That login used up the spare connection; the logins still
                // to come (the retired key, the new password) find the next
                // one connected while the vault is written.
                self.conn.open_spare();
                Ok(())
            }
            false => Err(format!(
                "{} refused the new key for '{}' (check the line's options, sshd's \
                 AuthorizedKeysFile and StrictModes, and the file's permissions)",
                self.address(),
                self.user
            )),
        }
    }

    fn list(&mut self) -> Step<Vec<String>> {
        self.reread()?;
        Ok(fingerprints(&AuthorizedKeys::parse(self.current.content())))
    }

    /// Only the record's own key can be tried (no other private key is
    /// known): it must now be refused.
    fn still_accepted(&mut self, retired: &[String]) -> Step<Vec<String>> {
        if !retired.contains(&self.plan.current_fingerprint) {
            return Ok(Vec::new());
        }
        let key = Arc::new(self.plan.current.key.clone());
        match self.login_with(&key) {
            Ok(false) => Ok(Vec::new()),
            Ok(true) => {
                let mut elsewhere: Vec<String> = self.plan.other_files.clone();
                if let Some(command) = &self.plan.keys_command {
                    elsewhere.push(format!("AuthorizedKeysCommand {command}"));
                }
                tracing::warn!(
                    "the retired key {} still logs in as '{}'; sshd also reads {}",
                    self.plan.current_fingerprint,
                    self.user,
                    if elsewhere.is_empty() {
                        "keys from somewhere else".to_owned()
                    } else {
                        elsewhere.join(", ")
                    }
                );
                Ok(vec![self.plan.current_fingerprint.clone()])
            }
            Err(e) => Err(Failure::Definite(e)),
        }
    }

    /// The file is read back directly: nothing lags.
    fn settle(&self) -> (u32, Duration) {
        (1, Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_runs_in_the_same_second_name_their_backups_apart_and_in_time_order() {
        let second = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (a, b) = (backup_id(second), backup_id(second));
        assert_ne!(a, b, "one name for two runs");
        assert!(a.starts_with("20270115T080000Z-"), "{a}");
        let later = backup_id(second + Duration::from_millis(1));
        let next_second = backup_id(second + Duration::from_secs(1));
        assert!(later > a && later > b, "{later} sorts after {a} and {b}");
        assert!(next_second > later, "{next_second} sorts after {later}");
    }

    const ED: &str = include_str!("../../../fixtures/keys/ed25519.openssh");
    const ED_PUB: &str = include_str!("../../../fixtures/keys/ed25519.openssh.pub");
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    fn blob(line: &str) -> &str {
        authorized_keys::blob_of(line).unwrap()
    }

    fn plan(content: &str, remove_previous: bool) -> KeyPlan {
        KeyPlan::decide(
            "alice",
            Location::Params,
            keys::parse(ED).unwrap(),
            KeyType::Ed25519,
            "/home/alice/.ssh/authorized_keys".into(),
            Owner::Root,
            KeysFile::Present {
                content: content.into(),
                sha256: remote::sha256_hex(content.as_bytes()),
                mode: "600".into(),
            },
            remove_previous,
        )
        .unwrap()
    }

    #[test]
    fn a_blob_fingerprint_is_ssh_keygens() {
        let key = keys::parse(ED).unwrap();
        assert_eq!(
            blob_fingerprint(blob(ED_PUB)).unwrap(),
            keys::fingerprint(key.key.public_key())
        );
        assert_eq!(blob_fingerprint("not base64!"), None);
    }

    #[test]
    fn the_first_rotation_retires_the_records_key_on_an_untagged_line() {
        let p = plan(&format!("{OTHER} laptop\n{ED_PUB}"), false);
        assert_eq!(p.before.len(), 2);
        assert!(p.current_in_file);
        assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
    }

    #[test]
    fn the_records_key_under_a_rewritten_tag_comment_is_retired() {
        let content = format!(
            "{OTHER} laptop\n{} keeper-security-alice (imported by cfg-tool)\n",
            blob_line(ED_PUB)
        )
        .replace(
            "keeper-security-alice (imported",
            "managed-by-cfg-tool (imported",
        );
        let p = plan(&content, false);
        assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
    }

    #[test]
    fn an_untagged_key_an_interrupted_rotation_meant_to_retire_is_retired_before_the_records() {
        // The record holds ED (stored by the interrupted run); OTHER, the
        // key it replaced, sits untagged: only the lease's plan names it.
        let mut p = plan(&format!("{OTHER} laptop\n{ED_PUB}"), false);
        let other = blob_fingerprint(blob(OTHER)).unwrap();
        assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
        p.also_retire(&[other.clone(), "SHA256:not-in-the-file".into()]);
        assert_eq!(p.retire, [other.clone(), p.current_fingerprint.clone()]);
        p.also_retire(std::slice::from_ref(&other));
        assert_eq!(p.retire.len(), 2, "a key is retired once");
    }

    #[test]
    fn remove_previous_key_retires_the_records_untagged_key() {
        let p = plan(&format!("{OTHER} laptop\n{ED_PUB}"), true);
        assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
    }

    #[test]
    fn a_later_rotation_retires_the_tagged_line_the_records_key_last() {
        let content = format!(
            "{OTHER} keeper-security-alice\n{} keeper-security-alice\n{OTHER} laptop\n",
            blob_line(ED_PUB)
        );
        let p = plan(&content, false);
        let other = blob_fingerprint(blob(OTHER)).unwrap();
        assert_eq!(p.before, [other.clone(), p.current_fingerprint.clone()]);
        assert_eq!(p.retire, [other, p.current_fingerprint.clone()]);
    }

    #[test]
    fn a_record_key_missing_from_the_file_is_never_retired() {
        let p = plan(&format!("{OTHER} laptop\n"), true);
        assert!(!p.current_in_file);
        assert!(p.retire.is_empty());
    }

    fn blob_line(public: &str) -> String {
        public
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}
