//! rotate-okta-user end to end: the real binary against the stateful Okta
//! fake, for what only it does (what every HTTP password rotator does is
//! `suite.rs`). Every run is scanned for leaks of the scenario's secrets.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::fakes::okta::Policy;
use harness::{FakeOkta, OktaFault, Outcome, Run, Scenario};

const BIN: harness::Binary = harness::binary!("rotate-okta-user");
const TOKEN: &str = "00okta-api-token-value-0000000000000001";
const LOGIN: &str = "alice@example.com";
const OLD: &str = "Old-Okta-Passw0rd-1";
const NEW: &str = "New-Okta-Passw0rd-2";

fn okta() -> FakeOkta {
    FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD)
}

fn scenario(name: &str) -> Scenario {
    Scenario::load(&format!("scenarios/okta-user/{name}"))
}

fn rotate_with(name: &str, okta: &FakeOkta, args: &[&str]) -> Outcome {
    let mut run = Run::new(BIN).scenario(&scenario(name).var("OKTA_URL", okta.url()));
    for arg in args {
        run = run.arg(*arg);
    }
    run.run()
}

fn rotate(name: &str, okta: &FakeOkta) -> Outcome {
    rotate_with(name, okta, &[])
}

/// Password changes sent (not the sign-in that proves the new password).
fn changes(okta: &FakeOkta) -> usize {
    okta.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path != "/api/v1/authn")
        .count()
}

#[test]
fn change_password_sends_value_objects_with_the_ssws_token() {
    let okta = okta();
    rotate("default.json", &okta)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("rotated the Okta password of 'alice@example.com' (00u00000000000000001) with change_password")
        .assert_stderr_has("status ACTIVE");
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW));
    let requests = okta.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/api/v1/users/alice%40example.com");
    assert_eq!(
        requests[1].path,
        "/api/v1/users/00u00000000000000001/credentials/change_password"
    );
    assert_eq!(requests[1].authorization, format!("SSWS {TOKEN}"));
    assert_eq!(
        requests[1].body,
        serde_json::json!({"oldPassword": {"value": OLD}, "newPassword": {"value": NEW}})
    );
}

#[test]
fn a_login_with_at_and_plus_is_looked_up_directly() {
    let okta = FakeOkta::start(TOKEN).with_user("alice+rotation@example.com", "ACTIVE", OLD);
    rotate("login-plus.json", &okta).assert_exit(0);
    assert_eq!(
        okta.requests()[0].path,
        "/api/v1/users/alice%2Brotation%40example.com"
    );
    assert_eq!(
        okta.password_of("alice+rotation@example.com").as_deref(),
        Some(NEW)
    );
}

#[test]
fn a_unicode_login_is_looked_up_directly() {
    let login = "jürgen.müller@example.com";
    let okta = FakeOkta::start(TOKEN).with_user(login, "ACTIVE", OLD);
    rotate("login-unicode.json", &okta).assert_exit(0);
    assert_eq!(okta.password_of(login).as_deref(), Some(NEW));
}

#[test]
fn hostile_passwords_arrive_intact() {
    let s = scenario("hostile-passwords.json");
    let old = s.params()["oldPassword"].as_str().unwrap().to_owned();
    let new = s.params()["newPassword"].as_str().unwrap().to_owned();
    let okta = FakeOkta::start(TOKEN)
        .with_user(LOGIN, "ACTIVE", &old)
        .with_policy(Policy {
            require_digit: false,
            require_upper: false,
            ..Policy::default()
        });
    rotate("hostile-passwords.json", &okta).assert_exit(0);
    assert_eq!(okta.password_of(LOGIN), Some(new));
}

#[test]
fn a_wrong_old_password_exits_1_suggesting_admin_reset() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", "Some-Other-Passw0rd");
    rotate("default.json", &okta)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("E0000014 Update of credentials failed: oldPassword: The credentials provided were incorrect.")
        .assert_stderr_has("okta_admin_reset");
    assert_eq!(
        okta.password_of(LOGIN).as_deref(),
        Some("Some-Other-Passw0rd")
    );
}

#[test]
fn a_policy_violation_exits_1_with_the_policy_text() {
    let okta = okta().with_policy(Policy {
        min_length: 40,
        ..Policy::default()
    });
    rotate("default.json", &okta)
        .assert_exit(1)
        .assert_stderr_has(
            "Password requirements were not met. Password requirements: at least 40 characters.",
        )
        .assert_stderr_has("does not meet the Okta password policy");
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}

#[test]
fn a_password_from_the_history_is_refused_by_change_password() {
    let okta = okta().with_history(LOGIN, NEW);
    rotate("default.json", &okta)
        .assert_exit(1)
        .assert_stderr_has("Password has been used too recently");
}

#[test]
fn admin_reset_sets_the_password_without_the_old_one_and_says_so() {
    let okta = FakeOkta::start(TOKEN)
        .with_user(LOGIN, "PASSWORD_EXPIRED", "Unknown-Passw0rd-9")
        .with_history(LOGIN, NEW);
    rotate("admin-reset.json", &okta)
        .assert_exit(0)
        .assert_stdout_has("with an admin reset without the old password (Okta applies the complexity rules but not the password history)");
    let request = &okta.requests()[1];
    assert_eq!(request.path, "/api/v1/users/00u00000000000000001");
    assert_eq!(
        request.body,
        serde_json::json!({"credentials": {"password": {"value": NEW}}})
    );
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(NEW));
}

