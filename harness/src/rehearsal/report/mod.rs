//! What a rehearsal shows: built once as data, printed as text or JSON.
//!
//! Why data first: `--json` is for scripts, the text for people, and both
//! must say the same thing. Every string in a report has been masked with
//! every secret of the world (input, fakes, vault), and had its control
//! characters escaped ([`common::log::escape_controls`], as the binaries
//! escape their own output), before it is stored: the records come from
//! someone else's export, and a title holding `ESC]0;...BEL` or a line
//! break must neither act on the administrator's terminal nor forge a line
//! of the report. Every field of a hidden type is masked by field, whatever
//! its label and however short its value.
//!
//! Here the data and how a run becomes it; [`changes`] masks the input and
//! the records field by field, [`text`] lays a report out for people,
//! [`cells`] is the failure matrix's report.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::matrix::{self, Clean, Timing};
mod cells;
mod changes;
mod text;

use changes::{masked_input, record_changes};

pub use cells::{MatrixReport, matrix_text, rehearse_matrix};

use super::program::{self, Program};
use super::world::{RunOptions, World, mask};
use super::{Rehearsal, Roles, exit_meaning, exit_text};
use crate::faults::{FaultKind, FaultSpec};
use crate::inputs::commander::Source;
use crate::runner::Outcome;

/// How to rehearse.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `CALL=KIND`, `CALL#N=KIND`, or either prefixed with a service:
    /// `vault.update_secret#2=late-save`, `aws.CreateAccessKey=500`.
    pub faults: Vec<String>,
    /// Pass `--dry-run` to the binary.
    pub dry_run: bool,
    /// Show the plan: a `--dry-run` on a copy of the fakes first.
    pub plan: bool,
    /// Ask the binary for its JSON summary line, shown parsed in
    /// [`Report::summary`] (`harness run --json`).
    pub json: bool,
}

/// One rehearsal, ready to print.
#[derive(Debug, Serialize)]
pub struct Report {
    pub use_case: &'static str,
    pub binary: String,
    pub description: String,
    pub sources: Vec<Source>,
    pub roles: Roles,
    /// What the harness made up or changed.
    pub notes: Vec<String>,
    /// The Gateway's input, decoded, secrets masked: the params, and
    /// `records` as the list of dictionaries.
    pub input: Value,
    pub seeded: Vec<Seeded>,
    /// The faults armed, as `service call#nth=kind`.
    pub faults: Vec<String>,
    /// The clocks of a run with faults, in words; empty without faults.
    pub timing: String,
    /// The binary's `--dry-run` on a copy of the fakes, before the run.
    pub plan: Option<PlanRun>,
    pub dry_run: bool,
    pub exit_code: Option<i32>,
    pub exit_meaning: &'static str,
    pub stdout: String,
    /// With [`Options::json`]: the binary's summary line, parsed (secrets
    /// masked); `None` without it, or when the line is not one JSON
    /// object of the schema (`summary_problem` says why).
    pub summary: Option<Value>,
    /// Why the binary's line is not a summary of the schema, when it was
    /// asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_problem: Option<String>,
    pub stderr: String,
    /// The binary's error lines: what it told the administrator to do.
    pub message: Vec<String>,
    pub calls: Vec<ServiceCalls>,
    pub records: Vec<RecordChange>,
    pub end_state: Vec<String>,
    pub verdict: Verdict,
    pub leak_scan: LeakScan,
}

/// What one fake was seeded with.
#[derive(Debug, Serialize)]
pub struct Seeded {
    pub service: String,
    pub lines: Vec<String>,
}

/// The plan, from a dry run.
#[derive(Debug, Serialize)]
pub struct PlanRun {
    pub exit_code: Option<i32>,
    pub exit_meaning: &'static str,
    /// Its stdout: the plan in words, or why there is none.
    pub summary: String,
    /// Its error lines: why there is no plan.
    pub message: Vec<String>,
}

/// Every call one service received.
#[derive(Debug, Serialize)]
pub struct ServiceCalls {
    pub service: String,
    pub calls: Vec<CallLine>,
}

/// One call and what became of it.
#[derive(Debug, Serialize)]
pub struct CallLine {
    /// 1-based, among the service's calls.
    pub index: usize,
    pub call: String,
    pub nth: usize,
    /// The status sent; `None` when no answer reached the binary.
    pub status: Option<u16>,
    pub fault: Option<String>,
    /// The request, secrets masked.
    pub detail: String,
}

