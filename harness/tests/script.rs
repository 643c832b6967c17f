//! `harness run --script` and `harness grade`: third-party PAM scripts run
//! as the Gateway runs them, against the same fakes, judged by the same
//! verdicts; and the project's own binary graded by the same table.
//!
//! The scripts are small Python (standard library only) and sh files in
//! `fixtures/scripts/`. Every output of every harness run is scanned for
//! the fixture's secrets and for the tail of the password the harness makes
//! up: a report or table that showed either fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harness::TestWorld;
use serde_json::Value;

/// The tail of every newPassword the harness makes up.
const NEW_PASSWORD_TAIL: &str = "\"q'\\$é9";

fn fixture(name: &str) -> PathBuf {
    harness::inputs::scenario::fixtures_dir().join(name)
}

fn rest_records() -> String {
    fixture("records/rest-api.json").display().to_string()
}

/// The real Python interpreter (a pyenv shim needs a HOME the script does
/// not get).
fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed by these tests (scripts/setup installs it)");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn script(name: &str, mode: &str) -> String {
    format!(
        "{} {} {mode}",
        python(),
        fixture(&format!("scripts/{name}")).display()
    )
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs the harness with `args` (and `env` in its own environment); fails
/// if any output holds a secret of the records or the made-up password.
fn harness(args: &[&str], env: &[(&str, &str)]) -> Ran {
    harness_on(&rest_records(), args, env)
}

/// [`harness`] with the secrets of the records file `records`.
fn harness_on(records: &str, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let world = TestWorld::program(env!("CARGO_BIN_EXE_harness"))
        .export(Path::new(&records))
        .secrets([NEW_PASSWORD_TAIL])
        .kill_after(Duration::from_secs(900));
    let world = env
        .iter()
        .fold(world, |world, (key, value)| world.env(key, *value));
    let bin_dir = harness::world::rotators_dir("rotate-rest-api", env!("CARGO_BIN_EXE_harness"))
        .display()
        .to_string();
    let mut args = args.to_vec();
    args.extend(["--bin-dir", &bin_dir]);
    let started = Instant::now();
    let out = world.run_with_args(&args);
    Ran {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
        elapsed: started.elapsed(),
    }
}

fn grade(script: Option<&str>, extra: &[&str]) -> Ran {
    let records = rest_records();
    let mut args = vec!["grade", "rest-api", "--records", &records];
    if let Some(script) = script {
        args.extend(["--script", script]);
    }
    args.extend_from_slice(extra);
    harness(&args, &[])
}

fn run(script: &str, extra: &[&str], env: &[(&str, &str)]) -> Ran {
    let records = rest_records();
    let mut args = vec!["run", "rest-api", "--records", &records, "--script", script];
    args.extend_from_slice(extra);
    harness(&args, env)
}

/// `harness run azure-app-secret` of `script` on the Azure records.
fn run_azure(script: &str, extra: &[&str]) -> Ran {
    let records = fixture("records/azure-app-secret.json")
        .display()
        .to_string();
    let mut args = vec![
        "run",
        "azure-app-secret",
        "--records",
        &records,
        "--script",
        script,
    ];
    args.extend_from_slice(extra);
    harness_on(&records, &args, &[])
}

/// The variable names `print_env.py` printed.
fn env_names(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("name "))
        .collect()
}

fn rows(grade: &Value) -> Vec<Value> {
    grade["rows"].as_array().expect("rows").clone()
}

fn flags(row: &Value) -> Vec<String> {
    row["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_well_behaved_rest_script_is_graded_clean_in_every_cell() {
    let ran = grade(Some(&script("rest_rotate.py", "good")), &["--json"]);
    let grade = ran.json();
    let rows = rows(&grade);
    assert!(rows.len() > 5, "{grade:#}");
    for row in &rows {
        assert!(flags(row).is_empty(), "{row:#}\n{grade:#}");
    }
    assert_eq!(rows[0]["cell"], "clean run");
    assert_eq!(rows[0]["exit_code"], 0);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}

#[test]
fn a_script_printing_the_new_password_is_graded_leak_and_the_table_shows_it_nowhere() {
    let ran = grade(Some(&script("rest_rotate.py", "leak")), &[]);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let clean = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("clean run"))
        .unwrap_or_else(|| panic!("{}", ran.stdout));
    assert!(clean.contains("LEAK"), "{}", ran.stdout);
    assert!(ran.stdout.contains("printed a secret"), "{}", ran.stdout);
}

