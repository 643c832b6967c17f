//! The one summary line every run prints on stdout: prose by default, or,
//! with `KEEPER_ROTATOR_OUTPUT=json` or `--output json`, one JSON object a
//! script or a log pipeline reads without scraping prose.
//!
//! Why here and not in each binary: the line is written by the driver (and
//! by the panic hook), so a new binary gets both forms for free, and the
//! ids it names come from the places that create, store and retire
//! credentials ([`crate::replace`]), not from each binary's summary text.
//!
//! The object (schema `keeper-rotators/summary/v1`,
//! `docs/reference/summary.schema.json`): `schema`, `binary`, `version`,
//! `dry_run`, `exit_code` and its `meaning` (the one table,
//! [`Exit::meaning`]), `record_uid`, the ids `created`, `stored`, `retired`
//! and `left`, `summary` (the prose line), `next` (what to do, the error's
//! own words; on exit 0 what the run asks to check, [`advise`], else
//! `null`) and `duration_ms`. Ids are key ids, secret key ids and SSH and
//! RSA key fingerprints: never a secret. Every string is redacted before it
//! is serialized; the line is not redacted again as a whole (see
//! [`line_with`]: a short old password equal to a key or a literal would
//! break the JSON).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::error::Exit;
use crate::log;
use crate::secret;

/// The variable that asks for the JSON line when `--output` does not.
pub const OUTPUT_VAR: &str = "KEEPER_ROTATOR_OUTPUT";

/// The schema every JSON summary line names in its `schema` field.
pub const SCHEMA: &str = "keeper-rotators/summary/v1";

/// What the summary line is written as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Output {
    /// One line of prose (the default).
    #[default]
    Text,
    /// One JSON object on one line.
    Json,
}

impl Output {
    /// `text` or `json`; `from` names where the value came from, for the
    /// error. A value that is not a plain lower-case word is not echoed: it
    /// could be a secret pasted in the wrong place.
    pub fn parse(value: &str, from: &str) -> std::result::Result<Self, String> {
        match value.trim() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => {
                let shown = if !other.is_empty()
                    && other.len() <= 16
                    && other.chars().all(|c| c.is_ascii_lowercase())
                {
                    format!("'{other}'")
                } else {
                    format!(
                        "a value of {} characters (not shown)",
                        other.chars().count()
                    )
                };
                Err(format!(
                    "{from} must be text or json (the summary line on stdout as prose or as one \
                     JSON object); {shown} was given"
                ))
            }
        }
    }
}

/// What this run did to credentials, by id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Ids {
    created: Vec<String>,
    stored: Vec<String>,
    retired: Vec<String>,
    left: Vec<String>,
}

struct State {
    started: Option<Instant>,
    dry_run: bool,
    record_uid: Option<String>,
    ids: Ids,
    /// What a run that succeeded asks the operator to check ([`advise`]).
    advice: Vec<String>,
}

