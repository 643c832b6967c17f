//! A run killed (SIGKILL) at each step of the replacement sequence, then a
//! fresh run once the killed run's lease has expired: the end state is a
//! completed rotation, or exit 3 or 4 naming what is left; never a live
//! secret that the record does not hold and no output names. The verdict is
//! read from the fakes (the application's secrets, the vault's record),
//! never from the binary's own words.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::faults::Armable;
use harness::{FakeAzure, FakeVault, Outcome, Scenario, TestWorld};

const BIN: harness::Binary = harness::binary!("rotate-azure-app-secret");
const TENANT: &str = "72f988bf-0000-4000-8000-000000000001";
const ADMIN_APP: &str = "11111111-0000-4000-8000-00000000a001";
const ADMIN_OBJ: &str = "aaaaaaaa-0000-4000-8000-00000000a001";
const ADMIN_SECRET: &str = "admin~app~secret~value~0000000000000001";
const TARGET_APP: &str = "22222222-0000-4000-8000-00000000b001";
const TARGET_OBJ: &str = "bbbbbbbb-0000-4000-8000-00000000b001";
const USER_UID: &str = "AzureUserUid0000000001";

type World = TestWorld<FakeAzure>;

/// The admin app and the target app with the secret the record stores.
fn world() -> World {
    let azure = FakeAzure::start(TENANT)
        .with_app(ADMIN_OBJ, ADMIN_APP, "keeper-admin", true)
        .with_secret(
            ADMIN_APP,
            "admin-key-1",
            ADMIN_SECRET,
            "2026-06-01T00:00:00Z",
        )
        .with_app(TARGET_OBJ, TARGET_APP, "payroll-api", false)
        .with_secret(
            TARGET_APP,
            "old-key-2026",
            "target~old~secret~2026~0000000000000002",
            "2026-01-01T00:00:00Z",
        );
    TestWorld::new(BIN)
        .vault(FakeVault::from_fixture("vault/azure/records.json"))
        .service(azure)
        .records(Scenario::load(
            "scenarios/azure-app-secret/admin-record.json",
        ))
}

fn key_ids(w: &World) -> Vec<String> {
    w.fake()
        .secrets(TARGET_APP)
        .into_iter()
        .map(|s| s.key_id)
        .collect()
}

fn stored_id(w: &World) -> String {
    w.fake_vault().field(USER_UID, "client_secret_id").unwrap()
}

/// Where the first run dies: the nth call to Entra/Graph or to the vault,
/// whose request is served (a change is applied) and whose answer is held.
#[derive(Clone, Copy)]
enum At {
    Azure(&'static str, usize),
    Vault(&'static str, usize),
}

/// In a clean run: how many `call`s Entra/Graph received up to and
/// including the first one after the first `after`, or in all (`after`
/// `None`).
fn nth_in_a_clean_run(call: &str, after: Option<&str>) -> usize {
    let clean = world();
    clean.run().assert_exit(0);
    let calls = clean.fake().proxy().call_sequence();
    match after {
        None => calls.iter().filter(|c| *c == call).count(),
        Some(after) => {
            let at = calls.iter().position(|c| c == after).unwrap();
            calls[..at].iter().filter(|c| *c == call).count() + 1
        }
    }
}

/// Kills a run at `at`, expires its lease, runs again and checks the end
/// state. Returns the fresh run's outcome.
fn killed_at_then_run_again(w: &World, at: At) -> Outcome {
    let gate = match at {
        At::Azure(call, nth) => w.fake().proxy().hold(call, nth),
        At::Vault(endpoint, nth) => w.fake_vault().hold(endpoint, nth),
    };
    let reached = || match at {
        At::Azure(call, nth) => w.fake().proxy().wait_for(call, nth),
        At::Vault(endpoint, nth) => w.fake_vault().wait_for(endpoint, nth),
    };
    let again = w.killed_then_run_again(USER_UID, reached, || drop(gate));
    let code = again.code.unwrap();
    // The vault holds a secret Entra has, with its text.
    let stored = stored_id(w);
    let secret = w
        .fake()
        .secrets(TARGET_APP)
        .into_iter()
        .find(|s| s.key_id == stored)
        .unwrap_or_else(|| panic!("the record holds {stored}, which Entra no longer has"));
    assert_eq!(
        w.fake_vault().field(USER_UID, "client_secret").as_deref(),
        Some(secret.text.as_str())
    );
    // Every other live secret is left only with a word saying so.
    for id in key_ids(w).into_iter().filter(|id| *id != stored) {
        assert!(
            code != 0 && again.output().contains(&id),
            "secret {id} is live, the record does not hold it and the run (exit {code}) does \
             not name it\n{}",
            again.output()
        );
    }
    again
}

#[test]
fn a_run_killed_in_its_create_is_completed_by_the_next_run() {
    let w = world();
    killed_at_then_run_again(&w, At::Azure("addPassword", 1)).assert_exit(0);
}

#[test]
fn a_run_killed_in_the_save_of_its_new_secret_is_completed_by_the_next_run() {
    let w = world();
    // update_secret #1 takes the lease; #2 stores the new secret (applied).
    killed_at_then_run_again(&w, At::Vault("update_secret", 2)).assert_exit(0);
}

#[test]
fn a_run_killed_while_verifying_its_stored_secret_is_completed_by_the_next_run() {
    let probe = nth_in_a_clean_run("token", Some("addPassword"));
    let w = world();
    killed_at_then_run_again(&w, At::Azure("token", probe)).assert_exit(0);
}

#[test]
fn a_run_killed_while_removing_the_old_secret_is_completed_by_the_next_run() {
    let w = world();
    killed_at_then_run_again(&w, At::Azure("removePassword", 1)).assert_exit(0);
}

#[test]
fn a_run_killed_while_confirming_is_completed_by_the_next_run() {
    let last = nth_in_a_clean_run("get", None);
    let w = world();
    killed_at_then_run_again(&w, At::Azure("get", last)).assert_exit(0);
}

#[test]
fn a_run_killed_in_its_last_save_is_completed_by_the_next_run() {
    let saves = {
        let clean = world();
        clean.run().assert_exit(0);
        clean
            .fake_vault()
            .endpoints()
            .iter()
            .filter(|e| *e == "update_secret")
            .count()
    };
    let w = world();
    killed_at_then_run_again(&w, At::Vault("update_secret", saves)).assert_exit(0);
}
