//! What runs on the machine: constant scripts, what goes on their stdin, and
//! what their output means.
//!
//! Why constant scripts: every remote command is `/bin/sh -c '<script>' sh
//! <args>` ([`crate::ssh::Session::exec`]), the script a constant of this
//! file and the arguments never secret. Passwords travel only on the
//! channel's stdin, where no `ps`, shell history or audit log of command
//! lines sees them. `printf` and `read` are shell built-ins, so piping a
//! secret from one to sudo puts it in no process's argv either. Every script
//! sets `LC_ALL=C` (the output classification reads English messages) and a
//! fixed `PATH`, and names the shadow tools by absolute path.
//!
//! Why the sudo dance is careful: with NOPASSWD, sending the admin password
//! first anyway makes `chpasswd` read it as a `user:password` line, print an
//! error, exit 1 — and apply the real line after it. So the password path is
//! chosen by a read-only preflight (`sudo -n -l /usr/sbin/chpasswd`), and the
//! admin password is sent only when sudo says it needs one. The listing is
//! not the command: with `listpw=always` (or `all`) sudo asks a password to
//! *list* rights that run chpasswd without one. So a listing that asks is
//! checked by running the command itself without a password and with no
//! input ([`SUDO_CHPASSWD_NO_INPUT`]; chpasswd with no lines changes nothing).
//! Editing `authorized_keys` as the user has its own rule: the file is read
//! with `sudo -n -u USER` first, and only a refusal for want of a password
//! makes the admin's password go to the machine. `requiretty`
//! needs a terminal; writing straight into `sudo chpasswd` over a terminal
//! never ends (Debian's `use_pty`), so the script reads the line itself and
//! pipes it to sudo.
//!
//! Why the admin's password never shares a stream with a command's input:
//! `sudo -n` saying "a password is required" is the sudoers rule speaking,
//! not PAM. A PAM stack can grant without asking (`pam_succeed_if ...
//! ingroup`, `pam_wheel trust`, `pam_unix nullok` and an empty password
//! field); `sudo -S` then never reads its line, and the command does:
//! chpasswd took it as a `user:password` line, the key scripts as file
//! content. And a stale password made `sudo -S` read the next line (the
//! user's new password) as the admin's second try, into PAM. So the
//! scripts that need the password ([`script!`]`(askpass …)`) take stdin's
//! first line into a shell variable (`read` is a built-in: no argv), and
//! offer it through a FIFO in a fresh `mktemp -d` directory (0700) that an
//! askpass helper there reads: `sudo -A` runs the helper only if PAM asks.
//! The helper is one-shot: before it reads, it claims the FIFO by creating
//! `once` beside it (`mkdir` is atomic), so a second prompt (a stale
//! password re-asked, a second PAM module) finds `once` taken and the
//! helper exits 1 at once with nothing on its output; sudo then gives up
//! ("no password was provided") instead of a second `cat` waiting on a
//! FIFO no writer will open again until the deadline. (Removing the FIFO
//! after the read is not enough: the writer's `rm` runs after the reader
//! has its line, and a prompt that comes before it opens the same FIFO.)
//! The helper reads nothing unless the FIFO exists, so the probe that
//! checks it can run (below) claims nothing. The command's stdin is the rest of
//! the channel's stdin, which never held the password. The helper must be
//! executable where it is: the first of `$XDG_RUNTIME_DIR`, `$TMPDIR`,
//! `/tmp`, `/var/tmp`, `/dev/shm` where it runs is used, and only a trusted
//! one: an absolute path without `.` or `..` components, itself a
//! directory the admin (or root) owns that no group or other may write, or
//! a sticky directory root owns (`/tmp`); and every directory above it, up
//! to `/`, likewise (owned by root or the admin, no group or other write
//! unless sticky and root's). Anywhere else another user could rename the
//! helper's directory (or one above it) and put a helper of theirs in its
//! place, to be handed the admin's password. Owner and mode come from
//! `ls -ldn` (POSIX, and busybox's), read by position: an ACL's mask shows
//! in the group bits, so a named user given write shows as group write; a
//! symlink on the way reads as `l` and is refused; anything unreadable is
//! untrusted. None trusted is [`Problem::AskpassUnavailable`], before sudo
//! runs.
//!
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
use common::secret::{self, Secret};
use russh::keys::ssh_key::rand_core::Rng;
use sha_crypt::{PasswordHasher, ShaCrypt};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ssh::{Output, Session, SshError};

