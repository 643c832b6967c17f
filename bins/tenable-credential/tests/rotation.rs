//! rotate-tenable-credential end to end: the real binary against the
//! stateful Tenable fake's managed credentials, as Tenable.io and as
//! Security Center. Every run is scanned for leaks of the scenario's
//! secrets.

#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::faults::{Armable, FaultKind};
use harness::{FakeTenable, Outcome, Run, Scenario};
use serde_json::json;

const BIN: harness::Binary = harness::binary!("rotate-tenable-credential");
const ACCESS: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SECRET: &str = "f9e8d7c6b5a4039281706f5e4d3c2b1af9e8d7c6b5a4039281706f5e4d3c2b1a";
const NAME: &str = "svc-nessus";
const OLD: &str = "Old-Scan-Passw0rd-1";
const NEW: &str = "New-Scan-Passw0rd-2";

/// A Tenable holding the managed credential the scenarios name.
fn tenable() -> FakeTenable {
    FakeTenable::start(ACCESS, SECRET).with_credential(NAME, NAME, OLD)
}

fn scenario(name: &str, fake: &FakeTenable) -> Scenario {
    Scenario::load(&format!("scenarios/tenable-credential/{name}")).var("TENABLE_URL", fake.url())
}

/// A run with this test's own lock directory.
fn binary(scenario: &Scenario) -> Run {
    let locks = std::env::temp_dir().join(format!("tenable-cred-locks-{}", std::process::id()));
    std::fs::create_dir_all(&locks).expect("a lock directory");
    Run::new(BIN)
        .scenario(scenario)
        .env("KEEPER_ROTATOR_LOCK_DIR", locks.display().to_string())
}

fn rotate(name: &str, fake: &FakeTenable) -> Outcome {
    binary(&scenario(name, fake)).run()
}

fn updates(fake: &FakeTenable) -> usize {
    fake.proxy().count("update_credential")
}

#[test]
fn a_tenable_io_credential_gets_the_new_password_and_keeps_its_other_secrets() {
    let fake = tenable();
    rotate("default.json", &fake)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("set the password of the Tenable Vulnerability Management managed credential 'svc-nessus'")
        .assert_stdout_has("the password itself was not read back");
    let credential = fake.credential(NAME).expect("the credential");
    assert_eq!(credential.password, NEW);
    assert_eq!(credential.changes, 1);
    assert_eq!(credential.username, NAME);
    assert_eq!(credential.auth_method, "Password");
    assert_eq!(
        credential.escalation_password, "Lk8#escalate-Vb3",
        "another secret of the credential was overwritten"
    );
    let calls: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let uuid = &credential.uuid;
    assert_eq!(
        calls,
        [
            "GET /credentials".to_owned(),
            format!("GET /credentials/{uuid}"),
            format!("PUT /credentials/{uuid}"),
            format!("GET /credentials/{uuid}"),
        ]
    );
}

#[test]
fn a_security_center_credential_gets_the_new_password_with_one_patch() {
    let fake = tenable();
    rotate("security-center.json", &fake)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("its modifiedTime advanced");
    let credential = fake.credential(NAME).expect("the credential");
    assert_eq!(credential.password, NEW);
    let requests = fake.requests();
    let change = requests
        .iter()
        .find(|r| r.method == "PATCH")
        .expect("the PATCH");
    assert_eq!(change.path, format!("/rest/credential/{}", credential.id));
    assert_eq!(change.keys, ["password"]);
    assert_eq!(
        change.sc_keys,
        format!("accesskey={ACCESS}; secretkey={SECRET};")
    );
}

#[test]
fn a_credential_that_is_not_there_exits_1_and_nothing_is_sent_to_change() {
    let fake = FakeTenable::start(ACCESS, SECRET).with_credential("other", NAME, OLD);
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("has no managed credential named 'svc-nessus'");
    assert_eq!(updates(&fake), 0);
}

#[test]
fn two_credentials_with_the_name_are_never_guessed_between() {
    let fake = tenable().with_credential(NAME, "another-account", OLD);
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("lists 2 managed credentials named");
    assert_eq!(updates(&fake), 0);
}

