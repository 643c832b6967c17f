//! `harness demo <use-case>`: runs the real binary end to end against the
//! fakes and shows what happened, secrets masked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::fake_aws::FakeAws;
use crate::fake_azure::FakeAzure;
use crate::fake_okta::FakeOkta;
use crate::fake_rest::FakeRest;
use crate::fake_vault::FakeVault;
use crate::runner::{Outcome, Run};
use crate::scenario::Scenario;

/// The scenario `harness demo rest-api` runs, embedded so the demo works from
/// any directory.
pub const REST_API_SCENARIO: &str = include_str!("../../fixtures/scenarios/rest-api/demo.json");

/// The token and account of the demo scenario, as the fake must know them.
const DEMO_TOKEN: &str = "demo-api-token-7f3a9c";
const DEMO_ACCOUNT: &str = "alice@example.com";

/// What a demo printed and whether it showed a working rotation.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub ok: bool,
}

/// Finds a binary of this workspace: `dir`, else `KEEPER_ROTATORS_BIN_DIR`,
/// else next to the running harness (the same target directory).
pub fn find_binary(name: &str, dir: Option<&Path>) -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(dir) = dir {
        candidates.push(dir.join(name));
    }
    if let Some(dir) = std::env::var_os("KEEPER_ROTATORS_BIN_DIR") {
        candidates.push(PathBuf::from(dir).join(name));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned))
    {
        candidates.push(dir.join(name));
    }
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "cannot find {name} (looked in {}); build the workspace first: cargo build --release",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// Rotates the demo account's password through the fake REST API.
pub fn rest_api(bin: &Path) -> Result<Report, String> {
    let fake = FakeRest::start(DEMO_TOKEN).with_account(DEMO_ACCOUNT, "the-old-password-1");
    let scenario = Scenario::from_json(REST_API_SCENARIO)?.var("API_URL", fake.url("/v1/password"));
    let secrets = scenario.secrets();
    let new_password = scenario
        .params()
        .get("newPassword")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();

    let mut text = String::new();
    let _ = writeln!(text, "== scenario: {}", scenario.description);
    let _ = writeln!(text, "== fake REST API on {}", fake.url(""));
    let _ = writeln!(
        text,
        "== running {} with the Gateway's base64 line on stdin",
        bin.display()
    );
    let outcome = Run::new(bin).scenario(&scenario).run();
    let _ = writeln!(
        text,
        "--- stdout\n{}--- stderr\n{}---",
        outcome.stdout, outcome.stderr
    );
    let _ = writeln!(text, "== exit code: {:?}", outcome.code);
    let _ = writeln!(text, "== the fake API received:");
    for request in fake.received() {
        let _ = writeln!(text, "   {} {}", request.method, request.path);
        for (name, value) in &request.headers {
            if ["authorization", "content-type", "accept"].contains(&name.as_str()) {
                let _ = writeln!(text, "     {name}: {}", mask(value, &secrets));
            }
        }
        let body = String::from_utf8_lossy(&request.body);
        let _ = writeln!(text, "     body: {}", mask(&body, &secrets));
    }
    let changed = fake.password_of(DEMO_ACCOUNT).as_deref() == Some(new_password.as_str());
    let _ = writeln!(
        text,
        "== {DEMO_ACCOUNT}'s password on the fake is now the Gateway's newPassword: {}",
        if changed { "yes" } else { "no" }
    );
    let _ = writeln!(
        text,
        "== leak scan: none of the scenario's {} secrets appeared in stdout or stderr",
        secrets.len()
    );
    Ok(Report {
        ok: changed && outcome.code == Some(0),
        text,
    })
}

/// Runs `bin` on `scenario` with the fakes' environments, and scans the
/// outputs for every secret the fakes know, before and after the run (a
/// rotation makes new ones).
pub fn run_against<const N: usize>(
    bin: &Path,
    scenario: &Scenario,
    envs: [Vec<(String, String)>; N],
    secrets: impl Fn() -> Vec<String>,
) -> Outcome {
    let mut run = Run::new(bin).scenario(scenario);
    for (key, value) in envs.into_iter().flatten() {
        run = run.env(&key, value);
    }
    for secret in secrets() {
        run = run.secret(secret);
    }
    let outcome = run.run();
    if let Some(leak) = outcome.find_leak(&secrets()) {
        panic!("LEAK: {leak}");
    }
    outcome
}

fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        for form in crate::scenario::leak_forms(secret) {
            out = out.replace(&form, "********");
        }
    }
    out
}

/// The AWS demo's vault records and Gateway input, embedded.
pub const AWS_VAULT_RECORDS: &str = include_str!("../../fixtures/vault/aws/records.json");
pub const AWS_SCENARIO: &str =
    include_str!("../../fixtures/scenarios/aws-access-key/admin-record.json");
const AWS_ADMIN_ID: &str = "AKIAADMINKEY00000001";
const AWS_ADMIN_SECRET: &str = "admin-secret-access-key-000000000000001";
const AWS_USER_UID: &str = "PamUserUid000000000001";

/// IAM and the vault for the AWS demo: user alice with the key the record
/// stores, the admin key in an attached record.
pub struct AwsWorld {
    pub aws: FakeAws,
    pub vault: FakeVault,
    pub scenario: Scenario,
}

impl std::fmt::Debug for AwsWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsWorld").finish_non_exhaustive()
    }
}

impl AwsWorld {
    pub fn start() -> Result<Self, String> {
        let records: Vec<serde_json::Value> =
            serde_json::from_str(AWS_VAULT_RECORDS).map_err(|e| e.to_string())?;
        let aws = FakeAws::start()
            .with_admin(AWS_ADMIN_ID, AWS_ADMIN_SECRET)
            .with_user("alice")
            .with_key(
                "alice",
                "AKIAEXISTING00000001",
                "existing-secret-access-key-0000000001",
                true,
                Some("2026-11-01T00:00:00Z"),
            );
        Ok(Self {
            aws,
            vault: FakeVault::start(&records),
            scenario: Scenario::from_json(AWS_SCENARIO)?,
        })
    }

    /// Runs the binary once and scans for every secret the fakes know.
    pub fn run(&self, bin: &Path) -> Outcome {
        run_against(
            bin,
            &self.scenario,
            [self.vault.env(), self.aws.env()],
            || self.aws.secrets(),
        )
    }
}

/// Rotates alice's access key against the IAM + STS fake and the fake vault.
pub fn aws_access_key(bin: &Path) -> Result<Report, String> {
    let world = AwsWorld::start()?;
    let before: Vec<String> = world.aws.keys("alice").into_iter().map(|k| k.id).collect();
    let mut text = String::new();
    let _ = writeln!(text, "== scenario: {}", world.scenario.description);
    let _ = writeln!(
        text,
        "== fake IAM + STS on {}; fake Keeper vault on 127.0.0.1:{}",
        world.aws.url(),
        world.vault.port()
    );
    let _ = writeln!(text, "== alice's keys before: {}", before.join(", "));
    let _ = writeln!(
        text,
        "== running {} with the Gateway's base64 line on stdin",
        bin.display()
    );
    let outcome = world.run(bin);
    let _ = writeln!(
        text,
        "--- stdout\n{}--- stderr\n{}---",
        outcome.stdout, outcome.stderr
    );
    let _ = writeln!(text, "== exit code: {:?}", outcome.code);
    let _ = writeln!(text, "== the fake AWS received:");
    for call in world.aws.calls() {
        let key = call
            .key_id
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>();
        let target = call
            .param("AccessKeyId")
            .map(|id| format!(" {id}"))
            .unwrap_or_default();
        let _ = writeln!(text, "   {}{target} (signed by ...{key})", call.action);
    }
    let after = world.aws.keys("alice");
    let stored = world
        .vault
        .field(AWS_USER_UID, "aws_access_key_id")
        .unwrap_or_default();
    let stored_secret = world
        .vault
        .field(AWS_USER_UID, "aws_secret_access_key")
        .unwrap_or_default();
    let live = after
        .iter()
        .any(|k| k.id == stored && k.secret == stored_secret);
    let _ = writeln!(
        text,
        "== alice's keys after: {}",
        after
            .iter()
            .map(|k| k.id.clone())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        text,
        "== the vault record now holds aws_access_key_id {stored}, aws_secret_access_key ********, CreateDate {}",
        world
            .vault
            .field(AWS_USER_UID, "CreateDate")
            .unwrap_or_default()
    );
    let _ = writeln!(
        text,
        "== the stored secret is the one IAM issued for {stored}: {}",
        if live { "yes" } else { "no" }
    );
    let _ = writeln!(
        text,
        "== leak scan: no secret of the fakes appeared in stdout or stderr"
    );
    Ok(Report {
        ok: outcome.code == Some(0) && live && after.len() == 1,
        text,
    })
}