/// Shell functions that judge a directory (`$u` is the admin's uid):
/// `trusted DIR` holds when DIR (absolute, without `.`, `..` or a trailing
/// slash) and every parent up to `/` is owned by root or the admin with no
/// group or other write, or is sticky and root's. The askpass helper and the
/// machine's lock use the one rule.
macro_rules! trust_fns {
    () => {
        concat!(
            "k() {\n",
            "  kl=$(ls -ldn -- \"$1\" 2>/dev/null) || return 1\n",
            "  set -f; set -- $kl; set +f\n",
            "  case $1 in d*) ;; *) return 1 ;; esac\n",
            "  case $1 in ?????????[tT]*) [ \"$3\" = 0 ] && return 0 ;; esac\n",
            "  case $1 in ?????w*|????????w*) return 1 ;; esac\n",
            "  [ \"$3\" = 0 ] || [ \"$3\" = \"$u\" ]\n",
            "}\n",
            "trusted() {\n",
            "  c=$1\n",
            "  while k \"$c\"; do\n",
            "    [ \"$c\" = / ] && return 0\n",
            "    c=${c%/*}; [ -n \"$c\" ] || c=/\n",
            "  done\n",
            "  return 1\n",
            "}\n",
        )
    };
}

/// The environment every script starts with. With `askpass` before the
/// body, the script first takes the admin's password off stdin's first line
/// and offers it to sudo only through an askpass helper (see the module's
/// docs); the body runs `sudo -A` with `SUDO_ASKPASS=$a` and must not
/// `exec` (the helper's directory is removed when the script exits).
macro_rules! script {
    ($body:literal) => {
        concat!(
            "export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin\n",
            $body
        )
    };
    (parts $($part:expr),+ $(,)?) => {
        concat!("export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin\n", $($part),+)
    };
    (askpass $body:literal) => {
        concat!(
            "export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin\n",
            "IFS= read -r p || { echo 'keeper-askpass: no admin password on stdin' >&2; exit 69; }\n",
            "u=$(id -u) || { echo 'keeper-askpass unavailable: id -u failed' >&2; exit 69; }\n",
            trust_fns!(),
            "d=\n",
            "for t in \"${XDG_RUNTIME_DIR:-}\" \"${TMPDIR:-}\" /tmp /var/tmp /dev/shm; do\n",
            "  case $t in /*) ;; *) continue ;; esac\n",
            "  case $t in */./*|*/../*|*/.|*/..) continue ;; esac\n",
            "  while [ \"$t\" != / ] && [ \"${t%/}\" != \"$t\" ]; do t=${t%/}; done\n",
            "  [ -d \"$t\" ] && [ ! -L \"$t\" ] && trusted \"$t\" || continue\n",
            "  d=$(mktemp -d \"$t/keeper-askpass.XXXXXX\" 2>/dev/null) || { d=; continue; }\n",
            "  printf '#!/bin/sh\\nh=${0%%/*}\\n[ -p \"$h/p\" ] && mkdir -- \"$h/once\" 2>/dev/null && exec cat -- \"$h/p\" 2>/dev/null\\nexit 1\\n' > \"$d/a\" && chmod 700 \"$d/a\" || { rm -rf -- \"$d\"; d=; continue; }\n",
            "  \"$d/a\" </dev/null >/dev/null 2>&1\n",
            "  r=$?\n",
            "  [ \"$r\" -ne 126 ] && [ \"$r\" -ne 127 ] && break\n",
            "  rm -rf -- \"$d\"; d=\n",
            "done\n",
            "[ -n \"$d\" ] || { echo 'keeper-askpass unavailable: no private directory where a helper may run' >&2; exit 69; }\n",
            "w=\n",
            "trap 'if [ -n \"$w\" ]; then kill \"$w\" 2>/dev/null; fi; rm -rf -- \"$d\"' EXIT\n",
            "mkfifo -m 600 \"$d/p\" || { echo 'keeper-askpass unavailable: mkfifo failed' >&2; exit 69; }\n",
            "{ printf '%s\\n' \"$p\" > \"$d/p\"; rm -f -- \"$d/p\"; } &\n",
            "w=$!\n",
            // Set only once the writer is forked: under dash, a writer forked
            // after them keeps the parent's handlers for a moment, and a
            // script that ends at once had its `kill` swallowed, leaving the
            // writer blocked on the FIFO with the password.
            "trap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n",
            "p=\nunset p\n",
            "a=$d/a\n",
            $body
        )
    };
}

