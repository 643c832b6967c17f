//! rotate-ssh-user against the harness's fake SSH server
//! (`harness::fakes::ssh`): what a real OpenSSH cannot be made to do on cue
//! (a host key that changed, sudo wanting a password or a terminal, a
//! password stack refusing, an expired password, a connection lost right
//! after the new password was sent, a server that offers only
//! keyboard-interactive), and on any machine, root or not.
//!
//! The fake emulates the binary's constant scripts, recognised by markers
//! in their text; the first test fails as soon as a script's text is not
//! the one the emulation was reviewed against, so the fake cannot silently
//! fall behind the binary.
//!
//! The verdicts come from the fake machine's state (its shadow entry, its
//! `authorized_keys`, what it accepts) and the fake vault's records, never
//! from the binary's words. Every run is leak-scanned, and every command
//! line the fake received is checked for every secret of the scenario.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture or server"
)]

use harness::fakes::ssh::{FakeSsh, Methods, Refusal, Script, Sudo};
use harness::sshd::User;
use harness::{FakeVault, Outcome, Run, Scenario};
use rotate_ssh_user::{keys, remote};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BIN: harness::Binary = harness::binary!("rotate-ssh-user");

// The values the fixtures (fixtures/scenarios/ssh-user/*.json) hold.
const USER_UID: &str = "SshUserRecordUid000001";
const ROOT_PW: &str = "R00t-Secret-pw-1";
const ADMIN_PW: &str = "Adm1n-Secret-pw-1";
const OLD_PW: &str = "Alice-Old-pw-42";
const NEW_PW: &str = "Alice-New-pw-77!";
const TAG: &str = "keeper-security-alice";
/// Another record holding the user's key (see `World::holder`).
const HOLDER_UID: &str = "SshKeyHolderRecord0001";

// ------------------------------------------------------- the fake follows

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
    let source = include_str!("../src/remote.rs");
    assert_eq!(
        source.matches("script!(").count(),
        SCRIPTS.len(),
        "remote.rs has a script this test does not list: add it to SCRIPTS here, and teach \
         harness::fakes::ssh::shell to recognise and emulate it"
    );
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

// ------------------------------------------------------------- the world

fn alice() -> User {
    User::new("alice").password(OLD_PW)
}

/// A machine whose admin is root.
fn root_machine() -> FakeSsh {
    FakeSsh::start()
        .user(User::new("root").password(ROOT_PW))
        .user(alice())
}

/// A machine whose admin is ops, with these sudo rights.
fn sudo_machine(sudo: Sudo) -> FakeSsh {
    FakeSsh::start()
        .user(User::new("ops").password(ADMIN_PW))
        .sudo("ops", sudo)
        .user(alice())
}

/// The lines of a private key worth scanning for, and the key itself.
fn key_lines(private: &str) -> Vec<String> {
    let mut lines: Vec<String> = private
        .lines()
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    lines.push(private.to_owned());
    lines
}

/// The vault's records (`fixtures/vault/ssh`) with the user record holding
/// `private`.
fn vault_records(private: &str) -> Vec<Value> {
    let path = harness::inputs::scenario::fixtures_dir().join("vault/ssh/records.json");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "\"${PRIVATE_KEY}\"",
        &Value::String(private.into()).to_string(),
    );
    serde_json::from_str(&text).unwrap()
}

/// One fake machine, the Gateway's input for it, and the vault when the
/// key is rotated.
struct World {
    fake: FakeSsh,
    scenario: Scenario,
    vault: Option<FakeVault>,
    secrets: Vec<String>,
}

impl World {
    /// `fixture` (`root-admin.json`, `sudo-admin.json`, `self.json`)
    /// pointed at the fake and pinned to its host key.
    fn new(fake: FakeSsh, fixture: &str) -> Self {
        let scenario = Scenario::load(&format!("scenarios/ssh-user/{fixture}"))
            .var("PORT", fake.port().to_string())
            .var("HOST_KEY", fake.host_key_line());
        Self {
            fake,
            scenario,
            vault: None,
            secrets: vec![
                ROOT_PW.into(),
                ADMIN_PW.into(),
                OLD_PW.into(),
                NEW_PW.into(),
            ],
        }
    }

