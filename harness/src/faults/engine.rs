//! The one transport-fault engine: what happens to the nth request.
//!
//! Every fake that injects transport faults does the same bookkeeping: it
//! names each request as it is read, counts the occurrences of that name,
//! looks up what was armed on "the nth `call`" (or queued for the next
//! requests), holds an answer behind a [`Gate`], refuses connections from a
//! request index on, counts the late saves not yet applied, and records
//! what each request got. The [`FaultProxy`](super::FaultProxy) in front of
//! every HTTP fake and the fake vault (which serves inside TLS, so no proxy
//! can stand in front of it) do it here, once. What differs is only what a
//! fault means on their wire: the fault type `F` is [`FaultKind`] for the
//! proxy and the vault's richer `Fault` for the vault, and each applies the
//! [`Plan`] this engine hands it.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::{
    DEFAULT_HOLD, FaultError, FaultKind, Gate, Shutter, WAIT_FOR_LIMIT, occurrences, wait_until,
};

/// A fault the engine can plan: it only needs to know which ones hold a
/// request unapplied (counted until applied, for `wait_applied`).
pub trait Planned: Clone + Send + 'static {
    /// Whether the request is held unapplied and applied later
    /// (`late-save`).
    fn is_late(&self) -> bool;
}

impl Planned for FaultKind {
    fn is_late(&self) -> bool {
        *self == Self::LateSave
    }
}

/// One request read, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange<F = FaultKind> {
    /// 1-based position among every request read.
    pub index: usize,
    pub call: String,
    /// 1-based occurrence of `call`.
    pub nth: usize,
    /// The fault applied to it, if any.
    pub fault: Option<F>,
    /// The status line sent to the client: `None` while pending, and when
    /// no status reached the client.
    pub status: Option<u16>,
}

impl<F: fmt::Display> fmt::Display for Exchange<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{} ", self.call, self.nth)?;
        match self.status {
            Some(status) => write!(f, "{status}")?,
            None => f.write_str("-")?,
        }
        match &self.fault {
            Some(fault) => write!(f, " ({fault})"),
            None => Ok(()),
        }
    }
}

type Key = (String, usize);

struct State<F> {
    exchanges: Vec<Exchange<F>>,
    /// Armed faults with the hold time set when they were armed.
    armed: HashMap<Key, (F, Duration)>,
    /// (call or any, requests of that scope to let through first, fault).
    queued: VecDeque<(Option<String>, usize, F)>,
    gates: HashMap<Key, watch::Receiver<bool>>,
    refuse_from: Option<usize>,
    hold: Duration,
    /// Late requests read and not yet applied.
    late: usize,
}

impl<F> State<F> {
    fn count(&self, call: &str) -> usize {
        occurrences(self.exchanges.iter().map(|e| e.call.as_str()), call)
    }

    /// The first queued fault whose scope takes `call`, unless it still
    /// lets requests through.
    fn next_queued(&mut self, call: &str) -> Option<F> {
        let index = self
            .queued
            .iter()
            .position(|(scope, _, _)| scope.as_deref().is_none_or(|s| s == call))?;
        if self.queued[index].1 > 0 {
            self.queued[index].1 -= 1;
            return None;
        }
        self.queued.remove(index).map(|(_, _, fault)| fault)
    }
}

/// What one request is in for, decided as it is recorded.
pub struct Plan<'a, F: Planned> {
    /// 1-based position among every request.
    pub index: usize,
    pub call: String,
    pub fault: Option<F>,
    /// Hold the answer until this opens.
    pub gate: Option<watch::Receiver<bool>>,
    /// How long `timeout-after-apply` and `late-save` hold.
    pub hold: Duration,
    /// The next request is the first refused one: the listener closes
    /// now, and this request's answer ends its connection.
    pub close_after: bool,
    late: Option<Late<'a, F>>,
}

impl<F: Planned> Plan<'_, F> {
    /// The request has been applied (or refused by the service): a late
    /// one no longer counts as pending. Also done when the plan is dropped,
    /// whatever way the exchange ends.
    pub fn settle(&mut self) {
        self.late = None;
    }
}

/// Counts a late request as applied when dropped.
struct Late<'a, F: Planned>(&'a Engine<F>);

