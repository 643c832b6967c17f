//! What the fake runs: the command lines `rotate-ssh-user` sends, recognised
//! and emulated on the fake [`Machine`].
//!
//! Why recognise instead of running a shell: the harness cannot depend on
//! the binary's crate (the binary's tests depend on the harness), and a
//! fake that ran `/bin/sh` would be a real machine, not a fake. So each of
//! the binary's constant scripts is recognised by stable markers in its
//! text ([`Script::classify`]), and its effect is emulated here: the tools
//! it calls (chpasswd, passwd, sudo, runuser, sshd -T, getent, sha256sum,
//! the `authorized_keys` writer) answer with the exit codes and the words
//! the real ones use, which is what the binary classifies.
//!
//! Why a digest per script: markers keep matching when a script changes in
//! a way the emulation does not follow (a new exit code, a new check). Each
//! [`Script`] carries the sha256 of the exact text it was written against
//! ([`Script::reviewed`]); the binary's test
//! (`bins/ssh-user/tests/fake_ssh.rs`) fails as soon as a script's text
//! differs, and says to review the emulation here and update the digest.

use std::fmt;

use super::machine::{Machine, Node, Password, ROOT, Refusal, SudoRule, dirname, sha256_hex};

/// The host name the fake's messages use.
const HOST: &str = "fake-ssh";

/// The binary's constant scripts, as the fake knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// `WRITE_KEYS`: replaces `authorized_keys` atomically (inner, as the owner).
    WriteKeys,
    /// `READ_KEYS`: prints the file with its sha256 and mode (inner).
    ReadKeys,
    /// `AS_OWNER`: runs an inner script as the file's owner.
    AsOwner,
    /// `AS_OWNER_ASKPASS`: stdin's first line to the askpass helper, the
    /// rest to the inner script run by `sudo -A -u USER`.
    AsOwnerAskpass,
    /// `SHADOW_DIGEST`: the sha256 of a shadow password field.
    ShadowDigest,
    /// `SSHD_T_CLIENT`: `sshd -T` for the session's own address.
    SshdTClient,
    /// `SSHD_T`: `sshd -T -C user=,host=,addr=`.
    SshdT,
    /// `SUDO_PREFLIGHT`: `sudo -n -l /usr/sbin/chpasswd`.
    SudoPreflight,
    /// `TTY_SUDO_A_CHPASSWD`: reads two lines under a terminal: the admin's
    /// password for the askpass helper, the line it pipes to `sudo -A
    /// chpasswd`.
    TtySudoAChpasswd,
    /// `TTY_SUDO_CHPASSWD`: reads one line under a terminal, pipes it to
    /// `sudo -n chpasswd`.
    TtySudoChpasswd,
    /// `SUDO_A_CHPASSWD`: stdin's first line to the askpass helper, the
    /// rest to `sudo -A -k chpasswd`.
    SudoAChpasswd,
    /// `SUDO_CHPASSWD_NO_INPUT`: `sudo -n chpasswd </dev/null`.
    SudoChpasswdNoInput,
    /// `SUDO_CHPASSWD`: `sudo -n chpasswd`.
    SudoChpasswd,
    /// `ROOT_CHPASSWD`: `chpasswd` as root.
    RootChpasswd,
    /// `SELF_PASSWD`: `passwd` as the user.
    SelfPasswd,
    /// `HOME_OF`: `getent passwd USER | cut -d: -f6`.
    HomeOf,
    /// `LOCK`: `flock -n` on the lock file, held while stdin is open
    /// (served by the fake's channel, not [`run`]).
    Lock,
    /// `CHECK_PASSWORD`: `unix_chkpwd USER nonull`, the password and a NUL
    /// on stdin (root).
    CheckPassword,
}

impl Script {
    /// Every script, most specific markers first (the order
    /// [`Script::classify`] tries them in).
    pub const ALL: [Self; 18] = [
        Self::Lock,
        Self::CheckPassword,
        Self::WriteKeys,
        Self::ReadKeys,
        Self::AsOwnerAskpass,
        Self::AsOwner,
        Self::ShadowDigest,
        Self::SshdTClient,
        Self::SshdT,
        Self::SudoPreflight,
        Self::TtySudoAChpasswd,
        Self::TtySudoChpasswd,
        Self::SudoAChpasswd,
        Self::SudoChpasswdNoInput,
        Self::SudoChpasswd,
        Self::RootChpasswd,
        Self::SelfPasswd,
        Self::HomeOf,
    ];