/// Root changes the password: `user:new` (or `user:$6$…` with `-e`) on stdin.
pub const ROOT_CHPASSWD: &str = script!("exec /usr/sbin/chpasswd \"$@\"\n");

/// Read-only: may the admin run chpasswd through sudo, and with or without a
/// password? Never prompts (`-n`).
pub const SUDO_PREFLIGHT: &str = script!("exec sudo -n -l /usr/sbin/chpasswd\n");

/// When the preflight's listing asked for a password: does chpasswd itself
/// run without one? No input, so chpasswd reads no line and changes nothing.
pub const SUDO_CHPASSWD_NO_INPUT: &str = script!("exec sudo -n /usr/sbin/chpasswd </dev/null\n");

/// sudo without a password: `user:new` on stdin.
pub const SUDO_CHPASSWD: &str = script!("exec sudo -n /usr/sbin/chpasswd \"$@\"\n");

/// sudo with a password: `adminpw\nuser:new\n` on stdin. The shell takes
/// the first line; sudo gets it only from the askpass helper, and only if
/// its PAM stack asks (`-k`: whatever it has cached). chpasswd's stdin holds
/// `user:new` alone, whether PAM asked or not.
pub const SUDO_A_CHPASSWD: &str = script!(
    askpass "SUDO_ASKPASS=$a sudo -A -k -p '' /usr/sbin/chpasswd \"$@\"\nr=$?\nexit \"$r\"\n"
);

/// `requiretty`, no password: run under a terminal with echo off; reads the
/// `user:new` line and pipes it to sudo.
pub const TTY_SUDO_CHPASSWD: &str =
    script!("IFS= read -r l\nprintf '%s\\n' \"$l\" | sudo -n /usr/sbin/chpasswd \"$@\"\n");

/// `requiretty` with a password: the admin password (to the askpass
/// helper) and the line (to chpasswd) are read from the terminal.
pub const TTY_SUDO_A_CHPASSWD: &str = script!(
    askpass "IFS= read -r l\nprintf '%s\\n' \"$l\" | SUDO_ASKPASS=$a sudo -A -k -p '' /usr/sbin/chpasswd \"$@\"\nr=$?\nexit \"$r\"\n"
);

/// The user changes their own password: `old\nnew\nnew\n` on stdin.
pub const SELF_PASSWD: &str = script!("exec passwd\n");

/// Read-only (root): the sshd configuration that applies to one login.
pub const SSHD_T: &str = script!("exec /usr/sbin/sshd -T -C \"user=$1,host=$2,addr=$3\"\n");

/// Read-only (root): `sshd -T` for a login from the address this session
/// comes from (`$SSH_CLIENT`), so `Match Address` blocks apply as they do to
/// the gateway. `$1` = the user.
pub const SSHD_T_CLIENT: &str = script!(
    "a=${SSH_CLIENT%% *}\na=${a:-127.0.0.1}\n\
     exec /usr/sbin/sshd -T -C \"user=$1,host=$a,addr=$a\"\n"
);

