//! `harness run`, end to end through the real harness binary: each use case
//! rehearsed from a Commander-shaped export (`fixtures/records/`), with and
//! without a fault, `--dry-run`, `--faults all`, a scenario file, and the
//! errors an administrator can make on the command line.
//!
//! The rotators are the ones next to the harness binary, or in
//! `KEEPER_ROTATORS_BIN_DIR` (see `harness::binary`), passed with
//! `--bin-dir`. Every output of every harness run is scanned for the
//! fixture's secrets and for the password the harness makes up.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::PathBuf;
use std::time::Duration;

use harness::Binary;
use harness::inputs::commander;
use serde_json::Value;

/// The rotators' directory: where `KEEPER_ROTATORS_BIN_DIR` says, else next
/// to the harness (built by `cargo nextest run --workspace`).
fn bin_dir(rotator: &'static str) -> PathBuf {
    let harness = PathBuf::from(env!("CARGO_BIN_EXE_harness"));
    let built = harness.with_file_name(rotator).display().to_string();
    let path = Binary::new(rotator, Box::leak(built.into_boxed_str())).path();
    path.parent().expect("a directory").to_owned()
}

fn fixture(name: &str) -> String {
    harness::inputs::scenario::fixtures_dir()
        .join(name)
        .display()
        .to_string()
}

/// What one harness run printed.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Every value under a secret-named field in `file` (as the Gateway would
/// send it, and as the binaries redact it).
fn secrets_of(file: &str) -> Vec<String> {
    let loaded = commander::load(&[PathBuf::from(file)]).unwrap();
    let mut secrets: Vec<String> = loaded
        .records
        .iter()
        .flat_map(|r| r.all_fields().cloned().collect::<Vec<_>>())
        .filter(|f| {
            common::records::names_a_secret(f.key())
                || f.key().eq_ignore_ascii_case("privatePEMKey")
        })
        .filter_map(|f| f.text())
        .collect();
    // A private key's lines leak as surely as the whole key.
    let lines: Vec<String> = secrets
        .iter()
        .filter(|s| s.contains("-----BEGIN"))
        .flat_map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .collect();
    secrets.extend(lines);
    if let Some(scenario) = &loaded.scenario {
        for (key, value) in scenario
            .params
            .iter()
            .chain(scenario.dicts.iter().flat_map(|d| d.iter()))
        {
            if key.ends_with("Password") || common::records::names_a_secret(key) {
                secrets.extend(value.as_str().map(str::to_owned));
            }
        }
    }
    secrets.retain(|s| s.len() >= 6);
    secrets
}

/// Runs the harness with `args`; fails if any output holds a secret of the
/// records file or the password the harness makes up.
fn harness(rotator: &'static str, records_file: &str, args: &[&str]) -> Ran {
    harness_with_env(rotator, records_file, args, &[])
}

