//! rotate-azure-app-secret rehearsed.

use super::*;

#[test]
fn azure_app_secret_rotates_from_a_commander_export() {
    let report = assert_rotated(&run(
        "azure-app-secret",
        "rotate-azure-app-secret",
        &["--json"],
    ));
    let azure = calls(&report, "azure");
    assert!(azure.contains(&"addPassword#1".to_owned()), "{azure:?}");
    // the record's secret and the older one it does not hold
    assert!(azure.contains(&"removePassword#2".to_owned()), "{azure:?}");
    let changed = changed(&report);
    for field in ["client_secret_id", "client_secret", "expires"] {
        assert!(
            changed.contains(&field.to_owned()),
            "{field} in {changed:?}"
        );
    }
}

#[test]
fn azure_app_secret_with_a_lost_add_password_revokes_it_and_changes_nothing() {
    let ran = run(
        "azure-app-secret",
        "rotate-azure-app-secret",
        &["--json", "--fault", "addPassword=drop-after-apply"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 1);
    assert!(changed(&report).iter().all(|f| f == "rotation_lease"));
    assert!(calls(&report, "azure").contains(&"removePassword#1".to_owned()));
}

/// The Azure fixture with one more PAM User: the admin application rotating
/// its own secret (named by its client id), whose secret the attached admin
/// record and the PAM configuration's clientSecret both hold.
fn azure_self_rotation_export(dir: &std::path::Path) -> String {
    let mut export: Value = serde_json::from_str(include_str!(
        "../../../fixtures/records/azure-app-secret.json"
    ))
    .unwrap();
    export["records"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "title": "keeper-admin rotation",
            "uid": "AzureSelfUserUid000001",
            "$type": "pamUser",
            "login": "keeper-admin",
            "custom_fields": {
                "$text:application_object_id": "11111111-0000-4000-8000-00000000a001",
                "$text:verify_interval_seconds": "0.2",
                "$text:verify_timeout_seconds": "20"
            }
        }));
    let path = dir.join("azure-self-rotation.json");
    std::fs::write(&path, export.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn an_azure_self_rotation_rehearsal_checks_the_pam_configuration_that_held_the_old_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = azure_self_rotation_export(dir.path());
    let ran = harness(
        "rotate-azure-app-secret",
        &file,
        &[
            "run",
            "azure-app-secret",
            "--records",
            &file,
            "--user",
            "AzureSelfUserUid000001",
            "--attach",
            "AzureAdminRecordUid001",
            "--json",
        ],
    );
    let report = ran.json();
    // The verdict reads every record that held the removed secret: a PAM
    // configuration left holding it is inconsistent.
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 0, "{}", report["stderr"]);
    let config: Vec<String> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["uid"] == "AzureConfigUid00000001")
        .flat_map(|r| r["fields"].as_array().unwrap().clone())
        .filter(|f| f["changed"] == true)
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(config, ["clientSecret"], "{}", report["records"]);
}
