//! The sudo decision tree: what the preflight found, which password path
//! follows from it, and what a failed command's output means.
//!
//! Kept with each other because the path is chosen from the preflight and
//! the classification of a failure decides whether the next path is tried.
//! The tree itself, run on the connection, is `password::path`.

use std::fmt;

use super::Output;

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
    /// The preflight itself could not run (the host cannot fork, is out of
    /// memory, has no sudo): says nothing of what sudo allows.
    CouldNotRun,
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
    } else if [
        "fork",
        "resource temporarily unavailable",
        "cannot allocate memory",
        "command not found",
        "no such file or directory",
    ]
    .iter()
    .any(|n| text.contains(n))
    {
        SudoAccess::CouldNotRun
    } else {
        // `sudo -n -l CMD` for a command it does not allow prints nothing
        // and exits 1.
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
