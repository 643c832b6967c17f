//! Bad Gateway input: a clear one-line error, exit 2, nothing sent, no panic.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::{FakeRest, Outcome, Run, Scenario};

const BIN: harness::Binary = harness::binary!("rotate-rest-api");

fn run_input(name: &str) -> Outcome {
    Run::new(BIN)
        .scenario(&Scenario::load(&format!("inputs/{name}")))
        .run()
}

fn assert_bad_input(out: &Outcome, says: &str) {
    out.assert_exit(2).assert_clean().assert_stderr_has(says);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.output());
}

#[test]
fn empty_stdin_exits_2() {
    assert_bad_input(
        &run_input("empty.json"),
        "no input: expected one line of base64",
    );
}

#[test]
fn a_line_that_is_not_base64_exits_2() {
    assert_bad_input(
        &run_input("not-base64.json"),
        "the input line is not base64",
    );
}

#[test]
fn base64_of_something_not_json_exits_2() {
    assert_bad_input(&run_input("not-json.json"), "the decoded line is not JSON");
}

#[test]
fn base64_of_a_json_list_exits_2() {
    assert_bad_input(
        &run_input("not-an-object.json"),
        "is a list, expected a JSON object",
    );
}

#[test]
fn missing_records_exits_2() {
    assert_bad_input(&run_input("records-missing.json"), "'records' is missing");
}

#[test]
fn records_that_are_not_base64_exit_2() {
    assert_bad_input(
        &run_input("records-not-base64.json"),
        "'records' is not base64",
    );
}

#[test]
fn records_that_are_not_an_array_exit_2() {
    assert_bad_input(
        &run_input("records-not-an-array.json"),
        "'records' is an object, expected a JSON array of objects",
    );
}

#[test]
fn records_that_are_not_json_exit_2() {
    assert_bad_input(
        &run_input("records-not-json.json"),
        "'records' is not a JSON array",
    );
}

#[test]
fn a_value_of_the_wrong_type_exits_2_naming_the_key_not_the_value() {
    assert_bad_input(
        &run_input("wrong-types.json"),
        "'newPassword' is a number, expected a string",
    );
}

#[test]
fn a_record_without_uid_exits_2_naming_its_index() {
    assert_bad_input(
        &run_input("record-without-uid.json"),
        "records[0] has no 'uid'",
    );
}

#[test]
fn a_20_mb_line_exits_2_quickly() {
    let huge = vec![b'A'; 20 * 1024 * 1024];
    let out = Run::new(BIN).stdin(huge).run();
    assert_bad_input(&out, "stdin holds more than 2 MiB");
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
}

#[test]
fn input_can_come_from_a_file_with_a_wrapped_line() {
    let fake = FakeRest::start("api-token-0001-x7").with_account("alice@example.com", "x");
    let scenario =
        Scenario::load("scenarios/rest-api/default.json").var("API_URL", fake.url("/v1/password"));
    let line = scenario.encode();
    let wrapped: Vec<String> = line
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.b64");
    std::fs::write(&path, wrapped.join("\r\n") + "\r\n").unwrap();
    let mut run = Run::new(BIN).arg("--input").arg(path.to_string_lossy());
    for secret in scenario.secrets() {
        run = run.secret(secret);
    }
    run.run().assert_exit(0);
    assert_eq!(
        fake.password_of("alice@example.com").as_deref(),
        Some("New-Passw0rd-9d2e")
    );
}

#[test]
fn an_unreadable_input_file_exits_2() {
    let out = Run::new(BIN)
        .arg("--input")
        .arg("/nonexistent/input.b64")
        .run();
    assert_bad_input(&out, "cannot open --input /nonexistent/input.b64");
}

/// The default scenario with the API record's `token` field holding `count`
/// distinct values of `width` characters: a line of about 1.9 MB.
fn many_values(count: usize, width: usize, fake: &FakeRest) -> Scenario {
    let values: Vec<serde_json::Value> = (0..count)
        .map(|n| serde_json::json!(format!("{n:0width$x}")))
        .collect();
    Scenario::load("scenarios/rest-api/default.json")
        .var("API_URL", fake.url("/v1/password"))
        .record_field("ApiRecordUid0000000001", "token", serde_json::json!(values))
}

#[test]
fn a_record_with_120000_secret_values_exits_2_well_within_a_second_of_work() {
    let fake = FakeRest::start("api-token-0001-x7").with_account("alice@example.com", "x");
    let scenario = many_values(120_000, 6, &fake);
    let line = scenario.encode();
    assert!(
        line.len() > 1_800_000 && line.len() < 2_000_000,
        "{}",
        line.len()
    );
    let out = Run::new(BIN).stdin(line + "\n").run();
    assert_bad_input(&out, "too many secret values");
    // Bounded, not timed to the millisecond: a debug build on a shared
    // machine; the quadratic version took 90 s.
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
    assert!(fake.received().is_empty());
}

#[test]
fn a_record_with_120000_short_secret_values_exits_2_in_bounded_time_too() {
    let fake = FakeRest::start("api-token-0001-x7").with_account("alice@example.com", "x");
    let scenario = many_values(120_000, 5, &fake);
    let out = Run::new(BIN).scenario(&scenario).run();
    // Values under 6 characters are secrets too (matched as whole words):
    // they count against the same cap.
    assert_bad_input(&out, "too many secret values");
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
    assert!(fake.received().is_empty());
}

#[test]
fn records_that_are_a_bare_string_exit_2_naming_the_type_not_the_value() {
    let out = run_input("records-a-string.json");
    assert_bad_input(
        &out,
        "'records' is a string, expected a JSON array of objects",
    );
    assert!(!out.stderr.contains("bare-string"), "{}", out.output());
}
