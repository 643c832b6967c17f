//! The failure matrix: every call of a clean run, failing in every way, one
//! cell at a time, each judged by the fakes' end state.
//!
//! Why here and not in the conformance suite: `harness run --faults all`
//! runs the same matrix on an administrator's records, and the two must not
//! drift apart. The suite (`harness/tests/conformance.rs`) runs it on each
//! use case's fixture, one test per fault kind, and fails on any cell whose
//! verdict fails; a rehearsal prints one line per cell.
//!
//! A clean run first records the calls the binary makes to each service.
//! Then, for every call of that sequence and every kind, a fresh world is
//! started, that one call (its nth occurrence) fails in that one way, and the
//! binary runs once, asked for its JSON summary line. A cell fails when a
//! secret appears in an output, when stdout is not exactly one line that
//! validates against the summary's schema and tells the exit code the
//! process ended with ([`crate::summary`]), or when the end state
//! contradicts the exit code ([`super::Service::verdict`]).

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::program::Program;
use super::world::{RunOptions, World};
use super::{Rehearsal, exit_text};
use crate::faults::{Armable, FaultKind};
use crate::runner::Outcome;

/// The kinds every call is failed with: every kind the harness knows, in
/// the order of the one list ([`crate::with_fault_kinds!`]).
pub const KINDS: &[FaultKind] = FaultKind::ALL;

/// The clocks of a run with faults: short, so a matrix ends in minutes.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// `KEEPER_ROTATOR_REQUEST_TIMEOUT`: a request counts as unanswered
    /// after this long.
    pub request_timeout: Duration,
    /// How long `timeout-after-apply` and `late-save` hold a request:
    /// longer than the request timeout.
    pub hold: Duration,
    /// The harness kills a run after this long.
    pub kill_after: Duration,
}

impl Timing {
    /// The conformance suite's: requests time out after 2 s, faults hold
    /// 4 s.
    pub const FAULTS: Self = Self {
        request_timeout: Duration::from_secs(2),
        hold: Duration::from_secs(4),
        kill_after: Duration::from_secs(170),
    };
}

/// One call failing one way: `aws CreateAccessKey#1 drop-after-apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub service: String,
    pub call: String,
    pub nth: usize,
    pub kind: FaultKind,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}#{} {}",
            self.service, self.call, self.nth, self.kind
        )
    }
}

/// A clean run's calls, per service.
#[derive(Debug, Clone)]
pub struct Clean {
    /// (service, call names in order)
    pub sequences: Vec<(String, Vec<String>)>,
}

impl Clean {
    /// The sequence of `service`.
    pub fn sequence(&self, service: &str) -> &[String] {
        self.sequences
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, calls)| calls.as_slice())
            .unwrap_or_default()
    }

    /// Every (service, call, nth) of the clean run, with each of `kinds`.
    pub fn cells(&self, kinds: &[FaultKind]) -> Vec<Cell> {
        let mut cells = Vec::new();
        for &kind in kinds {
            for (service, calls) in &self.sequences {
                for (index, call) in calls.iter().enumerate() {
                    let nth = calls[..=index].iter().filter(|c| *c == call).count();
                    cells.push(Cell {
                        service: service.clone(),
                        call: call.clone(),
                        nth,
                        kind,
                    });
                }
            }
        }
        cells
    }
}

/// Runs the binary once on a fresh world without faults, with the fault
/// timing, and records the calls it made to each service, whatever its
/// outcome.
pub fn record_calls(
    program: &Program,
    rehearsal: &Rehearsal,
    timing: Timing,
) -> Result<(Clean, Outcome, World), String> {
    let world = World::start(rehearsal)?;
    // Asked for the JSON summary line, as every cell is: the clean run is
    // judged as a cell by `harness grade`.
    let out = super::program::run(
        &world,
        program,
        &RunOptions {
            json: true,
            ..RunOptions::timed(timing)
        },
    )?;
    let clean = Clean {
        sequences: world
            .services()
            .into_iter()
            .map(|(service, fake)| (service.to_owned(), fake.call_sequence()))
            .collect(),
    };
    Ok((clean, out, world))
}

