//! Where the admin's credentials come from.

use super::*;

#[test]
fn admin_keys_from_an_attached_record_rotate_the_only_key() {
    let w = world();
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has("admin credentials: key ...0001 from record 'AWS admin'")
        .assert_stderr_has(&format!("UserId {}", w.aws().user_id("alice").unwrap()))
        .assert_stdout_has("rotated the access key of IAM user 'alice'");
    let ids = w.key_ids();
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], STORED_ID);
    assert_eq!(w.stored_id(), ids[0]);
    w.assert_vault_holds_a_live_key();
    assert_eq!(
        w.vault()
            .custom_field_type(USER_UID, "aws_secret_access_key")
            .as_deref(),
        Some("secret")
    );
    assert!(
        w.vault()
            .field(USER_UID, "CreateDate")
            .unwrap()
            .starts_with("20")
    );
    assert_eq!(
        w.vault()
            .field(USER_UID, "Access_Key_ID_Removed_during_previous_rotation")
            .as_deref(),
        Some(STORED_ID)
    );
    assert!(
        !out.stderr.contains(ADMIN_ID),
        "the admin key id is logged masked"
    );
}

#[test]
fn assume_role_is_signed_with_the_attached_keys_and_passes_the_external_id() {
    let w = world();
    w.run("assume-role.json", &[])
        .assert_exit(0)
        .assert_stderr_has("AssumeRole into arn:aws:iam::123456789012:role/keeper-rotation (with external id) with key ...0001");
    let calls = w.aws().calls();
    let assume = calls.iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!(assume.key_id, ADMIN_ID);
    assert_eq!(assume.param("ExternalId"), Some("keeper-external-id-1"));
    let create = calls
        .iter()
        .find(|c| c.action == "CreateAccessKey")
        .unwrap();
    assert!(
        create.key_id.starts_with("ASIA"),
        "IAM calls use the role's session: {}",
        create.key_id
    );
}

#[test]
fn a_role_without_keys_to_sign_with_exits_2() {
    let w = world();
    w.run("role-without-keys.json", &[])
        .assert_exit(2)
        .assert_stderr_has("'aws_access_key_id' is missing or empty in record 'AWS admin role'");
    assert!(w.aws().calls().is_empty());
}

#[test]
fn admin_keys_from_the_pam_configuration_in_the_input() {
    let w = world();
    w.run("pam-config-input.json", &[])
        .assert_exit(0)
        .assert_stderr_has("admin credentials: key ...0001 from the PAM configuration record");
}

#[test]
fn admin_keys_from_the_pam_configuration_record_in_the_vault() {
    let w = world();
    w.run("pam-config-vault.json", &[])
        .assert_exit(0)
        .assert_stderr_has("from the PAM configuration record 'AWS PAM configuration' (uid PamConfigUid0000000001) in the vault");
}

#[test]
fn use_instance_role_falls_back_to_the_default_chain() {
    let w = world();
    w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", ADMIN_ID),
            ("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET),
        ],
    )
    .assert_exit(0)
    .assert_stderr_has("admin credentials: the AWS default credential chain");
    assert!(
        w.aws()
            .calls()
            .iter()
            .all(|c| c.key_id == ADMIN_ID || c.action == "GetCallerIdentity")
    );
}
