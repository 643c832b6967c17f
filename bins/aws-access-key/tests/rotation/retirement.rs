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
    // The record lists the keys this binary deactivated and may delete.
    assert_eq!(w.vault().field(USER_UID, DEACTIVATED), Some(second));
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
fn a_dry_run_with_deactivate_says_it_did_not_check_the_permission_to_deactivate() {
    let w = retiring("deactivate");
    w.run("admin-record.json", &["--dry-run"])
        .assert_exit(0)
        .assert_stdout_has(
            "Not checked: that the admin may create and delete the user's access keys; that the \
             admin may set the user's access keys Inactive (iam:UpdateAccessKey)",
        );
}

/// The field the binary writes with the keys it deactivated.
const DEACTIVATED: &str = "deactivated_access_key_ids";

/// What the record's lease field says is left to do.
fn lease(w: &World) -> String {
    w.vault()
        .field(USER_UID, "rotation_lease")
        .unwrap_or_default()
}

#[test]
fn a_lost_answer_to_every_deactivation_attempt_is_settled_by_the_listing_and_exits_0() {
    let w = retiring("deactivate");
    for nth in 1..=3 {
        w.aws()
            .arm("UpdateAccessKey", nth, FaultKind::DropAfterApply)
            .unwrap();
    }
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has("no longer lists it as valid: deactivated");
    assert_eq!(active(&w, STORED_ID), Some(false));
    w.assert_vault_holds_a_live_key();
    assert!(w.deletions().is_empty());
    assert_eq!(
        w.vault().field(USER_UID, DEACTIVATED).as_deref(),
        Some(STORED_ID)
    );
}