/// A record's fields before and after.
#[derive(Debug, Serialize)]
pub struct RecordChange {
    pub uid: String,
    pub title: String,
    pub note: Option<String>,
    pub fields: Vec<FieldChange>,
}

/// One field, before and after: text as is, secrets as fingerprints.
#[derive(Debug, Serialize)]
pub struct FieldChange {
    pub name: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub changed: bool,
}

/// Whether the exit code tells the truth about the end state.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub consistent: bool,
    pub detail: String,
}

/// The leak scan of the binary's outputs.
#[derive(Debug, Serialize)]
pub struct LeakScan {
    /// How many secrets (and their JSON and URL forms) were looked for.
    pub secrets: usize,
    /// Which secret appeared where, without showing it.
    pub found: Option<String>,
}

impl Report {
    /// Whether the rehearsal showed a consistent, leak-free run.
    pub fn consistent(&self) -> bool {
        self.verdict.consistent && self.leak_scan.found.is_none()
    }

    /// Whether it showed a rotation: consistent, exit 0, not a dry run.
    pub fn rotated(&self) -> bool {
        self.consistent() && self.exit_code == Some(0) && !self.dry_run
    }
}

/// A secret's fingerprint: enough to compare, nothing to reuse (as
/// `harness vault get` shows them).
pub fn fingerprint(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// One service-qualified fault: which service, and the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    pub service: String,
    pub spec: FaultSpec,
}

/// Reads `[SERVICE.]CALL[#N]=KIND` against the world's services. Without a
/// service, the call must be one only one service makes (the REST fake
/// takes any call name: an unknown call goes to it).
pub fn address(world: &World, text: &str) -> Result<Addressed, String> {
    let services = world.services();
    let names: Vec<&str> = services.iter().map(|(s, _)| *s).collect();
    let (service, rest) = match text.split_once('.') {
        Some((prefix, rest)) if names.contains(&prefix) => (Some(prefix.to_owned()), rest),
        _ => (None, text),
    };
    let spec: FaultSpec = rest.parse().map_err(|e| format!("--fault {text}: {e}"))?;
    let knows = |fake: &dyn crate::faults::Armable| {
        let known = fake.known_calls();
        known.is_empty() || known.contains(&spec.call)
    };
    let service = match service {
        Some(service) => service,
        None => {
            let fixed: Vec<&str> = services
                .iter()
                .filter(|(_, f)| f.known_calls().contains(&spec.call))
                .map(|(s, _)| *s)
                .collect();
            let open: Vec<&str> = services
                .iter()
                .filter(|(_, f)| f.known_calls().is_empty())
                .map(|(s, _)| *s)
                .collect();
            match (fixed.as_slice(), open.as_slice()) {
                ([one], _) => (*one).to_owned(),
                ([], [one]) => (*one).to_owned(),
                ([], _) => {
                    return Err(format!(
                        "--fault {text}: no service makes a call named {:?}; {}",
                        spec.call,
                        known_calls(world)
                    ));
                }
                (several, _) => {
                    return Err(format!(
                        "--fault {text}: {} all make a call named {:?}; prefix it with the \
                         service, e.g. {}.{rest}",
                        several.join(" and "),
                        spec.call,
                        several[0]
                    ));
                }
            }
        }
    };
    let Some((_, fake)) = services.iter().find(|(s, _)| *s == service) else {
        unreachable!("the service is one of the world's")
    };
    if !knows(*fake) {
        return Err(format!(
            "--fault {text}: {service} makes no call named {:?}; {}",
            spec.call,
            known_calls(world)
        ));
    }
    Ok(Addressed { service, spec })
}

/// Refuses a rehearsal in which an armed fault never fired (its call was
/// made fewer than `#N` times): a run that went clean proves nothing about
/// the fault asked for. Names each such fault and the calls the run made.
/// A refused connection is armed on a clean run's calls, so it always has
/// its place.
fn unfired(world: &World, addressed: &[Addressed]) -> Result<(), String> {
    let services = world.services();
    let made = |service: &str| -> Vec<String> {
        services
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, fake)| fake.call_sequence())
            .unwrap_or_default()
    };
    let missed: Vec<String> = addressed
        .iter()
        .filter(|a| a.spec.kind != FaultKind::Refused)
        .filter(|a| {
            made(&a.service)
                .iter()
                .filter(|c| **c == a.spec.call)
                .count()
                < a.spec.nth
        })
        .map(|a| format!("--fault {}.{}", a.service, a.spec))
        .collect();
    if missed.is_empty() {
        return Ok(());
    }
    let calls: Vec<String> = services
        .iter()
        .map(|(service, fake)| {
            let sequence = fake.call_sequence();
            if sequence.is_empty() {
                format!("{service}: none")
            } else {
                format!("{service}: {}", sequence.join(", "))
            }
        })
        .collect();
    Err(format!(
        "{} never fired: the run made the calls {} (a fault applies to the nth of a call the \
         binary makes)",
        missed.join(" and "),
        calls.join("; ")
    ))
}

