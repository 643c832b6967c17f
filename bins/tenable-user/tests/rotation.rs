//! rotate-tenable-user end to end: the real binary against the stateful
//! Tenable fake, as Tenable.io and as Security Center. Every run is scanned
//! for leaks of the scenario's secrets.

#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::faults::{Armable, FaultKind};
use harness::{FakeTenable, Outcome, Run, Scenario};
use serde_json::json;

const BIN: harness::Binary = harness::binary!("rotate-tenable-user");
const ACCESS: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SECRET: &str = "f9e8d7c6b5a4039281706f5e4d3c2b1af9e8d7c6b5a4039281706f5e4d3c2b1a";
const EMAIL: &str = "alice@example.com";
const SC_USER: &str = "alice";
const OLD: &str = "Old-Tenable-Passw0rd-1";
const NEW: &str = "New-Tenable-Passw0rd-2";

/// A Tenable.io holding alice@example.com (the default scenario's user).
fn tenable() -> FakeTenable {
    FakeTenable::start(ACCESS, SECRET).with_user(EMAIL, OLD)
}

/// A Security Center holding alice (the security-center scenario's user).
fn security_center() -> FakeTenable {
    FakeTenable::start(ACCESS, SECRET).with_user(SC_USER, OLD)
}

fn scenario(name: &str, fake: &FakeTenable) -> Scenario {
    Scenario::load(&format!("scenarios/tenable-user/{name}")).var("TENABLE_URL", fake.url())
}

/// A run with this test's own lock directory (each test is its own
/// process; tests on one user would otherwise wait for each other).
fn binary(scenario: &Scenario) -> Run {
    let locks = std::env::temp_dir().join(format!("tenable-locks-{}", std::process::id()));
    std::fs::create_dir_all(&locks).expect("a lock directory");
    Run::new(BIN)
        .scenario(scenario)
        .env("KEEPER_ROTATOR_LOCK_DIR", locks.display().to_string())
}

fn rotate(name: &str, fake: &FakeTenable) -> Outcome {
    binary(&scenario(name, fake)).run()
}

/// The password changes sent (Tenable.io's PUT, Security Center's PATCH).
fn changes(fake: &FakeTenable) -> usize {
    fake.proxy().count("change_password")
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

#[test]
fn a_tenable_io_password_is_changed_with_the_current_one_and_the_key_pair() {
    let fake = tenable();
    rotate("default.json", &fake)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("changed the Tenable Vulnerability Management password of")
        .assert_stdout_has("proven by Tenable's answer only");
    let user = fake.user(EMAIL).expect("the user");
    assert_eq!(user.password, NEW);
    assert_eq!(user.changes, 1);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/users")
    );
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("PUT", "/users/100/chpasswd")
    );
    assert_eq!(
        requests[1].io_keys,
        format!("accessKey={ACCESS}; secretKey={SECRET};")
    );
    assert_eq!(
        sorted(requests[1].keys.clone()),
        ["current_password", "password"]
    );
}

#[test]
fn a_security_center_password_is_changed_and_proven_by_signing_in_and_out() {
    let fake = security_center();
    rotate("security-center.json", &fake)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("changed the Tenable Security Center password of 'alice'")
        .assert_stdout_has("the new password signs in");
    let user = fake.user(SC_USER).expect("the user");
    assert_eq!(user.password, NEW);
    assert_eq!((user.changes, user.sign_ins), (1, 1));
    assert_eq!(fake.open_sessions(), 0, "the proof's session was left open");
    let requests = fake.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("GET", "/rest/user"),
            ("PATCH", "/rest/user/100"),
            ("POST", "/rest/token"),
            ("DELETE", "/rest/token"),
        ]
    );
    assert_eq!(
        requests[1].sc_keys,
        format!("accesskey={ACCESS}; secretkey={SECRET};")
    );
    assert_eq!(
        sorted(requests[1].keys.clone()),
        ["currentPassword", "password"]
    );
    assert!(
        requests[2].sc_keys.is_empty(),
        "the sign-in carried the API keys"
    );
}

#[test]
fn without_an_old_password_the_change_is_sent_without_a_current_one() {
    let fake = tenable();
    let s = scenario("default.json", &fake).param("oldPassword", json!(null));
    binary(&s).run().assert_exit(0).assert_clean();
    assert_eq!(fake.password_of(EMAIL).as_deref(), Some(NEW));
    let change = fake.requests().pop().expect("the change");
    assert_eq!(change.keys, ["password"]);
}

