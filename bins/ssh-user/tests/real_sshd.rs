//! Acceptance tests of rotate-ssh-user's building blocks against a real
//! OpenSSH server (harness::sshd: a private mount namespace, as root). Each
//! test is one scenario; where the machine cannot run sshd the test prints
//! one `skipped: …` line and passes (under CI it fails instead: see
//! `harness::sshd`).
//!
//! Every secret a test uses is registered with the redactor (`Secret::new`),
//! so `ssh::Session::exec` refuses any command line holding one, and every
//! error and output a test sees is checked for leaks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly when the server or a fixture is broken"
)]

use std::sync::Arc;
use std::time::Duration;

use common::deadline::Deadline;
use common::secret::Secret;
use harness::sshd::{ChpasswdFault, Setup, Sshd, User};
use rotate_ssh_user::authorized_keys::{self, AuthorizedKeys, Edit};
use rotate_ssh_user::keys::{self, Family, KeyType};
use rotate_ssh_user::remote::{
    self, KeysError, KeysFile, KeysPath, Owner, PasswordPath, Problem, SudoAccess,
};
use rotate_ssh_user::ssh::{self, Auth, Credential, HostKeyPins, Output, Session, SshError};
use rotate_ssh_user::target::HostPort;

const ADMIN_PW: &str = "Adm1n-Secret-pw";
const OLD_PW: &str = "Alice-Old-pw-42";
const NEW_PW: &str = "Alice-New-pw-77!";
const ROOT_PW: &str = "R00t-Secret-pw";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn endpoint(sshd: &Sshd) -> HostPort {
    HostPort {
        host: "127.0.0.1".into(),
        port: sshd.port(),
    }
}

fn pins(sshd: &Sshd) -> HostKeyPins {
    HostKeyPins::parse(sshd.host_key()).expect("pin")
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn password(text: &str) -> Credential {
    Credential::Password(Secret::new(text))
}

/// Every secret of these tests; nothing a test prints or sees may hold one.
fn secrets() -> Vec<&'static str> {
    vec![ADMIN_PW, OLD_PW, NEW_PW, ROOT_PW]
}

fn assert_no_leak(text: &str) {
    for secret in secrets() {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}

async fn login(sshd: &Sshd, user: &str, credential: &Credential) -> Session {
    let mut session = ssh::connect(&endpoint(sshd), &pins(sshd), deadline())
        .await
        .expect("connect");
    session.login(user, credential).await.expect("login");
    session
}

fn can_login(sshd: &Sshd, user: &str, credential: &Credential) -> bool {
    block_on(ssh::probe(
        &endpoint(sshd),
        &pins(sshd),
        user,
        credential,
        deadline(),
    ))
    .expect("probe")
}

/// Runs a password change built by `remote::password_change`.
async fn change(
    session: &Session,
    path: PasswordPath,
    user: &str,
    hashed: Option<&Secret>,
    admin: Option<&Secret>,
    old: Option<&Secret>,
) -> Result<Output, SshError> {
    let new = Secret::new(NEW_PW);
    let change = remote::password_change(path, user, &new, hashed, admin, old).expect("change");
    session
        .exec(change.script, &change.args, &change.stdin, change.pty)
        .await
}

fn root_setup() -> Setup {
    Setup::default()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("alice").password(OLD_PW))
}

fn sudo_setup(rule: &str) -> Setup {
    Setup::default()
        .user(User::new("ops").password(ADMIN_PW))
        .user(User::new("alice").password(OLD_PW))
        .sudoers(rule)
}

// ---------------------------------------------------------------- pinning

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

// --------------------------------------------------------------- passwords

#[test]
fn root_changes_the_password_with_chpasswd_on_stdin() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let before = sshd.shadow_hash("alice").unwrap();
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap()
    });
    assert!(out.success(), "{out:?}");
    assert_ne!(sshd.shadow_hash("alice").unwrap(), before);
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
    assert!(!can_login(&sshd, "alice", &password(OLD_PW)));
}

