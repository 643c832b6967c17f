//! Sudo: no password, a password on stdin, a terminal, a rule that does not allow chpasswd.

use super::*;

#[test]
fn a_nopasswd_sudo_is_never_sent_the_admins_password() {
    let w = World::new(sudo_machine(Sudo::no_password()), "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    let calls = w.calls();
    assert!(calls.contains(&"sudo-chpasswd".to_owned()), "{calls:?}");
    assert!(!calls.contains(&"sudo-a-chpasswd".to_owned()), "{calls:?}");
}

#[test]
fn sudo_asking_for_a_password_gets_it_on_stdin_after_the_preflight_said_so() {
    let w = World::new(sudo_machine(Sudo::with_password()), "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -A chpasswd (the admin's password through an askpass helper)");
    w.assert_password(NEW_PW);
    let calls = w.calls();
    let preflight = calls.iter().position(|c| c == "sudo-preflight").unwrap();
    let change = calls.iter().position(|c| c == "sudo-a-chpasswd").unwrap();
    assert!(preflight < change, "{calls:?}");
}

#[test]
fn sudo_requiring_a_terminal_gets_the_change_under_one() {
    let w = World::new(
        sudo_machine(Sudo::no_password().requiretty()),
        "sudo-admin.json",
    );
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -n chpasswd under a terminal (requiretty)");
    w.assert_password(NEW_PW);
    let change = w
        .fake()
        .commands()
        .into_iter()
        .find(|c| Script::classify(&c.line) == Some(Script::TtySudoChpasswd))
        .unwrap();
    assert!(change.pty, "sent under a terminal");
}

#[test]
fn an_admin_sudo_does_not_let_run_chpasswd_is_a_configuration_error_exit_2() {
    let w = World::new(sudo_machine(Sudo::default()), "sudo-admin.json");
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("sudo does not let it run chpasswd");
    w.assert_password(OLD_PW);
}