/// [`record_calls`], failing unless the run rotated (exit 0), leaked
/// nothing, and its verdict holds: a matrix on a setup that does not rotate
/// cleanly says nothing.
pub fn clean_run(
    program: &Program,
    rehearsal: &Rehearsal,
    timing: Timing,
) -> Result<Clean, String> {
    let (clean, out, world) = record_calls(program, rehearsal, timing)?;
    if let Some(leak) = out.find_leak(&world.secrets()) {
        return Err(format!("the clean run leaked: {leak}"));
    }
    if out.code != Some(0) {
        return Err(format!(
            "the clean run did not rotate (exit {}); the matrix needs a setup that rotates \
             without faults:\n{}",
            exit_text(out.code),
            match program {
                Program::Binary(_) => world.mask(&out.output()),
                Program::Script(_) => format!(
                    "(the script's output withheld: stdout {}, stderr {})",
                    super::program::size(&out.stdout),
                    super::program::size(&out.stderr)
                ),
            }
        ));
    }
    world
        .verdict(&out, false)
        .map_err(|why| format!("the clean run's end state is wrong: {why}"))?;
    Ok(clean)
}

/// What one cell did.
#[derive(Debug, Serialize)]
pub struct CellOutcome {
    pub cell: Cell,
    /// The exit code; `None` when killed.
    pub exit_code: Option<i32>,
    pub exit_meaning: &'static str,
    /// The end state in one line.
    pub state: String,
    /// `None` when the cell passed; else why it failed.
    pub failure: Option<String>,
    /// The binary's error and warning lines, masked: what an exit 3 or 4
    /// asks of the administrator. Empty after a leak.
    pub told: Vec<String>,
    /// The binary's outputs, masked; withheld after a leak.
    #[serde(skip)]
    pub output: String,
    /// Whether the armed fault was applied: a run that never made the
    /// call (as often as armed) went clean and proves nothing about it.
    pub fired: bool,
    /// Whether the harness killed the run at its deadline.
    pub killed: bool,
    /// Whether a secret appeared in an output.
    pub leaked: bool,
    /// Why the exit code contradicts the end state, if it does.
    pub lie: Option<String>,
    /// Why a credential was lost, if one was (see [`super::Service::lost`]).
    pub lost: Option<String>,
    /// The run's wall time, in milliseconds.
    pub elapsed_ms: u64,
}

impl CellOutcome {
    /// `ok   aws CreateAccessKey#1 drop-after-apply: exit 4 (...); IAM keys ...`
    pub fn line(&self) -> String {
        format!(
            "{} {}: exit {}; {}{}",
            if self.failure.is_none() {
                "ok  "
            } else {
                "FAIL"
            },
            self.cell,
            exit_text(self.exit_code),
            self.state,
            self.failure
                .as_ref()
                .map(|f| format!(" -- {f}"))
                .unwrap_or_default()
        )
    }
}

/// Arms `kind` on the nth `call` of `fake` (`refused` by its index in the
/// clean sequence).
pub fn arm(
    fake: &dyn Armable,
    clean: &[String],
    call: &str,
    nth: usize,
    kind: FaultKind,
    hold: Duration,
) -> Result<(), String> {
    fake.set_hold(hold);
    fake.arm_in(clean, call, nth, kind)
        .map_err(|e| e.to_string())
}

/// Waits until every `late-save` a fake read has been applied: the service
/// applies it a hold time after it arrived, possibly after the binary
/// exited, and the end state the administrator faces is the one after it.
pub fn settle(world: &World, hold: Duration) {
    for (_, fake) in world.services() {
        fake.wait_applied(hold + Duration::from_secs(5));
    }
}

/// Runs one cell on a fresh world.
pub fn run_cell(
    program: &Program,
    rehearsal: &Rehearsal,
    clean: &Clean,
    cell: &Cell,
    timing: Timing,
) -> CellOutcome {
    run_together(
        program,
        rehearsal,
        clean,
        std::slice::from_ref(cell),
        timing,
    )
}

