//! A real OpenSSH server per test, in a private mount namespace.
//!
//! Why real sshd: sudo, PAM, chpasswd, passwd, `requiretty` and
//! `authorized_keys` permissions are operating-system behaviour that a fake
//! only imitates. Why a namespace: the test must create users, change their
//! passwords, edit sudoers and PAM, and bind fault-injecting wrappers over
//! `/usr/sbin/chpasswd` — without touching the host's users or
//! configuration. As root, `unshare --mount --propagation private` gives the
//! server its own view of the file system: a copy of `/etc` is bound over
//! `/etc`, temp directories over `/home`, `/root`, `/run`, `/tmp` and `/var/log` (sshd's wtmp
//! and lastlog), and sshd runs from a config of its own on 127.0.0.1 and a free
//! port with a host key made for the test. When the test ends the namespace
//! and everything bound in it vanish with the server process.
//!
//! Tests read the namespace's `/etc/shadow` and users' `authorized_keys`
//! from outside through the temp directory, and can run commands inside with
//! `nsenter`. Where the test is not root, or `unshare` or `sshd` is missing,
//! [`Sshd::start`] prints ONE line (`skipped: …`) and returns `None`; the
//! test returns early.
//!
//! Why a skip fails under CI: a green run with every real-OpenSSH test
//! skipped proves nothing about sudo, PAM or `authorized_keys`, and looks
//! exactly like a green run that tested them. So where skipping is not
//! allowed ([`skip_forbidden`]: `CI` set to anything but `false`/`0`, as CI
//! runners and `.ci/run` set it, or `KEEPER_ROTATORS_REQUIRE_SSHD=1`), a test
//! that would skip panics instead, naming what is missing and how to get it.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A running sshd in its own mount namespace.
#[derive(Debug)]
pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    host_keys: Vec<String>,
}

/// Why this machine cannot run the real-sshd tests, if it cannot.
pub fn unavailable() -> Option<&'static str> {
    if !is_root() {
        return Some("needs root for a private mount namespace");
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        return Some("needs /usr/sbin/sshd (scripts/setup installs openssh-server)");
    }
    if !Path::new("/usr/bin/sudo").exists() {
        return Some("needs sudo (scripts/setup installs it)");
    }
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        return Some("unshare --mount failed (no CAP_SYS_ADMIN?)");
    }
    None
}

/// Where a skip is refused, in words for the failure message.
pub const SKIP_SWITCHES: &str = "CI is set, or KEEPER_ROTATORS_REQUIRE_SSHD=1";

/// Whether a test that needs the real sshd must fail rather than skip:
/// under CI (`CI` set and not `false` or `0`) or when
/// `KEEPER_ROTATORS_REQUIRE_SSHD=1`.
pub fn skip_forbidden() -> bool {
    skip_forbidden_by(
        std::env::var("CI").ok().as_deref(),
        std::env::var("KEEPER_ROTATORS_REQUIRE_SSHD")
            .ok()
            .as_deref(),
    )
}

fn skip_forbidden_by(ci: Option<&str>, require: Option<&str>) -> bool {
    let set = |v: Option<&str>| {
        v.is_some_and(|v| {
            let v = v.trim();
            !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
        })
    };
    set(ci) || set(require)
}