/// Read-only (root): the sha256 of `$1`'s password hash field, so the hash
/// itself never leaves the machine. Prints `keeper-shadow <sha256>`, or
/// `keeper-shadow absent` when the user has no shadow entry.
pub const SHADOW_DIGEST: &str = script!(
    "e=$(getent shadow \"$1\") || { echo 'keeper-shadow absent'; exit 0; }\n\
     f=${e#*:}\nf=${f%%:*}\n\
     h=$(printf '%s' \"$f\" | sha256sum) || exit 70\n\
     printf 'keeper-shadow %s\\n' \"${h%% *}\"\n"
);

/// The machine-side lock on rotating one user, held for the whole run: two
/// runs for one user (a schedule and an on-demand run, a retry after a
/// timeout) would otherwise both change the password and both exit 0, and
/// the Gateway could store the one that lost. `flock -n` on
/// `keeper-rotate-<id>.lock` (`$1`, a digest of the user name, never the
/// name itself), kept by a `cat` reading the channel's stdin: released when
/// this run ends the channel or its connection drops, and in any case after
/// `$2` seconds (`timeout`), so a gateway that vanished without closing the
/// connection does not block the next run for hours.
///
/// Where: in a directory only the admin can write, so no other local user
/// can create, hold or swap the lock file: `/run/keeper-rotators` for root;
/// for any other admin `keeper-rotators` in its session's runtime directory
/// (`$XDG_RUNTIME_DIR`, `/run/user/<uid>` under systemd-logind, which no
/// other user can make first), else `/tmp/keeper-rotators-<uid>`; each made
/// 0700 and checked (a directory, not a symlink, the admin's own, mode 700)
/// before use. A directory that fails the check (in `/tmp` another user can
/// make it first) is not trusted (`keeper-lock untrusted`): the run is then
/// not serialised, but nobody can stop it.
/// Prints `keeper-lock held`; exits 75 when another run holds the lock;
/// prints `keeper-lock unavailable` without `flock`.
pub const LOCK: &str = script!(
    parts "command -v flock >/dev/null 2>&1 || { echo 'keeper-lock unavailable'; exit 0; }\n\
     u=$(id -u) || exit 70\n",
    trust_fns!(),
    // `$XDG_RUNTIME_DIR` only when no other user can swap it or a parent
    // (the askpass helper's rule): else the lock could be held or moved.
    "x=${XDG_RUNTIME_DIR:-}\n\
     case $x in /*) ;; *) x= ;; esac\n\
     case $x in */./*|*/../*|*/.|*/..) x= ;; esac\n\
     while [ -n \"$x\" ] && [ \"$x\" != / ] && [ \"${x%/}\" != \"$x\" ]; do x=${x%/}; done\n\
     if [ \"$u\" = 0 ]; then d=/run/keeper-rotators\n\
     elif [ -n \"$x\" ] && [ \"$x\" != / ] && [ -d \"$x\" ] && [ ! -L \"$x\" ] && trusted \"$x\"; then d=$x/keeper-rotators\n\
     else d=/tmp/keeper-rotators-$u; fi\n\
     mkdir -m 700 \"$d\" 2>/dev/null\n\
     if [ -L \"$d\" ] || [ ! -d \"$d\" ] || [ ! -O \"$d\" ] || [ \"$(stat -c %a \"$d\")\" != 700 ]; then\n\
       echo \"keeper-lock untrusted $d\"; exit 0\n\
     fi\n\
     exec flock -n -E 75 \"$d/keeper-rotate-$1.lock\" sh -c 'echo keeper-lock held\n\
     if command -v timeout >/dev/null 2>&1; then exec timeout \"$0\" cat >/dev/null; fi\n\
     exec cat >/dev/null' \"$2\"\n"
);

/// What [`LOCK`] prints once the lock is held.
pub const LOCK_HELD: &str = "keeper-lock held";

/// [`LOCK`]'s argument for `user`: hex, so no user name becomes a path.
pub fn lock_id(user: &str) -> String {
    sha256_hex(user.as_bytes())[..16].to_owned()
}

