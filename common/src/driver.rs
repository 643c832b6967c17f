//! The rotation driver: everything a binary does around its rotation, in one
//! place, so that every binary's `main` is one call.
//!
//! A binary describes itself and its rotation with [`Rotator`]: what it reads
//! and writes (for `--help`), how to *plan* (read the input, make read-only
//! calls, decide) and how to *apply* the plan. The driver owns the rest, and
//! with it the guarantees no binary should have to remember:
//!
//! - the command line (`--help`, `--version`, `--dry-run`, `--input`,
//!   `--timeout`, `--output`), logging, the deadline and the panic hook;
//! - the one summary line on stdout, prose or JSON ([`crate::summary`]), on
//!   every path that ends a run: a bad argument, bad input, a dry run, each
//!   exit code, a panic;
//! - `--dry-run`: only [`Rotator::plan`] runs, with the ledger in its planning
//!   phase, so a write reached by mistake fails before it is sent
//!   ([`crate::change`]);
//! - the gateway-host lock ([`crate::host_lock`]) of password rotators: one
//!   run per target account on this host, from before planning until the
//!   process ends;
//! - the rotation lease ([`crate::lease`]) of binaries that keep state in the
//!   vault: taken before planning (so the plan sees a settled record and no
//!   other run can act on it), released at the end;
//! - the exit-code discipline: once a change may have been sent and was not
//!   shown to be undone, no error is reported as 1 ("nothing changed") or 2
//!   ("nothing attempted"): it becomes 4, naming what was sent.

use std::cell::{RefCell, RefMut};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::change::{self, Phase};
use crate::cli;
use crate::deadline::{self, Deadline};
use crate::error::{Error, Exit, Result};
use crate::gateway::GatewayInput;
use crate::host_lock::{self, HostLock};
use crate::http;
use crate::lease::{HeldLease, Interrupted};
use crate::log;
use crate::secret;
use crate::summary::{self, OUTPUT_VAR, Output};
use crate::vault::{Vault, VaultRecord};

/// One binary's rotation.
pub trait Rotator {
    /// The program's name, as installed: `rotate-rest-api`.
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// The `--help` section listing every record field read and written.
    const FIELDS: &'static str;
    /// The overall deadline in seconds when neither `--timeout` nor
    /// `KEEPER_ROTATOR_TIMEOUT` sets one.
    const DEFAULT_TIMEOUT: u64 = deadline::DEFAULT_SECONDS;
    /// Whether two runs on one user record must never overlap: binaries that
    /// create credentials and store them in the vault. The driver then holds
    /// the record's rotation lease from before planning to the end.
    const LEASE: bool = false;

    /// Whether this run takes the lease: [`Rotator::LEASE`] unless the
    /// binary decides from the input (a run that will not write to the
    /// vault need not open it).
    fn wants_lease(_run: &Run) -> bool {
        Self::LEASE
    }

    /// What the Gateway's input alone shows to be wrong, checked before the
    /// vault is opened: a binary that reads its records from the vault (and
    /// takes the lease there) would otherwise answer a bad line with the
    /// vault's problem only, on a machine without the Gateway's config.
    fn check_input(_input: &GatewayInput) -> Result<()> {
        Ok(())
    }

    /// The account this run changes, for the gateway-host lock
    /// ([`crate::host_lock`]): password rotators, whose success the Gateway
    /// records by storing `newPassword`, return it so that two runs on one
    /// account never overlap on this host. `None`: no lock. Read from the
    /// input only; an error here is bad input (nothing was sent).
    fn host_lock(_run: &Run) -> Result<Option<host_lock::Target>> {
        Ok(None)
    }

    /// What [`Rotator::plan`] decided; it may borrow from the run's input.
    type Plan<'r>;

    /// Reads the input and makes read-only calls only; decides what to do.
    /// Errors here are never after a change: nothing has been sent.
    fn plan(run: &Run) -> Result<Self::Plan<'_>>;

