//! rotate-aws-access-key end to end: the real binary against the IAM + STS
//! fake and the fake Keeper vault (through the unmodified KSM SDK). Every run
//! is scanned for every secret the fakes issued, including the new key's.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use harness::fakes::vault::Others;
use harness::faults::net::{HangUpServer, PrivateNetwork, RecordingProxy};
use harness::faults::{Armable, FaultKind};
use harness::runner::overlap;
use harness::{AwsFault, FakeAws, FakeVault, Fault, Outcome, Run, Scenario};

const BIN: harness::Binary = harness::binary!("rotate-aws-access-key");
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
        let out = self.runner(scenario, args, env).run();
        // The new key's secret exists only after the run: scan for it now.
        assert_eq!(out.find_leak(&self.aws.secrets()), None, "{}", out.output());
        out
    }

    /// The run, not yet started.
    fn runner(&self, scenario: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.runner_without(scenario, args, env, &[])
    }

    /// The run, without the fakes' variables named in `without`.
    fn runner_without(
        &self,
        scenario: &str,
        args: &[&str],
        env: &[(&str, &str)],
        without: &[&str],
    ) -> Run {
        let scenario = Scenario::load(&format!("scenarios/aws-access-key/{scenario}"));
        let mut run = Run::new(BIN).scenario(&scenario);
        for arg in args {
            run = run.arg(*arg);
        }
        for (key, value) in self.vault.env().into_iter().chain(self.aws.env()) {
            if !without.contains(&key.as_str()) {
                run = run.env(&key, value);
            }
        }
        for (key, value) in env {
            run = run.env(key, *value);
        }
        for secret in [ADMIN_SECRET, STORED_SECRET, OTHER_SECRET] {
            run = run.secret(secret);
        }
        run
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
        .assert_stderr_has(&format!(
            "revoking access key {OTHER_ID} to make room: it is not the key the record stores"
        ));
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

/// The vault refuses the save for good (its revision check fails on every
/// attempt): nothing holds the new key, so it is revoked. The first
/// update_secret is the rotation lease.
fn refuse_the_store(vault: &FakeVault) {
    vault.fault_on_after("update_secret", 1, Fault::StaleRevision);
    vault.fault_on("update_secret", Fault::StaleRevision, 2);
}

#[test]
fn a_vault_that_refuses_the_save_gets_the_new_key_revoked_and_exits_1() {
    let w = world();
    refuse_the_store(&w.vault);
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("storing the new access key")
        .assert_stderr_has("in record 'alice (IAM)' (uid PamUserUid000000000001) failed")
        .assert_stderr_has("The new access key was revoked again; nothing was changed");
    assert_eq!(w.key_ids(), [STORED_ID]);
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn a_refused_save_and_a_failed_revocation_exit_4_naming_the_key() {
    let w = world();
    refuse_the_store(&w.vault);
    w.aws.fault("DeleteAccessKey", AwsFault::access_denied(), 5);
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let new_id = w.key_ids().into_iter().find(|id| id != STORED_ID).unwrap();
    out.assert_stderr_has(&format!(
        "revoke access key {new_id} of IAM user 'alice' (its secret is in no record)"
    ));
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn a_vault_500_on_the_save_is_settled_by_reading_back_and_saving_again() {
    let w = world();
    w.vault
        .fault_on_after("update_secret", 1, Fault::ServerError);
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("saving again at the same revision");
    w.assert_vault_holds_a_live_key();
    assert_eq!(w.key_ids().len(), 1);
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
        .assert_stderr_has("Every old access key was kept");
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
            "revoking old access key {STORED_ID} failed: AccessDenied"
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
        .assert_stdout_has(&format!("delete {OTHER_ID} first (it is Inactive)"))
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
    let dead = format!("http://127.0.0.1:{}", harness::faults::net::refused_port());
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

// --- every credential obtained is redacted -----------------------------------------

#[test]
fn a_403_that_echoes_the_assumed_role_session_token_never_prints_it() {
    let w = world();
    w.aws
        .fault("GetUser", AwsFault::invalid_token_echoing_it(), 1);
    // run_with scans for every secret the fake issued: the session's secret
    // access key and token included.
    let out = w.run("assume-role.json", &[]);
    // The message echoes a registered secret: the first layer withholds it
    // whole (an unregistered token would be printed, and fail assert_clean).
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("InvalidClientTokenId: withheld: it may echo a secret");
    assert_eq!(w.key_ids(), [STORED_ID]);
}

/// A session token of the default chain, in the fake's format.
const CHAIN_TOKEN: &str = "FwoGZXIvYXdzEDefaultChainSessionToken0000000000000000000001";

fn assert_token_not_shown(out: &Outcome) {
    assert_eq!(
        out.find_leak(&[CHAIN_TOKEN.to_owned()]),
        None,
        "{}",
        out.output()
    );
}

#[test]
fn a_403_that_echoes_the_session_token_of_the_environment_never_prints_it() {
    let w = world();
    w.aws
        .fault("GetUser", AwsFault::invalid_token_echoing_it(), 1);
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", ADMIN_ID),
            ("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET),
            ("AWS_SESSION_TOKEN", CHAIN_TOKEN),
        ],
    );
    out.assert_exit(1).assert_stderr_has("InvalidClientTokenId");
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_the_shared_credentials_file_never_prints_it() {
    let w = world();
    w.aws
        .fault("GetUser", AwsFault::invalid_token_echoing_it(), 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        format!(
            "[default]\naws_access_key_id = {ADMIN_ID}\naws_secret_access_key = {ADMIN_SECRET}\n\
             aws_session_token = {CHAIN_TOKEN}\n"
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap())],
    );
    out.assert_exit(1).assert_stderr_has("InvalidClientTokenId");
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_a_source_profile_never_prints_it() {
    // The profile assumes a role with the keys of its source profile, whose
    // session token goes to STS and never comes out of the credential chain.
    let w = world();
    w.aws
        .fault("AssumeRole", AwsFault::invalid_token_echoing_it(), 3);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/keeper-rotation\n\
         source_profile = base\nexternal_id = keeper-external-id-1\n",
    )
    .unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[base]\naws_access_key_id = {ADMIN_ID}\naws_secret_access_key = {ADMIN_SECRET}\n\
             aws_session_token = {CHAIN_TOKEN}\n"
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_PROFILE", "admin"),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ],
    );
    out.assert_exit(1);
    assert!(
        w.aws.actions().contains(&"AssumeRole".to_owned()),
        "{}",
        out.output()
    );
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_a_credential_process_source_profile_never_prints_it() {
    // The profile assumes a role with the keys its source profile's
    // credential_process prints: the process's session token goes to STS
    // and appears in no file and in no result of the credential chain.
    let w = world();
    w.aws
        .fault("AssumeRole", AwsFault::invalid_token_echoing_it(), 3);
    let dir = tempfile::tempdir().unwrap();
    let process = dir.path().join("credentials.sh");
    std::fs::write(
        &process,
        format!(
            "#!/bin/sh\nprintf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"{ADMIN_ID}\", \
             \"SecretAccessKey\": \"{ADMIN_SECRET}\", \"SessionToken\": \"{CHAIN_TOKEN}\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&process, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile base]\ncredential_process = {}\n\n\
             [profile admin]\nrole_arn = arn:aws:iam::123456789012:role/keeper-rotation\n\
             source_profile = base\nexternal_id = keeper-external-id-1\n",
            process.display()
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_PROFILE", "admin"),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ],
    );
    out.assert_exit(1);
    assert!(
        w.aws.actions().contains(&"AssumeRole".to_owned()),
        "{}",
        out.output()
    );
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_a_source_profile_in_files_named_with_a_tilde_never_prints_it()
 {
    // AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE as `~/...`: the SDK
    // expands `~` to HOME and reads them, so their secrets must be
    // registered from the same paths.
    let w = world();
    w.aws
        .fault("AssumeRole", AwsFault::invalid_token_echoing_it(), 3);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("gateway-aws")).unwrap();
    std::fs::write(
        home.path().join("gateway-aws/config"),
        "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/keeper-rotation\n\
         source_profile = base\nexternal_id = keeper-external-id-1\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("gateway-aws/credentials"),
        format!(
            "[base]\naws_access_key_id = {ADMIN_ID}\naws_secret_access_key = {ADMIN_SECRET}\n\
             aws_session_token = {CHAIN_TOKEN}\n"
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("HOME", home.path().to_str().unwrap()),
            ("AWS_PROFILE", "admin"),
            ("AWS_CONFIG_FILE", "~/gateway-aws/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "~/gateway-aws/credentials"),
        ],
    );
    out.assert_exit(1);
    assert!(
        w.aws.actions().contains(&"AssumeRole".to_owned()),
        "{}",
        out.output()
    );
    assert_token_not_shown(&out);
}

// --- plain http only to loopback addresses -----------------------------------------

#[test]
fn an_endpoint_override_whose_localhost_name_resolves_elsewhere_is_refused_before_any_call() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let w = world();
    let endpoint = format!("http://iam.localhost:{}", elsewhere.port());
    let (program, args) = net.with_hosts(&[("iam.localhost", PrivateNetwork::ELSEWHERE.into())]);
    let out = w
        .runner("admin-record.json", &[], &[("AWS_ENDPOINT_URL", &endpoint)])
        .wrapped(program, args)
        .run();
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("'AWS_ENDPOINT_URL' in the environment is invalid")
        .assert_stderr_has(
            "'iam.localhost' resolves to 10.200.0.1, which is not a loopback address",
        );
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_loopback_endpoint_is_never_reached_through_http_proxy() {
    // The proxy would see the signed requests and CreateAccessKey's answer,
    // the new secret included, in cleartext.
    let w = world();
    let proxy = RecordingProxy::start();
    w.run_with("admin-record.json", &[], &[("HTTP_PROXY", &proxy.url())])
        .assert_exit(0);
    assert_eq!(proxy.connections(), 0);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_plain_http_sso_endpoint_override_to_a_remote_host_exits_2_naming_the_variable() {
    for variable in ["AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC"] {
        let w = world();
        let out = w.run_with(
            "admin-record.json",
            &[],
            &[(variable, "http://sso.example.com/")],
        );
        out.assert_exit(2)
            .assert_clean()
            .assert_stderr_has(&format!("'{variable}' in the environment is invalid"))
            .assert_stderr_has("uses plain http; use https");
        assert!(w.aws.calls().is_empty(), "{variable}: {}", out.output());
    }
}

/// Runs admin-record.json with `config` as the AWS config file and no
/// endpoint variable: the config file alone says where IAM is.
fn run_with_aws_config(w: &World, net: Option<&PrivateNetwork>, config: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config");
    std::fs::write(&file, config).unwrap();
    let mut run = w.runner_without(
        "admin-record.json",
        &[],
        &[("AWS_CONFIG_FILE", file.to_str().unwrap())],
        &["AWS_ENDPOINT_URL"],
    );
    if let Some(net) = net {
        let (program, args) = net.with_hosts(&[]);
        run = run.wrapped(program, args);
    }
    run.run()
}

#[test]
fn a_plain_http_endpoint_url_in_the_aws_config_profile_is_refused_before_any_call() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let w = world();
    let out = run_with_aws_config(
        &w,
        Some(&net),
        &format!(
            "[default]\nendpoint_url = http://10.200.0.1:{}\n",
            elsewhere.port()
        ),
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("endpoint_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_endpoint_url_in_a_services_section_of_the_aws_config_is_refused_before_any_call() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let w = world();
    let out = run_with_aws_config(
        &w,
        Some(&net),
        &format!(
            "[default]\nservices = local\n\n[services local]\niam =\n  endpoint_url = http://10.200.0.1:{}\n",
            elsewhere.port()
        ),
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("the IAM endpoint set by endpoint_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_sso_endpoint_url_in_a_services_section_of_the_aws_config_is_refused_before_any_call()
 {
    let w = world();
    let out = run_with_aws_config(
        &w,
        None,
        "[default]\nservices = local\n\n[services local]\nsso-oidc =\n  endpoint_url = http://oidc.example.com/\n",
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("the SSO OIDC endpoint set by endpoint_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert!(w.aws.calls().is_empty(), "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_sso_start_url_in_the_aws_config_is_refused_before_any_call() {
    let w = world();
    let out = run_with_aws_config(
        &w,
        None,
        "[sso-session corp]\nsso_start_url = http://corp.awsapps.example.com/start\n\
         sso_region = us-east-1\n",
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("sso_start_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert!(w.aws.calls().is_empty(), "{}", out.output());
}

#[test]
fn a_loopback_endpoint_url_in_the_aws_config_profile_is_followed() {
    let w = world();
    let out = run_with_aws_config(
        &w,
        None,
        &format!("[default]\nendpoint_url = {}\n", w.aws.url()),
    );
    out.assert_exit(0);
    assert_eq!(w.key_ids(), [w.stored_id()]);
}

// --- hostile services: late, lost, repeated and overlapping -----------------------

/// One request may take 1 s before it counts as unanswered.
const SHORT_REQUESTS: (&str, &str) = ("KEEPER_ROTATOR_REQUEST_TIMEOUT", "1");

#[test]
fn a_vault_save_that_lands_after_the_client_gave_up_never_overwrites_the_settled_one() {
    let w = world();
    // update_secret #1 is the lease, #2 stores the new key: hold it 3 s,
    // then apply it with the revision it carried.
    w.vault
        .fault_at("update_secret", 2, Fault::LateApply(Duration::from_secs(3)));
    let out = w.run_with("admin-record.json", &[], &[SHORT_REQUESTS]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has("saving again at the same revision");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_vault_save_applied_behind_a_load_balancer_error_counts_as_saved() {
    let w = world();
    w.vault
        .fault_at("update_secret", 2, Fault::ApplyThenError(502));
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("was saved after all");
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_second_run_while_the_first_holds_the_record_changes_nothing_and_exits_1() {
    let w = world();
    let gate = w.aws.proxy().hold("CreateAccessKey", 1);
    let (first, second) = overlap(
        w.runner("admin-record.json", &[], &[]),
        w.runner("admin-record.json", &[], &[]),
        || w.aws.proxy().wait_for("CreateAccessKey", 1),
        |_| gate.release(),
    );
    second
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of record 'alice (IAM)'")
        .assert_stderr_has("is in progress");
    first.assert_exit(0).assert_clean();
    assert_eq!(w.aws.proxy().count("CreateAccessKey"), 1);
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
    assert_eq!(
        w.vault.field(USER_UID, "rotation_lease").as_deref(),
        Some(""),
        "the lease is cleared at the end"
    );
    for out in [&first, &second] {
        assert_eq!(out.find_leak(&w.aws.secrets()), None, "{}", out.output());
    }
}

#[test]
fn a_live_lease_of_another_run_stops_the_run_before_any_aws_call() {
    let w = world();
    let until = common::time::iso8601(std::time::SystemTime::now() + Duration::from_secs(600));
    w.vault.set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("(host gw-2, pid 42)")
        .assert_stderr_has("nothing was changed");
    assert!(w.aws.calls().is_empty(), "{:?}", w.aws.actions());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn an_expired_lease_of_a_crashed_run_is_taken_over() {
    let w = world();
    w.vault.set_custom_field(
        USER_UID,
        "rotation_lease",
        "0123456789abcdef until 2020-01-01T00:00:00Z (host gw-2, pid 42)",
    );
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("taking over an expired rotation lease");
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_lease_still_live_by_the_vaults_clock_is_not_taken_over_by_a_machine_whose_clock_runs_ahead() {
    // This machine's clock is 20 minutes ahead of the vault's: by it, the
    // other run's lease ended 18 minutes ago; by the vault's, it has two
    // minutes to go.
    let w = world();
    w.vault.set_clock_offset(-1200);
    let until = common::time::iso8601(std::time::SystemTime::now() - Duration::from_secs(1080));
    w.vault.set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("another rotation of record 'alice (IAM)'")
        .assert_stderr_has("nothing was changed");
    assert!(w.aws.calls().is_empty(), "{:?}", w.aws.actions());
    assert_eq!(w.vault.other_requests(), ["HEAD /"]);
}

#[test]
fn a_lease_expired_by_the_vaults_clock_is_taken_over_by_a_machine_whose_clock_runs_behind() {
    // This machine's clock is 20 minutes behind the vault's: by it, the
    // crashed run's lease has ten minutes to go; by the vault's, it ended
    // ten minutes ago.
    let w = world();
    w.vault.set_clock_offset(1200);
    let until = common::time::iso8601(std::time::SystemTime::now() + Duration::from_secs(600));
    w.vault.set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("taking over an expired rotation lease");
    w.assert_vault_holds_a_live_key();
}

/// A live lease (by this machine's clock) of another run, and a vault whose
/// clock is answered `how`: the run must judge by this machine's clock,
/// leave the lease alone, and say why it could not use the vault's.
fn a_live_lease_judged_by_this_machines_clock(how: Others, why: &str) {
    let w = world();
    w.vault.set_clock_offset(1200);
    w.vault.answer_other_requests(how);
    // Live by this machine's clock (and expired by the vault's, which
    // cannot be read or is not believed).
    let until = common::time::iso8601(std::time::SystemTime::now() + Duration::from_secs(600));
    w.vault.set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    let started = std::time::Instant::now();
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("another rotation of record 'alice (IAM)'")
        .assert_stderr_has("cannot read the vault's clock")
        .assert_stderr_has(why);
    // The probe is waited for at most 5 s, whatever the host does.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(w.vault.other_requests(), ["HEAD /"]);
    assert!(w.aws.calls().is_empty(), "{:?}", w.aws.actions());
}

#[test]
fn a_vault_host_that_hangs_up_on_the_clock_read_leaves_the_lease_to_this_machines_clock() {
    a_live_lease_judged_by_this_machines_clock(
        Others::HangUp,
        "the exchange with 127.0.0.1 failed",
    );
}

#[test]
fn a_vault_host_that_never_answers_the_clock_read_is_waited_for_5_seconds_at_most() {
    a_live_lease_judged_by_this_machines_clock(Others::Hold, "did not answer within 5 s");
}

#[test]
fn an_answer_without_a_date_leaves_the_lease_to_this_machines_clock() {
    a_live_lease_judged_by_this_machines_clock(Others::Date(None), "without a Date");
}

#[test]
fn a_date_that_does_not_read_as_one_leaves_the_lease_to_this_machines_clock() {
    a_live_lease_judged_by_this_machines_clock(
        Others::Date(Some("yesterday at noon".into())),
        "does not read as one",
    );
}

#[test]
fn a_vault_date_in_1970_is_not_believed_and_cannot_take_over_a_live_lease() {
    a_live_lease_judged_by_this_machines_clock(
        Others::Date(Some("Thu, 01 Jan 1970 00:00:00 GMT".into())),
        "not believed",
    );
}

#[test]
fn a_vault_date_in_the_year_9999_is_not_believed_and_cannot_expire_a_live_lease() {
    a_live_lease_judged_by_this_machines_clock(
        Others::Date(Some("Fri, 31 Dec 9999 23:59:59 GMT".into())),
        "not believed",
    );
}

#[test]
fn a_stored_key_id_with_stray_whitespace_is_still_the_records_key() {
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-01-01T00:00:00Z"),
        )
        .with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
    });
    w.vault
        .set_custom_field(USER_UID, "aws_access_key_id", &format!(" {STORED_ID} \t"));
    w.vault
        .set_custom_field(USER_UID, "delete_all_keys_before_rotating", "true");
    w.aws.fault("CreateAccessKey", AwsFault::access_denied(), 1);
    let out = w.run("admin-record.json", &[]);
    // The other key made room; the create was refused: never exit 1 after a
    // deletion, and the record's key survives.
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has(&format!("{OTHER_ID} had been revoked to make room"));
    assert_eq!(w.deletions(), [OTHER_ID]);
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_make_room_deletion_whose_answer_was_lost_counts_as_done() {
    let w = world_with(|aws| {
        aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
            .with_key("alice", OTHER_ID, OTHER_SECRET, true, None)
    });
    w.aws
        .arm("DeleteAccessKey", 1, FaultKind::DropAfterApply)
        .unwrap();
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean();
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_failed_confirmation_after_a_completed_rotation_exits_0_with_a_warning() {
    let w = world();
    // ListAccessKeys #1 plans; #2.. confirm.
    for nth in 2..=8 {
        w.aws
            .arm("ListAccessKeys", nth, FaultKind::Status500)
            .unwrap();
    }
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("was not confirmed");
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_create_refused_before_it_was_sent_changes_nothing_and_exits_1() {
    let w = world();
    let clean = [
        "GetUser",
        "ListAccessKeys",
        "GetAccessKeyLastUsed",
        "CreateAccessKey",
    ]
    .map(String::from);
    w.aws.refuse_at(&clean, "CreateAccessKey", 1).unwrap();
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("nothing was changed");
    assert_eq!(w.key_ids(), [STORED_ID]);
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn a_create_whose_answer_was_lost_names_the_key_that_appeared_and_exits_4() {
    let w = world();
    w.aws
        .arm("CreateAccessKey", 1, FaultKind::DropAfterApply)
        .unwrap();
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let appeared = w.key_ids().into_iter().find(|id| id != STORED_ID).unwrap();
    out.assert_stderr_has(&format!("access key(s) {appeared} appeared since"));
    assert_eq!(w.stored_id(), STORED_ID);
    assert_eq!(w.aws.proxy().count("CreateAccessKey"), 1, "never resent");
}

#[test]
fn a_rotation_makes_six_vault_round_trips() {
    let w = world();
    w.run("admin-record.json", &[]).assert_exit(0);
    // Take the lease (read, save); store the new key (read for the current
    // revision, save); read the record again before retiring; note the
    // removed key and clear the lease in one save from that read.
    assert_eq!(
        w.vault.endpoints(),
        [
            "get_secret",
            "update_secret",
            "get_secret",
            "update_secret",
            "get_secret",
            "update_secret"
        ]
    );
    assert_eq!(
        w.vault.field(USER_UID, "rotation_lease").as_deref(),
        Some("")
    );
    assert_eq!(
        w.vault
            .field(USER_UID, "Access_Key_ID_Removed_during_previous_rotation")
            .as_deref(),
        Some(STORED_ID)
    );
}

// --- attack: what the hostile review found -----------------------------------------

#[test]
fn a_make_room_deletion_applied_before_iam_went_down_is_never_nothing_changed() {
    let w = world_with(|aws| {
        aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
            .with_key("alice", OTHER_ID, OTHER_SECRET, true, None)
    });
    // The deletion is applied and its answer lost; the SDK's own retry of it
    // then finds IAM down (connection refused), so the last attempt looks
    // "never sent". The first attempt was applied all the same.
    let clean = [
        "GetUser",
        "ListAccessKeys",
        "GetAccessKeyLastUsed",
        "GetAccessKeyLastUsed",
        "DeleteAccessKey",
        "DeleteAccessKey",
    ]
    .map(String::from);
    w.aws
        .arm("DeleteAccessKey", 1, FaultKind::DropAfterApply)
        .unwrap();
    w.aws.refuse_at(&clean, "DeleteAccessKey", 2).unwrap();
    let out = w.run("admin-record.json", &[]);
    assert_eq!(w.key_ids(), [STORED_ID], "the other key was deleted");
    assert_eq!(w.stored_id(), STORED_ID);
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has(OTHER_ID);
}

#[test]
fn a_lagging_read_back_is_no_proof_that_a_lost_save_can_never_land() {
    let w = world();
    // update_secret #1 is the lease; #2 stores the new key: it is held 3 s
    // (the client gives up after 1 s), then applied with the revision it
    // carried. The read-back that settles it (get_secret #3) is served by a
    // replica one write behind: the record without the lease, at revision 1.
    // Then the vault is down (the lease cannot be cleared).
    w.vault
        .fault_at("update_secret", 2, Fault::LateApply(Duration::from_secs(3)));
    w.vault.fault_at("get_secret", 3, Fault::StaleRead);
    let clean = [
        "get_secret",
        "update_secret",
        "get_secret",
        "update_secret",
        "get_secret",
        "get_secret",
    ]
    .map(String::from);
    w.vault.refuse_at(&clean, "get_secret", 4).unwrap();
    let out = w.run_with("admin-record.json", &[], &[SHORT_REQUESTS]);
    std::thread::sleep(Duration::from_secs(3));
    // Nothing proved the held save could no longer land, and it did: the
    // record must hold a key that still works.
    let live = w.key_ids();
    assert!(
        live.contains(&w.stored_id()),
        "the vault holds {}, which IAM no longer has (live: {live:?})\n{}",
        w.stored_id(),
        out.output()
    );
    w.assert_vault_holds_a_live_key();
    out.assert_exit(4).assert_clean();
}

#[test]
fn a_create_whose_2xx_answer_cannot_be_read_is_never_nothing_changed() {
    let w = world();
    // IAM made the key; a proxy that rewrites answers replaced the body.
    w.aws
        .arm("CreateAccessKey", 1, FaultKind::Garbled2xx)
        .unwrap();
    let out = w.run("admin-record.json", &[]);
    let appeared: Vec<String> = w
        .key_ids()
        .into_iter()
        .filter(|id| id != STORED_ID)
        .collect();
    assert_eq!(appeared.len(), 1, "{}", out.output());
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has(&appeared[0]);
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn trace_logging_of_every_dependency_prints_no_secret() {
    let w = world();
    // At trace level the AWS SDK, hyper and the Keeper SDK log too. run_with
    // scans every output for every secret the fakes issued (the new key's
    // and the assumed role's session included); the Gateway's KSM config
    // keys are scanned for here.
    let out = w.run_with("assume-role.json", &[], &[("KEEPER_ROTATOR_LOG", "trace")]);
    out.assert_exit(0);
    assert!(
        out.stderr.lines().count() > 100,
        "trace logging is on:\n{}",
        out.output()
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.vault.config_path()).unwrap()).unwrap();
    let keys: Vec<String> = ["clientId", "privateKey", "appKey"]
        .iter()
        .map(|k| config[k].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(out.find_leak(&keys), None);
}

#[test]
fn a_run_killed_after_its_create_leaves_an_orphan_the_next_run_deletes_to_make_room() {
    let w = world();
    // The first run is killed (SIGKILL) while IAM's answer to its create is
    // held: the key exists and its secret is lost with the process.
    let gate = w.aws.proxy().hold("CreateAccessKey", 1);
    let killed = w
        .runner("admin-record.json", &[], &[])
        .kill_after(Duration::from_secs(2))
        .run();
    assert_eq!(killed.code, None, "{}", killed.output());
    drop(gate);
    assert_eq!(w.key_ids().len(), 2);
    // Its lease stays until it expires; a second run meanwhile changes
    // nothing.
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("is in progress");
    // Once it has expired (here: rewritten as expired), the next run takes
    // over, deletes the orphan to make room and rotates.
    let lease = w.vault.field(USER_UID, "rotation_lease").unwrap();
    let run_id = lease.split_whitespace().next().unwrap();
    w.vault.set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("{run_id} until 2020-01-01T00:00:00Z (host gw, pid 1)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("taking over an expired rotation lease");
    assert_eq!(w.key_ids(), [w.stored_id()]);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_key_another_record_stores_and_uses_is_never_deleted_to_make_room() {
    let yesterday =
        common::time::iso8601(std::time::SystemTime::now() - Duration::from_secs(86_400));
    // Two consumers of one IAM user, each with its own PAM User record and
    // its own key (the usual way to use IAM's two keys).
    let path = harness::inputs::scenario::fixtures_dir().join("vault/aws/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut second = records[0].clone();
    second["uid"] = "PamUserUid000000000002".into();
    second["title"] = "alice (IAM, reporting job)".into();
    for field in second["custom"].as_array_mut().unwrap() {
        if field["label"] == "aws_access_key_id" {
            field["value"] = serde_json::json!([OTHER_ID]);
        }
    }
    records.push(second);
    let w = World {
        aws: world_with(|aws| {
            aws.with_key(
                "alice",
                STORED_ID,
                STORED_SECRET,
                true,
                Some("2026-11-01T00:00:00Z"),
            )
            .with_key(
                "alice",
                OTHER_ID,
                OTHER_SECRET,
                true,
                Some(yesterday.as_str()),
            )
        })
        .aws,
        vault: FakeVault::start(&records),
    };
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&format!("the other key, {OTHER_ID}, was used on"));
    assert!(
        w.key_ids().contains(&OTHER_ID.to_owned()),
        "the key record PamUserUid000000000002 stores (used yesterday) was deleted; exit {:?}\n{}",
        out.code,
        out.output()
    );
}

// --- issue 23: every record holding the key being deleted -----------------------

const CONSUMER_UID: &str = "AwsConsumerUid00000001";

/// A consumer's record attached to the script, holding key `id` and its
/// secret under its own labels, in the input and in the vault.
fn with_consumer(id: &str, secret: &str) -> (Scenario, FakeVault) {
    let path = harness::inputs::scenario::fixtures_dir().join("vault/aws/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    records.push(serde_json::json!({
        "uid": CONSUMER_UID,
        "type": "login",
        "title": "reporting job",
        "fields": [],
        "custom": [
            {"type": "text", "label": "reporting_key_id", "value": [id]},
            {"type": "secret", "label": "reporting_secret", "value": [secret]}
        ]
    }));
    let path = harness::inputs::scenario::fixtures_dir()
        .join("scenarios/aws-access-key/admin-record.json");
    let mut scenario: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario["records"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "uid": CONSUMER_UID,
            "title": "reporting job",
            "reporting_key_id": id,
            "reporting_secret": secret
        }));
    (
        Scenario::from_json(&scenario.to_string()).unwrap(),
        FakeVault::start(&records),
    )
}

impl World {
    fn run_scenario(&self, scenario: &Scenario) -> Outcome {
        let mut run = Run::new(BIN).scenario(scenario);
        for (key, value) in self.vault.env().into_iter().chain(self.aws.env()) {
            run = run.env(&key, value);
        }
        for secret in [ADMIN_SECRET, STORED_SECRET, OTHER_SECRET] {
            run = run.secret(secret);
        }
        let out = run.run();
        assert_eq!(out.find_leak(&self.aws.secrets()), None, "{}", out.output());
        out
    }
}

#[test]
fn an_attached_record_holding_the_deleted_key_gets_the_new_key_before_it_is_deleted() {
    let (scenario, vault) = with_consumer(STORED_ID, STORED_SECRET);
    let mut w = world();
    w.vault = vault;
    let out = w.run_scenario(&scenario);
    out.assert_exit(0).assert_clean();
    w.assert_vault_holds_a_live_key();
    assert_eq!(w.deletions(), [STORED_ID]);
    assert_eq!(
        w.vault.field(CONSUMER_UID, "reporting_key_id"),
        Some(w.stored_id()),
        "the consumer's record is left holding a deleted key\n{}",
        out.output()
    );
    assert_eq!(
        w.vault.field(CONSUMER_UID, "reporting_secret"),
        w.vault.field(USER_UID, "aws_secret_access_key")
    );
}

#[test]
fn a_key_an_attached_record_holds_is_never_deleted_to_make_room_and_exits_2() {
    // The other key was last used weeks ago: without the record holding it,
    // it would be deleted to make room.
    let (scenario, vault) = with_consumer(OTHER_ID, OTHER_SECRET);
    let mut w = world_with(|aws| {
        aws.with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
        .with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-01-01T00:00:00Z"),
        )
    });
    w.vault = vault;
    let out = w.run_scenario(&scenario);
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&format!("key {OTHER_ID} would be deleted to make room"))
        .assert_stderr_has(&format!("record 'reporting job' (uid {CONSUMER_UID})"));
    assert!(w.deletions().is_empty(), "{}", out.output());
    assert_eq!(w.key_ids().len(), 2);
}

#[test]
fn a_record_holding_a_deleted_key_whose_secret_the_run_does_not_know_keeps_it_and_exits_3() {
    // The user's only key is not the record's: its secret is in no record
    // the run reads, so the consumer's record holding it cannot be given the
    // new key (which of its fields is the secret is not known).
    let (scenario, vault) = with_consumer(OTHER_ID, OTHER_SECRET);
    let mut w = world_with(|aws| {
        aws.with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
    });
    w.vault = vault;
    let out = w.run_scenario(&scenario);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "record 'reporting job' (uid {CONSUMER_UID}) holds the id of the access key being \
             retired"
        ));
    assert!(w.deletions().is_empty(), "{}", out.output());
    assert!(w.key_ids().contains(&OTHER_ID.to_owned()));
    w.assert_vault_holds_a_live_key();
}