#[test]
fn a_listed_credential_whose_uuid_is_no_uuid_is_never_sent_to() {
    let fake = FakeTenable::start(ACCESS, SECRET)
        .with_listed(json!({"uuid": "../../users/1/chpasswd", "name": NAME}));
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is not a Tenable uuid");
    assert_eq!(updates(&fake), 0);
}

#[test]
fn a_credential_that_authenticates_with_a_certificate_exits_2_naming_the_reason() {
    let fake =
        FakeTenable::start(ACCESS, SECRET).with_credential_auth(NAME, NAME, "", "certificate");
    rotate("default.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("authenticates with certificate");
    assert_eq!(updates(&fake), 0);
}

#[test]
fn a_security_center_credential_the_keys_may_only_use_exits_1() {
    let fake = tenable().read_only(NAME);
    rotate("security-center.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("may use the Tenable Security Center managed credential");
    assert_eq!(updates(&fake), 0);
}

#[test]
fn a_tenable_io_credential_the_keys_may_not_edit_exits_1_with_the_old_password_kept() {
    let fake = tenable().read_only(NAME);
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("HTTP 403");
    assert_eq!(fake.credential(NAME).expect("the credential").password, OLD);
}

#[test]
fn an_update_whose_answer_is_lost_exits_4_and_is_never_sent_again() {
    let fake = tenable();
    fake.arm("update_credential", 1, FaultKind::ApplyThen500)
        .expect("armed");
    rotate("default.json", &fake)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("may or may not hold the new password");
    assert_eq!(updates(&fake), 1);
}

#[test]
fn a_read_back_that_fails_after_the_update_exits_4() {
    let fake = tenable();
    fake.arm("get_credential", 2, FaultKind::Status500)
        .expect("armed");
    rotate("default.json", &fake)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("reading the credential back failed");
    assert_eq!(updates(&fake), 1);
    assert_eq!(fake.credential(NAME).expect("the credential").password, NEW);
}

#[test]
fn a_security_center_update_accepted_but_not_applied_exits_4() {
    let fake = tenable().ignoring_updates();
    rotate("security-center.json", &fake)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("its modifiedTime did not advance");
    assert_eq!(fake.credential(NAME).expect("the credential").password, OLD);
}

#[test]
fn another_secret_a_hostile_tenable_shows_in_clear_is_never_printed() {
    let fake = tenable().echoing_secrets();
    let out = rotate("default.json", &fake);
    out.assert_exit(1).assert_clean();
    assert!(
        !out.stderr.contains("Lk8#escalate-Vb3") && !out.stdout.contains("Lk8#escalate-Vb3"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_rate_limit_is_waited_out_with_retry_after() {
    let fake = tenable();
    fake.arm("update_credential", 1, FaultKind::Status429)
        .expect("armed");
    rotate("default.json", &fake).assert_exit(0).assert_clean();
    assert_eq!(fake.credential(NAME).expect("the credential").password, NEW);
    assert_eq!(updates(&fake), 2);
}

#[test]
fn wrong_keys_exit_1_naming_the_admin_record() {
    let fake = FakeTenable::start("0ther", SECRET).with_credential(NAME, NAME, OLD);
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("check tenable_access_key and tenable_secret_key");
    assert_eq!(updates(&fake), 0);
}

#[test]
fn a_dry_run_reads_the_credential_and_changes_nothing() {
    let fake = tenable();
    binary(&scenario("default.json", &fake))
        .arg("--dry-run")
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(
            "dry run: Tenable Vulnerability Management managed credential 'svc-nessus'",
        )
        .assert_stdout_has("Nothing was changed.");
    assert_eq!(updates(&fake), 0);
    assert_eq!(fake.credential(NAME).expect("the credential").password, OLD);
}

#[test]
fn no_admin_record_exits_2_naming_what_to_attach() {
    let fake = tenable();
    rotate("no-admin-record.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("no Tenable admin record found");
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
