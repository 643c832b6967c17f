//! Connections lost and a server slower than the deadline.

use super::*;

#[test]
fn chpasswd_cut_off_after_applying_is_settled_by_roots_shadow_entry_exit_0() {
    let fake = root_machine();
    harness::Armable::arm(
        &fake,
        "root-chpasswd",
        1,
        harness::FaultKind::DropAfterApply,
    )
    .unwrap();
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the user's shadow entry shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn chpasswd_cut_off_before_applying_is_settled_by_roots_shadow_entry_exit_1() {
    let fake = root_machine();
    harness::Armable::arm(
        &fake,
        "root-chpasswd",
        1,
        harness::FaultKind::DropBeforeApply,
    )
    .unwrap();
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("shadow entry is unchanged, so the password is still the old one");
    w.assert_password(OLD_PW);
}

#[test]
fn sudo_chpasswd_cut_off_after_applying_is_settled_by_a_login_with_the_new_password() {
    let fake = sudo_machine(Sudo::no_password());
    harness::Armable::arm(
        &fake,
        "sudo-chpasswd",
        1,
        harness::FaultKind::DropAfterApply,
    )
    .unwrap();
    let w = World::new(fake, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("a login with the new password shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn a_server_slower_than_the_deadline_stops_the_run_before_the_password_is_sent_exit_1() {
    let w = World::new(root_machine(), "root-admin.json");
    w.fake().slow(std::time::Duration::from_millis(1500));
    w.run(&["--timeout", "3"])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the deadline passed");
    assert!(!w.calls().contains(&"root-chpasswd".to_owned()));
    w.assert_password(OLD_PW);
}
