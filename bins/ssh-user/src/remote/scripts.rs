//! The constant scripts: every command this program runs on a machine.
//!
//! One file, so that a reviewer reads every script in one place and the
//! fake machine's digests (`harness/src/fakes/ssh/shell.rs`) have one
//! source to follow. Each constant is a `&'static str`: no input is ever
//! formatted into a script, only passed as a quoted argument.

use super::sha256_hex;

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
