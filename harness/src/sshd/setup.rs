//! What a test asks of its sshd: the users, sudoers lines, `sshd_config`
//! options, host key types, the chpasswd fault and sudo's PAM stack.
//!
//! Why apart: this is the vocabulary tests (and the SSH fake, which makes
//! its accounts from the same [`User`]) are written in; how a namespace is
//! built from it is `mod.rs`'s business.

/// A user made inside the namespace.
#[derive(Debug, Clone, Default)]
pub struct User {
    pub name: String,
    /// The password set with chpasswd; `None` leaves the account locked
    /// for password logins.
    pub password: Option<String>,
    /// Lines for `~/.ssh/authorized_keys`, written as the user; `None`
    /// leaves `~/.ssh` absent.
    pub authorized_keys: Option<String>,
    /// Lines for `~/.ssh/authorized_keys2`.
    pub authorized_keys2: Option<String>,
    /// Expire the password (`chage -d 0`): the next login must change it.
    pub expired: bool,
    /// Minimum days between changes (`chage -m`).
    pub min_days: Option<u32>,
}

impl User {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.into());
        self
    }

    pub fn authorized_keys(mut self, lines: &str) -> Self {
        self.authorized_keys = Some(lines.into());
        self
    }

    pub fn authorized_keys2(mut self, lines: &str) -> Self {
        self.authorized_keys2 = Some(lines.into());
        self
    }

    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    pub fn min_days(mut self, days: u32) -> Self {
        self.min_days = Some(days);
        self
    }
}

/// What the wrapper bound over `/usr/sbin/chpasswd` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChpasswdFault {
    /// No wrapper: the real chpasswd.
    None,
    /// Runs the real chpasswd, then kills the SSH session: the change is
    /// applied, the client sees a dropped channel.
    ApplyThenKill,
    /// Sleeps this many seconds, then runs the real chpasswd.
    Sleep(u32),
    /// Prints an error and exits 1 without changing anything.
    Fail,
    /// Runs the real chpasswd, then prints an error and exits 1 (a hook
    /// or wrapper failing after the change was applied).
    ApplyThenFail,
    /// Runs the real chpasswd, then sets each changed user's password to
    /// [`OVERWRITTEN`] and exits 0 (a hook, or another run, setting
    /// another password).
    ApplyThenOverwrite,
}

/// The password [`ChpasswdFault::ApplyThenOverwrite`] leaves.
pub const OVERWRITTEN: &str = "Hook-Other-pw-9";

/// How sudo's PAM stack (`/etc/pam.d/sudo`) authenticates the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SudoPam {
    /// Debian's own (`@include common-auth`: pam_unix prompts).
    Default,
    /// `auth sufficient pam_succeed_if.so user ingroup keeper-trusted`
    /// first, and this user in that group: sudo's rule asks for a password
    /// (`sudo -n` refuses) but PAM grants without prompting.
    GrantsGroup(String),
    /// `auth sufficient pam_wheel.so trust use_uid group=keeper-wheel`
    /// first, and this user in that group: granted without a prompt.
    WheelTrust(String),
    /// This user's password field emptied (`passwd -d`): Debian's
    /// `pam_unix.so nullok` grants without a prompt. (sshd refuses an empty
    /// password, so the user logs in by key.)
    NullokEmptyPassword(String),
    /// A directory-backed stack's shape: `pam_exec expose_authtok` records
    /// every password sudo's conversation returned to
    /// [`Sshd::sudo_attempts`], then `pam_unix use_first_pass` checks it.
    RecordAttempts,
    /// Two modules that each prompt (`pam_stress`, which takes no earlier
    /// password): sudo's conversation asks twice for one authentication,
    /// as a stack with a second factor does. It grants whatever is typed,
    /// so only what the prompts got decides the outcome.
    PromptsTwice,
    /// Debian's own stack, after a `pam_exec` line (as root) that records
    /// the `SUDO_ASKPASS` sudo was started with (read from its
    /// environment) to [`Sshd::sudo_askpass`]: where the helper was placed.
    RecordAskpass,
}

/// How one sshd is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    pub users: Vec<User>,
    /// Lines for `/etc/sudoers.d/keeper-test` (validated with `visudo -c`).
    pub sudoers: Vec<String>,
    /// Extra `sshd_config` lines (`KbdInteractiveAuthentication yes`, ...).
    pub sshd_options: Vec<String>,
    /// Host key types to make (`ed25519`, `ecdsa`, `rsa`); the first is
    /// [`Sshd::host_key`].
    pub host_keys: Vec<&'static str>,
    pub chpasswd: ChpasswdFault,
    /// A message the password stack prints before refusing every change
    /// (a `pam_exec` line in front of `common-password`), as pwquality does.
    pub reject_passwords_with: Option<String>,
    /// sudo's PAM stack.
    pub sudo_pam: SudoPam,
    /// `rm` waits a second before it removes anything: a loaded machine,
    /// where a script's background job cleans up late (the askpass
    /// helper's FIFO writer removes the FIFO only after its `rm` runs).
    pub slow_rm: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            sudoers: Vec::new(),
            sshd_options: Vec::new(),
            host_keys: vec!["ed25519"],
            chpasswd: ChpasswdFault::None,
            reject_passwords_with: None,
            sudo_pam: SudoPam::Default,
            slow_rm: false,
        }
    }
}

impl Setup {
    pub fn user(mut self, user: User) -> Self {
        self.users.push(user);
        self
    }

    pub fn sudoers(mut self, line: &str) -> Self {
        self.sudoers.push(line.into());
        self
    }

    pub fn sshd_option(mut self, line: &str) -> Self {
        self.sshd_options.push(line.into());
        self
    }

    pub fn host_keys(mut self, kinds: &[&'static str]) -> Self {
        self.host_keys = kinds.to_vec();
        self
    }

    pub fn chpasswd(mut self, fault: ChpasswdFault) -> Self {
        self.chpasswd = fault;
        self
    }

    pub fn reject_passwords_with(mut self, message: &str) -> Self {
        self.reject_passwords_with = Some(message.into());
        self
    }

    pub fn sudo_pam(mut self, pam: SudoPam) -> Self {
        self.sudo_pam = pam;
        self
    }

    /// See [`Setup::slow_rm`].
    pub fn slow_rm(mut self) -> Self {
        self.slow_rm = true;
        self
    }
}
