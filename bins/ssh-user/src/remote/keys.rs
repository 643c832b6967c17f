//! `authorized_keys` is always written by its owner (self, `sudo -n -u
//! USER`, or root through `runuser -u USER`), never by root inside a
//! directory the user controls: no symlink games, right owner, works on
//! root-squashed NFS homes. The write is atomic (temp file in the same
//! directory, `mv -f`), refuses a symlink, refuses a file that changed since
//! it was read (sha256), keeps the mode, backs up to
//! `authorized_keys.keeper-<run id>.bak` keeping the newest few of ours,
//! and calls `restorecon` where SELinux has it.

use std::fmt;

use common::change;
use common::secret::Secret;
use zeroize::Zeroizing;

use super::*;

/// Who writes `authorized_keys`, as [`AS_OWNER`]'s first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The admin is the user.
    SelfUser,
    /// `sudo -n -u USER`.
    Sudo,
    /// `sudo -A -u USER` ([`AS_OWNER_ASKPASS`]): the admin's password on
    /// stdin's first line, for the askpass helper only.
    SudoPassword,
    /// root via `runuser -u USER`.
    Root,
}

impl Owner {
    /// The script that runs `inner` as `user`, and its first arguments.
    fn command<'a>(self, user: &'a str, inner: &'static str) -> (&'static str, Vec<&'a str>) {
        match self {
            Self::SelfUser => (AS_OWNER, vec!["self", user, inner]),
            Self::Sudo => (AS_OWNER, vec!["sudo", user, inner]),
            Self::SudoPassword => (AS_OWNER_ASKPASS, vec![user, inner]),
            Self::Root => (AS_OWNER, vec!["root", user, inner]),
        }
    }
}

/// `authorized_keys` as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysFile {
    Absent,
    Present {
        content: String,
        sha256: String,
        mode: String,
    },
}

impl KeysFile {
    /// The hash the write must find, or `absent`.
    pub fn sha256(&self) -> &str {
        match self {
            Self::Absent => "absent",
            Self::Present { sha256, .. } => sha256,
        }
    }

    pub fn content(&self) -> &str {
        match self {
            Self::Absent => "",
            Self::Present { content, .. } => content,
        }
    }
}

/// Why reading or writing `authorized_keys` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysError {
    /// The file (or `.ssh`) is a symlink: refused (exit 2).
    Symlink,
    /// The file changed between read and write: nothing written (exit 1).
    Changed,
    /// Something else that left the file as it was: the command's output
    /// says what.
    Failed(String),
    /// A write whose outcome is unknown: the file may hold the new content.
    Unknown(String),
    Ssh(SshError),
}

impl KeysError {
    /// Whether the file may have been changed (a write that got no clear
    /// answer).
    pub fn may_have_changed(&self) -> bool {
        match self {
            Self::Unknown(_) => true,
            Self::Ssh(e) => e.input_sent(),
            Self::Symlink | Self::Changed | Self::Failed(_) => false,
        }
    }
}

impl fmt::Display for KeysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Symlink => f.write_str(
                "authorized_keys (or its directory) is a symlink: refused, because writing \
                 through it could change another file. Replace it with a regular file",
            ),
            Self::Changed => f.write_str(
                "authorized_keys changed since it was read (someone else edited it): nothing \
                 was written; rotate again",
            ),
            Self::Failed(what) | Self::Unknown(what) => write!(f, "{what}"),
            Self::Ssh(e) => write!(f, "{e}"),
        }
    }
}

impl From<SshError> for KeysError {
    fn from(e: SshError) -> Self {
        Self::Ssh(e)
    }
}

/// Which `authorized_keys` file, and who reads and writes it.
#[derive(Debug, Clone, Copy)]
pub struct KeysPath<'a> {
    pub owner: Owner,
    /// The user owning the file.
    pub user: &'a str,
    /// The file's absolute path.
    pub path: &'a str,
    /// The admin's password, for [`Owner::SudoPassword`].
    pub admin_password: Option<&'a Secret>,
}