    /// The call name faults are armed on: the constant's name in kebab
    /// case. `AS_OWNER` is named by its inner script (`read-keys`,
    /// `write-keys`), so it has no call of its own.
    pub fn call(self) -> &'static str {
        match self {
            Self::WriteKeys => "write-keys",
            Self::ReadKeys => "read-keys",
            Self::AsOwner => "as-owner",
            Self::AsOwnerAskpass => "as-owner-askpass",
            Self::ShadowDigest => "shadow-digest",
            Self::SshdTClient => "sshd-t-client",
            Self::SshdT => "sshd-t",
            Self::SudoPreflight => "sudo-preflight",
            Self::TtySudoAChpasswd => "tty-sudo-a-chpasswd",
            Self::TtySudoChpasswd => "tty-sudo-chpasswd",
            Self::SudoAChpasswd => "sudo-a-chpasswd",
            Self::SudoChpasswdNoInput => "sudo-chpasswd-no-input",
            Self::SudoChpasswd => "sudo-chpasswd",
            Self::RootChpasswd => "root-chpasswd",
            Self::SelfPasswd => "self-passwd",
            Self::HomeOf => "home-of",
            Self::Lock => "lock",
            Self::CheckPassword => "check-password",
        }
    }

    /// The constant's name in `rotate_ssh_user::remote`.
    pub fn constant(self) -> &'static str {
        match self {
            Self::WriteKeys => "WRITE_KEYS",
            Self::ReadKeys => "READ_KEYS",
            Self::AsOwner => "AS_OWNER",
            Self::AsOwnerAskpass => "AS_OWNER_ASKPASS",
            Self::ShadowDigest => "SHADOW_DIGEST",
            Self::SshdTClient => "SSHD_T_CLIENT",
            Self::SshdT => "SSHD_T",
            Self::SudoPreflight => "SUDO_PREFLIGHT",
            Self::TtySudoAChpasswd => "TTY_SUDO_A_CHPASSWD",
            Self::TtySudoChpasswd => "TTY_SUDO_CHPASSWD",
            Self::SudoAChpasswd => "SUDO_A_CHPASSWD",
            Self::SudoChpasswdNoInput => "SUDO_CHPASSWD_NO_INPUT",
            Self::SudoChpasswd => "SUDO_CHPASSWD",
            Self::RootChpasswd => "ROOT_CHPASSWD",
            Self::SelfPasswd => "SELF_PASSWD",
            Self::HomeOf => "HOME_OF",
            Self::Lock => "LOCK",
            Self::CheckPassword => "CHECK_PASSWORD",
        }
    }

    /// Text every version of the script holds; all must be present.
    fn markers(self) -> &'static [&'static str] {
        match self {
            Self::WriteKeys => &["keeper-ak written", "mktemp"],
            Self::ReadKeys => &["keeper-ak present"],
            Self::AsOwner => &["runuser -u", "sudo) exec sudo -n -u"],
            Self::AsOwnerAskpass => &["SUDO_ASKPASS=$a sudo -A -k -p '' -u \"$user\""],
            Self::ShadowDigest => &["keeper-shadow", "getent shadow"],
            Self::SshdTClient => &["SSH_CLIENT", "/usr/sbin/sshd -T"],
            Self::SshdT => &["/usr/sbin/sshd -T -C"],
            Self::SudoPreflight => &["sudo -n -l /usr/sbin/chpasswd"],
            Self::TtySudoAChpasswd => &[
                "IFS= read -r l",
                "SUDO_ASKPASS=$a sudo -A -k -p '' /usr/sbin/chpasswd",
            ],
            Self::TtySudoChpasswd => &["IFS= read -r l", "sudo -n /usr/sbin/chpasswd"],
            Self::SudoAChpasswd => &["SUDO_ASKPASS=$a sudo -A -k -p '' /usr/sbin/chpasswd"],
            Self::SudoChpasswdNoInput => &["exec sudo -n /usr/sbin/chpasswd </dev/null"],
            Self::SudoChpasswd => &["exec sudo -n /usr/sbin/chpasswd"],
            Self::RootChpasswd => &["exec /usr/sbin/chpasswd"],
            Self::SelfPasswd => &["exec passwd"],
            Self::HomeOf => &["getent passwd \"$1\"", "cut -d: -f6"],
            Self::Lock => &["flock -n -E 75", "keeper-lock held"],
            Self::CheckPassword => &["unix_chkpwd", "keeper-chkpwd absent"],
        }
    }

    /// The sha256 of the script text this emulation was written against.
    pub fn reviewed(self) -> &'static str {
        match self {
            Self::WriteKeys => "be02e89bb3a471955bc7b362aba84705018417e4ef22f3ee898fe894f2fbc8ef",
            Self::ReadKeys => "8ea4531f3436f98cb05e417180b8bc0c08ce8dbf134b46a8e6d399f91652010b",
            Self::AsOwner => "632b37d3de7d1ea2b7e6b90d2a29770c9a1925d0f9b37a0b8b9f484985954a88",
            Self::ShadowDigest => {
                "4bbb422e4c208678cebab68f2950568946385e0b8443d270954822fb74456bb9"
            }
            Self::SshdTClient => "1211b1ee067a53e21ecff50a12423105545dfcc618aa7a0328a668dfa916841b",
            Self::SshdT => "4e9d34517a34a5b528d1fa5c7908bc4b362cf8d0073d3c28ed48246349da057f",
            Self::SudoPreflight => {
                "320e5e56a389c09bea117f214d020dbb59d3fcd8e9fcd68b5f23f72f48f3fa68"
            }
            Self::AsOwnerAskpass => {
                "2bff8001a7e1e87f870b4be03ac68e590de9b7f353031d786c22634aa9b82890"
            }
            Self::TtySudoAChpasswd => {
                "e5f2fd646475af66fbd5c766043c3a165d3cdc80d5cf60a611991a94ef56a133"
            }
            Self::TtySudoChpasswd => {
                "a181d5d69e7b70a7df27260ac0b5081c59116bda99301ebb69fd4382cc81aae9"
            }
            Self::SudoChpasswdNoInput => {
                "98962d002fb27af251feb724147ff6463b7dd98d3a24405b5b83577f4151208d"
            }
            Self::SudoAChpasswd => {
                "f5ef557906e183413605e407749d2129c98fc57432c3151d1d272421fa6bcf7d"
            }
            Self::SudoChpasswd => {
                "268bc95fab5a37ff854bae52e9ea8cf57ba55125080f4bca9fe36b95a0a19450"
            }
            Self::RootChpasswd => {
                "97608b47e3eea52b59881e16d67a81d8f22240c9254c7e6bf376fb536e576a66"
            }
            Self::SelfPasswd => "f5e8108f1361fa02cbf63054b703a56084fea51b174159ee7b5a5033843a9f83",
            Self::HomeOf => "feeee01078cae720c3563c0e8376eff1bc059d9bb62882da0cfdd14a256d2476",
            Self::Lock => "902354090e30614dcd363ad368b66879b70266799dad25390cd319ad91d1b87d",
            Self::CheckPassword => {
                "0791c8b89df3a29b52e724b46261413ad3fe0cbe1096486cb78287898602d913"
            }
        }
    }

    /// The script whose markers `text` holds, if any.
    pub fn classify(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.markers().iter().all(|m| text.contains(m)))
    }

    /// Under a terminal the binary sends no EOF: how many lines of stdin
    /// the script reads before it runs.
    pub fn lines_read_under_a_terminal(self) -> usize {
        match self {
            Self::TtySudoChpasswd => 1,
            Self::TtySudoAChpasswd => 2,
            _ => 0,
        }
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.call())
    }
}

