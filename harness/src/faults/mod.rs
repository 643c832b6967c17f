//! Faults the fakes can inject, named once for every fake.
//!
//! A rotator is only as safe as what it does when a call goes wrong, and
//! most of the ways a call goes wrong look alike across services: an error
//! status, a throttle, a service that is down, a connection lost before or
//! after the server acted, an answer that never comes or comes half. This
//! module gives those ways one vocabulary ([`FaultKind`], with short names a
//! test matrix or a CLI can use), one arming interface every fake implements
//! ([`Armable`]: "apply this kind to the nth occurrence of that call"), and
//! the HTTP/1.1 proxy ([`FaultProxy`]) that sits in front of each wiremock
//! fake and produces the connection-level kinds a full HTTP server cannot.
//!
//! Who does what:
//!
//! - what happens to the nth request (the call sequence, what is armed or
//!   queued on it, gates, refusal from an index on, late saves pending) is
//!   decided by one engine (`Engine`, in `engine.rs`), for the proxy and
//!   for the fake vault alike (it serves inside TLS, so no proxy can stand
//!   in front of it);
//! - transport kinds (`refused`, `drop-before-apply`, `drop-after-apply`,
//!   `timeout-after-apply`, `truncated-2xx`, `garbled-2xx`, `late-save`) are
//!   done on the wire by the proxy (or by the fake vault, on its own
//!   answers, as its engine plans them);
//! - status kinds (`500`, `429`, `apply-then-500`) are answered by the fake,
//!   with the body its real service sends. The proxy counts occurrences (it
//!   sees every request, the fake does not see dropped ones) and marks the
//!   chosen request with the [`FAULT_HEADER`] header; the fake reads the mark.
//!
//! `refused` cannot be armed by call name: a request can be named only after
//! it was sent, and then it is too late to refuse its connection. It is armed
//! by request index instead ([`Armable::refuse_from`]); [`Armable::refuse_at`]
//! finds the index of "the nth `call`" in the call sequence of a clean run.

mod engine;
pub(crate) mod http;
pub mod net;
mod proxy;

pub use engine::Exchange;
pub(crate) use engine::{Engine, Planned};
pub use proxy::{FaultProxy, ProxiedRequest};

use std::fmt;
use std::str::FromStr;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long `timeout-after-apply` and `late-save` hold an answer unless told
/// otherwise: longer than every client timeout in this workspace (20 s per
/// request in `common::http`, the 30 s reqwest default the Keeper SDK keeps).
pub const DEFAULT_HOLD: Duration = Duration::from_secs(35);

/// The request header with which a [`FaultProxy`] tells the fake behind it
/// to answer a status kind. Fakes never echo it.
pub const FAULT_HEADER: &str = "x-harness-fault";

/// One way a call can fail. Each kind says what the client sees and what the
/// server's state becomes. "Applied" means the service acted on the request
/// exactly as it would have without the fault (a create created, a delete
/// deleted, a save saved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// `500`: the service's own internal-error answer, shaped as it sends it
    /// (AWS `ServiceFailure` XML, Graph/AAD JSON error, Okta `E0000009`,
    /// plain text for REST, the vault's JSON `internal_error`). Not applied.
    Status500,
    /// `429`: the service's rate-limit answer, shaped as it sends it: AWS
    /// 400 `Throttling`, Graph/AAD 429 with `Retry-After: 1`, Okta 429
    /// `E0000047` with `X-Rate-Limit-Reset` two seconds ahead, REST 429 with
    /// `Retry-After: 1`, the vault's 403 `throttled` with `retry_after` 1.
    /// Not applied.
    Status429,
    /// `refused`: the service is down from this request on. Its listener is
    /// closed, so the client's connect gets ECONNREFUSED and nothing is
    /// sent. Not applied, and nothing later is either. Armed by request
    /// index: see [`Armable::refuse_from`].
    Refused,
    /// `drop-before-apply`: the request is read whole, then the connection
    /// is closed without an answer. The client sees the connection closed
    /// before any response byte. Not applied.
    DropBeforeApply,
    /// `drop-after-apply`: the request is applied and the service answers,
    /// but the answer is thrown away and the connection closed. The client
    /// sees the connection closed before any response byte. Applied.
    DropAfterApply,
    /// `timeout-after-apply`: the request is applied, then the answer is
    /// held for the hold time ([`DEFAULT_HOLD`] unless set) and the
    /// connection closed without it. A client with a shorter timeout sees
    /// its timeout fire. Applied.
    TimeoutAfterApply,
    /// `truncated-2xx`: the request is applied. If the answer is a 2xx, the
    /// client gets its status line and headers with the full
    /// `Content-Length` but only the first half of the body, then the
    /// connection closes; an answer without a body is cut after its status
    /// line instead. The client sees a body (or header) read error. A non-2xx
    /// answer passes unchanged. Applied.
    Truncated2xx,
    /// `late-save`: the request is held, unapplied and unanswered, for the
    /// hold time; then it is applied as it was sent (for the vault: with the
    /// revision it carried, so it is rejected as stale if the record moved
    /// meanwhile), and answered if the client is still there. A client with
    /// a shorter timeout sees its timeout fire. Applied late.
    LateSave,
    /// `apply-then-500`: the request is applied, then answered with the
    /// service's 500 (for the vault: a load balancer's JSON 500). The client
    /// sees a plain server error for a change that happened. Applied.
    ApplyThen500,
    /// `garbled-2xx`: the request is applied and its 2xx answer arrives
    /// whole and well framed, but its body is not the service's: an HTML
    /// page, as a content-inspecting proxy that rewrites answers sends it.
    /// A non-2xx answer passes unchanged. Applied.
    Garbled2xx,
}

