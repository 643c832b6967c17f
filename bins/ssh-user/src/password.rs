//! Changing the password, last, and knowing whether it changed.
//!
//! Why last and why so careful: the Gateway stores `newPassword` in the
//! record only on exit 0 and keeps the old one otherwise. So on exit 0 the
//! host must accept `newPassword`, and after any other exit it must still
//! accept the old one, or the record and the host disagree and nobody can
//! log in. This module therefore reports one of three outcomes, each backed
//! by evidence:
//!
//! - **changed**: the command succeeded (and, where password logins are
//!   offered, a login with the new password was accepted);
//! - **not changed**: the command refused with a clear cause, or a check
//!   after a lost connection found the old password still in force;
//! - **unknown**: nothing could tell (exit 4, naming what to check).
//!
//! A connection lost after the password was sent is reconciled: root
//! compares the user's shadow entry with the one read while planning (only a
//! digest of it ever leaves the machine); anyone else logs in with the new
//! password, then the old one. Verification logins are capped at two per run
//! (pam_faillock and fail2ban count failures), and made only when planning
//! proved password logins are offered to the user.
//!
//! Which way the password is changed (root's `chpasswd`, self-rotation's
//! `passwd`, or sudo with or without the admin's password, with or without a
//! terminal) is [`path`]: the sudo decision tree, run read-only while
//! planning, over the preflight that `remote::sudo` reads.

use common::change;
use common::error::{Error, Result};
use common::secret::Secret;

use crate::admin::Admin;
use crate::conn::Conn;
use crate::remote::{self, PasswordChange, PasswordPath, Problem, SudoAccess};
use crate::ssh::{Auth, Credential, SshError};

/// Whether the machine lets the user log in with a password, as planning
/// found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordLogins {
    /// The server offers the user password (or keyboard-interactive)
    /// logins.
    Offered,
    /// The server does not offer password logins to the user.
    NotOffered,
    /// Not known (asking the server failed).
    Unknown,
}

impl PasswordLogins {
    /// Whether a login with a password may tell something: offered, or not
    /// known (then a login is tried, and its refusal lists what is offered).
    pub fn worth_trying(self) -> bool {
        self != Self::NotOffered
    }
}

/// Whether `methods` (as a refusal lists them) let a password log in.
fn offers_password(methods: &[String]) -> bool {
    methods
        .iter()
        .any(|m| m == "password" || m == "keyboard-interactive")
}

/// Whether the server offers `user` password logins, from the methods it
/// lists for the `none` request. No password is tried: a login with the old
/// one would cost a password check and, when the record's copy is out of
/// date, count as a failed login (pam_faillock, fail2ban) before anything
/// was changed.
pub fn check_logins(conn: &Conn, user: &str) -> PasswordLogins {
    match conn.user_methods() {
        // No credential needed at all: a login is possible, so a check
        // with the new password means something.
        Ok(Auth::Accepted) => PasswordLogins::Offered,
        Ok(Auth::Rejected { methods }) if offers_password(&methods) => PasswordLogins::Offered,
        Ok(Auth::Rejected { .. }) => PasswordLogins::NotOffered,
        Err(e) => {
            tracing::warn!("could not ask whether '{user}' may log in with a password: {e}");
            PasswordLogins::Unknown
        }
    }
}

/// What planning decided.
#[derive(Debug)]
pub struct PasswordPlan {
    pub path: PasswordPath,
    pub change: PasswordChange,
    pub logins: PasswordLogins,
    /// Root only: the digest of the user's shadow password field.
    pub shadow_before: Option<String>,
    pub hashed_locally: bool,
}

/// How the change was shown to have happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// A login with the new password was accepted.
    Login,
    /// The command succeeded; password logins are not offered to check.
    CommandOnly,
    /// The command succeeded; the check login could not be made.
    CommandCheckFailed(String),
    /// After a lost connection: the shadow entry changed.
    ShadowChanged,
    /// After a lost connection: the new password logs in.
    LoginAfterLoss,
    /// The command reported a failure, yet the new password logs in.
    LoginAfterFailure(String),
    /// Root: the check login was refused, and the machine's own password
    /// check (`unix_chkpwd`) accepts the new password.
    CheckedOnMachine,
}

