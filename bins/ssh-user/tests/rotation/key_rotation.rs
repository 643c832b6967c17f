//! The SSH key: the tagged line, options kept, refusals, every algorithm and family.

use super::*;

#[test]
fn the_first_key_rotation_replaces_the_records_untagged_line_with_a_tagged_one_and_stores_the_key()
{
    let old = fixture_key("ed25519.openssh");
    let laptop = new_ed25519();
    let original = format!(
        "{} by hand\n{} laptop\n",
        public_of(&old),
        public_of(&laptop)
    );
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    let out = w.run(&[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated: new ssh-ed25519 key SHA256:")
        .assert_stdout_has("(OpenSSH) stored in record 'alice on web-1'")
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert!(new.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    let new_public = public_of(&new);
    assert_eq!(
        w.authorized_keys(),
        format!("{new_public} {TAG}\n{} laptop\n", public_of(&laptop)),
        "the record's line is replaced in place; every other line is kept byte for byte"
    );
    assert_eq!(
        w.vault.as_ref().unwrap().field(USER_UID, "Public Key"),
        Some(format!("{new_public} {TAG}"))
    );
    out.assert_stdout_has(&fingerprint_of(&new));
    assert!(w.key_works("alice", &new));
    assert!(
        !w.key_works("alice", &old),
        "the record's previous key is the credential rotated: it no longer logs in"
    );
    assert!(
        w.key_works("alice", &laptop),
        "other keys are never removed"
    );
    w.assert_password(NEW_PW);
    assert_eq!(
        w.vault.as_ref().unwrap().field(USER_UID, "rotation_lease"),
        Some(String::new()),
        "the lease is cleared"
    );
}

#[test]
fn the_records_key_under_a_tag_a_tool_rewrote_is_retired_not_left_valid_behind_exit_0() {
    let old = fixture_key("ed25519.openssh");
    let laptop = new_ed25519();
    let original = format!(
        "{} laptop\n{} managed-by-cfgtool\n",
        public_of(&laptop),
        public_of(&old)
    );
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert_eq!(
        w.authorized_keys(),
        format!("{} laptop\n{} {TAG}\n", public_of(&laptop), public_of(&new))
    );
    assert!(!w.key_works("alice", &old));
    assert!(w.key_works("alice", &new));
    w.assert_password(NEW_PW);
}

#[test]
fn a_later_key_rotation_replaces_the_tagged_line_and_the_old_key_is_refused() {
    let laptop = new_ed25519();
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n{} {TAG}\n", public_of(&laptop), public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert_eq!(
        w.authorized_keys(),
        format!("{} laptop\n{} {TAG}\n", public_of(&laptop), public_of(&new))
    );
    assert!(w.key_works("alice", &new));
    assert!(!w.key_works("alice", &old));
    assert!(
        w.key_works("alice", &laptop),
        "other keys are never removed"
    );
    w.assert_password(NEW_PW);
}

#[test]
fn remove_previous_key_removes_the_untagged_line_once_the_new_key_works() {
    let old = fixture_key("ed25519.openssh");
    let other = new_ed25519();
    let original = format!("{} laptop\n{} ci\n", public_of(&old), public_of(&other));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json")
        .key(&old)
        .user_field("Remove Previous Key", "true");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert_eq!(
        w.authorized_keys(),
        format!("{} {TAG}\n{} ci\n", public_of(&new), public_of(&other))
    );
    assert!(!w.key_works("alice", &old));
}

#[test]
fn the_replaced_lines_options_are_copied_and_every_other_line_is_kept_byte_for_byte() {
    let old = fixture_key("ed25519.openssh");
    let options =
        r#"from="127.0.0.1,::1",no-agent-forwarding,command="/bin/echo \"forced, really\"""#;
    let original = format!(
        "# alice's keys\r\n\n{options} {} {TAG}\n{} laptop",
        public_of(&old),
        public_of(&new_ed25519())
    );
    let setup = sudo_admin("ops ALL=(ALL) NOPASSWD: ALL").user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[]).assert_exit(0).assert_clean();
    let new = w.stored_key().unwrap();
    let expected = original.replace(
        &format!("{} {TAG}", public_of(&old)),
        &format!("{} {TAG}", public_of(&new)),
    );
    assert_eq!(w.authorized_keys(), expected);
    assert!(w.key_works("alice", &new));
}

#[test]
fn a_missing_ssh_directory_is_created_by_the_user_through_sudo() {
    let setup = sudo_admin("ops ALL=(ALL) NOPASSWD: ALL").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let old = fixture_key("ed25519.openssh");
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[]).assert_exit(0).assert_clean();
    let new = w.stored_key().unwrap();
    assert_eq!(w.authorized_keys(), format!("{} {TAG}\n", public_of(&new)));
    let (_, stat) = w.sshd.run_inside(
        None,
        "stat -c '%U %a' /home/alice/.ssh /home/alice/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(stat, "alice 700\nalice 600\n");
    assert!(w.key_works("alice", &new));
}

#[test]
fn a_symlinked_authorized_keys_is_refused_exit_2_and_nothing_changes() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let (code, text) = sshd.run_inside(
        Some("alice"),
        "cd ~/.ssh && mv authorized_keys real_keys && ln -s real_keys authorized_keys",
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("authorized_keys (or its directory) is a symlink: refused");
    assert_eq!(w.sshd.ssh_file("alice", "real_keys").unwrap(), original);
    assert_eq!(w.stored_key().unwrap(), old);
    w.assert_password(OLD_PW);
}

#[test]
fn a_symlinked_ssh_directory_is_refused_while_planning_exit_2_and_nothing_is_written() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let (code, text) = sshd.run_inside(
        Some("alice"),
        "cd ~ && mv .ssh real_ssh && ln -s real_ssh .ssh",
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json").key(&old);
    // Refused while planning: a dry run says so too.
    w.run(&["--dry-run"])
        .assert_exit(2)
        .assert_stderr_has("is a symlink: refused");
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("authorized_keys (or its directory) is a symlink: refused");
    let (_, listing) = w.sshd.run_inside(Some("alice"), "ls -A ~/real_ssh", b"");
    assert_eq!(listing.trim(), "authorized_keys", "no temp file, no backup");
    assert_eq!(w.stored_key().unwrap(), old);
    w.assert_password(OLD_PW);
}

#[test]
fn an_old_key_also_in_authorized_keys2_is_still_accepted_exit_3_and_the_password_is_unchanged() {
    let old = fixture_key("ed25519.openssh");
    let user = alice()
        .authorized_keys(&format!("{} {TAG}\n", public_of(&old)))
        .authorized_keys2(&format!("{} copied by hand\n", public_of(&old)));
    let Some(sshd) = Sshd::start(&root_admin().user(user)) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "{} of user 'alice' on 127.0.0.1:{} were revoked but are still accepted",
            fingerprint_of(&old),
            w.sshd.port()
        ))
        .assert_stderr_has("sshd also reads /home/alice/.ssh/authorized_keys2")
        .assert_stderr_has("The password of 'alice' was not changed");
    let new = w.stored_key().unwrap();
    assert_ne!(new, old, "the new key is stored");
    assert_eq!(w.authorized_keys(), format!("{} {TAG}\n", public_of(&new)));
    assert!(w.key_works("alice", &new));
    w.assert_password(OLD_PW);
}

