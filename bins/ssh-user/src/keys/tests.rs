use std::path::PathBuf;
use std::process::Command;

use super::*;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/keys")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `type base64` of an OpenSSH public line (the comment dropped).
fn blob(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

const P256: KeyType = KeyType::Ecdsa(EcdsaCurve::NistP256);
const P384: KeyType = KeyType::Ecdsa(EcdsaCurve::NistP384);
const P521: KeyType = KeyType::Ecdsa(EcdsaCurve::NistP521);

/// Every fixture ssh-keygen could read back: file, family, type.
const FIXTURES: [(&str, Family, KeyType); 12] = [
    (
        "rsa2048.openssh",
        Family::OpenSsh,
        KeyType::Rsa { bits: 2048 },
    ),
    ("rsa2048.pkcs1", Family::Pkcs1, KeyType::Rsa { bits: 2048 }),
    ("rsa2048.pkcs8", Family::Pkcs8, KeyType::Rsa { bits: 2048 }),
    ("ecdsa256.openssh", Family::OpenSsh, P256),
    ("ecdsa256.sec1", Family::Sec1, P256),
    ("ecdsa256.pkcs8", Family::Pkcs8, P256),
    ("ecdsa384.openssh", Family::OpenSsh, P384),
    ("ecdsa384.sec1", Family::Sec1, P384),
    ("ecdsa384.pkcs8", Family::Pkcs8, P384),
    ("ecdsa521.sec1", Family::Sec1, P521),
    ("ecdsa521.pkcs8", Family::Pkcs8, P521),
    ("ed25519.openssh", Family::OpenSsh, KeyType::Ed25519),
];

#[test]
fn reads_every_family_and_algorithm_ssh_keygen_writes() {
    for (name, family, kind) in FIXTURES {
        let parsed = parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.family, family, "{name}");
        assert_eq!(parsed.kind(), Some(kind), "{name}");
        let expected = fixture(&format!("{name}.pub"));
        assert_eq!(
            blob(&parsed.public_line().unwrap()),
            blob(&expected),
            "{name}"
        );
    }
}

#[test]
fn reads_openssh_p521_and_pkcs8_ed25519() {
    let p521 = parse(&fixture("ecdsa521.openssh")).unwrap();
    assert_eq!((p521.family, p521.kind()), (Family::OpenSsh, Some(P521)));
    let ed = parse(&fixture("ed25519.pkcs8")).unwrap();
    assert_eq!(
        (ed.family, ed.kind()),
        (Family::Pkcs8, Some(KeyType::Ed25519))
    );
}

#[test]
fn a_key_pasted_on_one_line_is_read() {
    for (name, ..) in FIXTURES {
        let text = fixture(name);
        let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // The BEGIN/END markers themselves contain spaces; a paste joins
        // every line with one space.
        assert!(!one_line.contains('\n'));
        let parsed = parse(&one_line).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            blob(&parsed.public_line().unwrap()),
            blob(&fixture(&format!("{name}.pub")))
        );
    }
}

#[test]
fn crlf_and_literal_backslash_n_are_read() {
    let text = fixture("ecdsa256.sec1");
    let crlf = text.replace('\n', "\r\n");
    let escaped = text.replace('\n', "\\n");
    let quoted_json = serde_json::to_string(&text).unwrap();
    for variant in [crlf, escaped, quoted_json.trim_matches('"').to_owned()] {
        let parsed = parse(&variant).unwrap();
        assert_eq!(parsed.family, Family::Sec1);
    }
}

