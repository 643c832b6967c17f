//! The admin's password and sudo's PAM: what reaches chpasswd, and where the askpass
//! helper runs.

use super::*;

/// Asserts a password-only run through sudo whose PAM granted without a
/// prompt: alice has the new password, and the admin's own is untouched.
fn assert_admin_password_never_reached_chpasswd(w: &World, admin_password_now: &str) {
    let out = w.run(&[]);
    assert!(
        w.shadow_holds("ops", admin_password_now),
        "the admin's password line reached chpasswd and reset the admin's own password:\n{}",
        out.output()
    );
    out.assert_exit(0).assert_clean().assert_stdout_has(
        "password changed with sudo -A chpasswd (the admin's password through an askpass helper)",
    );
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_whose_pam_grants_by_group_without_asking_never_hands_the_admins_password_to_chpasswd() {
    let setup = sudo_admin_with_pam(
        "ops ALL=(root) /usr/sbin/chpasswd",
        SudoPam::GrantsGroup("ops".into()),
    )
    .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").admin_password(COLON_ADMIN_PW);
    assert_admin_password_never_reached_chpasswd(&w, COLON_ADMIN_PW);
}

#[test]
fn sudo_whose_pam_wheel_trusts_the_admin_never_hands_its_password_to_chpasswd() {
    let setup = sudo_admin_with_pam(
        "ops ALL=(root) /usr/sbin/chpasswd",
        SudoPam::WheelTrust("ops".into()),
    )
    .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").admin_password(COLON_ADMIN_PW);
    assert_admin_password_never_reached_chpasswd(&w, COLON_ADMIN_PW);
}

#[test]
fn sudo_granting_an_empty_password_field_nullok_never_hands_the_records_password_to_chpasswd() {
    let admin_key = fixture_key("ecdsa256.openssh");
    let setup = Setup::default()
        .user(
            User::new("ops")
                .password("Before-Emptied-1")
                .authorized_keys(&format!("{}\n", public_of(&admin_key))),
        )
        .sudoers("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::NullokEmptyPassword("ops".into()))
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json")
        .admin_password(COLON_ADMIN_PW)
        .admin_key(&admin_key);
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    let entry = w.sshd.shadow_entry("ops").unwrap();
    assert_eq!(
        entry.split(':').nth(1),
        Some(""),
        "the admin's password field is still empty (chpasswd never read the record's \
         'ops:…' password as a line)"
    );
}

#[test]
fn a_key_rotation_through_sudo_whose_pam_grants_without_asking_never_writes_the_admins_password() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup = sudo_admin_with_pam("ops ALL=(ALL) ALL", SudoPam::GrantsGroup("ops".into()))
        .user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json")
        .admin_password(COLON_ADMIN_PW)
        .key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(COLON_ADMIN_PW),
        "the admin password reached the file"
    );
    assert_eq!(
        keys,
        format!("{} {TAG}\n", public_of(&w.stored_key().unwrap()))
    );
    let (_, leftovers) = w.sshd.run_inside(
        None,
        "grep -rlF -- 'Colon-Adm1n' /home /tmp 2>/dev/null; ls -d /tmp/keeper-askpass.* 2>/dev/null",
        b"",
    );
    assert_eq!(
        leftovers.trim(),
        "",
        "no file holds the admin password, and the askpass directory is gone"
    );
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", COLON_ADMIN_PW));
}

#[test]
fn a_stale_admin_password_is_offered_to_sudos_pam_once_and_the_users_new_password_never() {
    // The admin logs in by key; the record's password is out of date.
    let admin_key = fixture_key("ecdsa256.openssh");
    let setup = Setup::default()
        .user(
            User::new("ops")
                .password(ADMIN_PW)
                .authorized_keys(&format!("{}\n", public_of(&admin_key))),
        )
        .sudoers("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::RecordAttempts)
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let stale = "Stale-Admin-pw-3";
    let w = World::new(sshd, "sudo-admin.json")
        .admin_password(stale)
        .admin_key(&admin_key);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the password given was refused");
    assert_eq!(
        w.sshd.sudo_attempts(),
        [stale],
        "sudo's PAM stack got the stale password once, and nothing else (never a line of \
         chpasswd's input)"
    );
    w.assert_password(OLD_PW);
}

/// A password rotation through sudo with the admin's password, where the
/// admin's sessions get `env` (`SetEnv`) and `prepare` ran as root first;
/// returns where sudo was told the askpass helper is.
fn askpass_placed_with(env: &str, prepare: &str) -> Option<Vec<String>> {
    let setup = sudo_admin("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::RecordAskpass)
        .sshd_option(&format!("SetEnv {env}"))
        .user(alice());
    let sshd = Sshd::start(&setup)?;
    let (code, output) = sshd.run_inside(None, prepare, b"");
    assert_eq!(code, 0, "{output}");
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    Some(w.sshd.sudo_askpass())
}

fn assert_in_tmp(placed: &[String]) {
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert!(
        placed[0].starts_with("/tmp/keeper-askpass."),
        "the helper ran from {placed:?}, not from the sticky root-owned /tmp"
    );
}

#[test]
fn an_admin_owned_runtime_directory_anyone_may_write_is_passed_over_for_the_askpass_helper() {
    // Another user could rename the helper's directory there and put a
    // helper of theirs in its place, to be handed the admin's password.
    let Some(placed) = askpass_placed_with(
        "XDG_RUNTIME_DIR=/home/ops/run",
        "install -d -o ops -m 0777 /home/ops/run && chmod 0777 /home/ops/run",
    ) else {
        return;
    };
    assert_in_tmp(&placed);
}

#[test]
fn a_private_tmpdir_inside_a_directory_anyone_may_write_is_passed_over_for_the_askpass_helper() {
    // The directory is the admin's and 0700, but its parent lets anyone
    // rename it away and put another in its place.
    let Some(placed) = askpass_placed_with(
        "TMPDIR=/home/shared/ops",
        "install -d -m 0777 /home/shared && chmod 0777 /home/shared && \
         install -d -o ops -m 0700 /home/shared/ops",
    ) else {
        return;
    };
    assert_in_tmp(&placed);
}

#[test]
fn a_private_runtime_directory_of_the_admins_is_where_the_askpass_helper_runs() {
    // The other side: a directory only the admin may write, under parents
    // only root may write, is trusted (the first of the candidates).
    let Some(placed) = askpass_placed_with(
        "XDG_RUNTIME_DIR=/home/ops/run",
        "install -d -o ops -m 0700 /home/ops/run",
    ) else {
        return;
    };
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert!(
        placed[0].starts_with("/home/ops/run/keeper-askpass."),
        "{placed:?}"
    );
}

#[test]
fn a_sudo_pam_stack_that_prompts_twice_gets_the_admin_password_once_and_the_run_ends_at_once() {
    // The helper answers one prompt; the second finds nothing to read and
    // fails at once, so sudo gives up instead of waiting for the deadline.
    // A slow `rm` keeps the FIFO's name in place after its one read (the
    // writer removes it late, as on a loaded machine): the second prompt
    // must not wait on it.
    let setup = sudo_admin("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::PromptsTwice)
        .slow_rm()
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    let out = w.run(&[]);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("asked for a password more than once");
    assert!(
        out.elapsed < Duration::from_secs(15),
        "the run waited {:?} for a second password",
        out.elapsed
    );
    w.assert_password(OLD_PW);
}