#[test]
fn a_password_refused_after_the_key_was_rotated_exits_3_with_the_key_stored() {
    let old = fixture_key("ed25519.openssh");
    let setup = root_admin()
        .user(alice().authorized_keys(&format!("{} {TAG}\n", public_of(&old))))
        .reject_passwords_with("BAD PASSWORD: it is too simplistic/systematic");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has("the password was not changed: changing the password failed")
        .assert_stderr_has("The password of 'alice' is still the old one")
        .assert_stderr_has("The SSH key was rotated: new ssh-ed25519 key");
    let new = w.stored_key().unwrap();
    assert!(w.key_works("alice", &new));
    assert!(!w.key_works("alice", &old));
    w.assert_password(OLD_PW);
}

#[test]
fn a_vault_that_refuses_the_key_gets_the_new_line_removed_again_and_exits_1() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    // The first save is the lease; every save of the key is refused as stale.
    let vault = w.vault.as_ref().unwrap();
    vault.fault_on_after("update_secret", 1, harness::Fault::StaleRevision);
    vault.fault_on("update_secret", harness::Fault::StaleRevision, 2);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("storing the new SSH key")
        .assert_stderr_has("The new SSH key was revoked again; nothing was changed");
    assert_eq!(w.authorized_keys(), original);
    assert_eq!(w.stored_key().unwrap(), old);
    assert!(w.key_works("alice", &old));
    w.assert_password(OLD_PW);
}

