//! A cut is not a refusal, and the run's other limits.

use super::*;

#[test]
fn a_login_whose_connection_is_cut_is_an_error_not_a_refusal() {
    use common::deadline::Deadline;
    use common::secret::Secret;
    use rotate_ssh_user::ssh::{self, Credential, HostKeyPins, SshError};
    use rotate_ssh_user::target::HostPort;

    let fake = root_machine();
    harness::Armable::arm(
        &fake,
        "auth-password",
        1,
        harness::FaultKind::DropBeforeApply,
    )
    .unwrap();
    let endpoint = HostPort {
        host: "127.0.0.1".into(),
        port: fake.port(),
    };
    let pins = HostKeyPins::parse(&fake.host_key_line()).unwrap();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(ssh::probe(
            &endpoint,
            &pins,
            "alice",
            &Credential::Password(Secret::new(OLD_PW)),
            Deadline::after(std::time::Duration::from_secs(20)),
        ));
    assert!(
        matches!(result, Err(SshError::Lost { .. })),
        "a cut connection is not a refused password: {result:?}"
    );
}

#[test]
fn a_verification_login_cut_off_after_chpasswd_succeeded_is_not_taken_for_a_refusal_exit_0() {
    let fake = root_machine();
    // 1 root logs in, 2 the new password's check after chpasswd (planning
    // asked for alice's methods with `none`, not with a password).
    harness::Armable::arm(
        &fake,
        "auth-password",
        2,
        harness::FaultKind::DropBeforeApply,
    )
    .unwrap();
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the check login failed");
    w.assert_password(NEW_PW);
}

#[test]
fn planning_tries_no_password_for_the_user_so_a_stale_record_costs_no_failed_login_exit_0() {
    // The record's oldPassword is out of date: the machine has another.
    let fake = FakeSsh::start()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("alice").password("Alice-Changed-by-hand-7"));
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("verified by a login");
    w.assert_password(NEW_PW);
    let alice: Vec<(String, Option<u32>)> = w
        .fake()
        .calls()
        .into_iter()
        .filter(|c| c.user == "alice" && c.call.starts_with("auth-"))
        .map(|c| (c.call, c.status))
        .collect();
    assert_eq!(
        alice,
        vec![("auth-password".to_owned(), Some(0))],
        "alice's only login is the new password's check, accepted"
    );
}

#[test]
fn a_key_too_large_to_make_in_half_the_time_left_changes_nothing_and_clears_the_lease_exit_1() {
    // RSA-16384: making one takes minutes (ssh-keygen: 90 s), far more than
    // half of a six-second run.
    let old = include_str!("../../../../fixtures/keys/rsa16384.openssh");
    let public = include_str!("../../../../fixtures/keys/rsa16384.openssh.pub").trim();
    let before = format!("{public} laptop\n");
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    let out = w.run(&["--timeout", "6"]);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("took longer than half the time left")
        .assert_stderr_has("Private Key Type");
    assert!(
        out.elapsed < std::time::Duration::from_secs(6),
        "the run kept its deadline: {:?}",
        out.elapsed
    );
    assert_eq!(w.fake().authorized_keys("alice").unwrap(), before);
    assert_eq!(w.stored_key().unwrap(), old);
    assert_eq!(
        w.vault().field(USER_UID, "rotation_lease"),
        Some(String::new()),
        "the lease is cleared"
    );
    w.assert_password(OLD_PW);
}

#[test]
fn a_home_directory_that_is_not_one_absolute_path_stops_the_run_before_any_write_exit_1() {
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let fake = root_machine();
    // A wrapper prints a banner in place of getent's answer.
    harness::Armable::arm(&fake, "home-of", 1, harness::FaultKind::Garbled2xx).unwrap();
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is not one absolute path");
    assert!(
        !w.calls().contains(&"write-keys".to_owned()),
        "{:?}",
        w.calls()
    );
    w.assert_password(OLD_PW);
}
