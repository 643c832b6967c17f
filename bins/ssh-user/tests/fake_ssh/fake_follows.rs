//! The fake follows the binary: it emulates exactly the scripts the binary sends.

use super::*;

/// Every constant script of `rotate_ssh_user::remote`, by name.
const SCRIPTS: [(&str, &str); 18] = [
    ("ROOT_CHPASSWD", remote::ROOT_CHPASSWD),
    ("SUDO_PREFLIGHT", remote::SUDO_PREFLIGHT),
    ("SUDO_CHPASSWD", remote::SUDO_CHPASSWD),
    ("SUDO_A_CHPASSWD", remote::SUDO_A_CHPASSWD),
    ("TTY_SUDO_CHPASSWD", remote::TTY_SUDO_CHPASSWD),
    ("TTY_SUDO_A_CHPASSWD", remote::TTY_SUDO_A_CHPASSWD),
    ("SELF_PASSWD", remote::SELF_PASSWD),
    ("SSHD_T", remote::SSHD_T),
    ("SSHD_T_CLIENT", remote::SSHD_T_CLIENT),
    ("SHADOW_DIGEST", remote::SHADOW_DIGEST),
    ("HOME_OF", remote::HOME_OF),
    ("AS_OWNER", remote::AS_OWNER),
    ("AS_OWNER_ASKPASS", remote::AS_OWNER_ASKPASS),
    ("READ_KEYS", remote::READ_KEYS),
    ("LOCK", remote::LOCK),
    ("CHECK_PASSWORD", remote::CHECK_PASSWORD),
    ("SUDO_CHPASSWD_NO_INPUT", remote::SUDO_CHPASSWD_NO_INPUT),
    ("WRITE_KEYS", remote::WRITE_KEYS),
];

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_fake_emulates_exactly_the_scripts_the_binary_sends() {
    let source = include_str!("../../src/remote/scripts.rs");
    assert_eq!(
        source.matches("script!(").count(),
        SCRIPTS.len(),
        "remote/scripts.rs has a script this test does not list: add it to SCRIPTS here, and teach \
         harness::fakes::ssh::shell to recognise and emulate it"
    );
    // The scripts live in scripts.rs only: a script written in another room
    // of remote/ would escape the count above.
    for (file, source) in [
        ("mod.rs", include_str!("../../src/remote/mod.rs")),
        ("keys.rs", include_str!("../../src/remote/keys.rs")),
        ("sudo.rs", include_str!("../../src/remote/sudo.rs")),
        ("stdin.rs", include_str!("../../src/remote/stdin.rs")),
        ("sshd_t.rs", include_str!("../../src/remote/sshd_t.rs")),
    ] {
        assert!(
            !source.contains("script!("),
            "remote/{file} writes a script: scripts live in remote/scripts.rs, where this test \
             counts them"
        );
    }
    let mut problems = Vec::new();
    for (name, text) in SCRIPTS {
        match Script::classify(text) {
            Some(script) if script.constant() == name => {
                let digest = sha256_hex(text);
                if digest != script.reviewed() {
                    problems.push(format!(
                        "{name} changed since harness::fakes::ssh emulated it: review its \
                         emulation in harness/src/fakes/ssh/shell.rs against the new text, then \
                         set Script::{script:?}.reviewed() to \"{digest}\""
                    ));
                }
            }
            other => problems.push(format!(
                "{name} is recognised by the fake as {other:?}: fix the markers in \
                 harness/src/fakes/ssh/shell.rs"
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