#[test]
fn a_new_key_sshd_refuses_is_taken_back_leaving_the_file_byte_for_byte_and_no_backup_exit_1() {
    // The record's line allows logins from elsewhere only; the new line
    // copies its options, so sshd refuses the new key from 127.0.0.1. The
    // file has no final newline.
    let old = fixture_key("ed25519.openssh");
    let original = format!("from=\"10.9.9.9\" {} laptop", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("refused the new key");
    assert_eq!(w.authorized_keys(), original, "restored byte for byte");
    let (_, listing) = w.sshd.run_inside(Some("alice"), "ls -A ~/.ssh", b"");
    assert_eq!(listing.trim(), "authorized_keys", "no backup, no temp file");
    assert_eq!(w.stored_key().unwrap(), old);
    w.assert_password(OLD_PW);
}

#[test]
fn private_key_rotate_false_changes_the_password_only_without_the_vault() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let mut w = World::new(sshd, "root-admin.json")
        .key(&old)
        .user_field("Private Key Rotate", "FALSE");
    w.vault = None;
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key not rotated ('Private Key Rotate' is FALSE)");
    assert_eq!(w.authorized_keys(), original);
    w.assert_password(NEW_PW);
}

#[test]
fn an_encrypted_key_exits_2_before_connecting() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&fixture_key("enc.openssh"));
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("'privatePEMKey' in record 'alice on web-1' (uid SshUserRecordUid000001) is invalid: password-encrypted PEM is not supported");
    // One connection: the harness's own check that sshd listens.
    assert_eq!(
        w.sshd.log().matches("Connection from").count(),
        1,
        "{}",
        w.sshd.log()
    );
}

/// Every algorithm in every format family it can be written in: the new key
/// has the old one's algorithm, size and family, the record gets it, the
/// machine takes it. One sshd, one user per key.
#[test]
fn keys_of_every_algorithm_and_family_are_rotated_into_the_same_family() {
    let cases = [
        ("rsa2048.openssh", "OPENSSH PRIVATE KEY"),
        ("rsa2048.pkcs1", "RSA PRIVATE KEY"),
        ("rsa2048.pkcs8", "PRIVATE KEY"),
        ("ecdsa256.openssh", "OPENSSH PRIVATE KEY"),
        ("ecdsa384.sec1", "EC PRIVATE KEY"),
        ("ecdsa521.pkcs8", "PRIVATE KEY"),
        ("ed25519.openssh", "OPENSSH PRIVATE KEY"),
        ("ed25519.pkcs8", "PRIVATE KEY"),
    ];
    let user_of = |case: &str| format!("u-{}", case.replace('.', "-"));
    let mut setup = root_admin();
    for (case, _) in cases {
        let public = public_of(&fixture_key(case));
        setup = setup.user(
            User::new(&user_of(case))
                .password(OLD_PW)
                .authorized_keys(&format!("{public} old\n")),
        );
    }
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let mut w = World::new(sshd, "root-admin.json");
    let mut failures = Vec::new();
    for (case, label) in cases {
        let user = user_of(case);
        let old = fixture_key(case);
        w.scenario =
            w.scenario
                .param("user", json!(user))
                .record_field(USER_UID, "login", json!(user));
        w = w.key(&old);
        let out = w.run(&[]);
        let Some(new) = w.stored_key().filter(|_| out.code == Some(0)) else {
            failures.push(format!("{case}: {}", out.output()));
            continue;
        };
        let (was, now) = (keys::parse(&old).unwrap(), keys::parse(&new).unwrap());
        let tagged = format!("keeper-security-{user}");
        let file = w.sshd.authorized_keys(&user).unwrap_or_default();
        for (ok, what) in [
            (
                new.starts_with(&format!("-----BEGIN {label}-----\n")),
                "the family",
            ),
            (now.kind() == was.kind(), "the algorithm and size"),
            (fingerprint_of(&new) != fingerprint_of(&old), "a new key"),
            (
                lines_with(&file, &public_of(&new)) == [format!("{} {tagged}", public_of(&new))],
                "the tagged line",
            ),
            (w.key_works(&user, &new), "a login with the new key"),
        ] {
            if !ok {
                failures.push(format!("{case}: not {what}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