/// A command line as `/bin/sh -c '<script>' sh <args>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub script: String,
    pub args: Vec<String>,
}

impl Command {
    /// Reads `/bin/sh -c SCRIPT sh ARGS…` (POSIX quoting: `'…'`, `\x`,
    /// `"…"`); `None` for any other shape.
    pub fn parse(line: &str) -> Option<Self> {
        let words = split_words(line)?;
        match words.as_slice() {
            [sh, c, script, zero, args @ ..] if sh == "/bin/sh" && c == "-c" && zero == "sh" => {
                Some(Self {
                    script: script.clone(),
                    args: args.to_vec(),
                })
            }
            _ => None,
        }
    }

    /// The call name: the script's, or for `AS_OWNER` its inner script's;
    /// `unknown-script` when the fake does not know it.
    pub fn call(&self) -> &'static str {
        match Script::classify(&self.script) {
            Some(Script::AsOwner) => match self.args.get(2).and_then(|s| Script::classify(s)) {
                Some(inner @ (Script::ReadKeys | Script::WriteKeys)) => inner.call(),
                _ => UNKNOWN,
            },
            Some(script) => script.call(),
            None => UNKNOWN,
        }
    }
}

/// The call name of a command the fake does not know.
pub const UNKNOWN: &str = "unknown-script";

/// Shell words: `'…'` literal, `"…"` with `\` escapes, `\x` outside quotes.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => w.push(chars.next()?),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

/// What a command printed and its exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: u32,
}

impl Reply {
    fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        Self {
            stdout: stdout.into(),
            ..Self::default()
        }
    }

    fn fail(status: u32, stderr: impl Into<Vec<u8>>) -> Self {
        Self {
            stderr: stderr.into(),
            status,
            ..Self::default()
        }
    }

    fn out(status: u32, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> Self {
        Self {
            stdout: stdout.into(),
            stderr: stderr.into(),
            status,
        }
    }
}