/// The Okta demo's Gateway input, embedded.
pub const OKTA_SCENARIO: &str = include_str!("../../fixtures/scenarios/okta-user/default.json");
const OKTA_TOKEN: &str = "00okta-api-token-value-0000000000000001";

/// An Okta org with alice, whose password is the scenario's old one.
pub fn okta_world() -> Result<(FakeOkta, Scenario), String> {
    let okta =
        FakeOkta::start(OKTA_TOKEN).with_user("alice@example.com", "ACTIVE", "Old-Okta-Passw0rd-1");
    let scenario = Scenario::from_json(OKTA_SCENARIO)?.var("OKTA_URL", okta.url());
    Ok((okta, scenario))
}

/// Changes alice's Okta password through the Okta fake.
pub fn okta_user(bin: &Path) -> Result<Report, String> {
    let (okta, scenario) = okta_world()?;
    let secrets = scenario.secrets();
    let new_password = scenario.params()["newPassword"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut text = String::new();
    let _ = writeln!(text, "== scenario: {}", scenario.description);
    let _ = writeln!(text, "== fake Okta org on {}", okta.url());
    let _ = writeln!(
        text,
        "== running {} with the Gateway's base64 line on stdin",
        bin.display()
    );
    let outcome = Run::new(bin).scenario(&scenario).run();
    let _ = writeln!(
        text,
        "--- stdout\n{}--- stderr\n{}---",
        outcome.stdout, outcome.stderr
    );
    let _ = writeln!(text, "== exit code: {:?}", outcome.code);
    let _ = writeln!(text, "== the fake Okta received:");
    for request in okta.requests() {
        let query = if request.query.is_empty() {
            String::new()
        } else {
            format!("?{}", request.query)
        };
        let _ = writeln!(text, "   {} {}{query}", request.method, request.path);
        let _ = writeln!(
            text,
            "     authorization: {}",
            mask(&request.authorization, &secrets)
        );
        if !request.body.is_null() {
            let _ = writeln!(
                text,
                "     body: {}",
                mask(&request.body.to_string(), &secrets)
            );
        }
    }
    let changed = okta.password_of("alice@example.com").as_deref() == Some(new_password.as_str());
    let _ = writeln!(
        text,
        "== alice's Okta password is now the Gateway's newPassword: {}",
        if changed { "yes" } else { "no" }
    );
    let _ = writeln!(
        text,
        "== leak scan: none of the scenario's {} secrets appeared in stdout or stderr",
        secrets.len()
    );
    Ok(Report {
        ok: changed && outcome.code == Some(0),
        text,
    })
}

/// The Azure demo's vault records and Gateway input, embedded.
pub const AZURE_VAULT_RECORDS: &str = include_str!("../../fixtures/vault/azure/records.json");
pub const AZURE_SCENARIO: &str =
    include_str!("../../fixtures/scenarios/azure-app-secret/admin-record.json");
const AZURE_TENANT: &str = "72f988bf-0000-4000-8000-000000000001";
const AZURE_TARGET_APP: &str = "22222222-0000-4000-8000-00000000b001";
const AZURE_USER_UID: &str = "AzureUserUid0000000001";

/// Entra ID and the vault for the Azure demo: the admin app, and the target
/// app with two old secrets.
pub struct AzureWorld {
    pub azure: FakeAzure,
    pub vault: FakeVault,
    pub scenario: Scenario,
}

impl std::fmt::Debug for AzureWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureWorld").finish_non_exhaustive()
    }
}

