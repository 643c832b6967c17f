//! common::vault against the fake Keeper vault, through the unmodified SDK.
//! The client runs as `harness vault get|set` (a subprocess, so the SDK gets
//! its proxy and CA from the environment as on a Gateway); the fake runs in
//! this test process.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::faults::{Armable, FaultError, FaultKind};
use harness::vault_cli::fingerprint;
use harness::{FakeVault, Fault, Outcome, Run};

const BIN: &str = env!("CARGO_BIN_EXE_harness");
const USER: &str = "PamUserUid000000000001";
/// Every secret value in fixtures/vault/records.json, and the ones tests write.
const SECRETS: [&str; 6] = [
    "vault-user-password-7a1",
    "old-secret-access-key-value-001",
    "admin-secret-access-key-value-01",
    "folder-record-password-9z",
    "new-secret-access-key-value-002",
    "AKIAADMIN00000000001",
];

fn vault() -> FakeVault {
    FakeVault::from_fixture("vault/records.json")
}

fn client(vault: &FakeVault, args: &[&str]) -> Run {
    let mut run = Run::new(BIN).arg("vault");
    for arg in args {
        run = run.arg(*arg);
    }
    for (key, value) in vault.env() {
        run = run.env(&key, value);
    }
    for secret in SECRETS {
        run = run.secret(secret);
    }
    run
}

fn get(vault: &FakeVault, uid: &str, fields: &[&str]) -> Outcome {
    let mut args = vec!["get", uid];
    for field in fields {
        args.push("--field");
        args.push(field);
    }
    client(vault, &args).run()
}

fn set(vault: &FakeVault, uid: &str, changes: &str) -> Outcome {
    client(vault, &["set", uid, "--timeout", "10"])
        .stdin(changes)
        .run()
}

const NEW_KEY: &str = r#"[{"label": "aws_access_key_id", "value": "AKIANEWKEY0000000002"},
    {"label": "aws_secret_access_key", "value": "new-secret-access-key-value-002", "secret": true}]"#;

#[test]
fn standard_and_custom_fields_are_read_by_type_and_label() {
    let vault = vault();
    get(
        &vault,
        USER,
        &[
            "login",
            "password",
            "aws_access_key_id",
            "aws_secret_access_key",
            "empty_field",
        ],
    )
    .assert_exit(0)
    .assert_stdout_has("record PamUserUid000000000001 'iam-user alice' (type pamUser, revision 1)")
    .assert_stdout_has("login: alice\n")
    .assert_stdout_has(&format!(
        "password: secret {}",
        fingerprint("vault-user-password-7a1")
    ))
    .assert_stdout_has("aws_access_key_id: AKIAOLDKEY0000000001\n")
    .assert_stdout_has("empty_field: (empty)");
    assert_eq!(vault.endpoints(), ["get_secret"]);
}

#[test]
fn pam_configuration_secret_fields_are_read_by_label() {
    let vault = vault();
    get(&vault, "PamConfigUid0000000001", &["accessSecretKey"])
        .assert_exit(0)
        .assert_stdout_has(&fingerprint("admin-secret-access-key-value-01"));
}

#[test]
fn records_inside_a_shared_folder_are_read() {
    let vault = vault();
    get(&vault, "FolderRecordUid0000001", &["login"])
        .assert_exit(0)
        .assert_stdout_has("login: folder-login");
}