/// What sshd answers an expired account's command with (no terminal to
/// change it on).
pub(crate) fn expired() -> Reply {
    Reply::out(
        1,
        "",
        "WARNING: Your password has expired.\nYou must change your password now and login \
         again!\nYou are required to change your password immediately (administrator \
         enforced)\nPassword change required but no TTY available.\n",
    )
}

/// Runs `command` as `caller` on `machine` (with a terminal when `pty`),
/// `stdin` being everything the client sent. The command's effect is
/// applied to the machine.
pub(crate) fn run(
    machine: &mut Machine,
    caller: &str,
    pty: bool,
    command: &Command,
    stdin: &[u8],
) -> Reply {
    let arg = |i: usize| command.args.get(i).map(String::as_str).unwrap_or_default();
    let Some(script) = Script::classify(&command.script) else {
        return Reply::fail(
            127,
            "sh: 1: the fake SSH server does not know this script\n",
        );
    };
    match script {
        Script::HomeOf => match machine.accounts.get(arg(0)) {
            Some(account) => Reply::ok(format!("{}\n", account.home)),
            None => Reply::ok(""),
        },
        Script::SudoPreflight => {
            if caller == ROOT {
                return Reply::ok("/usr/sbin/chpasswd\n");
            }
            match sudo(machine, caller, pty, SudoTarget::List, None) {
                Ok(()) => Reply::ok("/usr/sbin/chpasswd\n"),
                Err(reply) => reply,
            }
        }
        Script::RootChpasswd => {
            if caller != ROOT {
                return Reply::fail(1, "chpasswd: Permission denied.\n");
            }
            chpasswd(machine, stdin, command.args.iter().any(|a| a == "-e"))
        }
        Script::SudoChpasswdNoInput => match sudo(machine, caller, pty, SudoTarget::Chpasswd, None)
        {
            // chpasswd with no input: no line, no change.
            Ok(()) => Reply::ok(""),
            Err(reply) => reply,
        },
        Script::SudoChpasswd | Script::TtySudoChpasswd => {
            let stdin = if script == Script::TtySudoChpasswd {
                first_lines(stdin, 1)
            } else {
                stdin.to_vec()
            };
            match sudo(machine, caller, pty, SudoTarget::Chpasswd, None) {
                Ok(()) => chpasswd(machine, &stdin, command.args.iter().any(|a| a == "-e")),
                Err(reply) => reply,
            }
        }
        Script::SudoAChpasswd | Script::TtySudoAChpasswd => {
            // The shell takes the first line for the askpass helper; the
            // rest (under a terminal: the next line) is chpasswd's input.
            let (password, rest) = split_first_line(stdin);
            let rest = if script == Script::TtySudoAChpasswd {
                first_lines(rest, 1)
            } else {
                rest.to_vec()
            };
            match sudo(machine, caller, pty, SudoTarget::Chpasswd, Some(password)) {
                Ok(()) => chpasswd(machine, &rest, command.args.iter().any(|a| a == "-e")),
                Err(reply) => reply,
            }
        }
        Script::SelfPasswd => passwd(machine, caller, stdin),
        Script::SshdT | Script::SshdTClient => sshd_t(machine, caller),
        Script::ShadowDigest => match machine.accounts.get(arg(0)) {
            Some(account) if caller == ROOT => Reply::ok(format!(
                "keeper-shadow {}\n",
                sha256_hex(account.shadow.as_bytes())
            )),
            // Not root: getent shadow fails, and the script says absent.
            _ => Reply::ok("keeper-shadow absent\n"),
        },
        Script::AsOwner => as_owner(machine, caller, pty, &command.args, stdin),
        Script::AsOwnerAskpass => {
            let (password, rest) = split_first_line(stdin);
            let Some(user) = command.args.first() else {
                return Reply::fail(2, "sh: 1: shift: can't shift that many\n");
            };
            if let Err(reply) = sudo(
                machine,
                caller,
                pty,
                SudoTarget::ShellAs(user),
                Some(password),
            ) {
                return reply;
            }
            run_as(machine, user, &command.args[1..], rest)
        }
        // Served by the fake's channel, which holds it open.
        Script::Lock => Reply::fail(70, "sh: 1: LOCK is served by the channel\n"),
        Script::CheckPassword => {
            if caller != ROOT {
                return Reply::fail(7, "");
            }
            let password = stdin.strip_suffix(&[0]).unwrap_or(stdin);
            if machine.password_is(arg(0), &String::from_utf8_lossy(password)) {
                Reply::ok("")
            } else {
                Reply::fail(7, "")
            }
        }
        Script::ReadKeys | Script::WriteKeys => {
            // Only ever run through AS_OWNER; alone, as the caller.
            inner(machine, caller, script, &command.args, stdin)
        }
    }
}

