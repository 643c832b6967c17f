//! Failures of the vault and Graph, bad input, and a dry run.

use super::*;

/// The vault refuses the save for good (its revision check fails on every
/// attempt): nothing holds the new secret, so it is removed. The first
/// update_secret is the rotation lease.
fn refuse_the_store(vault: &FakeVault) {
    vault.fault_on_after("update_secret", 1, Fault::StaleRevision);
    vault.fault_on("update_secret", Fault::StaleRevision, 2);
}

#[test]
fn a_vault_that_refuses_the_save_gets_the_new_secret_removed_and_exits_1() {
    let w = world();
    refuse_the_store(w.vault());
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("The new client secret was revoked again; nothing was changed");
    assert_eq!(w.key_ids(TARGET_APP), ["old-key-2025", "old-key-2026"]);
    assert_eq!(
        w.vault().field(USER_UID, "client_secret_id").as_deref(),
        Some("old-key-2026")
    );
}

#[test]
fn a_refused_save_and_a_failed_removal_exit_4_naming_the_secret() {
    let w = world();
    refuse_the_store(w.vault());
    w.azure()
        .fault("removePassword", AzureFault::forbidden(), 5);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let new = w
        .key_ids(TARGET_APP)
        .into_iter()
        .find(|id| !id.starts_with("old-"))
        .unwrap();
    out.assert_stderr_has(&format!(
        "revoke client secret {new} of application 'payroll-api'"
    ));
}

#[test]
fn a_secret_that_works_after_5_seconds_is_verified_after_about_5_seconds() {
    let w = world_with(|azure| azure.new_secrets_work_after(Duration::from_secs(5)));
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_stderr_has("the new credential works (3 of 3 in a row)");
    assert!(out.elapsed >= Duration::from_secs(5), "{}", out.output());
    assert!(out.elapsed < Duration::from_secs(9), "{}", out.output());
}

