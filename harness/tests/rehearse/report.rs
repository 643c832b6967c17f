//! What the rehearsal reports: dry runs, the text report, the matrix, scenario files, templates.

use super::*;

#[test]
fn a_dry_run_passes_through_and_changes_nothing() {
    let ran = run(
        "aws-access-key",
        "rotate-aws-access-key",
        &["--json", "--dry-run"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["plan"], Value::Null, "the run is the plan");
    // --json asks the binary for its JSON line: the plan is its summary.
    assert_eq!(report["summary"]["dry_run"], true, "{report}");
    assert!(
        report["summary"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("dry run:")
    );
    assert!(changed(&report).is_empty());
    assert!(
        !calls(&report, "aws").contains(&"CreateAccessKey#1".to_owned()),
        "{:?}",
        calls(&report, "aws")
    );
}

#[test]
fn the_text_report_gives_the_exit_code_and_its_meaning() {
    let file = fixture("records/rest-api.json");
    let ran = harness("rotate-rest-api", &file, &["demo", "rest-api"]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    for expected in [
        "== exit code: 0 (rotated)",
        "== plan (the binary with --dry-run, on a copy of the fakes): exit 0 (a plan; nothing was changed)",
        "== verdict: consistent",
        "== leak scan: none of the",
        "== demo succeeded",
    ] {
        assert!(ran.stdout.contains(expected), "{expected}:\n{}", ran.stdout);
    }
    assert!(
        !ran.stdout.contains("Some("),
        "no Rust debug text:\n{}",
        ran.stdout
    );
}

#[test]
fn every_fault_of_the_matrix_prints_one_line_per_cell() {
    let ran = run("rest-api", "rotate-rest-api", &["--faults", "all"]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let cells: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL"))
        .collect();
    let kinds = harness::rehearsal::KINDS;
    assert_eq!(
        cells.len(),
        kinds.len(),
        "one call, each kind:\n{}",
        ran.stdout
    );
    for kind in kinds {
        assert!(
            cells
                .iter()
                .any(|c| c.contains(&format!("#1 {kind}: exit "))),
            "{kind}:\n{}",
            ran.stdout
        );
    }
    assert!(
        ran.stdout.contains(&format!(
            "== {} cells: in every one the end state is what the exit code says",
            kinds.len()
        )),
        "{}",
        ran.stdout
    );
    // Printed once: the report on stdout, no cell line on stderr.
    assert!(
        !ran.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("ok ") || l.trim_start().starts_with("FAIL")),
        "{}",
        ran.stderr
    );
    // A summary by exit code, each code once, adding up to every cell.
    let summary: Vec<&str> = ran
        .stdout
        .lines()
        .skip_while(|l| *l != "== cells by exit code")
        .skip(1)
        .take_while(|l| l.starts_with("   exit "))
        .collect();
    let total: usize = summary
        .iter()
        .map(|l| {
            l.split_whitespace()
                .rev()
                .nth(1)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("no count in {l:?}"))
        })
        .sum();
    assert_eq!(total, kinds.len(), "{}", ran.stdout);
    // An exit 4 cell carries the binary's instruction under it.
    let lines: Vec<&str> = ran.stdout.lines().collect();
    let four = lines
        .iter()
        .position(|l| l.starts_with("ok ") && l.contains(": exit 4 "))
        .expect("a cell that exits 4");
    assert!(
        lines[four + 1].starts_with("       ") && lines[four + 1].contains("error"),
        "the instruction under the exit 4 cell:\n{}",
        ran.stdout
    );
}

#[test]
fn a_scenario_file_rehearses_as_written() {
    // Its newPassword has quotes, a backslash and a non-ASCII letter.
    let file = fixture("scenarios/rest-api/demo.json");
    let ran = harness(
        "rotate-rest-api",
        &file,
        &["run", "rest-api", "--records", &file, "--json", "--no-plan"],
    );
    let report = ran.json();
    assert_consistent(&ran, &report);
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["sources"][0]["shape"], "scenario");
    assert_eq!(report["input"]["newPassword"], "********");
    assert_eq!(report["input"]["records"][1]["login"], "rotation-service");
    assert!(
        report["end_state"][0]
            .as_str()
            .unwrap()
            .contains("the new password"),
        "{}",
        report["end_state"]
    );
}

#[test]
fn a_fault_on_a_call_no_service_makes_lists_the_calls() {
    let ran = run(
        "aws-access-key",
        "rotate-aws-access-key",
        &["--fault", "CreateKey=500"],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr
            .contains("no service makes a call named \"CreateKey\""),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("aws: GetUser"), "{}", ran.stderr);
    assert!(ran.stderr.contains("vault: get_secret"), "{}", ran.stderr);
}

#[test]
fn a_fault_on_a_call_the_run_never_makes_is_an_error_naming_the_calls_made() {
    let ran = run(
        "rest-api",
        "rotate-rest-api",
        &["--fault", "POST /v2/nothing=500"],
    );
    assert_eq!(ran.code, Some(2), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("--fault rest.POST /v2/nothing#1=500 never fired"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("the run made the calls rest: "),
        "{}",
        ran.stderr
    );
    assert!(
        !ran.stdout.contains("verdict: consistent"),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_fault_on_an_occurrence_beyond_the_runs_calls_is_an_error() {
    let ran = run(
        "aws-access-key",
        "rotate-aws-access-key",
        &["--fault", "CreateAccessKey#5=500"],
    );
    assert_eq!(ran.code, Some(2), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("--fault aws.CreateAccessKey#5=500 never fired"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("CreateAccessKey"), "{}", ran.stderr);
}

#[test]
fn a_template_with_empty_fields_is_refused_by_the_binary_as_bad_input() {
    let file = harness::inputs::scenario::fixtures_dir()
        .join("../templates/azure-app-secret.json")
        .display()
        .to_string();
    let ran = harness(
        "rotate-azure-app-secret",
        &file,
        &[
            "run",
            "azure-app-secret",
            "--records",
            &file,
            "--json",
            "--no-plan",
        ],
    );
    let report = ran.json();
    // The end state agrees with the refusal, but nothing was rotated.
    assert_eq!(ran.code, Some(3), "{}", ran.stderr);
    assert_eq!(
        report["verdict"]["consistent"], true,
        "{}",
        report["verdict"]
    );
    assert_eq!(report["leak_scan"]["found"], Value::Null);
    assert_eq!(report["exit_code"], 2);
    assert!(
        report["message"][0]
            .as_str()
            .unwrap()
            .contains("'application_object_id' is missing or empty"),
        "{}",
        report["message"]
    );
    assert!(
        report["notes"][0]
            .as_str()
            .unwrap()
            .contains("has no uid in the file"),
        "{}",
        report["notes"]
    );
}

#[test]
fn a_refused_rotation_exits_3_and_the_plan_says_why() {
    let file = harness::inputs::scenario::fixtures_dir()
        .join("../templates/azure-app-secret.json")
        .display()
        .to_string();
    let ran = harness(
        "rotate-azure-app-secret",
        &file,
        &["run", "azure-app-secret", "--records", &file],
    );
    assert_eq!(ran.code, Some(3), "{}\n{}", ran.stdout, ran.stderr);
    let plan: Vec<&str> = ran
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("== plan"))
        .take_while(|l| !l.starts_with("== running"))
        .collect();
    assert!(plan[0].contains("exit 2"), "{plan:?}");
    assert!(
        plan.iter()
            .any(|l| l.contains("'application_object_id' is missing or empty")),
        "the plan gives the binary's reason:\n{}",
        ran.stdout
    );
}

#[test]
fn a_json_rehearsal_shows_the_binarys_json_summary_line_parsed() {
    let ran = run("aws-access-key", "rotate-aws-access-key", &["--json"]);
    let report = assert_rotated(&ran);
    let summary = &report["summary"];
    assert_eq!(summary["schema"], "keeper-rotators/summary/v1", "{report}");
    assert_eq!(summary["binary"], "rotate-aws-access-key");
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["meaning"], "rotated");
    assert_eq!(summary["created"].as_array().unwrap().len(), 1, "{summary}");
    assert_eq!(summary["created"], summary["stored"]);
    assert_eq!(summary["retired"].as_array().unwrap().len(), 1, "{summary}");
    assert!(report.get("summary_problem").is_none(), "{report}");
    // Its stdout is that one line.
    assert!(report["stdout"].as_str().unwrap().starts_with('{'));
}

#[test]
fn a_text_rehearsal_runs_the_binary_with_its_prose_line_whatever_the_environment_says() {
    let file = fixture("records/rest-api.json");
    let ran = harness_with_env(
        "rotate-rest-api",
        &file,
        &["run", "rest-api", "--records", &file],
        &[("KEEPER_ROTATOR_OUTPUT", "json")],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains("--- stdout\nrotated the password of 'alice@example.com'"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("keeper-rotators/summary/v1"));
}