impl Evidence {
    pub fn describe(&self) -> String {
        match self {
            Self::Login => "verified by a login".into(),
            Self::CommandOnly => {
                "not verified by a login: the machine does not offer password logins to the user"
                    .into()
            }
            Self::CommandCheckFailed(e) => format!("the check login failed ({e})"),
            Self::ShadowChanged => {
                "the connection dropped after it was sent; the user's shadow entry shows it was \
                 applied"
                    .into()
            }
            Self::LoginAfterLoss => {
                "the connection dropped after it was sent; a login with the new password shows \
                 it was applied"
                    .into()
            }
            Self::CheckedOnMachine => "verified on the machine by its password check \
                 (unix_chkpwd); the check login was refused: the server refuses this user \
                 password logins (PermitRootLogin, AllowUsers, DenyUsers, pam_access?)"
                .into(),
            Self::LoginAfterFailure(failed) => format!(
                "{failed}, yet a login with the new password shows it was applied (check what \
                 else the command does)"
            ),
        }
    }
}

/// Why the password is not (known to be) the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotChanged {
    /// The host keeps the old password.
    Refused(String),
    /// Whether the password changed is unknown.
    Unknown(String),
}

/// Sends the change and establishes what happened.
pub fn change(
    conn: &mut Conn,
    plan: &PasswordPlan,
    user: &str,
    new: &Secret,
    old: Option<&Secret>,
) -> Result<Evidence, NotChanged> {
    let address = conn.address();
    let what = format!(
        "changing the password of '{user}' on {address} ({})",
        plan.path
    );
    let sent = change::sent(&what).map_err(|e| NotChanged::Refused(e.to_string()))?;
    let result = conn.exec(
        plan.change.script,
        &plan.change.args,
        &plan.change.stdin,
        plan.change.pty,
    );
    let outcome = match result {
        Ok(out) if out.success() => verify(conn, plan, user, new, old),
        Ok(out) => {
            let failed = remote::failure("changing the password", &out);
            match shadow_now(conn, plan, user) {
                Some(Ok(false)) => Err(NotChanged::Refused(failed)),
                None => after_failure(conn, plan, Candidates { user, new, old }, &out, failed),
                Some(Ok(true)) => Err(NotChanged::Unknown(format!(
                    "{failed}, yet the user's shadow entry changed: check which password '{user}' \
                     has"
                ))),
                Some(Err(e)) => Err(NotChanged::Unknown(format!(
                    "{failed}, and reading the shadow entry to confirm failed ({e})"
                ))),
            }
        }
        Err(e @ SshError::Timeout { .. }) if e.input_sent() => Err(NotChanged::Unknown(format!(
            "{e}: the password of '{user}' may be the old or the new one; try both"
        ))),
        Err(e) if e.input_sent() => reconcile(conn, plan, Candidates { user, new, old }, &e),
        Err(e) => Err(NotChanged::Refused(format!(
            "changing the password could not be sent: {e}"
        ))),
    };
    match &outcome {
        Err(NotChanged::Refused(_)) => sent.settle(),
        Ok(_) | Err(NotChanged::Unknown(_)) => sent.keep(),
    }
    outcome
}

