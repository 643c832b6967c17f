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
use harness::world::private_key_lines as key_lines;
use harness::{FakeVault, Outcome, Scenario, TestWorld};
use rotate_ssh_user::{keys, remote};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod connections_lost;
mod cut_not_refusal;
mod fake_follows;
mod host_keys;
mod login_methods;
mod password_refusals;
mod rehearsal_verdict;
mod sudo;
mod the_key;

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
struct World(TestWorld<FakeSsh>);

impl World {
    /// `fixture` (`root-admin.json`, `sudo-admin.json`, `self.json`)
    /// pointed at the fake and pinned to its host key.
    fn new(fake: FakeSsh, fixture: &str) -> Self {
        let scenario = Scenario::load(&format!("scenarios/ssh-user/{fixture}"))
            .var("PORT", fake.port().to_string())
            .var("HOST_KEY", fake.host_key_line());
        Self(
            TestWorld::new(BIN)
                .service(fake)
                .records(scenario)
                .secrets([ROOT_PW, ADMIN_PW, OLD_PW, NEW_PW]),
        )
    }

    /// The user record holds `private` (in the input and in the vault).
    fn key(self, private: &str) -> Self {
        Self(
            self.0
                .map_records(|s| s.record_field(USER_UID, "privatePEMKey", json!(private)))
                .secrets(key_lines(private))
                .vault(FakeVault::start(&vault_records(private))),
        )
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
        self,
        title: &str,
        login: &str,
        in_input: &str,
        in_vault: Option<&str>,
    ) -> Self {
        let private = in_input;
        let mut world = self.0.map_records(|s| {
            s.record(json!({
                "uid": HOLDER_UID, "title": title, "login": login, "privatePEMKey": private
            }))
            // The root record stays the admin among two candidates.
            .record_field(USER_UID, "ssh_admin_record_title", json!("web-1 root"))
        });
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
            world = world.vault(FakeVault::start(&records));
        }
        Self(world)
    }

    /// A field of the holder record (see [`World::holder`]).
    fn holder_field(self, label: &str, value: Value) -> Self {
        Self(
            self.0
                .map_records(|s| s.record_field(HOLDER_UID, label, value)),
        )
    }

    fn machine_field(self, label: &str, value: Value) -> Self {
        Self(
            self.0
                .map_records(|s| s.record_field("SshMachineRecordUid001", label, value)),
        )
    }

    /// More values no output may hold.
    fn secrets(self, secrets: Vec<String>) -> Self {
        Self(self.0.secrets(secrets))
    }

    fn fake(&self) -> &FakeSsh {
        self.0.fake()
    }

    fn vault(&self) -> &FakeVault {
        self.0.fake_vault()
    }

    /// Runs the binary; panics on a leak in its output (the world's scan),
    /// and on any secret (the new key's too) in a command line the machine
    /// received.
    fn run(&self, args: &[&str]) -> Outcome {
        let out = self.0.run_with_args(args);
        let secrets = self.0.all_secrets();
        for received in self.fake().commands() {
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
        if !self.0.has_vault() {
            return None;
        }
        self.vault()
            .field(USER_UID, "privatePEMKey")
            .filter(|k| !k.is_empty())
    }

    /// alice's password is `expected` (and so not the other one).
    fn assert_password(&self, expected: &str) {
        let which = if expected == NEW_PW { "new" } else { "old" };
        assert!(
            self.fake().password_is("alice", expected),
            "alice's password should be the {which} one"
        );
    }

    fn calls(&self) -> Vec<String> {
        self.fake().calls().into_iter().map(|c| c.call).collect()
    }
}
