//! A key rotation killed (SIGKILL) at each step of the replacement
//! sequence, then a fresh run once the killed run's lease has expired, on
//! the fake SSH machine and the fake vault: the end state is a completed
//! rotation, or exit 3 or 4 naming what is left; never an authorized key
//! that the record does not hold, that was not there before, and that no
//! output names. The verdict is read from the machine's authorized_keys and
//! the vault's record.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture or server"
)]

use std::time::Duration;

use harness::fakes::ssh::FakeSsh;
use harness::faults::{Armable, FaultKind};
use harness::sshd::User;
use harness::world::private_key_lines as key_lines;
use harness::{FakeVault, Outcome, Scenario, TestWorld};
use rotate_ssh_user::keys;
use serde_json::{Value, json};

const BIN: harness::Binary = harness::binary!("rotate-ssh-user");
const USER_UID: &str = "SshUserRecordUid000001";
const ROOT_PW: &str = "R00t-Secret-pw-1";
const OLD_PW: &str = "Alice-Old-pw-42";
const NEW_PW: &str = "Alice-New-pw-77!";
const TAG: &str = "keeper-security-alice";
const OLD_KEY: &str = include_str!("../../../fixtures/keys/ed25519.openssh");

fn public_of(private: &str) -> String {
    keys::parse(private).unwrap().public_line().unwrap()
}

/// alice's record holds OLD_KEY, whose line in her authorized_keys is the
/// rotators' (tagged): a rotation replaces it.
type World = TestWorld<FakeSsh>;

fn world() -> World {
    let fake = FakeSsh::start()
        .user(User::new("root").password(ROOT_PW))
        .user(
            User::new("alice")
                .password(OLD_PW)
                .authorized_keys(&format!("{} {TAG}\n", public_of(OLD_KEY))),
        );
    let scenario = Scenario::load("scenarios/ssh-user/root-admin.json")
        .var("PORT", fake.port().to_string())
        .var("HOST_KEY", fake.host_key_line())
        .record_field(USER_UID, "privatePEMKey", json!(OLD_KEY));
    let path = harness::inputs::scenario::fixtures_dir().join("vault/ssh/records.json");
    let text = std::fs::read_to_string(path).unwrap().replace(
        "\"${PRIVATE_KEY}\"",
        &Value::String(OLD_KEY.into()).to_string(),
    );
    let vault = FakeVault::start(&serde_json::from_str::<Vec<Value>>(&text).unwrap());
    // The key the vault holds after a run is a secret of the world too: the
    // world scans the user record's privatePEMKey as it is after each run.
    TestWorld::new(BIN)
        .vault(vault)
        .service(fake)
        .records(scenario)
        .secrets([ROOT_PW, OLD_PW, NEW_PW])
        .secrets(key_lines(OLD_KEY))
}

fn stored_key(w: &World) -> Option<String> {
    w.fake_vault()
        .field(USER_UID, "privatePEMKey")
        .filter(|k| !k.is_empty())
}

/// Where the first run dies.
#[derive(Clone, Copy)]
enum At {
    /// The nth command or login of this kind on the machine: it is carried
    /// out, and its answer held.
    Machine(&'static str, usize),
    /// The nth request to this vault endpoint: served, its answer held.
    Vault(&'static str, usize),
}

fn killed_at_then_run_again(w: &World, at: At) -> Outcome {
    let gate = match at {
        At::Machine(call, nth) => {
            w.fake().set_hold(Duration::from_secs(60));
            w.fake()
                .arm(call, nth, FaultKind::TimeoutAfterApply)
                .unwrap();
            None
        }
        At::Vault(endpoint, nth) => Some(w.fake_vault().hold(endpoint, nth)),
    };
    let reached = || match at {
        At::Machine(call, nth) => assert!(
            w.fake().wait_for_within(call, nth, Duration::from_secs(60)),
            "{call} #{nth} never came"
        ),
        At::Vault(endpoint, nth) => w.fake_vault().wait_for(endpoint, nth),
    };
    let release = || {
        drop(gate);
        w.fake().set_hold(Duration::ZERO);
    };
    let again = w.killed_then_run_again(USER_UID, reached, release);
    let code = again.code.unwrap();
    // The vault's key is authorized; every other authorized key is left
    // only with a word saying so.
    let stored = public_of(&stored_key(w).unwrap());
    let lines = w.fake().authorized_keys("alice").unwrap();
    let blob = |line: &str| {
        line.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        lines.lines().any(|l| blob(l) == blob(&stored)),
        "the vault's key is not authorized:\n{lines}"
    );
    for line in lines.lines().filter(|l| blob(l) != blob(&stored)) {
        let fingerprint = rotate_ssh_user::key_rotation::blob_fingerprint(&blob(line)).unwrap();
        assert!(
            code != 0 && again.output().contains(&fingerprint),
            "key {fingerprint} is authorized, the record does not hold it and the run (exit \
             {code}) does not name it\n{}",
            again.output()
        );
    }
    again
}

#[test]
fn a_run_killed_after_adding_its_key_is_completed_by_the_next_run() {
    let w = world();
    killed_at_then_run_again(&w, At::Machine("write-keys", 1)).assert_exit(0);
}

#[test]
fn a_run_killed_while_checking_its_new_key_is_completed_by_the_next_run() {
    let w = world();
    killed_at_then_run_again(&w, At::Machine("auth-publickey", 1)).assert_exit(0);
}

#[test]
fn a_run_killed_in_the_save_of_its_new_key_is_completed_by_the_next_run() {
    let w = world();
    // update_secret #1 takes the lease; #2 stores the new key (applied).
    killed_at_then_run_again(&w, At::Vault("update_secret", 2)).assert_exit(0);
}

#[test]
fn a_run_killed_while_removing_the_old_key_is_completed_by_the_next_run() {
    let w = world();
    killed_at_then_run_again(&w, At::Machine("write-keys", 2)).assert_exit(0);
}

#[test]
fn a_run_killed_while_checking_the_old_key_is_refused_is_completed_by_the_next_run() {
    let w = world();
    killed_at_then_run_again(&w, At::Machine("auth-publickey", 2)).assert_exit(0);
}
