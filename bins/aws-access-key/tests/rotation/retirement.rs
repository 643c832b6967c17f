//! `retire_old_key`: the old key deleted (the default) or set Inactive and
//! kept, a grace period for consumers that have not picked up the new key.

use super::*;

/// The world, with the user record asking for `retire_old_key = value`.
fn retiring(value: &str) -> World {
    let w = world();
    w.vault()
        .set_custom_field(USER_UID, "retire_old_key", value);
    w
}

fn active(w: &World, id: &str) -> Option<bool> {
    w.aws()
        .keys("alice")
        .into_iter()
        .find(|k| k.id == id)
        .map(|k| k.active)
}

#[test]
fn deactivate_sets_the_old_key_inactive_keeps_it_and_names_it_retired() {
    let w = retiring("deactivate");
    let out = w.run_with(
        "admin-record.json",
        &[],
        &[("KEEPER_ROTATOR_OUTPUT", "json")],
    );
    out.assert_exit(0).assert_clean();
    let new = w.stored_id();
    assert_ne!(new, STORED_ID);
    w.assert_vault_holds_a_live_key();
    assert_eq!(active(&w, STORED_ID), Some(false), "kept, Inactive");
    assert_eq!(active(&w, &new), Some(true));
    assert!(w.deletions().is_empty(), "{:?}", w.deletions());
    let line: serde_json::Value = serde_json::from_str(out.stdout.trim_end()).unwrap();
    assert_eq!(line["retired"], serde_json::json!([STORED_ID]));
    assert_eq!(line["left"], serde_json::json!([]));
    assert!(
        line["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("deactivated {STORED_ID} (Inactive, kept")),
        "{line}"
    );
}

#[test]
fn the_default_and_delete_delete_the_old_key() {
    for value in [None, Some("Delete")] {
        let w = match value {
            Some(value) => retiring(value),
            None => world(),
        };
        w.run("admin-record.json", &[])
            .assert_exit(0)
            .assert_clean();
        assert_eq!(w.deletions(), [STORED_ID], "{value:?}");
        assert_eq!(w.key_ids(), [w.stored_id()]);
        assert!(!w.aws().actions().iter().any(|a| a == "UpdateAccessKey"));
    }
}

#[test]
fn a_later_rotation_deletes_the_inactive_key_first_to_make_room_and_says_so() {
    let w = retiring("deactivate");
    w.run("admin-record.json", &[]).assert_exit(0);
    let second = w.stored_id();
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has(&format!(
            "revoking access key {STORED_ID} to make room: it is Inactive"
        ))
        .assert_stdout_has(&format!("deactivated {second}"))
        .assert_stdout_has(&format!("deleted {STORED_ID}"));
    assert_eq!(w.deletions(), [STORED_ID]);
    assert_eq!(active(&w, &second), Some(false));
    assert_eq!(active(&w, &w.stored_id()), Some(true));
    assert_eq!(w.key_ids().len(), 2);
    // No key was ever set Active.
    let statuses: Vec<String> = w
        .aws()
        .calls()
        .into_iter()
        .filter(|c| c.action == "UpdateAccessKey")
        .map(|c| c.param("Status").unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["Inactive", "Inactive"]);
}

#[test]
fn a_dry_run_with_deactivate_says_it_would_deactivate_the_old_key() {
    let w = retiring("deactivate");
    w.run("admin-record.json", &["--dry-run"])
        .assert_exit(0)
        .assert_stdout_has(&format!(
            "then deactivate {STORED_ID} (retire_old_key = deactivate"
        ));
    assert_eq!(active(&w, STORED_ID), Some(true));
}

#[test]
fn a_lost_answer_to_every_deactivation_attempt_exits_4_naming_both_keys() {
    let w = retiring("deactivate");
    for nth in 1..=3 {
        w.aws()
            .arm("UpdateAccessKey", nth, FaultKind::DropAfterApply)
            .unwrap();
    }
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let new = w.stored_id();
    out.assert_stderr_has(&format!(
        "deactivating old access key {STORED_ID} got no answer that says whether it was done"
    ))
    .assert_stderr_has(&format!(
        "The new access key {new} is stored in record 'alice (IAM)'"
    ))
    .assert_stderr_has(&format!("Check {STORED_ID} of IAM user 'alice'"));
    w.assert_vault_holds_a_live_key();
    assert!(w.deletions().is_empty());
}

#[test]
fn a_refused_deactivation_exits_3_naming_the_key_still_valid() {
    let w = retiring("deactivate");
    w.aws()
        .fault("UpdateAccessKey", AwsFault::access_denied(), 5);
    w.run("admin-record.json", &[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "deactivating old access key {STORED_ID} failed: AccessDenied"
        ))
        .assert_stderr_has(&format!("Still valid: {STORED_ID}"));
    assert_eq!(active(&w, STORED_ID), Some(true));
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_bad_retire_old_key_is_exit_2_naming_the_field_the_record_and_the_values() {
    for (value, shown) in [
        ("archive", "'archive'"),
        (
            "Xk9f-LmQ2-secretish",
            "a value of 19 characters (not shown)",
        ),
        ("Sunshine", "a value of 8 characters (not shown)"),
    ] {
        let w = retiring(value);
        let out = w.run("admin-record.json", &[]);
        out.assert_exit(2)
            .assert_clean()
            .assert_stderr_has(&format!(
                "'retire_old_key' in record 'alice (IAM)' (uid {USER_UID}) is invalid: {shown} is \
                 not one of the values accepted: delete"
            ))
            .assert_stderr_has("or deactivate");
        assert!(
            !out.stderr.contains("Xk9f") && !out.stderr.to_lowercase().contains("sunshine"),
            "{}",
            out.stderr
        );
        assert!(
            !w.aws()
                .actions()
                .iter()
                .any(|a| a == "CreateAccessKey" || a == "UpdateAccessKey"),
            "{:?}",
            w.aws().actions()
        );
        assert_eq!(w.key_ids(), [STORED_ID]);
    }
}
