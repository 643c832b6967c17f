//! One password rotation at a time per target account on this host: the
//! gateway-host lock.
//!
//! A password rotator (REST, Okta) keeps no state of its own: the Gateway
//! stores `newPassword` when the program exits 0. Two runs on the same
//! account that overlap can both exit 0 while the account ends on only one
//! of the two passwords; the Gateway then files the one that lost last, and
//! the vault and the account disagree. The driver therefore takes this lock
//! before planning and holds it to the end of the run: a second run on the
//! same account exits 1 ("another rotation of … is in progress") before it
//! sends anything.
//!
//! - The lock is an advisory `flock` on a file named by a hash of the
//!   normalised target ([`key`]): two spellings of one account (`HTTPS://H/`
//!   and `https://h`, `Alice@X` and `alice@x`) collide. The file holds
//!   nothing; only the hash is in its name, so no url or login is written.
//! - The kernel releases a `flock` when its holder dies, so a crashed run
//!   never leaves a stale lock behind. Lock files are never deleted
//!   (deleting one while another process opens it would let two runs lock two
//!   different files of the same name).
//! - The directory must be one only this user can write: owned by the
//!   process's user, not a symlink, no group or other write permission, and
//!   every directory above it owned by root or this user and either not
//!   writable by others or sticky (`/tmp`). Otherwise another local user
//!   could hold the lock (blocking rotations) or swap the file; the run
//!   exits 2 naming the directory.
//! - The directory is `KEEPER_ROTATOR_LOCK_DIR` when set; else
//!   `/run/keeper-rotators` for root, `$XDG_RUNTIME_DIR/keeper-rotators`
//!   when that is a private directory, else `/tmp/keeper-rotators-<uid>`.
//!
//! The lock is per host. Two gateways rotating the same account do not
//! exclude each other: that is what proving the new password after the change
//! is for (the binaries' own docs).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The variable naming the lock directory.
pub const DIR_VAR: &str = "KEEPER_ROTATOR_LOCK_DIR";

/// What is locked: one account at one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The service, as the binary knows it (the REST url, the Okta org).
    pub service: String,
    /// The account at that service.
    pub account: String,
    /// How the account is named in messages: `'alice' at https://h/pw`.
    pub shown: String,
}

/// The lock, held until dropped (and by the kernel until the process ends).
#[derive(Debug)]
pub struct HostLock {
    _file: File,
    path: PathBuf,
}

impl HostLock {
    /// Takes the lock on `target` without waiting. Another run holding it:
    /// [`Error::Failed`] (exit 1, nothing changed). A directory another
    /// user could write, or a lock that cannot be made: [`Error::Config`]
    /// (exit 2).
    pub fn acquire(target: &Target) -> Result<Self> {
        let dir = directory()?;
        Self::acquire_in(&dir, target)
    }

    /// [`HostLock::acquire`] in `dir` (checked the same way).
    pub fn acquire_in(dir: &Path, target: &Target) -> Result<Self> {
        let uid = own_uid()?;
        trusted_dir(dir, uid)?;
        let path = dir.join(format!("keeper-rotate-{}.lock", key(target)));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                Error::Config(format!(
                    "the rotation lock {} cannot be opened ({e}); nothing was changed",
                    path.display()
                ))
            })?;
        let meta = file.metadata().map_err(|e| {
            Error::Config(format!(
                "the rotation lock {} cannot be read ({e}); nothing was changed",
                path.display()
            ))
        })?;
        if !meta.is_file() || meta.uid() != uid {
            return Err(Error::Config(format!(
                "the rotation lock {} is not a file of this user (uid {uid}); remove it; \
                 nothing was changed",
                path.display()
            )));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Failed(format!(
                    "another rotation of {} is in progress on this host (it holds the lock {}); \
                     nothing was changed. Let it finish; rotate again only if it failed",
                    target.shown,
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::Config(format!(
                    "the rotation lock {} cannot be taken ({e}); nothing was changed",
                    path.display()
                )));
            }
        }
        tracing::debug!("holding the rotation lock {}", path.display());
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file's name part for `target`: the first 32 hex digits of the
/// SHA-256 of the normalised service and account. Normalising is
/// conservative: everything is lower-cased and surrounding blanks and
/// trailing slashes dropped, so two spellings of one account always collide
/// (two accounts differing only in case would share a lock: harmless, they
/// are only serialised).
pub fn key(target: &Target) -> String {
    let mut hash = Sha256::new();
    hash.update(normalise_service(&target.service).as_bytes());
    hash.update([0]);
    hash.update(target.account.trim().to_lowercase().as_bytes());
    hash.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether two service urls are spellings of one (as [`key`] compares them).
pub fn same_service(a: &str, b: &str) -> bool {
    normalise_service(a) == normalise_service(b)
}

/// A url without credentials, fragment or default port, lower-cased, with
/// no trailing slash; anything else lower-cased and trimmed.
fn normalise_service(service: &str) -> String {
    let text = service.trim();
    let text = match url::Url::parse(text) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => text.to_owned(),
    };
    let lower = text.to_lowercase();
    match lower.split_once('?') {
        Some((path, query)) => format!("{}?{query}", path.trim_end_matches('/')),
        None => lower.trim_end_matches('/').to_owned(),
    }
}

