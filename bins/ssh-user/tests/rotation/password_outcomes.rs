//! Sudo under a terminal, self-rotation with passwd, refusals, and a chpasswd cut off
//! after it applied.

use super::*;

#[test]
fn sudo_requiring_a_terminal_changes_the_password_under_a_pty() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .sudoers("Defaults:ops requiretty")
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -n chpasswd under a terminal (requiretty)");
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_requiring_a_terminal_and_a_password_gets_it_through_the_askpass_helper_under_a_pty() {
    let setup = sudo_admin_with_pam("ops ALL=(root) /usr/sbin/chpasswd", SudoPam::Default)
        .sudoers("Defaults:ops requiretty")
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").admin_password(COLON_ADMIN_PW);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -A chpasswd under a terminal (requiretty");
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", COLON_ADMIN_PW));
}

#[test]
fn without_an_admin_the_user_changes_their_own_password_with_passwd() {
    let Some(sshd) = Sshd::start(&Setup::default().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "self.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("the user itself, with oldPassword (self-rotation)")
        .assert_stdout_has("password changed with passwd as the user (self-rotation) (verified");
    w.assert_password(NEW_PW);
}

#[test]
fn an_admin_password_the_machine_refuses_exits_1_naming_the_admin_record() {
    let setup = Setup::default()
        .user(User::new("ops").password(ADMIN_PW))
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let mut w = World::new(sshd, "sudo-admin.json");
    w.scenario = w.scenario.clone().record_field(
        "SshAdminRecordUid00001",
        "password",
        json!("Stale-Admin-pw-3"),
    );
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the server refused the credential for 'ops'")
        .assert_stderr_has("update the admin credential in attached record 'web-1 ops'");
    w.assert_password(OLD_PW);
}

#[test]
fn an_expired_password_stops_self_rotation_before_anything_is_sent_exit_1() {
    let Some(sshd) = Sshd::start(&Setup::default().user(alice().expired())) else {
        return;
    };
    let before = sshd.shadow_entry("alice");
    let w = World::new(sshd, "self.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the password of 'alice' has expired")
        .assert_stderr_has("reset it as an admin (attach an admin record)");
    assert_eq!(w.sshd.shadow_entry("alice"), before, "nothing changed");
}

#[test]
fn root_resets_an_expired_password() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice().expired())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
}

#[test]
fn a_password_policy_rejection_exits_1_and_changes_nothing() {
    let setup = root_admin().user(alice()).reject_passwords_with(
        "BAD PASSWORD: The password fails the dictionary check - it is based on a dictionary word",
    );
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let before = sshd.shadow_entry("alice");
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("changing the password failed")
        .assert_stderr_has("password policy (pwquality/cracklib) rejected the new password")
        .assert_stderr_has("The password of 'alice' is unchanged");
    assert_eq!(w.sshd.shadow_entry("alice"), before);
}

#[test]
fn chpasswd_killed_after_applying_is_reconciled_by_logging_in_with_the_new_password() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .user(alice())
        .chpasswd(ChpasswdFault::ApplyThenKill);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("the connection was lost")
        .assert_stdout_has("a login with the new password shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn a_sudo_chpasswd_that_fails_after_applying_is_checked_by_logging_in_exit_0() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .user(alice())
        .chpasswd(ChpasswdFault::ApplyThenFail);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("post-change hook failed")
        .assert_stdout_has("yet a login with the new password shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn a_sudo_chpasswd_that_fails_without_applying_is_checked_by_logging_in_exit_1() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .user(alice())
        .chpasswd(ChpasswdFault::Fail);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("injected failure")
        .assert_stderr_has("the old one still logs in");
    w.assert_password(OLD_PW);
}

#[test]
fn chpasswd_killed_after_applying_is_reconciled_by_roots_shadow_entry() {
    let setup = root_admin()
        .user(alice())
        .chpasswd(ChpasswdFault::ApplyThenKill);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the user's shadow entry shows it was applied");
    w.assert_password(NEW_PW);
}