#[test]
fn root_with_a_locally_hashed_password_uses_chpasswd_e() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let hashed = remote::sha512_crypt(&Secret::new(NEW_PW)).unwrap();
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(
            &session,
            PasswordPath::Root,
            "alice",
            Some(&hashed),
            None,
            None,
        )
        .await
        .unwrap()
    });
    assert!(out.success(), "{out:?}");
    assert_eq!(sshd.shadow_hash("alice").unwrap(), hashed.expose());
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn sudo_nopasswd_preflight_then_sudo_n_chpasswd() {
    let Some(sshd) = Sshd::start(&sudo_setup("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")) else {
        return;
    };
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let pre = session
            .exec(remote::SUDO_PREFLIGHT, &[], b"", false)
            .await
            .unwrap();
        assert_eq!(
            remote::classify_preflight(&pre),
            SudoAccess::NoPassword,
            "{pre:?}"
        );
        let path = PasswordPath::Sudo {
            password: false,
            tty: false,
        };
        let out = change(&session, path, "alice", None, None, None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
    });
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn sudo_with_a_password_preflight_then_sudo_s_with_the_admin_password_first() {
    let Some(sshd) = Sshd::start(&sudo_setup("ops ALL=(root) /usr/sbin/chpasswd")) else {
        return;
    };
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let pre = session
            .exec(remote::SUDO_PREFLIGHT, &[], b"", false)
            .await
            .unwrap();
        assert_eq!(
            remote::classify_preflight(&pre),
            SudoAccess::PasswordRequired,
            "{pre:?}"
        );
        let admin = Secret::new(ADMIN_PW);
        let path = PasswordPath::Sudo {
            password: true,
            tty: false,
        };
        let out = change(&session, path, "alice", None, Some(&admin), None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        assert_no_leak(&out.text());
    });
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn sudo_not_allowed_is_seen_by_the_preflight_and_nothing_changes() {
    let Some(sshd) = Sshd::start(&sudo_setup("ops ALL=(root) NOPASSWD: /usr/bin/true")) else {
        return;
    };
    let before = sshd.shadow_hash("alice");
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let pre = session
            .exec(remote::SUDO_PREFLIGHT, &[], b"", false)
            .await
            .unwrap();
        assert_eq!(
            remote::classify_preflight(&pre),
            SudoAccess::NotAllowed,
            "{pre:?}"
        );
    });
    assert_eq!(sshd.shadow_hash("alice"), before);
}

#[test]
fn requiretty_fails_without_a_terminal_and_works_under_a_pty_with_echo_off() {
    let setup = sudo_setup("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .sudoers("Defaults:ops requiretty");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    block_on(async {
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let plain = PasswordPath::Sudo {
            password: false,
            tty: false,
        };
        let out = change(&session, plain, "alice", None, None, None)
            .await
            .unwrap();
        assert!(!out.success());
        assert_eq!(
            remote::classify(&out.text()),
            Some(Problem::NeedsTty),
            "{out:?}"
        );
        let tty = PasswordPath::Sudo {
            password: false,
            tty: true,
        };
        let out = change(&session, tty, "alice", None, None, None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        assert_no_leak(&out.text());
    });
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn self_rotation_runs_passwd_with_old_new_new() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let out = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        let old = Secret::new(OLD_PW);
        change(
            &session,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await
        .unwrap()
    });
    assert!(out.success(), "{out:?}");
    assert_no_leak(&out.text());
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
}

#[test]
fn an_expired_password_blocks_self_rotation_with_a_clear_cause_but_not_root() {
    let setup = Setup::default()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("alice").password(OLD_PW).expired());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let result = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        let old = Secret::new(OLD_PW);
        change(
            &session,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await
    });
    let text = match &result {
        Ok(out) => {
            assert!(!out.success(), "{out:?}");
            out.text()
        }
        Err(e) => e.to_string(),
    };
    assert_eq!(remote::classify(&text), Some(Problem::Expired), "{text}");
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap()
    });
    assert!(out.success(), "{out:?}");
}

#[test]
fn a_pwquality_rejection_is_classified_and_changes_nothing() {
    let setup = root_setup().reject_passwords_with(
        "BAD PASSWORD: The password fails the dictionary check - it is based on a dictionary word",
    );
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let before = sshd.shadow_hash("alice");
    let out = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        let old = Secret::new(OLD_PW);
        change(
            &session,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await
        .unwrap()
    });
    assert!(!out.success(), "{out:?}");
    assert_eq!(
        remote::classify(&out.text()),
        Some(Problem::QualityRejected),
        "{out:?}"
    );
    assert!(remote::failure("changing the password", &out).contains("pwquality"));
    assert_eq!(sshd.shadow_hash("alice"), before);
}

