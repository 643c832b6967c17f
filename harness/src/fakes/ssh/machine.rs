//! The fake machine's state: accounts, their passwords and shadow entries,
//! sudo rules, and a small file system holding homes and `authorized_keys`.
//!
//! Why a file system and not a field per user: the binary's scripts work on
//! paths (`~/.ssh`, a temp file, a backup, a symlink to refuse), and as the
//! owner of the file, never as root inside a user's directory. Modelling
//! nodes with owners and modes lets the fake answer exactly what the real
//! tools would (a missing `.ssh` is made by its owner, root may not write
//! through `runuser` as someone else, a symlink is refused) and lets a test
//! read back the file byte for byte.

use std::collections::BTreeMap;

use russh::keys::PublicKey;
use sha2::{Digest, Sha256};

use crate::sshd::User;

/// The superuser's name: the only account `chpasswd`, `sshd -T` and
/// `runuser` work for.
pub const ROOT: &str = "root";

/// What sudo lets an account do without being root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SudoRule {
    /// Not in sudoers: `sudo -n -l` fails silently.
    #[default]
    None,
    /// `NOPASSWD:` for `/usr/sbin/chpasswd` (and `/bin/sh` as the users).
    NoPassword,
    /// Allowed after the account's own password (`sudo -A`).
    Password,
}

/// An account's sudo rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sudo {
    pub rule: SudoRule,
    /// `Defaults:<user> requiretty`: sudo refuses without a terminal.
    pub requiretty: bool,
    /// The rule also lets it run `/bin/sh` as other users (needed to edit
    /// their `authorized_keys` as them); `false` allows chpasswd only.
    pub shell_as_users: bool,
    /// `Defaults:<user> listpw=always`: `sudo -l` asks for a password even
    /// where the rule is NOPASSWD.
    pub listpw_always: bool,
    /// The rule asks for a password (`sudo -n` refuses), but sudo's PAM
    /// stack grants without prompting (`pam_succeed_if ... ingroup`,
    /// `pam_wheel trust`, `pam_unix nullok` with an empty password field):
    /// a password offered is never read.
    pub pam_grants_without_asking: bool,
}

impl Default for Sudo {
    fn default() -> Self {
        Self {
            rule: SudoRule::None,
            requiretty: false,
            shell_as_users: true,
            listpw_always: false,
            pam_grants_without_asking: false,
        }
    }
}

impl Sudo {
    /// `NOPASSWD:` for chpasswd and `/bin/sh` as the users.
    pub fn no_password() -> Self {
        Self {
            rule: SudoRule::NoPassword,
            ..Self::default()
        }
    }

    /// Allowed with the account's own password.
    pub fn with_password() -> Self {
        Self {
            rule: SudoRule::Password,
            ..Self::default()
        }
    }

    /// With a password rule, PAM grants without prompting.
    pub fn pam_grants_without_asking(mut self) -> Self {
        self.pam_grants_without_asking = true;
        self
    }

    /// Adds `listpw=always`.
    pub fn listpw_always(mut self) -> Self {
        self.listpw_always = true;
        self
    }

    /// Adds `requiretty`.
    pub fn requiretty(mut self) -> Self {
        self.requiretty = true;
        self
    }

    /// Allows chpasswd only, not `/bin/sh` as other users.
    pub fn chpasswd_only(mut self) -> Self {
        self.shell_as_users = false;
        self
    }
}

/// How the password stack refuses a new password, as PAM modules do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// pam_pwquality: `BAD PASSWORD: ...` (not for `chpasswd -e`, which
    /// takes a hash the stack cannot judge).
    BadPassword,
    /// pam_pwhistory: `Password has been already used.`
    AlreadyUsed,
}

/// A password as the shadow file holds it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Password {
    /// `!`: no password login.
    Locked,
    /// Set with chpasswd or passwd: the fake keeps the text to check logins.
    Plain(String),
    /// Set with `chpasswd -e`: a crypt(3) hash (`$6$…`).
    Crypt(String),
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Locked => "Locked",
            Self::Plain(_) => "Plain(********)",
            Self::Crypt(_) => "Crypt(********)",
        })
    }
}

/// One account.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub password: Password,
    /// The shadow entry's password field; changes with every change, as a
    /// fresh salt makes it do on a real machine.
    pub shadow: String,
    pub home: String,
    /// `chage -d 0`: logins succeed, then every command is refused until the
    /// password is changed interactively.
    pub expired: bool,
    /// `chage -m N`: passwd refuses the user's own change ("You must wait
    /// longer"); root's chpasswd is not bound by it.
    pub min_age: bool,
    pub sudo: Sudo,
}

/// One node of the file system, by absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Dir {
        owner: String,
        mode: u32,
    },
    File {
        owner: String,
        mode: u32,
        content: Vec<u8>,
    },
    Symlink {
        target: String,
    },
}

