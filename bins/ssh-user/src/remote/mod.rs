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
//!
//! Rooms: [`scripts`] (every script), [`sudo`] (the preflight, the password
//! path and what failures mean), [`stdin`] (the password's stdin), [`keys`]
//! (`authorized_keys` reads and writes, as its owner; why in that module)
//! and [`sshd_t`] (reading `sshd -T`).

use common::secret;
use sha2::{Digest, Sha256};

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

mod keys;
mod scripts;
mod sshd_t;
mod stdin;
mod sudo;

pub use keys::*;
pub use scripts::*;
pub use sshd_t::*;
pub use stdin::*;
pub use sudo::*;

/// The hex sha256 of `content`, as `sha256sum` prints it.
pub fn sha256_hex(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    digest.iter().map(|b| format!("{b:02x}")).collect()
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

#[cfg(test)]
mod tests;
