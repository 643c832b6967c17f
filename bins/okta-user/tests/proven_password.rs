//! Issue 23, item 11: rotate-okta-user exits 0 only if the account holds
//! its `newPassword` at the end. Two runs on one account never overlap on
//! one host (the gateway-host lock), and the new password is proven by
//! signing in with it after the change (Okta's primary authentication), so a
//! run whose change was overtaken by another gateway's exits 4 and the
//! Gateway does not store its password.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::faults::{Armable, FaultKind};
use harness::runner::overlap;
use harness::{FakeOkta, OktaFault, Outcome, Run, Scenario};
use serde_json::json;

const BIN: harness::Binary = harness::binary!("rotate-okta-user");
const TOKEN: &str = "00okta-api-token-value-0000000000000001";
const LOGIN: &str = "alice@example.com";
const OLD: &str = "Old-Okta-Passw0rd-1";
const NEW: &str = "New-Okta-Passw0rd-2";
const NEW_A: &str = "New-Okta-Passw0rd-A1";
const NEW_B: &str = "New-Okta-Passw0rd-B2";

/// A run of `scenario` setting `new`, with its locks in `lock_dir` (one
/// directory per gateway host).
fn run(okta: &FakeOkta, scenario: &str, new: &str, lock_dir: &tempfile::TempDir) -> Run {
    let scenario = Scenario::load(&format!("scenarios/okta-user/{scenario}"))
        .var("OKTA_URL", okta.url())
        .param("newPassword", json!(new));
    Run::new(BIN).scenario(&scenario).env(
        "KEEPER_ROTATOR_LOCK_DIR",
        lock_dir.path().display().to_string(),
    )
}

fn rotate(okta: &FakeOkta, scenario: &str) -> Outcome {
    let lock_dir = tempfile::tempdir().unwrap();
    run(okta, scenario, NEW, &lock_dir).run()
}

fn authn_requests(okta: &FakeOkta) -> Vec<harness::fakes::okta::OktaRequest> {
    okta.requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/authn")
        .collect()
}

// --- proving the new password ------------------------------------------------

#[test]
fn the_new_password_is_proven_by_signing_in_without_the_api_token() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    rotate(&okta, "default.json")
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("; the new password signs in (SUCCESS)");
    let authn = authn_requests(&okta);
    assert_eq!(authn.len(), 1, "{:?}", okta.requests());
    assert_eq!(authn[0].method, "POST");
    assert_eq!(authn[0].authorization, "");
    assert_eq!(authn[0].body, json!({"username": LOGIN, "password": NEW}));
    // The sign-in comes after the change.
    assert_eq!(okta.requests().last().unwrap().path, "/api/v1/authn");
}

#[test]
fn an_mfa_step_after_the_password_still_proves_it() {
    let okta = FakeOkta::start(TOKEN)
        .with_user(LOGIN, "ACTIVE", OLD)
        .with_mfa(LOGIN);
    rotate(&okta, "default.json")
        .assert_exit(0)
        .assert_stdout_has("the new password signs in (MFA_REQUIRED)");
}

#[test]
fn an_expired_users_admin_reset_is_proven_by_password_expired_or_success() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "PASSWORD_EXPIRED", "Unknown-Passw0rd-9");
    rotate(&okta, "admin-reset.json")
        .assert_exit(0)
        .assert_stdout_has("the new password signs in (");
    assert_eq!(authn_requests(&okta).len(), 1);
}

#[test]
fn a_change_whose_new_password_does_not_sign_in_exits_4_saying_what_to_check() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault(
        "/authn",
        OktaFault::Reply {
            status: 401,
            body: r#"{"errorCode":"E0000004","errorSummary":"Authentication failed","errorCauses":[]}"#
                .into(),
        },
        1,
    );
    rotate(&okta, "default.json")
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("Okta accepted the change of the password of 'alice@example.com'")
        .assert_stderr_has("signing in with the new password was refused")
        .assert_stderr_has("E0000004 Authentication failed")
        .assert_stderr_has("the Gateway must not store this run's password")
        .assert_stderr_has("no other rotation of 'alice@example.com' runs");
}

#[test]
fn a_refused_sign_in_echoing_the_new_password_shows_none_of_it() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault(
        "/authn",
        OktaFault::Reply {
            status: 401,
            body: harness::encodings::echo_body(NEW, Some(LOGIN)),
        },
        1,
    );
    // The harness fails the run if any form of the password is printed.
    rotate(&okta, "default.json")
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("signing in with the new password was refused");
}

