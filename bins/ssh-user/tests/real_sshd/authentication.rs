//! Authentication: refused passwords, keyboard-interactive, the probe, every key type.

use super::*;

#[test]
fn a_wrong_password_is_rejected_naming_the_offered_methods() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let err = block_on(async {
        let mut session = ssh::connect(&endpoint(&sshd), &pins(&sshd), deadline())
            .await
            .unwrap();
        session.login("alice", &password(NEW_PW)).await
    })
    .unwrap_err();
    let SshError::AuthRejected { methods, .. } = &err else {
        panic!("{err}")
    };
    assert!(methods.iter().any(|m| m == "password"), "{methods:?}");
    assert_no_leak(&err.to_string());
}

#[test]
fn keyboard_interactive_answers_the_password_prompt() {
    let setup = root_setup()
        .sshd_option("PasswordAuthentication no")
        .sshd_option("KbdInteractiveAuthentication yes");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let result = block_on(async {
        let mut session = ssh::connect(&endpoint(&sshd), &pins(&sshd), deadline())
            .await
            .unwrap();
        session
            .authenticate("alice", &password(OLD_PW))
            .await
            .unwrap()
    });
    assert_eq!(result, Auth::Accepted);
    assert!(!can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn the_probe_authenticates_without_opening_a_session() {
    let key = keys::generate(KeyType::Ed25519, "").unwrap();
    let line = keys::public_line(key.public_key(), "probe").unwrap();
    let setup = root_setup().user(
        User::new("bob")
            .authorized_keys(&format!("command=\"touch /tmp/keeper-probe-ran\" {line}\n")),
    );
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let credential = Credential::Key(Arc::new(key));
    assert!(can_login(&sshd, "bob", &credential));
    let (code, _) = sshd.run_inside(None, "test ! -e /tmp/keeper-probe-ran", b"");
    assert_eq!(code, 0, "the forced command ran");
    assert!(!sshd.log().contains("Starting session"), "{}", sshd.log());
}

#[test]
fn generated_keys_of_every_algorithm_and_family_log_in() {
    let Some(sshd) = Sshd::start(&root_setup().user(User::new("carol").authorized_keys(""))) else {
        return;
    };
    let cases = [
        (KeyType::Ed25519, Family::OpenSsh),
        (KeyType::Ed25519, Family::Pkcs8),
        (
            KeyType::Ecdsa(russh::keys::EcdsaCurve::NistP256),
            Family::OpenSsh,
        ),
        (
            KeyType::Ecdsa(russh::keys::EcdsaCurve::NistP256),
            Family::Sec1,
        ),
        (
            KeyType::Ecdsa(russh::keys::EcdsaCurve::NistP384),
            Family::Pkcs8,
        ),
        (
            KeyType::Ecdsa(russh::keys::EcdsaCurve::NistP521),
            Family::Sec1,
        ),
        (KeyType::Rsa { bits: 2048 }, Family::OpenSsh),
        (KeyType::Rsa { bits: 2048 }, Family::Pkcs1),
        (KeyType::Rsa { bits: 2048 }, Family::Pkcs8),
    ];
    let mut parsed_keys = Vec::new();
    let mut lines = String::new();
    for (kind, family) in cases {
        let key = keys::generate(kind, "").unwrap();
        // As stored in the vault and read back by the next rotation.
        let text = keys::encode(&key, family).unwrap();
        let parsed = keys::parse(text.expose()).unwrap();
        assert_eq!((parsed.family, parsed.kind()), (family, Some(kind)));
        lines.push_str(&keys::public_line(key.public_key(), "t").unwrap());
        lines.push('\n');
        parsed_keys.push((kind, family, parsed));
    }
    let (code, out) = sshd.run_inside(
        Some("carol"),
        "cat > ~/.ssh/authorized_keys",
        lines.as_bytes(),
    );
    assert_eq!(code, 0, "{out}");
    for (kind, family, parsed) in parsed_keys {
        let credential = Credential::Key(parsed.shared());
        assert!(can_login(&sshd, "carol", &credential), "{kind} in {family}");
    }
    // A key not in the file is refused.
    let stranger = keys::generate(KeyType::Ed25519, "").unwrap();
    assert!(!can_login(
        &sshd,
        "carol",
        &Credential::Key(Arc::new(stranger))
    ));
}
