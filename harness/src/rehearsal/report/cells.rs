//! The failure matrix as a report: `--faults all` runs every cell (see
//! [`crate::rehearsal::matrix`]) and this module gathers and prints them.
//!
//! Why apart: a matrix report is a list of cells, not one run; it shares
//! only the escaping with the single run's report.

use std::fmt::Write as _;

use serde::Serialize;

use super::{esc, esc_lines};
use crate::faults::FaultKind;
use crate::rehearsal::Rehearsal;
use crate::rehearsal::matrix::{self, CellOutcome, Timing};
use crate::rehearsal::program::Program;

/// Every cell of the matrix for one rehearsal.
#[derive(Debug, Serialize)]
pub struct MatrixReport {
    pub use_case: &'static str,
    pub binary: String,
    pub description: String,
    pub kinds: Vec<FaultKind>,
    pub timing: String,
    pub cells: Vec<CellOutcome>,
    pub failed: usize,
}

impl MatrixReport {
    pub fn consistent(&self) -> bool {
        self.failed == 0
    }
}

/// `--faults all`: the clean run, then every cell, `progress` called with
/// each cell's line as it ends.
pub fn rehearse_matrix(
    program: &Program,
    rehearsal: &Rehearsal,
    jobs: usize,
    progress: &(dyn Fn(&CellOutcome) + Sync),
) -> Result<MatrixReport, String> {
    let clean = matrix::clean_run(program, rehearsal, Timing::FAULTS)?;
    let cells = clean.cells(matrix::KINDS);
    let outcomes = matrix::run_cells(
        program,
        rehearsal,
        &clean,
        &cells,
        Timing::FAULTS,
        jobs,
        progress,
    );
    // The cells' state and failure lines hold record values: escaped for
    // the JSON report as for the text.
    let outcomes: Vec<CellOutcome> = outcomes
        .into_iter()
        .map(|mut o| {
            o.cell.call = esc(&o.cell.call);
            o.state = esc(&o.state);
            o.lie = o.lie.map(|f| esc(&f));
            o.lost = o.lost.map(|f| esc(&f));
            o.failure = o.failure.map(|f| esc(&f));
            o.told = o.told.iter().map(|l| esc(l)).collect();
            o.output = esc_lines(&o.output);
            o
        })
        .collect();
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    Ok(MatrixReport {
        use_case: rehearsal.use_case.name,
        binary: esc(&program.shown()),
        description: esc(&rehearsal.description),
        kinds: matrix::KINDS.to_vec(),
        timing: format!(
            "requests count as unanswered after {} s (KEEPER_ROTATOR_REQUEST_TIMEOUT; 20 s on the \
             Gateway) and held answers wait {} s",
            Timing::FAULTS.request_timeout.as_secs(),
            Timing::FAULTS.hold.as_secs()
        ),
        cells: outcomes,
        failed,
    })
}

/// The matrix report as text.
pub fn matrix_text(report: &MatrixReport) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "== every call of a clean run of {}, failing each way ({}); {}",
        report.binary,
        report
            .kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        report.timing
    );
    for cell in &report.cells {
        let _ = writeln!(text, "{}", esc(&cell.line()));
        // What a 3 or a 4 asks of the administrator, as the binary said it.
        if matches!(cell.exit_code, Some(3 | 4)) {
            for line in &cell.told {
                let _ = writeln!(text, "       {line}");
            }
        }
    }
    let _ = writeln!(text, "== cells by exit code");
    let mut codes: Vec<Option<i32>> = report.cells.iter().map(|c| c.exit_code).collect();
    codes.sort_unstable();
    codes.dedup();
    for code in codes {
        let of_code = report.cells.iter().filter(|c| c.exit_code == code);
        let failed = of_code.clone().filter(|c| c.failure.is_some()).count();
        let count = of_code.count();
        let _ = writeln!(
            text,
            "   exit {:<52} {count:>3} {}{}",
            crate::rehearsal::exit_text(code),
            if count == 1 { "cell" } else { "cells" },
            if failed == 0 {
                String::new()
            } else {
                format!(", {failed} FAIL")
            }
        );
    }
    let _ = writeln!(
        text,
        "== {} cells: {}",
        report.cells.len(),
        if report.failed == 0 {
            "in every one the end state is what the exit code says".to_owned()
        } else {
            format!(
                "{} FAIL (the end state is not what the exit code says, or a secret was \
                 printed; see the FAIL lines)",
                report.failed
            )
        }
    );
    text
}