#[test]
fn saving_sets_existing_fields_adds_missing_ones_and_bumps_the_revision() {
    let vault = vault();
    let changes = r#"[{"label": "aws_access_key_id", "value": "AKIANEWKEY0000000002"},
        {"label": "CreateDate", "value": "2026-11-22T10:00:00Z"},
        {"label": "aws_secret_access_key", "value": "new-secret-access-key-value-002", "secret": true},
        {"label": "brand_new_secret", "value": "new-secret-access-key-value-002", "secret": true}]"#;
    set(&vault, USER, changes)
        .assert_exit(0)
        .assert_stdout_has("saved 4 field(s)");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    assert_eq!(
        vault.field(USER, "CreateDate").as_deref(),
        Some("2026-11-22T10:00:00Z")
    );
    assert_eq!(
        vault.custom_field_type(USER, "CreateDate").as_deref(),
        Some("text")
    );
    assert_eq!(
        vault.custom_field_type(USER, "brand_new_secret").as_deref(),
        Some("secret")
    );
    // An existing field keeps its type.
    assert_eq!(
        vault
            .custom_field_type(USER, "aws_secret_access_key")
            .as_deref(),
        Some("secret")
    );
    assert_eq!(vault.field(USER, "login").as_deref(), Some("alice"));
    assert_eq!(vault.revision(USER), Some(2));
    assert_eq!(vault.endpoints(), ["get_secret", "update_secret"]);
}

#[test]
fn a_concurrent_edit_is_kept_and_only_our_fields_are_reapplied() {
    let vault = vault();
    vault.fault_on(
        "update_secret",
        Fault::ConcurrentEdit {
            label: "aws_region".into(),
            value: "ap-south-1".into(),
        },
        1,
    );
    set(&vault, USER, NEW_KEY)
        .assert_exit(0)
        .assert_stderr_has("revision conflict");
    assert_eq!(
        vault.field(USER, "aws_region").as_deref(),
        Some("ap-south-1")
    );
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    assert_eq!(
        vault.endpoints(),
        ["get_secret", "update_secret", "get_secret", "update_secret"]
    );
}

#[test]
fn endless_conflicts_give_up_after_three_attempts_with_exit_1() {
    let vault = vault();
    vault.fault_on("update_secret", Fault::StaleRevision, 3);
    set(&vault, USER, NEW_KEY)
        .assert_exit(1)
        .assert_stderr_has("3 times in a row (revision conflicts); it was not saved");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIAOLDKEY0000000001")
    );
}

#[test]
fn throttling_is_waited_out_then_the_read_succeeds() {
    let vault = vault();
    vault.fault(Fault::Throttle { retry_after: 0.05 }, 2);
    get(&vault, USER, &["login"])
        .assert_exit(0)
        .assert_stdout_has("login: alice");
    assert_eq!(vault.endpoints().len(), 3);
}

#[test]
fn throttling_past_the_deadline_stops_at_the_deadline() {
    let vault = vault();
    vault.fault(Fault::Throttle { retry_after: 600.0 }, 1);
    let out = client(&vault, &["get", USER, "--timeout", "2"]).run();
    out.assert_exit(1).assert_stderr_has("no answer in time");
    assert!(out.elapsed < Duration::from_secs(6), "{}", out.output());
}

#[test]
fn a_500_is_a_clear_error() {
    let vault = vault();
    vault.fault(Fault::ServerError, 1);
    get(&vault, USER, &["login"])
        .assert_exit(1)
        .assert_stderr_has("reading record PamUserUid000000000001 in the vault failed")
        .assert_stderr_has("internal_error");
}

#[test]
fn a_dropped_read_is_read_again() {
    let vault = vault();
    vault.fault(Fault::Drop, 1);
    get(&vault, USER, &["login"])
        .assert_exit(0)
        .assert_stderr_has("reading it again (attempt 2 of 3)")
        .assert_stdout_has("login: alice");
}

#[test]
fn a_read_dropped_every_time_is_a_clear_error() {
    let vault = vault();
    vault.fault(Fault::Drop, 3);
    get(&vault, USER, &["login"])
        .assert_exit(1)
        .assert_stderr_has("reading record PamUserUid000000000001 in the vault failed");
}

