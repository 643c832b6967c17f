//! The user's `authorized_keys` as the credential set of the shared
//! replacement sequence: create, find, revoke, probe and list keys there.
//!
//! Apart from the plan because this is the part that changes the machine:
//! every write goes through [`remote::write_keys`] and its change ledger.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use common::driver::Run;
use common::error::Error;
use common::holders::{self, Retiring};
use common::replace::{Credentials, Failure, Found, Step};
use common::secret::Secret;
use russh::keys::PrivateKey;

use super::{KeyPlan, NewKey, backup_id, blob_fingerprint, fingerprints};
use crate::admin::LOGIN_FIELD;
use crate::authorized_keys::{self, AuthorizedKeys, Edit};
use crate::conn::{Conn, KeysWrite};
use crate::keys;
use crate::remote::{self, KeysError, KeysFile, KeysPath};
use crate::settings::KEY_FIELD;
use crate::ssh::{Auth, Credential};

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
        let read = self
            .conn
            .read_keys(&at)
            .map_err(|e| Failure::Definite(e.to_string()))?
            .map_err(|e| Failure::Definite(format!("reading {} failed: {e}", at.path)))?;
        self.current = read;
        self.stale = false;
        Ok(())
    }

    /// Replaces the file with `content` (the ledger entry says `what`).
    fn write(&mut self, content: String, what: String) -> Step<()> {
        let at = self.at();
        let read = self.current.clone();
        let result = self
            .conn
            .write_keys(&KeysWrite {
                at: &at,
                read: &read,
                content: &content,
                timestamp: &self.timestamp,
                what: &what,
            })
            .map_err(|e| Failure::Definite(e.to_string()))?;
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
            Err(Failure::Superseded(other)) => {
                Failure::Superseded(format!("{other}; {unreachable}"))
            }
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
