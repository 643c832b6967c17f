//! Hostile services: late, lost, repeated and overlapping.

use super::*;

#[test]
fn a_second_run_while_the_first_holds_the_record_changes_nothing_and_exits_1() {
    let w = world();
    let gate = w.azure().proxy().hold("addPassword", 1);
    let (first, second) = overlap(
        w.runner("admin-record.json", &[]),
        w.runner("admin-record.json", &[]),
        || w.azure().proxy().wait_for("addPassword", 1),
        |_| gate.release(),
    );
    second
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is in progress");
    first.assert_exit(0).assert_clean();
    assert_eq!(w.azure().proxy().count("addPassword"), 1);
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [kept]);
    for out in [&first, &second] {
        assert_eq!(out.find_leak(&w.azure().issued()), None, "{}", out.output());
    }
}

#[test]
fn a_truncated_add_password_answer_is_found_by_its_tag_and_removed() {
    let w = world();
    w.azure()
        .arm("addPassword", 1, FaultKind::Truncated2xx)
        .unwrap();
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the client secret(s) it made anyway")
        .assert_stderr_has("were revoked; nothing was changed");
    assert_eq!(w.key_ids(TARGET_APP), ["old-key-2025", "old-key-2026"]);
    assert_eq!(
        w.vault().field(USER_UID, "client_secret_id").as_deref(),
        Some("old-key-2026")
    );
}

#[test]
fn a_lost_add_password_answer_behind_a_lagging_listing_is_still_found_and_removed() {
    let w = world();
    w.azure().listing_lag(Duration::from_secs(3));
    w.azure()
        .arm("addPassword", 1, FaultKind::DropAfterApply)
        .unwrap();
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("were revoked; nothing was changed");
    assert_eq!(w.key_ids(TARGET_APP), ["old-key-2025", "old-key-2026"]);
}

#[test]
fn every_run_tags_its_secret_uniquely() {
    let w = world();
    w.run("admin-record.json", &[]).assert_exit(0);
    w.run("admin-record.json", &[]).assert_exit(0);
    let tags: Vec<String> = w
        .azure()
        .calls()
        .into_iter()
        .filter(|c| c.action == "addPassword")
        .map(|c| c.body["passwordCredential"]["displayName"].to_string())
        .collect();
    assert_eq!(tags.len(), 2);
    assert_ne!(tags[0], tags[1]);
}

#[test]
fn a_failed_final_listing_after_a_completed_rotation_exits_0_with_a_warning() {
    let w = world();
    // GET application #1 plans; the later ones confirm.
    for nth in 2..=6 {
        w.azure().arm("get", nth, FaultKind::Status500).unwrap();
    }
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("was not confirmed");
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [kept]);
}

#[test]
fn a_failed_token_for_the_swap_in_a_self_rotation_keeps_the_old_secret_and_exits_3() {
    let w = world();
    // token #1 is the admin's, #2-#4 verify the new secret, #5 swaps to it.
    w.azure().arm("token", 5, FaultKind::Status500).unwrap();
    w.run("self-rotation.json", &[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has("were kept and are still valid");
    w.assert_vault_holds_a_live_secret("AzureSelfUserUid000001", ADMIN_APP);
    assert_eq!(w.key_ids(ADMIN_APP).len(), 2);
}

/// A removal applied whose answer was lost, then retries that never reach
/// Graph: the retries prove nothing about the first attempt, so the outcome
/// is settled on the listing (the secret is gone: retired), never reported
/// as "still valid".
#[test]
fn a_removal_applied_then_retries_that_never_connect_is_settled_on_the_listing() {
    let w = world();
    w.azure()
        .arm("removePassword", 1, FaultKind::DropAfterApply)
        .unwrap();
    for nth in 2..=4 {
        w.azure()
            .arm("removePassword", nth, FaultKind::DropBeforeApply)
            .unwrap();
    }
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0).assert_clean();
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [kept]);
}
