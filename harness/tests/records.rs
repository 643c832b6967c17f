//! Keeper records → the Gateway's input, against the contract in
//! `../shared/README.md`: each record dictionary has `uid`, `title`, then
//! one key per field, the field's label or else its type, with a number
//! appended when the key already exists; the records come in their roles
//! (PAM configuration, resource, attached, user) and the params name them.
//!
//! The inputs are data files under `fixtures/records/conversion/`: the same
//! record as Commander's JSON export and as `get --format json` prints it,
//! the dictionary the Gateway would send for it, and record sets for the
//! roles.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

use harness::inputs::commander::{self, Shape};
use harness::rehearsal::input::MADE_UP_CONFIG_UID;
use harness::rehearsal::{Rehearsal, RoleFlags, use_case};
use serde_json::{Map, Value};

fn fixture(name: &str) -> PathBuf {
    harness::inputs::scenario::fixtures_dir().join(name)
}

fn load(name: &str) -> commander::Loaded {
    commander::load(&[fixture(name)]).unwrap_or_else(|e| panic!("{e}"))
}

fn expected_dict() -> Map<String, Value> {
    let text = std::fs::read_to_string(fixture("records/conversion/expected-dict.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rehearse(use_case_name: &str, file: &str, flags: &RoleFlags) -> Result<Rehearsal, String> {
    Rehearsal::from_files(use_case(use_case_name).unwrap(), &[fixture(file)], flags)
}

fn uids(dicts: &[Map<String, Value>]) -> Vec<&str> {
    dicts
        .iter()
        .map(|d| d["uid"].as_str().unwrap_or_default())
        .collect()
}

#[test]
fn an_export_record_becomes_the_dictionary_the_gateway_sends() {
    let loaded = load("records/conversion/export.json");
    assert_eq!(loaded.sources[0].shape, Shape::CommanderExport);
    assert_eq!(loaded.records[0].gateway_dict(), expected_dict());
}

#[test]
fn the_dictionary_keys_are_uid_title_then_labels_or_types_in_field_order() {
    let dict = load("records/conversion/export.json").records[0].gateway_dict();
    let keys: Vec<&str> = dict.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "uid",
            "title",
            // the record type's own fields, unlabelled: their types
            "login",
            "password",
            "url",
            "pamHostname",
            // a labelled field of the type: its label
            "privatePEMKey",
            // custom fields: labels, or the type when unlabelled; a key
            // already taken gets the next free number
            "url2",
            "url3",
            "url4",
            "url5",
            "note",
            "note2",
            "api_key",
            "empty",
            "flags",
        ]
    );
}

#[test]
fn a_second_field_with_a_taken_key_gets_the_next_free_number() {
    let dict = load("records/conversion/export.json").records[0].gateway_dict();
    // "url2" is a label of its own, so the unlabelled urls skip it.
    assert_eq!(dict["url2"], "explicit-url2");
    assert_eq!(dict["url3"], "https://two.example/");
    assert_eq!(dict["url4"], "https://three.example/");
    // A field labelled like another's type is numbered too.
    assert_eq!(dict["url5"], "labelled-url");
    assert_eq!(dict["note"], "first");
    assert_eq!(dict["note2"], "second");
}

#[test]
fn one_value_is_sent_as_itself_none_as_empty_text() {
    let dict = load("records/conversion/export.json").records[0].gateway_dict();
    assert_eq!(dict["flags"], "a");
    assert_eq!(dict["empty"], "");
    assert_eq!(dict["privatePEMKey"], "");
    assert!(dict["pamHostname"].is_object());
}

#[test]
fn get_format_json_and_the_export_of_one_record_give_the_same_dictionary_and_vault_record() {
    let exported = load("records/conversion/export.json");
    let got = load("records/conversion/get-format-json.json");
    assert_eq!(got.sources[0].shape, Shape::Record);
    assert_eq!(got.records[0].gateway_dict(), expected_dict());
    assert_eq!(
        got.records[0].vault_json(),
        exported.records[0].vault_json()
    );
}

