use std::process::Command;

use sha_crypt::PasswordVerifier;

use super::*;
use common::secret::Secret;
use sha_crypt::ShaCrypt;

fn out(status: Option<u32>, stdout: &str, stderr: &str) -> Output {
    Output {
        status,
        signal: None,
        stdout: stdout.into(),
        stderr: stderr.into(),
        truncated: false,
    }
}

#[test]
fn preflight_output_is_read_as_sudo_reports_it() {
    assert_eq!(
        classify_preflight(&out(Some(0), "/usr/sbin/chpasswd\n", "")),
        SudoAccess::NoPassword
    );
    assert_eq!(
        classify_preflight(&out(Some(1), "", "sudo: a password is required\n")),
        SudoAccess::PasswordRequired
    );
    assert_eq!(
        classify_preflight(&out(
            Some(1),
            "",
            "sudo: sorry, you must have a tty to run sudo\n"
        )),
        SudoAccess::NeedsTty
    );
    assert_eq!(
        classify_preflight(&out(Some(1), "", "")),
        SudoAccess::NotAllowed
    );
}

#[test]
fn a_preflight_that_could_not_run_is_not_read_as_a_refusal_of_sudo() {
    for text in [
        "bash: fork: retry: Resource temporarily unavailable\n",
        "sudo: unable to fork: Cannot allocate memory\n",
        "bash: sudo: command not found\n",
    ] {
        assert_eq!(
            classify_preflight(&out(Some(1), "", text)),
            SudoAccess::CouldNotRun,
            "{text}"
        );
    }
}

#[test]
fn an_askpass_helper_that_cannot_be_set_up_is_a_refusal_before_sudo_runs() {
    for text in [
        "keeper-askpass unavailable: no private directory where a helper may run",
        "keeper-askpass: no admin password on stdin",
        "sudo: unable to run /tmp/keeper-askpass.Ab12Cd/a: Permission denied",
    ] {
        assert_eq!(classify(text), Some(Problem::AskpassUnavailable), "{text}");
    }
    assert!(Problem::AskpassUnavailable.is_refusal_before_running());
}

#[test]
fn the_scripts_that_take_the_admins_password_never_put_it_on_sudos_stdin() {
    for script in [SUDO_A_CHPASSWD, TTY_SUDO_A_CHPASSWD, AS_OWNER_ASKPASS] {
        assert!(script.contains("IFS= read -r p"), "{script}");
        assert!(script.contains("SUDO_ASKPASS=$a sudo -A -k"), "{script}");
        assert!(
            !script.contains("sudo -S") && !script.contains(" -S "),
            "{script}"
        );
    }
    for script in [AS_OWNER, SUDO_CHPASSWD, TTY_SUDO_CHPASSWD, ROOT_CHPASSWD] {
        assert!(!script.contains("-S"), "{script}");
    }
}

#[test]
fn outputs_users_complain_about_are_classified() {
    for (text, problem) in [
        (
            "sudo: a password is required",
            Problem::SudoPasswordRequired,
        ),
        (
            "sudo: sorry, you must have a tty to run sudo",
            Problem::NeedsTty,
        ),
        (
            "sudo: no tty present and no askpass program specified",
            Problem::NeedsTty,
        ),
        (
            "ops is not in the sudoers file.  This incident will be reported.",
            Problem::NotAllowed,
        ),
        (
            "Sorry, user ops is not allowed to execute '/usr/sbin/chpasswd' as root",
            Problem::NotAllowed,
        ),
        (
            "BAD PASSWORD: The password fails the dictionary check",
            Problem::QualityRejected,
        ),
        (
            "BAD PASSWORD: The password is shorter than 8 characters",
            Problem::QualityRejected,
        ),
        (
            "Password has been already used. Choose another.",
            Problem::AlreadyUsed,
        ),
        (
            "You must wait longer to change your password",
            Problem::TooSoon,
        ),
        (
            "Password change required but no TTY available.",
            Problem::Expired,
        ),
        (
            "You are required to change your password immediately",
            Problem::Expired,
        ),
        (
            "passwd: Authentication token manipulation error",
            Problem::PamFailure,
        ),
        (
            "Current password: passwd: Authentication failure",
            Problem::WrongPassword,
        ),
        ("sudo: 1 incorrect password attempt", Problem::WrongPassword),
        (
            "sudo: no password was provided\nsudo: a password is required",
            Problem::AskedAgain,
        ),
        (
            "Sorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt",
            Problem::WrongPassword,
        ),
    ] {
        assert_eq!(classify(text), Some(problem), "{text}");
    }
    assert_eq!(classify("chpasswd: line 1: user 'x' does not exist"), None);
}