#[test]
fn a_locked_out_answer_to_the_sign_in_does_not_prove_the_password_and_exits_4() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault(
        "/authn",
        OktaFault::Reply {
            status: 200,
            body: r#"{"status":"LOCKED_OUT"}"#.into(),
        },
        1,
    );
    rotate(&okta, "default.json")
        .assert_exit(4)
        .assert_stderr_has("answered LOCKED_OUT, which does not prove it");
}

// --- a proof that cannot complete: retried within its share of the deadline --

/// A run with `--timeout seconds`.
fn rotate_within(okta: &FakeOkta, seconds: u32) -> Outcome {
    let lock_dir = tempfile::tempdir().unwrap();
    run(okta, "default.json", NEW, &lock_dir)
        .arg("--timeout")
        .arg(seconds.to_string())
        .run()
}

#[test]
fn a_sign_in_answered_with_a_server_error_is_tried_again_and_proves_the_password() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault("/authn", OktaFault::ServerError, 1);
    rotate(&okta, "default.json")
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password signs in (SUCCESS)");
    assert_eq!(authn_requests(&okta).len(), 2);
}

#[test]
fn a_sign_in_answered_503_is_tried_again_and_proves_the_password() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault(
        "/authn",
        OktaFault::Reply {
            status: 503,
            body: r#"{"errorCode":"E0000010","errorSummary":"Service is in read only mode"}"#
                .into(),
        },
        1,
    );
    rotate(&okta, "default.json")
        .assert_exit(0)
        .assert_stdout_has("the new password signs in (SUCCESS)");
    assert_eq!(authn_requests(&okta).len(), 2);
}

#[test]
fn a_sign_in_whose_connection_is_reset_is_tried_again_and_proves_the_password() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.proxy()
        .arm("authn", 1, FaultKind::DropBeforeApply)
        .unwrap();
    rotate(&okta, "default.json")
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password signs in (SUCCESS)");
    assert_eq!(okta.proxy().count("authn"), 2);
}

/// A sign-in that never answers may take only half of the time left, so a
/// second one still fits before the deadline.
#[test]
fn a_sign_in_that_hangs_is_cut_in_time_for_a_second_attempt() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.proxy()
        .arm("authn", 1, FaultKind::TimeoutAfterApply)
        .unwrap();
    rotate_within(&okta, 8)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password signs in (SUCCESS)");
    assert_eq!(okta.proxy().count("authn"), 2);
}

#[test]
fn a_sign_in_that_never_completes_exits_4_saying_the_account_most_likely_holds_the_new_password() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault("/authn", OktaFault::ServerError, 100);
    rotate_within(&okta, 5)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("Okta accepted the change of the password of 'alice@example.com'")
        .assert_stderr_has("the sign-in that proves the new password could not be completed")
        .assert_stderr_has("did not say whether it works")
        .assert_stderr_has("HTTP 500 E0000009")
        .assert_stderr_has("The account most likely holds this run's NEW password now")
        .assert_stderr_has("the Gateway does not store it")
        .assert_stderr_has("Do not assume the record's password works")
        .assert_stderr_has("reset the password in Okta (or set okta_admin_reset to true");
    assert!(authn_requests(&okta).len() >= 2, "{:?}", okta.requests());
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW));
}

#[test]
fn an_admin_reset_whose_sign_in_never_completes_says_to_rotate_again() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault("/authn", OktaFault::ServerError, 100);
    let lock_dir = tempfile::tempdir().unwrap();
    run(&okta, "admin-reset.json", NEW, &lock_dir)
        .arg("--timeout")
        .arg("4")
        .run()
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("The account most likely holds this run's NEW password now")
        .assert_stderr_has("Rotate 'alice@example.com' again once Okta answers sign-ins");
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW));
}

/// The change may not use the proof's share of the deadline: a change Okta
/// defers (429) past what is left of its own share is not sent again, and
/// nothing changed. Sent late, it would leave the sign-in (slow here) no
/// time, and an account on a password no one stores.
#[test]
fn a_change_deferred_into_the_proofs_share_of_the_deadline_is_not_sent_and_exits_1() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault("/change_password", OktaFault::RateLimit { reset_in: 7 }, 1);
    okta.fault("/authn", OktaFault::Delay(Duration::from_secs(3)), 1);
    rotate_within(&okta, 8)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("of it kept for proving the new password")
        .assert_stderr_has("the server answered HTTP 429");
    assert!(authn_requests(&okta).is_empty(), "{:?}", okta.requests());
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}

/// A change answered after most of its share still leaves the proof its
/// own: here enough for a sign-in that hangs and a second that answers.
#[test]
fn a_slow_change_still_leaves_the_proof_time_for_a_second_sign_in() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault(
        "/change_password",
        OktaFault::Delay(Duration::from_millis(4500)),
        1,
    );
    okta.proxy()
        .arm("authn", 1, FaultKind::TimeoutAfterApply)
        .unwrap();
    rotate_within(&okta, 9)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password signs in (SUCCESS)");
    assert_eq!(okta.proxy().count("authn"), 2);
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW));
}