#[test]
fn a_secret_that_never_works_keeps_the_old_ones_and_exits_3() {
    let w = world_with(FakeAzure::new_secrets_never_work);
    w.vault()
        .set_custom_field(USER_UID, "verify_timeout_seconds", "2");
    w.run("admin-record.json", &[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has("AADSTS7000215")
        .assert_stderr_has("Every old client secret was kept");
    assert_eq!(w.key_ids(TARGET_APP).len(), 3);
    w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
}

#[test]
fn a_failed_removal_exits_3_naming_the_key() {
    let w = world();
    w.azure()
        .fault("removePassword", AzureFault::forbidden(), 5);
    w.run("admin-record.json", &[])
        .assert_exit(3)
        .assert_stderr_has("revoking old client secret old-key-2025 failed")
        .assert_stderr_has("Authorization_RequestDenied");
    w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
}

#[test]
fn settings_in_the_user_record_are_not_secrets_and_exit_3_names_every_old_secret() {
    let w = world();
    w.vault()
        .set_custom_field(USER_UID, "keep_previous_secrets", "0");
    w.vault()
        .set_custom_field(USER_UID, "secret_expiry_days", "365");
    w.azure()
        .fault("removePassword", AzureFault::forbidden(), 5);
    let out = w.run("user-record-settings.json", &[]);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has("revoking old client secret old-key-2025 failed")
        .assert_stderr_has("Still valid: old-key-2025, old-key-2026");
    let new = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    out.assert_stderr_has(&format!("The new client secret {new} is stored"));
    assert!(!out.stderr.contains("[redacted]"), "{}", out.output());
}

#[test]
fn a_503_to_add_password_is_not_resent_and_a_secret_it_may_have_made_is_named_by_its_tag() {
    let w = world();
    let unavailable = AzureFault {
        status: 503,
        code: "ServiceUnavailable".into(),
        message: "The service is temporarily unavailable.".into(),
        retry_after: Some(1),
    };
    w.azure().fault("addPassword", unavailable, 1);
    let out = w.run("admin-record.json", &[]);
    // Nothing appeared under this run's tag in the paced listings, but Graph
    // reads lag: the run cannot say nothing changed, and names what to look
    // for.
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has("HTTP 503")
        .assert_stderr_has("named 'keeper-rotated AzureUserUid0000000001 ");
    let adds = w
        .azure()
        .calls()
        .iter()
        .filter(|c| c.action == "addPassword")
        .count();
    assert_eq!(adds, 1, "an addPassword must not be resent");
    assert_eq!(w.key_ids(TARGET_APP), ["old-key-2025", "old-key-2026"]);
}

#[test]
fn throttling_is_waited_out_with_retry_after() {
    let w = world();
    w.azure().fault("get", AzureFault::throttled(1), 1);
    w.azure().fault("addPassword", AzureFault::throttled(1), 1);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_stderr_has("HTTP 429, retrying in 1.0 s");
    assert!(out.elapsed >= Duration::from_secs(2), "{}", out.output());
    assert_eq!(w.key_ids(TARGET_APP).len(), 1);
}

#[test]
fn rotating_the_admin_application_itself_leaves_nothing_using_a_removed_secret() {
    let w = world();
    w.run("self-rotation.json", &[])
        .assert_exit(0)
        .assert_stderr_has("stored the new secret in the admin record too");
    let key_id = w.assert_vault_holds_a_live_secret("AzureSelfUserUid000001", ADMIN_APP);
    assert_eq!(w.key_ids(ADMIN_APP), [key_id]);
    // The attached admin record holds the new secret too.
    assert_eq!(
        w.vault().field("AzureAdminRecordUid001", "client_secret"),
        w.vault().field("AzureSelfUserUid000001", "client_secret")
    );
    assert_eq!(w.azure().calls_with_removed_secrets(), Vec::<String>::new());
    // The removal and the final listing used a token from the new secret.
    let calls = w.azure().calls();
    let last_token = calls.iter().rposition(|c| c.action == "token").unwrap();
    let first_removal = calls
        .iter()
        .position(|c| c.action == "removePassword")
        .unwrap();
    assert!(last_token < first_removal);
}

#[test]
fn a_missing_application_object_id_exits_2() {
    let w = world();
    w.vault()
        .set_custom_field(USER_UID, "application_object_id", "");
    w.run("admin-record.json", &[])
        .assert_exit(2)
        .assert_stderr_has(
            "'application_object_id' is missing or empty in record 'payroll-api (Entra app)'",
        );
}

#[test]
fn an_unknown_application_exits_2() {
    let w = world();
    w.vault().set_custom_field(
        USER_UID,
        "application_object_id",
        "99999999-0000-4000-8000-000000000000",
    );
    w.run("admin-record.json", &[])
        .assert_exit(2)
        .assert_stderr_has(
            "no application has the object id or client id '99999999-0000-4000-8000-000000000000'",
        );
}

#[test]
fn no_admin_credentials_exit_2_saying_where_to_put_them() {
    let w = world();
    w.run("no-admin.json", &[])
        .assert_exit(2)
        .assert_stderr_has("no admin application credentials");
    assert!(w.azure().calls().is_empty());
}

#[test]
fn an_unknown_cloud_exits_2() {
    let w = world();
    w.vault().set_custom_field(USER_UID, "azure_cloud", "mars");
    w.run("admin-record.json", &[])
        .assert_exit(2)
        .assert_stderr_has("'mars' is not public, usgov or china");
}

#[test]
fn a_wrong_admin_secret_exits_1_with_the_identity_platform_reason() {
    let azure = FakeAzure::start(TENANT)
        .with_app(ADMIN_OBJ, ADMIN_APP, "keeper-admin", true)
        .with_secret(
            ADMIN_APP,
            "admin-key-2",
            "a~different~admin~secret~00000000000002",
            "2026-06-01T00:00:00Z",
        )
        .with_app(TARGET_OBJ, TARGET_APP, "payroll-api", false);
    let w = World::of(azure);
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has(&format!("the admin application {ADMIN_APP}"))
        .assert_stderr_has("could not get a Graph token: HTTP 401 invalid_client: AADSTS7000215");
    assert!(w.azure().calls().iter().all(|c| c.action == "token"));
}

#[test]
fn a_failing_token_endpoint_exits_1() {
    let w = world();
    w.azure().fault("token", AzureFault::server_error(), 4);
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("could not get a Graph token");
    assert_eq!(w.key_ids(TARGET_APP).len(), 2);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let w = world();
    w.run("admin-record.json", &["--dry-run"])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("dry run: application 'payroll-api'")
        .assert_stdout_has("then remove old-key-2025, old-key-2026. Checked: ");
    assert!(
        w.azure()
            .calls()
            .iter()
            .all(|c| c.action == "token" || c.action == "get")
    );
    assert_eq!(w.key_ids(TARGET_APP).len(), 2);
    assert_eq!(w.vault().revision(USER_UID), Some(1));
}
