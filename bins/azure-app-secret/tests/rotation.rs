//! rotate-azure-app-secret end to end: the real binary against the token +
//! Graph fake and the fake Keeper vault. Every run is scanned for every
//! secret and token the fakes issued, the new secret included.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::faults::{Armable, FaultKind};
use harness::runner::overlap;
use harness::{AzureFault, FakeAzure, FakeVault, Fault, Outcome, Run, Scenario};

const BIN: harness::Binary = harness::binary!("rotate-azure-app-secret");
const TENANT: &str = "72f988bf-0000-4000-8000-000000000001";
const ADMIN_APP: &str = "11111111-0000-4000-8000-00000000a001";
const ADMIN_OBJ: &str = "aaaaaaaa-0000-4000-8000-00000000a001";
const ADMIN_SECRET: &str = "admin~app~secret~value~0000000000000001";
const TARGET_APP: &str = "22222222-0000-4000-8000-00000000b001";
const TARGET_OBJ: &str = "bbbbbbbb-0000-4000-8000-00000000b001";
const USER_UID: &str = "AzureUserUid0000000001";

struct World {
    azure: FakeAzure,
    vault: FakeVault,
}

fn world() -> World {
    world_with(|azure| azure)
}

/// The admin app (may manage all apps) and the target app with two old
/// secrets, one from 2025 and one from 2026.
fn world_with(tweak: impl FnOnce(FakeAzure) -> FakeAzure) -> World {
    let azure = FakeAzure::start(TENANT)
        .with_app(ADMIN_OBJ, ADMIN_APP, "keeper-admin", true)
        .with_secret(
            ADMIN_APP,
            "admin-key-1",
            ADMIN_SECRET,
            "2026-06-01T00:00:00Z",
        )
        .with_app(TARGET_OBJ, TARGET_APP, "payroll-api", false)
        .with_secret(
            TARGET_APP,
            "old-key-2025",
            "target~old~secret~2025~0000000000000001",
            "2025-01-01T00:00:00Z",
        )
        .with_secret(
            TARGET_APP,
            "old-key-2026",
            "target~old~secret~2026~0000000000000002",
            "2026-01-01T00:00:00Z",
        );
    World {
        azure: tweak(azure),
        vault: FakeVault::from_fixture("vault/azure/records.json"),
    }
}

impl World {
    fn run(&self, scenario: &str, args: &[&str]) -> Outcome {
        let out = self.runner(scenario, args).run();
        assert_eq!(
            out.find_leak(&self.azure.issued()),
            None,
            "{}",
            out.output()
        );
        out
    }

    /// The run, not yet started.
    fn runner(&self, scenario: &str, args: &[&str]) -> Run {
        let scenario = Scenario::load(&format!("scenarios/azure-app-secret/{scenario}"));
        self.runner_for(&scenario, args)
    }

    fn runner_for(&self, scenario: &Scenario, args: &[&str]) -> Run {
        let mut run = Run::new(BIN).scenario(scenario);
        for arg in args {
            run = run.arg(*arg);
        }
        for (key, value) in self.vault.env().into_iter().chain(self.azure.env()) {
            run = run.env(&key, value);
        }
        for secret in self.azure.issued() {
            run = run.secret(secret);
        }
        run
    }

    fn key_ids(&self, app: &str) -> Vec<String> {
        self.azure
            .secrets(app)
            .into_iter()
            .map(|s| s.key_id)
            .collect()
    }

    /// The vault holds the text of the secret Graph made under the stored keyId.
    fn assert_vault_holds_a_live_secret(&self, uid: &str, app: &str) -> String {
        let key_id = self.vault.field(uid, "client_secret_id").unwrap();
        let secret = self
            .azure
            .secrets(app)
            .into_iter()
            .find(|s| s.key_id == key_id)
            .unwrap();
        assert_eq!(
            self.vault.field(uid, "client_secret").as_deref(),
            Some(secret.text.as_str())
        );
        key_id
    }
}