static JSON: AtomicBool = AtomicBool::new(false);
static STATE: Mutex<State> = Mutex::new(State {
    started: None,
    dry_run: false,
    record_uid: None,
    ids: Ids {
        created: Vec::new(),
        stored: Vec::new(),
        retired: Vec::new(),
        left: Vec::new(),
    },
    advice: Vec::new(),
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A copy of the state, taken without waiting: the panic hook writes the
/// line too, and a panic on a thread holding the lock must not deadlock
/// it (the ids are then left out).
fn snapshot() -> State {
    let copy = |s: &State| State {
        started: s.started,
        dry_run: s.dry_run,
        record_uid: s.record_uid.clone(),
        ids: s.ids.clone(),
        advice: s.advice.clone(),
    };
    match STATE.try_lock() {
        Ok(state) => copy(&state),
        Err(std::sync::TryLockError::Poisoned(state)) => copy(&state.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => State {
            started: None,
            dry_run: false,
            record_uid: None,
            ids: Ids::default(),
            advice: Vec::new(),
        },
    }
}

/// Starts the run's clock (the `duration_ms` of the line). The driver calls
/// it first thing.
pub fn start() {
    state().started.get_or_insert_with(Instant::now);
}

/// Sets how the summary line is written.
pub fn set_output(output: Output) {
    JSON.store(output == Output::Json, Ordering::Relaxed);
}

/// How the summary line is written.
pub fn output() -> Output {
    if JSON.load(Ordering::Relaxed) {
        Output::Json
    } else {
        Output::Text
    }
}

/// Whether the run is a `--dry-run` (the line's `dry_run`).
pub fn set_dry_run(dry_run: bool) {
    state().dry_run = dry_run;
}

/// The record the run rotates (`userRecordUid`), once the input is read.
pub fn set_record_uid(uid: Option<&str>) {
    state().record_uid = uid.map(str::to_owned);
}

fn push(list: impl FnOnce(&mut Ids) -> &mut Vec<String>, id: &str) {
    let mut state = state();
    let list = list(&mut state.ids);
    if !list.iter().any(|i| i == id) {
        list.push(id.to_owned());
    }
}

/// This run created the credential `id`.
pub fn created(id: &str) {
    push(|ids| &mut ids.created, id);
}

/// This run stored the credential `id` in the record.
pub fn stored(id: &str) {
    push(|ids| &mut ids.stored, id);
}

/// This run retired the credential `id` (deleted, revoked or deactivated).
pub fn retired(id: &str) {
    push(|ids| &mut ids.retired, id);
}

/// The credential `id` is still valid, or may be, although this run meant
/// to retire it or made it and could not remove it.
pub fn left(id: &str) {
    push(|ids| &mut ids.left, id);
}

/// The credential `id`, counted retired when the service acknowledged it,
/// is still valid after all (still listed, or still accepted): it moves
/// from `retired` to `left`, so the line never calls a live key retired.
pub fn still_valid(id: &str) {
    let mut state = state();
    state.ids.retired.retain(|i| i != id);
    if !state.ids.left.iter().any(|i| i == id) {
        state.ids.left.push(id.to_owned());
    }
}

/// Something a run that succeeds asks the operator to check (a result it
/// could not confirm, a note it could not save): on exit 0 the line's
/// `next` says it, so a pipeline reading only the line sees it too. An
/// error's own message takes its place on any other exit.
pub fn advise(text: &str) {
    let mut state = state();
    if !state.advice.iter().any(|a| a == text) {
        state.advice.push(text.to_owned());
    }
}

/// Tests only: forgets every id and every advice.
#[doc(hidden)]
pub fn reset_for_test() {
    let mut state = state();
    state.ids = Ids::default();
    state.advice.clear();
}

/// Tests only: the ids retired and left so far.
#[doc(hidden)]
pub fn retired_and_left_for_test() -> (Vec<String>, Vec<String>) {
    let state = state();
    (state.ids.retired.clone(), state.ids.left.clone())
}

/// The line for a run that ended with `exit`. `prose` is the text-mode
/// line; `next` what to do (the error's message), `None` on exit 0 (then
/// the JSON line's `next` is what the run [`advise`]d, if anything).
pub fn line(binary: &str, exit: Exit, prose: &str, next: Option<&str>) -> String {
    line_with(binary, exit, prose, next, Some(&secret::redact))
}

/// [`line`], each string redacted with `redact`. `None`: the redactor
/// cannot be used (the panic hook, while its lock is held), so `prose` and
/// `next` must be fixed text, and what came from the input or a server
/// (the record's uid, the ids) is left out.
pub(crate) fn line_with(
    binary: &str,
    exit: Exit,
    prose: &str,
    next: Option<&str>,
    redact: Option<&dyn Fn(&str) -> String>,
) -> String {
    let redacted = |s: &str| redact.map_or_else(|| s.to_owned(), |redact| redact(s));
    if output() == Output::Text {
        return log::escape_controls(&redacted(prose));
    }
    let mut state = snapshot();
    if redact.is_none() {
        state.record_uid = None;
        state.ids = Ids::default();
        state.advice.clear();
    }
    let advice = state.advice.join("; ");
    let next = next.or((exit == Exit::Rotated && !advice.is_empty()).then_some(advice.as_str()));
    let duration_ms = state.started.map_or(0, |s| {
        u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX)
    });
    let text = |s: &str| serde_json::Value::String(redacted(s));
    let ids = |list: &[String]| {
        serde_json::Value::Array(list.iter().map(|id| text(id)).collect::<Vec<_>>())
    };
    let object = serde_json::json!({
        "schema": SCHEMA,
        "binary": text(binary),
        "version": crate::VERSION,
        "dry_run": state.dry_run,
        "exit_code": exit.code(),
        "meaning": exit.meaning(),
        "record_uid": state.record_uid.as_deref().map(text),
        "created": ids(&state.ids.created),
        "stored": ids(&state.ids.stored),
        "retired": ids(&state.ids.retired),
        "left": ids(&state.ids.left),
        "summary": text(prose),
        "next": next.map(text),
        "duration_ms": duration_ms,
    });
    // Every string in the object was redacted above; what the object adds
    // is its own keys and numbers, true, false and null. Not redacted again
    // as a whole: a short old password such as `null` or `0`, or one equal
    // to a key such as `summary`, would turn those into `[redacted]` and
    // the line into something that is not JSON, or not of the schema. Then
    // every character that could end or restyle a line is escaped the JSON
    // way (serde_json leaves DEL, C1 controls, separators and bidi
    // overrides as they are).
    escape_for_json(&object.to_string())
}

/// Writes the summary line on stdout: always exactly one line.
pub fn print(binary: &str, exit: Exit, prose: &str, next: Option<&str>) {
    log::raw_summary(&line(binary, exit, prose, next));
}

/// The prose line of a run that ended with `exit` other than a success:
/// `rotate-x: exit 2 (bad input or configuration, nothing attempted)`.
pub fn exit_prose(binary: &str, exit: Exit) -> String {
    format!("{binary}: exit {} ({})", exit.code(), exit.meaning())
}

/// Prints the summary line of a run that ended with `exit` for the reason
/// `message` (the error line's words): prose or JSON.
pub fn print_exit(binary: &str, exit: Exit, message: &str) {
    print(binary, exit, &exit_prose(binary, exit), Some(message));
}

/// [`print_exit`] for the panic hook: redacted with `redact`, or, when it
/// is `None` (the redactor's lock is held), `message` is fixed text and
/// nothing from the input or a server is written (see [`line_with`]).
pub(crate) fn print_exit_with(
    binary: &str,
    exit: Exit,
    message: &str,
    redact: Option<&dyn Fn(&str) -> String>,
) {
    log::raw_summary(&line_with(
        binary,
        exit,
        &exit_prose(binary, exit),
        Some(message),
        redact,
    ));
}

/// `json` (serialized JSON, so every character below U+0020 is already
/// escaped) with each other character [`log::escape_controls`] would escape
/// written as a JSON `\uXXXX` escape: the same value, one inert line.
fn escape_for_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() || log::is_line_separator(c) || log::is_bidi_control(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_is_text_or_json_and_a_bad_value_is_named_only_when_harmless() {
        assert_eq!(Output::parse("json", "--output"), Ok(Output::Json));
        assert_eq!(Output::parse(" text ", "--output"), Ok(Output::Text));
        let error = Output::parse("yaml", "--output").unwrap_err();
        assert!(error.contains("'yaml'"), "{error}");
        let error = Output::parse("Hunter2-Secret", OUTPUT_VAR).unwrap_err();
        assert!(!error.contains("Hunter2"), "{error}");
        assert!(error.contains(OUTPUT_VAR), "{error}");
    }

    /// The summary's state is the process's: one test at a time.
    fn guard() -> std::sync::MutexGuard<'static, ()> {
        let g = crate::change::TEST_LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reset_for_test();
        g
    }

    #[test]
    fn a_success_that_asks_for_a_check_says_it_in_next_and_an_error_its_own() {
        let _g = guard();
        set_output(Output::Json);
        let clean = line("rotate-x", Exit::Rotated, "rotated", None);
        let value: serde_json::Value = serde_json::from_str(&clean).unwrap();
        assert!(value["next"].is_null(), "{clean}");
        advise("the final listing failed, so the result was not confirmed");
        let noted = line("rotate-x", Exit::Rotated, "rotated", None);
        let value: serde_json::Value = serde_json::from_str(&noted).unwrap();
        assert_eq!(
            value["next"],
            "the final listing failed, so the result was not confirmed"
        );
        let failed = line("rotate-x", Exit::Failed, "failed", Some("fix the URL"));
        let value: serde_json::Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(value["next"], "fix the URL");
    }

    #[test]
    fn an_old_password_equal_to_a_key_or_a_json_literal_leaves_the_line_valid() {
        // A whole-line redaction turned "next":null into "next":[redacted]
        // and the key "schema" into "[redacted]".
        let _g = guard();
        set_output(Output::Json);
        secret::register("schema");
        secret::register("null");
        let line = line("rotate-x", Exit::Rotated, "rotated 'schema'", None);
        let value: serde_json::Value = serde_json::from_str(&line).expect("the line is JSON");
        assert_eq!(value["schema"], SCHEMA);
        assert!(value["next"].is_null(), "{line}");
        assert!(
            !line.contains("'schema'"),
            "the secret in a value is redacted: {line}"
        );
    }

    #[test]
    fn characters_that_end_or_restyle_a_line_are_json_escapes() {
        let escaped = escape_for_json("\"a\u{2028}b\u{202e}c\u{85}d\u{7f}\"");
        assert_eq!(escaped, r#""a\u2028b\u202ec\u0085d\u007f""#);
        let back: String = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, "a\u{2028}b\u{202e}c\u{85}d\u{7f}");
    }
}
