//! The JSON summary line (`KEEPER_ROTATOR_OUTPUT=json`, `--output json`) on
//! the exit paths the failure matrix does not reach: a bad argument, a bad
//! output value, unreadable input, a dry run, a panic, `--help` and
//! `--version`, for every binary, each run against its use case's fakes
//! seeded from `fixtures/records/<use-case>.json` and leak-scanned. The
//! exit codes of real rotations (0 to 4, every call failing every way) are
//! the conformance suite's: its matrix asks every cell for the JSON line and
//! validates it ([`harness::rehearsal::matrix`]).

use std::path::PathBuf;

use harness::Binary;
use harness::rehearsal::world::RunOptions;
use harness::rehearsal::{self, Rehearsal, USE_CASES, UseCase, World};
use harness::runner::Outcome;
use serde_json::Value;

/// A rotator of this workspace, built next to the harness (or from
/// `KEEPER_ROTATORS_BIN_DIR`).
fn binary(name: &'static str) -> PathBuf {
    let harness = PathBuf::from(env!("CARGO_BIN_EXE_harness"));
    let built = harness.with_file_name(name).display().to_string();
    Binary::new(name, Box::leak(built.into_boxed_str()))
        .path()
        .to_owned()
}

/// Runs `case`'s binary once on fresh fakes with `options`; fails on a leak.
fn run(case: &'static UseCase, options: &RunOptions) -> (Outcome, World) {
    let fixture = Rehearsal::fixture(case).unwrap_or_else(|e| panic!("{e}"));
    let world = World::start(&fixture).unwrap_or_else(|e| panic!("{e}"));
    let out = world.run(&binary(case.binary), options);
    if let Some(leak) = out.find_leak(&world.secrets()) {
        panic!("{}: a secret was printed: {leak}", case.binary);
    }
    (out, world)
}

/// The run's stdout: exactly one line, a summary of the schema that names
/// the binary and the exit code the process ended with.
fn json_line(case: &UseCase, out: &Outcome) -> Value {
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "{}: stdout is not one line:\n{}",
        case.binary,
        out.output()
    );
    let value = rehearsal::matrix::summary_agrees(out)
        .unwrap_or_else(|why| panic!("{}: {why}:\n{}", case.binary, out.output()));
    assert_eq!(value["binary"], case.binary, "{}", out.stdout);
    value
}

fn json(args: &[&str]) -> RunOptions {
    RunOptions {
        json: true,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..RunOptions::default()
    }
}

#[test]
fn a_bad_argument_is_exit_2_and_one_json_line_saying_what_was_wrong() {
    for case in &USE_CASES {
        let (out, _) = run(case, &json(&["--bogus"]));
        out.assert_exit(2);
        let line = json_line(case, &out);
        assert_eq!(line["dry_run"], false);
        assert_eq!(line["record_uid"], Value::Null, "the input was not read");
        assert!(
            line["next"].as_str().unwrap().contains("'--bogus'"),
            "{}",
            out.stdout
        );
        assert_eq!(line["created"], serde_json::json!([]));
    }
}

#[test]
fn the_output_flag_asks_for_the_json_line_whatever_the_variable_says() {
    for case in &USE_CASES {
        let options = RunOptions {
            env: vec![("KEEPER_ROTATOR_OUTPUT".into(), "text".into())],
            ..json(&["--output", "json", "--bogus"])
        };
        let (out, _) = run(case, &options);
        out.assert_exit(2);
        json_line(case, &out);
    }
}

#[test]
fn a_bad_output_value_is_exit_2_with_one_line_naming_it_and_the_values_accepted() {
    for case in &USE_CASES {
        let (out, _) = run(
            case,
            &RunOptions {
                args: vec!["--output=yaml".into()],
                ..RunOptions::default()
            },
        );
        out.assert_exit(2);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        out.assert_stderr_has("--output must be text or json")
            .assert_stderr_has("'yaml'");
        assert_eq!(
            out.stdout.trim_end(),
            format!(
                "{}: exit 2 (bad input or configuration, nothing attempted)",
                case.binary
            )
        );

        let (out, _) = run(
            case,
            &RunOptions {
                env: vec![("KEEPER_ROTATOR_OUTPUT".into(), "xml".into())],
                ..RunOptions::default()
            },
        );
        out.assert_exit(2);
        out.assert_stderr_has("KEEPER_ROTATOR_OUTPUT must be text or json");
        assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    }
}