    /// What a dry run prints: the plan in words, without "dry run:" and
    /// without the closing "Nothing was changed."
    fn describe(plan: &Self::Plan<'_>, run: &Run) -> String;

    /// What a dry run that planned `plan` checked, and what only the change
    /// can show ([`crate::dry_run`]): the summary line of a dry run says
    /// both. No default: each binary says what its own dry run proves.
    fn checked(plan: &Self::Plan<'_>, run: &Run) -> crate::dry_run::Checked;

    /// Carries out the plan. Returns the summary line of a successful run.
    fn apply(plan: Self::Plan<'_>, run: &Run) -> Result<String>;
}

/// The flags every binary takes. No secret is ever taken from argv.
///
/// Five flags do not need a command-line framework: this parser is a few
/// dozen lines, and leaving clap out of the shipped binaries keeps each of
/// them about 0.3 MiB smaller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// `--input FILE`: the Gateway's base64 line from FILE instead of stdin.
    pub input: Option<PathBuf>,
    /// `--dry-run`: plan only.
    pub dry_run: bool,
    /// `--timeout SECONDS` or `KEEPER_ROTATOR_TIMEOUT`.
    pub timeout: Option<u64>,
    /// `--output text|json` ([`output_mode`] adds `KEEPER_ROTATOR_OUTPUT`).
    pub output: Option<Output>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Args),
    Help,
    Version,
}

/// The variable that sets the deadline when `--timeout` does not.
pub const TIMEOUT_VAR: &str = "KEEPER_ROTATOR_TIMEOUT";

fn seconds(text: &str, from: &str) -> std::result::Result<u64, String> {
    let given = match text.trim().parse::<u64>() {
        Ok(n) if (1..=3600).contains(&n) => return Ok(n),
        Ok(0) => "0 would leave no time for anything".to_owned(),
        Ok(_) => "the value given is more than 3600".to_owned(),
        // Text is not echoed: a secret pasted in the wrong place must not
        // reach the log.
        Err(_) => match text.chars().count() {
            0 => "the value given is empty".to_owned(),
            1 => "the value given, of 1 character (not shown), is no number".to_owned(),
            n => format!("the value given, of {n} characters (not shown), is no number"),
        },
    };
    Err(format!(
        "{from} must be a whole number of seconds from 1 to 3600: {given}"
    ))
}

impl Args {
    /// Parses the arguments after the program name; `env_timeout` is
    /// [`TIMEOUT_VAR`]'s value. `--flag=value` and `--flag value` both work.
    pub fn parse(
        args: impl IntoIterator<Item = std::ffi::OsString>,
        env_timeout: Option<String>,
    ) -> std::result::Result<Command, String> {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg
                .into_string()
                .map_err(|_| "an argument is not valid text".to_owned())?;
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> std::result::Result<String, String> {
                match inline {
                    Some(v) => Ok(v.to_owned()),
                    None => args
                        .next()
                        .and_then(|v| v.into_string().ok())
                        .ok_or_else(|| format!("{name} needs a value")),
                }
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(Command::Help),
                "-V" | "--version" => return Ok(Command::Version),
                "--dry-run" if inline.is_none() => parsed.dry_run = true,
                "--input" => parsed.input = Some(PathBuf::from(value("--input")?)),
                "--timeout" => parsed.timeout = Some(seconds(&value("--timeout")?, "--timeout")?),
                "--output" => parsed.output = Some(Output::parse(&value("--output")?, "--output")?),
                _ => {
                    // Never echo an argument that could be a secret pasted by
                    // mistake: only the name of something shaped like a
                    // flag (`--name`, `-x`), and of a plain word only its
                    // length.
                    // A flag's name: `--` and lower-case words joined by
                    // `-` (`--bogus`), or `-` and one letter. A generated
                    // password has capitals or digits: never this shape.
                    let name = flag.strip_prefix("--").unwrap_or_default();
                    let is_flag = (flag.len() <= 32
                        && name.starts_with(|c: char| c.is_ascii_lowercase())
                        && name.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                        || (flag.len() == 2
                            && flag.starts_with('-')
                            && flag[1..].chars().all(|c| c.is_ascii_alphabetic()));
                    return Err(if is_flag {
                        format!("unexpected argument '{flag}' (see --help)")
                    } else {
                        format!(
                            "unexpected argument of {} characters (not shown; see --help)",
                            arg.chars().count()
                        )
                    });
                }
            }
        }
        if parsed.timeout.is_none()
            && let Some(text) = env_timeout.filter(|t| !t.trim().is_empty())
        {
            parsed.timeout = Some(seconds(&text, TIMEOUT_VAR)?);
        }
        Ok(Command::Run(parsed))
    }
}

/// How the summary line is written, read before anything else so that
/// even a refused command line gets the line asked for: `--output`'s value
/// when it is valid, else [`OUTPUT_VAR`]'s when it is valid, else prose.
/// The problem, when the one that applies is not `text` or `json` (or,
/// for the variable, empty): [`Args::parse`] reports a bad flag value; a
/// bad variable, whether an unknown word or not valid text, is reported
/// here, unless a flag overrides it.
pub fn output_mode(
    args: &[std::ffi::OsString],
    env_output: Option<std::ffi::OsString>,
) -> (Output, Option<String>) {
    let mut flag = None;
    let mut args = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        match arg.split_once('=') {
            Some(("--output", value)) => flag = Some(value.to_owned()),
            _ if arg == "--output" => flag = args.next().map(str::to_owned),
            // A flag's separate value is not a flag of its own.
            _ if arg == "--input" || arg == "--timeout" => {
                args.next();
            }
            _ => {}
        }
    }
    let env = env_output.and_then(|v| match v.into_string() {
        Ok(v) if v.trim().is_empty() => None,
        Ok(v) => Some(Output::parse(&v, OUTPUT_VAR)),
        Err(_) => Some(Err(format!(
            "{OUTPUT_VAR} must be text or json (the summary line on stdout as prose or as one \
             JSON object); a value that is not valid text was given"
        ))),
    });
    match flag.map(|v| Output::parse(&v, "--output")) {
        Some(Ok(output)) => (output, None),
        Some(Err(_)) => (env.and_then(Result::ok).unwrap_or_default(), None),
        None => match env {
            Some(Ok(output)) => (output, None),
            Some(Err(problem)) => (Output::Text, Some(problem)),
            None => (Output::Text, None),
        },
    }
}