/// stdin's first line (without its newline) and the rest.
fn split_first_line(stdin: &[u8]) -> (&[u8], &[u8]) {
    match stdin.iter().position(|&b| b == b'\n') {
        Some(at) => (&stdin[..at], &stdin[at + 1..]),
        None => (stdin, &[]),
    }
}

fn first_lines(stdin: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for line in stdin.split_inclusive(|&b| b == b'\n').take(n) {
        out.extend_from_slice(line);
    }
    out
}

/// What sudo is asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SudoTarget<'u> {
    /// `sudo -n -l /usr/sbin/chpasswd`: only asks.
    List,
    /// `sudo /usr/sbin/chpasswd` as root.
    Chpasswd,
    /// `sudo -u USER /bin/sh`.
    ShellAs(&'u str),
}

/// Whether sudo runs the command for `caller`. `askpass` is what an
/// askpass helper would answer (`sudo -A`): read only when the rule asks
/// for a password and PAM prompts, once (a wrong one is one failed
/// attempt, then the helper has nothing more). Refusals are sudo's own
/// messages.
fn sudo(
    machine: &Machine,
    caller: &str,
    pty: bool,
    target: SudoTarget<'_>,
    askpass: Option<&[u8]>,
) -> Result<(), Reply> {
    if caller == ROOT {
        return Ok(());
    }
    let Some(account) = machine.accounts.get(caller) else {
        return Err(Reply::fail(
            1,
            "sudo: you do not exist in the passwd database\n",
        ));
    };
    let sudo = account.sudo;
    let (command, as_user) = match target {
        SudoTarget::List | SudoTarget::Chpasswd => ("/usr/sbin/chpasswd", ROOT),
        SudoTarget::ShellAs(user) => ("/bin/sh", user),
    };
    if sudo.requiretty && !pty {
        return Err(Reply::fail(
            1,
            "sudo: sorry, you must have a tty to run sudo\n",
        ));
    }
    match (sudo.rule, target) {
        // `sudo -n -l CMD` for a user with no rule: silent, status 1.
        (SudoRule::None, SudoTarget::List) => return Err(Reply::fail(1, "")),
        // `listpw=always`: listing asks for a password, whatever the rule.
        (_, SudoTarget::List) if sudo.listpw_always => {
            return Err(Reply::fail(1, "sudo: a password is required\n"));
        }
        (SudoRule::None, _) => {
            return Err(Reply::fail(
                1,
                format!("{caller} is not in the sudoers file.\n"),
            ));
        }
        (_, SudoTarget::ShellAs(_)) if !sudo.shell_as_users => {
            return Err(Reply::fail(
                1,
                format!(
                    "Sorry, user {caller} is not allowed to execute '{command}' as {as_user} on \
                     {HOST}.\n"
                ),
            ));
        }
        _ => {}
    }
    match (sudo.rule, askpass) {
        (SudoRule::NoPassword, _) => Ok(()),
        // `sudo -n` fails (the rule asks), but PAM grants without a prompt.
        (SudoRule::Password, Some(_)) if sudo.pam_grants_without_asking => Ok(()),
        (SudoRule::Password, None) => Err(Reply::fail(1, "sudo: a password is required\n")),
        (SudoRule::Password, Some(line)) => {
            if machine.password_is(caller, &String::from_utf8_lossy(line)) {
                Ok(())
            } else {
                Err(Reply::fail(
                    1,
                    "Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect \
                     password attempt\n",
                ))
            }
        }
        (SudoRule::None, _) => unreachable!("refused above"),
    }
}

/// chpasswd: `user:password` lines (`-e`: `user:$6$hash`). A line without a
/// colon is an error, and the lines after it are still applied, as the
/// real one does.
fn chpasswd(machine: &mut Machine, stdin: &[u8], encrypted: bool) -> Reply {
    let mut stderr = String::new();
    let text = String::from_utf8_lossy(stdin).into_owned();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let Some((user, password)) = line.split_once(':') else {
            stderr.push_str(&format!("chpasswd: line {n}: missing new password\n"));
            continue;
        };
        if !machine.accounts.contains_key(user) {
            stderr.push_str(&format!(
                "chpasswd: line {n}: user '{user}' does not exist\n"
            ));
            continue;
        }
        if !encrypted && let Some(refusal) = machine.refusal {
            stderr.push_str(refusal_text(refusal));
            stderr.push_str(&format!(
                "chpasswd: (user {user}) pam_chauthtok() failed, error:\nAuthentication token \
                 manipulation error\nchpasswd: (line {n}, user {user}) password not changed\n"
            ));
            continue;
        }
        let password = if encrypted {
            Password::Crypt(password.to_owned())
        } else {
            Password::Plain(password.to_owned())
        };
        machine.set_password(user, password);
    }
    if stderr.is_empty() {
        Reply::ok("")
    } else {
        Reply::fail(1, stderr)
    }
}