#[test]
fn several_values_of_one_field_are_sent_as_a_list() {
    let loaded = commander::parse_files(&[(
        Path::new("inline.json"),
        r#"{"uid": "U1", "title": "T", "type": "login", "fields": [],
            "custom": [{"type": "text", "label": "hosts", "value": ["a", "b"]}]}"#,
    )])
    .unwrap();
    assert_eq!(
        loaded.records[0].gateway_dict()["hosts"],
        serde_json::json!(["a", "b"])
    );
}

#[test]
fn records_appended_to_one_file_one_after_the_other_are_all_read() {
    let one = std::fs::read_to_string(fixture("records/conversion/get-format-json.json")).unwrap();
    let other = one.replace("ConversionUid000000001", "ConversionUid000000002");
    let text = format!("{one}\n{other}");
    let loaded = commander::parse_files(&[(Path::new("appended.json"), &text)]).unwrap();
    assert_eq!(loaded.records.len(), 2);
}

#[test]
fn two_records_with_one_uid_are_refused() {
    let one = std::fs::read_to_string(fixture("records/conversion/get-format-json.json")).unwrap();
    let text = format!("{one}\n{one}");
    let error = commander::parse_files(&[(Path::new("twice.json"), &text)]).unwrap_err();
    assert!(
        error.contains("two records have the uid ConversionUid000000001"),
        "{error}"
    );
}

#[test]
fn a_template_exported_without_uids_gets_stable_made_up_ones() {
    let first = load("../templates/rest-api.json");
    let second = load("../templates/rest-api.json");
    assert!(
        first
            .records
            .iter()
            .all(|r| r.uid_made_up && r.uid.len() == 22)
    );
    assert_eq!(first.records, second.records);
}

#[test]
fn the_only_pam_user_is_the_user_and_every_other_record_is_attached() {
    let r = rehearse("rest-api", "records/rest-api.json", &RoleFlags::default()).unwrap();
    assert_eq!(r.roles.user.uid, "UserRecordUid000000001");
    assert_eq!(r.roles.user.why, "the only pamUser record");
    assert_eq!(r.roles.config.uid, "PamConfigUid0000000001");
    assert!(r.roles.resource.is_none());
    assert_eq!(r.roles.attached.len(), 1);
    assert_eq!(r.roles.attached[0].title, "API Access Details");
}

#[test]
fn the_params_name_the_roles_and_carry_the_users_login_and_password() {
    let r = rehearse("rest-api", "records/rest-api.json", &RoleFlags::default()).unwrap();
    assert_eq!(r.param("providerRecordUid"), "PamConfigUid0000000001");
    assert_eq!(r.param("resourceRecordUid"), "");
    assert_eq!(r.param("userRecordUid"), "UserRecordUid000000001");
    assert_eq!(r.param("user"), "alice@example.com");
    assert_eq!(r.param("oldPassword"), "Old-Passw0rd-4f1c");
    let new = r.param("newPassword");
    assert!(!new.is_empty() && new != r.param("oldPassword"));
}

#[test]
fn the_records_are_sent_configuration_resource_attached_then_user() {
    let r = rehearse(
        "azure-app-secret",
        "records/conversion/roles.json",
        &RoleFlags::default(),
    )
    .unwrap();
    assert_eq!(
        uids(&r.dicts),
        [
            "RolesConfigUid00000001",
            "RolesMachineUid0000001",
            "RolesAdminUid000000001",
            "RolesOtherUid000000001",
            "RolesUserUid0000000001",
        ]
    );
    assert_eq!(r.param("resourceRecordUid"), "RolesMachineUid0000001");
}

#[test]
fn of_several_pam_users_the_one_holding_the_use_cases_field_is_the_user() {
    let r = rehearse(
        "azure-app-secret",
        "records/conversion/roles.json",
        &RoleFlags::default(),
    )
    .unwrap();
    assert_eq!(r.roles.user.uid, "RolesUserUid0000000001");
    assert!(
        r.roles.user.why.contains("application_object_id"),
        "{}",
        r.roles.user.why
    );
}