#[test]
fn admin_credentials_from_an_attached_record_rotate_and_remove_every_old_secret() {
    let w = world();
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has(&format!(
            "admin application: client id {ADMIN_APP} from record 'keeper-admin (Entra app)'"
        ))
        .assert_stderr_has(&format!(
            "object id {TARGET_OBJ}, client id {TARGET_APP}, 2 secret(s)"
        ))
        .assert_stdout_has("rotated the client secret of application 'payroll-api'")
        .assert_stdout_has("removed old-key-2025, old-key-2026");
    let key_id = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), std::slice::from_ref(&key_id));
    let secret = w.azure.secrets(TARGET_APP).remove(0);
    assert!(
        secret
            .display_name
            .starts_with(&format!("keeper-rotated {USER_UID} ")),
        "{}",
        secret.display_name
    );
    assert_eq!(w.vault.field(USER_UID, "expires"), Some(secret.end));
    assert_eq!(
        w.vault
            .custom_field_type(USER_UID, "client_secret")
            .as_deref(),
        Some("secret")
    );
}

#[test]
fn admin_credentials_from_the_pam_configuration_in_the_input() {
    let w = world();
    w.run("pam-config-input.json", &[])
        .assert_exit(0)
        .assert_stderr_has("from the PAM configuration record 'Azure PAM configuration'");
}

#[test]
fn admin_credentials_from_the_pam_configuration_record_in_the_vault() {
    let w = world();
    w.run("pam-config-vault.json", &[])
        .assert_exit(0)
        .assert_stderr_has("(uid AzureConfigUid00000001) in the vault");
}

#[test]
fn the_application_can_be_named_by_its_client_id() {
    let w = world();
    w.vault
        .set_custom_field(USER_UID, "application_object_id", TARGET_APP);
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has(&format!("object id {TARGET_OBJ}, client id {TARGET_APP}"));
    let gets: Vec<String> = w
        .azure
        .calls()
        .into_iter()
        .filter(|c| c.action == "get")
        .map(|c| c.path)
        .collect();
    assert_eq!(gets[0], format!("applications/{TARGET_APP}"));
    assert_eq!(gets[1], format!("applications(appId='{TARGET_APP}')"));
}

#[test]
fn keep_previous_secrets_keeps_the_newest_old_ones() {
    let w = world();
    w.vault
        .set_custom_field(USER_UID, "keep_previous_secrets", "1");
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stdout_has("removed old-key-2025");
    let ids = w.key_ids(TARGET_APP);
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"old-key-2026".to_owned()));
}

