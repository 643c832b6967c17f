//! Password refusals: policy, minimum age, an expired admin password.

use super::*;

#[test]
fn a_bad_password_refusal_exits_1_and_keeps_the_old_password() {
    let w = World::new(
        root_machine().refuse_passwords(Refusal::BadPassword),
        "root-admin.json",
    );
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("BAD PASSWORD");
    w.assert_password(OLD_PW);
}

#[test]
fn a_minimum_password_age_stops_self_rotation_exit_1() {
    let fake = FakeSsh::start().user(alice().min_days(7));
    let w = World::new(fake, "self.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("You must wait longer");
    w.assert_password(OLD_PW);
}

#[test]
fn an_expired_admin_password_stops_the_run_before_anything_is_sent_exit_1() {
    let fake = FakeSsh::start()
        .user(User::new("ops").password(ADMIN_PW).expired())
        .sudo("ops", Sudo::no_password())
        .user(alice());
    let w = World::new(fake, "sudo-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the password of 'ops' has expired");
    assert_eq!(w.calls(), ["auth-password", "home-of"]);
    w.assert_password(OLD_PW);
}