fn refusal_text(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::BadPassword => {
            "BAD PASSWORD: The password fails the dictionary check - it is based on a dictionary \
             word\n"
        }
        Refusal::AlreadyUsed => "Password has been already used. Choose another.\n",
    }
}

/// passwd as the user: current, new, new on stdin (root: new, new).
fn passwd(machine: &mut Machine, caller: &str, stdin: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(stdin).into_owned();
    let mut lines = text.lines();
    let unchanged = |stdout: &str, why: &str| {
        Reply::out(
            10,
            stdout.to_owned(),
            format!(
                "{why}passwd: Authentication token manipulation error\npasswd: password unchanged\n"
            ),
        )
    };
    let Some(account) = machine.accounts.get(caller) else {
        return Reply::fail(1, format!("passwd: user '{caller}' does not exist\n"));
    };
    let min_age = account.min_age;
    let mut stdout = String::new();
    if caller != ROOT {
        stdout.push_str("Current password: ");
        let current = lines.next().unwrap_or_default();
        if !machine.password_is(caller, current) {
            return unchanged(&stdout, "");
        }
        if min_age {
            return unchanged(&stdout, "You must wait longer to change your password\n");
        }
    }
    stdout.push_str("New password: ");
    let new = lines.next().unwrap_or_default().to_owned();
    if let Some(refusal) = machine.refusal {
        stdout.push_str(refusal_text(refusal));
        return Reply::out(
            10,
            stdout,
            "passwd: Have exhausted maximum number of retries for service\npasswd: password \
             unchanged\n",
        );
    }
    stdout.push_str("Retype new password: ");
    if lines.next() != Some(new.as_str()) {
        return unchanged(&stdout, "Sorry, passwords do not match.\n");
    }
    machine.set_password(caller, Password::Plain(new));
    stdout.push_str("passwd: password updated successfully\n");
    Reply::ok(stdout)
}

fn sshd_t(machine: &Machine, caller: &str) -> Reply {
    if caller != ROOT {
        return Reply::fail(1, "sshd: no hostkeys available -- exiting.\n");
    }
    Reply::ok(format!(
        "port 22\nlistenaddress 127.0.0.1:22\nusepam yes\npasswordauthentication yes\n\
         pubkeyauthentication yes\nstrictmodes yes\nauthorizedkeysfile {}\n\
         authorizedkeyscommand {}\n",
        machine.keys_files.join(" "),
        machine.keys_command.as_deref().unwrap_or("none")
    ))
}

/// `AS_OWNER MODE USER INNER ARGS…`: the inner script as the owner.
fn as_owner(
    machine: &mut Machine,
    caller: &str,
    pty: bool,
    args: &[String],
    stdin: &[u8],
) -> Reply {
    let (Some(mode), Some(user), Some(_)) = (args.first(), args.get(1), args.get(2)) else {
        return Reply::fail(2, "sh: 1: shift: can't shift that many\n");
    };
    let (owner, stdin) = match mode.as_str() {
        "self" => (caller.to_owned(), stdin),
        "sudo" => match sudo(machine, caller, pty, SudoTarget::ShellAs(user), None) {
            Ok(()) => (user.clone(), stdin),
            Err(reply) => return reply,
        },
        "root" => {
            if caller != ROOT {
                return Reply::fail(1, "runuser: may not be used by non-root users\n");
            }
            (user.clone(), stdin)
        }
        _ => return Reply::fail(64, "keeper-ak: bad mode\n"),
    };
    run_as(machine, &owner, &args[2..], stdin)
}

/// `INNER ARGS…` as `owner`: one of the `authorized_keys` scripts.
fn run_as(machine: &mut Machine, owner: &str, args: &[String], stdin: &[u8]) -> Reply {
    let Some(inner_text) = args.first() else {
        return Reply::fail(2, "sh: 1: shift: can't shift that many\n");
    };
    if !machine.accounts.contains_key(owner) {
        return Reply::fail(1, format!("runuser: user {owner} does not exist\n"));
    }
    match Script::classify(inner_text) {
        Some(script @ (Script::ReadKeys | Script::WriteKeys)) => {
            inner(machine, owner, script, &args[1..], stdin)
        }
        _ => Reply::fail(
            127,
            "sh: 1: the fake SSH server does not know this inner script\n",
        ),
    }
}

