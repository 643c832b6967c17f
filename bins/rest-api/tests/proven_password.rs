//! Issue 23, item 11: rotate-rest-api exits 0 only if the account holds
//! its `newPassword` at the end, as far as the service can tell. Two runs on
//! one account never overlap on one host (the gateway-host lock); with a
//! `verify_url` the new password is proven after the change, so a run whose
//! change was overtaken by another gateway's exits 4 and the Gateway does not
//! store its password.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::faults::{Armable, FaultKind};
use harness::runner::overlap;
use harness::{FakeRest, Outcome, Reply, Run, Scenario};
use serde_json::json;

const BIN: harness::Binary = harness::binary!("rotate-rest-api");
const TOKEN: &str = "api-token-0001-x7";
const API_RECORD: &str = "ApiRecordUid0000000001";
const ACCOUNT: &str = "alice@example.com";
const OLD: &str = "Old-Passw0rd-4f1c";
const NEW: &str = "New-Passw0rd-9d2e";
const NEW_A: &str = "New-Passw0rd-A-71c2";
const NEW_B: &str = "New-Passw0rd-B-03d9";
const CHANGE: &str = "POST /v1/password";

fn fake() -> FakeRest {
    FakeRest::start(TOKEN)
        .with_account(ACCOUNT, OLD)
        .verify_at("/v1/sign-in")
}

/// The default scenario setting `new`, with `fields` added to the API
/// record and the locks in `lock_dir` (one directory per gateway host).
fn run(fake: &FakeRest, new: &str, fields: &[(&str, &str)], lock_dir: &tempfile::TempDir) -> Run {
    let mut scenario = Scenario::load("scenarios/rest-api/default.json")
        .var("API_URL", fake.url("/v1/password"))
        .param("newPassword", json!(new));
    for (key, value) in fields {
        scenario = scenario.record_field(API_RECORD, key, json!(value));
    }
    Run::new(BIN).scenario(&scenario).env(
        "KEEPER_ROTATOR_LOCK_DIR",
        lock_dir.path().display().to_string(),
    )
}

fn rotate(fake: &FakeRest, fields: &[(&str, &str)]) -> Outcome {
    let lock_dir = tempfile::tempdir().unwrap();
    run(fake, NEW, fields, &lock_dir).run()
}

fn verify_url(fake: &FakeRest) -> String {
    fake.url("/v1/sign-in")
}

// --- proving the new password -----------------------------------------------

#[test]
fn verify_url_proves_the_new_password_after_the_change_without_the_api_token() {
    let fake = fake();
    let url = verify_url(&fake);
    rotate(&fake, &[("verify_url", &url)])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("; the new password verified: POST")
        .assert_stdout_has("/v1/sign-in answered HTTP 200");
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].path, "/v1/password");
    assert_eq!(received[1].path, "/v1/sign-in");
    assert_eq!(received[1].header("authorization"), None);
    assert_eq!(
        received[1].json(),
        json!({"username": ACCOUNT, "password": NEW})
    );
}

#[test]
fn verify_method_get_proves_the_new_password_with_basic_authentication() {
    let fake = fake();
    let url = verify_url(&fake);
    rotate(&fake, &[("verify_url", &url), ("verify_method", "get")])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password verified: GET");
    let received = fake.received();
    assert_eq!(received[1].method, "GET");
    assert!(
        received[1]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
}

#[test]
fn a_change_answered_201_whose_new_password_does_not_verify_exits_4_saying_what_to_check() {
    let fake = fake();
    // The service says 201 but the password is not the new one.
    fake.then_reply(Reply::status(201).body("{}"));
    let url = verify_url(&fake);
    rotate(&fake, &[("verify_url", &url)])
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("the change of the password of 'alice@example.com' was accepted")
        .assert_stderr_has("the new password does not verify")
        .assert_stderr_has("answered HTTP 401")
        .assert_stderr_has("the Gateway must not store this run's password")
        .assert_stderr_has("no other rotation of 'alice@example.com' runs");
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(OLD));
}

#[test]
fn a_verify_answer_that_proves_nothing_exits_4() {
    let fake = fake();
    let url = verify_url(&fake);
    fake.then_reply(Reply::status(201).body("{}"));
    // A redirect (not followed) says nothing, and asking again would get
    // the same: not retried.
    fake.then_reply(Reply::status(302).header("Location", "/elsewhere"));
    rotate(&fake, &[("verify_url", &url)])
        .assert_exit(4)
        .assert_stderr_has("answered HTTP 302")
        .assert_stderr_has("which does not say whether the new password works");
    assert_eq!(fake.received().len(), 2);
}