/// The whole machine.
#[derive(Debug)]
pub(crate) struct Machine {
    pub accounts: BTreeMap<String, Account>,
    pub fs: BTreeMap<String, Node>,
    /// Every password change is refused this way, when set.
    pub refusal: Option<Refusal>,
    /// `AuthorizedKeysFile`, relative to the home directory.
    pub keys_files: Vec<String>,
    /// `AuthorizedKeysCommand`, when set (shown by `sshd -T` only).
    pub keys_command: Option<String>,
    /// Makes every shadow entry unique, as a fresh salt does.
    generation: u64,
}

impl Default for Machine {
    fn default() -> Self {
        let mut fs = BTreeMap::new();
        for dir in ["/", "/home", "/etc"] {
            fs.insert(
                dir.to_owned(),
                Node::Dir {
                    owner: ROOT.into(),
                    mode: 0o755,
                },
            );
        }
        let mut machine = Self {
            accounts: BTreeMap::new(),
            fs,
            refusal: None,
            keys_files: vec![
                ".ssh/authorized_keys".into(),
                ".ssh/authorized_keys2".into(),
            ],
            keys_command: None,
            generation: 0,
        };
        machine.add(&User::new(ROOT));
        machine
    }
}

/// The hex sha256 of `bytes`, as `sha256sum` prints it.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The directory holding `path` (`dirname`).
pub(crate) fn dirname(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((dir, _)) => dir.into(),
        None => ".".into(),
    }
}

impl Machine {
    /// Adds (or replaces) an account as `harness::sshd` makes one: a home
    /// it owns, its password, `authorized_keys` and `authorized_keys2`
    /// written as it (`.ssh` 700, files 600), expiry and minimum age.
    pub fn add(&mut self, user: &User) {
        let home = if user.name == ROOT {
            "/root".to_owned()
        } else {
            format!("/home/{}", user.name)
        };
        self.fs.insert(
            home.clone(),
            Node::Dir {
                owner: user.name.clone(),
                mode: 0o755,
            },
        );
        for (file, lines) in [
            ("authorized_keys", &user.authorized_keys),
            ("authorized_keys2", &user.authorized_keys2),
        ] {
            if let Some(lines) = lines {
                self.fs.insert(
                    format!("{home}/.ssh"),
                    Node::Dir {
                        owner: user.name.clone(),
                        mode: 0o700,
                    },
                );
                self.fs.insert(
                    format!("{home}/.ssh/{file}"),
                    Node::File {
                        owner: user.name.clone(),
                        mode: 0o600,
                        content: lines.as_bytes().to_vec(),
                    },
                );
            }
        }
        let sudo = self
            .accounts
            .get(&user.name)
            .map(|a| a.sudo)
            .unwrap_or_default();
        self.accounts.insert(
            user.name.clone(),
            Account {
                password: Password::Locked,
                shadow: "!".into(),
                home,
                expired: user.expired,
                min_age: user.min_days.is_some_and(|d| d > 0),
                sudo,
            },
        );
        let password = user
            .password
            .as_ref()
            .map_or(Password::Locked, |p| Password::Plain(p.clone()));
        self.set_password(&user.name, password);
    }

    /// Sets a password (and a new shadow field, as a fresh salt would).
    pub fn set_password(&mut self, user: &str, password: Password) {
        self.generation += 1;
        let shadow = match &password {
            Password::Locked => "!".to_owned(),
            Password::Plain(text) => {
                format!("$fake${}${}", self.generation, sha256_hex(text.as_bytes()))
            }
            Password::Crypt(hash) => hash.clone(),
        };
        if let Some(account) = self.accounts.get_mut(user) {
            account.password = password;
            account.shadow = shadow;
        }
    }

    /// Whether `password` is `user`'s password.
    pub fn password_is(&self, user: &str, password: &str) -> bool {
        use sha_crypt::{PasswordVerifier, ShaCrypt};
        match self.accounts.get(user).map(|a| &a.password) {
            Some(Password::Plain(text)) => text == password,
            Some(Password::Crypt(hash)) => ShaCrypt::SHA512
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok(),
            Some(Password::Locked) | None => false,
        }
    }

    /// Follows symlinks (a few levels) to the node a path names.
    pub fn resolve(&self, path: &str) -> Option<(&str, &Node)> {
        let mut path = path;
        for _ in 0..8 {
            let (key, node) = self.fs.get_key_value(path)?;
            match node {
                Node::Symlink { target } => path = target,
                _ => return Some((key.as_str(), node)),
            }
        }
        None
    }

    /// The files sshd reads `user`'s keys from, absolute.
    pub fn keys_paths(&self, user: &str) -> Vec<String> {
        let Some(account) = self.accounts.get(user) else {
            return Vec::new();
        };
        self.keys_files
            .iter()
            .map(|f| {
                if f.starts_with('/') {
                    f.replace("%u", user)
                } else {
                    format!("{}/{f}", account.home.trim_end_matches('/'))
                }
            })
            .collect()
    }

