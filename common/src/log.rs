//! Output: log lines on stderr through `tracing`, one summary line on stdout.
//! Everything written passes through the redactor first.

use std::io::Write;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::error::{Error, Result};
use crate::secret;

/// The environment variable that sets the log level.
pub const LEVEL_VAR: &str = "KEEPER_ROTATOR_LOG";

/// The level named by [`LEVEL_VAR`]: error, warn, info (default), debug, trace
/// or off.
pub fn level_from_env() -> Result<LevelFilter> {
    match std::env::var(LEVEL_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(LevelFilter::INFO),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Config(format!(
            "{LEVEL_VAR} is not valid text; use error, warn, info, debug, trace or off"
        ))),
        Ok(value) if value.trim().is_empty() => Ok(LevelFilter::INFO),
        Ok(value) => value.trim().parse().map_err(|_| {
            Error::Config(format!(
                "{LEVEL_VAR}='{value}' is not a log level; use error, warn, info, debug, trace or off"
            ))
        }),
    }
}

/// Sends `tracing` events to stderr as short lines, redacted.
///
/// This workspace's crates log at `level`; dependencies (the AWS SDK, say)
/// only warnings and errors, unless `level` is debug or trace.
pub fn init(level: LevelFilter) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let dependencies = if level >= LevelFilter::DEBUG {
        level
    } else {
        level.min(LevelFilter::WARN)
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(dependencies)
        .with_target("common", level)
        .with_target("harness", level)
        .with_target("rotate_", level);
    let format = tracing_subscriber::fmt::layer()
        .with_writer(RedactingStderr)
        .without_time()
        .with_target(false)
        .with_level(true)
        .compact();
    let _ = tracing_subscriber::registry()
        .with(format)
        .with(filter)
        .try_init();
}

/// Writes the run's summary line on stdout.
pub fn summary(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", secret::redact(line));
    let _ = out.flush();
}

/// Writes an error line on stderr.
pub fn error_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", secret::redact(line));
    let _ = err.flush();
}

/// `tracing` formats a whole event into one buffer and writes it at once, so
/// a secret is never split across two writes.
#[derive(Debug, Clone, Copy)]
struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr()
            .lock()
            .write_all(secret::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}
