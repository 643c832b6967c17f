//! What each recognised script does to the fake [`Machine`], and what the
//! real tools it calls answer: chpasswd, passwd, sudo (with its askpass
//! helper and `requiretty`), runuser, `sshd -T`, and the `authorized_keys`
//! reader and writer.
//!
//! Why apart from the recognition (`shell.rs`): that half is matched
//! against the binary's exact script texts by digest ([`Script::reviewed`])
//! and changes only when a script does; this half is the machine's
//! behaviour, which grows with each failure the fake learns to show.

use super::{Command, HOST, Script};
use crate::fakes::ssh::machine::{
    Machine, Node, Password, ROOT, Refusal, SudoRule, dirname, sha256_hex,
};

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