#[test]
fn a_save_lost_on_the_way_is_sent_again_at_the_same_revision_and_lands_once() {
    let vault = vault();
    vault.fault_on("update_secret", Fault::Drop, 1);
    set(&vault, USER, NEW_KEY)
        .assert_exit(0)
        .assert_stderr_has("is unchanged; saving again at the same revision");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    assert_eq!(vault.revision(USER), Some(2), "saved exactly once");
}

#[test]
fn a_save_that_lands_after_the_client_gave_up_is_refused_as_stale() {
    let vault = vault();
    // The first save is held for 3 s and then applied with the revision it
    // carried; the client gives up after 1 s, reads the record back
    // (unchanged), and saves again at that revision.
    vault.fault_on("update_secret", Fault::Delay(Duration::from_secs(3)), 1);
    let out = client(&vault, &["set", USER])
        .stdin(NEW_KEY)
        .env("KEEPER_ROTATOR_REQUEST_TIMEOUT", "1")
        .run();
    out.assert_exit(0)
        .assert_stderr_has("saving again at the same revision");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(vault.revision(USER), Some(2), "the late save was refused");
    let updates = vault
        .endpoints()
        .iter()
        .filter(|e| *e == "update_secret")
        .count();
    assert_eq!(updates, 2);
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
}

#[test]
fn a_lost_save_whose_record_moved_on_meanwhile_is_reported_as_not_saved() {
    let vault = vault();
    vault.fault_on(
        "update_secret",
        Fault::DropAfterOtherEdit {
            label: "note".into(),
            value: "edited by someone else".into(),
        },
        1,
    );
    set(&vault, USER, NEW_KEY)
        .assert_exit(1)
        .assert_stderr_has("at a newer revision, so the unanswered save can no longer be applied");
    assert_eq!(
        vault.field(USER, "note").as_deref(),
        Some("edited by someone else")
    );
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIAOLDKEY0000000001")
    );
}

#[test]
fn a_read_back_from_a_lagging_replica_proves_nothing_and_is_read_again() {
    let vault = vault();
    // Someone edited the record once (revision 2), so a replica one write
    // behind serves revision 1.
    vault.set_custom_field(USER, "note", "edited before the run");
    // The save is held 3 s and then applied with the revision it carried;
    // the client gives up after 1 s and reads back from the lagging replica.
    vault.fault_on("update_secret", Fault::Delay(Duration::from_secs(3)), 1);
    vault.fault_at("get_secret", 2, Fault::StaleRead);
    let out = client(&vault, &["set", USER])
        .stdin(NEW_KEY)
        .env("KEEPER_ROTATOR_REQUEST_TIMEOUT", "1")
        .run();
    out.assert_exit(0)
        .assert_stderr_has("the read lags; reading it again")
        .assert_stderr_has("saving again at the same revision");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(vault.revision(USER), Some(3), "saved exactly once");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
}

#[test]
fn a_save_whose_answer_was_lost_is_read_back_and_counts_as_saved() {
    let vault = vault();
    vault.fault_on("update_secret", Fault::DropAfterApply, 1);
    set(&vault, USER, NEW_KEY)
        .assert_exit(0)
        .assert_stderr_has("was saved after all");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
}

#[test]
fn a_save_whose_outcome_cannot_be_checked_exits_4() {
    let vault = vault();
    vault.fault_on("update_secret", Fault::Drop, 1);
    // The fetch before the save goes through; the read-back after it fails.
    vault.fault_on_after("get_secret", 1, Fault::ServerError);
    set(&vault, USER, NEW_KEY)
        .assert_exit(4)
        .assert_no_panic()
        .assert_stderr_has("so whether it was saved is unknown");
}

#[test]
fn an_answer_without_folders_is_an_error_not_a_panic() {
    let vault = vault();
    vault.fault(Fault::MissingFolders, 3);
    get(&vault, USER, &["login"])
        .assert_exit(1)
        .assert_no_panic()
        .assert_stderr_has("the vault's answer could not be read (the Keeper SDK crashed at keeper-secrets-manager-core-17.3.0/src/core/core.rs:");
}