    /// Every key sshd would accept for `user`, with the file each is in.
    pub fn authorized(&self, user: &str) -> Vec<(String, PublicKey)> {
        let mut keys = Vec::new();
        for path in self.keys_paths(user) {
            if let Some((_, Node::File { content, .. })) = self.resolve(&path) {
                for key in parse_keys(&String::from_utf8_lossy(content)) {
                    keys.push((path.clone(), key));
                }
            }
        }
        keys
    }

    /// Whether sshd would take `key` for `user`.
    pub fn accepts_key(&self, user: &str, key: &PublicKey) -> bool {
        self.authorized(user)
            .iter()
            .any(|(_, k)| k.key_data() == key.key_data())
    }

    /// Whether `who` may create or replace entries in `dir`.
    pub fn may_write_in(&self, who: &str, dir: &str) -> bool {
        match self.fs.get(dir) {
            Some(Node::Dir { owner, .. }) => who == ROOT || owner == who,
            _ => false,
        }
    }

    /// Whether `who` may read the file at `path`.
    pub fn may_read(&self, who: &str, path: &str) -> bool {
        match self.resolve(path) {
            Some((_, Node::File { owner, mode, .. })) => {
                who == ROOT || owner == who || mode & 0o004 != 0
            }
            _ => false,
        }
    }
}

/// The public keys of `authorized_keys` text: each line's key after any
/// options (a quoted option may hold spaces); comments, blank lines and
/// unreadable lines are skipped, as sshd skips them.
pub fn parse_keys(text: &str) -> Vec<PublicKey> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let words = split_outside_quotes(line);
            let start = usize::from(!is_key_type(words.first()?));
            let kind = words.get(start)?;
            let blob = words.get(start + 1)?;
            PublicKey::from_openssh(&format!("{kind} {blob}")).ok()
        })
        .collect()
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-sha2-") || word.starts_with("sk-")
}

/// Splits at whitespace outside double quotes (the options field).
fn split_outside_quotes(line: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(s) = start.take() {
                    words.push(&line[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        words.push(&line[s..]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn keys_are_read_after_options_with_quoted_spaces_and_comments_are_skipped() {
        let text =
            format!("# a comment\n\ncommand=\"echo a b\",no-pty {ED} tagged\nnot a key\n{ED}\n");
        assert_eq!(parse_keys(&text).len(), 2);
    }

    #[test]
    fn a_password_change_gives_a_new_shadow_field_even_for_the_same_password() {
        let mut machine = Machine::default();
        machine.add(&User::new("alice").password("pw-one-1"));
        let before = machine.accounts["alice"].shadow.clone();
        machine.set_password("alice", Password::Plain("pw-one-1".into()));
        assert_ne!(machine.accounts["alice"].shadow, before);
        assert!(machine.password_is("alice", "pw-one-1"));
        assert!(!machine.password_is("alice", "pw-two-2"));
    }

    #[test]
    fn a_crypt_hash_checks_logins_as_the_shadow_file_would() {
        use sha_crypt::{PasswordHasher, ShaCrypt};
        let hash = ShaCrypt::SHA512
            .hash_password_with_salt(b"New-pw-77", b"saltsaltsalt")
            .unwrap()
            .to_string();
        let mut machine = Machine::default();
        machine.add(&User::new("alice"));
        assert!(!machine.password_is("alice", "New-pw-77"), "locked first");
        machine.set_password("alice", Password::Crypt(hash.clone()));
        assert!(machine.password_is("alice", "New-pw-77"));
        assert_eq!(machine.accounts["alice"].shadow, hash);
    }

    #[test]
    fn a_users_keys_come_from_both_files_and_through_a_symlink() {
        let mut machine = Machine::default();
        machine.add(&User::new("alice").authorized_keys2(&format!("{ED}\n")));
        let key = PublicKey::from_openssh(ED).unwrap();
        assert!(machine.accepts_key("alice", &key));
        machine.fs.remove("/home/alice/.ssh/authorized_keys2");
        assert!(!machine.accepts_key("alice", &key));
        machine.fs.insert(
            "/etc/keys".into(),
            Node::File {
                owner: ROOT.into(),
                mode: 0o644,
                content: ED.as_bytes().to_vec(),
            },
        );
        machine.fs.insert(
            "/home/alice/.ssh/authorized_keys".into(),
            Node::Symlink {
                target: "/etc/keys".into(),
            },
        );
        assert!(machine.accepts_key("alice", &key));
    }

    #[test]
    fn dirname_is_the_shells() {
        assert_eq!(dirname("/home/a/.ssh/authorized_keys"), "/home/a/.ssh");
        assert_eq!(dirname("/x"), "/");
        assert_eq!(dirname("x"), ".");
    }
}