/// Read-only (root): does `$1`'s password match stdin (the password, then a
/// NUL byte)? pam_unix's own helper answers with its exit status (0: it
/// does), reading /etc/shadow itself: no login, so neither sshd's login rules
/// nor a failed-login counter are involved. `nonull`: an empty password field
/// accepts nothing (with `nullok` it would accept any password). Prints `keeper-chkpwd absent`
/// where the helper is not installed.
pub const CHECK_PASSWORD: &str = script!(
    "for p in /usr/sbin/unix_chkpwd /sbin/unix_chkpwd; do\n\
       if [ -x \"$p\" ]; then exec \"$p\" \"$1\" nonull; fi\n\
     done\n\
     echo 'keeper-chkpwd absent'\n"
);

/// Read-only: a user's home directory.
pub const HOME_OF: &str = script!("getent passwd \"$1\" | cut -d: -f6\n");

/// Runs an inner constant script as the file's owner. `$1` = `self`,
/// `sudo` or `root`; `$2` = the user; `$3` = the inner script; the rest are
/// its arguments.
pub const AS_OWNER: &str = script!(
    "mode=$1 user=$2 inner=$3\nshift 3\ncase $mode in\n\
     self) exec /bin/sh -c \"$inner\" sh \"$@\" ;;\n\
     sudo) exec sudo -n -u \"$user\" /bin/sh -c \"$inner\" sh \"$@\" ;;\n\
     root) exec /usr/sbin/runuser -u \"$user\" -- /bin/sh -c \"$inner\" sh \"$@\" ;;\n\
     *) echo \"keeper-ak: bad mode\" >&2; exit 64 ;;\nesac\n"
);

/// [`AS_OWNER`] through sudo with the admin's password: stdin's first line
/// goes to the askpass helper, read only if sudo's PAM stack asks; the
/// inner script's stdin is the rest. `$1` = the user; `$2` = the inner
/// script; the rest are its arguments.
pub const AS_OWNER_ASKPASS: &str = script!(
    askpass "user=$1 inner=$2\nshift 2\n\
     SUDO_ASKPASS=$a sudo -A -k -p '' -u \"$user\" /bin/sh -c \"$inner\" sh \"$@\"\nr=$?\nexit \"$r\"\n"
);

/// Inner script (as the owner): prints `keeper-ak absent`, `keeper-ak
/// symlink`, or `keeper-ak present <sha256> <mode>` then the file.
pub const READ_KEYS: &str = script!(
    "f=$1\n\
     if [ -L \"$f\" ] || [ -L \"$(dirname -- \"$f\")\" ]; then echo 'keeper-ak symlink'; exit 0; fi\n\
     if [ ! -e \"$f\" ]; then echo 'keeper-ak absent'; exit 0; fi\n\
     if [ ! -f \"$f\" ]; then echo 'keeper-ak not-a-file'; exit 0; fi\n\
     h=$(sha256sum < \"$f\") || exit 70\n\
     m=$(stat -c %a \"$f\") || exit 70\n\
     printf 'keeper-ak present %s %s\\n' \"${h%% *}\" \"$m\"\n\
     exec cat -- \"$f\"\n"
);