#[test]
fn failure_names_status_output_and_cause() {
    let message = failure(
        "changing the password",
        &out(
            Some(1),
            "",
            "BAD PASSWORD: it is WAY too short\nchpasswd: (line 1, user alice) password not changed\n",
        ),
    );
    assert!(
        message.starts_with("changing the password failed (exit status 1: BAD PASSWORD"),
        "{message}"
    );
    assert!(message.contains("pwquality"), "{message}");
    let killed = Output {
        signal: Some("KILL".into()),
        ..Output::default()
    };
    assert_eq!(failure("x", &killed), "x failed (killed by KILL)");
}

// Issue 23, item 1: `passwd` or a PAM module echoing the new password
// regex-quoted (or shell-quoted) in its error.
#[test]
fn a_failure_line_echoing_a_password_through_an_escape_is_withheld() {
    let _s = secret("k7$Pq(2@xZ!m^R{9w.T+e;B>3u=H[a]Lf");
    let message = failure(
        "changing the password",
        &out(
            Some(1),
            "passwd: BAD PASSWORD: k7\\$Pq\\(2@xZ\\!m\\^R\\{9w\\.T\\+e is too simple\npasswd: unchanged\n",
            "",
        ),
    );
    assert_eq!(
        message,
        "changing the password failed (exit status 1: (a line withheld: it may echo a secret) | \
         passwd: unchanged): the host's password policy (pwquality/cracklib) rejected the new \
         password: align the rotation's password complexity with the host's policy"
    );
}

fn secret(text: &str) -> Secret {
    Secret::new(text)
}

#[test]
fn root_chpasswd_sends_one_line_on_stdin_and_nothing_in_args() {
    let new = secret("N3w-pass word");
    let change = password_change(PasswordPath::Root, "alice", &new, None, None, None).unwrap();
    assert_eq!(change.script, ROOT_CHPASSWD);
    assert!(change.args.is_empty() && !change.pty);
    assert_eq!(change.stdin.as_slice(), b"alice:N3w-pass word\n");
}

#[test]
fn sudo_sends_the_admin_password_only_when_required() {
    let new = secret("n3w-sudo-pw");
    let admin = secret("adm1n-pw");
    let without = password_change(
        PasswordPath::Sudo {
            password: false,
            tty: false,
        },
        "bob",
        &new,
        None,
        Some(&admin),
        None,
    )
    .unwrap();
    assert_eq!(without.script, SUDO_CHPASSWD);
    assert_eq!(without.stdin.as_slice(), b"bob:n3w-sudo-pw\n");
    let with = password_change(
        PasswordPath::Sudo {
            password: true,
            tty: false,
        },
        "bob",
        &new,
        None,
        Some(&admin),
        None,
    )
    .unwrap();
    assert_eq!(with.script, SUDO_A_CHPASSWD);
    assert_eq!(with.stdin.as_slice(), b"adm1n-pw\nbob:n3w-sudo-pw\n");
    let err = password_change(
        PasswordPath::Sudo {
            password: true,
            tty: false,
        },
        "bob",
        &new,
        None,
        None,
        None,
    )
    .unwrap_err();
    assert!(err.contains("has none"), "{err}");
}

#[test]
fn requiretty_uses_a_pty_and_the_read_then_pipe_scripts() {
    let new = secret("tty-new-pw");
    let c = password_change(
        PasswordPath::Sudo {
            password: false,
            tty: true,
        },
        "c",
        &new,
        None,
        None,
        None,
    )
    .unwrap();
    assert!(c.pty);
    assert_eq!(c.script, TTY_SUDO_CHPASSWD);
    assert!(c.script.contains("IFS= read -r l"));
    let admin = secret("tty-admin-pw");
    let c = password_change(
        PasswordPath::Sudo {
            password: true,
            tty: true,
        },
        "c",
        &new,
        None,
        Some(&admin),
        None,
    )
    .unwrap();
    assert_eq!(c.script, TTY_SUDO_A_CHPASSWD);
    assert_eq!(c.stdin.as_slice(), b"tty-admin-pw\nc:tty-new-pw\n");
}

#[test]
fn self_rotation_sends_old_new_new_to_passwd() {
    let new = secret("self-new-pw");
    let old = secret("self-old-pw");
    let c = password_change(PasswordPath::SelfPasswd, "d", &new, None, None, Some(&old)).unwrap();
    assert_eq!(c.script, SELF_PASSWD);
    assert_eq!(
        c.stdin.as_slice(),
        b"self-old-pw\nself-new-pw\nself-new-pw\n"
    );
    assert!(password_change(PasswordPath::SelfPasswd, "d", &new, None, None, None).is_err());
}