/// `the calls are: aws GetUser, ...; vault get_secret, ...`
pub fn known_calls(world: &World) -> String {
    let lists: Vec<String> = world
        .services()
        .iter()
        .map(|(service, fake)| {
            let known = fake.known_calls();
            if known.is_empty() {
                format!("{service}: any METHOD /path (as the report's calls show them)")
            } else {
                format!("{service}: {}", known.join(", "))
            }
        })
        .collect();
    format!("the calls are {}", lists.join("; "))
}

impl Report {
    /// `harness run`'s exit code for this rehearsal: 1 when the end state
    /// disagrees with the binary's exit code (or a secret was printed); 3
    /// when it agrees but the binary did not succeed in a run without
    /// faults (a refusal, a failure: nothing to deploy yet); else 0. With
    /// `--fault`, a failing binary is the point, and agreement is success.
    pub fn harness_exit(&self) -> u8 {
        if !self.consistent() {
            1
        } else if self.faults.is_empty() && self.exit_code != Some(0) {
            3
        } else {
            0
        }
    }
}

/// Rehearses once: an optional plan (a dry run on a copy of the fakes),
/// then the run, with `options.faults` armed, and the report.
pub fn rehearse(
    program: &Program,
    rehearsal: &Rehearsal,
    options: &Options,
) -> Result<Report, String> {
    if program.script().is_some() && options.dry_run {
        return Err(program::NO_DRY_RUN.to_owned());
    }
    let timing = (!options.faults.is_empty()).then_some(Timing::FAULTS);
    // Faults are checked before anything runs, on fakes of their own.
    let addressed: Vec<Addressed> = if options.faults.is_empty() {
        Vec::new()
    } else {
        let probe = World::start(rehearsal)?;
        options
            .faults
            .iter()
            .map(|f| address(&probe, f))
            .collect::<Result<_, _>>()?
    };

    let mut plan_escaped = None;
    // A script has no dry run: no plan.
    let plan = if options.plan && !options.dry_run && program.script().is_none() {
        let world = World::start(rehearsal)?;
        let out = program::run(
            &world,
            program,
            &RunOptions {
                dry_run: true,
                timing,
                ..RunOptions::default()
            },
        )?;
        let secrets = world.secrets();
        plan_escaped = world
            .contained()
            .err()
            .map(|why| format!("in the plan (the dry run): {why}"));
        let leaked = out.find_leak(&secrets).is_some();
        Some(PlanRun {
            exit_code: out.code,
            exit_meaning: exit_meaning(out.code),
            summary: if leaked {
                "(withheld: a secret appeared in the dry run's output)".into()
            } else {
                esc(&mask(out.stdout.trim_end(), &secrets))
            },
            message: if leaked {
                Vec::new()
            } else {
                told(&out.stderr, &secrets)
            },
        })
    } else {
        None
    };

    let clean: Option<Clean> = if addressed.iter().any(|a| a.spec.kind == FaultKind::Refused) {
        Some(matrix::record_calls(program, rehearsal, Timing::FAULTS)?.0)
    } else {
        None
    };

    let world = World::start(rehearsal)?;
    let mut armed = Vec::new();
    for fault in &addressed {
        let services = world.services();
        let Some((_, fake)) = services.iter().find(|(s, _)| *s == fault.service) else {
            unreachable!("addressed against an identical world")
        };
        let sequence = clean
            .as_ref()
            .map(|c| c.sequence(&fault.service).to_vec())
            .unwrap_or_default();
        matrix::arm(
            *fake,
            &sequence,
            &fault.spec.call,
            fault.spec.nth,
            fault.spec.kind,
            Timing::FAULTS.hold,
        )
        .map_err(|e| {
            if fault.spec.kind == FaultKind::Refused {
                // The calls a script made are its text: scrubbed.
                program.mask(
                    &format!(
                        "--fault {}.{}: {e} (a run without faults makes the calls {})",
                        fault.service,
                        fault.spec,
                        sequence.join(", ")
                    ),
                    &world.secrets(),
                )
            } else {
                format!("--fault {}.{}: {e}", fault.service, fault.spec)
            }
        })?;
        armed.push(format!("{}.{}", fault.service, fault.spec));
    }
    let out = program::run(
        &world,
        program,
        &RunOptions {
            dry_run: options.dry_run,
            timing,
            json: options.json,
            ..RunOptions::default()
        },
    )?;
    matrix::settle(&world, Timing::FAULTS.hold);
    unfired(&world, &addressed).map_err(|e| program.mask(&e, &world.secrets()))?;
    let mut report = build(program, rehearsal, &world, &out, options, plan, armed);
    if let Some(why) = plan_escaped
        && report.verdict.consistent
    {
        report.verdict = Verdict {
            consistent: false,
            detail: esc(&mask(&why, &world.secrets())),
        };
    }
    Ok(report)
}

