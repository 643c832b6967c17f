//! The admin's credentials, naming the application, and the settings.

use super::*;

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
    let secret = w.azure().secrets(TARGET_APP).remove(0);
    assert!(
        secret
            .display_name
            .starts_with(&format!("keeper-rotated {USER_UID} ")),
        "{}",
        secret.display_name
    );
    assert_eq!(w.vault().field(USER_UID, "expires"), Some(secret.end));
    assert_eq!(
        w.vault()
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
    w.vault()
        .set_custom_field(USER_UID, "application_object_id", TARGET_APP);
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has(&format!("object id {TARGET_OBJ}, client id {TARGET_APP}"));
    let gets: Vec<String> = w
        .azure()
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
    w.vault()
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
    w.vault()
        .set_custom_field(USER_UID, "secret_expiry_days", "60");
    w.run("admin-record.json", &[]).assert_exit(0);
}