/// [`harness`] with more variables in the harness's environment.
fn harness_with_env(
    rotator: &'static str,
    records_file: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Ran {
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_harness"))
        .envs(env.iter().copied())
        .args(args)
        .arg("--bin-dir")
        .arg(bin_dir(rotator))
        .env_remove("KEEPER_ROTATOR_LOG")
        .timeout(Duration::from_secs(600))
        .output()
        .expect("the harness runs");
    let ran = Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let mut secrets = secrets_of(records_file);
    // The tail of every newPassword the harness makes up, in every form.
    secrets.push("\"q'\\$é9".into());
    let outcome = harness::Outcome {
        code: ran.code,
        stdout: ran.stdout.clone(),
        stderr: ran.stderr.clone(),
        elapsed: Duration::ZERO,
    };
    assert_eq!(
        outcome.find_leak(&secrets),
        None,
        "the harness printed a secret"
    );
    ran
}

fn run(use_case: &str, rotator: &'static str, extra: &[&str]) -> Ran {
    let file = fixture(&format!("records/{use_case}.json"));
    let mut args = vec!["run", use_case, "--records", &file];
    args.extend_from_slice(extra);
    harness(rotator, &file, &args)
}

/// The report's fields of the PAM User record that changed.
fn changed(report: &Value) -> Vec<String> {
    let user = report["roles"]["user"]["uid"].as_str().unwrap().to_owned();
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["uid"] == user.as_str())
        .flat_map(|r| r["fields"].as_array().unwrap().clone())
        .filter(|f| f["changed"] == true)
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The calls one service received, as `call#nth`.
fn calls(report: &Value, service: &str) -> Vec<String> {
    report["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["service"] == service)
        .flat_map(|s| s["calls"].as_array().unwrap().clone())
        .map(|c| format!("{}#{}", c["call"].as_str().unwrap(), c["nth"]))
        .collect()
}

fn assert_consistent(ran: &Ran, report: &Value) {
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(
        report["verdict"]["consistent"], true,
        "{}",
        report["verdict"]
    );
    assert_eq!(report["leak_scan"]["found"], Value::Null);
}

/// The run rotated, the plan came first, and the export was read as one.
fn assert_rotated(ran: &Ran) -> Value {
    let report = ran.json();
    assert_consistent(ran, &report);
    assert_eq!(report["exit_code"], 0, "{}", report["stderr"]);
    assert_eq!(report["exit_meaning"], "rotated");
    assert_eq!(report["sources"][0]["shape"], "commander-export");
    assert_eq!(report["plan"]["exit_code"], 0);
    assert!(
        report["plan"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("dry run:"),
        "{}",
        report["plan"]
    );
    report
}

#[test]
fn rest_api_rotates_from_a_commander_export() {
    let report = assert_rotated(&run("rest-api", "rotate-rest-api", &["--json"]));
    assert_eq!(calls(&report, "rest"), ["POST /v1/password#1"]);
    assert_eq!(
        changed(&report),
        ["password"],
        "the Gateway stores newPassword"
    );
    let call = &report["calls"][0]["calls"][0]["detail"];
    assert!(
        call.as_str()
            .unwrap()
            .contains("authorization: Bearer ********"),
        "{call}"
    );
}

#[test]
fn rest_api_with_an_answer_that_never_comes_is_uncertain_and_says_so() {
    let ran = run(
        "rest-api",
        "rotate-rest-api",
        &["--json", "--fault", "POST /v1/password=timeout-after-apply"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(
        report["faults"][0],
        "rest.POST /v1/password#1=timeout-after-apply"
    );
    assert_eq!(report["exit_code"], 4);
    assert_eq!(report["calls"][0]["calls"][0]["status"], Value::Null);
    assert!(
        report["end_state"][0]
            .as_str()
            .unwrap()
            .contains("the new password"),
        "the change was applied: {}",
        report["end_state"]
    );
    assert!(
        changed(&report).is_empty(),
        "the Gateway stores nothing on exit 4"
    );
    assert!(!report["message"].as_array().unwrap().is_empty());
}

#[test]
fn okta_user_rotates_from_a_commander_export() {
    let report = assert_rotated(&run("okta-user", "rotate-okta-user", &["--json"]));
    // The sign-in after the change proves the new password (issue 23).
    assert_eq!(
        calls(&report, "okta"),
        ["get_user#1", "change_password#1", "authn#1"]
    );
    assert_eq!(changed(&report), ["password"]);
    assert!(
        report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("points at the fake Okta org")),
        "{}",
        report["notes"]
    );
}

#[test]
fn okta_user_with_a_change_lost_after_it_applied_is_uncertain() {
    let ran = run(
        "okta-user",
        "rotate-okta-user",
        &["--json", "--fault", "change_password=drop-after-apply"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 4);
    assert_eq!(report["calls"][0]["calls"][1]["fault"], "drop-after-apply");
}

#[test]
fn ssh_user_rotates_from_a_commander_export() {
    let report = assert_rotated(&run("ssh-user", "rotate-ssh-user", &["--json"]));
    let ssh = calls(&report, "ssh");
    for call in ["write-keys#1", "auth-publickey#1", "sudo-chpasswd#1"] {
        assert!(ssh.contains(&call.to_owned()), "{call} in {ssh:?}");
    }
    let changed = changed(&report);
    for field in ["password", "privatePEMKey", "Public Key"] {
        assert!(
            changed.contains(&field.to_owned()),
            "{field} in {changed:?}"
        );
    }
    assert!(
        report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("points at the fake machine")),
        "{}",
        report["notes"]
    );
}

#[test]
fn ssh_user_with_chpasswd_cut_off_after_it_applied_is_settled_by_a_login() {
    let ran = run(
        "ssh-user",
        "rotate-ssh-user",
        &["--json", "--fault", "sudo-chpasswd=drop-after-apply"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 0, "{}", report["stderr"]);
    assert!(
        report["stdout"]
            .as_str()
            .unwrap()
            .contains("a login with the new password shows it was applied"),
        "{}",
        report["stdout"]
    );
}

/// An SSH scenario: `resourceRecordUid` as given, the `machines` records
/// (each `(uid, title, pamHostname)`), an admin and alice. 198.51.100.1 is a
/// documentation address (TEST-NET-2): a rehearsal that tried it would time
/// out or fail, never rotate.
fn ssh_scenario(dir: &std::path::Path, resource: &str, machines: &[(&str, &str, Value)]) -> String {
    let mut records = vec![serde_json::json!({
        "uid": "SshPamConfigUid0000001", "title": "PAM configuration", "pamNetworkId": "net-1"
    })];
    for (uid, title, host) in machines {
        records.push(serde_json::json!({
            "uid": uid, "title": title, "pamHostname": host, "operatingSystem": "Linux",
            "SSH Host Key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        }));
    }
    records.push(serde_json::json!({
        "uid": "SshAdminRecordUid00001", "title": "web ops", "login": "ops",
        "password": "Adm1n-Secret-pw-1"
    }));
    records.push(serde_json::json!({
        "uid": "SshUserRecordUid000001", "title": "alice on web", "login": "alice",
        "password": "Alice-Old-pw-42"
    }));
    let scenario = serde_json::json!({
        "description": "an SSH rehearsal whose machine the binary picks by its own rule",
        "params": {
            "providerRecordUid": "SshPamConfigUid0000001",
            "resourceRecordUid": resource,
            "userRecordUid": "SshUserRecordUid000001",
            "user": "alice",
            "oldPassword": "Alice-Old-pw-42",
            "newPassword": "Alice-New-pw-77!"
        },
        "records": records,
    });
    let path = dir.join("ssh.json");
    std::fs::write(&path, scenario.to_string()).unwrap();
    path.display().to_string()
}

/// The rehearsal rotated on the fake machine, and the binary never named
/// (so never tried) the real-looking host.
fn assert_rehearsed_on_the_fake(file: &str) {
    let ran = harness(
        "rotate-ssh-user",
        file,
        &["run", "ssh-user", "--records", file, "--json", "--no-plan"],
    );
    let report = ran.json();
    assert!(
        !report["stderr"].as_str().unwrap().contains("198.51.100.1"),
        "the binary went for the real host: {}",
        report["stderr"]
    );
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 0, "{}", report["stderr"]);
    assert!(
        calls(&report, "ssh").contains(&"sudo-chpasswd#1".to_owned()),
        "{}",
        report["calls"]
    );
}

#[test]
fn an_ssh_rehearsal_whose_resource_uid_names_no_sent_record_rotates_on_the_fake_not_the_host_the_binary_picks()
 {
    let dir = tempfile::tempdir().unwrap();
    let file = ssh_scenario(
        dir.path(),
        "SshMachineNotSent00001",
        &[(
            "SshMachineRecordUid001",
            "web-1",
            serde_json::json!({"hostName": "198.51.100.1", "port": "22"}),
        )],
    );
    assert_rehearsed_on_the_fake(&file);
}

#[test]
fn an_ssh_rehearsal_without_a_resource_uid_points_the_one_machine_the_binary_picks_beside_a_blank_one()
 {
    // Two records carry pamHostname; the binary passes over the blank one
    // and connects to the other.
    let dir = tempfile::tempdir().unwrap();
    let file = ssh_scenario(
        dir.path(),
        "",
        &[
            ("SshMachineBlank000001", "old web", serde_json::json!("")),
            (
                "SshMachineRecordUid001",
                "web-1",
                serde_json::json!("198.51.100.1:22"),
            ),
        ],
    );
    assert_rehearsed_on_the_fake(&file);
}

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

#[test]
fn a_dry_run_passes_through_and_changes_nothing() {
    let ran = run(
        "aws-access-key",
        "rotate-aws-access-key",
        &["--json", "--dry-run"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["plan"], Value::Null, "the run is the plan");
    assert!(report["stdout"].as_str().unwrap().starts_with("dry run:"));
    assert!(changed(&report).is_empty());
    assert!(
        !calls(&report, "aws").contains(&"CreateAccessKey#1".to_owned()),
        "{:?}",
        calls(&report, "aws")
    );
}

#[test]
fn the_text_report_gives_the_exit_code_and_its_meaning() {
    let file = fixture("records/rest-api.json");
    let ran = harness("rotate-rest-api", &file, &["demo", "rest-api"]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    for expected in [
        "== exit code: 0 (rotated)",
        "== plan (the binary with --dry-run, on a copy of the fakes): exit 0 (a plan; nothing was changed)",
        "== verdict: consistent",
        "== leak scan: none of the",
        "== demo succeeded",
    ] {
        assert!(ran.stdout.contains(expected), "{expected}:\n{}", ran.stdout);
    }
    assert!(
        !ran.stdout.contains("Some("),
        "no Rust debug text:\n{}",
        ran.stdout
    );
}

#[test]
fn every_fault_of_the_matrix_prints_one_line_per_cell() {
    let ran = run("rest-api", "rotate-rest-api", &["--faults", "all"]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let cells: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL"))
        .collect();
    let kinds = harness::rehearsal::KINDS;
    assert_eq!(
        cells.len(),
        kinds.len(),
        "one call, each kind:\n{}",
        ran.stdout
    );
    for kind in kinds {
        assert!(
            cells
                .iter()
                .any(|c| c.contains(&format!("#1 {kind}: exit "))),
            "{kind}:\n{}",
            ran.stdout
        );
    }
    assert!(
        ran.stdout
            .contains(&format!("== {} cells, 0 with an end state", kinds.len())),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_scenario_file_rehearses_as_written() {
    // Its newPassword has quotes, a backslash and a non-ASCII letter.
    let file = fixture("scenarios/rest-api/demo.json");
    let ran = harness(
        "rotate-rest-api",
        &file,
        &["run", "rest-api", "--records", &file, "--json", "--no-plan"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["sources"][0]["shape"], "scenario");
    assert_eq!(report["input"]["newPassword"], "********");
    assert_eq!(report["input"]["records"][1]["login"], "rotation-service");
    assert!(
        report["end_state"][0]
            .as_str()
            .unwrap()
            .contains("the new password"),
        "{}",
        report["end_state"]
    );
}

#[test]
fn a_fault_on_a_call_no_service_makes_lists_the_calls() {
    let ran = run(
        "aws-access-key",
        "rotate-aws-access-key",
        &["--fault", "CreateKey=500"],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr
            .contains("no service makes a call named \"CreateKey\""),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("aws: GetUser"), "{}", ran.stderr);
    assert!(ran.stderr.contains("vault: get_secret"), "{}", ran.stderr);
}

#[test]
fn a_template_with_empty_fields_is_refused_by_the_binary_as_bad_input() {
    let file = harness::inputs::scenario::fixtures_dir()
        .join("../templates/azure-app-secret.json")
        .display()
        .to_string();
    let ran = harness(
        "rotate-azure-app-secret",
        &file,
        &[
            "run",
            "azure-app-secret",
            "--records",
            &file,
            "--json",
            "--no-plan",
        ],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 2);
    assert!(
        report["message"][0]
            .as_str()
            .unwrap()
            .contains("'application_object_id' is missing or empty"),
        "{}",
        report["message"]
    );
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("has no uid in the file"),
        "{}",
        report["notes"]
    );
}

/// A stand-in for a rotator: a shell script in a directory of its own.
fn impostor(name: &str, script: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn run_with(dir: &tempfile::TempDir, use_case: &str, extra: &[&str]) -> Ran {
    let file = fixture(&format!("records/{use_case}.json"));
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "run",
            use_case,
            "--records",
            &file,
            "--no-plan",
            "--bin-dir",
        ])
        .arg(dir.path())
        .args(extra)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_binary_claiming_a_rotation_it_did_not_make_is_caught() {
    let dir = impostor(
        "rotate-rest-api",
        "cat >/dev/null; echo 'rotated the password'; exit 0",
    );
    let ran = run_with(&dir, "rest-api", &["--json"]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let report = ran.json();
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["verdict"]["consistent"], false);
    assert!(
        report["verdict"]["detail"]
            .as_str()
            .unwrap()
            .contains("the old password"),
        "{}",
        report["verdict"]
    );
}

#[test]
fn a_binary_printing_its_input_is_caught_leaking_and_its_output_withheld() {
    let dir = impostor("rotate-rest-api", "cat; exit 1");
    let ran = run_with(&dir, "rest-api", &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("== leak scan: LEAK: secret #"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("--- stdout\n(withheld: a secret appeared in it)\n"),
        "{}",
        ran.stdout
    );
}

/// The Azure fixture with one more PAM User: the admin application rotating
/// its own secret (named by its client id), whose secret the attached admin
/// record and the PAM configuration's clientSecret both hold.
fn azure_self_rotation_export(dir: &std::path::Path) -> String {
    let mut export: Value =
        serde_json::from_str(include_str!("../../fixtures/records/azure-app-secret.json")).unwrap();
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