#[test]
fn an_unencrypted_answer_is_an_error() {
    let vault = vault();
    vault.fault(Fault::Unencrypted, 3);
    get(&vault, USER, &["login"])
        .assert_exit(1)
        .assert_no_panic();
}

#[test]
fn a_plain_text_error_body_is_an_error() {
    let vault = vault();
    vault.fault(Fault::NotJson, 3);
    get(&vault, USER, &["login"])
        .assert_exit(1)
        .assert_stderr_has("in the vault failed");
}

#[test]
fn a_field_whose_value_is_not_a_list_is_invalid_not_a_panic() {
    let vault = vault();
    get(&vault, "BadShapeRecordUid00001", &["login"])
        .assert_exit(2)
        .assert_no_panic()
        .assert_stderr_has("'login' in record 'record with a malformed field' (uid BadShapeRecordUid00001) is invalid: its value is a string, expected a list");
    get(&vault, "BadShapeRecordUid00001", &["nested"])
        .assert_exit(2)
        .assert_stderr_has("holds an object, expected text");
}

#[test]
fn a_record_not_shared_with_the_application_exits_2_naming_it() {
    let vault = vault();
    get(&vault, "NotSharedUid0000000001", &[])
        .assert_exit(2)
        .assert_stderr_has("record NotSharedUid0000000001 is not in the vault, or not shared");
}

#[test]
fn the_traffic_is_encrypted_end_to_end() {
    let vault = vault();
    get(&vault, USER, &["password", "aws_secret_access_key"]).assert_exit(0);
    get(&vault, "FolderRecordUid0000001", &["password"]).assert_exit(0);
    set(&vault, USER, NEW_KEY).assert_exit(0);
    let wire = vault.wire();
    assert!(wire.len() > 1000, "too little traffic captured");
    let text = String::from_utf8_lossy(&wire);
    for secret in SECRETS
        .iter()
        .chain(["alice", "aws_access_key_id", "iam-user alice"].iter())
    {
        assert!(
            !text.contains(secret),
            "{secret} crossed the wire in the clear"
        );
    }
    assert!(text.contains("POST /api/rest/sm/v1/update_secret"));
}

// --- the Gateway's KSM config ------------------------------------------------

fn with_config(vault: &FakeVault, config: &std::path::Path) -> Run {
    client(vault, &["get", USER, "--field", "login"])
        .env("KEEPER_GATEWAY_CONFIG", config.display().to_string())
}

#[test]
fn a_base64_config_with_unknown_keys_is_accepted() {
    use base64::Engine;
    let vault = vault();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vault.config_path()).unwrap()).unwrap();
    config["somethingTheGatewayAdds"] = serde_json::json!({"nested": true});
    config["clientKey"] = serde_json::json!("one-time-token");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.b64");
    std::fs::write(
        &path,
        base64::engine::general_purpose::STANDARD.encode(config.to_string()),
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    with_config(&vault, &path)
        .run()
        .assert_exit(0)
        .assert_stdout_has("login: alice");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the config file must never be written"
    );
}

#[test]
fn a_missing_config_exits_2_naming_the_variable() {
    let vault = vault();
    with_config(
        &vault,
        std::path::Path::new("/nonexistent/gateway-config.json"),
    )
    .run()
    .assert_exit(2)
    .assert_stderr_has(
        "/nonexistent/gateway-config.json does not exist; set KEEPER_GATEWAY_CONFIG",
    );
}

#[test]
fn an_unreadable_config_exits_2() {
    let vault = vault();
    let dir = tempfile::tempdir().unwrap();
    with_config(&vault, dir.path())
        .run()
        .assert_exit(2)
        .assert_stderr_has("cannot read the Gateway's KSM config");
}

#[test]
fn a_config_that_is_not_json_exits_2() {
    let vault = vault();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, "{ this is not json").unwrap();
    with_config(&vault, &path)
        .run()
        .assert_exit(2)
        .assert_stderr_has("is neither a JSON object nor base64 of one");
}

