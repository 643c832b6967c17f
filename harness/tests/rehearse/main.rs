//! `harness run`, end to end through the real harness binary: each use case
//! rehearsed from a Commander-shaped export (`fixtures/records/`), with and
//! without a fault, `--dry-run`, `--faults all`, a scenario file, and the
//! errors an administrator can make on the command line.
//!
//! The rotators are the ones next to the harness binary, or in
//! `KEEPER_ROTATORS_BIN_DIR` (see `harness::binary`), passed with
//! `--bin-dir`. Every output of every harness run is scanned for the
//! fixture's secrets and for the password the harness makes up.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::TestWorld;
use serde_json::Value;

mod aws_access_key;
mod azure_app_secret;
mod caught;
mod password_rotators;
mod report;
mod ssh_user;

/// The rotators' directory: where `KEEPER_ROTATORS_BIN_DIR` says, else next
/// to the harness (built by `cargo nextest run --workspace`).
fn bin_dir(rotator: &'static str) -> PathBuf {
    harness::world::rotators_dir(rotator, env!("CARGO_BIN_EXE_harness"))
}

fn fixture(name: &str) -> String {
    harness::inputs::scenario::fixtures_dir()
        .join(name)
        .display()
        .to_string()
}

/// What one harness run printed.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs the harness with `args`; fails if any output holds a secret of the
/// records file or the password the harness makes up.
fn harness(rotator: &'static str, records_file: &str, args: &[&str]) -> Ran {
    harness_with_env(rotator, records_file, args, &[])
}

/// [`harness`] with more variables in the harness's environment.
fn harness_with_env(
    rotator: &'static str,
    records_file: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Ran {
    let world = TestWorld::program(env!("CARGO_BIN_EXE_harness"))
        .export(Path::new(records_file))
        // The tail of every newPassword the harness makes up, in every form.
        .secrets(["\"q'\\$é9"])
        .kill_after(Duration::from_secs(600));
    let world = env
        .iter()
        .fold(world, |world, (key, value)| world.env(key, *value));
    let bin_dir = bin_dir(rotator).display().to_string();
    let mut args = args.to_vec();
    args.extend(["--bin-dir", &bin_dir]);
    let out = world.run_with_args(&args);
    Ran {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

fn run(use_case: &str, rotator: &'static str, extra: &[&str]) -> Ran {
    let file = fixture(&format!("records/{use_case}.json"));
    let mut args = vec!["run", use_case, "--records", &file];
    args.extend_from_slice(extra);
    harness(rotator, &file, &args)
}

/// The report's fields of the PAM User record that changed.
fn changed(report: &Value) -> Vec<String> {
    let user = report["roles"]["user"]["uid"].as_str().unwrap().to_owned();
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["uid"] == user.as_str())
        .flat_map(|r| r["fields"].as_array().unwrap().clone())
        .filter(|f| f["changed"] == true)
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The calls one service received, as `call#nth`.
fn calls(report: &Value, service: &str) -> Vec<String> {
    report["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["service"] == service)
        .flat_map(|s| s["calls"].as_array().unwrap().clone())
        .map(|c| format!("{}#{}", c["call"].as_str().unwrap(), c["nth"]))
        .collect()
}

fn assert_consistent(ran: &Ran, report: &Value) {
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(
        report["verdict"]["consistent"], true,
        "{}",
        report["verdict"]
    );
    assert_eq!(report["leak_scan"]["found"], Value::Null);
}

/// The run rotated, the plan came first, and the export was read as one.
fn assert_rotated(ran: &Ran) -> Value {
    let report = ran.json();
    assert_consistent(ran, &report);
    assert_eq!(report["exit_code"], 0, "{}", report["stderr"]);
    assert_eq!(report["exit_meaning"], "rotated");
    assert_eq!(report["sources"][0]["shape"], "commander-export");
    assert_eq!(report["plan"]["exit_code"], 0);
    assert!(
        report["plan"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("dry run:"),
        "{}",
        report["plan"]
    );
    report
}