#[test]
fn a_lifetime_policy_refusal_exits_2_naming_the_field_to_lower() {
    let w = world_with(|azure| azure.max_lifetime_days(90));
    w.run("admin-record.json", &[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("CredentialInvalidLifetimeAsPerAppPolicy")
        .assert_stderr_has("lower the user record's secret_expiry_days");
    assert_eq!(w.key_ids(TARGET_APP).len(), 2);
    w.vault
        .set_custom_field(USER_UID, "secret_expiry_days", "60");
    w.run("admin-record.json", &[]).assert_exit(0);
}

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
    refuse_the_store(&w.vault);
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("The new client secret was revoked again; nothing was changed");
    assert_eq!(w.key_ids(TARGET_APP), ["old-key-2025", "old-key-2026"]);
    assert_eq!(
        w.vault.field(USER_UID, "client_secret_id").as_deref(),
        Some("old-key-2026")
    );
}

#[test]
fn a_refused_save_and_a_failed_removal_exit_4_naming_the_secret() {
    let w = world();
    refuse_the_store(&w.vault);
    w.azure.fault("removePassword", AzureFault::forbidden(), 5);
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
    w.vault
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
    w.azure.fault("removePassword", AzureFault::forbidden(), 5);
    w.run("admin-record.json", &[])
        .assert_exit(3)
        .assert_stderr_has("revoking old client secret old-key-2025 failed")
        .assert_stderr_has("Authorization_RequestDenied");
    w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
}

#[test]
fn settings_in_the_user_record_are_not_secrets_and_exit_3_names_every_old_secret() {
    let w = world();
    w.vault
        .set_custom_field(USER_UID, "keep_previous_secrets", "0");
    w.vault
        .set_custom_field(USER_UID, "secret_expiry_days", "365");
    w.azure.fault("removePassword", AzureFault::forbidden(), 5);
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
    w.azure.fault("addPassword", unavailable, 1);
    let out = w.run("admin-record.json", &[]);
    // Nothing appeared under this run's tag in the paced listings, but Graph
    // reads lag: the run cannot say nothing changed, and names what to look
    // for.
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has("HTTP 503")
        .assert_stderr_has("named 'keeper-rotated AzureUserUid0000000001 ");
    let adds = w
        .azure
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
    w.azure.fault("get", AzureFault::throttled(1), 1);
    w.azure.fault("addPassword", AzureFault::throttled(1), 1);
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
        w.vault.field("AzureAdminRecordUid001", "client_secret"),
        w.vault.field("AzureSelfUserUid000001", "client_secret")
    );
    assert_eq!(w.azure.calls_with_removed_secrets(), Vec::<String>::new());
    // The removal and the final listing used a token from the new secret.
    let calls = w.azure.calls();
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
    w.vault
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
    w.vault.set_custom_field(
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
    assert!(w.azure.calls().is_empty());
}

#[test]
fn an_unknown_cloud_exits_2() {
    let w = world();
    w.vault.set_custom_field(USER_UID, "azure_cloud", "mars");
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
    let w = World {
        azure,
        vault: FakeVault::from_fixture("vault/azure/records.json"),
    };
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has(&format!("the admin application {ADMIN_APP}"))
        .assert_stderr_has("could not get a Graph token: HTTP 401 invalid_client: AADSTS7000215");
    assert!(w.azure.calls().iter().all(|c| c.action == "token"));
}

#[test]
fn a_failing_token_endpoint_exits_1() {
    let w = world();
    w.azure.fault("token", AzureFault::server_error(), 4);
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
        .assert_stdout_has("then remove old-key-2025, old-key-2026. Nothing was changed.");
    assert!(
        w.azure
            .calls()
            .iter()
            .all(|c| c.action == "token" || c.action == "get")
    );
    assert_eq!(w.key_ids(TARGET_APP).len(), 2);
    assert_eq!(w.vault.revision(USER_UID), Some(1));
}

// --- hostile services: late, lost, repeated and overlapping -----------------------

#[test]
fn a_second_run_while_the_first_holds_the_record_changes_nothing_and_exits_1() {
    let w = world();
    let gate = w.azure.proxy().hold("addPassword", 1);
    let (first, second) = overlap(
        w.runner("admin-record.json", &[]),
        w.runner("admin-record.json", &[]),
        || w.azure.proxy().wait_for("addPassword", 1),
        |_| gate.release(),
    );
    second
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is in progress");
    first.assert_exit(0).assert_clean();
    assert_eq!(w.azure.proxy().count("addPassword"), 1);
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [kept]);
    for out in [&first, &second] {
        assert_eq!(out.find_leak(&w.azure.issued()), None, "{}", out.output());
    }
}

#[test]
fn a_truncated_add_password_answer_is_found_by_its_tag_and_removed() {
    let w = world();
    w.azure
        .arm("addPassword", 1, FaultKind::Truncated2xx)
        .unwrap();
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the client secret(s) it made anyway")
        .assert_stderr_has("were revoked; nothing was changed");
    assert_eq!(w.key_ids(TARGET_APP), ["old-key-2025", "old-key-2026"]);
    assert_eq!(
        w.vault.field(USER_UID, "client_secret_id").as_deref(),
        Some("old-key-2026")
    );
}