/// Inner script (as the owner): replaces `$1` atomically with stdin.
/// The backup `$1.keeper-$3.bak` holds the file as it was before the run's
/// first write: a later write of the same run (same `$3`) keeps it, and a
/// write that puts back exactly the backup's content (a rollback) removes
/// it, since the file is then what it was.
/// `$2` = the sha256 it was read with (or `absent`), `$3` = the run's timestamp,
/// `$4` = how many of our backups to keep, `$5` = the sha256 of the new
/// content: a stdin cut short (a connection lost mid-write) never replaces
/// the file. Exit 0 prints `keeper-ak written <sha256>`; 65 = symlink, 66 =
/// changed since read, 67 = not writable, 68 = the content did not arrive
/// whole. On every non-zero exit the file is unchanged.
pub const WRITE_KEYS: &str = script!(
    "set -u\nf=$1 want=$2 ts=$3 keep=$4 new=$5\nd=$(dirname -- \"$f\")\numask 077\n\
     if [ -L \"$f\" ] || [ -L \"$d\" ]; then echo 'keeper-ak symlink' >&2; exit 65; fi\n\
     if [ ! -d \"$d\" ]; then mkdir -m 700 -- \"$d\" || exit 67; fi\n\
     have=absent\n\
     if [ -e \"$f\" ]; then h=$(sha256sum < \"$f\") || exit 67; have=${h%% *}; fi\n\
     if [ \"$have\" != \"$want\" ]; then echo 'keeper-ak changed' >&2; exit 66; fi\n\
     tmp=$(mktemp \"$d/.authorized_keys.keeper-XXXXXX\") || exit 67\n\
     trap 'rm -f -- \"$tmp\"' EXIT\n\
     cat > \"$tmp\" || exit 67\n\
     h=$(sha256sum < \"$tmp\") || exit 67\n\
     if [ \"${h%% *}\" != \"$new\" ]; then echo 'keeper-ak incomplete' >&2; exit 68; fi\n\
     mode=600 b=$f.keeper-$ts.bak\n\
     if [ -e \"$f\" ]; then mode=$(stat -c %a \"$f\") || exit 67\n\
       if [ ! -e \"$b\" ] && [ ! -L \"$b\" ]; then cp -p -- \"$f\" \"$b\" || exit 67; fi\n\
     fi\n\
     chmod \"$mode\" \"$tmp\" || exit 67\n\
     if [ -e \"$f\" ]; then h=$(sha256sum < \"$f\") || exit 67; else h=absent; fi\n\
     if [ \"${h%% *}\" != \"$want\" ]; then echo 'keeper-ak changed' >&2; exit 66; fi\n\
     mv -f -- \"$tmp\" \"$f\" || exit 67\n\
     trap - EXIT\n\
     if command -v restorecon >/dev/null 2>&1; then restorecon -- \"$d\" \"$f\" 2>/dev/null; fi\n\
     if [ -f \"$b\" ] && [ ! -L \"$b\" ]; then h=$(sha256sum < \"$b\") && [ \"${h%% *}\" = \"$new\" ] && rm -f -- \"$b\"; fi\n\
     set -- \"$f\".keeper-*.bak\n\
     if [ -e \"$1\" ]; then n=$#; for b in \"$@\"; do\n\
       if [ \"$n\" -gt \"$keep\" ]; then rm -f -- \"$b\"; fi; n=$((n-1))\n\
     done; fi\n\
     h=$(sha256sum < \"$f\") && printf 'keeper-ak written %s\\n' \"${h%% *}\"\n"
);

/// How many of our own backups of `authorized_keys` are kept.
pub const KEEP_BACKUPS: usize = 3;

/// What the sudo preflight found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SudoAccess {
    /// `sudo -n /usr/sbin/chpasswd` works.
    NoPassword,
    /// sudo allows it after the admin's password.
    PasswordRequired,
    /// sudo needs a terminal (`requiretty`).
    NeedsTty,
    /// The admin may not run chpasswd through sudo.
    NotAllowed,
}

/// Reads the preflight's output.
pub fn classify_preflight(output: &Output) -> SudoAccess {
    let text = output.text().to_ascii_lowercase();
    if output.success() {
        SudoAccess::NoPassword
    } else if text.contains("password is required") {
        SudoAccess::PasswordRequired
    } else if text.contains("must have a tty") || text.contains("no tty present") {
        SudoAccess::NeedsTty
    } else {
        SudoAccess::NotAllowed
    }
}

/// How the password is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPath {
    Root,
    Sudo { password: bool, tty: bool },
    SelfPasswd,
}

impl fmt::Display for PasswordPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Root => "chpasswd as root",
            Self::Sudo {
                password: false,
                tty: false,
            } => "sudo -n chpasswd",
            Self::Sudo {
                password: true,
                tty: false,
            } => "sudo -A chpasswd (the admin's password through an askpass helper)",
            Self::Sudo {
                password: false,
                tty: true,
            } => "sudo -n chpasswd under a terminal (requiretty)",
            Self::Sudo {
                password: true,
                tty: true,
            } => {
                "sudo -A chpasswd under a terminal (requiretty, the admin's password through an \
                 askpass helper)"
            }
            Self::SelfPasswd => "passwd as the user (self-rotation)",
        })
    }
}

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
    if user.is_empty() || user.contains([':', '\n', '\r']) {
        return Err(format!("'{user}' is not a user name chpasswd can take"));
    }
    let line_ok = |s: &Secret| !s.expose().contains(['\n', '\r']);
    if !line_ok(new) {
        return Err(
            "the new password holds a line break, which passwd and chpasswd cannot take".into(),
        );
    }
    if new.expose().contains('\0') {
        return Err("the new password holds a NUL byte, which no SSH login can send".into());
    }
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