/// Runs `cells` together, all armed on one fresh world (a call that fails
/// on every attempt a binary makes of it: its 1st, 2nd and 3rd
/// occurrences), judged as one cell; the outcome names the first.
pub fn run_together(
    program: &Program,
    rehearsal: &Rehearsal,
    clean: &Clean,
    cells: &[Cell],
    timing: Timing,
) -> CellOutcome {
    let Some(cell) = cells.first() else {
        panic!("run_together needs a cell");
    };
    // A cell that could not run has no world of its own: a script's call
    // name is scrubbed against the secrets the clean run registered.
    let failed = |failure: String| CellOutcome {
        cell: Cell {
            call: program.mask(&cell.call, &[]),
            ..cell.clone()
        },
        exit_code: None,
        exit_meaning: "",
        state: String::new(),
        failure: Some(failure),
        told: Vec::new(),
        output: String::new(),
        fired: false,
        killed: false,
        leaked: false,
        lie: None,
        lost: None,
        elapsed_ms: 0,
    };
    let world = match World::start(rehearsal) {
        Ok(world) => world,
        Err(e) => return failed(format!("cannot start the fakes: {e}")),
    };
    let services = world.services();
    for each in cells {
        let Some(fake) = services
            .iter()
            .find(|(s, _)| *s == each.service)
            .map(|(_, f)| *f)
        else {
            return failed(format!("no service called {}", each.service));
        };
        if let Err(e) = arm(
            fake,
            clean.sequence(&each.service),
            &each.call,
            each.nth,
            each.kind,
            timing.hold,
        ) {
            return failed(program.mask(&format!("cannot arm {each}: {e}"), &[]));
        }
    }
    let out = match super::program::run(
        &world,
        program,
        &RunOptions {
            json: true,
            ..RunOptions::timed(timing)
        },
    ) {
        Ok(out) => out,
        Err(e) => return failed(format!("the harness could not run it: {e}")),
    };
    settle(&world, timing.hold);
    // The first cell must fire; the later ones are the attempts a retry
    // would make (every attempt failing), which a run that succeeded at
    // once never makes.
    let fired = fired(&world, clean, cell);
    judge(program, &world, cell, &out, fired)
}

/// Whether the fault of `cell` was applied: its call was made at least
/// `nth` times (`refused`: the run got as far as the refused request).
fn fired(world: &World, clean: &Clean, cell: &Cell) -> bool {
    let Some(made) = world
        .services()
        .iter()
        .find(|(s, _)| *s == cell.service)
        .map(|(_, fake)| fake.call_sequence())
    else {
        return false;
    };
    if cell.kind == FaultKind::Refused {
        // The service goes down from a request's position on: applied when
        // the run made the clean run's requests before it (the refused one
        // leaves no trace; whatever the run sent there was refused).
        let sequence = clean.sequence(&cell.service);
        let index = crate::faults::request_index(sequence, &cell.call, cell.nth);
        return index.is_some_and(|index| {
            let before = index.saturating_sub(1);
            made.len() >= before && made[..before] == sequence[..before]
        });
    }
    made.iter().filter(|c| **c == cell.call).count() >= cell.nth
}

