//! The key: the tagged line, the records holding the key, the backup.

use super::*;

#[test]
fn a_second_rotation_replaces_the_tagged_line_and_keeps_every_other_line_byte_for_byte() {
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let laptop = include_str!("../../../../fixtures/keys/ecdsa256.openssh.pub").trim();
    let before = format!(
        "# managed by hand\r\ncommand=\"/bin/true\",no-pty {laptop}\r\n{old_public} {TAG}\r\n"
    );
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);

    let stored = keys::parse(&w.stored_key().unwrap()).unwrap();
    assert!(w.fake().accepts_key("alice", stored.key.public_key()));
    let retired = keys::parse(old).unwrap();
    assert!(!w.fake().accepts_key("alice", retired.key.public_key()));
    let after = w.fake().authorized_keys("alice").unwrap();
    let kept: Vec<&str> = before.split_inclusive('\n').take(2).collect();
    assert_eq!(
        after.split_inclusive('\n').take(2).collect::<Vec<_>>(),
        kept
    );
    assert!(after.contains(TAG));
    let backups = w.fake().paths_under("/home/alice/.ssh");
    assert!(
        backups.iter().any(|p| p.ends_with(".bak")),
        "a backup is kept: {backups:?}"
    );
}

#[test]
fn another_record_holding_the_users_key_for_the_same_login_gets_the_new_key_before_the_old_is_removed()
 {
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w =
        World::new(fake, "root-admin.json")
            .key(old)
            .holder("alice deploy key", "alice", old, true);
    w.run(&[]).assert_exit(0).assert_clean();
    let stored = w.stored_key().unwrap();
    assert_ne!(stored.trim(), old.trim());
    assert_eq!(
        w.vault()
            .field(HOLDER_UID, "privatePEMKey")
            .as_deref()
            .map(str::trim),
        Some(stored.trim()),
        "the other record holding alice's key holds the new one"
    );
    let retired = keys::parse(old).unwrap();
    assert!(!w.fake().accepts_key("alice", retired.key.public_key()));
}

#[test]
fn a_record_holding_the_users_key_that_cannot_be_given_the_new_one_keeps_the_old_key_and_exits_3() {
    // The holder is in the input but not shared with the Gateway's
    // application: it cannot be updated, so the old key stays authorized.
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json").key(old).holder(
        "alice deploy key",
        "alice",
        old,
        false,
    );
    w.run(&[])
        .assert_exit(3)
        .assert_stderr_has("'alice deploy key'");
    let retired = keys::parse(old).unwrap();
    assert!(
        w.fake().accepts_key("alice", retired.key.public_key()),
        "the old key still logs in for the record that holds it"
    );
    let stored = keys::parse(&w.stored_key().unwrap()).unwrap();
    assert!(w.fake().accepts_key("alice", stored.key.public_key()));
    w.assert_password(OLD_PW);
}

#[test]
fn a_record_holding_the_users_key_in_another_format_gets_the_new_key_before_the_old_is_removed() {
    // The same ECDSA key, as OpenSSH in the user record and as PKCS#8 in
    // the other: the other record is found by the key, not by its text.
    let old = include_str!("../../../../fixtures/keys/ecdsa256.openssh");
    let parsed = keys::parse(old).unwrap();
    let pkcs8 = keys::encode(&parsed.key, keys::Family::Pkcs8).unwrap();
    let pkcs8 = pkcs8.expose().to_owned();
    assert!(pkcs8.contains("BEGIN PRIVATE KEY"));
    let old_public = parsed.public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json")
        .key(old)
        .holder("alice deploy key", "alice", &pkcs8, true)
        .secrets(key_lines(&pkcs8));
    w.run(&[]).assert_exit(0).assert_clean();
    let stored = w.stored_key().unwrap();
    assert_eq!(
        w.vault()
            .field(HOLDER_UID, "privatePEMKey")
            .as_deref()
            .map(str::trim),
        Some(stored.trim()),
        "the record holding alice's key as PKCS#8 holds the new key"
    );
}

#[test]
fn a_record_holding_the_same_key_for_another_login_is_left_as_it_is() {
    // bob's copy logs in as bob, which this rotation does not touch; the
    // new key would not log in there.
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json")
        .key(old)
        .holder("bob's key", "bob", old, true);
    w.run(&[]).assert_exit(0).assert_clean();
    assert_eq!(
        w.vault()
            .field(HOLDER_UID, "privatePEMKey")
            .as_deref()
            .map(str::trim),
        Some(old.trim())
    );
}

#[test]
fn a_record_holding_the_same_key_for_another_machine_is_left_as_it_is() {
    // Its key logs in as alice on web-2, which still authorizes it; the new
    // key is authorized on this machine only.
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json")
        .key(old)
        .holder("alice on web-2", "alice", old, true)
        .holder_field(
            "pamHostname",
            json!({"hostName": "web-2.example", "port": "22"}),
        );
    w.run(&[]).assert_exit(0).assert_clean();
    assert_eq!(
        w.vault()
            .field(HOLDER_UID, "privatePEMKey")
            .as_deref()
            .map(str::trim),
        Some(old.trim())
    );
}