/// Why a password change or sudo call failed, read from its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    SudoPasswordRequired,
    NeedsTty,
    NotAllowed,
    WrongPassword,
    QualityRejected,
    AlreadyUsed,
    TooSoon,
    Expired,
    PamFailure,
    /// The askpass helper could not be set up: sudo never ran.
    AskpassUnavailable,
    /// sudo's PAM stack prompted again after the one answer the askpass
    /// helper gives, and gave up ("no password was provided"): sudo never
    /// ran the command.
    AskedAgain,
}

impl Problem {
    /// A message saying what failed and what to do.
    pub fn message(self) -> &'static str {
        match self {
            Self::SudoPasswordRequired => {
                "sudo asks for a password: give the admin record the admin's password, or allow \
                 chpasswd with NOPASSWD in sudoers"
            }
            Self::NeedsTty => {
                "sudo requires a terminal (Defaults requiretty); allow a PTY for the admin, or \
                 drop requiretty for it"
            }
            Self::NotAllowed => {
                "the admin may not run /usr/sbin/chpasswd through sudo: add a sudoers rule, e.g. \
                 'admin ALL=(root) NOPASSWD: /usr/sbin/chpasswd'"
            }
            Self::WrongPassword => {
                "the password given was refused (sudo's admin password, or the user's current \
                 password): update the record that holds it"
            }
            Self::QualityRejected => {
                "the host's password policy (pwquality/cracklib) rejected the new password: \
                 align the rotation's password complexity with the host's policy"
            }
            Self::AlreadyUsed => {
                "the host's password history (pwhistory) refused a password used before"
            }
            Self::TooSoon => {
                "the host's minimum password age refuses another change yet (You must wait \
                 longer): rotate later, or lower PASS_MIN_DAYS / chage -m for this user"
            }
            Self::Expired => {
                "the account's password has expired and the host demands an interactive change: \
                 reset it as an admin (attach an admin record), or chage -d for the user"
            }
            Self::PamFailure => {
                "PAM refused the change (Authentication token manipulation error): see the \
                 host's auth log"
            }
            Self::AskpassUnavailable => {
                "the admin's password is handed to sudo only through an askpass helper, and none \
                 could be set up (no private directory where a program may run: $XDG_RUNTIME_DIR, \
                 $TMPDIR, /tmp, /var/tmp and /dev/shm are missing or mounted noexec): give the \
                 admin one, or allow the commands with NOPASSWD"
            }
            Self::AskedAgain => {
                "sudo's PAM stack asked for a password more than once (a second prompt, such as \
                 a second factor, or the admin's password asked again) and the admin's password \
                 is given once, so sudo ran nothing: check the admin record's password, or allow \
                 the commands with NOPASSWD for a stack that prompts twice"
            }
        }
    }
}