/// After the command succeeded: one login with the new password, and, only
/// if that is refused, one with the old.
fn verify(
    conn: &mut Conn,
    plan: &PasswordPlan,
    user: &str,
    new: &Secret,
    old: Option<&Secret>,
) -> Result<Evidence, NotChanged> {
    if !plan.logins.worth_trying() {
        return Ok(Evidence::CommandOnly);
    }
    match conn.authenticate_as(user, &Credential::Password(new.clone())) {
        Ok(Auth::Accepted) => return Ok(Evidence::Login),
        Ok(Auth::Rejected { methods })
            if plan.logins == PasswordLogins::Unknown && !offers_password(&methods) =>
        {
            // Not offered after all (planning could not ask).
            return Ok(Evidence::CommandOnly);
        }
        Ok(Auth::Rejected { .. }) => {}
        Err(e) => {
            // Root asks the machine itself; otherwise the command said it
            // worked, and nothing says otherwise.
            return match on_machine(conn, plan, user, new) {
                Some(Ok(true)) | None => Ok(Evidence::CommandCheckFailed(e.to_string())),
                Some(Ok(false)) => Err(NotChanged::Unknown(format!(
                    "the password command reported success, the check login failed ({e}), and \
                     the machine's password check does not accept the new password: check which \
                     password '{user}' has"
                ))),
                Some(Err(why)) => Ok(Evidence::CommandCheckFailed(format!("{e}; {why}"))),
            };
        }
    }
    let said = "the password command reported success, but a login with the new password was \
                refused";
    // Root: the machine's own password check tells, without a login with
    // the old password (a server that refuses the user password logins,
    // such as PermitRootLogin or DenyUsers, refuses both). A changed shadow
    // entry alone proves nothing: a hook or a second run may have set
    // another password.
    match on_machine(conn, plan, user, new) {
        Some(Ok(true)) => {
            return Ok(Evidence::CheckedOnMachine);
        }
        Some(Ok(false)) => {
            return Err(match shadow_now(conn, plan, user) {
                Some(Ok(false)) => NotChanged::Refused(format!(
                    "{said} and the user's shadow entry is unchanged: the change did not take \
                     effect (a PAM module or a wrapper that ignores it?)"
                )),
                _ => NotChanged::Unknown(format!(
                    "{said}, and the machine's password check does not accept it although the \
                     user's shadow entry changed: something else set another password (a hook, \
                     another run through another admin?): check which password '{user}' has"
                )),
            });
        }
        Some(Err(_)) | None => {}
    }
    Err(old_login(conn, user, old, said))
}

/// The new password was refused (`why` says after what): one login with the
/// old one tells whether nothing changed.
fn old_login(conn: &Conn, user: &str, old: Option<&Secret>, why: &str) -> NotChanged {
    let Some(old) = old else {
        return NotChanged::Unknown(format!(
            "{why}, and there is no old password to try: check which password '{user}' has"
        ));
    };
    match conn.authenticate_as(user, &Credential::Password(old.clone())) {
        Ok(Auth::Accepted) => NotChanged::Refused(format!(
            "{why}, and the old one still logs in: the change did not take effect (a PAM module \
             or a wrapper that ignores it?)"
        )),
        Ok(Auth::Rejected { .. }) => NotChanged::Unknown(format!(
            "{why}, and the old one is refused too: check the account of '{user}' (locked? \
             changed by someone else?)"
        )),
        Err(e) => NotChanged::Unknown(format!("{why}, and a login with the old one failed ({e})")),
    }
}

/// Root: whether the machine's own password check (`unix_chkpwd`, the
/// helper of pam_unix) accepts `password` for `user`, without a login and so
/// without sshd's login rules or a failed login counted. `None` when not
/// root, or without the helper.
fn on_machine(
    conn: &mut Conn,
    plan: &PasswordPlan,
    user: &str,
    password: &Secret,
) -> Option<Result<bool, String>> {
    plan.shadow_before.as_ref()?;
    let mut stdin = zeroize::Zeroizing::new(password.expose().as_bytes().to_vec());
    stdin.push(0);
    let out = match conn.exec(remote::CHECK_PASSWORD, &[user], &stdin, false) {
        Ok(out) => out,
        Err(e) => return Some(Err(format!("the machine's password check failed: {e}"))),
    };
    if out.stdout.contains("keeper-chkpwd absent") {
        return None;
    }
    Some(Ok(out.success()))
}

/// Root: whether the user's shadow entry differs from the one planning read
/// (`None` when there is nothing to compare).
fn shadow_now(conn: &mut Conn, plan: &PasswordPlan, user: &str) -> Option<Result<bool, String>> {
    let before = plan.shadow_before.as_deref()?;
    Some(shadow_digest(conn, user).map(|now| now != before))
}

/// The digest of `user`'s shadow password field (root only).
pub fn shadow_digest(conn: &mut Conn, user: &str) -> Result<String, String> {
    let out = conn
        .exec(remote::SHADOW_DIGEST, &[user], b"", false)
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(remote::failure("reading the shadow entry", &out));
    }
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("keeper-shadow "))
        .map(str::trim)
        .filter(|d| d.len() == 64)
        .map(str::to_owned)
        .ok_or_else(|| format!("'{user}' has no shadow entry"))
}

