//! Issue 23: every record holding the secret being retired.

use super::*;

const CONFIG_UID: &str = "AzureConfigUid00000001";
const SELF_UID: &str = "AzureSelfUserUid000001";

#[test]
fn a_self_rotation_gives_the_pam_configuration_the_new_secret_before_the_old_one_is_removed() {
    // The admin application's secret sits in the attached admin record and in
    // the PAM configuration's clientSecret (the Gateway's own credential).
    let w = world();
    assert_eq!(
        w.vault().field(CONFIG_UID, "clientSecret").as_deref(),
        Some(ADMIN_SECRET)
    );
    let out = w.run("self-rotation.json", &[]);
    out.assert_exit(0);
    let key_id = w.assert_vault_holds_a_live_secret(SELF_UID, ADMIN_APP);
    assert_eq!(w.key_ids(ADMIN_APP), [key_id]);
    assert_eq!(
        w.vault().field(CONFIG_UID, "clientSecret"),
        w.vault().field(SELF_UID, "client_secret"),
        "the PAM configuration is left holding a removed secret\n{}",
        out.output()
    );
}

/// The Azure fixture's vault without the PAM configuration: a record the
/// Gateway's KSM application is not shared.
fn vault_without_the_pam_configuration() -> FakeVault {
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let shared: Vec<serde_json::Value> = records
        .into_iter()
        .filter(|r| r["uid"] != CONFIG_UID)
        .collect();
    FakeVault::start(&shared)
}

#[test]
fn a_pam_configuration_holding_the_secret_that_cannot_be_written_keeps_it_and_exits_3_naming_it() {
    let w = world();
    let w = w.with_vault(vault_without_the_pam_configuration());
    // The Gateway sends the PAM configuration with the admin's secret; the
    // vault does not show it to the Gateway's application.
    let scenario = Scenario::load("scenarios/azure-app-secret/self-rotation.json").record_field(
        CONFIG_UID,
        "clientSecret",
        ADMIN_SECRET.into(),
    );
    let out = w.runner_for(&scenario, &[]).run();
    assert_eq!(out.find_leak(&w.azure().issued()), None, "{}", out.output());
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "record 'Azure PAM configuration' (uid {CONFIG_UID})"
        ))
        .assert_stderr_has("were kept and are still valid");
    let key_id = w.assert_vault_holds_a_live_secret(SELF_UID, ADMIN_APP);
    let mut live = w.key_ids(ADMIN_APP);
    live.sort();
    let mut expected = vec!["admin-key-1".to_owned(), key_id];
    expected.sort();
    assert_eq!(
        live, expected,
        "the secret the PAM configuration holds was removed"
    );
}

#[test]
fn a_refused_save_of_the_pam_configuration_keeps_the_old_secret_and_exits_3() {
    let w = world();
    // Saves: the lease, the self-rotation record, the admin record, then the
    // PAM configuration, which the vault refuses for good (its revision
    // check fails on every attempt).
    w.vault()
        .fault_on_after("update_secret", 3, Fault::StaleRevision);
    w.vault().fault_on("update_secret", Fault::StaleRevision, 3);
    let out = w.run("self-rotation.json", &[]);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "(uid {CONFIG_UID}) holds the client secret being retired"
        ));
    assert_eq!(
        w.vault().field(CONFIG_UID, "clientSecret").as_deref(),
        Some(ADMIN_SECRET)
    );
    assert!(
        w.key_ids(ADMIN_APP).contains(&"admin-key-1".to_owned()),
        "the secret the PAM configuration holds was removed\n{}",
        out.output()
    );
}

#[test]
fn an_attached_record_holding_the_target_secret_gets_the_new_one_before_it_is_removed() {
    // A consumer's record, attached to the script, holds the same secret as
    // the PAM User record.
    let consumer = serde_json::json!({
        "uid": "AzureConsumerUid000001",
        "type": "login",
        "title": "payroll consumer",
        "fields": [{"type": "password", "value": ["target~old~secret~2026~0000000000000002"]}],
        "custom": []
    });
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    records.push(consumer);
    let w = world();
    let w = w.with_vault(FakeVault::start(&records));
    let path = harness::inputs::scenario::fixtures_dir()
        .join("scenarios/azure-app-secret/admin-record.json");
    let mut scenario: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario["records"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "uid": "AzureConsumerUid000001",
            "title": "payroll consumer",
            "password": "target~old~secret~2026~0000000000000002"
        }));
    let scenario = Scenario::from_json(&scenario.to_string()).unwrap();
    let out = w.runner_for(&scenario, &[]).run();
    assert_eq!(out.find_leak(&w.azure().issued()), None, "{}", out.output());
    out.assert_exit(0);
    w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(
        w.vault().field("AzureConsumerUid000001", "password"),
        w.vault().field(USER_UID, "client_secret"),
        "the consumer's record is left holding a removed secret\n{}",
        out.output()
    );
}

#[test]
fn a_secret_held_in_a_field_the_write_cannot_reach_is_kept_and_no_other_field_is_overwritten() {
    // The PAM configuration has two fields called clientSecret: the standard
    // one holds something else, a custom one the admin's secret. Writing
    // "clientSecret" reaches the standard one.
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let config = records.iter_mut().find(|r| r["uid"] == CONFIG_UID).unwrap();
    for field in config["fields"].as_array_mut().unwrap() {
        if field["label"] == "clientSecret" {
            field["value"] = serde_json::json!(["unrelated~value~0000000000000009"]);
        }
    }
    config["custom"] = serde_json::json!([
        {"type": "secret", "label": "clientSecret", "value": [ADMIN_SECRET]}
    ]);
    let w = world();
    let w = w.with_vault(FakeVault::start(&records));
    let out = w.run("self-rotation.json", &[]);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has("a second field called clientSecret, which cannot be written in place");
    assert_eq!(
        w.vault().field(CONFIG_UID, "clientSecret").as_deref(),
        Some("unrelated~value~0000000000000009"),
        "another field was overwritten\n{}",
        out.output()
    );
    assert!(w.key_ids(ADMIN_APP).contains(&"admin-key-1".to_owned()));
}

#[test]
fn a_pam_configuration_of_the_rotated_application_gets_the_new_secret_when_another_admin_rotates_it()
 {
    // The PAM configuration holds the target application's client id and its
    // 2025 secret (one the PAM User record does not hold); the attached admin
    // record, another application, does the rotation. The input carries the
    // PAM configuration with its uid and title only.
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let config = records.iter_mut().find(|r| r["uid"] == CONFIG_UID).unwrap();
    for field in config["fields"].as_array_mut().unwrap() {
        if field["label"] == "clientId" {
            field["value"] = serde_json::json!([TARGET_APP]);
        }
        if field["label"] == "clientSecret" {
            field["value"] = serde_json::json!(["target~old~secret~2025~0000000000000001"]);
        }
    }
    let w = world();
    let w = w.with_vault(FakeVault::start(&records));
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0);
    let key_id = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [key_id]);
    assert_eq!(
        w.vault().field(CONFIG_UID, "clientSecret"),
        w.vault().field(USER_UID, "client_secret"),
        "the PAM configuration is left holding a removed secret\n{}",
        out.output()
    );
}
