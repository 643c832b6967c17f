//! The command line every administrator sees: --help, --version, bad flags,
//! bad environment, and what a panic looks like.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use assert_cmd::Command;
use harness::{FakeRest, Run, Scenario};

const BIN: harness::Binary = harness::binary!("rotate-rest-api");

fn stdout_of(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_lists_the_fields_read_and_written_env_vars_and_exit_codes() {
    let help = stdout_of(&["--help"]);
    for text in [
        "API Access Details",
        "Record with Access Token",
        "api_record_title",
        "body_template",
        "auth_header",
        "auth_scheme",
        "success_status",
        "http_method",
        "Writes: nothing to the vault",
        "KEEPER_ROTATOR_LOG",
        "KEEPER_ROTATOR_TIMEOUT",
        "--dry-run",
        "--input <FILE>",
        "4 uncertain state",
    ] {
        assert!(help.contains(text), "--help lacks {text:?}:\n{help}");
    }
}

#[test]
fn version_prints_the_name_version_and_commit_on_one_line() {
    // A dist build adds ", built YYYY-MM-DD" and, from uncommitted changes,
    // "-dirty" after the commit: hence a prefix, not the whole line.
    let version = stdout_of(&["--version"]);
    let expected = format!(
        "rotate-rest-api {} (commit {}",
        env!("CARGO_PKG_VERSION"),
        common::build_info::COMMIT
    );
    assert!(
        version.starts_with(&expected) && version.ends_with(")\n") && version.lines().count() == 1,
        "{version:?} should start with {expected:?}"
    );
}

#[test]
fn an_unknown_flag_exits_2() {
    Command::new(BIN).arg("--password=oops").assert().code(2);
}

#[test]
fn a_bad_argument_gets_one_error_line_and_the_one_summary_line() {
    for args in [&["--bogus"][..], &["--timeout", "abc"], &["--timeout", "0"]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            stdout, "rotate-rest-api: exit 2 (bad input or configuration, nothing attempted)\n",
            "{args:?}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("rotate-rest-api: error: "), "{stderr}");
    }
}

#[test]
fn a_bad_log_level_exits_2_naming_the_variable() {
    let scenario =
        Scenario::load("scenarios/rest-api/default.json").var("API_URL", "http://127.0.0.1:9/x");
    Run::new(BIN)
        .env("KEEPER_ROTATOR_LOG", "loud")
        .scenario(&scenario)
        .run()
        .assert_exit(2)
        .assert_stderr_has("KEEPER_ROTATOR_LOG='loud' is not a log level");
}

#[test]
fn a_panic_before_any_change_prints_one_line_without_secrets_and_exits_1() {
    let scenario =
        Scenario::load("scenarios/rest-api/default.json").var("API_URL", "http://127.0.0.1:9/x");
    let out = Run::new(BIN)
        .env("KEEPER_ROTATOR_DEBUG_PANIC", "before")
        .env("RUST_BACKTRACE", "1")
        .scenario(&scenario)
        .run();
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("internal error at common/src/cli.rs")
        .assert_stderr_has("Nothing was changed");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.output());
}

#[test]
fn a_panic_after_a_change_was_sent_exits_4() {
    let scenario =
        Scenario::load("scenarios/rest-api/default.json").var("API_URL", "http://127.0.0.1:9/x");
    Run::new(BIN)
        .env("KEEPER_ROTATOR_DEBUG_PANIC", "after-change")
        .scenario(&scenario)
        .run()
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("A change had already been sent");
}

#[test]
fn debug_logging_shows_the_exchange_but_no_secret() {
    let fake = FakeRest::start("api-token-0001-x7").with_account("alice@example.com", "x");
    let scenario =
        Scenario::load("scenarios/rest-api/default.json").var("API_URL", fake.url("/v1/password"));
    Run::new(BIN)
        .env("KEEPER_ROTATOR_LOG", "trace")
        .scenario(&scenario)
        .run()
        .assert_exit(0)
        .assert_stderr_has("-> 201");
}