#[test]
fn without_an_old_password_change_password_exits_2_naming_the_switch() {
    let okta = okta();
    rotate("no-old-password.json", &okta)
        .assert_exit(2)
        .assert_stderr_has("'oldPassword' is missing or empty in the Gateway's input")
        .assert_stderr_has("okta_admin_reset");
    assert!(okta.requests().is_empty());
}

#[test]
fn strict_adds_strict_true_and_okta_enforces_the_minimum_age() {
    let okta = okta();
    rotate("strict.json", &okta)
        .assert_exit(0)
        .assert_stdout_has("strict");
    assert_eq!(okta.requests()[1].query, "strict=true");

    let young = okta_with_min_age();
    rotate("strict.json", &young)
        .assert_exit(1)
        .assert_stderr_has("Password has been changed too recently");
}

fn okta_with_min_age() -> FakeOkta {
    okta().with_policy(Policy {
        min_age: Duration::from_secs(3600),
        ..Policy::default()
    })
}

#[test]
fn without_strict_the_minimum_age_is_not_enforced() {
    rotate("default.json", &okta_with_min_age()).assert_exit(0);
}

#[test]
fn a_bearer_token_is_sent_with_auth_scheme_bearer() {
    let okta = okta().bearer();
    rotate("bearer.json", &okta).assert_exit(0);
    assert_eq!(okta.requests()[1].authorization, format!("Bearer {TOKEN}"));
}

#[test]
fn okta_record_title_picks_the_api_record() {
    let okta = okta();
    rotate("custom-title.json", &okta)
        .assert_exit(0)
        .assert_stderr_has("record 'Corporate Okta'");
}

#[test]
fn the_pam_configuration_record_is_never_taken_for_the_api_record() {
    let okta = okta();
    rotate("provider-titled-like-the-api-record.json", &okta)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("no Okta API record found");
    assert!(okta.requests().is_empty());
}

#[test]
fn suspended_and_deprovisioned_users_exit_2_naming_the_status() {
    for status in ["SUSPENDED", "DEPROVISIONED", "LOCKED_OUT"] {
        let okta = FakeOkta::start(TOKEN).with_user(LOGIN, status, OLD);
        rotate("default.json", &okta)
            .assert_exit(2)
            .assert_stderr_has(&format!(
                "is {status}; Okta changes passwords only for users"
            ));
        assert_eq!(changes(&okta), 0);
    }
}

#[test]
fn a_429_resetting_past_the_deadline_exits_1_at_once() {
    let okta = okta();
    okta.fault(
        "change_password",
        OktaFault::RateLimit { reset_in: 3600 },
        1,
    );
    let out = rotate_with("default.json", &okta, &["--timeout", "10"]);
    out.assert_exit(1)
        .assert_stderr_has("HTTP 429 and asked to wait");
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}

#[test]
fn dry_run_looks_the_user_up_and_changes_nothing() {
    let okta = okta();
    rotate_with("default.json", &okta, &["--dry-run"])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("dry run: Okta user 'alice@example.com' (00u00000000000000001) is ACTIVE; would change the password with change_password");
    assert_eq!(changes(&okta), 0);
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}

#[test]
fn a_server_error_after_sending_the_change_exits_4_and_does_not_resend() {
    let okta = okta();
    okta.fault("change_password", OktaFault::ServerError, 1);
    let out = rotate("default.json", &okta);
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has("HTTP 500 (errorCode: E0000009; errorSummary: Internal Server Error)")
        .assert_stderr_has("may or may not have changed")
        .assert_stderr_has("It was not sent again");
    assert_eq!(changes(&okta), 1);
}

#[test]
fn a_lookup_answered_with_a_user_id_that_is_not_an_okta_id_changes_nothing_and_shows_no_id() {
    let okta = okta();
    okta.fault(
        "/users/alice%40example.com",
        OktaFault::Reply {
            status: 200,
            body: r#"{"id":"00u1/../../me\nrotate-okta-user: exit 0 (rotated)","status":"ACTIVE","profile":{"login":"alice@example.com"}}"#.into(),
        },
        1,
    );
    let out = rotate("default.json", &okta);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is not an Okta user id");
    assert!(!out.stderr.contains("00u1/../"), "{}", out.stderr);
    assert!(!out.stderr.contains("exit 0 (rotated)"), "{}", out.stderr);
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}

#[test]
fn a_lookup_answered_with_a_status_that_is_not_an_okta_status_changes_nothing() {
    let okta = okta();
    okta.fault(
        "/users/alice%40example.com",
        OktaFault::Reply {
            status: 200,
            body: r#"{"id":"00u00000000000000001","status":"ACTIVE\nrotate-okta-user: exit 0 (rotated)","profile":{"login":"alice@example.com"}}"#.into(),
        },
        1,
    );
    let out = rotate("default.json", &okta);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is not an Okta status");
    assert!(!out.stdout.contains("exit 0"), "{}", out.stdout);
    assert!(
        !out.stderr.contains("\nrotate-okta-user: exit 0"),
        "{}",
        out.stderr
    );
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}
