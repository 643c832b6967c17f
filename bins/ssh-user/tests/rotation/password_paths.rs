//! The password paths: root's chpasswd, sudo without and with a password, and sudo's
//! rights check.

use super::*;

#[test]
fn root_changes_the_password_with_chpasswd_and_a_login_verifies_it() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("password changed with chpasswd as root (verified by a login)")
        .assert_stdout_has("SSH key not rotated (the user record has no privatePEMKey)")
        .assert_stderr_has("logged in as 'root' with a password (attached record 'web-1 root'");
    w.assert_password(NEW_PW);
}

#[test]
fn a_sudo_nopasswd_admin_changes_the_password_with_sudo_n() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("password changed with sudo -n chpasswd (verified by a login)");
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_asking_for_a_password_gets_the_admins_password_first() {
    let setup = sudo_admin("ops ALL=(root) /usr/sbin/chpasswd").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean().assert_stdout_has(
        "password changed with sudo -A chpasswd (the admin's password through an askpass helper) (verified by a login)",
    );
    w.assert_password(NEW_PW);
}

/// `listpw=always`: sudo asks a password to *list* rights, yet runs every
/// command without one. The admin password must not be sent: chpasswd
/// would read it as a `user:password` line.
fn sudo_that_asks_only_to_list() -> Setup {
    sudo_admin("Defaults:ops listpw=always\nops ALL=(ALL) NOPASSWD: ALL")
}

#[test]
fn sudo_that_asks_a_password_only_to_list_rights_never_gets_the_admins_password() {
    let Some(sshd) = Sshd::start(&sudo_that_asks_only_to_list().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("password changed with sudo -n chpasswd (verified by a login)");
    w.assert_password(NEW_PW);
    assert!(
        w.shadow_holds("ops", ADMIN_PW),
        "the admin's own password is untouched"
    );
}

#[test]
fn sudo_that_asks_a_password_only_to_list_rights_edits_the_keys_without_it() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup = sudo_that_asks_only_to_list().user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(ADMIN_PW),
        "the admin password reached the file"
    );
    assert!(keys.contains(&public_of(&w.stored_key().unwrap())));
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_asking_for_a_password_everywhere_edits_the_keys_with_it_after_sudo_n_was_refused() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup = sudo_admin("ops ALL=(ALL) ALL").user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated")
        .assert_stdout_has("sudo -A chpasswd (the admin's password through an askpass helper)");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(ADMIN_PW),
        "the admin password reached the file"
    );
    assert!(keys.contains(&public_of(&w.stored_key().unwrap())));
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", ADMIN_PW));
}

#[test]
fn a_sudo_timestamp_shared_across_sessions_never_turns_the_admins_password_into_input() {
    // timestamp_type=global: after one `sudo -S`, a later sudo would not
    // ask, and the password line would go to the script (the key file).
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup =
        sudo_admin("Defaults:ops timestamp_type=global, timestamp_timeout=5\nops ALL=(ALL) ALL")
            .user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(ADMIN_PW),
        "the admin password reached the file"
    );
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", ADMIN_PW));
}

#[test]
fn a_listpw_check_that_fails_for_another_reason_stops_before_the_admins_password_is_sent() {
    let setup = sudo_that_asks_only_to_list()
        .user(alice())
        .chpasswd(ChpasswdFault::Fail);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("checking whether it runs chpasswd without one failed")
        .assert_stderr_has("nothing was changed");
    w.assert_password(OLD_PW);
    assert!(w.shadow_holds("ops", ADMIN_PW));
}
