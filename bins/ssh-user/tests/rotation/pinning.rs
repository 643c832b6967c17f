//! The host-key pin: none, a wrong one, trust on first use.

use super::*;

#[test]
fn without_a_pin_nothing_is_sent_and_exit_2_prints_the_servers_key() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").machine_field("SSH Host Key", json!(""));
    let fingerprint = {
        let key = russh::keys::PublicKey::from_openssh(w.sshd.host_key()).unwrap();
        ssh::fingerprint_of(&key)
    };
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&format!(
            "the machine record has no 'SSH Host Key': 127.0.0.1:{} presented {} ({fingerprint})",
            w.sshd.port(),
            w.sshd.host_key()
        ))
        .assert_stderr_has(&format!("ssh-keyscan -p {} 127.0.0.1", w.sshd.port()));
    let log = w.sshd.log();
    assert!(
        !log.contains("Accepted") && !log.contains("Failed"),
        "no credential was sent: {log}"
    );
    w.assert_password(OLD_PW);
}

#[test]
fn a_host_key_that_matches_no_pin_exits_2_host_key_changed() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let other = public_of(&new_ed25519());
    let w = World::new(sshd, "root-admin.json").machine_field("SSH Host Key", json!(other));
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("host key changed: possible man-in-the-middle");
    let log = w.sshd.log();
    assert!(
        !log.contains("Accepted") && !log.contains("Failed"),
        "{log}"
    );
}

#[test]
fn trust_on_first_use_stores_the_servers_key_in_the_machine_record() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json")
        .machine_field("SSH Host Key", json!(""))
        .machine_field("trust_host_key_on_first_use", json!("true"))
        .vault();
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("trusting the key")
        .assert_stderr_has("stored the host key");
    assert_eq!(
        w.vault.as_ref().unwrap().field(MACHINE_UID, "SSH Host Key"),
        Some(w.sshd.host_key().to_owned())
    );
    w.assert_password(NEW_PW);
}
