//! `harness grade`: the clean run and the whole failure matrix of one
//! program (a third-party script, or the project's own binary), as one
//! table of what matters before a deployment.
//!
//! Why a table of flags and not the matrix's lines: an administrator
//! deciding whether to attach a script needs four questions answered per
//! cell, the same for any program: does the exit code lie about the end
//! state (LIE), was a credential lost (LOST), was a secret printed (LEAK),
//! did it hang (KILLED). A cell that could not be judged (its fault never
//! fired, or the harness failed) is NOT RUN, and not clean: a grade that
//! skipped cells must not pass. Like a test runner, `grade` exits 0 only
//! when every row is clean, so it can gate a deployment.
//!
//! Everything is built on [`super::matrix`] (the same cells, the same
//! worlds, the same verdicts as `harness run --faults all`); the strings
//! are masked there ([`super::matrix::judge`]) and escaped here.

use std::fmt::Write as _;

use serde::Serialize;

use super::Rehearsal;
use super::matrix::{self, Cell, CellOutcome, Timing};
use super::program::Program;

/// One row of the table.
#[derive(Debug, Serialize)]
pub struct Row {
    /// `clean run`, or the cell: `rest POST /api/users/alice/password#1 500`.
    pub cell: String,
    pub exit_code: Option<i32>,
    /// `LIE`, `LOST`, `LEAK`, `KILLED`, `NOT RUN`, `FAIL` (the project's
    /// own checks of its binaries' output), `NO ROTATION` (the clean run).
    pub flags: Vec<&'static str>,
    /// Why, for a flagged row (masked, escaped).
    pub detail: Vec<String>,
    pub elapsed_ms: u64,
}

impl Row {
    pub fn clean(&self) -> bool {
        self.flags.is_empty()
    }
}

/// The grade.
#[derive(Debug, Serialize)]
pub struct Grade {
    pub use_case: &'static str,
    pub program: String,
    pub description: String,
    pub timing: String,
    /// The clean run's wall time, in milliseconds.
    pub clean_ms: u64,
    /// The clean run first, then every cell.
    pub rows: Vec<Row>,
    /// Rows not clean (the clean run included).
    pub not_clean: usize,
    /// Rows that could not be judged.
    pub not_run: usize,
}

impl Grade {
    /// Every row clean.
    pub fn passed(&self) -> bool {
        self.not_clean == 0
    }
}

fn esc(text: &str) -> String {
    common::log::escape_controls(text)
}

fn row(name: String, o: &CellOutcome, clean_run: bool) -> Row {
    let mut flags = Vec::new();
    let mut detail = Vec::new();
    if !o.fired {
        flags.push("NOT RUN");
        detail.extend(o.failure.clone());
    }
    // A killed run claimed nothing: KILLED, not LIE.
    if o.lie.is_some() && o.fired && !o.killed {
        flags.push("LIE");
        detail.extend(o.lie.clone());
    }
    if let Some(lost) = &o.lost {
        flags.push("LOST");
        detail.push(lost.clone());
    }
    if o.leaked {
        flags.push("LEAK");
        detail.push("printed a secret".into());
    }
    if o.killed {
        flags.push("KILLED");
        detail.push(format!(
            "hung: killed at the deadline after {} ms",
            o.elapsed_ms
        ));
    }
    if clean_run && o.fired && o.exit_code != Some(0) && o.lie.is_none() {
        flags.push("NO ROTATION");
        detail.push(format!(
            "the clean run did not rotate (exit {}): the matrix tests failures of a rotation",
            super::exit_text(o.exit_code)
        ));
    }
    if flags.is_empty()
        && let Some(failure) = &o.failure
    {
        flags.push("FAIL");
        detail.push(failure.clone());
    }
    Row {
        cell: esc(&name),
        exit_code: o.exit_code,
        flags,
        detail: detail.iter().map(|d| esc(d)).collect(),
        elapsed_ms: o.elapsed_ms,
    }
}