/// The one list of fault kinds, in the failure matrix's order:
/// `$callback! { [args] test_name: Variant, ... }`. [`FaultKind::ALL`], the
/// matrix of `harness run --faults all` and the conformance suite's tests
/// (one per kind and binary) are all made from it, so none of them can
/// leave a kind out. A kind added to [`FaultKind`] but not here fails to
/// compile (see `every_kind_is_in_the_one_list`).
#[macro_export]
macro_rules! with_fault_kinds {
    ($callback:ident ! { $($args:tt)* }) => {
        $callback! {
            [$($args)*]
            status_500: Status500,
            status_429: Status429,
            refused: Refused,
            drop_before_apply: DropBeforeApply,
            timeout_after_apply: TimeoutAfterApply,
            drop_after_apply: DropAfterApply,
            truncated_2xx: Truncated2xx,
            late_save: LateSave,
            apply_then_500: ApplyThen500,
            garbled_2xx: Garbled2xx,
        }
    };
}

/// `FaultKind::ALL` from [`with_fault_kinds!`].
macro_rules! all_kinds {
    ([] $($name:ident: $kind:ident,)*) => {
        /// Every kind, in the order of the failure matrix.
        pub const ALL: &'static [Self] = &[$(Self::$kind),*];
    };
}

impl FaultKind {
    /// The matrix every external HTTP call is run through.
    pub const ALL_HTTP: [Self; 7] = [
        Self::Status500,
        Self::Status429,
        Self::Refused,
        Self::DropBeforeApply,
        Self::TimeoutAfterApply,
        Self::DropAfterApply,
        Self::Truncated2xx,
    ];

    // Every kind, in the order of the matrix: [`with_fault_kinds!`].
    crate::with_fault_kinds!(all_kinds! {});

    /// The short name, as parsed by [`FromStr`] and printed by `Display`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Status500 => "500",
            Self::Status429 => "429",
            Self::Refused => "refused",
            Self::DropBeforeApply => "drop-before-apply",
            Self::DropAfterApply => "drop-after-apply",
            Self::TimeoutAfterApply => "timeout-after-apply",
            Self::Truncated2xx => "truncated-2xx",
            Self::LateSave => "late-save",
            Self::ApplyThen500 => "apply-then-500",
            Self::Garbled2xx => "garbled-2xx",
        }
    }

    /// Whether the service acts on the request (at once, or for `late-save`
    /// later): the state a rotator must reckon with after this fault.
    pub fn is_applied(self) -> bool {
        matches!(
            self,
            Self::DropAfterApply
                | Self::TimeoutAfterApply
                | Self::Truncated2xx
                | Self::LateSave
                | Self::ApplyThen500
                | Self::Garbled2xx
        )
    }

    /// Whether the fake behind a proxy answers this kind itself (with its
    /// service's body) rather than the proxy.
    pub fn is_status(self) -> bool {
        matches!(self, Self::Status500 | Self::Status429 | Self::ApplyThen500)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for FaultKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = FaultError;

    fn from_str(text: &str) -> Result<Self, FaultError> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.name() == text.trim())
            .ok_or_else(|| FaultError::UnknownKind(text.to_owned()))
    }
}