#[test]
fn a_verify_template_without_the_new_password_exits_2_before_sending() {
    let fake = fake();
    let url = verify_url(&fake);
    rotate(
        &fake,
        &[
            ("verify_url", &url),
            ("verify_body_template", r#"{"username": "{{user}}"}"#),
        ],
    )
    .assert_exit(2)
    .assert_stderr_has("'verify_body_template' in record 'API Access Details'")
    .assert_stderr_has("does not use {{newPassword}}");
    assert!(fake.received().is_empty());
}

#[test]
fn a_verify_url_that_is_the_change_url_exits_2_before_sending() {
    let fake = fake();
    let url = fake.url("/v1/password/");
    rotate(&fake, &[("verify_url", &url)])
        .assert_exit(2)
        .assert_stderr_has("'verify_url' in record 'API Access Details'")
        .assert_stderr_has("is the url that changes the password");
    assert!(fake.received().is_empty());
}

#[test]
fn a_user_holding_a_colon_with_a_basic_verify_request_exits_2_before_the_change() {
    let fake = fake();
    let url = verify_url(&fake);
    let lock_dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::load("scenarios/rest-api/default.json")
        .var("API_URL", fake.url("/v1/password"))
        .param("newPassword", json!(NEW))
        .param("user", json!("corp:alice"))
        .record_field(API_RECORD, "verify_url", json!(url))
        .record_field(API_RECORD, "verify_method", json!("GET"));
    Run::new(BIN)
        .scenario(&scenario)
        .env(
            "KEEPER_ROTATOR_LOCK_DIR",
            lock_dir.path().display().to_string(),
        )
        .run()
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("HTTP Basic cannot carry");
    assert!(fake.received().is_empty());
}

#[test]
fn a_verify_field_without_verify_url_exits_2() {
    let fake = fake();
    rotate(&fake, &[("verify_method", "GET")])
        .assert_exit(2)
        .assert_stderr_has("is set but verify_url is not");
    assert!(fake.received().is_empty());
}

/// A dry run changes nothing and risks no lockout: the verify request signs
/// in with the account's password, so it is named but not sent, with
/// neither the record's password nor the new one.
#[test]
fn dry_run_names_the_verify_request_and_sends_no_sign_in() {
    let fake = fake();
    let url = verify_url(&fake);
    let lock_dir = tempfile::tempdir().unwrap();
    run(&fake, NEW, &[("verify_url", &url)], &lock_dir)
        .arg("--dry-run")
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("; then would prove the new password with POST http://127.0.0.1:")
        .assert_stdout_has(
            "/v1/sign-in (success on any HTTP 2xx; not tried in a dry run: it signs in as the \
             account).",
        )
        .assert_stdout_has(
            "Not checked: the API token; that the change endpoint accepts this password (no \
             request is sent); the verify request (it would sign in as the account). Nothing \
             was changed.",
        );
    let received = fake.received();
    let signing_in: Vec<_> = received
        .iter()
        .filter(|r| r.path == "/v1/sign-in" || r.json().get("password").is_some())
        .collect();
    assert!(signing_in.is_empty(), "{received:?}");
    assert!(received.is_empty(), "{received:?}");
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(OLD));
}

#[test]
fn dry_run_with_a_basic_verify_request_sends_no_credentials_either() {
    let fake = fake();
    let url = verify_url(&fake);
    let lock_dir = tempfile::tempdir().unwrap();
    run(
        &fake,
        NEW,
        &[("verify_url", &url), ("verify_method", "GET")],
        &lock_dir,
    )
    .arg("--dry-run")
    .run()
    .assert_exit(0)
    .assert_clean()
    .assert_stdout_has("not tried in a dry run");
    assert!(fake.received().is_empty(), "{:?}", fake.received());
    assert_eq!(fake.proxy().requests().len(), 0);
}

// --- a proof that cannot complete: retried within its share of the deadline --

const SIGN_IN: &str = "POST /v1/sign-in";