#[test]
fn surrounding_text_and_indentation_are_ignored() {
    let text = fixture("ed25519.openssh");
    let messy = format!(
        "  \n\n{}\n\t\n",
        text.lines()
            .map(|l| format!("   {l}  "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(parse(&messy).unwrap().kind(), Some(KeyType::Ed25519));
}

#[test]
fn encrypted_keys_are_refused_with_the_documented_message() {
    for name in ["enc.openssh", "enc.pkcs1", "enc.pkcs8"] {
        let err = parse(&fixture(name)).map(|_| ()).unwrap_err();
        assert_eq!(err, KeyError::Encrypted, "{name}");
        assert!(
            err.to_string()
                .starts_with("password-encrypted PEM is not supported")
        );
    }
    // Also on one line.
    let one_line = fixture("enc.pkcs1")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        parse(&one_line).map(|_| ()).unwrap_err(),
        KeyError::Encrypted
    );
}

#[test]
fn garbage_is_malformed_and_never_panics() {
    let cases = [
        "".to_owned(),
        "hello".to_owned(),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n".to_owned(),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA!!\n-----END OPENSSH PRIVATE KEY-----\n"
            .to_owned(),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
            .to_owned(),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_owned(),
        // Truncated real key.
        fixture("rsa2048.pkcs1")
            .lines()
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
            + "\n-----END RSA PRIVATE KEY-----\n",
    ];
    for case in cases {
        let err = parse(&case).map(|_| ()).unwrap_err();
        assert!(matches!(err, KeyError::Malformed(_)), "{case:?}: {err:?}");
    }
}

#[test]
fn dsa_and_putty_are_unsupported_with_advice() {
    let dsa = "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n";
    assert!(matches!(parse(dsa), Err(KeyError::Unsupported(m)) if m.contains("DSA")));
    let ppk = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n";
    assert!(matches!(parse(ppk), Err(KeyError::Unsupported(m)) if m.contains("puttygen")));
}

#[test]
fn a_bad_key_in_a_record_is_exit_2_naming_the_field_and_no_key_material() {
    let text = fixture("enc.pkcs1");
    let location = Location::Record {
        title: "alice".into(),
        uid: "u1".into(),
    };
    let err = parse_field(&Secret::new(text.clone()), "privatePEMKey", &location).unwrap_err();
    assert_eq!(err.exit().code(), 2);
    let message = err.to_string();
    assert!(
        message.contains("privatePEMKey") && message.contains("uid u1"),
        "{message}"
    );
    for line in text.lines().skip(3).filter(|l| l.len() > 20).take(3) {
        assert!(!message.contains(line));
    }
}

#[test]
fn private_key_type_field_accepts_the_documented_names_in_any_case() {
    assert_eq!(
        KeyType::from_field("ssh-rsa"),
        Some(KeyType::Rsa { bits: 4096 })
    );
    assert_eq!(KeyType::from_field("ECDSA-SHA2-NISTP256"), Some(P256));
    assert_eq!(KeyType::from_field(" ecdsa-sha2-nistp384 "), Some(P384));
    assert_eq!(KeyType::from_field("ecdsa-sha2-nistp521"), Some(P521));
    assert_eq!(KeyType::from_field("ssh-ed25519"), Some(KeyType::Ed25519));
    assert_eq!(KeyType::from_field("SSH-ED2551"), Some(KeyType::Ed25519));
    assert_eq!(KeyType::from_field("ssh-dss"), None);
    assert_eq!(KeyType::from_field("rsa"), None);
}

#[test]
fn the_new_type_is_the_field_else_the_old_key_with_rsa_at_least_2048() {
    assert_eq!(new_key_type(Some(P384), None), Some(P384));
    assert_eq!(new_key_type(Some(P384), Some("")), Some(P384));
    assert_eq!(
        new_key_type(Some(P384), Some("ssh-ed25519")),
        Some(KeyType::Ed25519)
    );
    assert_eq!(
        new_key_type(Some(KeyType::Rsa { bits: 3072 }), None),
        Some(KeyType::Rsa { bits: 3072 })
    );
    assert_eq!(
        new_key_type(Some(KeyType::Rsa { bits: 1024 }), None),
        Some(KeyType::Rsa { bits: 2048 })
    );
    assert_eq!(new_key_type(None, None), None);
    assert_eq!(new_key_type(None, Some("nonsense")), None);
}

#[test]
fn families_hold_only_their_algorithms_and_fall_back_to_pkcs8() {
    let rsa = KeyType::Rsa { bits: 2048 };
    assert!(
        Family::Pkcs1.holds(rsa)
            && !Family::Pkcs1.holds(P256)
            && !Family::Pkcs1.holds(KeyType::Ed25519)
    );
    assert!(
        Family::Sec1.holds(P521)
            && !Family::Sec1.holds(rsa)
            && !Family::Sec1.holds(KeyType::Ed25519)
    );
    for kind in [rsa, P256, KeyType::Ed25519] {
        assert!(Family::OpenSsh.holds(kind) && Family::Pkcs8.holds(kind));
    }
    assert_eq!(Family::Pkcs1.for_type(KeyType::Ed25519), Family::Pkcs8);
    assert_eq!(Family::Sec1.for_type(rsa), Family::Pkcs8);
    assert_eq!(Family::Sec1.for_type(P384), Family::Sec1);
    assert!(encode(&generate(KeyType::Ed25519, "t").unwrap(), Family::Pkcs1).is_err());
}

/// Generates a key of `kind`, writes it in `family`, reads it back, and
/// checks the text's shape and that the public key survived.
fn round_trip(kind: KeyType, family: Family) -> (Secret, String) {
    let key = generate(kind, "keeper-security-alice").unwrap();
    assert_eq!(KeyType::of(&key), Some(kind));
    let text = encode(&key, family).unwrap();
    let pem = text.expose();
    assert!(
        pem.starts_with(&format!("-----BEGIN {}-----\n", family.label())),
        "{family}"
    );
    assert!(
        pem.ends_with(&format!("-----END {}-----\n", family.label())),
        "{family}"
    );
    assert!(!pem.contains('\r') && !pem.contains("ENCRYPTED"));
    let back = parse(pem).unwrap_or_else(|e| panic!("{kind} as {family}: {e}"));
    assert_eq!(back.family, family);
    assert_eq!(back.kind(), Some(kind));
    let line = public_line(key.public_key(), "keeper-security-alice").unwrap();
    assert!(line.ends_with(" keeper-security-alice"));
    assert_eq!(blob(&back.public_line().unwrap()), blob(&line));
    (text, line)
}

/// When ssh-keygen is installed, it must read the written key and derive
/// the same public key: the families are what other tools expect, not just
/// what this module reads.
fn ssh_keygen_agrees(text: &Secret, line: &str) {
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        return;
    }
    let dir = tempfile_dir();
    let path = dir.join("key");
    std::fs::write(&path, text.expose()).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&path, perms).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-y", "-P", "", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(blob(&String::from_utf8_lossy(&out.stdout)), blob(line));
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "keys-test-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fastrand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ (n << 48)
}