/// The directory the locks are in (see the module docs), created if missing.
pub fn directory() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DIR_VAR).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            return Err(Error::Config(format!(
                "{DIR_VAR} must be an absolute path; nothing was changed"
            )));
        }
        return Ok(dir);
    }
    let uid = own_uid()?;
    if uid == 0 {
        return Ok(PathBuf::from("/run/keeper-rotators"));
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && runtime.is_absolute()
        && fs::symlink_metadata(&runtime)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
    {
        return Ok(runtime.join("keeper-rotators"));
    }
    Ok(PathBuf::from(format!("/tmp/keeper-rotators-{uid}")))
}

/// The process's effective user id: the owner of `/proc/self`.
fn own_uid() -> Result<u32> {
    fs::metadata("/proc/self").map(|m| m.uid()).map_err(|e| {
        Error::Config(format!(
            "this process's user cannot be told from /proc/self ({e}), so the rotation lock \
             cannot be checked; nothing was changed"
        ))
    })
}

/// Creates `dir` (mode 0700) if missing and checks that only `uid` can
/// write it or replace it.
fn trusted_dir(dir: &Path, uid: u32) -> Result<()> {
    let untrusted = |why: String| {
        Error::Config(format!(
            "the rotation lock directory {} {why}, so another user could hold or replace the \
             lock; use a directory only the Gateway's user can write (set {DIR_VAR}); nothing \
             was changed",
            dir.display()
        ))
    };
    if let Err(e) = fs::DirBuilder::new().mode(0o700).create(dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(Error::Config(format!(
            "the rotation lock directory {} cannot be created ({e}); create it, owned by the \
             Gateway's user with mode 700, or set {DIR_VAR}; nothing was changed",
            dir.display()
        )));
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| untrusted(format!("cannot be read ({e})")))?;
    if meta.file_type().is_symlink() {
        return Err(untrusted("is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(untrusted("is not a directory".into()));
    }
    if meta.uid() != uid {
        return Err(untrusted(format!(
            "is owned by uid {}, not by this user (uid {uid})",
            meta.uid()
        )));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(untrusted(format!(
            "is writable by its group or others (mode {:o})",
            meta.permissions().mode() & 0o7777
        )));
    }
    // Whoever can write a directory above can rename this one away and put
    // their own in its place, unless the sticky bit forbids it.
    let mut above = dir.parent();
    while let Some(parent) = above {
        let meta = fs::metadata(parent)
            .map_err(|e| untrusted(format!("has a parent that cannot be read ({e})")))?;
        let mode = meta.permissions().mode();
        if meta.uid() != 0 && meta.uid() != uid {
            return Err(untrusted(format!(
                "is inside {}, owned by uid {}",
                parent.display(),
                meta.uid()
            )));
        }
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(untrusted(format!(
                "is inside {}, which others can write (mode {:o})",
                parent.display(),
                mode & 0o7777
            )));
        }
        above = parent.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(service: &str, account: &str) -> Target {
        Target {
            service: service.into(),
            account: account.into(),
            shown: format!("'{account}' at {service}"),
        }
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn two_spellings_of_one_account_share_a_key() {
        assert_eq!(
            key(&target(
                "https://API.example.com:443/v1/pw/",
                "Alice@Example.com "
            )),
            key(&target(
                "https://api.example.com/v1/pw",
                "alice@example.com"
            ))
        );
        assert_eq!(
            key(&target("https://dev-1.okta.com", "a@x")),
            key(&target("HTTPS://dev-1.OKTA.com/", "A@X"))
        );
    }

    #[test]
    fn different_accounts_or_services_have_different_keys() {
        let base = key(&target("https://h/pw", "alice"));
        assert_ne!(base, key(&target("https://h/pw", "bob")));
        assert_ne!(base, key(&target("https://other/pw", "alice")));
        assert_ne!(base, key(&target("https://h/pw?u=1", "alice")));
        // The separator keeps (service, account) pairs apart.
        assert_ne!(
            key(&target("https://h/a", "b")),
            key(&target("https://h/", "ab"))
        );
    }

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = private_dir();
        let t = target("https://h/pw", "alice");
        let first = HostLock::acquire_in(dir.path(), &t).unwrap();
        let second = HostLock::acquire_in(dir.path(), &t).unwrap_err();
        assert_eq!(second.exit(), crate::Exit::Failed);
        let text = second.to_string();
        assert!(
            text.contains("another rotation of 'alice' at https://h/pw is in progress"),
            "{text}"
        );
        assert!(text.contains("nothing was changed"), "{text}");
        drop(first);
        HostLock::acquire_in(dir.path(), &t).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = private_dir();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let error = HostLock::acquire_in(dir.path(), &target("https://h", "a")).unwrap_err();
        assert_eq!(error.exit(), crate::Exit::BadInput);
        assert!(
            error
                .to_string()
                .contains("writable by its group or others")
        );
    }

    #[test]
    fn a_symlinked_directory_is_refused() {
        let dir = private_dir();
        let real = dir.path().join("real");
        fs::DirBuilder::new().mode(0o700).create(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let error = HostLock::acquire_in(&link, &target("https://h", "a")).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
    }

    #[test]
    fn a_missing_directory_is_created_private() {
        let dir = private_dir();
        let inner = dir.path().join("locks");
        HostLock::acquire_in(&inner, &target("https://h", "a")).unwrap();
        let mode = fs::metadata(&inner).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