/// A run with `verify_url` and `--timeout seconds`.
fn rotate_within(fake: &FakeRest, seconds: u32) -> Outcome {
    let url = verify_url(fake);
    let lock_dir = tempfile::tempdir().unwrap();
    run(fake, NEW, &[("verify_url", &url)], &lock_dir)
        .arg("--timeout")
        .arg(seconds.to_string())
        .run()
}

#[test]
fn a_verify_request_answered_500_is_tried_again_and_proves_the_password() {
    let fake = fake();
    fake.proxy().arm(SIGN_IN, 1, FaultKind::Status500).unwrap();
    rotate_within(&fake, 30)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password verified");
    assert_eq!(fake.proxy().count(SIGN_IN), 2);
}

#[test]
fn a_verify_request_whose_connection_is_reset_is_tried_again_and_proves_the_password() {
    let fake = fake();
    fake.proxy()
        .arm(SIGN_IN, 1, FaultKind::DropBeforeApply)
        .unwrap();
    rotate_within(&fake, 30)
        .assert_exit(0)
        .assert_stdout_has("the new password verified");
    assert_eq!(fake.proxy().count(SIGN_IN), 2);
}

#[test]
fn a_verify_request_that_hangs_is_cut_in_time_for_a_second_attempt() {
    let fake = fake();
    fake.proxy()
        .arm(SIGN_IN, 1, FaultKind::TimeoutAfterApply)
        .unwrap();
    rotate_within(&fake, 8)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password verified");
    assert_eq!(fake.proxy().count(SIGN_IN), 2);
}

#[test]
fn a_verify_request_that_never_completes_exits_4_saying_the_account_most_likely_holds_the_new_password()
 {
    let fake = fake();
    for nth in 1..=40 {
        fake.proxy()
            .arm(SIGN_IN, nth, FaultKind::Status500)
            .unwrap();
    }
    rotate_within(&fake, 5)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("the change of the password of 'alice@example.com' was accepted")
        .assert_stderr_has("the request that proves the new password could not be completed")
        .assert_stderr_has("answered HTTP 500")
        .assert_stderr_has("The account most likely holds this run's NEW password now")
        .assert_stderr_has("the Gateway does not store it")
        .assert_stderr_has("Do not assume the record's password works")
        .assert_stderr_has("rotate again once the verify request answers");
    assert!(fake.proxy().count(SIGN_IN) >= 2);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
}

/// A hostile or broken service asks the sign-in to wait past the end of
/// time: no overflow, no panic, and the proof ends at once as not completed.
#[test]
fn a_verify_request_told_to_wait_past_the_end_of_time_exits_4_without_a_panic() {
    let fake = fake();
    fake.then_reply(Reply::status(200).body("{}"));
    fake.then_reply(
        Reply::status(429)
            .header("Retry-After", "99999999999999999999999")
            .body(r#"{"error":"rate_limited"}"#),
    );
    rotate_within(&fake, 10)
        .assert_no_panic()
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("the request that proves the new password could not be completed")
        .assert_stderr_has("answered HTTP 429");
    assert_eq!(fake.proxy().count(SIGN_IN), 1);
}

/// The change may not use the proof's share of the deadline: a change the
/// service defers (429) past what is left of its own share is not sent
/// again, and nothing changed.
#[test]
fn a_change_deferred_into_the_proofs_share_of_the_deadline_is_not_sent_and_exits_1() {
    let fake = fake();
    fake.then_reply(
        Reply::status(429)
            .header("Retry-After", "7")
            .body(r#"{"error":"rate_limited"}"#),
    );
    fake.proxy()
        .arm(SIGN_IN, 1, FaultKind::TimeoutAfterApply)
        .unwrap();
    rotate_within(&fake, 8)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("of it kept for proving the new password")
        .assert_stderr_has("the server answered HTTP 429 and asked to wait 7 s");
    assert_eq!(fake.proxy().count(CHANGE), 1);
    assert_eq!(fake.proxy().count(SIGN_IN), 0);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(OLD));
}

/// A change answered after most of its share still leaves the proof its
/// own: here enough for a verify request that hangs and a second one.
#[test]
fn a_slow_change_still_leaves_the_proof_time_for_a_second_attempt() {
    let fake = fake();
    let gate = fake.proxy().hold(CHANGE, 1);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(4500));
        gate.release();
    });
    fake.proxy()
        .arm(SIGN_IN, 1, FaultKind::TimeoutAfterApply)
        .unwrap();
    rotate_within(&fake, 9)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password verified");
    releaser.join().unwrap();
    assert_eq!(fake.proxy().count(SIGN_IN), 2);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
}