#[test]
fn a_script_printing_the_new_password_in_base64_is_a_leak_and_its_output_withheld() {
    let ran = run(
        &script("rest_rotate.py", "leak-b64"),
        &["--json", "--show-script-output"],
        &[],
    );
    let report = ran.json();
    assert_eq!(ran.code, Some(1), "{report:#}");
    assert_eq!(report["verdict"]["consistent"], false);
    assert!(
        report["verdict"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("printed a secret"),
        "{report:#}"
    );
    assert!(report["leak_scan"]["found"].is_string(), "{report:#}");
    assert_eq!(report["stdout"], "(withheld: a secret appeared in it)");
}

#[test]
fn a_cell_whose_fault_never_fired_is_not_run_and_fails_the_grade() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first-run-done");
    let command = format!(
        "{} first-only {}",
        script("rest_rotate.py", "").trim_end(),
        first.display()
    );
    let ran = grade(Some(&command), &["--json"]);
    let grade = ran.json();
    assert_eq!(ran.code, Some(1), "{grade:#}");
    let rows = rows(&grade);
    // `refused` takes the service down from a request's position on: it
    // applies whatever the run sends there, so it is graded.
    let status: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            r["cell"]
                .as_str()
                .unwrap()
                .starts_with("rest GET /v1/status")
        })
        .filter(|r| !r["cell"].as_str().unwrap().ends_with(" refused"))
        .collect();
    assert!(!status.is_empty(), "{grade:#}");
    for row in &status {
        assert_eq!(flags(row), ["NOT RUN"], "{row:#}");
    }
    assert!(grade["not_run"].as_u64().unwrap() >= 1);
    // The change itself was graded: its cells ran and are clean, but for
    // `refused` from its position (the second request of the clean run):
    // the later runs send one request only, so nothing was refused.
    for row in rows
        .iter()
        .filter(|r| r["cell"].as_str().unwrap().starts_with("rest POST"))
    {
        let expected: &[&str] = if row["cell"].as_str().unwrap().ends_with(" refused") {
            &["NOT RUN"]
        } else {
            &[]
        };
        assert_eq!(flags(row), expected, "{row:#}");
    }
}

#[test]
fn a_script_that_exits_0_without_changing_anything_is_graded_lie() {
    let ran = grade(Some(&script("rest_rotate.py", "lie")), &["--json"]);
    let grade = ran.json();
    assert_eq!(ran.code, Some(1), "{grade:#}");
    let clean = &rows(&grade)[0];
    assert_eq!(clean["exit_code"], 0);
    let flags = flags(clean);
    assert!(flags.contains(&"LIE".to_owned()), "{clean:#}");
    assert!(flags.contains(&"LOST".to_owned()), "{clean:#}");
}

#[test]
fn any_failing_exit_code_is_a_failure_to_the_gateway_not_a_lie() {
    // Exit 3 means nothing to the Gateway: it keeps the old password, which
    // the account still has.
    let unchanged = grade(Some("exit 3"), &["--json"]).json();
    let clean = &rows(&unchanged)[0];
    assert_eq!(clean["exit_code"], 3, "{unchanged:#}");
    let seen = flags(clean);
    assert!(!seen.contains(&"LIE".to_owned()), "{clean:#}");
    assert!(!seen.contains(&"LOST".to_owned()), "{clean:#}");
    // After changing the password: the Gateway keeps the old one.
    let command = format!("{}; exit 3", script("rest_rotate.py", "good"));
    let changed = grade(Some(&command), &["--json"]).json();
    let seen = flags(&rows(&changed)[0]);
    assert!(seen.contains(&"LIE".to_owned()), "{changed:#}");
    assert!(seen.contains(&"LOST".to_owned()), "{changed:#}");
}

/// Whether a live (not zombie) process runs `sleep SECONDS`.
fn sleeping(seconds: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let words: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if words.len() >= 2 && words[0].ends_with(b"sleep") && words[1] == seconds.as_bytes() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            found.push(stat);
        }
    }
    found
}