impl AzureWorld {
    pub fn start() -> Result<Self, String> {
        let records: Vec<serde_json::Value> =
            serde_json::from_str(AZURE_VAULT_RECORDS).map_err(|e| e.to_string())?;
        let azure = FakeAzure::start(AZURE_TENANT)
            .with_app(
                "aaaaaaaa-0000-4000-8000-00000000a001",
                "11111111-0000-4000-8000-00000000a001",
                "keeper-admin",
                true,
            )
            .with_secret(
                "11111111-0000-4000-8000-00000000a001",
                "admin-key-1",
                "admin~app~secret~value~0000000000000001",
                "2026-06-01T00:00:00Z",
            )
            .with_app(
                "bbbbbbbb-0000-4000-8000-00000000b001",
                AZURE_TARGET_APP,
                "payroll-api",
                false,
            )
            .with_secret(
                AZURE_TARGET_APP,
                "old-key-2025",
                "target~old~secret~2025~0000000000000001",
                "2025-01-01T00:00:00Z",
            )
            .with_secret(
                AZURE_TARGET_APP,
                "old-key-2026",
                "target~old~secret~2026~0000000000000002",
                "2026-01-01T00:00:00Z",
            );
        Ok(Self {
            azure,
            vault: FakeVault::start(&records),
            scenario: Scenario::from_json(AZURE_SCENARIO)?,
        })
    }

    /// Runs the binary once and scans for every secret the fakes know.
    pub fn run(&self, bin: &Path) -> Outcome {
        run_against(
            bin,
            &self.scenario,
            [self.vault.env(), self.azure.env()],
            || self.azure.issued(),
        )
    }
}

/// Rotates payroll-api's client secret against the Entra ID fake and the vault.
pub fn azure_app_secret(bin: &Path) -> Result<Report, String> {
    let world = AzureWorld::start()?;
    let mut text = String::new();
    let _ = writeln!(text, "== scenario: {}", world.scenario.description);
    let _ = writeln!(
        text,
        "== fake Entra ID + Graph on {}; fake Keeper vault on 127.0.0.1:{}",
        world.azure.url(),
        world.vault.port()
    );
    let before: Vec<String> = world
        .azure
        .secrets(AZURE_TARGET_APP)
        .into_iter()
        .map(|s| s.key_id)
        .collect();
    let _ = writeln!(
        text,
        "== payroll-api's secrets before: {}",
        before.join(", ")
    );
    let _ = writeln!(
        text,
        "== running {} with the Gateway's base64 line on stdin",
        bin.display()
    );
    let outcome = world.run(bin);
    let _ = writeln!(
        text,
        "--- stdout\n{}--- stderr\n{}---",
        outcome.stdout, outcome.stderr
    );
    let _ = writeln!(text, "== exit code: {:?}", outcome.code);
    let _ = writeln!(text, "== the fakes received:");
    for call in world.azure.calls() {
        let _ = writeln!(text, "   {} {} ({})", call.action, call.path, call.client);
    }
    let after = world.azure.secrets(AZURE_TARGET_APP);
    let stored = world
        .vault
        .field(AZURE_USER_UID, "client_secret_id")
        .unwrap_or_default();
    let stored_text = world
        .vault
        .field(AZURE_USER_UID, "client_secret")
        .unwrap_or_default();
    let live = after
        .iter()
        .any(|s| s.key_id == stored && s.text == stored_text);
    let _ = writeln!(
        text,
        "== payroll-api's secrets after: {}",
        after
            .iter()
            .map(|s| s.key_id.clone())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        text,
        "== the vault record now holds client_secret_id {stored}, client_secret ********, expires {}",
        world
            .vault
            .field(AZURE_USER_UID, "expires")
            .unwrap_or_default()
    );
    let _ = writeln!(
        text,
        "== the stored secret is the one Graph made for {stored}: {}",
        if live { "yes" } else { "no" }
    );
    let _ = writeln!(
        text,
        "== leak scan: no secret or token of the fakes appeared in stdout or stderr"
    );
    Ok(Report {
        ok: outcome.code == Some(0) && live && after.len() == 1,
        text,
    })
}
