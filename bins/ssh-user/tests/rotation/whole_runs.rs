//! Whole runs: a dry run, overlapping runs, the machine's lock, the proof of the
//! change, no secret in any command line.

use super::*;

#[test]
fn a_dry_run_logs_in_proves_the_password_path_and_changes_nothing() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let setup = sudo_admin("ops ALL=(ALL) NOPASSWD: ALL").user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let before = sshd.shadow_entry("alice");
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    let revision = w.vault.as_ref().unwrap().revision(USER_UID);
    w.run(&["--dry-run"])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("dry run: machine 'web-1' at 127.0.0.1:")
        .assert_stdout_has("Logged in as 'ops' with a password")
        .assert_stdout_has("Would make a new ssh-ed25519 key (OpenSSH)")
        .assert_stdout_has(&format!("then remove {}", fingerprint_of(&old)))
        .assert_stdout_has("with sudo -n chpasswd, then check it with a login. Checked: ");
    assert_eq!(w.sshd.shadow_entry("alice"), before);
    assert_eq!(w.authorized_keys(), original);
    assert_eq!(w.vault.as_ref().unwrap().revision(USER_UID), revision);
}

#[test]
fn two_overlapping_runs_the_second_finds_the_lease_and_changes_nothing() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    let vault = w.vault.as_ref().unwrap();
    // A is held after storing its key (save 1 is its lease).
    let gate = vault.hold("update_secret", 2);
    let second = w
        .scenario
        .clone()
        .param("newPassword", json!("Second-New-pw-99?"));
    let (a, b) = harness::runner::overlap(
        w.runner(&[]),
        w.runner_for(&second, &[]),
        || vault.wait_for("update_secret", 2),
        |_| gate.release(),
    );
    let (a, b) = (w.checked(a), w.checked(b));
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of record 'alice on web-1'")
        .assert_stderr_has("is in progress");
    a.assert_exit(0).assert_clean();
    let new = w.stored_key().unwrap();
    assert_eq!(w.authorized_keys(), format!("{} {TAG}\n", public_of(&new)));
    w.assert_password(NEW_PW);
}

#[test]
fn two_overlapping_password_only_runs_the_second_finds_the_machines_lock_and_changes_nothing() {
    // A's chpasswd takes 3 s: B starts once A holds the lock.
    let setup = root_admin().user(alice()).chpasswd(ChpasswdFault::Sleep(3));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let mut w = World::new(sshd, "root-admin.json");
    let second_pw = "Second-New-pw-99?";
    w.secrets.push(second_pw.into());
    let second = w.scenario.clone().param("newPassword", json!(second_pw));
    let lock = w.sshd.dir().join("run/keeper-rotators").join(format!(
        "keeper-rotate-{}.lock",
        rotate_ssh_user::remote::lock_id("alice")
    ));
    let (a, b) = harness::runner::overlap(
        w.runner(&[]),
        w.runner_for(&second, &[]),
        || {
            let started = std::time::Instant::now();
            while !lock.exists() && started.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(10));
            }
        },
        |_| {},
    );
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of 'alice' is running on")
        .assert_stderr_has("nothing was changed");
    a.assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    assert!(!w.shadow_holds("alice", second_pw));
}

#[test]
fn a_lock_another_user_prepared_cannot_stop_a_rotation() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    // alice makes the directory the admin's lock would live in, and holds
    // the lock file in it.
    let (_, uid) = sshd.run_inside(None, "id -u ops", b"");
    let dir = format!("/tmp/keeper-rotators-{}", uid.trim());
    let lock = format!(
        "{dir}/keeper-rotate-{}.lock",
        rotate_ssh_user::remote::lock_id("alice")
    );
    let (code, text) = sshd.run_inside(
        Some("alice"),
        &format!(
            "mkdir -m 755 {dir} && setsid flock -n {lock} sleep 20 </dev/null >/dev/null 2>&1 &"
        ),
        b"",
    );
    assert_eq!(code, 0, "{text}");
    std::thread::sleep(Duration::from_millis(300));
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean().assert_stderr_has(
        "is not a directory of this admin's own with mode 700, so it is not trusted",
    );
    w.assert_password(NEW_PW);
}

#[test]
fn an_admin_owned_runtime_directory_anyone_may_write_is_passed_over_for_the_lock() {
    // Another user could rename the lock's directory there, or put their own
    // in its place and hold the lock: the askpass helper's rule applies.
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .sshd_option("SetEnv XDG_RUNTIME_DIR=/home/ops/run")
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let (code, output) = sshd.run_inside(
        None,
        "install -d -o ops -m 0777 /home/ops/run && chmod 0777 /home/ops/run",
        b"",
    );
    assert_eq!(code, 0, "{output}");
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    let (_, uid) = w.sshd.run_inside(None, "id -u ops", b"");
    let (_, found) = w.sshd.run_inside(
        None,
        &format!(
            "ls -d /home/ops/run/keeper-rotators /tmp/keeper-rotators-{} 2>/dev/null",
            uid.trim()
        ),
        b"",
    );
    assert_eq!(
        found.trim(),
        format!("/tmp/keeper-rotators-{}", uid.trim()),
        "the lock's directory"
    );
}

