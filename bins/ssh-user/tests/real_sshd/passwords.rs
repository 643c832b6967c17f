//! Changing passwords: chpasswd, sudo, passwd, and their failures.

use super::*;

#[test]
fn root_changes_the_password_with_chpasswd_on_stdin() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let before = sshd.shadow_hash("alice").unwrap();
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap()
    });
    assert!(out.success(), "{out:?}");
    assert_ne!(sshd.shadow_hash("alice").unwrap(), before);
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
    assert!(!can_login(&sshd, "alice", &password(OLD_PW)));
}

#[test]
fn root_with_a_locally_hashed_password_uses_chpasswd_e() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let hashed = remote::sha512_crypt(&Secret::new(NEW_PW)).unwrap();
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(
            &session,
            PasswordPath::Root,
            "alice",
            Some(&hashed),
            None,
            None,
        )
        .await
        .unwrap()
    });
    assert!(out.success(), "{out:?}");
    assert_eq!(sshd.shadow_hash("alice").unwrap(), hashed.expose());
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn sudo_nopasswd_preflight_then_sudo_n_chpasswd() {
    let Some(sshd) = Sshd::start(&sudo_setup("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")) else {
        return;
    };
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let pre = session
            .exec(remote::SUDO_PREFLIGHT, &[], b"", false)
            .await
            .unwrap();
        assert_eq!(
            remote::classify_preflight(&pre),
            SudoAccess::NoPassword,
            "{pre:?}"
        );
        let path = PasswordPath::Sudo {
            password: false,
            tty: false,
        };
        let out = change(&session, path, "alice", None, None, None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
    });
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn sudo_with_a_password_preflight_then_sudo_s_with_the_admin_password_first() {
    let Some(sshd) = Sshd::start(&sudo_setup("ops ALL=(root) /usr/sbin/chpasswd")) else {
        return;
    };
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let pre = session
            .exec(remote::SUDO_PREFLIGHT, &[], b"", false)
            .await
            .unwrap();
        assert_eq!(
            remote::classify_preflight(&pre),
            SudoAccess::PasswordRequired,
            "{pre:?}"
        );
        let admin = Secret::new(ADMIN_PW);
        let path = PasswordPath::Sudo {
            password: true,
            tty: false,
        };
        let out = change(&session, path, "alice", None, Some(&admin), None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        assert_no_leak(&out.text());
    });
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn sudo_not_allowed_is_seen_by_the_preflight_and_nothing_changes() {
    let Some(sshd) = Sshd::start(&sudo_setup("ops ALL=(root) NOPASSWD: /usr/bin/true")) else {
        return;
    };
    let before = sshd.shadow_hash("alice");
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let pre = session
            .exec(remote::SUDO_PREFLIGHT, &[], b"", false)
            .await
            .unwrap();
        assert_eq!(
            remote::classify_preflight(&pre),
            SudoAccess::NotAllowed,
            "{pre:?}"
        );
    });
    assert_eq!(sshd.shadow_hash("alice"), before);
}

#[test]
fn requiretty_fails_without_a_terminal_and_works_under_a_pty_with_echo_off() {
    let setup = sudo_setup("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .sudoers("Defaults:ops requiretty");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let plain = PasswordPath::Sudo {
            password: false,
            tty: false,
        };
        let out = change(&session, plain, "alice", None, None, None)
            .await
            .unwrap();
        assert!(!out.success());
        assert_eq!(
            remote::classify(&out.text()),
            Some(Problem::NeedsTty),
            "{out:?}"
        );
        let tty = PasswordPath::Sudo {
            password: false,
            tty: true,
        };
        let out = change(&session, tty, "alice", None, None, None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        assert_no_leak(&out.text());
    });
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn self_rotation_runs_passwd_with_old_new_new() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let out = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        let old = Secret::new(OLD_PW);
        change(
            &session,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await
        .unwrap()
    });
    assert!(out.success(), "{out:?}");
    assert_no_leak(&out.text());
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn an_expired_password_blocks_self_rotation_with_a_clear_cause_but_not_root() {
    let setup = Setup::default()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("alice").password(OLD_PW).expired());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let result = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        let old = Secret::new(OLD_PW);
        change(
            &session,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await
    });
    let text = match &result {
        Ok(out) => {
            assert!(!out.success(), "{out:?}");
            out.text()
        }
        Err(e) => e.to_string(),
    };
    assert_eq!(remote::classify(&text), Some(Problem::Expired), "{text}");
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap()
    });
    assert!(out.success(), "{out:?}");
}

#[test]
fn a_pwquality_rejection_is_classified_and_changes_nothing() {
    let setup = root_setup().reject_passwords_with(
        "BAD PASSWORD: The password fails the dictionary check - it is based on a dictionary word",
    );
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let before = sshd.shadow_hash("alice");
    let out = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        let old = Secret::new(OLD_PW);
        change(
            &session,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await
        .unwrap()
    });
    assert!(!out.success(), "{out:?}");
    assert_eq!(
        remote::classify(&out.text()),
        Some(Problem::QualityRejected),
        "{out:?}"
    );
    assert!(remote::failure("changing the password", &out).contains("pwquality"));
    assert_eq!(sshd.shadow_hash("alice"), before);
}

#[test]
fn chpasswd_killed_after_applying_is_a_lost_channel_with_the_shadow_changed() {
    let Some(sshd) = Sshd::start(&root_setup().chpasswd(ChpasswdFault::ApplyThenKill)) else {
        return;
    };
    let before = sshd.shadow_hash("alice").unwrap();
    let result = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None).await
    });
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            SshError::Lost {
                stdin_sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("the change may have been applied"));
    assert_ne!(sshd.shadow_hash("alice").unwrap(), before);
    // Reconciliation probes new, then old: new works.
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
    assert!(!can_login(&sshd, "alice", &password(OLD_PW)));
}

#[test]
fn a_failing_chpasswd_is_an_exit_status_and_changes_nothing() {
    let Some(sshd) = Sshd::start(&root_setup().chpasswd(ChpasswdFault::Fail)) else {
        return;
    };
    let before = sshd.shadow_hash("alice");
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap()
    });
    assert_eq!(out.status, Some(1));
    assert!(out.stderr.contains("injected failure"));
    assert_eq!(sshd.shadow_hash("alice"), before);
}

#[test]
fn a_slow_chpasswd_past_the_deadline_is_a_timeout_after_the_input_was_sent() {
    let Some(sshd) = Sshd::start(&root_setup().chpasswd(ChpasswdFault::Sleep(5))) else {
        return;
    };
    let err = block_on(async {
        let mut session = ssh::connect(
            &endpoint(&sshd),
            &pins(&sshd),
            Deadline::after(Duration::from_secs(2)),
        )
        .await
        .unwrap();
        session.login("root", &password(ROOT_PW)).await.unwrap();
        change(&session, PasswordPath::Root, "alice", None, None, None).await
    })
    .unwrap_err();
    assert_eq!(
        err,
        SshError::Timeout {
            stage: "running a remote command",
            stdin_sent: true
        }
    );
}