impl Problem {
    /// Whether this cause means the command never ran: sudo refused before
    /// starting it (no rule, no terminal, no or a wrong password).
    pub fn is_refusal_before_running(self) -> bool {
        matches!(
            self,
            Self::SudoPasswordRequired
                | Self::NeedsTty
                | Self::NotAllowed
                | Self::WrongPassword
                | Self::AskpassUnavailable
                | Self::AskedAgain
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Reads a failed command's output (redacted already) for a known cause.
pub fn classify(text: &str) -> Option<Problem> {
    let t = text.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
    if has(&["keeper-askpass"]) {
        Some(Problem::AskpassUnavailable)
    } else if has(&["must have a tty", "no tty present"]) {
        Some(Problem::NeedsTty)
    } else if has(&["no password was provided"])
        && !has(&["incorrect password", "sorry, try again"])
    {
        // The askpass helper's one answer was taken by an earlier prompt
        // that did not refuse it (a refused one is a wrong password).
        Some(Problem::AskedAgain)
    } else if has(&["password is required"]) {
        Some(Problem::SudoPasswordRequired)
    } else if has(&[
        "is not in the sudoers",
        "is not allowed to execute",
        "not allowed to run sudo",
    ]) {
        Some(Problem::NotAllowed)
    } else if has(&["must wait longer"]) {
        Some(Problem::TooSoon)
    } else if has(&[
        "already used",
        "has been already used",
        "password has been used",
    ]) {
        Some(Problem::AlreadyUsed)
    } else if has(&[
        "bad password",
        "pwquality",
        "too simple",
        "too short",
        "too similar",
        "dictionary",
        "palindrome",
        "does not contain enough",
        "fewer than",
    ]) {
        Some(Problem::QualityRejected)
    } else if has(&[
        "password change required",
        "you are required to change your password",
        "your password has expired",
        "password expired",
    ]) {
        Some(Problem::Expired)
    } else if has(&[
        "incorrect password",
        "sorry, try again",
        "authentication failure",
        "password unchanged",
    ]) {
        Some(Problem::WrongPassword)
    } else if has(&["authentication token manipulation error"]) {
        Some(Problem::PamFailure)
    } else {
        None
    }
}

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

/// The hex sha256 of `content`, as `sha256sum` prints it.
pub fn sha256_hex(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest.iter().map(|b| format!("{b:02x}")).collect()
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

/// A failed command in one line: what, exit status, and its (redacted)
/// output's first lines.
pub fn failure(what: &str, out: &Output) -> String {
    let status = match (&out.status, &out.signal) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by {signal}"),
        (None, None) => "no exit status".into(),
    };
    let first_lines = |all: &str| -> String {
        all.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(4)
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let cause = classify(&first_lines(&out.text()))
        .map(|p| format!(": {p}"))
        .unwrap_or_default();
    // A line that may echo a secret in an escape is withheld whole.
    let text = first_lines(&secret::withhold_lines(&out.text()));
    if text.is_empty() {
        format!("{what} failed ({status}){cause}")
    } else {
        format!("{what} failed ({status}: {text}){cause}")
    }
}

/// What `sshd -T` says about where keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SshdKeys {
    /// `AuthorizedKeysFile` entries with `%u`, `%h`, `%%` expanded, made
    /// absolute against the home directory.
    pub files: Vec<String>,
    /// `AuthorizedKeysCommand`, when set (keys may come from elsewhere).
    pub command: Option<String>,
}

/// Reads `sshd -T` output for `user` whose home is `home`.
pub fn parse_sshd_t(text: &str, user: &str, home: &str) -> SshdKeys {
    let mut keys = SshdKeys::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("authorizedkeysfile") => {
                keys.files = words
                    .filter(|w| *w != "none")
                    .map(|w| expand_path(w, user, home))
                    .collect();
            }
            Some("authorizedkeyscommand") => {
                let rest: Vec<&str> = words.collect();
                if !rest.is_empty() && rest != ["none"] {
                    keys.command = Some(rest.join(" "));
                }
            }
            _ => {}
        }
    }
    if keys.files.is_empty() {
        keys.files = default_keys_files(home);
    }
    keys
}

/// OpenSSH's default `AuthorizedKeysFile`.
pub fn default_keys_files(home: &str) -> Vec<String> {
    vec![
        format!("{}/.ssh/authorized_keys", home.trim_end_matches('/')),
        format!("{}/.ssh/authorized_keys2", home.trim_end_matches('/')),
    ]
}

fn expand_path(token: &str, user: &str, home: &str) -> String {
    let mut out = String::new();
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('%') => out.push('%'),
                Some('u') => out.push_str(user),
                Some('h') => out.push_str(home.trim_end_matches('/')),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    if out.starts_with('/') {
        out
    } else {
        format!("{}/{out}", home.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests;
