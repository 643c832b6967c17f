//! The conformance suite: the same failure matrix over every binary.
//!
//! For each binary, a clean run records the calls it makes to each service
//! (the cloud's API, the fake SSH machine's scripts and logins, and the
//! vault). Then, for every fault kind and every call
//! of that sequence, a fresh set of fakes is started, that one call fails in
//! that one way, and the binary runs once. The verdict is taken from the
//! fakes' real end state, never from what the binary says about itself:
//!
//! - the credential the vault holds works (for the password binaries: the
//!   account's password is the one the Gateway will store, which is
//!   `newPassword` on exit 0 and the old one otherwise, except after an
//!   exit 4, which may leave either);
//! - no credential is live that the vault does not hold and the output does
//!   not name;
//! - the exit code matches the state: 0 rotated and nothing old left, 1 and
//!   2 nothing changed at all, 3 the new credential stored and working;
//! - nothing secret is printed (every output is scanned);
//! - no credential is lost (`harness grade`'s LOST), and the cell's fault
//!   fired (a cell whose call the run did not make tested nothing).
//!
//! The worlds, call names, cells and verdicts are `harness::rehearsal`'s:
//! each use case's fakes are seeded from its Commander-shaped fixture
//! (`fixtures/records/<use-case>.json`), exactly as `harness run` and
//! `harness demo` seed them, so the suite and an administrator's rehearsal
//! judge by one definition. All failing cells of a (binary, fault kind) pair
//! are reported together. One more row runs `rotate-aws-access-key` on its
//! fixture with `retire_old_key = deactivate`: the old key is set Inactive
//! (UpdateAccessKey) instead of deleted, and every call of that run fails
//! every way too.
//!
//! `snowflake-user-key` is `rotate-snowflake-user` rotating a SERVICE
//! user's RSA key pair (its PAM User holds the private key): its verdict is
//! the key set's, on the user's two key slots.
//!
//! Every cell asks the binary for its JSON summary line and fails unless
//! stdout is one line of the schema naming the exit code the process ended
//! with ([`harness::rehearsal::matrix`]).

#![allow(
    clippy::print_stderr,
    reason = "a test fails loudly, and prints the matrix it ran"
)]

use std::path::PathBuf;

use harness::Binary;
use harness::faults::FaultKind;
use harness::rehearsal::matrix::Cell;
use harness::rehearsal::{self, Program, Rehearsal, Timing, matrix};

/// A rotator of this workspace, from `KEEPER_ROTATORS_BIN_DIR` or the
/// target directory the harness was built into (the whole workspace is built
/// by `cargo nextest run --workspace`).
fn binary(name: &'static str) -> PathBuf {
    let harness = PathBuf::from(env!("CARGO_BIN_EXE_harness"));
    let built = harness.with_file_name(name).display().to_string();
    Binary::new(name, Box::leak(built.into_boxed_str()))
        .path()
        .to_owned()
}

/// Runs every call of the use case's clean run failing with `kind`; fails
/// listing every cell whose end state contradicts the outcome.
fn matrix(use_case: &str, kind: FaultKind) {
    let case = rehearsal::use_case(use_case).unwrap_or_else(|e| panic!("{e}"));
    let fixture = Rehearsal::fixture(case).unwrap_or_else(|e| panic!("{e}"));
    matrix_of(case, &fixture, kind, None);
}

/// The AWS fixture with `retire_old_key = deactivate` on the PAM User.
fn deactivating_fixture() -> (&'static rehearsal::UseCase, Rehearsal) {
    let case = rehearsal::use_case("aws-access-key").unwrap_or_else(|e| panic!("{e}"));
    let mut export: serde_json::Value =
        serde_json::from_str(case.fixture).unwrap_or_else(|e| panic!("{e}"));
    let user = export["records"]
        .as_array_mut()
        .and_then(|records| records.iter_mut().find(|r| r["$type"] == "pamUser"))
        .unwrap_or_else(|| panic!("the AWS fixture has no PAM User"));
    user["custom_fields"]["$text:retire_old_key"] = "deactivate".into();
    let text = export.to_string();
    let loaded = harness::inputs::commander::parse_files(&[(
        std::path::Path::new("fixtures/records/aws-access-key.json (retire_old_key = deactivate)"),
        &text,
    )])
    .unwrap_or_else(|e| panic!("{e}"));
    let fixture = Rehearsal::new(case, loaded, &rehearsal::RoleFlags::default())
        .unwrap_or_else(|e| panic!("{e}"));
    (case, fixture)
}

/// The AWS matrix with `retire_old_key = deactivate`.
fn matrix_deactivating(kind: FaultKind) {
    let (case, fixture) = deactivating_fixture();
    matrix_of(case, &fixture, kind, Some(("aws", "UpdateAccessKey")));
}

/// The matrix of `fixture`; `must_call`: a (service, call) the clean run
/// must make, or the row would not test what it is for.
fn matrix_of(
    case: &rehearsal::UseCase,
    fixture: &Rehearsal,
    kind: FaultKind,
    must_call: Option<(&str, &str)>,
) {
    let bin = binary(case.binary);
    let clean = matrix::clean_run(&Program::binary(&bin), fixture, Timing::FAULTS)
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some((service, call)) = must_call {
        assert!(
            clean.sequence(service).iter().any(|c| c == call),
            "the clean run made no {call}: {:?}",
            clean.sequence(service)
        );
    }
    let cells = clean.cells(&[kind]);
    assert!(!cells.is_empty(), "the clean run made no call");
    let mut failures = Vec::new();
    for cell in &cells {
        let outcome = matrix::run_cell(
            &Program::binary(&bin),
            fixture,
            &clean,
            cell,
            Timing::FAULTS,
        );
        match &outcome.failure {
            None => eprintln!("{}", outcome.line()),
            Some(_) => failures.push(format!("{}\n{}", outcome.line(), outcome.output)),
        }
    }
    eprintln!(
        "{}: {} cells of {kind}, {} failed",
        case.binary,
        cells.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n\n")
    );
}