/// Whether the command line asks for a dry run, read the way
/// [`Args::parse`] reads it (a flag's separate value is not a flag), for
/// the summary line of a command line it refuses.
fn dry_run_asked(args: &[std::ffi::OsString]) -> bool {
    let mut args = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        match arg {
            "--dry-run" => return true,
            "--input" | "--timeout" | "--output" => {
                args.next();
            }
            _ => {}
        }
    }
    false
}

fn help<R: Rotator>() -> String {
    format!(
        "{about}

Usage: {name} [OPTIONS]

Options:
      --input <FILE>       Read the Gateway's base64 line from FILE instead of stdin (for manual
                           runs)
      --dry-run            Check the input, make read-only calls only, print the plan; change
                           nothing
      --timeout <SECONDS>  Overall deadline for the run, in seconds (default {timeout}) [env:
                           {TIMEOUT_VAR}]
      --output <FORMAT>    The summary line on stdout: text (default) or json, one JSON object
                           [env: {OUTPUT_VAR}]
  -h, --help               Print help
  -V, --version            Print version

{fields}

{ENV_HELP}

{exits}
",
        about = R::ABOUT,
        name = R::NAME,
        timeout = R::DEFAULT_TIMEOUT,
        fields = R::FIELDS,
        exits = crate::error::Exit::help_table(),
    )
}

/// The environment variables every binary documents in `--help` (the exit
/// codes follow, from [`crate::error::Exit::help_table`]).
pub const ENV_HELP: &str = "\
Environment:
  KEEPER_ROTATOR_LOG              log level on stderr: error, warn, info (default), debug, trace, off
  KEEPER_ROTATOR_TIMEOUT          overall deadline in seconds (same as --timeout)
  KEEPER_ROTATOR_OUTPUT           text (default) or json: the summary line as one JSON object
                                  (same as --output; schema keeper-rotators/summary/v1)
  KEEPER_ROTATOR_REQUEST_TIMEOUT  seconds one request may take before it counts as unanswered
                                  (default 20)
  KEEPER_GATEWAY_CONFIG           the Gateway's KSM config (binaries that use the vault)
  KEEPER_ROTATOR_LOCK_DIR         directory of the per-account rotation locks (password
                                  rotators; default /run/keeper-rotators for root, else
                                  $XDG_RUNTIME_DIR/keeper-rotators or /tmp/keeper-rotators-<uid>)
  HTTPS_PROXY, NO_PROXY           proxy for outgoing HTTPS
  SSL_CERT_FILE                   CA bundle to trust instead of the system's";

