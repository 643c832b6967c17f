//! The password's stdin: the script, arguments and input that change a
//! password on each path, and the local SHA-512-crypt hash for `chpasswd -e`.
//!
//! Apart from the scripts because this is where a secret is laid out on a
//! channel's stdin: the one place that decides which line carries what.

use std::fmt;

use common::secret::Secret;
use russh::keys::ssh_key::rand_core::Rng;
use sha_crypt::{PasswordHasher, ShaCrypt};
use zeroize::Zeroizing;

use super::*;

/// A `$6$` SHA-512-crypt hash of `password` with a fresh 16-character salt,
/// for `chpasswd -e`: the plaintext then never reaches sudo's I/O log.
pub fn sha512_crypt(password: &Secret) -> Result<Secret, String> {
    let mut salt = [0u8; 12];
    russh::keys::key::safe_rng().fill_bytes(&mut salt);
    let hash = ShaCrypt::SHA512
        .hash_password_with_salt(password.expose().as_bytes(), &salt)
        .map_err(|e| format!("cannot hash the new password: {e}"))?;
    Ok(Secret::new(hash.to_string()))
}

/// What every path refuses of the user name and the new password: what
/// the input alone can refuse, before connecting. [`password_change`]
/// begins with it.
pub fn check_entry(user: &str, new: &Secret) -> Result<(), String> {
    if user.is_empty() || user.contains([':', '\n', '\r']) {
        return Err(format!("'{user}' is not a user name chpasswd can take"));
    }
    if new.expose().contains(['\n', '\r']) {
        return Err(
            "the new password holds a line break, which passwd and chpasswd cannot take".into(),
        );
    }
    if new.expose().contains('\0') {
        return Err("the new password holds a NUL byte, which no SSH login can send".into());
    }
    Ok(())
}

/// The script, args and stdin that change `user`'s password on `path`.
/// `hashed` is the `$6$` hash when hashing locally (root and sudo only).
pub struct PasswordChange {
    pub script: &'static str,
    pub args: Vec<&'static str>,
    pub stdin: Zeroizing<Vec<u8>>,
    pub pty: bool,
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordChange")
            .field("args", &self.args)
            .field("pty", &self.pty)
            .finish_non_exhaustive()
    }
}

/// The longest password libxcrypt's crypt(3) (and `unix_chkpwd`) checks.
pub const MAX_CRYPT_PASSWORD: usize = 512;

/// Builds the change. `admin_password` is used only for `Sudo { password:
/// true }`; `old` only for self-rotation. A `user` or password holding a
/// newline or (for chpasswd) a colon cannot be written as one line: refused.
pub fn password_change(
    path: PasswordPath,
    user: &str,
    new: &Secret,
    hashed: Option<&Secret>,
    admin_password: Option<&Secret>,
    old: Option<&Secret>,
) -> Result<PasswordChange, String> {
    check_entry(user, new)?;
    let line_ok = |s: &Secret| !s.expose().contains(['\n', '\r']);
    if hashed.is_some() && new.expose().len() > MAX_CRYPT_PASSWORD {
        return Err(format!(
            "the new password is longer than {MAX_CRYPT_PASSWORD} bytes: with \
             password_hash_locally the machine would store a hash its own crypt(3) cannot check \
             (libxcrypt refuses longer passwords), so nobody could log in with it"
        ));
    }
    let mut stdin = Zeroizing::new(Vec::new());
    let mut push_line = |s: &str| {
        stdin.extend_from_slice(s.as_bytes());
        stdin.push(b'\n');
    };
    let value = hashed.unwrap_or(new);
    let entry = Zeroizing::new(format!("{user}:{}", value.expose()));
    let args: Vec<&'static str> = if hashed.is_some() {
        vec!["-e"]
    } else {
        Vec::new()
    };
    let (script, pty) = match path {
        PasswordPath::Root => {
            push_line(&entry);
            (ROOT_CHPASSWD, false)
        }
        PasswordPath::Sudo { password, tty } => {
            if password {
                let admin = admin_password
                    .ok_or("sudo asks for the admin's password, and the admin record has none")?;
                if !line_ok(admin) || admin.expose().contains('\0') {
                    return Err(
                        "the admin password holds a line break or a NUL byte, which sudo cannot \
                         take"
                            .into(),
                    );
                }
                push_line(admin.expose());
            }
            push_line(&entry);
            let script = match (password, tty) {
                (false, false) => SUDO_CHPASSWD,
                (true, false) => SUDO_A_CHPASSWD,
                (false, true) => TTY_SUDO_CHPASSWD,
                (true, true) => TTY_SUDO_A_CHPASSWD,
            };
            (script, tty)
        }
        PasswordPath::SelfPasswd => {
            let old = old.ok_or("self-rotation needs oldPassword")?;
            if !line_ok(old) {
                return Err("the old password holds a line break".into());
            }
            push_line(old.expose());
            push_line(new.expose());
            push_line(new.expose());
            return Ok(PasswordChange {
                script: SELF_PASSWD,
                args: Vec::new(),
                stdin,
                pty: false,
            });
        }
    };
    Ok(PasswordChange {
        script,
        args,
        stdin,
        pty,
    })
}