#[test]
fn a_staged_users_change_is_not_proven_and_the_summary_says_so() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "STAGED", "Unknown-Passw0rd-9");
    rotate(&okta, "admin-reset.json")
        .assert_exit(0)
        .assert_stdout_has("not proven (a STAGED user cannot sign in)");
    assert!(authn_requests(&okta).is_empty());
}

#[test]
fn okta_prove_password_false_skips_the_sign_in_and_the_summary_says_so() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    let lock_dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::load("scenarios/okta-user/default.json")
        .var("OKTA_URL", okta.url())
        .record_field(
            "PamUserUid000000000001",
            "okta_prove_password",
            json!("false"),
        );
    Run::new(BIN)
        .scenario(&scenario)
        .env(
            "KEEPER_ROTATOR_LOCK_DIR",
            lock_dir.path().display().to_string(),
        )
        .run()
        .assert_exit(0)
        .assert_stdout_has("not proven (okta_prove_password is false)");
    assert!(authn_requests(&okta).is_empty());
}

#[test]
fn dry_run_says_the_new_password_would_be_proven_by_signing_in() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    let lock_dir = tempfile::tempdir().unwrap();
    run(&okta, "default.json", NEW, &lock_dir)
        .arg("--dry-run")
        .run()
        .assert_exit(0)
        .assert_stdout_has("; then would prove it by signing in (POST /api/v1/authn). Checked: ");
    assert!(authn_requests(&okta).is_empty());
}

// --- two runs at once ---------------------------------------------------------

/// The issue's scenario: run A's admin reset is applied first but answered
/// 3 s late; run B starts meanwhile. On one gateway host B must not change
/// anything.
#[test]
fn two_overlapping_admin_resets_on_one_host_the_second_exits_1_and_the_account_keeps_the_first() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    let host = tempfile::tempdir().unwrap();
    let gate = okta.proxy().hold("set_password", 1);
    let (a, b) = overlap(
        run(&okta, "admin-reset.json", NEW_A, &host),
        run(&okta, "admin-reset.json", NEW_B, &host),
        || okta.proxy().wait_for("set_password", 1),
        |_| {
            std::thread::sleep(Duration::from_secs(3));
            gate.release();
        },
    );
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of the Okta user 'alice@example.com' at")
        .assert_stderr_has("is in progress on this host")
        .assert_stderr_has("nothing was changed");
    a.assert_exit(0).assert_clean();
    assert_eq!(okta.proxy().count("set_password"), 1);
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW_A));
}

/// Two spellings of one org and login are one account: the lock holds.
#[test]
fn another_spelling_of_the_org_and_login_is_the_same_lock() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    let host = tempfile::tempdir().unwrap();
    let gate = okta.proxy().hold("set_password", 1);
    let other_spelling = {
        let scenario = Scenario::load("scenarios/okta-user/admin-reset.json")
            .var("OKTA_URL", format!("{}/", okta.url().to_uppercase()))
            .param("newPassword", json!(NEW_B))
            .param("user", json!("ALICE@example.com"));
        Run::new(BIN)
            .scenario(&scenario)
            .env("KEEPER_ROTATOR_LOCK_DIR", host.path().display().to_string())
    };
    let (a, b) = overlap(
        run(&okta, "admin-reset.json", NEW_A, &host),
        other_spelling,
        || okta.proxy().wait_for("set_password", 1),
        |_| gate.release(),
    );
    b.assert_exit(1)
        .assert_stderr_has("is in progress on this host");
    a.assert_exit(0);
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW_A));
}

/// The same overlap from two gateway hosts (two lock directories): the
/// locks do not meet, both changes are applied and the account ends on B's
/// password. A's sign-in then fails, so A exits 4 and only B's password is
/// stored.
#[test]
fn two_gateways_overlapping_the_run_whose_password_lost_exits_4() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    let (host_a, host_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let gate = okta.proxy().hold("set_password", 1);
    let (a, b) = overlap(
        run(&okta, "admin-reset.json", NEW_A, &host_a),
        run(&okta, "admin-reset.json", NEW_B, &host_b),
        || okta.proxy().wait_for("set_password", 1),
        |_| {
            std::thread::sleep(Duration::from_secs(3));
            gate.release();
        },
    );
    b.assert_exit(0)
        .assert_stdout_has("the new password signs in (SUCCESS)");
    a.assert_exit(4)
        .assert_clean()
        .assert_stderr_has("signing in with the new password was refused");
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW_B));
}