/// What a rotation works with. Shared by reference between the plan and
/// apply steps; the vault is behind a `RefCell` because both use it.
#[derive(Debug)]
pub struct Run {
    pub input: GatewayInput,
    pub dry_run: bool,
    pub deadline: Deadline,
    vault: RefCell<Option<Vault>>,
    /// The rotation lease this run holds ([`crate::lease`]).
    lease: RefCell<Option<HeldLease>>,
    /// [`Rotator::wants_lease`]'s answer for this run, asked once.
    wants_lease: std::cell::Cell<bool>,
    /// The user record as read when the lease was taken.
    user_record: RefCell<Option<VaultRecord>>,
    /// The rotation an earlier run recorded in the lease and did not
    /// complete, found when the lease was taken.
    interrupted: RefCell<Option<Interrupted>>,
}

impl Run {
    pub fn new(input: GatewayInput, dry_run: bool, deadline: Deadline) -> Self {
        Self {
            input,
            dry_run,
            deadline,
            vault: RefCell::new(None),
            lease: RefCell::new(None),
            wants_lease: std::cell::Cell::new(false),
            user_record: RefCell::new(None),
            interrupted: RefCell::new(None),
        }
    }

    /// The rotation an earlier run on the user record left unfinished, as
    /// its lease recorded it ([`crate::lease`]): what it stored and what it
    /// still meant to retire.
    pub fn interrupted(&self) -> Option<Interrupted> {
        self.interrupted.borrow().clone()
    }

    /// An HTTP client with the default policy, bound to the run's deadline.
    pub fn http(&self) -> Result<http::Client> {
        http::Client::new(http::Policy::default(), self.deadline)
    }

    /// An HTTP client bound to the run's deadline less `kept`: for a step
    /// that must leave `kept` to the step after it (a password change
    /// leaves [`Deadline::proof_reserve`] to the sign-in that proves it).
    pub fn http_keeping(&self, kept: Duration) -> Result<http::Client> {
        http::Client::new(http::Policy::default(), self.deadline.keeping(kept))
    }

    /// The vault, opened with the Gateway's KSM config on first use.
    pub fn vault(&self) -> Result<RefMut<'_, Vault>> {
        let mut slot = self.vault.borrow_mut();
        if slot.is_none() {
            *slot = Some(Vault::open_default(self.deadline)?);
        }
        Ok(RefMut::map(slot, |v| {
            v.as_mut().unwrap_or_else(|| unreachable!())
        }))
    }

    /// Whether this run takes the record's lease (in a dry run: would
    /// take it): [`Rotator::wants_lease`]'s answer, which the driver asks
    /// once, before planning, so that planning need not decide again.
    pub fn wants_lease(&self) -> bool {
        self.wants_lease.get()
    }

    /// The rotation lease this run holds, to note progress in it.
    pub(crate) fn lease(&self) -> RefMut<'_, Option<HeldLease>> {
        self.lease.borrow_mut()
    }

    /// The PAM User record (`userRecordUid`) from the vault: the copy read
    /// when the lease was taken, else read now.
    pub fn user_record(&self) -> Result<VaultRecord> {
        if let Some(record) = self.user_record.borrow_mut().take() {
            return Ok(record);
        }
        let uid = self.input.require_user_record_uid()?.to_owned();
        self.vault()?.fetch(&uid)
    }

    /// Keeps `progress` in the rotation lease, so that when the lease is
    /// released it records what is left for the next run (a binary whose
    /// last save failed after its work was done: its notes would otherwise
    /// be lost with the lease).
    pub fn keep_progress(&self, progress: crate::lease::Progress) {
        if let Ok(uid) = self.input.require_user_record_uid() {
            crate::lease::set_progress(&mut self.lease.borrow_mut(), uid, Some(progress));
        }
    }

    /// The last write of a finished rotation: `changes` to the user record,
    /// with the lease cleared in the same save.
    pub fn finish(&self, changes: &[crate::vault::Change]) -> Result<()> {
        let uid = self.input.require_user_record_uid()?.to_owned();
        crate::lease::finish(
            &mut *self.vault()?,
            &mut self.lease.borrow_mut(),
            &uid,
            changes,
        )
    }

    fn take_lease(&self) -> Result<()> {
        let uid = self.input.require_user_record_uid()?.to_owned();
        let ttl = self.deadline.remaining() + Duration::from_secs(60);
        let (record, interrupted) =
            crate::lease::acquire(&mut *self.vault()?, &mut self.lease.borrow_mut(), &uid, ttl)?;
        *self.user_record.borrow_mut() = Some(record);
        *self.interrupted.borrow_mut() = interrupted;
        Ok(())
    }

    /// For a dry run: what a run taking the lease now would find left
    /// unfinished, read without taking it. A failed read is left to the
    /// plan's own read to report.
    fn peek_unfinished(&self) {
        let Ok(uid) = self.input.require_user_record_uid() else {
            return;
        };
        let uid = uid.to_owned();
        let Ok(record) = self.vault().and_then(|mut vault| {
            vault.read_clock();
            vault.fetch(&uid)
        }) else {
            return;
        };
        let now = self
            .vault()
            .map_or_else(|_| std::time::SystemTime::now(), |mut v| v.now());
        *self.interrupted.borrow_mut() = crate::lease::left_unfinished(&record, now);
        *self.user_record.borrow_mut() = Some(record);
    }

    fn release_lease(&self) {
        let mut slot = self.vault.borrow_mut();
        let Some(vault) = slot.as_mut() else {
            return;
        };
        if let Err(e) = crate::lease::release(vault, &mut self.lease.borrow_mut()) {
            tracing::warn!(
                "the rotation lease could not be cleared ({e}); it expires by itself, or clear \
                 the user record's {} field",
                crate::lease::FIELD
            );
        }
    }
}

