//! The user's existing keys: which are deleted, in which order.

use super::*;

#[test]
fn zero_existing_keys_creates_stores_and_removes_nothing() {
    let w = world_with(|aws| aws);
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stdout_has("removed none");
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
    assert!(w.deletions().is_empty());
}

#[test]
fn two_keys_delete_the_unstored_one_first_and_the_stored_one_last() {
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some("2026-11-20T00:00:00Z"),
        )
        .with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-01-01T00:00:00Z"),
        )
    });
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has(&format!(
            "revoking access key {OTHER_ID} to make room: it is not the key the record stores"
        ));
    assert_eq!(w.deletions(), [OTHER_ID, STORED_ID]);
    let actions = w.aws().actions();
    let create = actions.iter().position(|a| a == "CreateAccessKey").unwrap();
    let first_delete = actions.iter().position(|a| a == "DeleteAccessKey").unwrap();
    assert!(first_delete < create);
    assert_eq!(w.key_ids(), [w.stored_id()]);
}

#[test]
fn two_unknown_keys_delete_the_inactive_one_to_make_room() {
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            "AKIAACTIVEUNKNOWN001",
            "active-unknown-secret-000000000000001",
            true,
            None,
        )
        .with_key(
            "alice",
            "AKIAINACTIVE00000001",
            "inactive-secret-0000000000000000000001",
            false,
            None,
        )
    });
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("revoking access key AKIAINACTIVE00000001 to make room: it is Inactive");
    assert_eq!(
        w.deletions(),
        ["AKIAINACTIVE00000001", "AKIAACTIVEUNKNOWN001"]
    );
}

#[test]
fn two_active_unknown_keys_exit_2_explaining_the_choice_and_change_nothing() {
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            "AKIAACTIVEUNKNOWN001",
            "active-unknown-secret-000000000000001",
            true,
            None,
        )
        .with_key(
            "alice",
            "AKIAACTIVEUNKNOWN002",
            "active-unknown-secret-000000000000002",
            true,
            None,
        )
    });
    w.run("admin-record.json", &[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("neither can be shown to be unused")
        .assert_stderr_has("delete_all_keys_before_rotating");
    assert_eq!(w.key_ids().len(), 2);
    assert!(w.deletions().is_empty());
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn delete_all_mode_deletes_the_least_recently_used_first_and_keeps_none() {
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            "AKIAACTIVEUNKNOWN001",
            "active-unknown-secret-000000000000001",
            true,
            Some("2026-10-01T00:00:00Z"),
        )
        .with_key(
            "alice",
            "AKIAACTIVEUNKNOWN002",
            "active-unknown-secret-000000000000002",
            true,
            Some("2026-03-01T00:00:00Z"),
        )
    });
    w.vault()
        .set_custom_field(USER_UID, "delete_all_keys_before_rotating", "True");
    w.run("admin-record.json", &[]).assert_exit(0);
    assert_eq!(
        w.deletions(),
        ["AKIAACTIVEUNKNOWN002", "AKIAACTIVEUNKNOWN001"]
    );
    assert_eq!(w.key_ids(), [w.stored_id()]);
}

#[test]
fn a_key_listed_with_a_status_iam_does_not_define_is_never_deleted_as_unused() {
    let hour_ago = common::time::iso8601(std::time::SystemTime::now() - Duration::from_secs(3600));
    for status in [Some("Expired"), None] {
        let w = world_with(|aws| {
            aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
                .with_key(
                    "alice",
                    OTHER_ID,
                    OTHER_SECRET,
                    true,
                    Some(hour_ago.as_str()),
                )
        });
        w.aws().list_status_as(OTHER_ID, status);
        // Counted Active, and used an hour ago: another consumer's, maybe.
        w.run("admin-record.json", &[])
            .assert_exit(2)
            .assert_clean()
            .assert_stderr_has(&format!("the other key, {OTHER_ID}, was used on"));
        assert!(w.deletions().is_empty(), "{status:?}: {:?}", w.deletions());
        assert_eq!(w.key_ids(), [STORED_ID, OTHER_ID]);
    }
}
