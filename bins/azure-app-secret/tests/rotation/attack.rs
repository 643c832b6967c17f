//! Attack: what the hostile review found.

use super::*;

#[test]
fn an_add_password_applied_behind_a_503_leaves_no_secret_nobody_knows() {
    let w = world();
    // Graph adds the secret, the gateway in front of it answers 503: the
    // change is never resent; the secret is found by this run's tag and
    // removed, and nothing changed.
    w.azure()
        .fault_after_apply("addPassword", AzureFault::unavailable(), 1);
    let out = w.run("admin-record.json", &[]);
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(kept, "old-key-2026");
    let tags: Vec<String> = w
        .azure()
        .secrets(TARGET_APP)
        .into_iter()
        .map(|s| format!("{} ({})", s.key_id, s.display_name))
        .collect();
    assert_eq!(
        w.key_ids(TARGET_APP),
        ["old-key-2025", "old-key-2026"],
        "a live secret nobody knows: {tags:?}\n{}",
        out.output()
    );
    assert_eq!(w.azure().proxy().count("addPassword"), 1, "never resent");
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("were revoked; nothing was changed");
}

#[test]
fn the_admin_application_is_recognised_whatever_the_case_of_its_client_id() {
    let w = world();
    // The same GUID as Graph's appId, written in capitals in the admin record.
    let scenario = Scenario::load("scenarios/azure-app-secret/self-rotation.json").record_field(
        "AzureAdminRecordUid001",
        "application_client_id",
        ADMIN_APP.to_ascii_uppercase().into(),
    );
    let out = w.runner_for(&scenario, &[]).run();
    assert_eq!(out.find_leak(&w.azure().issued()), None, "{}", out.output());
    out.assert_exit(0);
    let key_id = w.assert_vault_holds_a_live_secret("AzureSelfUserUid000001", ADMIN_APP);
    assert_eq!(w.key_ids(ADMIN_APP), [key_id]);
    assert!(
        w.vault().field("AzureAdminRecordUid001", "client_secret")
            == w.vault().field("AzureSelfUserUid000001", "client_secret"),
        "the admin record is left holding a removed secret\n{}",
        out.output()
    );
    assert_eq!(w.azure().calls_with_removed_secrets(), Vec::<String>::new());
}

#[test]
fn keep_previous_secrets_keeps_the_secret_the_record_held_before_a_newer_stranger() {
    // A crashed run (or someone else) left a newer secret than the one the
    // record holds. The overlap exists for consumers of the record's secret.
    let w = world_with(|azure| {
        azure.with_secret(
            TARGET_APP,
            "orphan-of-a-crashed-run",
            "target~orphan~secret~2026~00000000000003",
            "2026-11-01T00:00:00Z",
        )
    });
    w.vault()
        .set_custom_field(USER_UID, "keep_previous_secrets", "1");
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0).assert_clean();
    let ids = w.key_ids(TARGET_APP);
    assert!(
        ids.contains(&"old-key-2026".to_owned()),
        "the record's previous secret was removed during its overlap: {ids:?}\n{}",
        out.output()
    );
    assert_eq!(ids.len(), 2, "{ids:?}");
}

#[test]
fn trace_logging_of_every_dependency_prints_no_secret() {
    let w = world();
    // run scans every output for every secret and token the fake issued.
    let out = w.runner_for(
        &Scenario::load("scenarios/azure-app-secret/self-rotation.json"),
        &[],
    );
    let out = out.env("KEEPER_ROTATOR_LOG", "trace").run();
    assert_eq!(out.find_leak(&w.azure().issued()), None);
    out.assert_exit(0);
    assert!(
        out.stderr.lines().count() > 50,
        "trace logging is on:\n{}",
        out.output()
    );
}

#[test]
fn an_add_password_applied_behind_a_503_then_throttled_is_found_by_its_tag_and_removed() {
    let w = world();
    // The first attempt is applied behind a 503; every later attempt is
    // throttled (429, not applied), the last one too.
    w.azure()
        .fault_after_apply("addPassword", AzureFault::unavailable(), 1);
    for nth in 2..=4 {
        w.azure()
            .arm("addPassword", nth, FaultKind::Status429)
            .unwrap();
    }
    let out = w.run("admin-record.json", &[]);
    assert_eq!(
        w.key_ids(TARGET_APP),
        ["old-key-2025", "old-key-2026"],
        "a live secret nobody knows\n{}",
        out.output()
    );
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("were revoked; nothing was changed");
}

#[test]
fn a_final_listing_that_lags_behind_the_removals_is_read_until_it_settles() {
    let w = world();
    w.vault()
        .set_custom_field(USER_UID, "verify_successes", "1");
    w.azure().listing_lag(Duration::from_secs(5));
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean();
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [kept]);
}
