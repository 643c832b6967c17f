//! No secret in any command line or process.

use super::*;

#[test]
fn a_command_line_holding_a_secret_is_refused_before_it_is_sent() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    // The Gateway's newPassword is a Secret, so it is registered.
    let _registered = Secret::new(NEW_PW);
    let err = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        session.exec("echo \"$1\"", &[NEW_PW], b"", false).await
    })
    .unwrap_err();
    assert_eq!(err, SshError::SecretInCommandLine);
    assert!(ssh::command_log().iter().all(|l| !l.contains(NEW_PW)));
}

#[test]
fn no_secret_appears_in_any_command_line_sent_or_any_process_on_the_host() {
    let setup = sudo_setup("ops ALL=(root) /usr/sbin/chpasswd")
        .user(User::new("root").password(ROOT_PW))
        .chpasswd(ChpasswdFault::Sleep(1));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    // While chpasswd sleeps, snapshot every process's argv on the machine
    // (the namespace shares the PID namespace with the host).
    let snapshots = std::thread::spawn(|| {
        let mut seen = String::new();
        let until = std::time::Instant::now() + Duration::from_secs(6);
        while std::time::Instant::now() < until {
            if let Ok(out) = std::process::Command::new("ps")
                .args(["-eo", "args"])
                .output()
            {
                seen.push_str(&String::from_utf8_lossy(&out.stdout));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        seen
    });
    block_on(async {
        let admin = Secret::new(ADMIN_PW);
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let path = PasswordPath::Sudo {
            password: true,
            tty: false,
        };
        let out = change(&session, path, "alice", None, Some(&admin), None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        let tty = PasswordPath::Sudo {
            password: true,
            tty: true,
        };
        let out = change(&session, tty, "alice", None, Some(&admin), None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        let root = login(&sshd, "root", &password(ROOT_PW)).await;
        let out = change(&root, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        let me = login(&sshd, "alice", &password(NEW_PW)).await;
        let old = Secret::new(NEW_PW);
        // passwd refuses an unchanged password; what matters is its argv.
        let _ = change(
            &me,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await;
    });
    let ps = snapshots.join().unwrap();
    assert!(
        ps.contains("chpasswd"),
        "the snapshots caught the change in flight:\n{ps}"
    );
    assert_no_leak(&ps);
    let log = ssh::command_log();
    assert!(log.len() >= 4, "{log:?}");
    for line in &log {
        assert!(line.starts_with("/bin/sh -c '"), "{line}");
        assert_no_leak(line);
    }
    assert_no_leak(&sshd.log());
}