#[test]
fn root_rotates_with_the_lock_in_a_directory_only_root_can_write() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    let (_, mode) = w
        .sshd
        .run_inside(None, "stat -c '%a %U' /run/keeper-rotators", b"");
    assert_eq!(mode.trim(), "700 root");
    w.assert_password(NEW_PW);
}

#[test]
fn a_server_allowing_one_session_per_connection_rotates_without_the_lock() {
    let setup = root_admin().user(alice()).sshd_option("MaxSessions 1");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("MaxSessions 1");
    w.assert_password(NEW_PW);
}

#[test]
fn root_proves_the_change_by_the_shadow_entry_when_the_user_may_not_log_in_with_a_password() {
    let setup = root_admin().user(alice()).sshd_option("DenyUsers alice");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("verified on the machine by its password check (unix_chkpwd)");
    assert!(w.shadow_holds("alice", NEW_PW));
}

#[test]
fn root_does_not_take_a_shadow_entry_changed_to_another_password_for_the_new_one_exit_4() {
    // Logins refused for alice, and a hook sets yet another password after
    // chpasswd: the entry changed, but not to newPassword.
    let setup = root_admin()
        .user(alice())
        .sshd_option("DenyUsers alice")
        .chpasswd(ChpasswdFault::ApplyThenOverwrite);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("something else set another password");
    assert!(w.shadow_holds("alice", harness::sshd::OVERWRITTEN));
    assert!(!w.shadow_holds("alice", NEW_PW));
}

#[test]
fn an_empty_password_field_never_passes_for_the_new_password_exit_1() {
    // No password at all, and a chpasswd that changes nothing: the check
    // login is refused (PermitEmptyPasswords no), and the machine's own
    // check must not accept any password for the empty field.
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let (code, text) = sshd.run_inside(
        None,
        "passwd -d alice >/dev/null && mount --bind /bin/true /usr/sbin/chpasswd",
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the user's shadow entry is unchanged");
    assert_eq!(
        w.sshd.shadow_hash("alice").unwrap_or_default(),
        "",
        "still no password"
    );
}

#[test]
fn a_chpasswd_that_reports_success_without_changing_anything_is_caught_exit_1() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let (code, text) = sshd.run_inside(None, "mount --bind /bin/true /usr/sbin/chpasswd", b"");
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json");
    w.run(&[]).assert_exit(1).assert_clean().assert_stderr_has(
        "the password command reported success, but a login with the new password was \
             refused and the user's shadow entry is unchanged",
    );
    w.assert_password(OLD_PW);
}

/// Every command line the machine received, recorded by a login shell that
/// logs `$*` before it runs bash, and every process's argv on the host while
/// the run is in flight: none holds a secret, in any form.
#[test]
fn no_secret_appears_in_any_command_line_or_process() {
    let old = fixture_key("ed25519.openssh");
    let setup = sudo_admin("ops ALL=(ALL) ALL")
        .user(alice().authorized_keys(&format!("{} {TAG}\n", public_of(&old))))
        .chpasswd(ChpasswdFault::Sleep(1));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let log = sshd.dir().join("commands.log");
    let shell = sshd.dir().join("logshell");
    std::fs::write(&log, "").unwrap();
    std::fs::write(
        &shell,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec /bin/bash \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    let (code, text) = sshd.run_inside(
        None,
        &format!(
            "chmod 666 {log} && chmod 755 {shell} && usermod -s {shell} ops && usermod -s {shell} alice",
            log = log.display(),
            shell = shell.display()
        ),
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "sudo-admin.json")
        .key(&old)
        .user_field("password_hash_locally", "true");

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let snapshots = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seen = String::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(out) = std::process::Command::new("ps")
                    .args(["-eo", "args"])
                    .output()
                {
                    seen.push_str(&String::from_utf8_lossy(&out.stdout));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            seen
        })
    };
    let out = w.run(&[]);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let processes = snapshots.join().unwrap();
    out.assert_exit(0).assert_clean().assert_stdout_has(
        "sudo -A chpasswd (the admin's password through an askpass helper), sent as a SHA-512-crypt hash made here",
    );

    let commands = std::fs::read_to_string(&log).unwrap();
    assert!(
        commands.lines().count() >= 6
            && commands.contains("/usr/sbin/chpasswd")
            && commands.contains("keeper-ak written"),
        "the log shell saw the run's commands:\n{commands}"
    );
    assert!(
        processes.contains("chpasswd -e"),
        "the snapshots caught the change in flight"
    );
    let mut secrets = w.scenario.secrets();
    secrets.extend(w.secrets.iter().cloned());
    secrets.extend(key_lines(&w.stored_key().unwrap()));
    for (name, text) in [("command lines", &commands), ("processes", &processes)] {
        for secret in &secrets {
            for form in harness::inputs::scenario::leak_forms(secret) {
                assert!(
                    !text.contains(&form),
                    "a secret ({} characters) appeared in the {name}",
                    secret.chars().count()
                );
            }
        }
    }
}
