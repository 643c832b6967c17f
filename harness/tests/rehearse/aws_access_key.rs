//! rotate-aws-access-key rehearsed, and faults on the vault.

use super::*;

#[test]
fn aws_access_key_rotates_from_a_commander_export() {
    let report = assert_rotated(&run("aws-access-key", "rotate-aws-access-key", &["--json"]));
    let aws = calls(&report, "aws");
    assert!(aws.contains(&"CreateAccessKey#1".to_owned()), "{aws:?}");
    assert!(aws.contains(&"DeleteAccessKey#1".to_owned()), "{aws:?}");
    let changed = changed(&report);
    for field in ["aws_access_key_id", "aws_secret_access_key", "CreateDate"] {
        assert!(
            changed.contains(&field.to_owned()),
            "{field} in {changed:?}"
        );
    }
    let secret = report["records"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "aws_secret_access_key")
        .unwrap();
    assert!(
        secret["after"]
            .as_str()
            .unwrap()
            .starts_with("secret sha256:"),
        "secrets are fingerprints: {secret}"
    );
}

#[test]
fn an_administrators_own_aws_endpoint_settings_never_take_the_rehearsal_off_the_machine() {
    // `.invalid` never resolves: before the fix the IAM calls went there
    // (the per-service variable outranks the fake's AWS_ENDPOINT_URL) and
    // the rehearsal failed with exit 1.
    let file = fixture("records/aws-access-key.json");
    let ran = harness_with_env(
        "rotate-aws-access-key",
        &file,
        &["run", "aws-access-key", "--records", &file, "--json"],
        &[
            ("AWS_ENDPOINT_URL_IAM", "https://iam.example.invalid"),
            ("AWS_ENDPOINT_URL_STS", "https://sts.example.invalid"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ],
    );
    let report = assert_rotated(&ran);
    assert!(calls(&report, "aws").contains(&"CreateAccessKey#1".to_owned()));
}

#[test]
fn aws_access_key_with_a_create_lost_after_it_applied_names_the_unknown_key() {
    let ran = run(
        "aws-access-key",
        "rotate-aws-access-key",
        &["--json", "--fault", "CreateAccessKey=drop-after-apply"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 4);
    assert!(changed(&report).iter().all(|f| f == "rotation_lease"));
    let keys = report["end_state"][0].as_str().unwrap();
    let unknown = keys
        .split(": ")
        .nth(1)
        .unwrap()
        .split(", ")
        .map(|k| k.split(' ').next().unwrap())
        .find(|k| *k != "AKIAEXISTING00000001")
        .unwrap_or_else(|| panic!("a second key: {keys}"));
    assert!(
        report["message"][0].as_str().unwrap().contains(unknown),
        "the message names {unknown}: {}",
        report["message"]
    );
}

#[test]
fn a_fault_on_the_vault_is_addressed_with_the_vault_prefix() {
    let ran = run(
        "aws-access-key",
        "rotate-aws-access-key",
        &[
            "--json",
            "--no-plan",
            "--fault",
            "vault.update_secret#2=late-save",
        ],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["faults"][0], "vault.update_secret#2=late-save");
    let vault = report["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "vault")
        .unwrap()["calls"]
        .as_array()
        .unwrap()
        .clone();
    let faulted: Vec<&Value> = vault.iter().filter(|c| c["fault"] == "late-save").collect();
    assert_eq!(faulted.len(), 1, "{vault:?}");
    assert_eq!(faulted[0]["call"], "update_secret");
    assert_eq!(faulted[0]["nth"], 2);
}
