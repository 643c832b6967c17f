//! Process-level plumbing every program shares: the panic hook and panic
//! guard, logging set-up, and running async code from synchronous code. The
//! rotation itself is driven by [`crate::driver`].

use std::future::Future;

use crate::error::{Error, Exit, Result};
#[cfg(debug_assertions)]
use crate::gateway::GatewayInput;
use crate::log;
use crate::secret;

/// For programs other than the rotators (the harness's vault commands):
/// the same panic hook and logging.
pub fn init_process(name: &str) -> Result<()> {
    install_panic_hook(name.to_owned());
    init_logging()
}

/// Sets up logging on stderr at the level `KEEPER_ROTATOR_LOG` names.
pub fn init_logging() -> Result<()> {
    let level = log::level_from_env();
    log::init(
        *level
            .as_ref()
            .unwrap_or(&tracing_subscriber::filter::LevelFilter::INFO),
    );
    level.map(|_| ())
}

/// Debug builds only: `KEEPER_ROTATOR_DEBUG_PANIC=before|after-change` makes
/// the run panic (with the new password in the panic message) so the tests
/// can prove what a panic prints and which exit code it gives.
#[cfg(debug_assertions)]
pub fn debug_panic(input: &GatewayInput) {
    let Some(when) = std::env::var_os("KEEPER_ROTATOR_DEBUG_PANIC") else {
        return;
    };
    if when == "after-change" {
        crate::change::sent("a forced test change")
            .map(crate::change::Sent::keep)
            .ok();
    }
    let secret = input
        .new_password
        .as_ref()
        .map(secret::Secret::expose)
        .unwrap_or_default();
    panic!("forced panic holding {secret}");
}

/// Runs `future` to completion on the process's one single-threaded
/// runtime, built on first use. One runtime for the whole run, not one per
/// call: building a runtime costs time, and the HTTP client's pooled
/// connections belong to the runtime they were opened on, so a second
/// request reuses the first one's connection only on the same runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    static RUNTIME: std::sync::OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    let runtime = RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
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
///
/// The hook runs before the panicking thread unwinds, so a lock that thread
/// holds is still held: the redactor's (a panic inside it), or the change
/// ledger's. Neither is waited for. Without the redactor only fixed text
/// is printed (the location is the source's, never data); without the
/// ledger, whether a change was sent is unknown, and the exit is 4.
pub fn install_panic_hook(name: impl Into<String>) {
    let name: String = name.into();
    std::panic::set_hook(Box::new(move |info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", short_path(l.file()), l.line()));
        if GUARDED.with(std::cell::Cell::get) {
            CAUGHT_AT.with(|c| *c.borrow_mut() = at);
            return;
        }
        let location = at.map(|at| format!(" at {at}")).unwrap_or_default();
        // The redactor first: a change another thread sends while the hook
        // waits for it is then in the ledger read below.
        let held = secret::try_hold(REDACTOR_PATIENCE);
        let (exit, advice) = match crate::change::try_any_outstanding() {
            Some(false) => (Exit::Failed, "Nothing was changed"),
            Some(true) => (
                Exit::NeedsAttention,
                "A change had already been sent: check whether the credential changed and \
                 whether the record holds the working one",
            ),
            None => (
                Exit::NeedsAttention,
                "A change may have been sent: check whether the credential changed and \
                 whether the record holds the working one",
            ),
        };
        match held {
            Some(held) => {
                let message =
                    format!("internal error{location} (a bug, please report it). {advice}.");
                let redact = |text: &str| held.redact(text);
                log::raw_error_line(&redact(&format!("{name}: error: {message}")));
                crate::summary::print_exit_with(&name, exit, &message, Some(&redact));
                held.forget_all();
            }
            None => {
                // Fixed text only: nothing here can be redacted.
                let message = format!(
                    "internal error{location} while output was being redacted (a bug, please \
                     report it). {advice}."
                );
                log::raw_error_line(&format!("{name}: error: {message}"));
                crate::summary::print_exit_with(&name, exit, &message, None);
            }
        }
        std::process::exit(i32::from(exit.code()));
    }));
}

/// How long the panic hook tries for the redactor's lock: another thread
/// holding it lets go within this; the panicking thread never does.
const REDACTOR_PATIENCE: std::time::Duration = std::time::Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    /// Set in the child process the test below starts.
    const CHILD: &str = "KEEPER_ROTATOR_TEST_PANIC_HOLDING_THE_REDACTOR";
    const PAYLOAD: &str = "Panic-Payload-Secret-7q";
    const NAME: &str =
        "cli::tests::a_panic_while_the_redactor_is_held_ends_the_process_without_its_payload";

    #[test]
    fn a_panic_while_the_redactor_is_held_ends_the_process_without_its_payload() {
        if std::env::var_os(CHILD).is_some() {
            install_panic_hook("rotate-test");
            crate::summary::set_output(crate::summary::Output::Json);
            crate::summary::set_record_uid(Some("Record-Uid-From-Input"));
            let secret = secret::Secret::new(PAYLOAD);
            secret::hold_while_for_test(|| panic!("a bug holding {}", secret.expose()));
            return;
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                child.kill().ok();
                child.wait().ok();
                panic!("the panic hook hung on the redactor's lock");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (mut stdout, mut stderr) = (String::new(), String::new());
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            stderr.contains("rotate-test: error: internal error at ")
                && stderr.contains("while output was being redacted")
                && stderr.contains("Nothing was changed"),
            "{stderr}"
        );
        for output in [&stdout, &stderr] {
            assert!(!output.contains("Panic-Payload"), "{output}");
            assert!(!output.contains("a bug holding"), "{output}");
        }
        let summary: serde_json::Value = stdout
            .lines()
            // libtest's own `test ... ` starts the line.
            .find_map(|line| serde_json::from_str(&line[line.find('{')?..]).ok())
            .unwrap_or_else(|| panic!("no JSON summary line: {stdout}"));
        assert_eq!(summary["exit_code"], 1, "{stdout}");
        assert_eq!(
            summary["record_uid"],
            serde_json::Value::Null,
            "nothing from the input is written unredacted"
        );
    }
}
