//! A run killed (SIGKILL) at each step of the replacement sequence, then a
//! fresh run once the killed run's lease has expired: the end state is a
//! completed rotation, or exit 3 or 4 naming what is left; never a live key
//! that the record does not hold and no output names. The verdict is read
//! from the fakes (IAM's keys, the vault's record), never from the binary's
//! own words.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::{Duration, SystemTime};

use harness::faults::Armable;
use harness::{FakeAws, FakeVault, Outcome, Scenario, TestWorld};

const BIN: harness::Binary = harness::binary!("rotate-aws-access-key");
const USER_UID: &str = "PamUserUid000000000001";
const ADMIN_ID: &str = "AKIAADMINKEY00000001";
const ADMIN_SECRET: &str = "admin-secret-access-key-000000000000001";
const STORED_ID: &str = "AKIAEXISTING00000001";
const STORED_SECRET: &str = "existing-secret-access-key-0000000001";
const SPARE_ID: &str = "AKIASPAREKEY00000002";
const SPARE_SECRET: &str = "spare-secret-access-key-00000000000002";

type World = TestWorld<FakeAws>;

/// IAM user alice with the key the record stores, in use by its consumers
/// (used an hour ago: within the "used recently" window); with `spare`, a
/// second, Inactive key, so the run makes room first.
fn world(spare: bool) -> World {
    let hour_ago = common::time::iso8601(SystemTime::now() - Duration::from_secs(3600));
    let mut aws = FakeAws::start()
        .with_admin(ADMIN_ID, ADMIN_SECRET)
        .with_user("alice")
        .with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some(hour_ago.as_str()),
        );
    if spare {
        aws = aws.with_key("alice", SPARE_ID, SPARE_SECRET, false, None);
    }
    TestWorld::new(BIN)
        .vault(FakeVault::from_fixture("vault/aws/records.json"))
        .service(aws)
        .records(Scenario::load("scenarios/aws-access-key/admin-record.json"))
        .secrets([ADMIN_SECRET, STORED_SECRET, SPARE_SECRET])
}

fn key_ids(w: &World) -> Vec<String> {
    w.fake().keys("alice").into_iter().map(|k| k.id).collect()
}

fn stored_id(w: &World) -> String {
    w.fake_vault().field(USER_UID, "aws_access_key_id").unwrap()
}