    /// The user record holds `private` (in the input and in the vault).
    fn key(mut self, private: &str) -> Self {
        self.scenario = self
            .scenario
            .record_field(USER_UID, "privatePEMKey", json!(private));
        self.secrets.extend(key_lines(private));
        self.vault = Some(FakeVault::start(&vault_records(private)));
        self
    }

    /// Another record holding `private` for `login`: sent in the input,
    /// and in the vault when `shared` (shared with the Gateway's
    /// application). Call after [`World::key`].
    fn holder(self, title: &str, login: &str, private: &str, shared: bool) -> Self {
        self.holder_seen_as(title, login, private, shared.then_some(private))
    }

    /// A holder record whose copy in the input holds `in_input` and whose
    /// copy in the vault (when shared with the Gateway) holds `in_vault`.
    fn holder_seen_as(
        mut self,
        title: &str,
        login: &str,
        in_input: &str,
        in_vault: Option<&str>,
    ) -> Self {
        let private = in_input;
        self.scenario = self.scenario.record(json!({
            "uid": HOLDER_UID, "title": title, "login": login, "privatePEMKey": private
        }));
        if let Some(private) = in_vault {
            let mut records = vault_records(in_input);
            records.push(json!({
                "uid": HOLDER_UID, "type": "pamUser", "title": title,
                "fields": [
                    {"type": "login", "value": [login]},
                    {"type": "secret", "label": "privatePEMKey", "value": [private]}
                ],
                "custom": []
            }));
            self.vault = Some(FakeVault::start(&records));
        }
        // The root record stays the admin among two candidates.
        self.scenario =
            self.scenario
                .record_field(USER_UID, "ssh_admin_record_title", json!("web-1 root"));
        self
    }

    /// A field of the holder record (see [`World::holder`]).
    fn holder_field(mut self, label: &str, value: Value) -> Self {
        self.scenario = self.scenario.record_field(HOLDER_UID, label, value);
        self
    }

    fn machine_field(mut self, label: &str, value: Value) -> Self {
        self.scenario = self
            .scenario
            .record_field("SshMachineRecordUid001", label, value);
        self
    }

    /// Runs the binary; panics on a leak in its output, and on any secret
    /// (the new key's too) in a command line the machine received.
    fn run(&self, args: &[&str]) -> Outcome {
        let mut run = Run::new(BIN).scenario(&self.scenario);
        for arg in args {
            run = run.arg(*arg);
        }
        if let Some(vault) = &self.vault {
            for (key, value) in vault.env() {
                run = run.env(&key, value);
            }
        }
        let mut secrets = self.secrets.clone();
        for secret in &secrets {
            run = run.secret(secret.clone());
        }
        let out = run.run();
        secrets.extend(
            self.stored_key()
                .as_deref()
                .map(key_lines)
                .unwrap_or_default(),
        );
        assert_eq!(out.find_leak(&secrets), None, "{}", out.output());
        for received in self.fake.commands() {
            for secret in &secrets {
                assert!(
                    !received.holds(secret),
                    "a command line held a secret: {}",
                    received.line.len()
                );
            }
        }
        out
    }

    /// The private key the vault's user record holds now.
    fn stored_key(&self) -> Option<String> {
        self.vault
            .as_ref()
            .and_then(|v| v.field(USER_UID, "privatePEMKey"))
            .filter(|k| !k.is_empty())
    }

    /// alice's password is `expected` (and so not the other one).
    fn assert_password(&self, expected: &str) {
        let which = if expected == NEW_PW { "new" } else { "old" };
        assert!(
            self.fake.password_is("alice", expected),
            "alice's password should be the {which} one"
        );
    }

    fn calls(&self) -> Vec<String> {
        self.fake.calls().into_iter().map(|c| c.call).collect()
    }
}

// ------------------------------------------------------------ host keys