/// Every binary's dry run, on its use case's fixture, ends its summary with
/// the one sentence saying what it checked and what it did not
/// (`common::dry_run`), worded alike.
#[test]
fn every_binarys_dry_run_says_what_it_checked_and_what_it_did_not() {
    for case in &rehearsal::USE_CASES {
        let bin = binary(case.binary);
        let fixture = Rehearsal::fixture(case).unwrap_or_else(|e| panic!("{e}"));
        let world = rehearsal::World::start(&fixture).unwrap_or_else(|e| panic!("{e}"));
        let options = rehearsal::world::RunOptions {
            dry_run: true,
            ..Default::default()
        };
        let out = world.run(&bin, &options);
        let shown = world.mask(&out.output());
        assert_eq!(out.code, Some(0), "{}: {shown}", case.binary);
        let summary = out.stdout.trim_end();
        assert_eq!(out.stdout.lines().count(), 1, "{}: {shown}", case.binary);
        let sentence = format!("Checked: {}", common::dry_run::INPUT);
        let (_, checked) = summary
            .split_once(&sentence)
            .unwrap_or_else(|| panic!("{} does not say what it checked: {shown}", case.binary));
        assert!(
            checked.contains(". Not checked: ") && checked.ends_with(". Nothing was changed."),
            "{}: {shown}",
            case.binary
        );
    }
}

/// One test per fault kind of the one list, for one use case.
macro_rules! kind_tests {
    ([$use_case:literal] $($name:ident: $kind:ident,)*) => {$(
        #[test]
        fn $name() {
            matrix($use_case, FaultKind::$kind)
        }
    )*};
}

macro_rules! conformance {
    ($($module:ident: $use_case:literal;)*) => {$(
        mod $module {
            use super::*;

            harness::with_fault_kinds!(kind_tests! { $use_case });
        }
    )*};
}

/// One test per fault kind for the AWS row that deactivates.
macro_rules! deactivating_tests {
    ([] $($name:ident: $kind:ident,)*) => {$(
        #[test]
        fn $name() {
            matrix_deactivating(FaultKind::$kind)
        }
    )*};
}

mod aws_access_key_deactivate {
    use super::*;

    harness::with_fault_kinds!(deactivating_tests! {});

    /// `aws UpdateAccessKey#1..#3 <kind>`: the deactivation fails the same
    /// way on every attempt the binary makes (3), plus `more` cells.
    fn every_attempt(kind: FaultKind, more: &[Cell]) -> Vec<Cell> {
        let attempts = if kind == FaultKind::Refused { 1 } else { 3 };
        (1..=attempts)
            .map(|nth| Cell {
                service: "aws".into(),
                call: "UpdateAccessKey".into(),
                nth,
                kind,
            })
            .chain(more.iter().cloned())
            .collect()
    }

    /// One rule for a retirement whose answer is lost, the deactivation's
    /// cells: settled on evidence, the confirming listing. Lost on every
    /// attempt and applied: the listing shows the key Inactive, exit 0.
    /// Lost or refused and not applied: the key is still Active, exit 3.
    /// Lost and the listing cannot be read: exit 4, the only case in which
    /// nothing tells. Each cell is also judged from the fakes' end state.
    #[test]
    fn a_deactivation_failing_on_every_attempt_is_settled_on_the_listing() {
        let (case, fixture) = deactivating_fixture();
        let bin = binary(case.binary);
        let clean = matrix::clean_run(&Program::binary(&bin), &fixture, Timing::FAULTS)
            .unwrap_or_else(|e| panic!("{e}"));
        let unreadable: Vec<Cell> = (2..=4)
            .map(|nth| Cell {
                service: "aws".into(),
                call: "ListAccessKeys".into(),
                nth,
                kind: FaultKind::Status500,
            })
            .collect();
        let mut rows: Vec<(String, Vec<Cell>, i32)> = FaultKind::ALL
            .iter()
            .map(|&kind| {
                (
                    format!("UpdateAccessKey {kind} on every attempt"),
                    every_attempt(kind, &[]),
                    if kind.is_applied() { 0 } else { 3 },
                )
            })
            .collect();
        rows.push((
            "UpdateAccessKey drop-after-apply on every attempt, then ListAccessKeys 500".into(),
            every_attempt(FaultKind::DropAfterApply, &unreadable),
            4,
        ));
        let mut failures = Vec::new();
        for (name, cells, expected) in &rows {
            let outcome = matrix::run_together(
                &Program::binary(&bin),
                &fixture,
                &clean,
                cells,
                Timing::FAULTS,
            );
            eprintln!("{name}: {}", outcome.line());
            if let Some(failure) = &outcome.failure {
                failures.push(format!("{name}: {failure}\n{}", outcome.output));
            } else if outcome.exit_code != Some(*expected) {
                failures.push(format!(
                    "{name}: exit {:?}, expected {expected}\n{}",
                    outcome.exit_code, outcome.output
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }
}

conformance! {
    aws_access_key: "aws-access-key";
    azure_app_secret: "azure-app-secret";
    okta_user: "okta-user";
    meraki_user: "meraki-user";
    cisco_iosxe_user: "cisco-iosxe-user";
    tenable_user: "tenable-user";
    tenable_credential: "tenable-credential";
    snowflake_user: "snowflake-user";
    snowflake_user_key: "snowflake-user-key";
    rest_api: "rest-api";
    ssh_user: "ssh-user";
}