/// Where the first run dies: the nth call to IAM/STS or to the vault, whose
/// request is served (a change is applied) and whose answer is held.
#[derive(Clone, Copy)]
enum At {
    Aws(&'static str, usize),
    Vault(&'static str, usize),
}

/// The nth GetCallerIdentity that checks the new key: the first one after
/// the create, counted in a clean run.
fn first_probe() -> usize {
    let clean = world(false);
    clean.run().assert_exit(0);
    let calls = clean.fake().proxy().call_sequence();
    let create = calls.iter().position(|c| c == "CreateAccessKey").unwrap();
    calls[..create]
        .iter()
        .filter(|c| *c == "GetCallerIdentity")
        .count()
        + 1
}

/// Kills a run at `at`, expires its lease, runs again and checks the end
/// state. Returns the fresh run's outcome.
fn killed_at_then_run_again(w: &World, at: At) -> Outcome {
    let gate = match at {
        At::Aws(call, nth) => w.fake().proxy().hold(call, nth),
        At::Vault(endpoint, nth) => w.fake_vault().hold(endpoint, nth),
    };
    let reached = || match at {
        At::Aws(call, nth) => w.fake().proxy().wait_for(call, nth),
        At::Vault(endpoint, nth) => w.fake_vault().wait_for(endpoint, nth),
    };
    let again = w.killed_then_run_again(USER_UID, reached, || drop(gate));
    let code = again.code.unwrap();
    // The vault holds a key IAM accepts, with its secret.
    let stored = stored_id(w);
    let key = w
        .fake()
        .keys("alice")
        .into_iter()
        .find(|k| k.id == stored)
        .unwrap_or_else(|| panic!("the record holds {stored}, which IAM no longer has"));
    assert_eq!(
        w.fake_vault()
            .field(USER_UID, "aws_secret_access_key")
            .as_deref(),
        Some(key.secret.as_str())
    );
    // Every other live key is left only with a word saying so.
    for id in key_ids(w).into_iter().filter(|id| *id != stored) {
        assert!(
            code != 0 && again.output().contains(&id),
            "key {id} is live, the record does not hold it and the run (exit {code}) does not \
             name it\n{}",
            again.output()
        );
    }
    again
}

#[test]
fn a_run_killed_while_verifying_its_stored_key_is_completed_by_the_next_run() {
    let probe = first_probe();
    let w = world(false);
    let out = killed_at_then_run_again(&w, At::Aws("GetCallerIdentity", probe));
    out.assert_exit(0)
        .assert_stderr_has("recorded an unfinished rotation")
        .assert_stderr_has(&format!("revoking access key {STORED_ID} to make room"));
    assert_eq!(key_ids(&w), [stored_id(&w)]);
    assert_ne!(stored_id(&w), STORED_ID);
}

#[test]
fn a_run_killed_in_its_create_is_completed_by_the_next_run() {
    let w = world(false);
    killed_at_then_run_again(&w, At::Aws("CreateAccessKey", 1)).assert_exit(0);
}

#[test]
fn a_run_killed_in_the_save_of_its_new_key_is_completed_by_the_next_run() {
    let w = world(false);
    // update_secret #1 takes the lease; #2 stores the new key (applied).
    killed_at_then_run_again(&w, At::Vault("update_secret", 2)).assert_exit(0);
}

#[test]
fn a_run_killed_while_deleting_the_old_key_is_completed_by_the_next_run() {
    let w = world(false);
    killed_at_then_run_again(&w, At::Aws("DeleteAccessKey", 1)).assert_exit(0);
}

#[test]
fn a_run_killed_while_confirming_is_completed_by_the_next_run() {
    let w = world(false);
    // ListAccessKeys #1 plans; the confirmation lists again.
    killed_at_then_run_again(&w, At::Aws("ListAccessKeys", 2)).assert_exit(0);
}

#[test]
fn a_run_killed_in_its_last_save_is_completed_by_the_next_run() {
    let w = world(false);
    killed_at_then_run_again(&w, At::Vault("update_secret", 3)).assert_exit(0);
}

#[test]
fn a_run_killed_while_making_room_is_completed_by_the_next_run() {
    let w = world(true);
    killed_at_then_run_again(&w, At::Aws("DeleteAccessKey", 1)).assert_exit(0);
}

#[test]
fn a_recently_used_key_outside_the_interrupted_plan_is_still_never_deleted_to_make_room() {
    // The record holds the key an interrupted run stored, but the key that
    // run meant to delete is another: the second key, used an hour ago,
    // may be another consumer's.
    let w = world(false);
    let hour_ago = common::time::iso8601(SystemTime::now() - Duration::from_secs(3600));
    let w = w.map_service(|aws| {
        aws.with_key(
            "alice",
            SPARE_ID,
            SPARE_SECRET,
            true,
            Some(hour_ago.as_str()),
        )
    });
    w.fake_vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!(
            "00112233aabbccdd until 2020-01-01T00:00:00Z (host gw, pid 1); stored {STORED_ID}; \
             to retire: AKIASOMEOTHERKEY0003"
        ),
    );
    let out = w.run();
    out.assert_exit(2)
        .assert_stderr_has(&format!("the other key, {SPARE_ID}, was used on"));
    assert_eq!(key_ids(&w).len(), 2);
}

#[test]
fn a_key_an_interrupted_run_stored_that_does_not_work_keeps_both_keys_and_exits_4() {
    let w = world(false);
    let w = w.map_service(|aws| aws.with_key("alice", SPARE_ID, SPARE_SECRET, true, None));
    // The record holds the key the interrupted run stored, with a secret IAM
    // does not accept for it.
    w.fake_vault()
        .set_custom_field(USER_UID, "aws_access_key_id", SPARE_ID);
    w.fake_vault().set_custom_field(
        USER_UID,
        "aws_secret_access_key",
        "not-the-secret-of-the-spare-key-000000",
    );
    w.fake_vault()
        .set_custom_field(USER_UID, "verify_timeout_seconds", "2");
    w.fake_vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("released by 00112233aabbccdd at 2020-01-01T00:00:00Z; stored {SPARE_ID}; to retire: {STORED_ID}"),
    );
    let out = w.run();
    out.assert_exit(4)
        .assert_stderr_has(&format!("meant to delete {STORED_ID}"))
        .assert_stderr_has("both keys are still valid");
    assert_eq!(key_ids(&w).len(), 2);
    assert!(
        w.fake()
            .calls()
            .iter()
            .all(|c| c.action != "DeleteAccessKey" && c.action != "CreateAccessKey")
    );
}