/// The connection was lost after the password was sent: find out which
/// password is in force.
fn reconcile(
    conn: &mut Conn,
    plan: &PasswordPlan,
    who: Candidates<'_>,
    lost: &SshError,
) -> Result<Evidence, NotChanged> {
    let user = who.user;
    tracing::warn!("{lost}; checking which password '{user}' has now");
    if plan.shadow_before.is_some() {
        return match shadow_now(conn, plan, user) {
            Some(Ok(true)) => Ok(Evidence::ShadowChanged),
            Some(Ok(false)) => Err(NotChanged::Refused(format!(
                "{lost}; the user's shadow entry is unchanged, so the password is still the old \
                 one"
            ))),
            Some(Err(e)) => Err(NotChanged::Unknown(format!(
                "{lost}; reading the shadow entry afterwards failed ({e}): the password of \
                 '{user}' may be the old or the new one"
            ))),
            None => Err(NotChanged::Unknown(format!(
                "{lost}: the password of '{user}' may be the old or the new one"
            ))),
        };
    }
    if !plan.logins.worth_trying() {
        return Err(NotChanged::Unknown(format!(
            "{lost}; the machine does not offer password logins to '{user}', so nothing can tell \
             whether the password is the old or the new one"
        )));
    }
    by_logins(conn, who, &lost.to_string(), Evidence::LoginAfterLoss)
}

/// Not root, and the command failed. A failure whose cause is known (sudo
/// would not run it, the password policy refused the password) or a command
/// that could not start changed nothing. Any other failure may have come
/// after the change was applied (a wrapper, a PAM module or a hook failing
/// late), so logins tell, as after a lost connection.
fn after_failure(
    conn: &Conn,
    plan: &PasswordPlan,
    who: Candidates<'_>,
    out: &crate::ssh::Output,
    failed: String,
) -> Result<Evidence, NotChanged> {
    let user = who.user;
    // A PAM failure is not one of them: a module after pam_unix in the
    // password stack can fail once the new password is written.
    let known = remote::classify(&out.text()).is_some_and(|p| p != Problem::PamFailure);
    if known || matches!(out.status, Some(126 | 127)) {
        return Err(NotChanged::Refused(failed));
    }
    if !plan.logins.worth_trying() {
        return Err(NotChanged::Unknown(format!(
            "{failed}; the machine does not offer password logins to '{user}', so nothing can \
             tell whether the password changed before the command failed: check which password \
             '{user}' has"
        )));
    }
    by_logins(
        conn,
        who,
        &failed,
        Evidence::LoginAfterFailure(failed.clone()),
    )
}

/// Whose password is checked, and the two it may now be: what the checks
/// after an unclear change log in with.
#[derive(Debug, Clone, Copy)]
struct Candidates<'a> {
    user: &'a str,
    new: &'a Secret,
    old: Option<&'a Secret>,
}

/// After `what` left the outcome open: a login with the new password, and,
/// only if that is refused, one with the old (at most two logins).
fn by_logins(
    conn: &Conn,
    who: Candidates<'_>,
    lost: &str,
    applied: Evidence,
) -> Result<Evidence, NotChanged> {
    let Candidates { user, new, old } = who;
    match conn.authenticate_as(user, &Credential::Password(new.clone())) {
        Ok(Auth::Accepted) => return Ok(applied),
        Ok(Auth::Rejected { .. }) => {}
        Err(e) => {
            return Err(NotChanged::Unknown(format!(
                "{lost}; a login to check the new password failed too ({e}): the password of \
                 '{user}' may be the old or the new one"
            )));
        }
    }
    Err(old_login(
        conn,
        user,
        old,
        &format!("{lost}; the new password is refused"),
    ))
}

/// What the input alone can refuse of the password change, on any path
/// ([`remote::check_entry`]): checked before connecting. [`build`] checks
/// it again with the rest, once the path is known.
pub fn check_new(user: &str, new: &Secret) -> Result<(), String> {
    remote::check_entry(user, new)
}

/// What a password change is built from.
#[derive(Debug, Clone, Copy)]
pub struct ChangeRequest<'a> {
    pub path: PasswordPath,
    pub user: &'a str,
    pub new: &'a Secret,
    /// The `$6$` hash of `new`, when it is hashed here.
    pub hashed: Option<&'a Secret>,
    /// For sudo with a password.
    pub admin_password: Option<&'a Secret>,
    /// For self-rotation (`passwd` asks the current password).
    pub old: Option<&'a Secret>,
}

