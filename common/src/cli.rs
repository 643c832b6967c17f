//! What every binary does around its rotation: the common flags, the panic
//! hook, logging, reading the Gateway's input, and turning the result into one
//! summary line and an exit code.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{ArgMatches, Parser};

use crate::deadline::{self, Deadline};
use crate::error::{Error, Exit, Result};
use crate::gateway::GatewayInput;
use crate::http;
use crate::log;
use crate::secret;

/// The flags every binary takes. No secret is ever taken from argv.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Read the Gateway's base64 line from FILE instead of stdin (for manual runs).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Check the input, make read-only calls only, print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Overall deadline for the run, in seconds (default: 30; 180 for binaries
    /// that wait for a new credential to propagate).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "KEEPER_ROTATOR_TIMEOUT",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub timeout: Option<u64>,
}

/// A binary's command line: its own flags plus [`CommonArgs`].
pub trait Cli: Parser {
    /// The `--help` section listing the record fields the binary reads and
    /// writes.
    const FIELDS: &'static str;

    /// The overall deadline when neither `--timeout` nor
    /// `KEEPER_ROTATOR_TIMEOUT` sets one.
    const DEFAULT_TIMEOUT: u64 = deadline::DEFAULT_SECONDS;

    fn common(&self) -> &CommonArgs;
}

/// What a rotation works with.
#[derive(Debug)]
pub struct Context {
    pub input: GatewayInput,
    pub dry_run: bool,
    pub deadline: Deadline,
}

impl Context {
    /// An HTTP client with the default policy, bound to the run's deadline.
    pub fn http(&self) -> Result<http::Client> {
        http::Client::new(http::Policy::default(), self.deadline)
    }
}

/// The environment variables every binary honours, for `--help`.
pub const ENV_HELP: &str = "\
Environment:
  KEEPER_ROTATOR_LOG      log level on stderr: error, warn, info (default), debug, trace, off
  KEEPER_ROTATOR_TIMEOUT  overall deadline in seconds (same as --timeout)
  HTTPS_PROXY, NO_PROXY   proxy for outgoing HTTPS
  SSL_CERT_FILE           CA bundle to trust instead of the system's

Exit codes:
  0 rotated    1 failed, nothing changed    2 bad input or configuration, nothing attempted
  3 rotated and stored, but an old credential is still valid
  4 uncertain state: the message says what to check";

static CHANGE_STARTED: AtomicBool = AtomicBool::new(false);

/// Records that a request that may change the account is about to be sent.
/// From then on an unexpected failure (a panic) exits 4, not 1.
pub fn mark_change_started() {
    CHANGE_STARTED.store(true, Ordering::SeqCst);
}

pub fn change_started() -> bool {
    CHANGE_STARTED.load(Ordering::SeqCst)
}

/// Runs a binary: parses its command line, reads the Gateway's input, calls
/// `rotate`, prints the summary line and returns the exit code. `rotate`
/// returns the summary of a successful run.
pub fn run<C: Cli>(rotate: impl FnOnce(&C, Context) -> Result<String>) -> ExitCode {
    let name = C::command().get_name().to_owned();
    install_panic_hook(name.clone());
    let cli = parse::<C>();
    let exit = match prepare(&cli).and_then(|context| rotate(&cli, context)) {
        Ok(summary) => {
            log::summary(&summary);
            Exit::Rotated
        }
        Err(error) => {
            let exit = error.exit();
            log::error_line(&format!("{name}: error: {error}"));
            log::summary(&format!(
                "{name}: exit {} ({})",
                exit.code(),
                exit.meaning()
            ));
            exit
        }
    };
    secret::forget_all();
    exit.into()
}

fn parse<C: Cli>() -> C {
    let command = C::command().after_help(format!("{}\n\n{ENV_HELP}", C::FIELDS));
    let matches: ArgMatches = command.get_matches();
    C::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// For programs other than the rotators (the harness's vault commands):
/// the same panic hook and logging.
pub fn init_process(name: &str) -> Result<()> {
    install_panic_hook(name.to_owned());
    init_logging()
}

fn init_logging() -> Result<()> {
    let level = log::level_from_env();
    log::init(
        *level
            .as_ref()
            .unwrap_or(&tracing_subscriber::filter::LevelFilter::INFO),
    );
    level.map(|_| ())
}

fn prepare<C: Cli>(cli: &C) -> Result<Context> {
    init_logging()?;
    let common = cli.common();
    let deadline = Deadline::after(Duration::from_secs(
        common.timeout.unwrap_or(C::DEFAULT_TIMEOUT),
    ));
    let input = GatewayInput::read(common.input.as_deref())?;
    #[cfg(debug_assertions)]
    debug_panic(&input);
    Ok(Context {
        input,
        dry_run: common.dry_run,
        deadline,
    })
}

/// Debug builds only: `KEEPER_ROTATOR_DEBUG_PANIC=before|after-change` makes
/// the run panic (with the new password in the panic message) so the tests
/// can prove what a panic prints and which exit code it gives.
#[cfg(debug_assertions)]
fn debug_panic(input: &GatewayInput) {
    let Some(when) = std::env::var_os("KEEPER_ROTATOR_DEBUG_PANIC") else {
        return;
    };
    if when == "after-change" {
        mark_change_started();
    }
    let secret = input
        .new_password
        .as_ref()
        .map(secret::Secret::expose)
        .unwrap_or_default();
    panic!("forced panic holding {secret}");
}

/// Runs `future` to completion on a single-threaded runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
    Ok(runtime.block_on(future))
}

thread_local! {
    /// Set while this thread runs a [`catch_panic`] call.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where the last guarded panic happened.
    static CAUGHT_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`, turning a panic inside it (a dependency's, say) into
/// `Err(location)`. The panic hook stays silent for such a panic: the caller
/// reports it as an ordinary error.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    result.map_err(|_| {
        CAUGHT_AT
            .with(|c| c.borrow_mut().take())
            .unwrap_or_else(|| "an unknown place".into())
    })
}

/// A source path without the cargo registry's prefix:
/// `keeper-secrets-manager-core-17.3.0/src/core/core.rs`.
fn short_path(path: &str) -> &str {
    match path.find("/registry/src/") {
        Some(at) => {
            let rest = &path[at + "/registry/src/".len()..];
            rest.split_once('/')
                .map_or(rest, |(_, crate_path)| crate_path)
        }
        None => path,
    }
}

/// A panic anywhere, dependencies included, prints one line and exits with a
/// defined code: 1 before any change was sent, 4 after. The panic's message is
/// not printed: it could hold data, and the location is enough to report it.
fn install_panic_hook(name: String) {
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", short_path(l.file()), l.line()));
        if GUARDED.with(std::cell::Cell::get) {
            CAUGHT_AT.with(|c| *c.borrow_mut() = at);
            return;
        }
        let location = at.map(|at| format!(" at {at}")).unwrap_or_default();
        let (exit, advice) = if change_started() {
            (
                Exit::NeedsAttention,
                "A change had already been sent: check whether the credential changed and \
                 whether the record holds the working one",
            )
        } else {
            (Exit::Failed, "Nothing was changed")
        };
        log::error_line(&format!(
            "{name}: error: internal error{location} (a bug, please report it). {advice}."
        ));
        log::summary(&format!(
            "{name}: exit {} ({})",
            exit.code(),
            exit.meaning()
        ));
        secret::forget_all();
        std::process::exit(i32::from(exit.code()));
    }));
}
