//! rotate-azure-app-secret end to end: the real binary against the token +
//! Graph fake and the fake Keeper vault. Every run is scanned for every
//! secret and token the fakes issued, the new secret included.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::{AzureFault, FakeAzure, FakeVault, Fault, Outcome, Run, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_rotate-azure-app-secret");
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
        let scenario = Scenario::load(&format!("scenarios/azure-app-secret/{scenario}"));
        let mut run = Run::new(BIN).scenario(&scenario);
        for arg in args {
            run = run.arg(*arg);
        }
        for (key, value) in self.vault.env().into_iter().chain(self.azure.env()) {
            run = run.env(&key, value);
        }
        for secret in self.azure.issued() {
            run = run.secret(secret);
        }
        let out = run.run();
        assert_eq!(
            out.find_leak(&self.azure.issued()),
            None,
            "{}",
            out.output()
        );
        out
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

#[test]
fn a_failed_vault_write_removes_the_new_secret_and_exits_1() {
    let w = world();
    w.vault.fault_on("update_secret", Fault::ServerError, 1);
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("was removed again; nothing changed");
    assert_eq!(w.key_ids(TARGET_APP), ["old-key-2025", "old-key-2026"]);
    assert_eq!(
        w.vault.field(USER_UID, "client_secret_id").as_deref(),
        Some("old-key-2026")
    );
}

#[test]
fn a_failed_vault_write_and_a_failed_removal_exit_4_naming_the_key() {
    let w = world();
    w.vault.fault_on("update_secret", Fault::ServerError, 1);
    w.azure.fault("removePassword", AzureFault::forbidden(), 5);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let new = w
        .key_ids(TARGET_APP)
        .into_iter()
        .find(|id| !id.starts_with("old-"))
        .unwrap();
    out.assert_stderr_has(&format!("Remove secret {new} from 'payroll-api'"));
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
        .assert_stderr_has("The old secrets were kept");
    assert_eq!(w.key_ids(TARGET_APP).len(), 3);
    w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
}

#[test]
fn a_failed_removal_exits_3_naming_the_key() {
    let w = world();
    w.azure.fault("removePassword", AzureFault::forbidden(), 5);
    w.run("admin-record.json", &[])
        .assert_exit(3)
        .assert_stderr_has("removing old secret old-key-2025 failed")
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
        .assert_stderr_has("removing old secret old-key-2025 failed")
        .assert_stderr_has("Still valid: old-key-2025, old-key-2026");
    let new = w.assert_vault_holds_a_live_secret(USER_UID, TARGET_APP);
    out.assert_stderr_has(&format!("the new secret {new} is stored"));
    assert!(!out.stderr.contains("[redacted]"), "{}", out.output());
}

#[test]
fn a_503_to_add_password_is_not_resent_and_any_secret_it_made_is_looked_for() {
    let w = world();
    let unavailable = AzureFault {
        status: 503,
        code: "ServiceUnavailable".into(),
        message: "The service is temporarily unavailable.".into(),
        retry_after: Some(1),
    };
    w.azure.fault("addPassword", unavailable, 1);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("HTTP 503")
        .assert_stderr_has("0 secret(s) it may have made were removed; nothing changed");
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