#[test]
fn a_lost_answer_to_every_deletion_attempt_is_settled_by_the_listing_and_exits_0() {
    let w = world();
    for nth in 1..=3 {
        w.aws()
            .arm("DeleteAccessKey", nth, FaultKind::DropAfterApply)
            .unwrap();
    }
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("no longer lists it as valid: revoked");
    assert_eq!(w.key_ids(), [w.stored_id()]);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_deactivation_never_answered_whose_key_is_still_listed_active_exits_3() {
    let w = retiring("deactivate");
    for nth in 1..=3 {
        w.aws()
            .arm("UpdateAccessKey", nth, FaultKind::DropBeforeApply)
            .unwrap();
    }
    w.run("admin-record.json", &[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has("still lists it as valid")
        .assert_stderr_has(&format!("Still valid: {STORED_ID}"));
    assert_eq!(active(&w, STORED_ID), Some(true));
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_lost_deactivation_answer_and_an_unreadable_listing_exit_4_naming_both_keys() {
    let w = retiring("deactivate");
    for nth in 1..=3 {
        w.aws()
            .arm("UpdateAccessKey", nth, FaultKind::DropAfterApply)
            .unwrap();
    }
    // ListAccessKeys #1 plans; #2.. would settle it (the SDK tries 3 times).
    for nth in 2..=4 {
        w.aws()
            .arm("ListAccessKeys", nth, FaultKind::Status500)
            .unwrap();
    }
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let new = w.stored_id();
    out.assert_stderr_has(&format!(
        "deactivating old access key {STORED_ID} got no answer that says whether it was done"
    ))
    .assert_stderr_has(&format!("so {STORED_ID} may be valid or not"))
    .assert_stderr_has(&format!(
        "The new access key {new} is stored in record 'alice (IAM)'"
    ));
    w.assert_vault_holds_a_live_key();
    assert!(w.deletions().is_empty());
}

#[test]
fn an_interrupted_deactivation_is_completed_by_deactivating_never_by_deleting() {
    let w = retiring("deactivate");
    w.aws()
        .fault("UpdateAccessKey", AwsFault::access_denied(), 1);
    w.run("admin-record.json", &[]).assert_exit(3);
    let stored = w.stored_id();
    assert!(
        lease(&w).ends_with(&format!("; stored {stored}; to deactivate: {STORED_ID}")),
        "{}",
        lease(&w)
    );
    // The next run: the old key, Active, keeps the grace the record asks
    // for; no key is deleted, and none created (IAM's two are taken).
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has(
            "completed the rotation of IAM user 'alice' that an interrupted run began",
        )
        .assert_stdout_has(&format!("deactivated {STORED_ID}"));
    assert!(w.deletions().is_empty(), "{:?}", w.deletions());
    assert_eq!(active(&w, STORED_ID), Some(false));
    assert_eq!(w.stored_id(), stored);
    assert_eq!(active(&w, &stored), Some(true));
    w.assert_vault_holds_a_live_key();
    let creates = w
        .aws()
        .actions()
        .iter()
        .filter(|a| *a == "CreateAccessKey")
        .count();
    assert_eq!(creates, 1, "only the first run created a key");
    assert_eq!(lease(&w), "");
    assert_eq!(
        w.vault().field(USER_UID, DEACTIVATED).as_deref(),
        Some(STORED_ID)
    );
    // The rotation after that: the old key had its grace, and goes.
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has(&format!("revoking access key {STORED_ID} to make room"));
    assert_eq!(w.deletions(), [STORED_ID]);
}

/// The first run: the deactivation of the old key refused, so the lease
/// records "to deactivate" it; returns the key that run stored.
fn interrupted_deactivation(w: &World) -> String {
    w.aws()
        .fault("UpdateAccessKey", AwsFault::access_denied(), 1);
    w.run("admin-record.json", &[]).assert_exit(3);
    let stored = w.stored_id();
    assert!(
        lease(w).ends_with(&format!("; stored {stored}; to deactivate: {STORED_ID}")),
        "{}",
        lease(w)
    );
    stored
}

fn updates(w: &World) -> usize {
    w.aws()
        .actions()
        .iter()
        .filter(|a| *a == "UpdateAccessKey")
        .count()
}

#[test]
fn a_promised_deactivation_is_completed_by_deactivating_even_when_the_record_now_says_delete() {
    let w = retiring("deactivate");
    let stored = interrupted_deactivation(&w);
    w.vault()
        .set_custom_field(USER_UID, "retire_old_key", "delete");
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has(
            "completed the rotation of IAM user 'alice' that an interrupted run began",
        )
        .assert_stdout_has(&format!("deactivated {STORED_ID}"));
    assert!(w.deletions().is_empty(), "{:?}", w.deletions());
    assert_eq!(active(&w, STORED_ID), Some(false));
    assert_eq!(w.stored_id(), stored);
    assert_eq!(
        w.vault().field(USER_UID, DEACTIVATED).as_deref(),
        Some(STORED_ID)
    );
}

#[test]
fn an_interrupted_deactivation_whose_stored_key_fails_its_check_exits_4_like_delete_mode() {
    let w = retiring("deactivate");
    let stored = interrupted_deactivation(&w);
    // The record's secret no longer matches its key: the check fails.
    w.vault().set_custom_field(
        USER_UID,
        "aws_secret_access_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGSECRET",
    );
    w.vault()
        .set_custom_field(USER_UID, "verify_timeout_seconds", "2");
    let before = updates(&w);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has(&format!(
            "an interrupted rotation stored access key {stored} in record 'alice (IAM)'"
        ))
        .assert_stderr_has(&format!(
            "meant to deactivate {STORED_ID}, but {stored} does not work"
        ))
        .assert_stderr_has("Check which key the consumers use");
    assert_eq!(updates(&w), before, "nothing sent");
    assert_eq!(active(&w, STORED_ID), Some(true));
}

#[test]
fn an_interrupted_deactivation_is_not_completed_when_the_key_it_stored_is_not_listed_active() {
    let w = retiring("deactivate");
    let stored = interrupted_deactivation(&w);
    w.aws().list_status_as(&stored, Some("Inactive"));
    let before = updates(&w);
    let out = w.run("admin-record.json", &[]);
    assert!(
        !out.stdout.contains("completed the rotation"),
        "{}",
        out.output()
    );
    assert_eq!(updates(&w), before, "{}", out.output());
    assert_eq!(active(&w, STORED_ID), Some(true));
    assert!(w.deletions().is_empty(), "{:?}", w.deletions());
}

#[test]
fn completing_with_the_old_key_already_inactive_does_not_claim_to_have_deactivated_it() {
    let w = retiring("deactivate");
    for nth in 1..=3 {
        w.aws()
            .arm("UpdateAccessKey", nth, FaultKind::DropAfterApply)
            .unwrap();
    }
    for nth in 2..=4 {
        w.aws()
            .arm("ListAccessKeys", nth, FaultKind::Status500)
            .unwrap();
    }
    w.run("admin-record.json", &[]).assert_exit(4);
    assert_eq!(active(&w, STORED_ID), Some(false));
    assert!(
        lease(&w).ends_with(&format!("; to deactivate: {STORED_ID}")),
        "{}",
        lease(&w)
    );
    let before = updates(&w);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has("completed the rotation")
        .assert_stdout_has(&format!("{STORED_ID} already Inactive before this run"));
    assert!(
        !out.stdout.contains(&format!("deactivated {STORED_ID}")),
        "{}",
        out.stdout
    );
    assert_eq!(updates(&w), before, "nothing sent to IAM");
    assert_eq!(
        w.vault().field(USER_UID, DEACTIVATED).as_deref(),
        Some(STORED_ID)
    );
}

#[test]
fn a_key_found_gone_when_deactivated_is_reported_gone_and_not_noted_as_deactivated() {
    let w = retiring("deactivate");
    w.aws().deleted_before_update(STORED_ID);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!(
            "{STORED_ID} gone already (not deactivated by this run)"
        ));
    assert!(
        !out.stdout.contains(&format!("deactivated {STORED_ID}")),
        "{}",
        out.stdout
    );
    assert_eq!(w.key_ids(), [w.stored_id()]);
    assert_eq!(
        w.vault().field(USER_UID, DEACTIVATED).unwrap_or_default(),
        ""
    );
}

#[test]
fn deactivate_never_deletes_an_inactive_key_it_did_not_deactivate_and_exits_2_naming_it() {
    let w = world_with(|aws| {
        aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
            .with_key("alice", OTHER_ID, OTHER_SECRET, false, None)
    });
    w.vault()
        .set_custom_field(USER_UID, "retire_old_key", "deactivate");
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&format!(
            "{OTHER_ID} is Inactive but not deactivated by this binary"
        ))
        .assert_stderr_has(DEACTIVATED)
        .assert_stderr_has("set retire_old_key to delete");
    assert_eq!(w.key_ids(), [STORED_ID, OTHER_ID]);
    assert!(
        !w.aws()
            .actions()
            .iter()
            .any(|a| a == "CreateAccessKey" || a == "DeleteAccessKey" || a == "UpdateAccessKey"),
        "{:?}",
        w.aws().actions()
    );
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

/// The saves of a clean `deactivate` run: the last is the finish (the
/// record's notes with the lease cleared).
fn clean_run_saves() -> usize {
    let probe = retiring("deactivate");
    probe.run("admin-record.json", &[]).assert_exit(0);
    probe
        .vault()
        .calls()
        .iter()
        .filter(|c| c.endpoint == "update_secret")
        .count()
}

#[test]
fn a_failed_last_save_leaves_the_deactivated_key_for_the_next_run_to_note() {
    let finish = clean_run_saves();
    let w = retiring("deactivate");
    // Every attempt of the finish is refused as stale (the vault client
    // saves up to four times on a conflict); the lease's release after it
    // goes through.
    for nth in finish..finish + 4 {
        w.vault()
            .fault_at("update_secret", nth, Fault::StaleRevision);
    }
    let out = w.run_with(
        "admin-record.json",
        &[],
        &[("KEEPER_ROTATOR_OUTPUT", "json")],
    );
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has(&format!(
            "the deactivated ones ({STORED_ID}) in {DEACTIVATED}: unless that save landed"
        ));
    // The line a pipeline reads says it too.
    let line: serde_json::Value = serde_json::from_str(out.stdout.trim_end()).unwrap();
    assert!(
        line["next"]
            .as_str()
            .unwrap()
            .contains("the next rotation, finding them Inactive, notes them"),
        "{line}"
    );
    assert_eq!(active(&w, STORED_ID), Some(false));
    assert_eq!(w.vault().field(USER_UID, DEACTIVATED), None);
    assert!(
        lease(&w).ends_with(&format!("; to deactivate: {STORED_ID}")),
        "{}",
        lease(&w)
    );
    // The next run completes it: nothing sent to IAM, the key noted as
    // this binary's, so a later rotation may delete it to make room.
    let before = updates(&w);
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("completed the rotation");
    assert_eq!(updates(&w), before);
    assert_eq!(
        w.vault().field(USER_UID, DEACTIVATED).as_deref(),
        Some(STORED_ID)
    );
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stdout_has(&format!("deleted {STORED_ID}"));
}
