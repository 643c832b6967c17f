//! rotate-ssh-user rehearsed: always on the fake machine.

use super::*;

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
fn a_setting_named_like_a_secret_is_shown_with_its_value() {
    // `Private Key Rotate` names a private key, but TRUE is a setting: the
    // record view and the Gateway's input show it, as they show NOOP.
    let report = assert_rotated(&run("ssh-user", "rotate-ssh-user", &["--json"]));
    let user = report["roles"]["user"]["uid"].as_str().unwrap().to_owned();
    let field = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["uid"] == user.as_str())
        .flat_map(|r| r["fields"].as_array().unwrap().clone())
        .find(|f| f["name"] == "Private Key Rotate")
        .expect("the record view lists Private Key Rotate");
    assert_eq!(field["before"], "TRUE", "{field}");
    assert_eq!(field["after"], "TRUE", "{field}");
    let sent = report["input"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["uid"] == user.as_str())
        .unwrap()
        .clone();
    assert_eq!(sent["Private Key Rotate"], "TRUE", "{sent}");
    // The private key beside it is still a fingerprint.
    let key = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["uid"] == user.as_str())
        .flat_map(|r| r["fields"].as_array().unwrap().clone())
        .find(|f| f["name"] == "privatePEMKey")
        .unwrap();
    assert!(
        key["after"].as_str().unwrap().starts_with("secret sha256:"),
        "{key}"
    );
}