/// Builds the change planning sends later.
pub fn build(request: &ChangeRequest<'_>) -> Result<PasswordChange, String> {
    remote::password_change(
        request.path,
        request.user,
        request.new,
        request.hashed,
        request.admin_password,
        request.old,
    )
}

/// How the password is changed: root, self, or what the sudo preflight
/// (read-only, never prompting) allows.
pub(crate) fn path(conn: &mut Conn, admin: &Admin, user: &str) -> Result<PasswordPath> {
    if admin.is_root() {
        return Ok(PasswordPath::Root);
    }
    if admin.is_self(user) {
        return Ok(PasswordPath::SelfPasswd);
    }
    let preflight = |conn: &mut Conn, pty: bool| {
        conn.exec(remote::SUDO_PREFLIGHT, &[], b"", pty)
            .map_err(SshError::into_error)
    };
    let out = preflight(conn, false)?;
    let (access, out) = match remote::classify_preflight(&out) {
        SudoAccess::NeedsTty => {
            let out = preflight(conn, true)?;
            let access = match remote::classify_preflight(&out) {
                SudoAccess::NoPassword => SudoAccess::NoPassword,
                SudoAccess::PasswordRequired => SudoAccess::PasswordRequired,
                SudoAccess::CouldNotRun => SudoAccess::CouldNotRun,
                _ => SudoAccess::NotAllowed,
            };
            (access, (true, out))
        }
        access => (access, (false, out)),
    };
    let (tty, out) = out;
    // A listing that asks for a password proves only that listing does
    // (`listpw`): ask the command itself, which must then refuse too, or
    // the admin password would reach chpasswd as a line of its input.
    let access = if access == SudoAccess::PasswordRequired {
        let check = conn
            .exec(remote::SUDO_CHPASSWD_NO_INPUT, &[], b"", tty)
            .map_err(SshError::into_error)?;
        if check.success() {
            tracing::info!(
                "sudo asks '{}' for a password to list its rights, but runs chpasswd without one",
                admin.login
            );
            SudoAccess::NoPassword
        } else if remote::classify(&check.text()) == Some(Problem::SudoPasswordRequired) {
            SudoAccess::PasswordRequired
        } else {
            // Neither: sending the admin's password could hand it to a
            // chpasswd that sudo runs without asking.
            return Err(Error::Failed(format!(
                "sudo asks '{}' for a password to list its rights, and checking whether it runs \
                 chpasswd without one failed ({}); nothing was changed",
                admin.login,
                remote::failure("sudo -n /usr/sbin/chpasswd with no input", &check)
            )));
        }
    } else {
        access
    };
    match access {
        SudoAccess::NoPassword => Ok(PasswordPath::Sudo {
            password: false,
            tty,
        }),
        SudoAccess::PasswordRequired if admin.password.is_some() => Ok(PasswordPath::Sudo {
            password: true,
            tty,
        }),
        SudoAccess::PasswordRequired => Err(Error::Config(format!(
            "'{}' may run chpasswd through sudo only with a password, and the admin ({}) has \
             none: {}",
            admin.login,
            admin.source.describe(),
            Problem::SudoPasswordRequired.message()
        ))),
        SudoAccess::CouldNotRun => Err(Error::Failed(format!(
            "checking what sudo lets '{}' do could not run ({}): the host is short of processes \
             or memory, or has no sudo; nothing was changed. Rotate again once the host is \
             healthy",
            admin.login,
            remote::failure("sudo -n -l /usr/sbin/chpasswd", &out)
        ))),
        SudoAccess::NeedsTty | SudoAccess::NotAllowed => {
            if remote::classify(&out.text()) == Some(Problem::Expired) {
                return Err(Error::Failed(format!(
                    "the password of '{}' has expired: {}; nothing was changed",
                    admin.login,
                    Problem::Expired.message()
                )));
            }
            Err(Error::Config(format!(
                "'{}' is not root and sudo does not let it run chpasswd ({}): {}",
                admin.login,
                remote::failure("sudo -n -l /usr/sbin/chpasswd", &out),
                Problem::NotAllowed.message()
            )))
        }
    }
}