#[test]
fn chpasswd_killed_after_applying_is_a_lost_channel_with_the_shadow_changed() {
    let Some(sshd) = Sshd::start(&root_setup().chpasswd(ChpasswdFault::ApplyThenKill)) else {
        return;
    };
    let before = sshd.shadow_hash("alice").unwrap();
    let result = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None).await
    });
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            SshError::Lost {
                stdin_sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("the change may have been applied"));
    assert_ne!(sshd.shadow_hash("alice").unwrap(), before);
    // Reconciliation probes new, then old: new works.
    assert!(can_login(&sshd, "alice", &password(NEW_PW)));
    assert!(!can_login(&sshd, "alice", &password(OLD_PW)));
}

#[test]
fn a_failing_chpasswd_is_an_exit_status_and_changes_nothing() {
    let Some(sshd) = Sshd::start(&root_setup().chpasswd(ChpasswdFault::Fail)) else {
        return;
    };
    let before = sshd.shadow_hash("alice");
    let out = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        change(&session, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap()
    });
    assert_eq!(out.status, Some(1));
    assert!(out.stderr.contains("injected failure"));
    assert_eq!(sshd.shadow_hash("alice"), before);
}

#[test]
fn a_slow_chpasswd_past_the_deadline_is_a_timeout_after_the_input_was_sent() {
    let Some(sshd) = Sshd::start(&root_setup().chpasswd(ChpasswdFault::Sleep(5))) else {
        return;
    };
    let err = block_on(async {
        let mut session = ssh::connect(
            &endpoint(&sshd),
            &pins(&sshd),
            Deadline::after(Duration::from_secs(2)),
        )
        .await
        .unwrap();
        session.login("root", &password(ROOT_PW)).await.unwrap();
        change(&session, PasswordPath::Root, "alice", None, None, None).await
    })
    .unwrap_err();
    assert_eq!(
        err,
        SshError::Timeout {
            stage: "running a remote command",
            stdin_sent: true
        }
    );
}

// ------------------------------------------------------------ authentication

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

// ---------------------------------------------------------- authorized_keys

const OPTIONS: &str = "from=\"127.0.0.1,::1\",command=\"/bin/echo 'a, b'\",no-pty";

fn keys_setup(user: User) -> Setup {
    Setup::default()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("ops").password(ADMIN_PW))
        .sudoers("ops ALL=(ALL) NOPASSWD: ALL")
        .user(user)
}

fn edit_and_write(
    sshd: &Sshd,
    admin: &str,
    admin_pw: &str,
    owner: Owner,
    user: &str,
) -> (KeysFile, String, Result<(), KeysError>) {
    let path = format!("/home/{user}/.ssh/authorized_keys");
    let new_key = keys::generate(KeyType::Ed25519, "").unwrap();
    let new_line = keys::public_line(new_key.public_key(), "").unwrap();
    block_on(async {
        let session = login(sshd, admin, &password(admin_pw)).await;
        let read = remote::read_keys(
            &session,
            &KeysPath {
                owner,
                user,
                path: &path,
                admin_password: None,
            },
        )
        .await
        .unwrap();
        let mut file = AuthorizedKeys::parse(read.content());
        let current = file.entries().next().map(|(_, e)| e.blob.clone());
        let edit = file.add_tagged(&new_line, user, current.as_deref());
        assert!(matches!(edit, Edit::Added { .. }), "{edit:?}");
        let written = remote::write_keys(
            &session,
            &KeysPath {
                owner,
                user,
                path: &path,
                admin_password: None,
            },
            &read,
            &file.render(),
            "20260101T000000Z",
            "writing authorized_keys (test)",
        )
        .await;
        (read, new_line, written)
    })
}