#[test]
fn several_pam_users_without_a_telling_field_are_refused_naming_them() {
    let error = rehearse(
        "rest-api",
        "records/conversion/roles.json",
        &RoleFlags::default(),
    )
    .unwrap_err();
    for expected in ["'keeper-admin'", "'payroll-api'", "--user"] {
        assert!(error.contains(expected), "{expected} in {error}");
    }
}

#[test]
fn flags_name_the_user_by_title_and_the_attached_records_by_uid() {
    let flags = RoleFlags {
        user: Some("payroll-api".into()),
        attach: vec!["RolesAdminUid000000001".into()],
        ..RoleFlags::default()
    };
    let r = rehearse("rest-api", "records/conversion/roles.json", &flags).unwrap();
    assert_eq!(r.roles.user.uid, "RolesUserUid0000000001");
    assert_eq!(r.roles.user.why, "--user");
    assert_eq!(
        r.roles
            .attached
            .iter()
            .map(|a| a.uid.as_str())
            .collect::<Vec<_>>(),
        ["RolesAdminUid000000001"]
    );
    assert_eq!(r.roles.not_sent.len(), 1);
    assert_eq!(r.roles.not_sent[0].uid, "RolesOtherUid000000001");
    assert!(!uids(&r.dicts).contains(&"RolesOtherUid000000001"));
}

#[test]
fn the_user_record_cannot_also_be_attached() {
    let flags = RoleFlags {
        user: Some("RolesUserUid0000000001".into()),
        attach: vec!["RolesUserUid0000000001".into()],
        ..RoleFlags::default()
    };
    let error = rehearse("rest-api", "records/conversion/roles.json", &flags).unwrap_err();
    assert!(error.contains("already has a role"), "{error}");
}

#[test]
fn a_flag_naming_no_record_lists_the_records() {
    let flags = RoleFlags {
        config: Some("NoSuchUid".into()),
        ..RoleFlags::default()
    };
    let error = rehearse("rest-api", "records/rest-api.json", &flags).unwrap_err();
    assert!(error.contains("--config NoSuchUid"), "{error}");
    assert!(error.contains("'API Access Details'"), "{error}");
}

#[test]
fn without_a_pam_configuration_the_harness_makes_up_an_empty_one_and_says_so() {
    let r = rehearse(
        "rest-api",
        "records/conversion/no-config.json",
        &RoleFlags::default(),
    )
    .unwrap();
    assert_eq!(r.param("providerRecordUid"), MADE_UP_CONFIG_UID);
    assert_eq!(uids(&r.dicts)[0], MADE_UP_CONFIG_UID);
    assert!(
        r.record(MADE_UP_CONFIG_UID).is_some(),
        "the vault holds it too"
    );
    assert!(
        r.notes.iter().any(|n| n.contains("made up an empty one")),
        "{:?}",
        r.notes
    );
}

#[test]
fn a_scenario_is_sent_as_written_with_its_own_params() {
    let r = rehearse(
        "rest-api",
        "scenarios/rest-api/default.json",
        &RoleFlags::default(),
    )
    .unwrap();
    assert_eq!(r.param("newPassword"), "New-Passw0rd-9d2e");
    assert_eq!(r.param("resourceRecordUid"), "PamResourceUid00000001");
    assert_eq!(
        uids(&r.dicts),
        [
            "PamConfigUid0000000001",
            "ApiRecordUid0000000001",
            "UserRecordUid000000001"
        ]
    );
    assert_eq!(r.dicts[1]["login"], "svc");
    assert_eq!(r.roles.attached[0].uid, "ApiRecordUid0000000001");
}

#[test]
fn a_scenario_refuses_role_flags() {
    let flags = RoleFlags {
        user: Some("UserRecordUid000000001".into()),
        ..RoleFlags::default()
    };
    let error = rehearse("rest-api", "scenarios/rest-api/default.json", &flags).unwrap_err();
    assert!(error.contains("a scenario file fixes the roles"), "{error}");
}
