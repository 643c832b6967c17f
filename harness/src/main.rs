//! `harness`: encode scenarios and run the binaries end to end against the fakes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness::{Scenario, bench, demo};

#[derive(Debug, Parser)]
#[command(name = "harness", version = common::build_info::VERSION, about = "The keeper-rotators test harness.")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the Gateway's base64 stdin line for a scenario file.
    Encode {
        /// A scenario JSON file (see fixtures/scenarios/).
        file: PathBuf,
        /// Set ${NAME} in the scenario, as NAME=VALUE.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Build the Gateway's stdin line from your records (a Commander export),
    /// for a --dry-run of the binary on the Gateway host: pipe it into the
    /// binary, or write it with --out (mode 0600). It holds the records'
    /// secrets, as the Gateway's line does; its newPassword is made up.
    Line(LineArgs),
    /// Rehearse a rotation: your Keeper records as the vault, the Gateway's
    /// input built from them, the real binary (or any PAM script, with
    /// --script) against the fakes; print what happened. See
    /// docs/guides/rehearse.md and docs/guides/third-party-scripts.md.
    Run(RunArgs),
    /// Grade a program before it touches a production credential: the
    /// clean run and the whole failure matrix, then one table of the cells
    /// where the exit code lies about the end state (LIE), a credential was
    /// lost (LOST), a secret was printed (LEAK) or the run hung (KILLED).
    /// Exits 0 only when every cell is clean, 1 otherwise, 2 on bad usage.
    /// Grades the project's own binary by default, or any PAM script with
    /// --script. See docs/guides/third-party-scripts.md.
    Grade(GradeArgs),
    /// Rehearse the use case's own example records (fixtures/records/) and
    /// show what happened.
    Demo {
        #[arg(value_parser = use_case_names())]
        use_case: String,
        /// Directory holding the built binaries (default: next to this harness).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
    },
    /// The fake Keeper vault, and record reads and writes through common::vault.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// Measure a binary: start-up, end-to-end rotation time against the fakes,
    /// peak memory, size. Build with --release first for meaningful figures.
    Bench {
        #[arg(value_parser = use_case_names())]
        use_case: String,
        /// How many rotations (and as many start-ups) to time.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Directory holding the built binaries (default: next to this harness).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
        /// Print the figures as JSON, to compare them between commits.
        #[arg(long)]
        json: bool,
    },
    /// Print each crate's modules and the modules each uses, the cycles
    /// among them, and the source files longer than 800 lines (run from the
    /// workspace, or give its root).
    Layout {
        /// The workspace root (default: the current directory).
        #[arg(long, value_name = "DIR", default_value = ".")]
        root: PathBuf,
    },
    /// (Internal: the benchmark's measuring wrapper.) Runs PROGRAM, writes its
    /// wall time, CPU time and peak RSS to FILE, exits with its exit code.
    #[command(name = "__measure", hide = true)]
    Measure {
        #[arg(long, value_name = "FILE")]
        usage: PathBuf,
        program: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum VaultCommand {
    /// Serve a fake vault until killed. Writes DIR/gateway-config.json, DIR/ca.pem,
    /// DIR/env (export it to point any binary at the fake) and DIR/records.json
    /// (rewritten after every update); prints the port.
    Serve {
        /// Keeper record JSON, as `run` reads it: Commander's `export --format
        /// json` file, one record or several, or an array of records. Repeatable;
        /// all of them are the vault.
        #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
        records: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Read fields of a record with the KSM config named by KEEPER_GATEWAY_CONFIG
    /// (secrets are shown only as a fingerprint).
    Get {
        uid: String,
        #[arg(long = "field", value_name = "NAME")]
        fields: Vec<String>,
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Set custom fields of a record from stdin: [{"label", "value", "secret": bool}].
    Set {
        uid: String,
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

/// The records and their roles, as `run` and `line` take them.
#[derive(Debug, clap::Args)]
struct RecordArgs {
    /// The use case: which binary, and which fakes.
    #[arg(value_parser = use_case_names())]
    use_case: String,
    /// Keeper record JSON: Commander's `export --format json` file, one
    /// record or several (`get UID --format json`), an array of records, or
    /// a scenario (fixtures/scenarios/). Repeatable; all of them are the vault.
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    records: Vec<PathBuf>,
    /// The PAM User record to rotate (uid or exact title); default: the only
    /// pamUser record.
    #[arg(long, value_name = "UID")]
    user: Option<String>,
    /// The PAM configuration (providerRecordUid); default: the only
    /// pam*Configuration record, else one made up.
    #[arg(long, value_name = "UID")]
    config: Option<String>,
    /// The machine, database or directory record (resourceRecordUid);
    /// default: the only one, else none.
    #[arg(long, value_name = "UID")]
    resource: Option<String>,
    /// A record attached to the script as a rotation credential
    /// (repeatable); default: every record without another role.
    #[arg(long, value_name = "UID")]
    attach: Vec<String>,
}

impl RecordArgs {
    /// The records read and put in their roles.
    fn rehearsal(&self) -> Result<harness::rehearsal::Rehearsal, String> {
        let case = harness::rehearsal::use_case(&self.use_case)?;
        let flags = harness::rehearsal::RoleFlags {
            user: self.user.clone(),
            resource: self.resource.clone(),
            config: self.config.clone(),
            attach: self.attach.clone(),
        };
        harness::rehearsal::Rehearsal::from_files(case, &self.records, &flags)
    }
}

#[derive(Debug, clap::Args)]
struct LineArgs {
    #[command(flatten)]
    records: RecordArgs,
    /// Write the line to FILE (created, mode 0600; never overwritten)
    /// instead of stdout, which must then not be a terminal.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    records: RecordArgs,
    /// Fail one call: [SERVICE.]CALL[#N]=KIND, e.g. CreateAccessKey=drop-after-apply,
    /// vault.update_secret#2=late-save (repeatable). SERVICE is the use case's
    /// (aws, azure, okta, rest) or vault; it may be left out when only one
    /// service makes the call.
    #[arg(long = "fault", value_name = "SPEC", conflicts_with = "faults")]
    fault: Vec<String>,
    /// `all`: run the whole failure matrix (every call of a clean run, failing
    /// each way) and print one line per cell.
    #[arg(long, value_name = "all", value_parser = ["all"], conflicts_with = "dry_run")]
    faults: Option<String>,
    /// Pass --dry-run to the binary (refused with --script: a PAM script
    /// has no dry run).
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON; the binary prints its summary line as JSON
    /// too (KEEPER_ROTATOR_OUTPUT=json), shown parsed as the report's
    /// `summary`.
    #[arg(long)]
    json: bool,
    /// Skip the plan (the binary's --dry-run on a copy of the fakes first).
    #[arg(long)]
    no_plan: bool,
    /// How many matrix cells run at once (--faults all).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    jobs: u16,
    /// Directory holding the built binaries (default: next to this harness).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    #[command(flatten)]
    script: ScriptArgs,
}

/// A third-party PAM script instead of the project's binary.
#[derive(Debug, clap::Args)]
struct ScriptArgs {
    /// Run CMD (through /bin/sh -c) as the Gateway runs a PAM script: the
    /// one base64 line on stdin, nothing on the command line, a fresh
    /// private working directory, an environment built from nothing but
    /// PATH, the locale, HOME/TMPDIR and the variables that point the
    /// official SDKs at the fakes (see docs/guides/third-party-scripts.md).
    /// Everything it starts is killed when it ends. The network is NOT
    /// sandboxed: a script that opens its own sockets to a real host is
    /// not stopped.
    #[arg(long, value_name = "CMD")]
    script: Option<String>,
    /// Show the script's stdout and stderr, redacted line by line (a
    /// script can print a secret in a form no scanner knows); by default
    /// only their sizes are shown.
    #[arg(long, requires = "script")]
    show_script_output: bool,
    /// Kill the script, and everything it started, after SECONDS (default:
    /// the rehearsal's own deadline).
    #[arg(long, value_name = "SECONDS", requires = "script",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    deadline: Option<u64>,
}

impl ScriptArgs {
    /// The program to run: the script, or the use case's binary.
    fn program(
        &self,
        rehearsal: &harness::rehearsal::Rehearsal,
        bin_dir: Option<&std::path::Path>,
    ) -> Result<harness::rehearsal::Program, String> {
        use harness::rehearsal::{Program, Script, program};
        match &self.script {
            Some(command) => {
                program::check_use_case(rehearsal.use_case.name)?;
                if command.trim().is_empty() {
                    return Err("--script needs a command".into());
                }
                harness::reap::become_subreaper();
                Ok(Program::Script(Script {
                    command: command.clone(),
                    show_output: self.show_script_output,
                    deadline: self.deadline.map(std::time::Duration::from_secs),
                }))
            }
            None => demo::find_binary(rehearsal.use_case.binary, bin_dir).map(Program::Binary),
        }
    }
}

#[derive(Debug, clap::Args)]
struct GradeArgs {
    #[command(flatten)]
    records: RecordArgs,
    #[command(flatten)]
    script: ScriptArgs,
    /// Print the grade as JSON.
    #[arg(long)]
    json: bool,
    /// How many matrix cells run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    jobs: u16,
    /// Directory holding the built binaries (default: next to this harness).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

/// The use cases' names, from the rehearsal's table.
fn use_case_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(harness::rehearsal::USE_CASES.iter().map(|u| u.name))
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    // First, before any thread starts: a SIGTERM or Ctrl-C kills the
    // rotators this run started and removes the files it wrote.
    if let Err(message) = harness::teardown::install() {
        eprintln!("harness: {}", common::log::escape_controls(&message));
        return ExitCode::from(2);
    }
    let args = Args::parse();
    let result = match args.command {
        Command::Encode { file, vars } => encode(&file, &vars).map(|line| {
            println!("{line}");
            true
        }),
        Command::Run(args) => return run(args),
        Command::Grade(args) => return grade(&args),
        Command::Line(args) => return line(&args),
        Command::Demo { use_case, bin_dir } => harness::rehearsal::use_case(&use_case)
            .and_then(|case| demo::find_binary(case.binary, bin_dir.as_deref()))
            .and_then(|bin| demo::run(&use_case, &bin))
            .map(|report| {
                print!("{}", report.text);
                println!("== demo {}", if report.ok { "succeeded" } else { "FAILED" });
                report.ok
            }),
        Command::Vault { command } => return vault(command),
        Command::Layout { root } => {
            if root.join("Cargo.toml").is_file() && root.join("common/src").is_dir() {
                print!("{}", harness::layout::report(&root));
                Ok(true)
            } else {
                Err(format!(
                    "{} is not the keeper-rotators workspace (no Cargo.toml and common/src): run \
                     from the workspace or give --root",
                    root.display()
                ))
            }
        }
        Command::Bench {
            use_case,
            runs,
            bin_dir,
            json,
        } => harness::rehearsal::use_case(&use_case)
            .and_then(|case| demo::find_binary(case.binary, bin_dir.as_deref()))
            .and_then(|bin| {
                bench::scenarios(&use_case, &bin, runs).map(|all| {
                    all.iter()
                        .map(|(name, f)| match (json, name.as_str()) {
                            (true, name) => {
                                let mut value = f.json(&use_case, &bin);
                                value["scenario"] = name.into();
                                format!("{value}\n")
                            }
                            (false, "") => f.report(&bin),
                            (false, name) => format!("== {name}\n{}", f.report(&bin)),
                        })
                        .collect::<String>()
                })
            })
            .map(|report| {
                print!("{report}");
                true
            }),
        Command::Measure {
            usage,
            program,
            args,
        } => {
            return match bench::measure_child(&usage, &program, &args) {
                Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                Err(message) => {
                    eprintln!("harness: {}", common::log::escape_controls(&message));
                    ExitCode::from(125)
                }
            };
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("harness: {}", common::log::escape_controls(&message));
            ExitCode::from(2)
        }
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn vault(command: VaultCommand) -> ExitCode {
    use std::time::Duration;
    if let Err(error) = common::cli::init_process("harness") {
        eprintln!("harness: {error}");
        return ExitCode::from(error.exit().code());
    }
    let result = match command {
        VaultCommand::Serve { records, dir, port } => {
            return match harness::vault_cli::serve(&records, &dir, port) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("harness: {}", common::log::escape_controls(&message));
                    ExitCode::from(2)
                }
            };
        }
        VaultCommand::Get {
            uid,
            fields,
            timeout,
        } => harness::vault_cli::get(&uid, &fields, Duration::from_secs(timeout)),
        VaultCommand::Set { uid, timeout } => {
            harness::vault_cli::set(&uid, Duration::from_secs(timeout))
        }
    };
    match result {
        Ok(text) => {
            // `vault_cli` escaped every value it read from the record.
            print!("{}", common::secret::redact(&text));
            if !text.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("harness: {}", common::log::safe_line(&error.to_string()));
            ExitCode::from(error.exit().code())
        }
    }
}

/// `harness run`: exit 0 when the run's end state agrees with its exit
/// code and nothing leaked (whatever that exit code was), 1 when not, 2 when
/// the rehearsal could not be made.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn run(args: RunArgs) -> ExitCode {
    use harness::rehearsal::{self, Options};
    if args.script.script.is_some() && args.dry_run {
        eprintln!("harness: {}", harness::rehearsal::program::NO_DRY_RUN);
        return ExitCode::from(2);
    }
    let made = (|| {
        let rehearsal = args.records.rehearsal()?;
        let bin = args.script.program(&rehearsal, args.bin_dir.as_deref())?;
        Ok::<_, String>((bin, rehearsal))
    })();
    let (bin, rehearsal) = match made {
        Ok(made) => made,
        Err(message) => {
            eprintln!("harness: {}", common::log::escape_controls(&message));
            return ExitCode::from(2);
        }
    };
    if args.faults.is_some() {
        // The report, in order, on stdout; on a terminal, a count of the
        // cells done on stderr, rewritten in place (the cells' lines are
        // the report's: printed once).
        let counting = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let done = std::sync::atomic::AtomicUsize::new(0);
        let progress = |cell: &harness::rehearsal::matrix::CellOutcome| {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if counting {
                eprint!(
                    "\r   {n} cells done{}",
                    if cell.failure.is_some() {
                        " (a FAIL)"
                    } else {
                        ""
                    }
                );
            }
        };
        eprintln!(
            "== the failure matrix of {} on {}: a clean run first, then every call failing \
             each way, {} cells at a time",
            common::log::escape_controls(&bin.shown()),
            common::log::escape_controls(&rehearsal.description),
            args.jobs
        );
        let matrix =
            rehearsal::rehearse_matrix(&bin, &rehearsal, usize::from(args.jobs), &progress);
        if counting {
            eprintln!();
        }
        return report_and_exit(matrix, args.json, rehearsal::report::matrix_text, |r| {
            u8::from(!r.consistent())
        });
    }
    let options = Options {
        faults: args.fault.clone(),
        dry_run: args.dry_run,
        plan: !args.no_plan,
        json: args.json,
    };
    let run = rehearsal::rehearse(&bin, &rehearsal, &options);
    report_and_exit(run, args.json, |r| r.text(), |r| r.harness_exit())
}

/// Prints a rehearsal's report (JSON with `--json`, else text) and exits
/// with `code` of it; a rehearsal that could not run is exit 2.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn report_and_exit<R: serde::Serialize>(
    outcome: Result<R, String>,
    json: bool,
    text: impl Fn(&R) -> String,
    code: impl Fn(&R) -> u8,
) -> ExitCode {
    let report = match outcome {
        Ok(report) => report,
        Err(message) => {
            eprintln!("harness: {}", common::log::escape_controls(&message));
            return ExitCode::from(2);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", text(&report));
    }
    ExitCode::from(code(&report))
}

/// `harness line`: the Gateway's line for the records, on stdout (never a
/// terminal: it holds secrets) or in a new 0600 file.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn line(args: &LineArgs) -> ExitCode {
    let made = args.records.rehearsal().and_then(|rehearsal| {
        let mut params = rehearsal.params.clone();
        params.insert(common::gateway::DRY_RUN_ONLY.into(), true.into());
        let line = harness::rehearsal::world::gateway_line(&params, &rehearsal.dicts);
        match &args.out {
            Some(path) => write_new(path, &line).map(|()| (rehearsal, Some(path.clone()))),
            None if !stdout_is_a_pipe() => Err(
                "the line holds the records' secrets: pipe it into the binary \
                 (harness line ... | rotate-x --dry-run), never to a terminal or a file a \
                 shell creates with the default mode; or write it with --out FILE (mode 0600)"
                    .to_owned(),
            ),
            None => {
                println!("{line}");
                Ok((rehearsal, None))
            }
        }
    });
    match made {
        Ok((rehearsal, written)) => {
            let user = &rehearsal.roles.user;
            eprintln!(
                "harness: the Gateway's line for {} on PAM User '{}' (uid {}){}; its newPassword \
                 is made up: use it with --dry-run only",
                rehearsal.use_case.binary,
                common::log::escape_controls(&user.title),
                common::log::escape_controls(&user.uid),
                written
                    .map(|p| format!(
                        ", written to {} (mode 0600: it holds the records' secrets; delete it \
                         after the dry run)",
                        p.display()
                    ))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("harness: {}", common::log::escape_controls(&message));
            ExitCode::from(2)
        }
    }
}

/// Whether stdout is a pipe or a socket: not a terminal, and not a file a
/// shell's `>` made readable by others.
fn stdout_is_a_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/proc/self/fd/1")
        .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
        .unwrap_or(false)
}

/// Writes `text` to a new file at `path`, readable by its owner only from
/// its creation; an existing file is never overwritten.
fn write_new(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            format!(
                "cannot create {} (it is never overwritten): {e}",
                path.display()
            )
        })?;
    writeln!(file, "{text}")
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `harness grade`: 0 when every row is clean, 1 when not, 2 when the
/// grade could not be made.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn grade(args: &GradeArgs) -> ExitCode {
    use harness::rehearsal::grade;
    let made = args.records.rehearsal().and_then(|rehearsal| {
        let program = args.script.program(&rehearsal, args.bin_dir.as_deref())?;
        Ok::<_, String>((program, rehearsal))
    });
    let (program, rehearsal) = match made {
        Ok(made) => made,
        Err(message) => {
            eprintln!("harness: {}", common::log::escape_controls(&message));
            return ExitCode::from(2);
        }
    };
    if args.script.show_script_output {
        eprintln!(
            "harness: grade shows no program output, only its table: use harness run --script CMD \
             --show-script-output to read a script's output"
        );
        return ExitCode::from(2);
    }
    if let Err(message) = harness::rehearsal::program::check_use_case(rehearsal.use_case.name) {
        eprintln!(
            "harness: grade judges lost credentials for {} only: {}",
            harness::rehearsal::program::SCRIPT_USE_CASES.join(", "),
            common::log::escape_controls(&message)
        );
        return ExitCode::from(2);
    }
    eprintln!(
        "== grading {} on {}: the clean run, then every call failing each way, {} cells at a time",
        common::log::escape_controls(&program.shown()),
        common::log::escape_controls(&rehearsal.description),
        args.jobs
    );
    let result = grade::grade(&program, &rehearsal, usize::from(args.jobs), &|_| {});
    report_and_exit(result, args.json, grade::text, |g| u8::from(!g.passed()))
}

fn encode(file: &std::path::Path, vars: &[String]) -> Result<String, String> {
    let mut scenario = Scenario::from_file(file)?;
    for var in vars {
        let (name, value) = var
            .split_once('=')
            .ok_or_else(|| format!("--var {var}: expected NAME=VALUE"))?;
        scenario = scenario.var(name, value);
    }
    Ok(scenario.encode())
}