#[test]
fn a_tenable_io_user_name_is_matched_without_regard_to_case() {
    let fake = FakeTenable::start(ACCESS, SECRET).with_user("Alice@Example.com", OLD);
    rotate("default.json", &fake).assert_exit(0).assert_clean();
    assert_eq!(fake.password_of("Alice@Example.com").as_deref(), Some(NEW));
}

#[test]
fn a_security_center_user_name_is_matched_exactly() {
    let fake = FakeTenable::start(ACCESS, SECRET).with_user("Alice", OLD);
    rotate("security-center.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("has no user named 'alice'");
    assert_eq!(changes(&fake), 0);
}

#[test]
fn hostile_passwords_arrive_intact() {
    let probe = tenable();
    let s = scenario("hostile-passwords.json", &probe);
    let params = s.params();
    let old = params["oldPassword"].as_str().expect("old").to_owned();
    let new = params["newPassword"].as_str().expect("new").to_owned();
    let fake = FakeTenable::start(ACCESS, SECRET).with_user(EMAIL, &old);
    rotate("hostile-passwords.json", &fake)
        .assert_exit(0)
        .assert_clean();
    assert_eq!(fake.password_of(EMAIL), Some(new));
}

#[test]
fn a_user_tenable_does_not_have_exits_1_and_nothing_is_sent_to_change() {
    let fake = FakeTenable::start(ACCESS, SECRET).with_user("bob@example.com", OLD);
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("has no user named 'alice@example.com'");
    assert_eq!(changes(&fake), 0);
}

#[test]
fn two_users_with_the_name_are_never_guessed_between() {
    let fake = tenable().with_listed(json!({"id": 7, "username": "ALICE@example.com"}));
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("lists 2 users named");
    assert_eq!(changes(&fake), 0);
}

#[test]
fn a_second_user_with_the_name_and_a_broken_id_is_not_passed_over() {
    let fake = tenable().with_listed(json!({"id": "../keys", "username": EMAIL}));
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("lists 2 users named");
    assert_eq!(changes(&fake), 0);
}

#[test]
fn a_listed_user_whose_id_is_no_tenable_id_is_never_sent_to() {
    let fake = FakeTenable::start(ACCESS, SECRET)
        .with_listed(json!({"id": "1/../../keys", "username": EMAIL}));
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is not a Tenable id");
    assert_eq!(changes(&fake), 0);
}

#[test]
fn a_security_center_user_who_signs_in_through_ldap_exits_2_naming_the_reason() {
    let fake = FakeTenable::start(ACCESS, SECRET).with_auth_type(SC_USER, OLD, "ldap");
    rotate("security-center.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("signs in to Security Center through ldap");
    assert_eq!(changes(&fake), 0);
    assert_eq!(fake.password_of(SC_USER).as_deref(), Some(OLD));
}

#[test]
fn wrong_keys_exit_1_naming_the_admin_record() {
    let fake = FakeTenable::start(ACCESS, "another-secret-key").with_user(EMAIL, OLD);
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("HTTP 401")
        .assert_stderr_has(
            "check tenable_access_key and tenable_secret_key in record 'Tenable Authentication \
             Record'",
        );
    assert_eq!(fake.password_of(EMAIL).as_deref(), Some(OLD));
}

#[test]
fn keys_pasted_with_a_line_break_around_them_are_taken_as_the_keys() {
    let fake = tenable();
    let s = scenario("default.json", &fake)
        .record_field(
            "TenableAdminRecordUid1",
            "tenable_access_key",
            json!(format!(" {ACCESS}\n")),
        )
        .record_field(
            "TenableAdminRecordUid1",
            "tenable_secret_key",
            json!(format!("{SECRET}\r\n")),
        );
    binary(&s).run().assert_exit(0).assert_clean();
    assert_eq!(fake.password_of(EMAIL).as_deref(), Some(NEW));
}

#[test]
fn a_wrong_current_password_on_security_center_exits_1_naming_what_to_check() {
    let fake = FakeTenable::start(ACCESS, SECRET).with_user(SC_USER, "Someone-Elses-Passw0rd");
    rotate("security-center.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("Current password is incorrect")
        .assert_stderr_has("the PAM User record's password");
    assert_eq!(fake.proxy().count("sign_in"), 0);
}

#[test]
fn a_password_tenable_io_refuses_exits_1_with_its_message_and_the_old_one_kept() {
    let fake = tenable();
    let s = scenario("default.json", &fake).param("newPassword", json!("short-Pw1"));
    binary(&s)
        .run()
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("Password must be at least 12 characters");
    assert_eq!(fake.password_of(EMAIL).as_deref(), Some(OLD));
}

#[test]
fn a_current_password_tenable_does_not_hold_exits_1_and_nothing_changes() {
    let fake = FakeTenable::start(ACCESS, SECRET).with_user(EMAIL, "Someone-Elses-Passw0rd");
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("Invalid current password");
    assert_eq!(
        fake.password_of(EMAIL).as_deref(),
        Some("Someone-Elses-Passw0rd")
    );
}

#[test]
fn the_rate_limit_is_waited_out_with_retry_after() {
    let fake = tenable();
    fake.arm("change_password", 1, FaultKind::Status429)
        .expect("armed");
    rotate("default.json", &fake).assert_exit(0).assert_clean();
    assert_eq!(fake.password_of(EMAIL).as_deref(), Some(NEW));
    assert_eq!(changes(&fake), 2);
}

#[test]
fn a_change_whose_answer_is_lost_exits_4_and_is_never_sent_again() {
    let fake = tenable();
    fake.arm("change_password", 1, FaultKind::ApplyThen500)
        .expect("armed");
    rotate("default.json", &fake)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("may or may not have changed");
    assert_eq!(changes(&fake), 1);
}

#[test]
fn a_server_error_to_a_security_center_change_exits_4_without_signing_in() {
    let fake = security_center();
    fake.arm("change_password", 1, FaultKind::Status500)
        .expect("armed");
    rotate("security-center.json", &fake)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("may or may not have changed");
    assert_eq!(changes(&fake), 1);
    assert_eq!(fake.proxy().count("sign_in"), 0);
}

#[test]
fn a_new_security_center_password_that_does_not_sign_in_exits_4() {
    let fake = security_center().refusing_sign_in();
    rotate("security-center.json", &fake)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("signing in with the new password was refused");
    assert_eq!(fake.password_of(SC_USER).as_deref(), Some(NEW));
    assert_eq!(changes(&fake), 1);
}

#[test]
fn a_security_center_user_signed_in_elsewhere_is_proven_without_releasing_that_session() {
    // Security Center asks to release the other session only once the
    // password is right.
    let fake = security_center().with_sessions_used_up();
    rotate("security-center.json", &fake)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the new password signs in");
    assert_eq!(fake.password_of(SC_USER).as_deref(), Some(NEW));
    assert_eq!(changes(&fake), 1);
}

#[test]
fn a_dry_run_looks_the_user_up_and_changes_nothing() {
    let fake = tenable();
    binary(&scenario("default.json", &fake))
        .arg("--dry-run")
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("dry run: Tenable Vulnerability Management user 'alice@example.com'")
        .assert_stdout_has("Nothing was changed.");
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(fake.password_of(EMAIL).as_deref(), Some(OLD));
}

#[test]
fn runs_on_one_user_never_overlap_on_one_host() {
    let fake = tenable();
    let host = tempfile::tempdir().expect("a lock directory");
    let gate = fake.proxy().hold("change_password", 1);
    let locked = |new: &str| {
        let s = scenario("default.json", &fake).param("newPassword", json!(new));
        Run::new(BIN)
            .scenario(&s)
            .env("KEEPER_ROTATOR_LOCK_DIR", host.path().display().to_string())
    };
    let (a, b) = harness::runner::overlap(
        locked("New-Tenable-Passw0rd-A1"),
        locked("New-Tenable-Passw0rd-B2"),
        || fake.proxy().wait_for("change_password", 1),
        |_| {
            std::thread::sleep(std::time::Duration::from_secs(2));
            gate.release();
        },
    );
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is in progress on this host");
    a.assert_exit(0).assert_clean();
    assert_eq!(changes(&fake), 1);
    assert_eq!(
        fake.password_of(EMAIL).as_deref(),
        Some("New-Tenable-Passw0rd-A1")
    );
}

#[test]
fn no_admin_record_exits_2_naming_what_to_attach() {
    let fake = tenable();
    rotate("no-admin-record.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(
            "no Tenable admin record found: attach a record titled 'Tenable Authentication Record'",
        );
    assert!(fake.requests().is_empty());
}

#[test]
fn a_missing_secret_key_exits_2_naming_the_field_and_the_record() {
    let fake = tenable();
    rotate("missing-secret-key.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(
            "'tenable_secret_key' is missing or empty in record 'Tenable Authentication Record'",
        );
    assert!(fake.requests().is_empty());
}

#[test]
fn plain_http_to_another_host_exits_2_before_any_request() {
    let fake = tenable();
    rotate("plain-http-elsewhere.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("tenable_url");
    assert!(fake.requests().is_empty());
}

#[test]
fn a_record_naming_both_services_exits_2_before_any_request() {
    let fake = tenable();
    rotate("both-services.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("sets both tenable_sc_host");
    assert!(fake.requests().is_empty());
}