#[test]
fn root_edits_authorized_keys_as_the_owner_keeping_options_and_other_lines() {
    let original = format!(
        "# managed by hand\n\n{OPTIONS} {}  laptop\ncert-authority ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ca\nsk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIJjZ yubikey",
        keys::public_line(
            keys::generate(KeyType::Ed25519, "").unwrap().public_key(),
            ""
        )
        .unwrap()
    );
    let Some(sshd) = Sshd::start(&keys_setup(User::new("alice").authorized_keys(&original))) else {
        return;
    };
    let (read, new_line, written) = edit_and_write(&sshd, "root", ROOT_PW, Owner::Root, "alice");
    written.unwrap();
    assert!(matches!(read, KeysFile::Present { .. }));
    let after = sshd.authorized_keys("alice").unwrap();
    let lines: Vec<&str> = after.lines().collect();
    let before: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), before.len() + 1);
    assert_eq!(lines[..3], before[..3]);
    assert_eq!(
        lines[3],
        format!("{OPTIONS} {new_line} {}", authorized_keys::tag("alice"))
    );
    assert_eq!(lines[4..], before[3..]);
    let (_, owner) = sshd.run_inside(
        None,
        "stat -c '%U %a' /home/alice/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(owner.trim(), "alice 600");
    let backups = std::fs::read_dir(sshd.home("alice").join(".ssh"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".bak")
        })
        .count();
    assert_eq!(backups, 1);
}

#[test]
fn a_missing_ssh_directory_is_created_700_by_the_owner_through_sudo() {
    let Some(sshd) = Sshd::start(&keys_setup(User::new("dave"))) else {
        return;
    };
    let (read, new_line, written) = edit_and_write(&sshd, "ops", ADMIN_PW, Owner::Sudo, "dave");
    written.unwrap();
    assert_eq!(read, KeysFile::Absent);
    assert_eq!(
        sshd.authorized_keys("dave").unwrap(),
        format!("{new_line} keeper-security-dave\n")
    );
    let (_, stat) = sshd.run_inside(
        None,
        "stat -c '%U %a' /home/dave/.ssh /home/dave/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(stat, "dave 700\ndave 600\n");
}

#[test]
fn a_symlinked_authorized_keys_is_refused() {
    let Some(sshd) = Sshd::start(&keys_setup(User::new("erin").authorized_keys(""))) else {
        return;
    };
    let (code, out) = sshd.run_inside(
        Some("erin"),
        "rm ~/.ssh/authorized_keys && ln -s /etc/passwd ~/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(code, 0, "{out}");
    let err = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        let at = KeysPath {
            owner: Owner::Root,
            user: "erin",
            path: "/home/erin/.ssh/authorized_keys",
            admin_password: None,
        };
        remote::read_keys(&session, &at).await
    })
    .unwrap_err();
    assert_eq!(err, KeysError::Symlink);
    assert!(err.to_string().contains("symlink"));
}

#[test]
fn a_change_between_read_and_write_is_detected_and_nothing_is_written() {
    let Some(sshd) = Sshd::start(&keys_setup(
        User::new("fred").authorized_keys("ssh-rsa AAAAB3NzaC1yc2E= first\n"),
    )) else {
        return;
    };
    let path = "/home/fred/.ssh/authorized_keys";
    let err = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        let read = remote::read_keys(
            &session,
            &KeysPath {
                owner: Owner::Root,
                user: "fred",
                path,
                admin_password: None,
            },
        )
        .await
        .unwrap();
        // Someone else edits the file in between.
        let (code, _) = sshd.run_inside(
            Some("fred"),
            "echo 'ssh-rsa AAAAB3NzaC1yc2E= concurrent' >> ~/.ssh/authorized_keys",
            b"",
        );
        assert_eq!(code, 0);
        remote::write_keys(
            &session,
            &KeysPath {
                owner: Owner::Root,
                user: "fred",
                path,
                admin_password: None,
            },
            &read,
            "ssh-ed25519 AAAA mine\n",
            "20260101T000000Z",
            "writing authorized_keys (test)",
        )
        .await
    })
    .unwrap_err();
    assert_eq!(err, KeysError::Changed);
    assert!(
        sshd.authorized_keys("fred")
            .unwrap()
            .ends_with("concurrent\n")
    );
}

