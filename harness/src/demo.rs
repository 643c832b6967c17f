//! `harness demo <use-case>`: a rehearsal (`harness run`) of the use case's
//! own fixture, `fixtures/records/<use-case>.json`, a Commander export of a
//! working setup.
//!
//! Why a thin wrapper: the demo is the first thing a new user runs, and
//! `scripts/dist` runs it against every shipped binary. It should show
//! exactly what a rehearsal of their own records will show, so it is one.

use std::path::{Path, PathBuf};

use crate::rehearsal::{self, Options, Rehearsal};

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
    if let Some(dir) = std::env::var_os(crate::binary::BIN_DIR_ENV).filter(|d| !d.is_empty()) {
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

/// Rehearses `use_case`'s fixture with `bin`: the plan, the run, the report.
/// `ok` when the binary rotated, the end state agrees, and nothing leaked.
pub fn run(use_case: &str, bin: &Path) -> Result<Report, String> {
    let use_case = rehearsal::use_case(use_case)?;
    let rehearsal = Rehearsal::fixture(use_case)?;
    let report = rehearsal::rehearse(
        &rehearsal::Program::binary(bin),
        &rehearsal,
        &Options {
            plan: true,
            ..Options::default()
        },
    )?;
    Ok(Report {
        ok: report.rotated(),
        text: report.text(),
    })
}

/// Rotates alice@example.com's password through the fake REST API.
pub fn rest_api(bin: &Path) -> Result<Report, String> {
    run("rest-api", bin)
}

/// Rotates alice's access key against the IAM + STS fake and the fake vault.
pub fn aws_access_key(bin: &Path) -> Result<Report, String> {
    run("aws-access-key", bin)
}

/// Rotates payroll-api's client secret against the Entra ID fake and the
/// fake vault.
pub fn azure_app_secret(bin: &Path) -> Result<Report, String> {
    run("azure-app-secret", bin)
}

/// Changes alice@example.com's Okta password through the Okta fake.
pub fn okta_user(bin: &Path) -> Result<Report, String> {
    run("okta-user", bin)
}

/// Rotates alice's SSH key and password on the fake Linux machine (as
/// ec2-user with sudo), with the fake vault storing the new key.
pub fn ssh_user(bin: &Path) -> Result<Report, String> {
    run("ssh-user", bin)
}
