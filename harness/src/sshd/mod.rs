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

mod setup;
mod skip;

pub use setup::{ChpasswdFault, OVERWRITTEN, Setup, SudoPam, User};
pub use skip::{SKIP_SWITCHES, skip_forbidden, unavailable};

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd in its own mount namespace.
#[derive(Debug)]
pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    host_keys: Vec<String>,
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