// --- the lease's clock ------------------------------------------------------

#[test]
fn a_lease_edited_to_a_far_future_time_is_no_lease_and_is_taken_over_with_a_warning() {
    let w = world(false);
    w.fake_vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        "0123456789abcdef until 2099-01-01T00:00:00Z (host gw-2, pid 42)",
    );
    w.run()
        .assert_exit(0)
        .assert_stderr_has("ends further ahead than any run can last");
    assert_eq!(key_ids(&w), [stored_id(&w)]);
    assert_eq!(
        w.fake_vault().field(USER_UID, "rotation_lease").as_deref(),
        Some("")
    );
}

#[test]
fn a_lease_of_a_gateway_whose_clock_is_90_seconds_behind_is_not_taken_over() {
    let w = world(false);
    // By its own clock the other run has half a minute left.
    let until = common::time::iso8601(SystemTime::now() - Duration::from_secs(90));
    w.fake_vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    w.run()
        .assert_exit(1)
        .assert_stderr_has("is in progress")
        .assert_stderr_has("300 s after its time");
    assert_eq!(key_ids(&w), [STORED_ID]);
}

#[test]
fn a_run_that_exits_3_leaves_its_plan_in_the_record_and_the_next_run_completes_it() {
    let w = world(false);
    let w = w.map_service(|aws| aws.new_keys_work_after(Duration::from_secs(4)));
    // The first run gives up on its new key after 1 s: stored, old kept.
    w.fake_vault()
        .set_custom_field(USER_UID, "verify_timeout_seconds", "1");
    w.run().assert_exit(3);
    let first = stored_id(&w);
    assert_ne!(first, STORED_ID);
    let lease = w.fake_vault().field(USER_UID, "rotation_lease").unwrap();
    assert!(
        lease.starts_with("released by ")
            && lease.ends_with(&format!("; stored {first}; to retire: {STORED_ID}")),
        "{lease}"
    );
    // Later, with time enough to verify: the old key, still used by the
    // consumers that had not re-read the record, goes, and the rotation
    // completes.
    std::thread::sleep(Duration::from_secs(4));
    w.fake_vault()
        .set_custom_field(USER_UID, "verify_timeout_seconds", "30");
    w.run()
        .assert_exit(0)
        .assert_stderr_has("did not finish: still to retire");
    assert_eq!(key_ids(&w), [stored_id(&w)]);
    assert_eq!(
        w.fake_vault().field(USER_UID, "rotation_lease").as_deref(),
        Some("")
    );
}

#[test]
fn a_dry_run_on_an_interrupted_rotation_describes_completing_it() {
    let w = world(false);
    let w = w.map_service(|aws| aws.with_key("alice", SPARE_ID, SPARE_SECRET, true, None));
    w.fake_vault()
        .set_custom_field(USER_UID, "aws_access_key_id", SPARE_ID);
    w.fake_vault()
        .set_custom_field(USER_UID, "aws_secret_access_key", SPARE_SECRET);
    w.fake_vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!(
            "released by 00112233aabbccdd at 2020-01-01T00:00:00Z; stored {SPARE_ID}; to \
             retire: {STORED_ID}"
        ),
    );
    let revision = w.fake_vault().revision(USER_UID);
    let out = w.run_with_args(&["--dry-run"]);
    out.assert_exit(0).assert_stdout_has(&format!(
        "delete {STORED_ID} first (an interrupted rotation"
    ));
    assert_eq!(key_ids(&w).len(), 2);
    assert_eq!(w.fake_vault().revision(USER_UID), revision, "nothing saved");
}
