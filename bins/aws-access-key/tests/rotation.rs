//! rotate-aws-access-key end to end: the real binary against the IAM + STS
//! fake and the fake Keeper vault (through the unmodified KSM SDK). Every run
//! is scanned for every secret the fakes issued, including the new key's.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::{AwsFault, FakeAws, FakeVault, Fault, Outcome, Run, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_rotate-aws-access-key");
const USER_UID: &str = "PamUserUid000000000001";
const ADMIN_ID: &str = "AKIAADMINKEY00000001";
const ADMIN_SECRET: &str = "admin-secret-access-key-000000000000001";
const STORED_ID: &str = "AKIAEXISTING00000001";
const STORED_SECRET: &str = "existing-secret-access-key-0000000001";
const OTHER_ID: &str = "AKIAOTHERKEY00000002";
const OTHER_SECRET: &str = "other-secret-access-key-00000000000002";

struct World {
    aws: FakeAws,
    vault: FakeVault,
}

/// IAM user alice with the key the record stores.
fn world() -> World {
    world_with(|aws| {
        aws.with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
    })
}

fn world_with(keys: impl FnOnce(FakeAws) -> FakeAws) -> World {
    let aws = FakeAws::start()
        .with_admin(ADMIN_ID, ADMIN_SECRET)
        .with_role(
            "arn:aws:iam::123456789012:role/keeper-rotation",
            Some("keeper-external-id-1"),
        )
        .with_user("alice");
    World {
        aws: keys(aws),
        vault: FakeVault::from_fixture("vault/aws/records.json"),
    }
}

impl World {
    fn run(&self, scenario: &str, args: &[&str]) -> Outcome {
        self.run_with(scenario, args, &[])
    }

    /// Runs with extra environment variables, set after the fakes' own.
    fn run_with(&self, scenario: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let scenario = Scenario::load(&format!("scenarios/aws-access-key/{scenario}"));
        let mut run = Run::new(BIN).scenario(&scenario);
        for arg in args {
            run = run.arg(*arg);
        }
        for (key, value) in self.vault.env().into_iter().chain(self.aws.env()) {
            run = run.env(&key, value);
        }
        for (key, value) in env {
            run = run.env(key, *value);
        }
        for secret in [ADMIN_SECRET, STORED_SECRET, OTHER_SECRET] {
            run = run.secret(secret);
        }
        let out = run.run();
        // The new key's secret exists only after the run: scan for it now.
        assert_eq!(out.find_leak(&self.aws.secrets()), None, "{}", out.output());
        out
    }

    fn key_ids(&self) -> Vec<String> {
        self.aws.keys("alice").into_iter().map(|k| k.id).collect()
    }

    fn stored_id(&self) -> String {
        self.vault.field(USER_UID, "aws_access_key_id").unwrap()
    }

    /// The secret the vault holds is the one IAM issued for the stored id.
    fn assert_vault_holds_a_live_key(&self) {
        let id = self.stored_id();
        let key = self
            .aws
            .keys("alice")
            .into_iter()
            .find(|k| k.id == id)
            .unwrap();
        assert_eq!(
            self.vault
                .field(USER_UID, "aws_secret_access_key")
                .as_deref(),
            Some(key.secret.as_str())
        );
    }

    fn deletions(&self) -> Vec<String> {
        self.aws
            .calls()
            .into_iter()
            .filter(|c| c.action == "DeleteAccessKey")
            .map(|c| c.param("AccessKeyId").unwrap().to_owned())
            .collect()
    }
}

// --- credential sources --------------------------------------------------------

#[test]
fn admin_keys_from_an_attached_record_rotate_the_only_key() {
    let w = world();
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has("admin credentials: key ...0001 from record 'AWS admin'")
        .assert_stderr_has(&format!("UserId {}", w.aws.user_id("alice").unwrap()))
        .assert_stdout_has("rotated the access key of IAM user 'alice'");
    let ids = w.key_ids();
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], STORED_ID);
    assert_eq!(w.stored_id(), ids[0]);
    w.assert_vault_holds_a_live_key();
    assert_eq!(
        w.vault
            .custom_field_type(USER_UID, "aws_secret_access_key")
            .as_deref(),
        Some("secret")
    );
    assert!(
        w.vault
            .field(USER_UID, "CreateDate")
            .unwrap()
            .starts_with("20")
    );
    assert_eq!(
        w.vault
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
    let calls = w.aws.calls();
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
    assert!(w.aws.calls().is_empty());
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
        w.aws
            .calls()
            .iter()
            .all(|c| c.key_id == ADMIN_ID || c.action == "GetCallerIdentity")
    );
}