/// "Apply `kind` to the nth `call`", as written on a command line:
/// `CALL=KIND` (the first occurrence) or `CALL#N=KIND`, e.g.
/// `CreateAccessKey=drop-after-apply`, `update_secret#2=late-save`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    pub call: String,
    /// 1-based.
    pub nth: usize,
    pub kind: FaultKind,
}

impl FromStr for FaultSpec {
    type Err = FaultError;

    fn from_str(text: &str) -> Result<Self, FaultError> {
        let bad = || FaultError::BadSpec(text.to_owned());
        let (target, kind) = text.rsplit_once('=').ok_or_else(bad)?;
        let (call, nth) = match target.rsplit_once('#') {
            Some((call, nth)) => (call, nth.parse::<usize>().map_err(|_| bad())?),
            None => (target, 1),
        };
        if call.is_empty() || nth == 0 {
            return Err(bad());
        }
        Ok(Self {
            call: call.to_owned(),
            nth,
            kind: kind.parse()?,
        })
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}={}", self.call, self.nth, self.kind)
    }
}

/// Why a fault could not be armed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultError {
    /// Not one of [`FaultKind::ALL`]'s names.
    UnknownKind(String),
    /// Not `CALL=KIND` or `CALL#N=KIND` with N ≥ 1.
    BadSpec(String),
    /// `refused` must be armed by request index.
    RefusedNeedsIndex,
    /// The fake does not make this call (its known names are listed).
    UnknownCall { call: String, known: Vec<String> },
    /// Occurrences count from 1.
    ZeroOccurrence,
    /// The nth occurrence already happened, so the fault would never apply.
    AlreadyPassed { call: String, nth: usize },
    /// The clean run's sequence has fewer occurrences of the call.
    NotInSequence { call: String, nth: usize },
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKind(text) => {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                write!(
                    f,
                    "unknown fault kind {text:?}; use one of {}",
                    names.join(", ")
                )
            }
            Self::BadSpec(text) => write!(
                f,
                "fault {text:?} is not CALL=KIND or CALL#N=KIND with N >= 1 (e.g. CreateAccessKey#2=500)"
            ),
            Self::RefusedNeedsIndex => f.write_str(
                "'refused' cannot be armed by call name (a request is named only after it was sent); use refuse_from(index), or refuse_at(clean_sequence, call, nth)",
            ),
            Self::UnknownCall { call, known } => write!(
                f,
                "this fake makes no call named {call:?}; its calls are {}",
                known.join(", ")
            ),
            Self::ZeroOccurrence => f.write_str("occurrences count from 1; nth must be at least 1"),
            Self::AlreadyPassed { call, nth } => write!(
                f,
                "{call} #{nth} has already happened; arm faults before the run that makes the call"
            ),
            Self::NotInSequence { call, nth } => write!(
                f,
                "the clean run's call sequence has no {call} #{nth}; record the sequence of a run that makes it"
            ),
        }
    }
}

impl std::error::Error for FaultError {}

/// The 1-based index, in a recorded call sequence, of the nth occurrence of
/// `call`: what [`Armable::refuse_from`] takes to refuse exactly that call.
pub fn request_index(sequence: &[String], call: &str, nth: usize) -> Option<usize> {
    if nth == 0 {
        return None;
    }
    sequence
        .iter()
        .enumerate()
        .filter(|(_, name)| *name == call)
        .nth(nth - 1)
        .map(|(index, _)| index + 1)
}

/// A fake behind a [`FaultProxy`]: its faults are the proxy's, under the
/// fake's call names. Each fake says how it answers the status kinds (`500`,
/// `429`, `apply-then-500`) in its own shape; the transport kinds are the
/// proxy's. [`Armable`] follows for every such fake.
pub trait Proxied {
    fn fault_proxy(&self) -> &FaultProxy;
    /// The call names the fake classifies requests into; empty when any
    /// name can occur (the REST fake's `"{METHOD} {path}"`).
    fn calls(&self) -> &'static [&'static str];
}

impl<T: Proxied> Armable for T {
    fn known_calls(&self) -> Vec<String> {
        self.calls().iter().map(|c| (*c).to_owned()).collect()
    }

    fn arm(&self, call: &str, nth: usize, kind: FaultKind) -> Result<(), FaultError> {
        if !self.calls().is_empty() {
            check_call(call, self.calls())?;
        }
        self.fault_proxy().arm(call, nth, kind)
    }