#[test]
fn a_lost_add_password_answer_behind_a_lagging_listing_is_still_found_and_removed() {
    let w = world();
    w.azure.listing_lag(Duration::from_secs(3));
    w.azure
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
        .azure
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
        w.azure.arm("get", nth, FaultKind::Status500).unwrap();
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
    w.azure.arm("token", 5, FaultKind::Status500).unwrap();
    w.run("self-rotation.json", &[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has("were kept and are still valid");
    w.assert_vault_holds_a_live_secret("AzureSelfUserUid000001", ADMIN_APP);
    assert_eq!(w.key_ids(ADMIN_APP).len(), 2);
}

// --- attack: what the hostile review found -----------------------------------------

#[test]
fn an_add_password_applied_behind_a_503_leaves_no_secret_nobody_knows() {
    let w = world();
    // Graph adds the secret, the gateway in front of it answers 503: the
    // change is never resent; the secret is found by this run's tag and
    // removed, and nothing changed.
    w.azure
        .fault_after_apply("addPassword", AzureFault::unavailable(), 1);
    let out = w.run("admin-record.json", &[]);
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(kept, "old-key-2026");
    let tags: Vec<String> = w
        .azure
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
    assert_eq!(w.azure.proxy().count("addPassword"), 1, "never resent");
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
    assert_eq!(out.find_leak(&w.azure.issued()), None, "{}", out.output());
    out.assert_exit(0);
    let key_id = w.assert_vault_holds_a_live_secret("AzureSelfUserUid000001", ADMIN_APP);
    assert_eq!(w.key_ids(ADMIN_APP), [key_id]);
    assert!(
        w.vault.field("AzureAdminRecordUid001", "client_secret")
            == w.vault.field("AzureSelfUserUid000001", "client_secret"),
        "the admin record is left holding a removed secret\n{}",
        out.output()
    );
    assert_eq!(w.azure.calls_with_removed_secrets(), Vec::<String>::new());
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
    w.vault
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
    assert_eq!(out.find_leak(&w.azure.issued()), None);
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
    w.azure
        .fault_after_apply("addPassword", AzureFault::unavailable(), 1);
    for nth in 2..=4 {
        w.azure
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
    w.vault.set_custom_field(USER_UID, "verify_successes", "1");
    w.azure.listing_lag(Duration::from_secs(5));
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean();
    let kept = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [kept]);
}

// --- issue 23: every record holding the secret being retired -----------------------

const CONFIG_UID: &str = "AzureConfigUid00000001";
const SELF_UID: &str = "AzureSelfUserUid000001";

#[test]
fn a_self_rotation_gives_the_pam_configuration_the_new_secret_before_the_old_one_is_removed() {
    // The admin application's secret sits in the attached admin record and in
    // the PAM configuration's clientSecret (the Gateway's own credential).
    let w = world();
    assert_eq!(
        w.vault.field(CONFIG_UID, "clientSecret").as_deref(),
        Some(ADMIN_SECRET)
    );
    let out = w.run("self-rotation.json", &[]);
    out.assert_exit(0);
    let key_id = w.assert_vault_holds_a_live_secret(SELF_UID, ADMIN_APP);
    assert_eq!(w.key_ids(ADMIN_APP), [key_id]);
    assert_eq!(
        w.vault.field(CONFIG_UID, "clientSecret"),
        w.vault.field(SELF_UID, "client_secret"),
        "the PAM configuration is left holding a removed secret\n{}",
        out.output()
    );
}

/// The Azure fixture's vault without the PAM configuration: a record the
/// Gateway's KSM application is not shared.
fn vault_without_the_pam_configuration() -> FakeVault {
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let shared: Vec<serde_json::Value> = records
        .into_iter()
        .filter(|r| r["uid"] != CONFIG_UID)
        .collect();
    FakeVault::start(&shared)
}

#[test]
fn a_pam_configuration_holding_the_secret_that_cannot_be_written_keeps_it_and_exits_3_naming_it() {
    let mut w = world();
    w.vault = vault_without_the_pam_configuration();
    // The Gateway sends the PAM configuration with the admin's secret; the
    // vault does not show it to the Gateway's application.
    let scenario = Scenario::load("scenarios/azure-app-secret/self-rotation.json").record_field(
        CONFIG_UID,
        "clientSecret",
        ADMIN_SECRET.into(),
    );
    let out = w.runner_for(&scenario, &[]).run();
    assert_eq!(out.find_leak(&w.azure.issued()), None, "{}", out.output());
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "record 'Azure PAM configuration' (uid {CONFIG_UID})"
        ))
        .assert_stderr_has("were kept and are still valid");
    let key_id = w.assert_vault_holds_a_live_secret(SELF_UID, ADMIN_APP);
    let mut live = w.key_ids(ADMIN_APP);
    live.sort();
    let mut expected = vec!["admin-key-1".to_owned(), key_id];
    expected.sort();
    assert_eq!(
        live, expected,
        "the secret the PAM configuration holds was removed"
    );
}

