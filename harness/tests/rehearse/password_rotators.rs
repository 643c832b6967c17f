//! rotate-rest-api and rotate-okta-user rehearsed from Commander exports.

use super::*;

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