    fn refuse_from(&self, index: usize) {
        self.fault_proxy().refuse_from(index);
    }

    fn call_sequence(&self) -> Vec<String> {
        self.fault_proxy().call_sequence()
    }

    fn set_hold(&self, hold: Duration) {
        self.fault_proxy().set_hold(hold);
    }

    fn wait_applied(&self, limit: Duration) -> bool {
        self.fault_proxy().wait_applied(limit)
    }
}

/// A fake that faults can be armed on: every HTTP fake (through its
/// [`FaultProxy`]) and the fake vault.
pub trait Armable {
    /// The call names this fake classifies requests into, when the set is
    /// fixed (empty when any name can occur, as for the REST fake).
    fn known_calls(&self) -> Vec<String>;

    /// Applies `kind` to the nth (1-based) occurrence of `call`, counted
    /// from the fake's start. `refused` is refused here: see
    /// [`Armable::refuse_from`].
    fn arm(&self, call: &str, nth: usize, kind: FaultKind) -> Result<(), FaultError>;

    /// Takes the service down from the request with this 1-based index on
    /// (counted over every call): the listener is closed as soon as request
    /// `index - 1` has been read (at once if it already was, or if `index`
    /// is 1), and that request's answer ends its connection. The request
    /// `index` then gets ECONNREFUSED, as does everything after it.
    fn refuse_from(&self, index: usize);

    /// The call names of every request received so far, in order.
    fn call_sequence(&self) -> Vec<String>;

    /// How long `timeout-after-apply` and `late-save` hold ([`DEFAULT_HOLD`]
    /// by default), for the faults armed after this call.
    fn set_hold(&self, hold: Duration);

    /// Waits until every `late-save` request this fake has read has been
    /// applied (the hold time after it arrived), or `limit` passed; says
    /// which. A late save can land after the client gave up and exited: the
    /// end state is the one after it.
    fn wait_applied(&self, limit: Duration) -> bool;

    /// Refuses the nth `call` of a run that makes the same calls as the
    /// recorded `clean` sequence. Returns the request index it refuses from.
    fn refuse_at(&self, clean: &[String], call: &str, nth: usize) -> Result<usize, FaultError> {
        let index = request_index(clean, call, nth).ok_or_else(|| FaultError::NotInSequence {
            call: call.to_owned(),
            nth,
        })?;
        self.refuse_from(index);
        Ok(index)
    }

    /// Arms any kind: `refused` through [`Armable::refuse_at`] on the
    /// `clean` sequence, every other kind through [`Armable::arm`].
    fn arm_in(
        &self,
        clean: &[String],
        call: &str,
        nth: usize,
        kind: FaultKind,
    ) -> Result<(), FaultError> {
        if kind == FaultKind::Refused {
            self.refuse_at(clean, call, nth).map(drop)
        } else {
            self.arm(call, nth, kind)
        }
    }
}

/// Checks `call` against a fake's fixed call names.
pub(crate) fn check_call(call: &str, known: &[&str]) -> Result<(), FaultError> {
    if known.contains(&call) {
        Ok(())
    } else {
        Err(FaultError::UnknownCall {
            call: call.to_owned(),
            known: known.iter().map(|&k| k.to_owned()).collect(),
        })
    }
}

/// The status kind a proxy marked a request with, as a fake reads it.
pub(crate) fn injected(request: &wiremock::Request) -> Option<FaultKind> {
    request
        .headers
        .get(FAULT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .filter(|kind: &FaultKind| kind.is_status())
}

/// Holds one answer until released: from [`FaultProxy::hold`] or
/// `FakeVault::hold`. The request is applied at once; only its answer waits.
/// Dropping the gate releases it too, so a failing test never leaves a
/// client hanging.
#[derive(Debug)]
pub struct Gate {
    open: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    pub(crate) fn new() -> (Self, tokio::sync::watch::Receiver<bool>) {
        let (open, waiting) = tokio::sync::watch::channel(false);
        (Self { open }, waiting)
    }

    /// Lets the held answer go to its client.
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open.send_replace(true);
    }
}

/// Waits until a gated answer may go (released or gate dropped).
pub(crate) async fn wait_open(mut gate: tokio::sync::watch::Receiver<bool>) {
    let _ = gate.wait_for(|open| *open).await;
}

/// How long [`FaultProxy::wait_for`] and `FakeVault::wait_for` wait before
/// failing the test.
pub const WAIT_FOR_LIMIT: Duration = Duration::from_secs(30);