/// Runs a binary: parses its command line, reads the Gateway's input, plans,
/// applies (or prints the plan for a dry run), prints the summary line and
/// returns the exit code.
pub fn main<R: Rotator>() -> ExitCode {
    summary::start();
    cli::install_panic_hook(R::NAME);
    let args = parse::<R>();
    summary::set_dry_run(args.dry_run);
    // The gateway-host lock, when taken, is held until the process ends,
    // after the summary line: no other run on the account starts before
    // this one's exit code is final.
    let mut held = None;
    let exit = match execute::<R>(&args, &mut held) {
        Ok(line) => {
            summary::print(R::NAME, Exit::Rotated, &line, None);
            Exit::Rotated
        }
        Err(error) => {
            let exit = error.exit();
            let message = error.to_string();
            log::error_line(&format!("{}: error: {message}", R::NAME));
            summary::print_exit(R::NAME, exit, &message);
            exit
        }
    };
    secret::forget_all();
    drop(held);
    exit.into()
}

/// The command line, or the process ends here: help and version print
/// their text and exit 0, in either output (they answer a person, and are
/// no run); a bad argument prints its one error line on stderr and the
/// summary line on stdout, as every other refusal does, and exits 2.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn parse<R: Rotator>() -> Args {
    let env_timeout = std::env::var(TIMEOUT_VAR).ok();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let (output, problem) = output_mode(&argv, std::env::var_os(OUTPUT_VAR));
    summary::set_output(output);
    // The line says what was asked even when the command line is refused.
    summary::set_dry_run(dry_run_asked(&argv));
    let parsed = Args::parse(argv, env_timeout).and_then(|command| match (command, problem) {
        (Command::Run(_), Some(problem)) => Err(problem),
        (command, _) => Ok(command),
    });
    match parsed {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            print!("{}", help::<R>());
            std::process::exit(0);
        }
        Ok(Command::Version) => {
            println!("{} {}", R::NAME, crate::VERSION);
            std::process::exit(0);
        }
        Err(problem) => {
            let exit = Exit::BadInput;
            log::error_line(&format!("{}: error: {problem}", R::NAME));
            summary::print_exit(R::NAME, exit, &problem);
            std::process::exit(i32::from(exit.code()));
        }
    }
}