#[test]
fn a_local_hash_uses_chpasswd_e() {
    let new = secret("hash-me-pw");
    let hashed = sha512_crypt(&new).unwrap();
    let c = password_change(PasswordPath::Root, "e", &new, Some(&hashed), None, None).unwrap();
    assert_eq!(c.args, vec!["-e"]);
    assert_eq!(
        c.stdin.as_slice(),
        format!("e:{}\n", hashed.expose()).as_bytes()
    );
    assert!(!String::from_utf8_lossy(&c.stdin).contains("hash-me-pw"));
}

#[test]
fn line_breaks_and_colons_that_would_split_the_line_are_refused() {
    let ok = secret("fine");
    assert!(password_change(PasswordPath::Root, "a:b", &ok, None, None, None).is_err());
    assert!(password_change(PasswordPath::Root, "", &ok, None, None, None).is_err());
    let bad = secret("two\nlines");
    assert!(password_change(PasswordPath::Root, "a", &bad, None, None, None).is_err());
    // A colon inside the password is fine: chpasswd splits at the first one.
    let colon = secret("pa:ss");
    assert!(password_change(PasswordPath::Root, "a", &colon, None, None, None).is_ok());
}

#[test]
fn sha512_crypt_matches_the_reference_vectors() {
    // From Ulrich Drepper's SHA-crypt specification.
    for (password, hash) in [
        (
            "Hello world!",
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        ),
        (
            "Hello world!",
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
        ),
        (
            "we have a short salt string but not a short password",
            "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
        ),
    ] {
        assert!(
            ShaCrypt::SHA512
                .verify_password(password.as_bytes(), hash)
                .is_ok(),
            "{hash}"
        );
        assert!(ShaCrypt::SHA512.verify_password(b"wrong", hash).is_err());
    }
}

#[test]
fn a_local_hash_is_a_fresh_sha512_crypt_that_glibc_accepts() {
    let password = secret("L0cal-hash-pw!");
    let a = sha512_crypt(&password).unwrap();
    let b = sha512_crypt(&password).unwrap();
    assert_ne!(a.expose(), b.expose(), "a fresh salt each time");
    let parts: Vec<&str> = a.expose().split('$').collect();
    assert_eq!(parts[..3], ["", "6", "rounds=5000"]);
    assert_eq!((parts[3].len(), parts[4].len()), (16, 86), "{}", a.expose());
    assert!(
        ShaCrypt::SHA512
            .verify_password(b"L0cal-hash-pw!", a.expose())
            .is_ok()
    );
    // The system's crypt(3), where Python still exposes it: an independent
    // implementation must give the same hash.
    if let Ok(out) = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]))",
        ])
        .arg("L0cal-hash-pw!")
        .arg(a.expose())
        .output()
        && out.status.success()
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), a.expose());
    }
}

#[test]
fn sha256_hex_is_sha256sums() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn sshd_t_gives_absolute_key_files_and_the_keys_command() {
    let text = "port 22\nauthorizedkeysfile .ssh/authorized_keys /etc/ssh/keys/%u %h/.ssh/extra%%\nauthorizedkeyscommand /usr/share/ec2-instance-connect/eic_run_authorized_keys %u %f\n";
    let keys = parse_sshd_t(text, "ec2-user", "/home/ec2-user/");
    assert_eq!(
        keys.files,
        vec![
            "/home/ec2-user/.ssh/authorized_keys",
            "/etc/ssh/keys/ec2-user",
            "/home/ec2-user/.ssh/extra%"
        ]
    );
    assert!(keys.command.unwrap().contains("eic_run_authorized_keys"));
    let none = parse_sshd_t("authorizedkeyscommand none\n", "u", "/home/u");
    assert_eq!(none.command, None);
    assert_eq!(none.files, default_keys_files("/home/u"));
}