/// Grades `program` on `rehearsal`: the clean run, then, when it made any
/// call, every call of it failing each way, `jobs` cells at a time.
pub fn grade(
    program: &Program,
    rehearsal: &Rehearsal,
    jobs: usize,
    progress: &(dyn Fn(&CellOutcome) + Sync),
) -> Result<Grade, String> {
    let timing = Timing::FAULTS;
    let (clean, out, world) = matrix::record_calls(program, rehearsal, timing)?;
    let placeholder = Cell {
        service: String::new(),
        call: String::new(),
        nth: 0,
        kind: matrix::KINDS[0],
    };
    let judged = matrix::judge(program, &world, &placeholder, &out, true);
    drop(world);
    let clean_row = row("clean run".into(), &judged, true);
    let clean_ms = clean_row.elapsed_ms;
    let cells = clean.cells(matrix::KINDS);
    let outcomes = matrix::run_cells(program, rehearsal, &clean, &cells, timing, jobs, progress);
    let mut rows = vec![clean_row];
    rows.extend(outcomes.iter().map(|o| row(o.cell.to_string(), o, false)));
    let not_clean = rows.iter().filter(|r| !r.clean()).count();
    let not_run = rows.iter().filter(|r| r.flags.contains(&"NOT RUN")).count();
    Ok(Grade {
        use_case: rehearsal.use_case.name,
        program: esc(&program.shown()),
        description: esc(&rehearsal.description),
        timing: format!(
            "requests count as unanswered after {} s for the project's binaries \
             (KEEPER_ROTATOR_REQUEST_TIMEOUT), held answers wait {} s, a run is killed after {} s",
            timing.request_timeout.as_secs(),
            timing.hold.as_secs(),
            program
                .script()
                .and_then(|s| s.deadline)
                .unwrap_or(timing.kill_after)
                .as_secs()
        ),
        clean_ms,
        rows,
        not_clean,
        not_run,
    })
}

/// The grade as one table.
pub fn text(grade: &Grade) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "== grade of {} on {} ({}): the clean run, then every call of it failing each way; {}",
        grade.program, grade.use_case, grade.description, grade.timing
    );
    let width = grade
        .rows
        .iter()
        .map(|r| r.cell.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(t, "{:<width$}  {:>4}  flags", "cell", "exit");
    for r in &grade.rows {
        let code = r
            .exit_code
            .map_or_else(|| "none".to_owned(), |c| c.to_string());
        let flags = if r.flags.is_empty() {
            "clean".to_owned()
        } else {
            r.flags.join(" ")
        };
        let _ = writeln!(t, "{:<width$}  {code:>4}  {flags}", r.cell);
    }
    let flagged: Vec<&Row> = grade.rows.iter().filter(|r| !r.clean()).collect();
    if !flagged.is_empty() {
        let _ = writeln!(t, "== why");
        for r in &flagged {
            for d in &r.detail {
                let _ = writeln!(t, "   {}: {d}", r.cell);
            }
        }
    }
    let count = |flag: &str| {
        grade
            .rows
            .iter()
            .filter(|r| r.flags.contains(&flag))
            .count()
    };
    let _ = writeln!(
        t,
        "== {} rows: {} clean; LIE {}, LOST {}, LEAK {}, KILLED {}, NOT RUN {}; the clean run took \
         {} ms",
        grade.rows.len(),
        grade.rows.len() - grade.not_clean,
        count("LIE"),
        count("LOST"),
        count("LEAK"),
        count("KILLED"),
        count("NOT RUN"),
        grade.clean_ms
    );
    let _ = writeln!(
        t,
        "== {}",
        if grade.passed() {
            "PASS: every row is clean".to_owned()
        } else {
            format!("FAIL: {} rows are not clean", grade.not_clean)
        }
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultKind;

    fn outcome() -> CellOutcome {
        CellOutcome {
            cell: Cell {
                service: "rest".into(),
                call: "POST /v1/password".into(),
                nth: 1,
                kind: FaultKind::Status500,
            },
            exit_code: Some(4),
            exit_meaning: "",
            state: String::new(),
            failure: None,
            told: Vec::new(),
            output: String::new(),
            fired: true,
            killed: false,
            leaked: false,
            lie: None,
            lost: None,
            elapsed_ms: 10,
        }
    }

    #[test]
    fn a_cell_whose_fault_never_fired_is_not_run_and_not_clean() {
        let mut o = outcome();
        o.fired = false;
        o.failure = Some("the fault never fired".into());
        let r = row("x".into(), &o, false);
        assert_eq!(r.flags, ["NOT RUN"]);
        assert!(!r.clean());
    }

    #[test]
    fn a_killed_run_is_killed_not_a_lie() {
        let mut o = outcome();
        o.exit_code = None;
        o.killed = true;
        o.lie = Some("exit None but the account has the old password".into());
        o.failure = Some("killed at the deadline".into());
        let r = row("x".into(), &o, false);
        assert_eq!(r.flags, ["KILLED"]);
    }

    #[test]
    fn a_lie_that_lost_the_password_and_printed_it_carries_every_flag() {
        let mut o = outcome();
        o.lie = Some("exit 1 but the account has the new password".into());
        o.lost = Some("the Gateway keeps the old password".into());
        o.leaked = true;
        let r = row("x".into(), &o, false);
        assert_eq!(r.flags, ["LIE", "LOST", "LEAK"]);
    }

    #[test]
    fn a_clean_run_that_did_not_rotate_is_not_clean() {
        let mut o = outcome();
        o.exit_code = Some(1);
        let r = row("clean run".into(), &o, true);
        assert_eq!(r.flags, ["NO ROTATION"]);
        let o = outcome();
        assert!(row("x".into(), &o, false).clean());
    }
}