#[test]
fn a_refused_save_of_the_pam_configuration_keeps_the_old_secret_and_exits_3() {
    let w = world();
    // Saves: the lease, the self-rotation record, the admin record, then the
    // PAM configuration, which the vault refuses for good (its revision
    // check fails on every attempt).
    w.vault
        .fault_on_after("update_secret", 3, Fault::StaleRevision);
    w.vault.fault_on("update_secret", Fault::StaleRevision, 3);
    let out = w.run("self-rotation.json", &[]);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "(uid {CONFIG_UID}) holds the client secret being retired"
        ));
    assert_eq!(
        w.vault.field(CONFIG_UID, "clientSecret").as_deref(),
        Some(ADMIN_SECRET)
    );
    assert!(
        w.key_ids(ADMIN_APP).contains(&"admin-key-1".to_owned()),
        "the secret the PAM configuration holds was removed\n{}",
        out.output()
    );
}

#[test]
fn an_attached_record_holding_the_target_secret_gets_the_new_one_before_it_is_removed() {
    // A consumer's record, attached to the script, holds the same secret as
    // the PAM User record.
    let consumer = serde_json::json!({
        "uid": "AzureConsumerUid000001",
        "type": "login",
        "title": "payroll consumer",
        "fields": [{"type": "password", "value": ["target~old~secret~2026~0000000000000002"]}],
        "custom": []
    });
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    records.push(consumer);
    let mut w = world();
    w.vault = FakeVault::start(&records);
    let path = harness::inputs::scenario::fixtures_dir()
        .join("scenarios/azure-app-secret/admin-record.json");
    let mut scenario: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario["records"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "uid": "AzureConsumerUid000001",
            "title": "payroll consumer",
            "password": "target~old~secret~2026~0000000000000002"
        }));
    let scenario = Scenario::from_json(&scenario.to_string()).unwrap();
    let out = w.runner_for(&scenario, &[]).run();
    assert_eq!(out.find_leak(&w.azure.issued()), None, "{}", out.output());
    out.assert_exit(0);
    w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(
        w.vault.field("AzureConsumerUid000001", "password"),
        w.vault.field(USER_UID, "client_secret"),
        "the consumer's record is left holding a removed secret\n{}",
        out.output()
    );
}

#[test]
fn a_secret_held_in_a_field_the_write_cannot_reach_is_kept_and_no_other_field_is_overwritten() {
    // The PAM configuration has two fields called clientSecret: the standard
    // one holds something else, a custom one the admin's secret. Writing
    // "clientSecret" reaches the standard one.
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let config = records.iter_mut().find(|r| r["uid"] == CONFIG_UID).unwrap();
    for field in config["fields"].as_array_mut().unwrap() {
        if field["label"] == "clientSecret" {
            field["value"] = serde_json::json!(["unrelated~value~0000000000000009"]);
        }
    }
    config["custom"] = serde_json::json!([
        {"type": "secret", "label": "clientSecret", "value": [ADMIN_SECRET]}
    ]);
    let mut w = world();
    w.vault = FakeVault::start(&records);
    let out = w.run("self-rotation.json", &[]);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has("a second field called clientSecret, which cannot be written in place");
    assert_eq!(
        w.vault.field(CONFIG_UID, "clientSecret").as_deref(),
        Some("unrelated~value~0000000000000009"),
        "another field was overwritten\n{}",
        out.output()
    );
    assert!(w.key_ids(ADMIN_APP).contains(&"admin-key-1".to_owned()));
}

#[test]
fn a_pam_configuration_of_the_rotated_application_gets_the_new_secret_when_another_admin_rotates_it()
 {
    // The PAM configuration holds the target application's client id and its
    // 2025 secret (one the PAM User record does not hold); the attached admin
    // record, another application, does the rotation. The input carries the
    // PAM configuration with its uid and title only.
    let path = harness::inputs::scenario::fixtures_dir().join("vault/azure/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let config = records.iter_mut().find(|r| r["uid"] == CONFIG_UID).unwrap();
    for field in config["fields"].as_array_mut().unwrap() {
        if field["label"] == "clientId" {
            field["value"] = serde_json::json!([TARGET_APP]);
        }
        if field["label"] == "clientSecret" {
            field["value"] = serde_json::json!(["target~old~secret~2025~0000000000000001"]);
        }
    }
    let mut w = world();
    w.vault = FakeVault::start(&records);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0);
    let key_id = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    assert_eq!(w.key_ids(TARGET_APP), [key_id]);
    assert_eq!(
        w.vault.field(CONFIG_UID, "clientSecret"),
        w.vault.field(USER_UID, "client_secret"),
        "the PAM configuration is left holding a removed secret\n{}",
        out.output()
    );
}