#[test]
fn a_hanging_script_is_killed_at_the_deadline_with_its_setsid_grandchild() {
    let seconds = format!("{}.{}", 3000 + std::process::id() % 1000, 7);
    let command = format!("/bin/sh {} {seconds}", fixture("scripts/hang.sh").display());
    let ran = run(&command, &["--json", "--deadline", "3"], &[]);
    let report = ran.json();
    assert_eq!(ran.code, Some(1), "{report:#}");
    assert_eq!(report["exit_code"], Value::Null, "{report:#}");
    assert_eq!(report["verdict"]["consistent"], false);
    assert!(
        report["verdict"]["detail"]
            .as_str()
            .unwrap()
            .contains("killed at the deadline"),
        "{report:#}"
    );
    // The deadline, the kill and the pipes: not the sleeps' 3000 s, nor a
    // wait per pipe.
    assert!(ran.elapsed < Duration::from_secs(30), "{:?}", ran.elapsed);
    let left = sleeping(&seconds);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_harness_ended_by_ctrl_c_kills_the_scripts_setsid_grandchild_too() {
    let seconds = format!("{}.{}", 4000 + std::process::id() % 1000, 3);
    let command = format!("/bin/sh {} {seconds}", fixture("scripts/hang.sh").display());
    let records = rest_records();
    let mut harness = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "run",
            "rest-api",
            "--records",
            &records,
            "--script",
            &command,
        ])
        .args(["--deadline", "600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while sleeping(&seconds).len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sleeping(&seconds).len(), 2, "the script never started");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(harness.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = harness.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 2), "{status:?}");
    // Killed before the harness exited; a killed orphan may take a moment
    // to be reaped by whoever inherited it.
    let until = Instant::now() + Duration::from_secs(10);
    while !sleeping(&seconds).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        sleeping(&seconds).is_empty(),
        "left behind: {:?}",
        sleeping(&seconds)
    );
}

#[test]
fn the_harness_environment_never_reaches_a_script() {
    let probe = "harness-env-probe-5f2a9c";
    let ran = run(
        &script("print_env.py", ""),
        &["--json", "--show-script-output"],
        &[
            ("AWS_SECRET_ACCESS_KEY", probe),
            ("AZURE_CLIENT_SECRET", probe),
            ("KSM_TOKEN", probe),
            ("KSM_CONFIG", probe),
            ("HTTPS_PROXY", "http://admin-proxy.example:3128"),
            ("SOMETHING_ELSE", probe),
        ],
    );
    let report = ran.json();
    let stdout = report["stdout"].as_str().unwrap();
    let names = env_names(stdout);
    assert!(names.contains(&"PATH"), "{stdout}");
    assert!(names.contains(&"HOME"), "{stdout}");
    assert!(names.contains(&"REQUESTS_CA_BUNDLE"), "{stdout}");
    for absent in [
        "AWS_SECRET_ACCESS_KEY",
        "AZURE_CLIENT_SECRET",
        "KSM_TOKEN",
        "SOMETHING_ELSE",
        "CARGO",
        "RUST_BACKTRACE",
    ] {
        assert!(
            !names.contains(&absent),
            "{absent} reached the script: {stdout}"
        );
    }
    assert!(!stdout.contains("PROBE-SEEN"), "{stdout}");
    assert!(!stdout.contains("admin-proxy"), "{stdout}");
    // Nothing on the command line but what CMD says (the script's path);
    // HOME is the working directory, removed after the run.
    assert!(stdout.contains("argv 1"), "{stdout}");
    let home = stdout
        .lines()
        .find_map(|l| l.strip_prefix("value HOME="))
        .unwrap();
    assert!(stdout.contains(&format!("cwd {home}")), "{stdout}");
    assert!(!Path::new(home).exists(), "the working directory stayed");
}

#[test]
fn a_new_password_in_a_request_path_is_masked_in_the_grade_table() {
    let ran = grade(Some(&script("rest_rotate.py", "path")), &[]);
    // The table names the call (masked) and shows it failing each way.
    assert!(ran.stdout.contains("rest GET /v1/"), "{}", ran.stdout);
    assert!(!ran.stdout.contains("Rh-"), "{}", ran.stdout);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
}

#[test]
fn a_new_password_in_a_request_path_is_masked_in_the_report() {
    let ran = run(&script("rest_rotate.py", "path"), &[], &[]);
    assert!(ran.stdout.contains("GET /v1/"), "{}", ran.stdout);
    assert!(!ran.stdout.contains("Rh-"), "{}", ran.stdout);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
}