fn inner(
    machine: &mut Machine,
    owner: &str,
    script: Script,
    args: &[String],
    stdin: &[u8],
) -> Reply {
    let Some(path) = args.first() else {
        return Reply::fail(2, "sh: 1: 1: parameter not set\n");
    };
    if script == Script::ReadKeys {
        return read_keys(machine, owner, path);
    }
    match args {
        [path, want, timestamp, keep, new, ..] => {
            let keep = keep.parse().unwrap_or(3);
            write_keys(machine, owner, path, want, timestamp, keep, new, stdin)
        }
        _ => Reply::fail(2, "sh: 1: 2: parameter not set\n"),
    }
}

fn read_keys(machine: &Machine, owner: &str, path: &str) -> Reply {
    if matches!(machine.fs.get(&dirname(path)), Some(Node::Symlink { .. })) {
        return Reply::ok("keeper-ak symlink\n");
    }
    match machine.fs.get(path) {
        Some(Node::Symlink { .. }) => Reply::ok("keeper-ak symlink\n"),
        None => Reply::ok("keeper-ak absent\n"),
        Some(Node::Dir { .. }) => Reply::ok("keeper-ak not-a-file\n"),
        Some(Node::File { mode, content, .. }) => {
            if !machine.may_read(owner, path) {
                return Reply::fail(
                    70,
                    format!("sh: 1: cannot open {path}: Permission denied\n"),
                );
            }
            let mut out =
                format!("keeper-ak present {} {:o}\n", sha256_hex(content), mode).into_bytes();
            out.extend_from_slice(content);
            Reply::ok(out)
        }
    }
}