/// Blocks until `done` holds for the state behind `mutex` (re-checked each
/// time `changed` is notified) or `timeout` passed; says which. Never call
/// it on the harness runtime: its one worker serves the fakes.
pub(crate) fn wait_until<T>(
    mutex: &Mutex<T>,
    changed: &Condvar,
    timeout: Duration,
    done: impl Fn(&T) -> bool,
) -> bool {
    let until = Instant::now() + timeout;
    let mut state = mutex.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if done(&state) {
            return true;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        state = changed
            .wait_timeout(state, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// How many times `call` occurs in a sequence of call names.
pub(crate) fn occurrences<'a>(sequence: impl IntoIterator<Item = &'a str>, call: &str) -> usize {
    sequence.into_iter().filter(|c| *c == call).count()
}

/// A listener that can be closed from any thread, for `refused`: the
/// accept loop owns the socket and drops it when asked, then says so.
#[derive(Debug)]
pub(crate) struct Shutter {
    close: tokio::sync::watch::Sender<bool>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Shutter {
    pub(crate) fn new() -> Self {
        Self {
            close: tokio::sync::watch::channel(false).0,
            closed: tokio::sync::watch::channel(false).0,
        }
    }

    /// For the accept loop: resolves when the listener must close.
    pub(crate) async fn wait_close(&self) {
        let mut close = self.close.subscribe();
        let _ = close.wait_for(|c| *c).await;
    }

    /// For the accept loop, after dropping the listener.
    pub(crate) fn mark_closed(&self) {
        self.closed.send_replace(true);
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.close.borrow()
    }

    /// Asks for the close and waits until the socket is gone (async side).
    pub(crate) async fn close(&self) {
        self.close.send_replace(true);
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(|c| *c).await;
    }

    /// Asks for the close and waits until the socket is gone (from a test
    /// thread; never on the harness runtime, whose one worker runs the loop).
    pub(crate) fn close_blocking(&self) {
        self.close.send_replace(true);
        let until = Instant::now() + Duration::from_secs(5);
        while !*self.closed.borrow() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A variant missing from [`with_fault_kinds!`] makes this match
    /// non-exhaustive: the list cannot silently leave a kind out.
    #[test]
    fn every_kind_is_in_the_one_list() {
        macro_rules! listed {
            ([] $($name:ident: $kind:ident,)*) => {
                fn listed(kind: FaultKind) -> &'static str {
                    match kind {
                        $(FaultKind::$kind => stringify!($name),)*
                    }
                }
            };
        }
        crate::with_fault_kinds!(listed! {});
        for &kind in FaultKind::ALL {
            let test_name = listed(kind).replace('_', "-");
            assert_eq!(test_name.trim_start_matches("status-"), kind.name());
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for &kind in FaultKind::ALL {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        let err = "501".parse::<FaultKind>().unwrap_err().to_string();
        assert!(err.contains("drop-after-apply"), "{err}");
    }

    #[test]
    fn the_http_matrix_is_the_seven_kinds_every_call_must_survive() {
        let names: Vec<&str> = FaultKind::ALL_HTTP.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "500",
                "429",
                "refused",
                "drop-before-apply",
                "timeout-after-apply",
                "drop-after-apply",
                "truncated-2xx"
            ]
        );
    }

    #[test]
    fn a_spec_names_call_occurrence_and_kind() {
        let spec: FaultSpec = "CreateAccessKey#2=drop-after-apply".parse().unwrap();
        assert_eq!(spec.call, "CreateAccessKey");
        assert_eq!(spec.nth, 2);
        assert_eq!(spec.kind, FaultKind::DropAfterApply);
        assert_eq!(spec.to_string(), "CreateAccessKey#2=drop-after-apply");
        let first: FaultSpec = "update_secret=late-save".parse().unwrap();
        assert_eq!(first.nth, 1);
        for bad in ["x", "=500", "a#0=500", "a#b=500", "a=boom"] {
            assert!(bad.parse::<FaultSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_index_is_the_position_of_the_nth_call() {
        let clean: Vec<String> = [
            "GetUser",
            "ListAccessKeys",
            "CreateAccessKey",
            "ListAccessKeys",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(request_index(&clean, "ListAccessKeys", 1), Some(2));
        assert_eq!(request_index(&clean, "ListAccessKeys", 2), Some(4));
        assert_eq!(request_index(&clean, "ListAccessKeys", 3), None);
        assert_eq!(request_index(&clean, "GetUser", 0), None);
    }
}