#[test]
fn an_output_variable_that_is_not_valid_text_is_exit_2_with_one_line_naming_it() {
    use std::os::unix::ffi::OsStrExt;
    for case in &USE_CASES {
        let out = std::process::Command::new(binary(case.binary))
            .env(
                "KEEPER_ROTATOR_OUTPUT",
                std::ffi::OsStr::from_bytes(b"js\xffon"),
            )
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", case.binary);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("KEEPER_ROTATOR_OUTPUT must be text or json")
                && stderr.contains("not valid text"),
            "{stderr}"
        );
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
    }
}

#[test]
fn a_bad_argument_after_dry_run_is_one_json_line_marked_dry_run() {
    for case in &USE_CASES {
        let (out, _) = run(case, &json(&["--dry-run", "--bogus"]));
        out.assert_exit(2);
        let line = json_line(case, &out);
        assert_eq!(line["dry_run"], true, "{}", out.stdout);
    }
}

#[test]
fn unreadable_input_is_exit_2_and_one_json_line_without_a_record() {
    for case in &USE_CASES {
        let options = RunOptions {
            stdin: Some(b"this is not base64 at all!\n".to_vec()),
            ..json(&[])
        };
        let (out, _) = run(case, &options);
        out.assert_exit(2);
        let line = json_line(case, &out);
        assert_eq!(line["record_uid"], Value::Null);
        assert!(line["next"].as_str().unwrap().contains("input"), "{line}");
    }
}

#[test]
fn a_dry_run_is_one_json_line_marked_dry_run_that_names_no_change() {
    for case in &USE_CASES {
        let options = RunOptions {
            dry_run: true,
            ..json(&[])
        };
        let (out, world) = run(case, &options);
        out.assert_exit(0);
        world
            .verdict(&out, true)
            .unwrap_or_else(|why| panic!("{why}"));
        let line = json_line(case, &out);
        assert_eq!(line["dry_run"], true);
        assert_eq!(line["next"], Value::Null);
        assert!(line["record_uid"].is_string(), "{line}");
        assert!(
            line["summary"].as_str().unwrap().starts_with("dry run: "),
            "{line}"
        );
        for ids in ["created", "stored", "retired", "left"] {
            assert_eq!(line[ids], serde_json::json!([]), "{ids}: {line}");
        }
    }
}

#[test]
fn a_panic_is_one_json_line_with_the_exit_code_it_ends_with() {
    for (when, code) in [("before", 1), ("after-change", 4)] {
        for case in &USE_CASES {
            let options = RunOptions {
                env: vec![("KEEPER_ROTATOR_DEBUG_PANIC".into(), when.into())],
                ..json(&[])
            };
            let (out, _) = run(case, &options);
            out.assert_exit(code);
            let line = json_line(case, &out);
            assert!(
                line["next"].as_str().unwrap().contains("internal error"),
                "{line}"
            );
        }
    }
}

#[test]
fn help_and_version_answer_a_person_in_text_whatever_the_output() {
    for case in &USE_CASES {
        let (help, _) = run(case, &json(&["--help"]));
        help.assert_exit(0);
        help.assert_stdout_has("--output <FORMAT>")
            .assert_stdout_has("KEEPER_ROTATOR_OUTPUT");
        let (version, _) = run(case, &json(&["--version"]));
        version.assert_exit(0);
        assert!(
            version.stdout.starts_with(&format!("{} ", case.binary)),
            "{}",
            version.stdout
        );
        assert!(serde_json::from_str::<Value>(&version.stdout).is_err());
    }
}

#[test]
fn an_access_key_rotation_names_the_key_it_created_stored_and_deleted() {
    let case = rehearsal::use_case("aws-access-key").unwrap();
    let fixture = Rehearsal::fixture(case).unwrap();
    let world = World::start(&fixture).unwrap();
    let old = world
        .vault
        .field(&user_uid(&world), "aws_access_key_id")
        .unwrap();
    let out = world.run(&binary(case.binary), &json(&[]));
    assert!(out.find_leak(&world.secrets()).is_none());
    out.assert_exit(0);
    let line = json_line(case, &out);
    let new = world
        .vault
        .field(&user_uid(&world), "aws_access_key_id")
        .unwrap();
    assert_ne!(new, old);
    assert_eq!(line["created"], serde_json::json!([new]), "{line}");
    assert_eq!(line["stored"], serde_json::json!([new]), "{line}");
    assert_eq!(line["retired"], serde_json::json!([old]), "{line}");
    assert_eq!(line["left"], serde_json::json!([]), "{line}");
    assert_eq!(line["record_uid"], user_uid(&world).as_str());
    assert_eq!(line["next"], Value::Null);
}

fn user_uid(world: &World) -> String {
    world.user_uid().to_owned()
}