impl<F: Planned> Drop for Late<'_, F> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.late = state.late.saturating_sub(1);
        drop(state);
        self.0.arrived.notify_all();
    }
}

/// The engine: one per fake that injects transport faults.
pub struct Engine<F> {
    state: Mutex<State<F>>,
    /// Notified whenever a request is recorded or a late one applied.
    arrived: Condvar,
    shutter: Shutter,
}

impl<F> fmt::Debug for Engine<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("down", &self.shutter.is_closed())
            .finish_non_exhaustive()
    }
}

impl<F: Planned> Default for Engine<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Planned> Engine<F> {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                exchanges: Vec::new(),
                armed: HashMap::new(),
                queued: VecDeque::new(),
                gates: HashMap::new(),
                refuse_from: None,
                hold: DEFAULT_HOLD,
                late: 0,
            }),
            arrived: Condvar::new(),
            shutter: Shutter::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<F>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The listener's switch: the accept loop closes on it (`refused`).
    pub(crate) fn shutter(&self) -> &Shutter {
        &self.shutter
    }

    /// Whether the service is down (`refused`).
    pub fn is_down(&self) -> bool {
        self.shutter.is_closed()
    }

    /// Records a request named `call` and decides what happens to it: what
    /// was armed on its occurrence, else the first queued fault for it.
    /// `None` when the service is already down (a request on a connection
    /// accepted before the listener closed): it is neither served nor
    /// recorded.
    pub fn plan(&self, call: &str) -> Option<Plan<'_, F>> {
        if self.shutter.is_closed() {
            return None;
        }
        let mut state = self.state();
        let index = state.exchanges.len() + 1;
        let nth = state.count(call) + 1;
        let key = (call.to_owned(), nth);
        let (fault, hold) = match state.armed.remove(&key) {
            Some((fault, hold)) => (Some(fault), hold),
            None => (state.next_queued(call), state.hold),
        };
        let gate = state.gates.remove(&key);
        let late = fault.as_ref().is_some_and(Planned::is_late);
        if late {
            state.late += 1;
        }
        state.exchanges.push(Exchange {
            index,
            call: key.0.clone(),
            nth,
            fault: fault.clone(),
            status: None,
        });
        let close_after = state.refuse_from == Some(index + 1);
        drop(state);
        self.arrived.notify_all();
        Some(Plan {
            index,
            call: key.0,
            fault,
            gate,
            hold,
            close_after,
            late: late.then_some(Late(self)),
        })
    }

    /// Records the status sent for request `index` (1-based); `None`: no
    /// answer reached the client.
    pub fn set_status(&self, index: usize, status: Option<u16>) {
        if let Some(exchange) = self.state().exchanges.get_mut(index - 1) {
            exchange.status = status;
        }
    }

    /// Every request read so far, in order, with what became of it.
    pub fn exchanges(&self) -> Vec<Exchange<F>> {
        self.state().exchanges.clone()
    }

    /// The call names of every request read so far, in order.
    pub fn call_sequence(&self) -> Vec<String> {
        self.state()
            .exchanges
            .iter()
            .map(|e| e.call.clone())
            .collect()
    }

    /// How many requests named `call` were read.
    pub fn count(&self, call: &str) -> usize {
        self.state().count(call)
    }

    /// Applies `fault` to the nth (1-based) `call`, refused when that
    /// occurrence already happened.
    pub fn arm(&self, call: &str, nth: usize, fault: F) -> Result<(), FaultError> {
        self.arm_with(call, nth, |_| Ok(fault))
    }

    /// [`Engine::arm`] with the fault made once the occurrence is known to
    /// be ahead, from the hold time in force (a fault that carries its own
    /// hold, or that cannot be armed by name).
    pub fn arm_with(
        &self,
        call: &str,
        nth: usize,
        fault: impl FnOnce(Duration) -> Result<F, FaultError>,
    ) -> Result<(), FaultError> {
        if nth == 0 {
            return Err(FaultError::ZeroOccurrence);
        }
        let mut state = self.state();
        if state.count(call) >= nth {
            return Err(FaultError::AlreadyPassed {
                call: call.to_owned(),
                nth,
            });
        }
        let hold = state.hold;
        let fault = fault(hold)?;
        state.armed.insert((call.to_owned(), nth), (fault, hold));
        Ok(())
    }

    /// Applies `fault` to the nth `call`, unchecked (an occurrence that
    /// already happened is never reached).
    pub fn arm_unchecked(&self, call: &str, nth: usize, fault: F) {
        let mut state = self.state();
        let hold = state.hold;
        state.armed.insert((call.to_owned(), nth), (fault, hold));
    }

    /// Lets `skip` requests of `scope` (a call name; `None`: any) through,
    /// then applies `fault` to the next one (after the armed faults).
    pub fn enqueue(&self, scope: Option<&str>, skip: usize, fault: F) {
        self.state()
            .queued
            .push_back((scope.map(str::to_owned), skip, fault));
    }

    /// Applies the nth `call` but holds its answer until the gate is
    /// released or dropped.
    pub fn hold(&self, call: &str, nth: usize) -> Gate {
        let (gate, waiting) = Gate::new();
        self.state().gates.insert((call.to_owned(), nth), waiting);
        gate
    }

    /// Blocks until the nth `call` has arrived (it may still be in flight).
    /// Fails the test after [`WAIT_FOR_LIMIT`], naming the calls seen.
    pub fn wait_for(&self, call: &str, nth: usize) {
        assert!(
            self.wait_for_within(call, nth, WAIT_FOR_LIMIT),
            "{call} #{nth} did not arrive within {WAIT_FOR_LIMIT:?}; the calls seen were {:?}",
            self.call_sequence()
        );
    }

    /// Blocks until the nth `call` has arrived or `timeout` passed; says
    /// which.
    pub fn wait_for_within(&self, call: &str, nth: usize, timeout: Duration) -> bool {
        wait_until(&self.state, &self.arrived, timeout, |s| {
            s.count(call) >= nth
        })
    }

    /// Takes the service down from request `index` on (see
    /// [`super::Armable::refuse_from`]).
    pub fn refuse_from(&self, index: usize) {
        let now = {
            let mut state = self.state();
            state.refuse_from = Some(index);
            state.exchanges.len() + 1 >= index
        };
        if now {
            self.shutter.close_blocking();
        }
    }

    /// How long `timeout-after-apply` and `late-save` hold, for the faults
    /// armed from now on.
    pub fn set_hold(&self, hold: Duration) {
        self.state().hold = hold;
    }

    /// Waits until every late request read has been applied, or `limit`
    /// passed; says which.
    pub fn wait_applied(&self, limit: Duration) -> bool {
        wait_until(&self.state, &self.arrived, limit, |s| s.late == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_fault_takes_its_occurrence_before_a_queued_one() {
        let engine = Engine::<FaultKind>::new();
        engine.enqueue(Some("save"), 0, FaultKind::Status429);
        engine.arm("save", 1, FaultKind::Status500).unwrap();
        let first = engine.plan("save").unwrap();
        assert_eq!(first.fault, Some(FaultKind::Status500));
        let second = engine.plan("save").unwrap();
        assert_eq!(second.fault, Some(FaultKind::Status429));
        assert_eq!(engine.plan("save").unwrap().fault, None);
        assert_eq!(
            engine.arm("save", 2, FaultKind::Status500),
            Err(FaultError::AlreadyPassed {
                call: "save".into(),
                nth: 2
            })
        );
    }

    #[test]
    fn a_queued_fault_lets_its_skipped_requests_of_its_scope_through() {
        let engine = Engine::<FaultKind>::new();
        engine.enqueue(Some("save"), 1, FaultKind::DropAfterApply);
        assert_eq!(engine.plan("read").unwrap().fault, None);
        assert_eq!(engine.plan("save").unwrap().fault, None);
        assert_eq!(
            engine.plan("save").unwrap().fault,
            Some(FaultKind::DropAfterApply)
        );
        assert_eq!(engine.call_sequence(), ["read", "save", "save"]);
    }

    #[test]
    fn a_late_request_counts_as_pending_until_its_plan_settles() {
        let engine = Engine::<FaultKind>::new();
        engine.arm("save", 1, FaultKind::LateSave).unwrap();
        let mut plan = engine.plan("save").unwrap();
        assert!(!engine.wait_applied(Duration::ZERO));
        plan.settle();
        assert!(engine.wait_applied(Duration::ZERO));
    }
}