#[test]
fn a_holder_whose_vault_copy_changed_since_the_input_keeps_the_old_key_and_exits_3() {
    // The input shows the holder with the user's key; the vault's copy now
    // holds another text (re-pasted, or changed by another run): nothing
    // shows that what it holds survives, so the old key stays.
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let other = include_str!("../../../../fixtures/keys/ecdsa256.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json").key(old).holder_seen_as(
        "alice deploy key",
        "alice",
        old,
        Some(other),
    );
    w.run(&[])
        .assert_exit(3)
        .assert_stderr_has("'alice deploy key'")
        .assert_stderr_has("no longer does");
    let retired = keys::parse(old).unwrap();
    assert!(w.fake().accepts_key("alice", retired.key.public_key()));
}

#[test]
fn a_key_pair_record_holding_the_users_key_keeps_the_old_key_and_exits_3() {
    // Keeper's "SSH Key" records hold the key in a key pair object, which a
    // text field write cannot reach: the old key stays authorized.
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json")
        .key(old)
        .holder("alice's SSH key", "alice", "", false)
        .holder_field(
            "keyPair",
            json!({"privateKey": old, "publicKey": old_public}),
        );
    w.run(&[])
        .assert_exit(3)
        .assert_stderr_has("'alice's SSH key'")
        .assert_stderr_has("in a key pair");
    let retired = keys::parse(old).unwrap();
    assert!(
        w.fake().accepts_key("alice", retired.key.public_key()),
        "the old key still logs in for the record that holds it"
    );
    let stored = keys::parse(&w.stored_key().unwrap()).unwrap();
    assert!(w.fake().accepts_key("alice", stored.key.public_key()));
}

#[test]
fn two_rotations_one_after_the_other_each_keep_the_file_as_it_was_before_them() {
    // Fast enough to fall in the same second, where one timestamp named both
    // runs' backups and the second run kept none of its own.
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let before = format!("{old_public} {TAG}\n# kept\n");
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[]).assert_exit(0).assert_clean();
    let between = w.fake().authorized_keys("alice").unwrap();
    w.run(&[]).assert_exit(0).assert_clean();
    let mut backups: Vec<String> = w
        .fake()
        .paths_under("/home/alice/.ssh")
        .into_iter()
        .filter(|p| p.ends_with(".bak"))
        .collect();
    backups.sort();
    let contents: Vec<Option<String>> = backups.iter().map(|b| w.fake().file(b)).collect();
    assert_eq!(
        contents,
        [Some(before), Some(between)],
        "one backup per run, each the file before that run: {backups:?}"
    );
}

#[test]
fn a_rotations_one_backup_is_the_file_as_it_was_before_the_run() {
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let before = format!("{old_public} {TAG}\n# kept");
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[]).assert_exit(0).assert_clean();
    let backups: Vec<String> = w
        .fake()
        .paths_under("/home/alice/.ssh")
        .into_iter()
        .filter(|p| p.ends_with(".bak"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(
        w.fake().file(&backups[0]),
        Some(before),
        "the backup holds the pre-run file, not the one with both keys"
    );
}

#[test]
fn sudo_whose_pam_grants_without_asking_gets_no_admin_password_in_any_commands_input() {
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = sudo_machine(Sudo::with_password().pam_grants_without_asking())
        .user(alice().authorized_keys(&format!("{old_public} laptop\n")));
    let w = World::new(fake, "sudo-admin.json").key(old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -A chpasswd (the admin's password through an askpass helper)");
    w.assert_password(NEW_PW);
    assert!(w.fake().password_is("ops", ADMIN_PW));
    let keys = w.fake().authorized_keys("alice").unwrap();
    assert!(!keys.contains(ADMIN_PW), "{keys}");
    let calls = w.calls();
    assert!(calls.contains(&"as-owner-askpass".to_owned()), "{calls:?}");
}

#[test]
fn a_new_password_under_six_characters_is_refused_before_the_lease_is_written() {
    let old = include_str!("../../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json").key(old);
    let w = World(w.0.map_records(|s| s.param("newPassword", json!("Ab1!x"))));
    let record = w.vault().record(USER_UID);
    let revision = w.vault().revision(USER_UID);

    let out = w.run(&[]);
    out.assert_exit(2);
    assert!(out.stderr.contains("newPassword"), "{}", out.stderr);
    assert_eq!(
        w.vault().revision(USER_UID),
        revision,
        "nothing was written to the user record (no lease taken)"
    );
    assert_eq!(w.vault().record(USER_UID), record);
    assert!(
        w.fake().commands().is_empty(),
        "no command reached the machine"
    );
    w.assert_password(OLD_PW);
}