/// Judges one run of a cell (or the clean run: `fired` true, its cell
/// naming no fault).
pub fn judge(
    program: &Program,
    world: &World,
    cell: &Cell,
    out: &Outcome,
    fired: bool,
) -> CellOutcome {
    let secrets = world.secrets();
    let leak = out.find_leak(&secrets);
    let judged = program.judged(out);
    let lie = program.verdict(world, out, false).err();
    let lost = world.service.lost(&world.vault, &judged);
    let scrub = |text: &str| program.mask(text, &secrets);
    let failure = match program.script() {
        Some(_) => {
            if let Some(leak) = &leak {
                Some(format!("printed a secret: {leak}"))
            } else if out.timed_out {
                Some(format!(
                    "killed at the deadline, after {} s",
                    out.elapsed.as_secs()
                ))
            } else if !fired {
                Some("the fault never fired: the run did not make that call".into())
            } else {
                lie.as_deref().map(scrub)
            }
        }
        None => {
            if let Some(leak) = &leak {
                Some(format!("LEAK {leak}"))
            } else if out.stdout.lines().count() != 1 {
                Some("stdout is not one line".into())
            } else if let Err(why) = summary_agrees(out)
                .and_then(|line| retired_no_longer_work(&line, &world.service.working()))
            {
                Some(format!("the JSON summary line: {why}"))
            } else if !fired {
                // A cell whose fault never fired tested nothing.
                Some("the fault never fired: the run did not make that call".into())
            } else if let (None, Some(lost)) = (&lie, &lost) {
                // `harness grade`'s LOST, for the conformance suite too.
                Some(format!("LOST {lost}"))
            } else {
                lie.clone()
            }
        }
    };
    let show = program.script().is_none_or(|s| s.show_output);
    let mut cell = cell.clone();
    cell.call = scrub(&cell.call);
    CellOutcome {
        cell,
        exit_code: out.code,
        exit_meaning: super::exit_meaning(out.code),
        state: scrub(&world.service.state_line(&world.vault)),
        failure,
        told: if leak.is_some() || !show {
            Vec::new()
        } else {
            super::world::told(&out.stderr, &secrets)
                .iter()
                .map(|l| scrub(l))
                .collect()
        },
        output: if leak.is_some() {
            "(withheld: a secret appeared in it)".into()
        } else if !show {
            format!(
                "(the script's output withheld: stdout {}, stderr {})",
                super::program::size(&out.stdout),
                super::program::size(&out.stderr)
            )
        } else if program.script().is_some() {
            super::program::scrub_lines(&out.output(), &secrets)
        } else {
            super::world::mask(&out.output(), &secrets)
        },
        fired,
        killed: out.timed_out,
        leaked: leak.is_some(),
        lie: lie.as_deref().map(scrub),
        lost: lost.as_deref().map(scrub),
        elapsed_ms: u64::try_from(out.elapsed.as_millis()).unwrap_or(u64::MAX),
    }
}

/// No id the summary line calls `retired` still works (`working`: the
/// ids of the use case's credentials that authenticate now, see
/// [`super::world::Service::working`]; known for the key sets, AWS and
/// Azure, whose ids the fakes list): a key acknowledged retired that is
/// still listed or accepted is `left`, and the run exits 3.
pub fn retired_no_longer_work(line: &serde_json::Value, working: &[String]) -> Result<(), String> {
    let retired = line["retired"].as_array().cloned().unwrap_or_default();
    let still: Vec<&str> = retired
        .iter()
        .filter_map(serde_json::Value::as_str)
        .filter(|id| working.iter().any(|w| w == id))
        .collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "it calls {} retired, but the service says it still works",
            still.join(", ")
        ))
    }
}

/// The run's stdout is one JSON summary line of the schema, naming the exit
/// code the process ended with.
pub fn summary_agrees(out: &Outcome) -> Result<serde_json::Value, String> {
    let value = crate::summary::validate(out.stdout.trim_end())?;
    let said = value["exit_code"].as_i64();
    if said != out.code.map(i64::from) {
        return Err(format!(
            "it says exit {} but the process ended with {}",
            value["exit_code"],
            exit_text(out.code)
        ));
    }
    Ok(value)
}

/// Runs `cells` on up to `jobs` threads, calling `done` as each ends (in
/// the order they end); returns them in the order given.
pub fn run_cells(
    program: &Program,
    rehearsal: &Rehearsal,
    clean: &Clean,
    cells: &[Cell],
    timing: Timing,
    jobs: usize,
    done: &(dyn Fn(&CellOutcome) + Sync),
) -> Vec<CellOutcome> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<CellOutcome>>> = Mutex::new(cells.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, cells.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut next = next
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let index = *next;
                        *next += 1;
                        index
                    };
                    let Some(cell) = cells.get(index) else { break };
                    let outcome = run_cell(program, rehearsal, clean, cell, timing);
                    done(&outcome);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[index] = Some(outcome);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::retired_no_longer_work;

    #[test]
    fn a_line_calling_a_working_key_retired_is_refused_naming_it() {
        let line = serde_json::json!({"retired": ["OLD", "GONE"], "left": []});
        let why = retired_no_longer_work(&line, &["NEW".into(), "OLD".into()]).unwrap_err();
        assert!(why.contains("OLD retired"), "{why}");
        assert!(!why.contains("GONE"), "{why}");
        assert!(retired_no_longer_work(&line, &["NEW".into()]).is_ok());
    }
}