// --- existing keys -----------------------------------------------------------------

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
        .assert_stderr_has(&format!("deleting key {OTHER_ID} to make room for the new one: it is not the key the record stores"));
    assert_eq!(w.deletions(), [OTHER_ID, STORED_ID]);
    let actions = w.aws.actions();
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
        .assert_stderr_has(
            "deleting key AKIAINACTIVE00000001 to make room for the new one: it is Inactive",
        );
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
    w.vault
        .set_custom_field(USER_UID, "delete_all_keys_before_rotating", "True");
    w.run("admin-record.json", &[]).assert_exit(0);
    assert_eq!(
        w.deletions(),
        ["AKIAACTIVEUNKNOWN002", "AKIAACTIVEUNKNOWN001"]
    );
    assert_eq!(w.key_ids(), [w.stored_id()]);
}

// --- failures ------------------------------------------------------------------------

#[test]
fn a_failed_vault_write_deletes_the_new_key_and_exits_1() {
    let w = world();
    w.vault.fault_on("update_secret", Fault::ServerError, 1);
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("storing the new key in record 'alice (IAM)'")
        .assert_stderr_has("was deleted again; the stored key is unchanged");
    assert_eq!(w.key_ids(), [STORED_ID]);
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn a_failed_vault_write_and_a_failed_revocation_exit_4_naming_the_key() {
    let w = world();
    w.vault.fault_on("update_secret", Fault::ServerError, 1);
    w.aws
        .fault("DeleteAccessKey", AwsFault::service_failure(), 5);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let new_id = w.key_ids().into_iter().find(|id| id != STORED_ID).unwrap();
    out.assert_stderr_has(&format!("Delete key {new_id} in IAM"));
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn a_key_that_works_after_5_seconds_is_verified_after_about_5_seconds() {
    let w = world_with(|aws| {
        aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
            .new_keys_work_after(Duration::from_secs(5))
    });
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(0)
        .assert_stderr_has("the new credential works (3 of 3 in a row)");
    assert!(out.elapsed >= Duration::from_secs(5), "{}", out.output());
    assert!(
        out.elapsed < Duration::from_secs(9),
        "waited too long: {}",
        out.output()
    );
    let probes = w
        .aws
        .actions()
        .iter()
        .filter(|a| *a == "GetCallerIdentity")
        .count();
    assert!(
        probes > 3,
        "it polled, it did not sleep once: {probes} probes"
    );
}

#[test]
fn a_key_that_never_works_keeps_every_key_and_exits_3() {
    let w = world_with(|aws| {
        aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
            .new_keys_never_work()
    });
    w.vault
        .set_custom_field(USER_UID, "verify_timeout_seconds", "2");
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has("did not accept it 3 times in a row within 2 s")
        .assert_stderr_has("InvalidClientTokenId")
        .assert_stderr_has("Every old key was kept");
    assert_eq!(w.key_ids().len(), 2);
    assert!(w.deletions().is_empty());
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_failed_deletion_of_the_old_key_exits_3_naming_it() {
    let w = world();
    w.aws.fault("DeleteAccessKey", AwsFault::access_denied(), 5);
    w.run("admin-record.json", &[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "deleting old key {STORED_ID} failed: AccessDenied"
        ));
    w.assert_vault_holds_a_live_key();
    assert_eq!(w.key_ids().len(), 2);
}

#[test]
fn throttled_calls_are_retried_by_the_sdk() {
    let w = world();
    w.aws.fault("ListAccessKeys", AwsFault::throttling(), 1);
    w.aws.fault("CreateAccessKey", AwsFault::throttling(), 1);
    w.run("admin-record.json", &[]).assert_exit(0);
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_denied_assume_role_exits_1_and_changes_nothing() {
    let w = world();
    w.aws.fault("AssumeRole", AwsFault::access_denied(), 1);
    w.run("assume-role.json", &[])
        .assert_exit(1)
        .assert_stderr_has("AssumeRole into arn:aws:iam::123456789012:role/keeper-rotation with key ...0001 from record 'AWS admin role'")
        .assert_stderr_has("AccessDenied");
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_denied_get_user_is_a_warning_not_a_failure() {
    let w = world();
    w.aws.fault("GetUser", AwsFault::access_denied(), 1);
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("iam:GetUser is not allowed")
        .assert_stderr_has("UserId unknown");
}

#[test]
fn an_unknown_iam_user_exits_2() {
    let w = world();
    w.run("no-such-user.json", &[])
        .assert_exit(2)
        .assert_stderr_has("the IAM user 'nobody' does not exist");
}

#[test]
fn an_invalid_setting_exits_2_naming_the_field() {
    let w = world();
    w.vault
        .set_custom_field(USER_UID, "verify_successes", "lots");
    w.run("admin-record.json", &[])
        .assert_exit(2)
        .assert_stderr_has(
            "'verify_successes' in record 'alice (IAM)' (uid PamUserUid000000000001) is invalid",
        );
    assert!(w.aws.calls().is_empty());
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let w = world_with(|aws| {
        aws.with_key("alice", OTHER_ID, OTHER_SECRET, false, None)
            .with_key(
                "alice",
                STORED_ID,
                STORED_SECRET,
                true,
                Some("2026-11-01T00:00:00Z"),
            )
    });
    w.run("admin-record.json", &["--dry-run"])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("{OTHER_ID} (Inactive, last used never)"))
        .assert_stdout_has(&format!(
            "{STORED_ID} (Active, in the record, last used 2026-11-01T00:00:00Z)"
        ))
        .assert_stdout_has(&format!(
            "delete {OTHER_ID} first (it is not the key the record stores)"
        ))
        .assert_stdout_has(&format!("then delete {STORED_ID}. Nothing was changed."));
    for action in w.aws.actions() {
        assert!(
            ["GetUser", "ListAccessKeys", "GetAccessKeyLastUsed"].contains(&action.as_str()),
            "dry run called {action}"
        );
    }
    assert_eq!(w.vault.revision(USER_UID), Some(1));
    assert!(!w.vault.endpoints().iter().any(|e| e == "update_secret"));
}

#[test]
fn a_second_run_after_a_first_continues_from_the_stored_key() {
    let w = world();
    w.run("admin-record.json", &[]).assert_exit(0);
    let first = w.stored_id();
    w.run("admin-record.json", &[]).assert_exit(0);
    assert_ne!(w.stored_id(), first);
    assert_eq!(w.key_ids(), [w.stored_id()]);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_wrong_admin_secret_is_refused_by_its_signature_and_changes_nothing() {
    let w = world();
    w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", ADMIN_ID),
            (
                "AWS_SECRET_ACCESS_KEY",
                "not-the-admin-secret-0000000000000000000",
            ),
        ],
    )
    .assert_exit(1)
    .assert_stderr_has("SignatureDoesNotMatch");
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn service_specific_endpoint_variables_take_precedence() {
    let w = world();
    let dead = format!("http://127.0.0.1:{}", harness::net::refused_port());
    let url = w.aws.url();
    w.run_with(
        "admin-record.json",
        &[],
        &[
            ("AWS_ENDPOINT_URL", &dead),
            ("AWS_ENDPOINT_URL_IAM", &url),
            ("AWS_ENDPOINT_URL_STS", &url),
        ],
    )
    .assert_exit(0);
    assert_eq!(w.key_ids(), [w.stored_id()]);
}

#[test]
fn trace_logging_with_log_sensitive_bodies_does_not_print_the_new_secret() {
    let w = world();
    // run_with scans every output for the new key's secret once it exists.
    let out = w.run_with(
        "admin-record.json",
        &[],
        &[
            ("KEEPER_ROTATOR_LOG", "trace"),
            ("LOG_SENSITIVE_BODIES", "true"),
        ],
    );
    out.assert_exit(0).assert_clean();
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_plain_http_endpoint_override_to_a_remote_host_exits_2_naming_the_variable() {
    for variable in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_IAM",
        "AWS_ENDPOINT_URL_STS",
    ] {
        let w = world();
        let out = w.run_with(
            "admin-record.json",
            &[],
            &[(variable, "http://iam.example.com/")],
        );
        out.assert_exit(2)
            .assert_clean()
            .assert_stderr_has(&format!("'{variable}' in the environment is invalid"))
            .assert_stderr_has("uses plain http; use https");
        assert!(w.aws.calls().is_empty(), "{variable}: {}", out.output());
    }
}
