use super::*;
use russh::keys::{Algorithm, PublicKey};

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

fn ed_key() -> PublicKey {
    PublicKey::from_openssh(ED).unwrap()
}

#[test]
fn pins_parse_a_key_line_a_known_hosts_line_and_a_fingerprint() {
    let fp = fingerprint_of(&ed_key());
    let text =
        format!("# pins\n{ED} root@host\n\n[10.0.0.1]:2222,web {ED}\n|1|abc=|def= {ED}\n{fp}\n");
    let pins = HostKeyPins::parse(&text).unwrap();
    assert_eq!(pins.keys.len(), 3);
    assert_eq!(pins.fingerprints, vec![fp.trim_end_matches('=').to_owned()]);
    assert!(pins.matches(&ed_key()));
}

#[test]
fn a_fingerprint_pin_matches_with_or_without_padding() {
    let fp = fingerprint_of(&ed_key());
    for text in [fp.clone(), format!("{fp}=")] {
        assert!(
            HostKeyPins::parse(&text).unwrap().matches(&ed_key()),
            "{text}"
        );
    }
    let other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert!(!HostKeyPins::parse(other).unwrap().matches(&ed_key()));
}

#[test]
fn bad_pins_are_refused_with_the_line_number() {
    for (text, expected) in [
        ("", "holds no key"),
        ("# only a comment", "holds no key"),
        ("SHA256:not base64!", "line 1"),
        ("@cert-authority * ssh-ed25519 AAAA", "not supported"),
        ("\nssh-ed25519", "line 2"),
        ("ssh-ed25519 AAAAnotakey", "not a readable public key"),
    ] {
        let err = HostKeyPins::parse(text).unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn a_key_pin_restricts_host_key_algorithms_to_its_own() {
    let pins = HostKeyPins::key(ed_key());
    assert_eq!(pins.algorithm_rounds(), vec![vec![Algorithm::Ed25519]]);
    let fp = HostKeyPins::parse(&fingerprint_of(&ed_key())).unwrap();
    let rounds = fp.algorithm_rounds();
    assert_eq!(rounds.len(), 3);
    assert_eq!(rounds[0], vec![Algorithm::Ed25519]);
    assert!(rounds[2].iter().all(|a| matches!(a, Algorithm::Rsa { .. })));
}

#[test]
fn each_error_maps_to_the_exit_code_of_the_state_it_leaves() {
    let seen = SeenKey {
        line: ED.into(),
        fingerprint: "SHA256:x".into(),
    };
    let cases = [
        (
            SshError::NoPin {
                address: "h:22".into(),
                seen: seen.clone(),
            },
            2,
        ),
        (
            SshError::HostKeyChanged {
                address: "h:22".into(),
                seen: vec![seen],
            },
            2,
        ),
        (SshError::SecretInCommandLine, 2),
        (
            SshError::UnexpectedPrompts {
                user: "u".into(),
                prompts: vec![],
            },
            2,
        ),
        (
            SshError::Connect {
                address: "h:22".into(),
                detail: "refused".into(),
            },
            1,
        ),
        (
            SshError::AuthRejected {
                user: "u".into(),
                methods: vec![],
            },
            1,
        ),
        (
            SshError::ExecRefused {
                what: "run a command".into(),
            },
            1,
        ),
        (
            SshError::Lost {
                stage: "x",
                stdin_sent: false,
                output: String::new(),
            },
            1,
        ),
        (
            SshError::Lost {
                stage: "x",
                stdin_sent: true,
                output: String::new(),
            },
            4,
        ),
        (
            SshError::Timeout {
                stage: "x",
                stdin_sent: false,
            },
            1,
        ),
        (
            SshError::Timeout {
                stage: "x",
                stdin_sent: true,
            },
            4,
        ),
    ];
    for (error, code) in cases {
        let text = error.to_string();
        assert_eq!(error.into_error().exit().code(), code, "{text}");
    }
}

#[test]
fn the_keyscan_hint_names_the_port_and_an_ipv6_host_without_brackets() {
    assert_eq!(keyscan_command("web.example:22"), "ssh-keyscan web.example");
    assert_eq!(
        keyscan_command("127.0.0.1:2222"),
        "ssh-keyscan -p 2222 127.0.0.1"
    );
    assert_eq!(
        keyscan_command("[2001:db8::1]:2200"),
        "ssh-keyscan -p 2200 2001:db8::1"
    );
}

#[test]
fn command_lines_quote_every_part() {
    assert_eq!(
        command_line("echo \"$1\"", &["it's", "a b"]),
        "/bin/sh -c 'echo \"$1\"' sh 'it'\\''s' 'a b'"
    );
}
