//! Output: log lines on stderr through `tracing`, one summary line on stdout.
//! Everything written passes through the redactor first, then has its
//! control characters escaped ([`escape_controls`]): a value interpolated
//! into a line (a user name from the Gateway, a status from a server) must
//! not be able to start a line of its own, rewrite one on a terminal (`\r`,
//! escape sequences), or forge the summary the Gateway keeps.

use std::io::Write;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::error::{Error, Result};
use crate::secret;

/// The environment variable that sets the log level.
pub const LEVEL_VAR: &str = "KEEPER_ROTATOR_LOG";

/// The most detailed level dependencies ever log at (see [`init`]).
pub const DEPENDENCY_CEILING: LevelFilter = LevelFilter::DEBUG;

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
/// only warnings and errors, unless `level` is debug or trace, and never
/// below debug: at trace the AWS SDK prints whole response bodies when
/// `LOG_SENSITIVE_BODIES=true` is in the environment (a new secret access
/// key among them, before this program has seen it and could register it
/// with the redactor), and the HTTP and TLS stacks print headers and
/// connection details. The variable cannot be removed from the process
/// (that needs `unsafe` in this edition), so the level is capped instead.
pub fn init(level: LevelFilter) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let dependencies = if level >= LevelFilter::DEBUG {
        level.min(DEPENDENCY_CEILING)
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

/// Writes the run's summary line on stdout: always exactly one line.
pub fn summary(line: &str) {
    raw_summary(&safe_line(line));
}

/// Writes a summary line already made safe (redacted and one line:
/// [`crate::summary::line`]) on stdout.
pub(crate) fn raw_summary(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Writes an error line on stderr: always exactly one line.
pub fn error_line(line: &str) {
    raw_error_line(&safe_line(line));
}

/// Writes an error line already made safe (redacted by the caller, or fixed
/// text) on stderr, its control characters escaped.
pub(crate) fn raw_error_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", escape_controls(line));
    let _ = err.flush();
}

/// Characters that end a line on some terminals and log viewers without
/// being control characters.
pub fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` as it may be written: redacted, then with its control characters
/// escaped, so it is one line.
pub fn safe_line(text: &str) -> String {
    escape_controls(&secret::redact(text))
}

/// `...` and the last four characters of `id`: how an id that names a
/// credential (an AWS access key id) is shown, in the binaries' messages and
/// in the harness's reports alike (`AKIA...WXYZ` -> `...WXYZ`).
pub fn id_tail(id: &str) -> String {
    let tail: String = id
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("...{tail}")
}

/// Escapes every character that could end, overwrite or restyle a line:
/// control characters (`\n`, `\r`, `\t`, others as `\u{..}`), the Unicode
/// line and paragraph separators, and the bidirectional overrides that
/// reorder what a terminal shows.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_line_separator(c) || is_bidi_control(c)
}

/// The bidirectional embeddings, overrides and isolates, which reorder what
/// a terminal shows.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `tracing` formats a whole event into one buffer and writes it at once, so
/// a secret is never split across two writes.
#[derive(Debug, Clone, Copy)]
struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        // One event: its own line break ends it; any other is escaped.
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let line = format!("{}{end}", safe_line(body));
        std::io::stderr().lock().write_all(line.as_bytes())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_separators_and_overrides_are_escaped() {
        assert_eq!(
            escape_controls("a\nb\rc\td\u{1b}[2Ke\u{2028}f\u{202e}g\u{85}"),
            r"a\nb\rc\td\u{1b}[2Ke\u{2028}f\u{202e}g\u{85}"
        );
        assert_eq!(escape_controls("plain é 🙂 text"), "plain é 🙂 text");
    }

    #[test]
    fn a_secret_holding_a_line_break_is_redacted_before_escaping() {
        let _s = secret::Secret::new("two\nline-secret-value");
        assert_eq!(safe_line("x two\nline-secret-value y"), "x [redacted] y");
    }
}