/// [`super::world::told`], escaped.
fn told(stderr: &str, secrets: &[String]) -> Vec<String> {
    super::world::told(stderr, secrets)
        .iter()
        .map(|l| esc(l))
        .collect()
}

/// `text` with its control characters escaped: one line, inert.
fn esc(text: &str) -> String {
    common::log::escape_controls(text)
}

/// `value` with every string in it escaped, as every string of a report is.
fn esc_value(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(esc(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(esc_value).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (esc(&k), esc_value(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `text`'s lines, each escaped: line breaks stay, nothing else acts.
fn esc_lines(text: &str) -> String {
    text.split('\n').map(esc).collect::<Vec<_>>().join("\n")
}

/// A role with every record value escaped.
fn esc_role(role: &super::input::Role) -> super::input::Role {
    super::input::Role {
        uid: esc(&role.uid),
        title: esc(&role.title),
        kind: esc(&role.kind),
        why: esc(&role.why),
    }
}

fn esc_roles(roles: &Roles) -> Roles {
    Roles {
        config: esc_role(&roles.config),
        resource: roles.resource.as_ref().map(esc_role),
        attached: roles.attached.iter().map(esc_role).collect(),
        user: esc_role(&roles.user),
        not_sent: roles.not_sent.iter().map(esc_role).collect(),
    }
}

fn build(
    program: &Program,
    rehearsal: &Rehearsal,
    world: &World,
    out: &Outcome,
    options: &Options,
    plan: Option<PlanRun>,
    faults: Vec<String>,
) -> Report {
    let secrets = world.secrets();
    // Everything a script controls (request paths, call names, bodies)
    // also passes the project's redactor: see `program`.
    let m = |text: &str| esc(&program.mask(text, &secrets));
    let ml = |text: &str| esc_lines(&program.mask(text, &secrets));
    let leak = out.find_leak(&secrets);
    let verdict = program.verdict(world, out, options.dry_run);
    let withheld = "(withheld: a secret appeared in it)".to_owned();
    let script = program.script();
    let (stdout, stderr) = if leak.is_some() {
        (withheld.clone(), withheld)
    } else {
        match script {
            None => (ml(&out.stdout), ml(&out.stderr)),
            Some(s) if s.show_output => (
                esc_lines(&program::scrub_lines(&out.stdout, &secrets)),
                esc_lines(&program::scrub_lines(&out.stderr, &secrets)),
            ),
            Some(_) => (
                format!(
                    "(withheld: {}; --show-script-output shows it, redacted)",
                    program::size(&out.stdout)
                ),
                format!(
                    "(withheld: {}; --show-script-output shows it, redacted)",
                    program::size(&out.stderr)
                ),
            ),
        }
    };
    let message = if leak.is_some() || script.is_some_and(|s| !s.show_output) {
        Vec::new()
    } else if script.is_some() {
        super::world::told(&out.stderr, &secrets)
            .iter()
            .map(|l| m(l))
            .collect()
    } else {
        told(&out.stderr, &secrets)
    };
    let (summary, summary_problem) = if !options.json || script.is_some() {
        (None, None)
    } else if leak.is_some() {
        (
            None,
            Some("withheld: a secret appeared in the output".to_owned()),
        )
    } else {
        match matrix::summary_agrees(out) {
            Ok(_) => match serde_json::from_str(&mask(out.stdout.trim_end(), &secrets)) {
                Ok(value) => (Some(esc_value(value)), None),
                Err(e) => (None, Some(format!("the masked line is no JSON: {e}"))),
            },
            Err(why) => (None, Some(m(&why))),
        }
    };

    let mut calls = Vec::new();
    let service = &world.service;
    calls.push(ServiceCalls {
        service: service.name().to_owned(),
        calls: service
            .calls()
            .into_iter()
            .enumerate()
            .map(|(i, c)| CallLine {
                index: i + 1,
                call: m(&c.call),
                nth: c.nth,
                status: c.status,
                fault: c.fault,
                detail: ml(&c.detail),
            })
            .collect(),
    });
    calls.push(ServiceCalls {
        service: "vault".into(),
        calls: world
            .vault
            .calls()
            .into_iter()
            .enumerate()
            .map(|(i, c)| CallLine {
                index: i + 1,
                call: m(&c.endpoint),
                nth: c.nth,
                status: c.status,
                fault: c.fault,
                detail: if c.records.is_empty() {
                    String::new()
                } else {
                    m(&format!("record {}", c.records.join(", ")))
                },
            })
            .collect(),
    });

    let records = record_changes(world, out, options.dry_run, &|text: &str| {
        program.mask(text, &secrets)
    });
    let mut seeded = vec![Seeded {
        service: service.name().to_owned(),
        lines: service.seeded().iter().map(|l| m(l)).collect(),
    }];
    seeded.push(Seeded {
        service: "vault".into(),
        lines: rehearsal
            .records
            .iter()
            .map(|r| m(&format!("'{}' ({}, uid {})", r.title, r.kind, r.uid)))
            .collect(),
    });
    let timing = if faults.is_empty() {
        String::new()
    } else {
        format!(
            "with faults, requests count as unanswered after {} s \
             (KEEPER_ROTATOR_REQUEST_TIMEOUT; 20 s on the Gateway) and held answers wait {} s",
            Timing::FAULTS.request_timeout.as_secs(),
            Timing::FAULTS.hold.as_secs()
        )
    };
    let mut notes: Vec<String> = world.notes.iter().map(|n| m(n)).collect();
    if let Some(script) = script {
        notes.push(
            "the harness does not sandbox the network: proxy variables send what honours them to \
             the script proxy, which refuses hosts off this machine but those the fakes answer \
             for, but a script that opens its own sockets to a real host is not stopped"
                .into(),
        );
        if script.show_output {
            notes.push(
                "the script's output is shown redacted line by line; a script can print a secret \
                 in a form no scanner knows (one character per line, xor, ...): read it as \
                 untrusted"
                    .into(),
            );
        }
        if out.timed_out {
            notes.push(format!(
                "the script was killed at the deadline, after {} s, with everything it started",
                out.elapsed.as_secs()
            ));
        }
    }
    let verdict = match (script, &leak, verdict) {
        (Some(_), Some(leak), verdict) => Err(format!(
            "printed a secret ({leak}){}",
            verdict
                .err()
                .map(|v| format!("; and {v}"))
                .unwrap_or_default()
        )),
        (Some(_), None, verdict) if out.timed_out => Err(format!(
            "killed at the deadline, after {} s{}",
            out.elapsed.as_secs(),
            verdict
                .err()
                .map(|v| format!("; and {v}"))
                .unwrap_or_default()
        )),
        (_, _, verdict) => verdict,
    };
    Report {
        use_case: rehearsal.use_case.name,
        binary: m(&program.shown()),
        description: m(&rehearsal.description),
        sources: rehearsal.sources.clone(),
        roles: esc_roles(&rehearsal.roles),
        notes,
        input: masked_input(world, &secrets),
        seeded,
        faults: faults.iter().map(|f| esc(f)).collect(),
        timing,
        plan,
        dry_run: options.dry_run,
        exit_code: out.code,
        exit_meaning: exit_meaning(out.code),
        stdout,
        summary,
        summary_problem,
        stderr,
        message,
        calls,
        records,
        end_state: service
            .end_state(&world.vault)
            .iter()
            .map(|l| m(l))
            .collect(),
        verdict: match verdict {
            Ok(()) => Verdict {
                consistent: true,
                detail: if options.dry_run {
                    "the dry run changed nothing".into()
                } else {
                    format!(
                        "exit {} tells the truth about this end state",
                        exit_text(out.code)
                    )
                },
            },
            Err(why) => Verdict {
                consistent: false,
                detail: m(&why),
            },
        },
        leak_scan: LeakScan {
            secrets: secrets.len(),
            found: leak.map(|l| esc(&l)),
        },
    }
}
