//! Host-key pinning against a real sshd.

use super::*;

#[test]
fn a_pinned_host_key_connects_and_authenticates() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        assert_eq!(session.host_key().line, sshd.host_key());
        let out = session.exec("id -un", &[], b"", false).await.unwrap();
        assert_eq!(out.stdout, "alice\n");
    });
}

#[test]
fn a_wrong_pin_is_host_key_changed_carrying_the_servers_key() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let other = keys::generate(KeyType::Ed25519, "").unwrap();
    let wrong = HostKeyPins::key(other.public_key().clone());
    let err = block_on(ssh::connect(&endpoint(&sshd), &wrong, deadline())).unwrap_err();
    let SshError::HostKeyChanged { seen, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(seen[0].line, sshd.host_key());
    assert!(
        err.to_string()
            .starts_with("host key changed: possible man-in-the-middle")
    );
}

#[test]
fn no_pin_reports_the_servers_key_line_and_fingerprint() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let err = block_on(ssh::connect(
        &endpoint(&sshd),
        &HostKeyPins::default(),
        deadline(),
    ))
    .unwrap_err();
    let SshError::NoPin { seen, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(seen.line, sshd.host_key());
    let expected = std::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(sshd.host_key().as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(String::from_utf8_lossy(&expected.stdout).contains(&seen.fingerprint));
    let message = err.to_string();
    assert!(
        message.contains("ssh-keyscan") && message.contains("'SSH Host Key'"),
        "{message}"
    );
    // Nothing but the handshake happened: no authentication in sshd's log.
    assert!(!sshd.log().contains("Accepted"), "{}", sshd.log());
}

#[test]
fn an_rsa_pin_negotiates_rsa_although_the_server_offers_ed25519_first() {
    let Some(sshd) = Sshd::start(&root_setup().host_keys(&["ed25519", "rsa"])) else {
        return;
    };
    let rsa = HostKeyPins::parse(&sshd.host_keys()[1]).unwrap();
    let session = block_on(ssh::connect(&endpoint(&sshd), &rsa, deadline())).unwrap();
    assert_eq!(session.host_key().line, sshd.host_keys()[1]);
}

#[test]
fn a_fingerprint_pin_finds_the_pinned_keys_algorithm() {
    let Some(sshd) = Sshd::start(&root_setup().host_keys(&["ed25519", "rsa"])) else {
        return;
    };
    let rsa_key = russh::keys::PublicKey::from_openssh(&sshd.host_keys()[1]).unwrap();
    let pin = HostKeyPins::parse(&ssh::fingerprint_of(&rsa_key)).unwrap();
    let session = block_on(ssh::connect(&endpoint(&sshd), &pin, deadline())).unwrap();
    assert_eq!(session.host_key().line, sshd.host_keys()[1]);
}
