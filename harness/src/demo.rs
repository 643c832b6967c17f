//! `harness demo <use-case>`: runs the real binary end to end against the
//! fakes and shows what happened, secrets masked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::fake_rest::FakeRest;
use crate::runner::Run;
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

fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        for form in crate::scenario::leak_forms(secret) {
            out = out.replace(&form, "********");
        }
    }
    out
}