fn execute<R: Rotator>(args: &Args, held: &mut Option<HostLock>) -> Result<String> {
    cli::init_logging()?;
    http::register_proxy_credentials();
    let deadline = Deadline::after(Duration::from_secs(
        args.timeout.unwrap_or(R::DEFAULT_TIMEOUT),
    ));
    deadline::request_timeout()?;
    let input = GatewayInput::read_within(args.input.as_deref(), &deadline)?;
    summary::set_record_uid(input.user_record_uid.as_deref());
    #[cfg(debug_assertions)]
    cli::debug_panic(&input);
    if input.dry_run_only && !args.dry_run {
        return Err(Error::Config(
            "this line was built by 'harness line' for a dry run: its newPassword is made up \
             and no record would hold it. Run with --dry-run; the Gateway sends the line of a \
             real rotation itself"
                .into(),
        ));
    }
    if let Err(error) = R::check_input(&input) {
        // Both problems, when the vault's config is missing too: the
        // administrator fixes them in one go.
        return Err(match crate::vault::VaultConfig::load_default() {
            Ok(_) => error,
            Err(vault) => Error::Config(format!("{error}. Also: {vault}")),
        });
    }
    let run = Run::new(input, args.dry_run, deadline);

    let lease = R::wants_lease(&run);
    run.wants_lease.set(lease);
    if run.dry_run {
        change::set_phase(Phase::Planning);
        if lease {
            run.peek_unfinished();
        }
        let plan = R::plan(&run)?;
        return Ok(format!(
            "dry run: {} {} Nothing was changed.",
            R::describe(&plan, &run),
            R::checked(&plan, &run).render()
        ));
    }

    if let Some(target) = R::host_lock(&run)? {
        *held = Some(HostLock::acquire(&target)?);
    }
    if lease {
        run.take_lease()?;
    }
    change::set_phase(Phase::Planning);
    let planned = R::plan(&run);
    change::set_phase(Phase::Applying);
    let result = planned.and_then(|plan| R::apply(plan, &run));
    if lease {
        run.release_lease();
    }
    result.map_err(discipline)
}