#[test]
fn the_user_edits_their_own_authorized_keys_and_the_new_key_logs_in() {
    let old = keys::generate(KeyType::Ed25519, "").unwrap();
    let old_line = keys::public_line(old.public_key(), "old").unwrap();
    let Some(sshd) = Sshd::start(
        &root_setup().user(User::new("gina").authorized_keys(&format!("{old_line}\n"))),
    ) else {
        return;
    };
    let new = keys::generate(KeyType::Ecdsa(russh::keys::EcdsaCurve::NistP256), "").unwrap();
    let new_line = keys::public_line(new.public_key(), "").unwrap();
    let old_credential = Credential::Key(Arc::new(old));
    block_on(async {
        let session = login(&sshd, "gina", &old_credential).await;
        let path = "/home/gina/.ssh/authorized_keys";
        let read = remote::read_keys(
            &session,
            &KeysPath {
                owner: Owner::SelfUser,
                user: "gina",
                path,
                admin_password: None,
            },
        )
        .await
        .unwrap();
        let mut file = AuthorizedKeys::parse(read.content());
        file.add_tagged(&new_line, "gina", authorized_keys::blob_of(&old_line));
        remote::write_keys(
            &session,
            &KeysPath {
                owner: Owner::SelfUser,
                user: "gina",
                path,
                admin_password: None,
            },
            &read,
            &file.render(),
            "20260101T000000Z",
            "writing authorized_keys (test)",
        )
        .await
        .unwrap();
    });
    assert!(can_login(&sshd, "gina", &Credential::Key(Arc::new(new))));
    assert!(
        can_login(&sshd, "gina", &old_credential),
        "adding a line keeps the other lines"
    );
}

#[test]
fn sshd_t_as_root_names_both_key_files() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let keys = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        let out = session
            .exec(
                remote::SSHD_T,
                &["alice", "gateway", "127.0.0.1"],
                b"",
                false,
            )
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        remote::parse_sshd_t(&out.stdout, "alice", "/home/alice")
    });
    assert_eq!(
        keys.files,
        vec![
            "/home/alice/.ssh/authorized_keys",
            "/home/alice/.ssh/authorized_keys2"
        ]
    );
    assert_eq!(keys.command, None);
}

// ------------------------------------------------------------------ secrets

#[test]
fn a_command_line_holding_a_secret_is_refused_before_it_is_sent() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    // The Gateway's newPassword is a Secret, so it is registered.
    let _registered = Secret::new(NEW_PW);
    let err = block_on(async {
        let session = login(&sshd, "alice", &password(OLD_PW)).await;
        session.exec("echo \"$1\"", &[NEW_PW], b"", false).await
    })
    .unwrap_err();
    assert_eq!(err, SshError::SecretInCommandLine);
    assert!(ssh::command_log().iter().all(|l| !l.contains(NEW_PW)));
}

#[test]
fn no_secret_appears_in_any_command_line_sent_or_any_process_on_the_host() {
    let setup = sudo_setup("ops ALL=(root) /usr/sbin/chpasswd")
        .user(User::new("root").password(ROOT_PW))
        .chpasswd(ChpasswdFault::Sleep(1));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    // While chpasswd sleeps, snapshot every process's argv on the machine
    // (the namespace shares the PID namespace with the host).
    let snapshots = std::thread::spawn(|| {
        let mut seen = String::new();
        let until = std::time::Instant::now() + Duration::from_secs(6);
        while std::time::Instant::now() < until {
            if let Ok(out) = std::process::Command::new("ps")
                .args(["-eo", "args"])
                .output()
            {
                seen.push_str(&String::from_utf8_lossy(&out.stdout));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        seen
    });
    block_on(async {
        let admin = Secret::new(ADMIN_PW);
        let session = login(&sshd, "ops", &password(ADMIN_PW)).await;
        let path = PasswordPath::Sudo {
            password: true,
            tty: false,
        };
        let out = change(&session, path, "alice", None, Some(&admin), None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        let tty = PasswordPath::Sudo {
            password: true,
            tty: true,
        };
        let out = change(&session, tty, "alice", None, Some(&admin), None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        let root = login(&sshd, "root", &password(ROOT_PW)).await;
        let out = change(&root, PasswordPath::Root, "alice", None, None, None)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        let me = login(&sshd, "alice", &password(NEW_PW)).await;
        let old = Secret::new(NEW_PW);
        // passwd refuses an unchanged password; what matters is its argv.
        let _ = change(
            &me,
            PasswordPath::SelfPasswd,
            "alice",
            None,
            None,
            Some(&old),
        )
        .await;
    });
    let ps = snapshots.join().unwrap();
    assert!(
        ps.contains("chpasswd"),
        "the snapshots caught the change in flight:\n{ps}"
    );
    assert_no_leak(&ps);
    let log = ssh::command_log();
    assert!(log.len() >= 4, "{log:?}");
    for line in &log {
        assert!(line.starts_with("/bin/sh -c '"), "{line}");
        assert_no_leak(line);
    }
    assert_no_leak(&sshd.log());
}