#[test]
fn ed25519_round_trips_in_openssh_and_pkcs8() {
    let (text, line) = round_trip(KeyType::Ed25519, Family::OpenSsh);
    ssh_keygen_agrees(&text, &line);
    // OpenSSH 9.2's ssh-keygen cannot read PKCS#8 Ed25519; only our parser checks it.
    round_trip(KeyType::Ed25519, Family::Pkcs8);
}

#[test]
fn ecdsa_round_trips_in_openssh_sec1_and_pkcs8_on_every_curve() {
    for kind in [P256, P384, P521] {
        for family in [Family::OpenSsh, Family::Sec1, Family::Pkcs8] {
            let (text, line) = round_trip(kind, family);
            ssh_keygen_agrees(&text, &line);
        }
    }
}

#[test]
fn rsa_round_trips_in_openssh_pkcs1_and_pkcs8() {
    for family in [Family::OpenSsh, Family::Pkcs1, Family::Pkcs8] {
        let (text, line) = round_trip(KeyType::Rsa { bits: 2048 }, family);
        ssh_keygen_agrees(&text, &line);
    }
}

#[test]
fn rsa_4096_from_the_type_field_is_4096_bits() {
    let key = generate(KeyType::from_field("ssh-rsa").unwrap(), "c").unwrap();
    assert_eq!(KeyType::of(&key), Some(KeyType::Rsa { bits: 4096 }));
}

#[test]
fn a_written_key_and_its_lines_are_registered_with_the_redactor() {
    let key = generate(P256, "c").unwrap();
    let text = encode(&key, Family::Sec1).unwrap();
    let line = text.expose().lines().nth(1).unwrap().to_owned();
    let redacted = common::secret::redact(&format!("x {line} y"));
    assert!(!redacted.contains(&line), "{redacted}");
    assert_eq!(format!("{text:?}"), "Secret([redacted])");
}

#[test]
fn the_fingerprint_is_ssh_keygens() {
    let parsed = parse(&fixture("ed25519.openssh")).unwrap();
    let fp = fingerprint(parsed.key.public_key());
    assert!(fp.starts_with("SHA256:") && fp.len() == 50, "{fp}");
    if let Ok(out) = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures/keys/ed25519.openssh.pub"),
        )
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&fp), "{text} vs {fp}");
    }
}

#[test]
fn a_key_that_cannot_be_made_in_half_the_time_left_is_an_error_naming_the_fix() {
    use common::deadline::Deadline;
    // No time left: even the fastest RSA key is not made in it.
    let err = generate_within(
        KeyType::Rsa { bits: 4096 },
        "c",
        Deadline::after(std::time::Duration::ZERO),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("took longer than half the time left"), "{err}");
    assert!(err.contains(TYPE_FIELD), "{err}");
    // With time, the same call makes the key.
    let key = generate_within(
        KeyType::Ed25519,
        "c",
        Deadline::after(std::time::Duration::from_secs(10)),
    )
    .unwrap();
    assert_eq!(key.comment().to_string(), "c");
}