#[test]
fn a_config_without_app_key_exits_2_before_any_binding() {
    let vault = vault();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(vault.config_path()).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("appKey");
    config.as_object_mut().unwrap().remove("privateKey");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    with_config(&vault, &path)
        .run()
        .assert_exit(2)
        .assert_stderr_has("lacks privateKey, appKey");
    assert!(vault.endpoints().is_empty());
}

// --- the ways the real service fails a rotator -----------------------------------

/// `harness vault set` with a deadline long enough for every fault below.
fn set_run(vault: &FakeVault, changes: &str) -> Run {
    client(vault, &["set", USER, "--timeout", "10"]).stdin(changes)
}

const NEW_REGION: &str = r#"[{"label": "aws_region", "value": "ap-south-1"}]"#;

/// Polls `check` for up to five seconds.
fn eventually(check: impl Fn() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

#[test]
fn a_late_save_lands_after_the_client_gave_up() {
    let vault = vault();
    vault.fault_at(
        "update_secret",
        1,
        Fault::LateApply(Duration::from_millis(2500)),
    );
    let out = client(&vault, &["set", USER, "--timeout", "2"])
        .stdin(NEW_KEY)
        .run();
    assert_ne!(out.code, Some(0), "{}", out.output());
    out.assert_no_panic();
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIAOLDKEY0000000001"),
        "not applied while the client waited"
    );
    assert!(eventually(|| vault
        .field(USER, "aws_access_key_id")
        .as_deref()
        == Some("AKIANEWKEY0000000002")));
    assert_eq!(vault.revision(USER), Some(2));
}

#[test]
fn a_late_save_behind_a_newer_revision_is_rejected_as_stale() {
    let vault = vault();
    vault.set_hold(Duration::from_secs(1));
    vault.arm("update_secret", 1, FaultKind::LateSave).unwrap();
    let running = set_run(&vault, NEW_KEY).spawn();
    vault.wait_for("update_secret", 1);
    // Another writer saves while the first save is held.
    vault.set_custom_field(USER, "aws_region", "ap-south-1");
    running
        .wait()
        .assert_exit(0)
        .assert_stderr_has("revision conflict");
    let wire = String::from_utf8_lossy(&vault.wire()).into_owned();
    assert!(
        wire.contains("out_of_sync"),
        "the late save was not rejected"
    );
    assert_eq!(
        vault.endpoints(),
        ["get_secret", "update_secret", "get_secret", "update_secret"]
    );
    assert_eq!(
        vault.field(USER, "aws_region").as_deref(),
        Some("ap-south-1")
    );
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    assert_eq!(vault.revision(USER), Some(3));
}

#[test]
fn apply_then_hold_saves_at_once_and_never_answers() {
    let vault = vault();
    vault.set_hold(Duration::from_millis(300));
    vault
        .arm("update_secret", 1, FaultKind::TimeoutAfterApply)
        .unwrap();
    set_run(&vault, NEW_KEY)
        .run()
        .assert_exit(0)
        .assert_stderr_has("was saved after all");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    // The client had to read the record back: no answer came.
    assert_eq!(
        vault.endpoints(),
        ["get_secret", "update_secret", "get_secret"]
    );
}

#[test]
fn apply_then_error_saves_and_answers_a_load_balancers_json_5xx() {
    let vault = vault();
    vault.fault_at("update_secret", 1, Fault::ApplyThenError(502));
    let out = set_run(&vault, NEW_KEY).run();
    out.assert_no_panic().assert_stderr_has("upstream_error");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    let wire = String::from_utf8_lossy(&vault.wire()).into_owned();
    assert!(wire.contains("HTTP/1.1 502 Bad Gateway"), "{wire}");
}