#[allow(clippy::too_many_arguments, reason = "the script's own arguments")]
fn write_keys(
    machine: &mut Machine,
    owner: &str,
    path: &str,
    want: &str,
    timestamp: &str,
    keep: usize,
    new: &str,
    stdin: &[u8],
) -> Reply {
    let dir = dirname(path);
    let is_link = |p: &str| matches!(machine.fs.get(p), Some(Node::Symlink { .. }));
    if is_link(path) || is_link(&dir) {
        return Reply::fail(65, "keeper-ak symlink\n");
    }
    if !machine.fs.contains_key(&dir) {
        if !machine.may_write_in(owner, &dirname(&dir)) {
            return Reply::fail(
                67,
                format!("mkdir: cannot create directory '{dir}': Permission denied\n"),
            );
        }
        machine.fs.insert(
            dir.clone(),
            Node::Dir {
                owner: owner.to_owned(),
                mode: 0o700,
            },
        );
    }
    let current = match machine.fs.get(path) {
        Some(Node::File { content, mode, .. }) => {
            Some((sha256_hex(content), *mode, content.clone()))
        }
        _ => None,
    };
    let have = current
        .as_ref()
        .map_or("absent", |(sha, _, _)| sha.as_str());
    if have != want {
        return Reply::fail(66, "keeper-ak changed\n");
    }
    if !machine.may_write_in(owner, &dir) {
        return Reply::fail(
            67,
            format!(
                "mktemp: failed to create file via template '{dir}/.authorized_keys.keeper-XXXXXX': Permission denied\n"
            ),
        );
    }
    if sha256_hex(stdin) != new {
        return Reply::fail(68, "keeper-ak incomplete\n");
    }
    let mode = current.as_ref().map_or(0o600, |(_, mode, _)| *mode);
    // The run's backup is made by its first write only: the pre-run file.
    let backup = format!("{path}.keeper-{timestamp}.bak");
    if let Some((_, mode, content)) = current
        && !machine.fs.contains_key(&backup)
    {
        machine.fs.insert(
            backup.clone(),
            Node::File {
                owner: owner.to_owned(),
                mode,
                content,
            },
        );
    }
    machine.fs.insert(
        path.to_owned(),
        Node::File {
            owner: owner.to_owned(),
            mode,
            content: stdin.to_vec(),
        },
    );
    // A write that puts the backup's content back (a rollback) removes it.
    if matches!(machine.fs.get(&backup), Some(Node::File { content, .. }) if content == stdin) {
        machine.fs.remove(&backup);
    }
    let prefix = format!("{path}.keeper-");
    let mut backups: Vec<String> = machine
        .fs
        .keys()
        .filter(|k| k.starts_with(&prefix) && k.ends_with(".bak"))
        .cloned()
        .collect();
    backups.sort_unstable_by(|a, b| b.cmp(a));
    for old in backups.into_iter().skip(keep) {
        machine.fs.remove(&old);
    }
    Reply::ok(format!("keeper-ak written {}\n", sha256_hex(stdin)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::ssh::machine::Sudo;
    use crate::sshd::User;

    fn machine() -> Machine {
        let mut m = Machine::default();
        m.add(&User::new("root").password("root-pw-1"));
        m.add(&User::new("ops").password("ops-pw-1"));
        m.add(&User::new("alice").password("alice-old-1"));
        m
    }

    fn cmd(script: &str, args: &[&str]) -> Command {
        Command {
            script: script.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    const SUDO_A: &str = "SUDO_ASKPASS=$a sudo -A -k -p '' /usr/sbin/chpasswd \"$@\"\n";

    #[test]
    fn a_command_line_is_read_back_from_posix_quoting() {
        let line = "/bin/sh -c 'echo \"$1\"' sh 'it'\\''s' 'a b' plain";
        let command = Command::parse(line).unwrap();
        assert_eq!(command.script, "echo \"$1\"");
        assert_eq!(command.args, ["it's", "a b", "plain"]);
        assert_eq!(Command::parse("ls -l"), None);
        assert_eq!(Command::parse("/bin/sh -c 'unterminated"), None);
    }

    #[test]
    fn the_admin_password_goes_to_the_askpass_helper_never_to_chpasswd() {
        for sudo in [
            Sudo::no_password(),
            Sudo::with_password().pam_grants_without_asking(),
        ] {
            let mut m = machine();
            m.accounts.get_mut("ops").unwrap().sudo = sudo;
            let reply = run(
                &mut m,
                "ops",
                false,
                &cmd(SUDO_A, &[]),
                b"ops:pw-1\nalice:alice-new-2\n",
            );
            assert_eq!(reply.status, 0, "{reply:?}");
            assert!(m.password_is("alice", "alice-new-2"));
            assert!(
                m.password_is("ops", "ops-pw-1"),
                "the admin's line never applied"
            );
        }
    }

    #[test]
    fn sudo_with_a_password_takes_one_attempt_from_the_askpass_helper() {
        let mut m = machine();
        m.accounts.get_mut("ops").unwrap().sudo = Sudo::with_password();
        let wrong = run(
            &mut m,
            "ops",
            false,
            &cmd(SUDO_A, &[]),
            b"nope\nalice:x-new-3\n",
        );
        assert_eq!(wrong.status, 1);
        assert!(String::from_utf8_lossy(&wrong.stderr).contains("1 incorrect password attempt"));
        assert!(m.password_is("alice", "alice-old-1"));
        let right = run(
            &mut m,
            "ops",
            false,
            &cmd(SUDO_A, &[]),
            b"ops-pw-1\nalice:x-new-3\n",
        );
        assert_eq!(right.status, 0, "{right:?}");
        assert!(m.password_is("alice", "x-new-3"));
    }

    #[test]
    fn requiretty_refuses_without_a_terminal_only() {
        let mut m = machine();
        m.accounts.get_mut("ops").unwrap().sudo = Sudo::no_password().requiretty();
        let preflight = cmd("exec sudo -n -l /usr/sbin/chpasswd\n", &[]);
        let no_tty = run(&mut m, "ops", false, &preflight, b"");
        assert!(String::from_utf8_lossy(&no_tty.stderr).contains("must have a tty"));
        assert_eq!(run(&mut m, "ops", true, &preflight, b"").status, 0);
    }

    #[test]
    fn a_refused_password_leaves_the_old_one() {
        let mut m = machine();
        m.refusal = Some(Refusal::BadPassword);
        let reply = run(
            &mut m,
            "root",
            false,
            &cmd("exec /usr/sbin/chpasswd \"$@\"\n", &[]),
            b"alice:weak\n",
        );
        assert_eq!(reply.status, 1);
        assert!(String::from_utf8_lossy(&reply.stderr).contains("BAD PASSWORD"));
        assert!(m.password_is("alice", "alice-old-1"));
    }

    #[test]
    fn passwd_checks_the_current_password_and_the_minimum_age() {
        let mut m = machine();
        let passwd = cmd("exec passwd\n", &[]);
        let wrong = run(&mut m, "alice", false, &passwd, b"bad\nn-1\nn-1\n");
        assert_eq!(wrong.status, 10);
        assert!(String::from_utf8_lossy(&wrong.stderr).contains("password unchanged"));
        m.accounts.get_mut("alice").unwrap().min_age = true;
        let soon = run(&mut m, "alice", false, &passwd, b"alice-old-1\nn-1\nn-1\n");
        assert!(String::from_utf8_lossy(&soon.stderr).contains("must wait longer"));
        m.accounts.get_mut("alice").unwrap().min_age = false;
        let ok = run(&mut m, "alice", false, &passwd, b"alice-old-1\nn-1\nn-1\n");
        assert_eq!(ok.status, 0);
        assert!(m.password_is("alice", "n-1"));
    }
}