#[test]
fn an_unpinned_host_is_refused_with_its_key_printed_and_nothing_sent() {
    let w = World::new(root_machine(), "root-admin.json").machine_field("SSH Host Key", json!(""));
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&w.fake.host_key_line())
        .assert_stderr_has(&w.fake.host_key_fingerprint())
        .assert_stderr_has(&format!("ssh-keyscan -p {} 127.0.0.1", w.fake.port()));
    assert_eq!(w.calls(), Vec::<String>::new(), "not even a login");
    w.assert_password(OLD_PW);
}

#[test]
fn a_host_key_that_changed_is_refused_before_any_login() {
    let w = World::new(root_machine(), "root-admin.json");
    w.fake.change_host_key();
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("host key changed: possible man-in-the-middle")
        .assert_stderr_has(&w.fake.host_key_fingerprint());
    assert_eq!(w.calls(), Vec::<String>::new(), "not even a login");
    w.assert_password(OLD_PW);
}

// ---------------------------------------------------------------- sudo

#[test]
fn a_nopasswd_sudo_is_never_sent_the_admins_password() {
    let w = World::new(sudo_machine(Sudo::no_password()), "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    let calls = w.calls();
    assert!(calls.contains(&"sudo-chpasswd".to_owned()), "{calls:?}");
    assert!(!calls.contains(&"sudo-a-chpasswd".to_owned()), "{calls:?}");
}

#[test]
fn sudo_asking_for_a_password_gets_it_on_stdin_after_the_preflight_said_so() {
    let w = World::new(sudo_machine(Sudo::with_password()), "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -A chpasswd (the admin's password through an askpass helper)");
    w.assert_password(NEW_PW);
    let calls = w.calls();
    let preflight = calls.iter().position(|c| c == "sudo-preflight").unwrap();
    let change = calls.iter().position(|c| c == "sudo-a-chpasswd").unwrap();
    assert!(preflight < change, "{calls:?}");
}

#[test]
fn sudo_requiring_a_terminal_gets_the_change_under_one() {
    let w = World::new(
        sudo_machine(Sudo::no_password().requiretty()),
        "sudo-admin.json",
    );
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -n chpasswd under a terminal (requiretty)");
    w.assert_password(NEW_PW);
    let change = w
        .fake
        .commands()
        .into_iter()
        .find(|c| Script::classify(&c.line) == Some(Script::TtySudoChpasswd))
        .unwrap();
    assert!(change.pty, "sent under a terminal");
}

#[test]
fn an_admin_sudo_does_not_let_run_chpasswd_is_a_configuration_error_exit_2() {
    let w = World::new(sudo_machine(Sudo::default()), "sudo-admin.json");
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("sudo does not let it run chpasswd");
    w.assert_password(OLD_PW);
}

// ------------------------------------------------------ password refusals

#[test]
fn a_bad_password_refusal_exits_1_and_keeps_the_old_password() {
    let w = World::new(
        root_machine().refuse_passwords(Refusal::BadPassword),
        "root-admin.json",
    );
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("BAD PASSWORD");
    w.assert_password(OLD_PW);
}

#[test]
fn a_minimum_password_age_stops_self_rotation_exit_1() {
    let fake = FakeSsh::start().user(alice().min_days(7));
    let w = World::new(fake, "self.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("You must wait longer");
    w.assert_password(OLD_PW);
}

#[test]
fn an_expired_admin_password_stops_the_run_before_anything_is_sent_exit_1() {
    let fake = FakeSsh::start()
        .user(User::new("ops").password(ADMIN_PW).expired())
        .sudo("ops", Sudo::no_password())
        .user(alice());
    let w = World::new(fake, "sudo-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the password of 'ops' has expired");
    assert_eq!(w.calls(), ["auth-password", "home-of"]);
    w.assert_password(OLD_PW);
}

// ------------------------------------------------- connections lost

#[test]
fn chpasswd_cut_off_after_applying_is_settled_by_roots_shadow_entry_exit_0() {
    let fake = root_machine();
    harness::Armable::arm(
        &fake,
        "root-chpasswd",
        1,
        harness::FaultKind::DropAfterApply,
    )
    .unwrap();
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the user's shadow entry shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn chpasswd_cut_off_before_applying_is_settled_by_roots_shadow_entry_exit_1() {
    let fake = root_machine();
    harness::Armable::arm(
        &fake,
        "root-chpasswd",
        1,
        harness::FaultKind::DropBeforeApply,
    )
    .unwrap();
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("shadow entry is unchanged, so the password is still the old one");
    w.assert_password(OLD_PW);
}

#[test]
fn sudo_chpasswd_cut_off_after_applying_is_settled_by_a_login_with_the_new_password() {
    let fake = sudo_machine(Sudo::no_password());
    harness::Armable::arm(
        &fake,
        "sudo-chpasswd",
        1,
        harness::FaultKind::DropAfterApply,
    )
    .unwrap();
    let w = World::new(fake, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("a login with the new password shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn a_server_slower_than_the_deadline_stops_the_run_before_the_password_is_sent_exit_1() {
    let w = World::new(root_machine(), "root-admin.json");
    w.fake.slow(std::time::Duration::from_millis(1500));
    w.run(&["--timeout", "3"])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the deadline passed");
    assert!(!w.calls().contains(&"root-chpasswd".to_owned()));
    w.assert_password(OLD_PW);
}

// --------------------------------------------------- login methods

#[test]
fn a_server_offering_only_keyboard_interactive_takes_the_password_there() {
    let fake = root_machine().methods(Methods {
        password: false,
        publickey: true,
        keyboard_interactive: true,
    });
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("verified by a login");
    w.assert_password(NEW_PW);
    assert!(w.calls().contains(&"auth-keyboard-interactive".to_owned()));
}

#[test]
fn a_server_without_password_logins_refuses_a_password_admin_exit_1_naming_what_it_offers() {
    let fake = root_machine().methods(Methods {
        password: false,
        publickey: true,
        keyboard_interactive: false,
    });
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the server refused the credential for 'root' (it offers: publickey)");
    w.assert_password(OLD_PW);
}

// ------------------------------------------------------------- the key

#[test]
fn a_second_rotation_replaces_the_tagged_line_and_keeps_every_other_line_byte_for_byte() {
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let laptop = include_str!("../../../fixtures/keys/ecdsa256.openssh.pub").trim();
    let before = format!(
        "# managed by hand\r\ncommand=\"/bin/true\",no-pty {laptop}\r\n{old_public} {TAG}\r\n"
    );
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);

    let stored = keys::parse(&w.stored_key().unwrap()).unwrap();
    assert!(w.fake.accepts_key("alice", stored.key.public_key()));
    let retired = keys::parse(old).unwrap();
    assert!(!w.fake.accepts_key("alice", retired.key.public_key()));
    let after = w.fake.authorized_keys("alice").unwrap();
    let kept: Vec<&str> = before.split_inclusive('\n').take(2).collect();
    assert_eq!(
        after.split_inclusive('\n').take(2).collect::<Vec<_>>(),
        kept
    );
    assert!(after.contains(TAG));
    let backups = w.fake.paths_under("/home/alice/.ssh");
    assert!(
        backups.iter().any(|p| p.ends_with(".bak")),
        "a backup is kept: {backups:?}"
    );
}

#[test]
fn another_record_holding_the_users_key_for_the_same_login_gets_the_new_key_before_the_old_is_removed()
 {
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
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
        w.vault
            .as_ref()
            .unwrap()
            .field(HOLDER_UID, "privatePEMKey")
            .as_deref()
            .map(str::trim),
        Some(stored.trim()),
        "the other record holding alice's key holds the new one"
    );
    let retired = keys::parse(old).unwrap();
    assert!(!w.fake.accepts_key("alice", retired.key.public_key()));
}

#[test]
fn a_record_holding_the_users_key_that_cannot_be_given_the_new_one_keeps_the_old_key_and_exits_3() {
    // The holder is in the input but not shared with the Gateway's
    // application: it cannot be updated, so the old key stays authorized.
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
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
        w.fake.accepts_key("alice", retired.key.public_key()),
        "the old key still logs in for the record that holds it"
    );
    let stored = keys::parse(&w.stored_key().unwrap()).unwrap();
    assert!(w.fake.accepts_key("alice", stored.key.public_key()));
    w.assert_password(OLD_PW);
}

#[test]
fn a_record_holding_the_users_key_in_another_format_gets_the_new_key_before_the_old_is_removed() {
    // The same ECDSA key, as OpenSSH in the user record and as PKCS#8 in
    // the other: the other record is found by the key, not by its text.
    let old = include_str!("../../../fixtures/keys/ecdsa256.openssh");
    let parsed = keys::parse(old).unwrap();
    let pkcs8 = keys::encode(&parsed.key, keys::Family::Pkcs8).unwrap();
    let pkcs8 = pkcs8.expose().to_owned();
    assert!(pkcs8.contains("BEGIN PRIVATE KEY"));
    let old_public = parsed.public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let mut w = World::new(fake, "root-admin.json").key(old).holder(
        "alice deploy key",
        "alice",
        &pkcs8,
        true,
    );
    w.secrets.extend(key_lines(&pkcs8));
    w.run(&[]).assert_exit(0).assert_clean();
    let stored = w.stored_key().unwrap();
    assert_eq!(
        w.vault
            .as_ref()
            .unwrap()
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
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = root_machine().user(alice().authorized_keys(&format!("{old_public} {TAG}\n")));
    let w = World::new(fake, "root-admin.json")
        .key(old)
        .holder("bob's key", "bob", old, true);
    w.run(&[]).assert_exit(0).assert_clean();
    assert_eq!(
        w.vault
            .as_ref()
            .unwrap()
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
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
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
        w.vault
            .as_ref()
            .unwrap()
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
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
    let other = include_str!("../../../fixtures/keys/ecdsa256.openssh");
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
    assert!(w.fake.accepts_key("alice", retired.key.public_key()));
}

#[test]
fn a_key_pair_record_holding_the_users_key_keeps_the_old_key_and_exits_3() {
    // Keeper's "SSH Key" records hold the key in a key pair object, which a
    // text field write cannot reach: the old key stays authorized.
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
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
        w.fake.accepts_key("alice", retired.key.public_key()),
        "the old key still logs in for the record that holds it"
    );
    let stored = keys::parse(&w.stored_key().unwrap()).unwrap();
    assert!(w.fake.accepts_key("alice", stored.key.public_key()));
}

#[test]
fn two_rotations_one_after_the_other_each_keep_the_file_as_it_was_before_them() {
    // Fast enough to fall in the same second, where one timestamp named both
    // runs' backups and the second run kept none of its own.
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let before = format!("{old_public} {TAG}\n# kept\n");
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[]).assert_exit(0).assert_clean();
    let between = w.fake.authorized_keys("alice").unwrap();
    w.run(&[]).assert_exit(0).assert_clean();
    let mut backups: Vec<String> = w
        .fake
        .paths_under("/home/alice/.ssh")
        .into_iter()
        .filter(|p| p.ends_with(".bak"))
        .collect();
    backups.sort();
    let contents: Vec<Option<String>> = backups.iter().map(|b| w.fake.file(b)).collect();
    assert_eq!(
        contents,
        [Some(before), Some(between)],
        "one backup per run, each the file before that run: {backups:?}"
    );
}

#[test]
fn a_rotations_one_backup_is_the_file_as_it_was_before_the_run() {
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let before = format!("{old_public} {TAG}\n# kept");
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[]).assert_exit(0).assert_clean();
    let backups: Vec<String> = w
        .fake
        .paths_under("/home/alice/.ssh")
        .into_iter()
        .filter(|p| p.ends_with(".bak"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(
        w.fake.file(&backups[0]),
        Some(before),
        "the backup holds the pre-run file, not the one with both keys"
    );
}

#[test]
fn sudo_whose_pam_grants_without_asking_gets_no_admin_password_in_any_commands_input() {
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
    let old_public = keys::parse(old).unwrap().public_line().unwrap();
    let fake = sudo_machine(Sudo::with_password().pam_grants_without_asking())
        .user(alice().authorized_keys(&format!("{old_public} laptop\n")));
    let w = World::new(fake, "sudo-admin.json").key(old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -A chpasswd (the admin's password through an askpass helper)");
    w.assert_password(NEW_PW);
    assert!(w.fake.password_is("ops", ADMIN_PW));
    let keys = w.fake.authorized_keys("alice").unwrap();
    assert!(!keys.contains(ADMIN_PW), "{keys}");
    let calls = w.calls();
    assert!(calls.contains(&"as-owner-askpass".to_owned()), "{calls:?}");
}

// ------------------------------------------------ a cut is not a refusal

#[test]
fn a_login_whose_connection_is_cut_is_an_error_not_a_refusal() {
    use common::deadline::Deadline;
    use common::secret::Secret;
    use rotate_ssh_user::ssh::{self, Credential, HostKeyPins, SshError};
    use rotate_ssh_user::target::HostPort;

    let fake = root_machine();
    harness::Armable::arm(
        &fake,
        "auth-password",
        1,
        harness::FaultKind::DropBeforeApply,
    )
    .unwrap();
    let endpoint = HostPort {
        host: "127.0.0.1".into(),
        port: fake.port(),
    };
    let pins = HostKeyPins::parse(&fake.host_key_line()).unwrap();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(ssh::probe(
            &endpoint,
            &pins,
            "alice",
            &Credential::Password(Secret::new(OLD_PW)),
            Deadline::after(std::time::Duration::from_secs(20)),
        ));
    assert!(
        matches!(result, Err(SshError::Lost { .. })),
        "a cut connection is not a refused password: {result:?}"
    );
}

#[test]
fn a_verification_login_cut_off_after_chpasswd_succeeded_is_not_taken_for_a_refusal_exit_0() {
    let fake = root_machine();
    // 1 root logs in, 2 the new password's check after chpasswd (planning
    // asked for alice's methods with `none`, not with a password).
    harness::Armable::arm(
        &fake,
        "auth-password",
        2,
        harness::FaultKind::DropBeforeApply,
    )
    .unwrap();
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the check login failed");
    w.assert_password(NEW_PW);
}

#[test]
fn planning_tries_no_password_for_the_user_so_a_stale_record_costs_no_failed_login_exit_0() {
    // The record's oldPassword is out of date: the machine has another.
    let fake = FakeSsh::start()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("alice").password("Alice-Changed-by-hand-7"));
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("verified by a login");
    w.assert_password(NEW_PW);
    let alice: Vec<(String, Option<u32>)> = w
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.user == "alice" && c.call.starts_with("auth-"))
        .map(|c| (c.call, c.status))
        .collect();
    assert_eq!(
        alice,
        vec![("auth-password".to_owned(), Some(0))],
        "alice's only login is the new password's check, accepted"
    );
}

#[test]
fn a_key_too_large_to_make_in_half_the_time_left_changes_nothing_and_clears_the_lease_exit_1() {
    // RSA-16384: making one takes minutes (ssh-keygen: 90 s), far more than
    // half of a six-second run.
    let old = include_str!("../../../fixtures/keys/rsa16384.openssh");
    let public = include_str!("../../../fixtures/keys/rsa16384.openssh.pub").trim();
    let before = format!("{public} laptop\n");
    let fake = root_machine().user(alice().authorized_keys(&before));
    let w = World::new(fake, "root-admin.json").key(old);
    let out = w.run(&["--timeout", "6"]);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("took longer than half the time left")
        .assert_stderr_has("Private Key Type");
    assert!(
        out.elapsed < std::time::Duration::from_secs(6),
        "the run kept its deadline: {:?}",
        out.elapsed
    );
    assert_eq!(w.fake.authorized_keys("alice").unwrap(), before);
    assert_eq!(w.stored_key().unwrap(), old);
    assert_eq!(
        w.vault.as_ref().unwrap().field(USER_UID, "rotation_lease"),
        Some(String::new()),
        "the lease is cleared"
    );
    w.assert_password(OLD_PW);
}

#[test]
fn a_home_directory_that_is_not_one_absolute_path_stops_the_run_before_any_write_exit_1() {
    let old = include_str!("../../../fixtures/keys/ed25519.openssh");
    let fake = root_machine();
    // A wrapper prints a banner in place of getent's answer.
    harness::Armable::arm(&fake, "home-of", 1, harness::FaultKind::Garbled2xx).unwrap();
    let w = World::new(fake, "root-admin.json").key(old);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is not one absolute path");
    assert!(
        !w.calls().contains(&"write-keys".to_owned()),
        "{:?}",
        w.calls()
    );
    w.assert_password(OLD_PW);
}

// --------------------------------------- the rehearsal's verdict can fail

/// The ssh-user rehearsal world (as `harness demo ssh-user` starts it), and
/// a session on its fake machine as the fixture's admin, with the client
/// the binary uses.
fn rehearsal_session() -> (
    harness::rehearsal::World,
    tokio::runtime::Runtime,
    rotate_ssh_user::ssh::Session,
) {
    use common::deadline::Deadline;
    use common::secret::Secret;
    use rotate_ssh_user::ssh::{self, Credential, HostKeyPins};
    use rotate_ssh_user::target::HostPort;

    let case = harness::rehearsal::use_case("ssh-user").unwrap();
    let world =
        harness::rehearsal::World::start(&harness::rehearsal::Rehearsal::fixture(case).unwrap())
            .unwrap();
    let machine = world
        .dicts()
        .iter()
        .find(|d| d.contains_key("pamHostname"))
        .unwrap()
        .clone();
    let endpoint = HostPort {
        host: "127.0.0.1".into(),
        port: machine["pamHostname"]["port"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    };
    let pins = HostKeyPins::parse(machine["SSH Host Key"].as_str().unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let session = runtime.block_on(async {
        let mut session = ssh::connect(
            &endpoint,
            &pins,
            Deadline::after(std::time::Duration::from_secs(20)),
        )
        .await
        .unwrap();
        session
            .login(
                "ec2-user",
                &Credential::Password(Secret::new("Ec2-Admin-Secret-pw-1")),
            )
            .await
            .unwrap();
        session
    });
    (world, runtime, session)
}

fn exited_1() -> Outcome {
    Outcome {
        code: Some(1),
        stdout: "rotate-ssh-user: exit 1 (failed, nothing changed)\n".into(),
        stderr: String::new(),
        elapsed: std::time::Duration::ZERO,
    }
}

#[test]
fn the_rehearsal_rejects_a_run_that_put_a_secret_in_a_command_line() {
    let (world, runtime, session) = rehearsal_session();
    assert_eq!(world.verdict(&exited_1(), false), Ok(()), "as seeded");
    let new_password = world.param("newPassword");
    runtime
        .block_on(session.exec(remote::HOME_OF, &[&new_password], b"", false))
        .unwrap();
    let why = world.verdict(&exited_1(), false).unwrap_err();
    assert!(why.contains("held a secret"), "{why}");
}

#[test]
fn the_rehearsal_rejects_a_key_nobody_holds_that_the_output_does_not_name() {
    let (world, runtime, session) = rehearsal_session();
    let at = remote::KeysPath {
        owner: remote::Owner::Sudo,
        user: "alice",
        path: "/home/alice/.ssh/authorized_keys",
        admin_password: None,
    };
    let stranger = include_str!("../../../fixtures/keys/ecdsa384.openssh.pub");
    runtime.block_on(async {
        let read = remote::read_keys(&session, &at).await.unwrap();
        let content = format!("{}{stranger}", read.content());
        remote::write_keys(
            &session,
            &at,
            &read,
            &content,
            "20260101T000000Z",
            "a stranger",
        )
        .await
        .unwrap();
    });
    let why = world.verdict(&exited_1(), false).unwrap_err();
    assert!(why.contains("a key the vault does not hold"), "{why}");
}