// --- two runs at once ---------------------------------------------------------

/// The issue's scenario: run A's change is applied first but answered 3 s
/// late; run B starts meanwhile. On one gateway host B must not change
/// anything, with or without a verify_url.
#[test]
fn two_overlapping_rotations_on_one_host_the_second_exits_1_and_the_account_keeps_the_first() {
    let fake = fake();
    let host = tempfile::tempdir().unwrap();
    let gate = fake.proxy().hold(CHANGE, 1);
    let (a, b) = overlap(
        run(&fake, NEW_A, &[], &host),
        run(&fake, NEW_B, &[], &host),
        || fake.proxy().wait_for(CHANGE, 1),
        |_| {
            std::thread::sleep(Duration::from_secs(3));
            gate.release();
        },
    );
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of 'alice@example.com' at http://127.0.0.1:")
        .assert_stderr_has("is in progress on this host")
        .assert_stderr_has("nothing was changed");
    a.assert_exit(0).assert_clean();
    assert_eq!(fake.proxy().count(CHANGE), 1);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW_A));
}

/// A run killed while it holds the lock (its change answered never) does
/// not block the next one: the kernel releases the lock with the process.
#[test]
fn a_killed_runs_lock_does_not_block_the_next_run() {
    let fake = fake();
    let host = tempfile::tempdir().unwrap();
    let gate = fake.proxy().hold(CHANGE, 1);
    let killed = run(&fake, NEW_A, &[], &host)
        .kill_after(Duration::from_secs(2))
        .run();
    assert_eq!(killed.code, None, "{}", killed.output());
    run(&fake, NEW_B, &[], &host).run().assert_exit(0);
    gate.release();
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW_B));
}

/// Two spellings of one url and user are one account: the lock holds.
#[test]
fn another_spelling_of_the_url_and_user_is_the_same_lock() {
    let fake = fake();
    let host = tempfile::tempdir().unwrap();
    let gate = fake.proxy().hold(CHANGE, 1);
    let other_spelling = {
        let scenario = Scenario::load("scenarios/rest-api/default.json")
            .var(
                "API_URL",
                fake.url("/v1/password/").replace("http://", "HTTP://"),
            )
            .param("newPassword", json!(NEW_B))
            .param("user", json!("Alice@Example.com"));
        Run::new(BIN)
            .scenario(&scenario)
            .env("KEEPER_ROTATOR_LOCK_DIR", host.path().display().to_string())
    };
    let (a, b) = overlap(
        run(&fake, NEW_A, &[], &host),
        other_spelling,
        || fake.proxy().wait_for(CHANGE, 1),
        |_| gate.release(),
    );
    b.assert_exit(1)
        .assert_stderr_has("is in progress on this host");
    a.assert_exit(0);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW_A));
}

/// The same overlap from two gateway hosts (two lock directories): the
/// locks do not meet, both changes are applied and the account ends on B's
/// password. With a verify_url, A's proof then fails: A exits 4 and only B's
/// password is stored.
#[test]
fn two_gateways_overlapping_with_verify_url_the_run_whose_password_lost_exits_4() {
    let fake = fake();
    let url = verify_url(&fake);
    let (host_a, host_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let gate = fake.proxy().hold(CHANGE, 1);
    let (a, b) = overlap(
        run(&fake, NEW_A, &[("verify_url", &url)], &host_a),
        run(&fake, NEW_B, &[("verify_url", &url)], &host_b),
        || fake.proxy().wait_for(CHANGE, 1),
        |_| {
            std::thread::sleep(Duration::from_secs(3));
            gate.release();
        },
    );
    b.assert_exit(0)
        .assert_stdout_has("the new password verified");
    a.assert_exit(4)
        .assert_clean()
        .assert_stderr_has("the new password does not verify");
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW_B));
}

#[test]
fn a_lock_directory_others_can_write_exits_2_before_sending() {
    use std::os::unix::fs::PermissionsExt;
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    run(&fake, NEW, &[], &dir)
        .run()
        .assert_exit(2)
        .assert_stderr_has("writable by its group or others")
        .assert_stderr_has("KEEPER_ROTATOR_LOCK_DIR");
    assert!(fake.received().is_empty());
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(OLD));
}