#[test]
fn a_truncated_read_is_an_error_not_a_panic() {
    let vault = vault();
    for nth in 1..=3 {
        vault.fault_at("get_secret", nth, Fault::Truncated);
    }
    get(&vault, USER, &["login"])
        .assert_exit(1)
        .assert_no_panic();
    assert_eq!(vault.endpoints(), ["get_secret"; 3]);
}

#[test]
fn a_truncated_save_is_applied_and_its_answer_cut_after_the_status_line() {
    let vault = vault();
    vault
        .arm("update_secret", 1, FaultKind::Truncated2xx)
        .unwrap();
    set_run(&vault, NEW_KEY).run().assert_no_panic();
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    let wire = String::from_utf8_lossy(&vault.wire()).into_owned();
    let after_update = &wire[wire.find("/update_secret").unwrap()..];
    let answer = &after_update[after_update.find("HTTP/1.1 ").unwrap()..];
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        !answer.starts_with("HTTP/1.1 200 OK\r\nContent-Type"),
        "{answer}"
    );
}

#[test]
fn refused_at_the_save_refuses_it_before_it_is_sent() {
    let clean = {
        let vault = vault();
        set_run(&vault, NEW_KEY).run().assert_exit(0);
        vault.call_sequence()
    };
    let vault = vault();
    assert_eq!(vault.refuse_at(&clean, "update_secret", 1), Ok(2));
    let out = set_run(&vault, NEW_KEY).run();
    assert_ne!(out.code, Some(0), "{}", out.output());
    out.assert_no_panic();
    assert!(vault.is_down());
    assert_eq!(vault.endpoints(), ["get_secret"]);
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIAOLDKEY0000000001")
    );
    get(&vault, USER, &["login"]).assert_exit(1);
    assert_eq!(
        vault.endpoints(),
        ["get_secret"],
        "nothing more got through"
    );
}

#[test]
fn a_refused_fault_takes_the_vault_down_without_applying() {
    let vault = vault();
    vault.fault_on("update_secret", Fault::Refused, 1);
    let out = set_run(&vault, NEW_KEY).run();
    assert_ne!(out.code, Some(0), "{}", out.output());
    assert!(vault.is_down());
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIAOLDKEY0000000001")
    );
    get(&vault, USER, &["login"]).assert_exit(1);
}

#[test]
fn arming_by_kind_maps_to_the_vaults_own_faults() {
    let vault = vault();
    vault.arm("get_secret", 2, FaultKind::Status500).unwrap();
    get(&vault, USER, &["login"]).assert_exit(0);
    get(&vault, USER, &["login"])
        .assert_exit(1)
        .assert_stderr_has("internal_error");
    assert!(matches!(
        vault.arm("delete_secret", 1, FaultKind::Status500),
        Err(FaultError::UnknownCall { .. })
    ));
    assert_eq!(
        vault.arm("get_secret", 1, FaultKind::Status500),
        Err(FaultError::AlreadyPassed {
            call: "get_secret".into(),
            nth: 1
        })
    );
    assert_eq!(
        vault.arm("update_secret", 1, FaultKind::Refused),
        Err(FaultError::RefusedNeedsIndex)
    );
}

#[test]
fn two_overlapping_saves_both_land_when_the_first_answer_is_held() {
    let vault = vault();
    let gate = vault.hold("update_secret", 1);
    let (first, second) = harness::runner::overlap(
        set_run(&vault, NEW_KEY),
        set_run(&vault, NEW_REGION),
        || vault.wait_for("update_secret", 1),
        |_| gate.release(),
    );
    first.assert_exit(0);
    second.assert_exit(0);
    assert_eq!(
        vault.endpoints(),
        ["get_secret", "update_secret", "get_secret", "update_secret"]
    );
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIANEWKEY0000000002")
    );
    assert_eq!(
        vault.field(USER, "aws_region").as_deref(),
        Some("ap-south-1")
    );
    assert_eq!(vault.revision(USER), Some(3));
}