#[test]
fn the_script_output_is_withheld_unless_asked_for() {
    let ran = run(&script("rest_rotate.py", "good"), &["--json"], &[]);
    let report = ran.json();
    assert_eq!(ran.code, Some(0), "{report:#}");
    assert_eq!(
        report["stdout"],
        "(withheld: 17 bytes in 1 line; --show-script-output shows it, redacted)"
    );
    assert_eq!(report["plan"], Value::Null);
}

#[test]
fn grading_our_own_rotate_rest_api_passes_every_cell() {
    let ran = grade(None, &["--json"]);
    let grade = ran.json();
    let rows = rows(&grade);
    assert!(rows.len() > 10, "{grade:#}");
    let flagged: Vec<&Value> = rows.iter().filter(|r| !flags(r).is_empty()).collect();
    assert!(flagged.is_empty(), "{flagged:#?}");
    assert_eq!(grade["not_clean"], 0);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}

#[test]
fn grading_our_own_rotate_rest_api_as_a_script_passes_every_cell() {
    let bin = harness::world::rotators_dir("rotate-rest-api", env!("CARGO_BIN_EXE_harness"))
        .join("rotate-rest-api");
    let ran = grade(Some(&bin.display().to_string()), &["--json"]);
    let grade = ran.json();
    let rows = rows(&grade);
    assert!(rows.len() > 10, "{grade:#}");
    let flagged: Vec<&Value> = rows.iter().filter(|r| !flags(r).is_empty()).collect();
    assert!(flagged.is_empty(), "{flagged:#?}");
    assert!(grade["program"].as_str().unwrap().starts_with("script: "));
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}

#[test]
fn our_azure_binary_as_a_script_reaches_entra_graph_and_the_vault_by_their_real_names() {
    // The script gets no endpoint variable for Azure: its SDK goes to
    // login.microsoftonline.com and graph.microsoft.com, and its KSM
    // configuration names keeper.harness.invalid; the script proxy answers
    // for the three. An escape would fail the verdict.
    let bin =
        harness::world::rotators_dir("rotate-azure-app-secret", env!("CARGO_BIN_EXE_harness"))
            .join("rotate-azure-app-secret");
    let ran = run_azure(&bin.display().to_string(), &["--json"]);
    let report = ran.json();
    assert_eq!(ran.code, Some(0), "{report:#}\n{}", ran.stderr);
    assert_eq!(report["exit_code"], 0, "{report:#}");
    assert_eq!(report["verdict"]["consistent"], true, "{report:#}");
}

#[test]
fn an_azure_script_is_given_no_endpoint_variable_only_the_proxy_and_the_ca() {
    let probe = script("print_env.py", "");
    let ran = run_azure(&probe, &["--json", "--show-script-output"]);
    let report = ran.json();
    let stdout = report["stdout"].as_str().unwrap();
    let names = env_names(stdout);
    for pointed in ["AZURE_AUTHORITY_HOST", "MICROSOFT_GRAPH_URL"] {
        assert!(!names.contains(&pointed), "{stdout}");
    }
    for needed in [
        "HTTPS_PROXY",
        "https_proxy",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
    ] {
        assert!(names.contains(&needed), "{stdout}");
    }
}

#[test]
fn the_failure_matrix_of_a_well_behaved_script_holds_in_every_cell() {
    let ran = run(
        &script("rest_rotate.py", "good"),
        &["--faults", "all", "--json"],
        &[],
    );
    let report = ran.json();
    assert_eq!(ran.code, Some(0), "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    let cells = report["cells"].as_array().unwrap();
    assert!(cells.len() >= 10, "{report:#}");
    assert!(cells.iter().all(|c| c["fired"] == true), "{report:#}");
}

#[test]
fn a_dry_run_of_a_script_is_refused_in_one_line() {
    let ran = run("true", &["--dry-run"], &[]);
    assert_eq!(ran.code, Some(2));
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("a PAM script has no dry run"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_script_for_a_use_case_it_cannot_reach_is_refused_in_one_line() {
    let records = fixture("records/ssh-user.json").display().to_string();
    let ran = harness(
        &["run", "ssh-user", "--records", &records, "--script", "true"],
        &[],
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("--script is not supported for ssh-user")
    );
}
