//! rotate-ssh-user end to end: the real binary, fed the Gateway's line,
//! against a real OpenSSH server in a private mount namespace
//! (`harness::sshd`, root only) and the fake Keeper vault (through the
//! unmodified KSM SDK). Each test is one scenario; where the machine cannot
//! run sshd, the test prints one `skipped: …` line and passes (under CI it
//! fails instead: see `harness::sshd`).
//!
//! The verdict is taken from the machine and the vault, never from what the
//! binary says about itself: the namespace's shadow entry and
//! `authorized_keys`, logins with the old and new credentials, and the
//! records the fake vault holds. Every run is scanned for every secret of
//! the scenario, the private keys' lines included, and, after the run, for
//! the new key the vault holds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture or server"
)]

use std::sync::Arc;
use std::time::Duration;

use common::deadline::Deadline;
use common::secret::Secret;
use harness::sshd::{ChpasswdFault, Setup, Sshd, SudoPam, User};
use harness::world::private_key_lines as key_lines;
use harness::{FakeVault, Outcome, Run, Scenario};
use rotate_ssh_user::keys;
use rotate_ssh_user::ssh::{self, Credential, HostKeyPins};
use rotate_ssh_user::target::HostPort;
use serde_json::{Value, json};

mod key_rotation;
mod password_outcomes;
mod password_paths;
mod pinning;
mod sudo_pam;
mod whole_runs;

const BIN: harness::Binary = harness::binary!("rotate-ssh-user");

// The values the fixtures (fixtures/scenarios/ssh-user/*.json) hold.
const USER_UID: &str = "SshUserRecordUid000001";
const MACHINE_UID: &str = "SshMachineRecordUid001";
const ROOT_PW: &str = "R00t-Secret-pw-1";
const ADMIN_PW: &str = "Adm1n-Secret-pw-1";
const OLD_PW: &str = "Alice-Old-pw-42";
const NEW_PW: &str = "Alice-New-pw-77!";
const TAG: &str = "keeper-security-alice";

/// A private key from `fixtures/keys/`.
fn fixture_key(name: &str) -> String {
    std::fs::read_to_string(
        harness::inputs::scenario::fixtures_dir()
            .join("keys")
            .join(name),
    )
    .unwrap()
}

/// `type base64` of a private key's public half.
fn public_of(private: &str) -> String {
    keys::parse(private).unwrap().public_line().unwrap()
}

fn fingerprint_of(private: &str) -> String {
    keys::fingerprint(keys::parse(private).unwrap().key.public_key())
}

fn root_admin() -> Setup {
    Setup::default().user(User::new("root").password(ROOT_PW))
}

fn sudo_admin(rule: &str) -> Setup {
    Setup::default()
        .user(User::new("ops").password(ADMIN_PW))
        .sudoers(rule)
}