/// Reads the file as its owner.
pub async fn read_keys(session: &Session, at: &KeysPath<'_>) -> Result<KeysFile, KeysError> {
    let KeysPath {
        owner,
        user,
        path,
        admin_password,
    } = *at;
    let (script, mut args) = owner.command(user, READ_KEYS);
    args.push(path);
    let stdin = sudo_password_line(owner, admin_password)?;
    // Raw, not redacted: the content is written back, so it must be exact.
    let (out, raw) = session.exec_raw(script, &args, &stdin, false).await?;
    if !out.success() {
        return Err(KeysError::Failed(failure("reading authorized_keys", &out)));
    }
    let (head, rest) = match raw.iter().position(|&b| b == b'\n') {
        Some(at) => (&raw[..at], &raw[at + 1..]),
        None => (&raw[..], &raw[raw.len()..]),
    };
    let head = String::from_utf8_lossy(head);
    let words: Vec<&str> = head.split_whitespace().collect();
    match words.as_slice() {
        ["keeper-ak", "absent"] => Ok(KeysFile::Absent),
        ["keeper-ak", "symlink"] => Err(KeysError::Symlink),
        ["keeper-ak", "not-a-file"] => {
            Err(KeysError::Failed(format!("{path} is not a regular file")))
        }
        ["keeper-ak", "present", sha, mode] => {
            if out.truncated {
                return Err(KeysError::Failed(format!(
                    "{path} is larger than {} bytes; refusing to edit it",
                    crate::ssh::MAX_OUTPUT
                )));
            }
            if sha256_hex(rest) != *sha {
                return Err(KeysError::Failed(format!(
                    "{path} did not arrive intact (its sha256 differs)"
                )));
            }
            let Ok(content) = std::str::from_utf8(rest) else {
                return Err(KeysError::Failed(format!(
                    "{path} is not valid UTF-8; refusing to edit it"
                )));
            };
            Ok(KeysFile::Present {
                content: content.to_owned(),
                sha256: (*sha).to_owned(),
                mode: (*mode).to_owned(),
            })
        }
        _ => Err(KeysError::Failed(failure("reading authorized_keys", &out))),
    }
}

/// Writes `content` to the file as its owner, atomically, if it still has
/// the hash it was `read` with. `timestamp` names the backup
/// (`authorized_keys.keeper-<timestamp>.bak`): one per run, sortable by
/// time and unique ([`crate::key_rotation::backup_id`]).
///
/// The write is a change to the account: it is entered in the run's change
/// ledger ([`common::change`]) as `what` before it is sent, and settled only
/// when the outcome shows the file was not replaced (the script's own
/// refusals, sudo refusing to run it, a connection lost before the content
/// was sent). Anything else that is not a success is
/// [`KeysError::Unknown`]: the file may hold the new content.
pub async fn write_keys(
    session: &Session,
    at: &KeysPath<'_>,
    read: &KeysFile,
    content: &str,
    timestamp: &str,
    what: &str,
) -> Result<(), KeysError> {
    let KeysPath {
        owner,
        user,
        path,
        admin_password,
    } = *at;
    let keep = KEEP_BACKUPS.to_string();
    let expected = sha256_hex(content.as_bytes());
    let (script, mut args) = owner.command(user, WRITE_KEYS);
    args.extend([path, read.sha256(), timestamp, keep.as_str(), &expected]);
    let mut stdin = sudo_password_line(owner, admin_password)?;
    stdin.extend_from_slice(content.as_bytes());
    let sent = change::sent(what).map_err(|e| KeysError::Failed(e.to_string()))?;
    let out = match session.exec(script, &args, &stdin, false).await {
        Ok(out) => out,
        Err(e) => {
            if e.input_sent() {
                sent.keep();
            } else {
                sent.settle();
            }
            return Err(KeysError::Ssh(e));
        }
    };
    let refused = |sent: change::Sent, error: KeysError| {
        sent.settle();
        Err(error)
    };
    match out.status {
        Some(0) => {
            sent.keep();
            let written = out
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix("keeper-ak written "))
                .map(str::trim);
            if written == Some(expected.as_str()) {
                Ok(())
            } else {
                Err(KeysError::Unknown(format!(
                    "{path} was written but does not hold what was sent; check it by hand"
                )))
            }
        }
        Some(65) => refused(sent, KeysError::Symlink),
        Some(66) => refused(sent, KeysError::Changed),
        Some(67 | 68 | 64) => refused(
            sent,
            KeysError::Failed(format!(
                "{}; the file was not changed",
                failure("writing authorized_keys", &out)
            )),
        ),
        _ if classify(&out.text()).is_some_and(Problem::is_refusal_before_running) => refused(
            sent,
            KeysError::Failed(format!(
                "{}; the file was not changed",
                failure("writing authorized_keys", &out)
            )),
        ),
        _ => {
            sent.keep();
            Err(KeysError::Unknown(format!(
                "{}; whether the file was replaced is unknown",
                failure("writing authorized_keys", &out)
            )))
        }
    }
}

fn sudo_password_line(
    owner: Owner,
    admin_password: Option<&Secret>,
) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    let mut stdin = Zeroizing::new(Vec::new());
    if owner == Owner::SudoPassword {
        let password = admin_password.ok_or_else(|| {
            KeysError::Failed(
                "sudo asks for the admin's password, and the admin record has none".into(),
            )
        })?;
        if password.expose().contains(['\n', '\r', '\0']) {
            return Err(KeysError::Failed(
                "the admin password holds a line break or a NUL byte, which sudo cannot take"
                    .into(),
            ));
        }
        stdin.extend_from_slice(password.expose().as_bytes());
        stdin.push(b'\n');
    }
    Ok(stdin)
}