#[test]
fn every_script_is_posix_sh_that_dash_parses() {
    let scripts = [
        ROOT_CHPASSWD,
        SUDO_PREFLIGHT,
        SUDO_CHPASSWD,
        SUDO_A_CHPASSWD,
        TTY_SUDO_CHPASSWD,
        TTY_SUDO_A_CHPASSWD,
        SELF_PASSWD,
        SSHD_T,
        SSHD_T_CLIENT,
        SHADOW_DIGEST,
        HOME_OF,
        AS_OWNER,
        AS_OWNER_ASKPASS,
        READ_KEYS,
        WRITE_KEYS,
        LOCK,
        CHECK_PASSWORD,
        SUDO_CHPASSWD_NO_INPUT,
    ];
    for script in scripts {
        assert!(script.starts_with("export LC_ALL=C "), "{script}");
        if let Ok(out) = Command::new("/bin/sh").args(["-n", "-c", script]).output() {
            assert!(
                out.status.success(),
                "{script}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Runs the authorized_keys scripts locally (as the current user, mode
/// `self`) in a temp dir: the same shell code the server runs.
fn run(inner: &'static str, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new("/bin/sh")
        .args(["-c", AS_OWNER, "sh", "self", "me", inner])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A script that refuses early exits without reading its stdin: the
    // write then meets a closed pipe, which is the script's answer, not a
    // failure of the test.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_home() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(
        format!(
            "remote-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], ""),
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_write_script_creates_ssh_700_and_the_file_600_and_reports_its_hash() {
    use std::os::unix::fs::PermissionsExt;
    let home = temp_home();
    let file = home.join(".ssh/authorized_keys");
    let path = file.to_str().unwrap();
    let (code, stdout, _) = run(READ_KEYS, &[path], b"");
    assert_eq!((code, stdout.as_str()), (0, "keeper-ak absent\n"));
    let content = "ssh-ed25519 AAAA keeper-security-me\n";
    let (code, stdout, stderr) = run(
        WRITE_KEYS,
        &[
            path,
            "absent",
            "20260101T000000Z",
            "3",
            &sha256_hex(content.as_bytes()),
        ],
        content.as_bytes(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        format!("keeper-ak written {}\n", sha256_hex(content.as_bytes()))
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home.join(".ssh")), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), content);
    std::fs::remove_dir_all(&home).ok();
}

/// One `WRITE_KEYS` of `content` over what `file` holds now, stamped `ts`.
fn write_over(file: &std::path::Path, ts: &str, content: &[u8]) {
    let before = std::fs::read(file).unwrap();
    let (code, _, stderr) = run(
        WRITE_KEYS,
        &[
            file.to_str().unwrap(),
            &sha256_hex(&before),
            ts,
            "3",
            &sha256_hex(content),
        ],
        content,
    );
    assert_eq!(code, 0, "{stderr}");
}

fn backups_of(home: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(home.join(".ssh"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bak"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_runs_backup_holds_the_file_as_it_was_before_the_runs_first_write() {
    let home = temp_home();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let file = home.join(".ssh/authorized_keys");
    let original = b"ssh-ed25519 AAAAold laptop";
    std::fs::write(&file, original).unwrap();
    // One run: add the new key, then retire the old one, same timestamp.
    write_over(
        &file,
        "20260101T000000Z",
        b"ssh-ed25519 AAAAold laptop\nssh-ed25519 AAAAnew keeper-security-me\n",
    );
    write_over(
        &file,
        "20260101T000000Z",
        b"ssh-ed25519 AAAAnew keeper-security-me\n",
    );
    assert_eq!(
        backups_of(&home),
        ["authorized_keys.keeper-20260101T000000Z.bak"]
    );
    assert_eq!(
        std::fs::read(home.join(".ssh/authorized_keys.keeper-20260101T000000Z.bak")).unwrap(),
        original,
        "the backup is the pre-run file, not the intermediate one"
    );
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn a_write_that_puts_the_pre_run_file_back_leaves_no_backup_behind() {
    let home = temp_home();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let file = home.join(".ssh/authorized_keys");
    let original = b"ssh-ed25519 AAAAold laptop";
    std::fs::write(&file, original).unwrap();
    write_over(
        &file,
        "20260101T000000Z",
        b"ssh-ed25519 AAAAold laptop\nssh-ed25519 AAAAnew keeper-security-me\n",
    );
    write_over(&file, "20260101T000000Z", original);
    assert_eq!(std::fs::read(&file).unwrap(), original);
    assert!(backups_of(&home).is_empty(), "{:?}", backups_of(&home));
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn the_write_script_keeps_the_mode_backs_up_and_keeps_the_newest_three_of_ours() {
    use std::os::unix::fs::PermissionsExt;
    let home = temp_home();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let file = home.join(".ssh/authorized_keys");
    let path = file.to_str().unwrap();
    std::fs::write(&file, "v0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(home.join(".ssh/authorized_keys.other.bak"), "not ours").unwrap();
    for i in 1..=5 {
        let before = std::fs::read(&file).unwrap();
        let (code, _, stderr) = run(
            WRITE_KEYS,
            &[
                path,
                &sha256_hex(&before),
                &format!("2026010{i}T000000Z"),
                "3",
                &sha256_hex(format!("v{i}\n").as_bytes()),
            ],
            format!("v{i}\n").as_bytes(),
        );
        assert_eq!(code, 0, "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v5\n");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let mut backups: Vec<String> = std::fs::read_dir(home.join(".ssh"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".bak"))
        .collect();
    backups.sort();
    assert_eq!(
        backups,
        vec![
            "authorized_keys.keeper-20260103T000000Z.bak",
            "authorized_keys.keeper-20260104T000000Z.bak",
            "authorized_keys.keeper-20260105T000000Z.bak",
            "authorized_keys.other.bak",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/authorized_keys.keeper-20260105T000000Z.bak"))
            .unwrap(),
        "v4\n"
    );
    assert!(!std::fs::read_dir(home.join(".ssh")).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".authorized_keys.keeper-")
    }));
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn the_write_script_refuses_a_changed_file_and_a_symlink() {
    let home = temp_home();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let file = home.join(".ssh/authorized_keys");
    let path = file.to_str().unwrap();
    std::fs::write(&file, "original\n").unwrap();
    let stale = sha256_hex(b"what was read before\n");
    let (code, _, _) = run(
        WRITE_KEYS,
        &[path, &stale, "20260101T000000Z", "3", &sha256_hex(b"new\n")],
        b"new\n",
    );
    assert_eq!(code, 66);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "original\n");

    let target = home.join("elsewhere");
    std::fs::write(&target, "precious\n").unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    let (code, stdout, _) = run(READ_KEYS, &[path], b"");
    assert_eq!((code, stdout.as_str()), (0, "keeper-ak symlink\n"));
    let (code, _, _) = run(
        WRITE_KEYS,
        &[
            path,
            &sha256_hex(b"precious\n"),
            "20260101T000000Z",
            "3",
            &sha256_hex(b"new\n"),
        ],
        b"new\n",
    );
    assert_eq!(code, 65);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn the_write_script_never_replaces_the_file_with_content_cut_short() {
    let home = temp_home();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let file = home.join(".ssh/authorized_keys");
    let path = file.to_str().unwrap();
    std::fs::write(&file, "original\n").unwrap();
    let whole = "ssh-ed25519 AAAA one\nssh-ed25519 BBBB two\n";
    for cut in [&whole[..0], &whole[..21]] {
        let (code, _, stderr) = run(
            WRITE_KEYS,
            &[
                path,
                &sha256_hex(b"original\n"),
                "20260101T000000Z",
                "3",
                &sha256_hex(whole.as_bytes()),
            ],
            cut.as_bytes(),
        );
        assert_eq!(code, 68, "{stderr}");
        assert!(stderr.contains("keeper-ak incomplete"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "original\n");
    }
    assert!(!std::fs::read_dir(home.join(".ssh")).unwrap().any(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        name.starts_with(".authorized_keys.keeper-") || name.ends_with(".bak")
    }));
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn the_read_script_prints_hash_mode_and_content() {
    let home = temp_home();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let file = home.join(".ssh/authorized_keys");
    std::fs::write(&file, "a\nb").unwrap();
    let (code, stdout, _) = run(READ_KEYS, &[file.to_str().unwrap()], b"");
    assert_eq!(code, 0);
    let (head, rest) = stdout.split_once('\n').unwrap();
    let words: Vec<&str> = head.split(' ').collect();
    assert_eq!(words[..2], ["keeper-ak", "present"]);
    assert_eq!(words[2], sha256_hex(b"a\nb"));
    assert_eq!(rest, "a\nb");
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn a_password_no_login_could_use_is_refused_before_anything_is_sent() {
    let nul = secret("Nul-pw-1\0tail");
    let err = password_change(PasswordPath::Root, "alice", &nul, None, None, None).unwrap_err();
    assert!(err.contains("NUL byte"), "{err}");
    // Too long for the machine's crypt(3) only when hashed here.
    let long = secret(&"a".repeat(MAX_CRYPT_PASSWORD + 1));
    let hashed = secret("$6$salt$hash");
    let err = password_change(
        PasswordPath::Root,
        "alice",
        &long,
        Some(&hashed),
        None,
        None,
    )
    .unwrap_err();
    assert!(err.contains("longer than 512 bytes"), "{err}");
    assert!(password_change(PasswordPath::Root, "alice", &long, None, None, None).is_ok());
}