fn alice() -> User {
    User::new("alice").password(OLD_PW)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// One machine, the Gateway's input for it, and the vault when the key is
/// rotated.
struct World {
    sshd: Sshd,
    scenario: Scenario,
    vault: Option<FakeVault>,
    secrets: Vec<String>,
}

impl World {
    /// `fixture` (`root-admin.json`, `sudo-admin.json`, `self.json`) pointed
    /// at this sshd and pinned to its host key.
    fn new(sshd: Sshd, fixture: &str) -> Self {
        let scenario = Scenario::load(&format!("scenarios/ssh-user/{fixture}"))
            .var("PORT", sshd.port().to_string())
            .var("HOST_KEY", sshd.host_key());
        Self {
            sshd,
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
        self.vault = Some(vault_with_key(private));
        self
    }

    /// The vault, for runs that need it without a key.
    fn vault(mut self) -> Self {
        self.vault = Some(vault_with_key(""));
        self
    }

    /// Sets a user record field, in the input and in the vault.
    fn user_field(mut self, label: &str, value: &str) -> Self {
        self.scenario = self.scenario.record_field(USER_UID, label, json!(value));
        if let Some(vault) = &self.vault {
            vault.set_custom_field(USER_UID, label, value);
        }
        self
    }

    fn machine_field(mut self, label: &str, value: Value) -> Self {
        self.scenario = self.scenario.record_field(MACHINE_UID, label, value);
        self
    }

    fn runner(&self, args: &[&str]) -> Run {
        self.runner_for(&self.scenario, args)
    }

    /// A run of another input against this world (a second Gateway run).
    fn runner_for(&self, scenario: &Scenario, args: &[&str]) -> Run {
        let mut run = Run::new(BIN).scenario(scenario);
        for arg in args {
            run = run.arg(*arg);
        }
        if let Some(vault) = &self.vault {
            for (key, value) in vault.env() {
                run = run.env(&key, value);
            }
        }
        for secret in &self.secrets {
            run = run.secret(secret.clone());
        }
        run
    }

    /// Runs the binary; the new key (if the vault holds one) is scanned for
    /// after the run.
    fn run(&self, args: &[&str]) -> Outcome {
        self.checked(self.runner(args).run())
    }

    fn checked(&self, out: Outcome) -> Outcome {
        if let Some(stored) = self.stored_key() {
            assert_eq!(out.find_leak(&key_lines(&stored)), None, "{}", out.output());
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

    fn logs_in(&self, user: &str, credential: Credential) -> bool {
        let endpoint = HostPort {
            host: "127.0.0.1".into(),
            port: self.sshd.port(),
        };
        let pins = HostKeyPins::parse(self.sshd.host_key()).unwrap();
        block_on(ssh::probe(
            &endpoint,
            &pins,
            user,
            &credential,
            Deadline::after(Duration::from_secs(20)),
        ))
        .unwrap()
    }

    fn password_works(&self, user: &str, password: &str) -> bool {
        self.logs_in(user, Credential::Password(Secret::new(password)))
    }

    fn key_works(&self, user: &str, private: &str) -> bool {
        let key = keys::parse(private).unwrap().key;
        self.logs_in(user, Credential::Key(Arc::new(key)))
    }

    /// Whether `user`'s shadow entry holds `password`: crypt(3) of the
    /// host's libcrypt, through perl, so no failed login (and its PAM delay)
    /// is needed to show a password is refused.
    fn shadow_holds(&self, user: &str, password: &str) -> bool {
        use std::io::Write;
        let hash = self.sshd.shadow_hash(user).unwrap();
        let mut perl = std::process::Command::new("perl")
            .args([
                "-e",
                "my $p = <STDIN>; chomp $p; exit(crypt($p, $ARGV[0]) eq $ARGV[0] ? 0 : 1)",
                &hash,
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(perl.stdin.take().unwrap(), "{password}").unwrap();
        perl.wait().unwrap().success()
    }

    /// alice's password is `expected` (so not the other one): her shadow
    /// entry holds it, and it logs in.
    fn assert_password(&self, expected: &str) {
        let which = if expected == NEW_PW { "new" } else { "old" };
        assert!(
            self.shadow_holds("alice", expected),
            "alice's shadow entry should hold the {which} password"
        );
        assert!(
            self.password_works("alice", expected),
            "the {which} password should log in"
        );
    }

    fn authorized_keys(&self) -> String {
        self.sshd.authorized_keys("alice").unwrap_or_default()
    }
}

fn vault_with_key(private: &str) -> FakeVault {
    let path = harness::inputs::scenario::fixtures_dir().join("vault/ssh/records.json");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace(
        "\"${PRIVATE_KEY}\"",
        &Value::String(private.into()).to_string(),
    );
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    FakeVault::start(&records)
}

/// A fresh Ed25519 key, as OpenSSH text.
fn new_ed25519() -> String {
    keys::encode(
        &keys::generate(keys::KeyType::Ed25519, "").unwrap(),
        keys::Family::OpenSsh,
    )
    .unwrap()
    .expose()
    .to_owned()
}

/// The lines of `text` holding a key with this public line's blob.
fn lines_with(text: &str, public: &str) -> Vec<String> {
    let blob = public.split_whitespace().nth(1).unwrap();
    text.lines()
        .filter(|l| l.split_whitespace().any(|w| w == blob))
        .map(str::to_owned)
        .collect()
}

const ADMIN_UID: &str = "SshAdminRecordUid00001";
/// An admin password shaped like a `user:password` line: handed to
/// chpasswd, it would reset the admin's own password to what follows the
/// colon, and chpasswd would still exit 0.
const COLON_ADMIN_PW: &str = "ops:Colon-Adm1n-9";

/// ops, whose password is `COLON_ADMIN_PW`, may run chpasswd through sudo
/// after a password, and sudo's PAM stack is `pam`.
fn sudo_admin_with_pam(rule: &str, pam: SudoPam) -> Setup {
    Setup::default()
        .user(User::new("ops").password(COLON_ADMIN_PW))
        .sudoers(rule)
        .sudo_pam(pam)
}

impl World {
    /// The admin record's password is `password`.
    fn admin_password(mut self, password: &str) -> Self {
        self.scenario = self
            .scenario
            .clone()
            .record_field(ADMIN_UID, "password", json!(password));
        self.secrets.push(password.into());
        self
    }

    /// The admin record also holds `private` (which logs in first).
    fn admin_key(mut self, private: &str) -> Self {
        self.scenario =
            self.scenario
                .clone()
                .record_field(ADMIN_UID, "privatePEMKey", json!(private));
        self.secrets.extend(key_lines(private));
        self
    }
}