fn is_root() -> bool {
    // The effective uid, without unsafe code: /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn write(path: &Path, content: &str, mode: u32) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn run(command: &mut Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    /// Starts sshd as `setup` says, or prints one `skipped: …` line and
    /// returns `None` where this machine cannot.
    pub fn start(setup: &Setup) -> Option<Self> {
        if let Some(reason) = unavailable() {
            assert!(
                !skip_forbidden(),
                "the real-OpenSSH tests cannot be skipped here ({SKIP_SWITCHES}): {reason}"
            );
            #[allow(clippy::print_stdout, reason = "the one line a skipped test prints")]
            {
                println!("skipped: {reason}");
            }
            return None;
        }
        Some(Self::start_as_root(setup))
    }

    fn start_as_root(setup: &Setup) -> Self {
        // Under /var/tmp: the namespace gets a /tmp of its own (below), and
        // the wrappers here must stay reachable from inside.
        let dir = tempfile::Builder::new()
            .prefix("keeper-sshd-")
            .tempdir_in("/var/tmp")
            .expect("temp dir");
        let root = dir.path();
        // Others must traverse to reach home directories and wrappers.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        run(
            Command::new("cp")
                .args(["-a", "/etc"])
                .arg(root.join("etc")),
            "copy /etc",
        );
        // The test's sudo policy is its own: the host's drop-ins (a broken
        // one would fail `visudo -c` and every test with it) stay outside.
        if let Ok(entries) = std::fs::read_dir(root.join("etc/sudoers.d")) {
            for entry in entries.flatten() {
                if entry.file_name() != "README" {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        for sub in ["home", "log", "bin", "root"] {
            std::fs::create_dir(root.join(sub)).expect("mkdir");
            std::fs::set_permissions(root.join(sub), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        write(&root.join("utmp"), "", 0o664);
        // The machine's own /run and /tmp (rotate-ssh-user's lock on
        // rotating a user lives in one of them): tests that run at once are
        // different machines.
        std::fs::create_dir(root.join("run")).expect("mkdir run");
        std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod run");
        std::fs::create_dir(root.join("tmp")).expect("mkdir tmp");
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .expect("chmod tmp");

        let mut host_keys = Vec::new();
        let mut host_key_lines = String::new();
        for kind in &setup.host_keys {
            let path = root.join(format!("host_{kind}"));
            let mut cmd = Command::new("ssh-keygen");
            cmd.args(["-q", "-N", "", "-t", kind, "-f"]).arg(&path);
            if *kind == "rsa" {
                cmd.args(["-b", "2048"]);
            }
            run(&mut cmd, "ssh-keygen host key");
            let public =
                std::fs::read_to_string(path.with_extension("pub")).expect("host key .pub");
            host_keys.push(
                public
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            host_key_lines.push_str(&format!("HostKey {}\n", path.display()));
        }

        let port = free_port();
        let mut config = format!(
            "Port {port}\nListenAddress 127.0.0.1\n{host_key_lines}PidFile none\nUsePAM yes\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin yes\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2\n\
             StrictModes yes\nPrintMotd no\nPrintLastLog no\nLogLevel VERBOSE\nMaxStartups 50\n\
             MaxAuthTries 20\nLoginGraceTime 30\nAcceptEnv none\n"
        );
        for option in &setup.sshd_options {
            config.push_str(option);
            config.push('\n');
        }
        write(&root.join("sshd_config"), &config, 0o600);

        // Passwords go through a file, never a command line.
        let mut passwords = String::new();
        let mut users = String::new();
        for user in &setup.users {
            let name = sh_quote(&user.name);
            users.push_str(&format!(
                "id -u {name} >/dev/null 2>&1 || useradd -l -m -s /bin/bash {name}\n"
            ));
            if let Some(password) = &user.password {
                passwords.push_str(&format!("{}:{password}\n", user.name));
            }
            for (file, lines) in [
                ("authorized_keys", &user.authorized_keys),
                ("authorized_keys2", &user.authorized_keys2),
            ] {
                if let Some(lines) = lines {
                    let src = root.join(format!("{}.{file}", user.name));
                    write(&src, lines, 0o644);
                    users.push_str(&format!(
                        "runuser -u {name} -- sh -c 'umask 077; mkdir -p ~/.ssh && cat > ~/.ssh/{file}' < {}\n",
                        sh_quote(&src.display().to_string())
                    ));
                }
            }
        }
        write(&root.join("passwords"), &passwords, 0o600);
        if !passwords.is_empty() {
            users.push_str(&format!(
                "/usr/sbin/chpasswd < {}\n",
                sh_quote(&root.join("passwords").display().to_string())
            ));
        }
        for user in &setup.users {
            let name = sh_quote(&user.name);
            if user.expired {
                users.push_str(&format!("chage -d 0 {name}\n"));
            }
            if let Some(days) = user.min_days {
                users.push_str(&format!("chage -m {days} {name}\n"));
            }
        }

        let mut sudoers = String::from("Defaults timestamp_timeout=0\n");
        for line in &setup.sudoers {
            sudoers.push_str(line);
            sudoers.push('\n');
        }
        write(&root.join("sudoers"), &sudoers, 0o440);

        // The real chpasswd, and the wrapper that injects faults.
        run(
            Command::new("cp")
                .args(["-p", "/usr/sbin/chpasswd"])
                .arg(root.join("bin/chpasswd.real")),
            "copy chpasswd",
        );
        write(&root.join("bin/fault"), &fault_word(setup.chpasswd), 0o644);
        write(
            &root.join("bin/chpasswd"),
            &CHPASSWD_WRAPPER.replace("@ROOT@", &root.display().to_string()),
            0o755,
        );
        if let Some(message) = &setup.reject_passwords_with {
            write(
                &root.join("bin/reject-password"),
                &format!("#!/bin/sh\necho {}\nexit 1\n", sh_quote(message)),
                0o755,
            );
        }

        let r = root.display().to_string();
        let mut script = format!(
            "set -e\nexport LC_ALL=C\n\
             mount --bind {etc} /etc\nmount --bind {home} /home\nmount --bind {log} /var/log\n\
             mount --bind {root_home} /root\n\
             mount --bind {run} /run\nmount --bind {tmp} /tmp\n\
             mkdir -p /run/sshd /run/lock && chmod 1777 /run/lock\n\
             cp {utmp} /run/utmp\n\
             sed -i 's/^session\\s\\+required\\s\\+pam_loginuid.so/session optional pam_loginuid.so/' /etc/pam.d/sshd\n\
             cp {sudoers} /etc/sudoers.d/keeper-test\nchmod 440 /etc/sudoers.d/keeper-test\n\
             visudo -c -q\n",
            etc = sh_quote(&format!("{r}/etc")),
            home = sh_quote(&format!("{r}/home")),
            log = sh_quote(&format!("{r}/log")),
            root_home = sh_quote(&format!("{r}/root")),
            utmp = sh_quote(&format!("{r}/utmp")),
            run = sh_quote(&format!("{r}/run")),
            tmp = sh_quote(&format!("{r}/tmp")),
            sudoers = sh_quote(&format!("{r}/sudoers")),
        );
        script.push_str(&users);
        if setup.chpasswd != ChpasswdFault::None {
            script.push_str(&format!(
                "mount --bind {} /usr/sbin/chpasswd\n",
                sh_quote(&format!("{r}/bin/chpasswd"))
            ));
        }
        if setup.reject_passwords_with.is_some() {
            script.push_str(&format!(
                "sed -i '1i password requisite pam_exec.so stdout quiet {}' /etc/pam.d/common-password\n",
                format!("{r}/bin/reject-password").replace('/', "\\/")
            ));
        }
        match &setup.sudo_pam {
            SudoPam::Default => {}
            SudoPam::GrantsGroup(user) => script.push_str(&format!(
                "groupadd -f keeper-trusted\nusermod -aG keeper-trusted {}\n\
                 sed -i '1a auth sufficient pam_succeed_if.so user ingroup keeper-trusted' /etc/pam.d/sudo\n",
                sh_quote(user)
            )),
            SudoPam::WheelTrust(user) => script.push_str(&format!(
                "groupadd -f keeper-wheel\nusermod -aG keeper-wheel {}\n\
                 sed -i '1a auth sufficient pam_wheel.so trust use_uid group=keeper-wheel' /etc/pam.d/sudo\n",
                sh_quote(user)
            )),
            SudoPam::NullokEmptyPassword(user) => {
                script.push_str(&format!("passwd -d {}\n", sh_quote(user)));
            }
            SudoPam::RecordAttempts => {
                write(
                    &root.join("bin/record-attempt"),
                    &format!(
                        "#!/bin/sh\np=$(tr '\\000' '\\n' | head -n 1)\nprintf '%s\\n' \"$p\" >> {}\n",
                        sh_quote(&format!("{r}/sudo-attempts"))
                    ),
                    0o755,
                );
                write(&root.join("sudo-attempts"), "", 0o600);
                script.push_str(&format!(
                    "sed -i 's|^@include common-auth|auth optional pam_exec.so expose_authtok seteuid quiet {r}/bin/record-attempt\\nauth required pam_unix.so use_first_pass|' /etc/pam.d/sudo\n"
                ));
            }
            SudoPam::RecordAskpass => {
                write(
                    &root.join("bin/record-askpass"),
                    &format!(
                        "#!/bin/sh\ntr '\\000' '\\n' < /proc/$PPID/environ | sed -n 's/^SUDO_ASKPASS=//p' >> {}\n",
                        sh_quote(&format!("{r}/sudo-askpass"))
                    ),
                    0o755,
                );
                write(&root.join("sudo-askpass"), "", 0o600);
                script.push_str(&format!(
                    "sed -i 's|^@include common-auth|auth optional pam_exec.so seteuid quiet {r}/bin/record-askpass\\n@include common-auth|' /etc/pam.d/sudo\n"
                ));
            }
            SudoPam::PromptsTwice => script.push_str(
                "sed -i 's|^@include common-auth|auth required pam_stress.so\\nauth required pam_stress.so|' /etc/pam.d/sudo\n",
            ),
        }
        if setup.slow_rm {
            run(
                Command::new("cp")
                    .args(["-p", "/usr/bin/rm"])
                    .arg(root.join("bin/rm.real")),
                "copy rm",
            );
            write(
                &root.join("bin/rm"),
                &format!(
                    "#!/bin/sh\nsleep 1\nexec {} \"$@\"\n",
                    sh_quote(&format!("{r}/bin/rm.real"))
                ),
                0o755,
            );
            script.push_str(&format!(
                "mount --bind {} /usr/bin/rm\n",
                sh_quote(&format!("{r}/bin/rm"))
            ));
        }
        script.push_str(&format!(
            "exec /usr/sbin/sshd -D -e -f {}\n",
            sh_quote(&format!("{r}/sshd_config"))
        ));
        write(&root.join("setup.sh"), &script, 0o700);

        let log = std::fs::File::create(root.join("sshd.log")).expect("sshd.log");
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "/bin/sh"])
            .arg(root.join("setup.sh"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start unshare");
        let mut sshd = Self {
            dir,
            child,
            port,
            host_keys,
        };
        sshd.wait_ready();
        sshd
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sshd exited during setup ({status}):\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sshd did not listen within 15 s:\n{}", self.log());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The first host key, `type base64`.
    pub fn host_key(&self) -> &str {
        &self.host_keys[0]
    }

    pub fn host_keys(&self) -> &[String] {
        &self.host_keys
    }

    /// sshd's log (stderr): setup errors and every login.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The namespace's shadow entry of `user`.
    pub fn shadow_entry(&self, user: &str) -> Option<String> {
        let shadow = std::fs::read_to_string(self.dir.path().join("etc/shadow")).ok()?;
        shadow
            .lines()
            .find(|l| l.split(':').next() == Some(user))
            .map(str::to_owned)
    }

    /// The password hash field of `user`'s shadow entry.
    pub fn shadow_hash(&self, user: &str) -> Option<String> {
        self.shadow_entry(user)
            .and_then(|e| e.split(':').nth(1).map(str::to_owned))
    }

    /// `user`'s home directory as seen from outside.
    pub fn home(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user)
    }

    /// `~user/.ssh/<file>` as seen from outside, if it exists.
    pub fn ssh_file(&self, user: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.home(user).join(".ssh").join(file)).ok()
    }

    pub fn authorized_keys(&self, user: &str) -> Option<String> {
        self.ssh_file(user, "authorized_keys")
    }

    /// Runs `script` with `/bin/sh` inside the namespace (as root, or as
    /// `user` through runuser); returns (status, stdout+stderr).
    pub fn run_inside(&self, user: Option<&str>, script: &str, stdin: &[u8]) -> (i32, String) {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--mount=/proc/{}/ns/mnt", self.child.id()))
            .arg("--");
        match user {
            Some(user) => {
                cmd.args(["runuser", "-u", user, "--", "/bin/sh", "-c", script]);
            }
            None => {
                cmd.args(["/bin/sh", "-c", script]);
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsenter");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("write stdin");
        let out = child.wait_with_output().expect("nsenter output");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// Changes what the chpasswd wrapper does from now on (the wrapper must
    /// have been bound at start: any fault other than `None`).
    pub fn set_chpasswd_fault(&self, fault: ChpasswdFault) {
        write(
            &self.dir.path().join("bin/fault"),
            &fault_word(fault),
            0o644,
        );
    }

    /// Every password sudo's PAM stack was given, one a line
    /// ([`SudoPam::RecordAttempts`]).
    pub fn sudo_attempts(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("sudo-attempts"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Every `SUDO_ASKPASS` sudo ran with ([`SudoPam::RecordAskpass`]).
    pub fn sudo_askpass(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("sudo-askpass"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The outside path of the namespace's temp root (for debugging).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fault_word(fault: ChpasswdFault) -> String {
    match fault {
        ChpasswdFault::None => "none".into(),
        ChpasswdFault::ApplyThenKill => "apply-then-kill".into(),
        ChpasswdFault::Sleep(seconds) => format!("sleep {seconds}"),
        ChpasswdFault::Fail => "fail".into(),
        ChpasswdFault::ApplyThenFail => "apply-then-fail".into(),
        ChpasswdFault::ApplyThenOverwrite => "apply-then-overwrite".into(),
    }
}

/// Bound over /usr/sbin/chpasswd inside the namespace. `@ROOT@` is the
/// temp root (seen the same inside and outside: it is not under a bound
/// directory).
const CHPASSWD_WRAPPER: &str = r#"#!/bin/sh
read -r fault arg < "@ROOT@/bin/fault"
case "$fault" in
fail)
  echo "chpasswd: injected failure" >&2
  exit 1 ;;
sleep)
  sleep "$arg" ;;
esac
if [ "$fault" = apply-then-overwrite ]; then
  in=$(cat)
  printf '%s\n' "$in" | "@ROOT@/bin/chpasswd.real" "$@" || exit $?
  printf '%s\n' "$in" | while IFS=: read -r u _; do
    echo "$u:Hook-Other-pw-9" | "@ROOT@/bin/chpasswd.real"
  done
  exit 0
fi
"@ROOT@/bin/chpasswd.real" "$@"
rc=$?
if [ "$fault" = apply-then-kill ]; then
  # Kill the nearest sshd ancestor: the connection drops with no exit status.
  p=$PPID
  while [ "$p" -gt 1 ]; do
    if [ "$(cat /proc/$p/comm 2>/dev/null)" = sshd ]; then kill -9 "$p"; exit 137; fi
    p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
  done
fi
if [ "$fault" = apply-then-fail ]; then
  echo "chpasswd: post-change hook failed" >&2
  exit 1
fi
exit $rc
"#;

#[cfg(test)]
mod tests {
    use super::skip_forbidden_by;

    #[test]
    fn a_skip_is_refused_under_ci_or_when_required() {
        assert!(skip_forbidden_by(Some("true"), None));
        assert!(skip_forbidden_by(Some("1"), None));
        assert!(skip_forbidden_by(None, Some("1")));
        assert!(skip_forbidden_by(Some("false"), Some("yes")));
    }

    #[test]
    fn a_skip_is_allowed_outside_ci() {
        assert!(!skip_forbidden_by(None, None));
        assert!(!skip_forbidden_by(Some("false"), None));
        assert!(!skip_forbidden_by(Some("0"), Some("")));
        assert!(!skip_forbidden_by(Some(" "), Some("FALSE")));
    }
}