/// An error after a change that may have taken effect is never "nothing
/// changed" or "nothing attempted".
fn discipline(error: Error) -> Error {
    if !matches!(error.exit(), Exit::Failed | Exit::BadInput) {
        return error;
    }
    let outstanding = change::outstanding();
    if outstanding.is_empty() {
        return error;
    }
    Error::NeedsAttention(format!(
        "{error}. But a change had already been sent and may have taken effect ({}): check \
         the account and the record before rotating again",
        outstanding.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> std::result::Result<Command, String> {
        Args::parse(args.iter().map(|a| (*a).into()), env.map(str::to_owned))
    }

    #[test]
    fn the_command_line_reads_every_flag_in_both_forms() {
        assert_eq!(parse(&[], None), Ok(Command::Run(Args::default())));
        assert_eq!(
            parse(&["--dry-run", "--input", "line.b64", "--timeout=90"], None),
            Ok(Command::Run(Args {
                input: Some("line.b64".into()),
                dry_run: true,
                timeout: Some(90),
                output: None,
            }))
        );
        assert_eq!(parse(&["--input=x", "-h"], None), Ok(Command::Help));
        assert_eq!(parse(&["-V"], None), Ok(Command::Version));
    }

    #[test]
    fn the_timeout_comes_from_the_flag_then_the_environment_and_is_bounded() {
        let timeout = |c: Command| match c {
            Command::Run(a) => a.timeout,
            _ => None,
        };
        assert_eq!(timeout(parse(&[], Some("120")).unwrap()), Some(120));
        assert_eq!(
            timeout(parse(&["--timeout", "5"], Some("120")).unwrap()),
            Some(5)
        );
        for (bad, says) in [
            ("0", "0 would leave no time"),
            ("3601", "more than 3600"),
            ("t", "of 1 character (not shown), is no number"),
            ("-1", "of 2 characters (not shown), is no number"),
            ("", "empty"),
        ] {
            let error = parse(&["--timeout", bad], None).unwrap_err();
            assert!(error.contains("from 1 to 3600: "), "{error}");
            assert!(error.contains(says), "{bad:?}: {error}");
        }
        assert!(parse(&[], Some("x")).unwrap_err().contains(TIMEOUT_VAR));
    }

    #[test]
    fn the_output_comes_from_a_valid_flag_then_a_valid_variable_then_is_prose() {
        let mode = |args: &[&str], env: Option<&str>| {
            let args: Vec<std::ffi::OsString> = args.iter().map(|a| (*a).into()).collect();
            output_mode(&args, env.map(std::ffi::OsString::from))
        };
        assert_eq!(mode(&[], None), (Output::Text, None));
        assert_eq!(mode(&[], Some("json")), (Output::Json, None));
        assert_eq!(mode(&["--output=text"], Some("json")), (Output::Text, None));
        assert_eq!(
            mode(&["--bogus", "--output", "json"], None),
            (Output::Json, None)
        );
        // A bad flag is Args::parse's to report; the variable still applies.
        assert_eq!(
            mode(&["--output", "yaml"], Some("json")),
            (Output::Json, None)
        );
        // --input's value is no flag.
        assert_eq!(mode(&["--input", "--output"], None), (Output::Text, None));
        let (output, problem) = mode(&[], Some("yaml"));
        assert_eq!(output, Output::Text);
        assert!(problem.unwrap().contains(OUTPUT_VAR));
        assert!(
            parse(&["--output", "yaml"], None)
                .unwrap_err()
                .contains("--output")
        );
        assert_eq!(
            parse(&["--output", "json"], None),
            Ok(Command::Run(Args {
                output: Some(Output::Json),
                ..Args::default()
            }))
        );
    }

    #[test]
    fn an_output_variable_that_is_not_valid_text_is_a_problem_like_an_unknown_word() {
        use std::os::unix::ffi::OsStringExt;
        let bad = std::ffi::OsString::from_vec(b"js\xffon".to_vec());
        let (output, problem) = output_mode(&[], Some(bad.clone()));
        assert_eq!(output, Output::Text);
        let problem = problem.unwrap();
        assert!(problem.starts_with(OUTPUT_VAR), "{problem}");
        assert!(problem.contains("not valid text"), "{problem}");
        // A valid flag overrides it, as it does an unknown word.
        let args = ["--output".into(), "json".into()];
        assert_eq!(output_mode(&args, Some(bad)), (Output::Json, None));
        assert_eq!(output_mode(&[], Some(" ".into())), (Output::Text, None));
    }

    #[test]
    fn a_dry_run_is_asked_by_the_flag_not_by_a_flags_value() {
        let asked = |args: &[&str]| {
            let args: Vec<std::ffi::OsString> = args.iter().map(|a| (*a).into()).collect();
            dry_run_asked(&args)
        };
        assert!(asked(&["--bogus", "--dry-run"]));
        assert!(asked(&["--dry-run", "--timeout", "x"]));
        assert!(!asked(&["--input", "--dry-run"]));
        assert!(!asked(&["--dry-run=yes"]));
        assert!(!asked(&[]));
    }

    #[test]
    fn an_unknown_or_incomplete_argument_is_an_error_that_never_echoes_it_whole() {
        let error = parse(&["--password=hunter2-very-long-secret-value"], None).unwrap_err();
        assert!(!error.contains("secret-value"), "{error}");
        assert!(
            parse(&["--input"], None)
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(parse(&["--dry-run=yes"], None).is_err());
        assert!(parse(&["stray"], None).is_err());
        // A secret pasted as a bare word or a one-dash flag: not a byte of it.
        for pasted in ["hunter2-pasted-secret", "-p=hunter2-pasted-secret"] {
            let error = parse(&[pasted], None).unwrap_err();
            assert!(!error.contains("hunter2"), "{error}");
        }
        let error = parse(&["--timeout", "hunter2-secret"], None).unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        let error = parse(&["--verbose"], None).unwrap_err();
        assert!(error.contains("'--verbose'"), "{error}");
        // A generated password shaped like a flag is not echoed.
        for pasted in ["-Xk9fLmQ2", "--Xk9f-LmQ2"] {
            let error = parse(&[pasted], None).unwrap_err();
            assert!(!error.contains("Xk9f"), "{error}");
        }
    }

    #[test]
    fn an_error_after_an_outstanding_change_becomes_exit_4_naming_it() {
        let _g = change::TEST_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change::reset_for_test();
        let before = discipline(Error::Failed("listing failed".into()));
        assert_eq!(before.exit(), Exit::Failed);

        change::sent("POST https://h/change").unwrap().keep();
        let after = discipline(Error::Failed("listing failed".into()));
        assert_eq!(after.exit(), Exit::NeedsAttention);
        let text = after.to_string();
        assert!(text.contains("listing failed"), "{text}");
        assert!(text.contains("POST https://h/change"), "{text}");

        let three = discipline(Error::OldNotRetired("old key kept".into()));
        assert_eq!(three.exit(), Exit::OldNotRetired);
        change::reset_for_test();
    }
}
