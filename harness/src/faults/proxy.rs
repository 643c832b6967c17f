//! The fault-injecting HTTP/1.1 proxy in front of each wiremock fake.
//!
//! wiremock answers every request politely; a real service sometimes does
//! not. The proxy reads each request whole, names it with the fake's
//! classifier (`CreateAccessKey`, `addPassword`, `change_password`, ...),
//! counts it, and then either forwards it byte for byte to the fake or does
//! to it what an armed [`FaultKind`] says. Every answer goes back with
//! `Connection: close`: one request per TCP connection, so "drop this one"
//! and "refuse from the next one" mean exactly one request.
//!
//! It also records the call sequence of a run (what a clean run calls, in
//! which order, and what each got), lets a test wait for a call
//! ([`FaultProxy::wait_for`]) and hold one answer behind a [`Gate`] while
//! something else happens, e.g. a second run.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::engine::{Engine, Exchange, Plan};
use super::http::{self, Message};
use super::{Armable, FAULT_HEADER, FaultError, FaultKind, Gate, wait_open};
use crate::runtime;

/// A request as the classifier sees it.
#[derive(Debug, Clone)]
pub struct ProxiedRequest {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string without `?` (empty if none).
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl ProxiedRequest {
    fn from_message(message: &Message) -> Self {
        let target = message.start.get(1).cloned().unwrap_or_default();
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), query.to_owned()),
            None => (target, String::new()),
        };
        Self {
            method: message.start.first().cloned().unwrap_or_default(),
            path,
            query,
            headers: message.headers.clone(),
            body: message.body.clone(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A parameter of the form-encoded body, else of the query string.
    pub fn param(&self, name: &str) -> Option<String> {
        let find = |bytes: &[u8]| {
            url::form_urlencoded::parse(bytes)
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        find(&self.body).or_else(|| find(self.query.as_bytes()))
    }
}

type Classifier = Box<dyn Fn(&ProxiedRequest) -> String + Send + Sync>;

struct Shared {
    upstream: SocketAddr,
    classify: Classifier,
    /// The call sequence, what is armed, gates, refusal, late saves.
    engine: Engine<FaultKind>,
    /// The request of each exchange, in the same order.
    requests: Mutex<Vec<ProxiedRequest>>,
    /// Set when the proxy is dropped: every task ends.
    stop: watch::Sender<bool>,
    /// TCP connections accepted, with or without a request on them.
    connections: std::sync::atomic::AtomicUsize,
}

/// The proxy, listening on 127.0.0.1 until dropped.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.send_replace(true);
    }
}

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port forwarding to `upstream`,
    /// naming each request with `classify`.
    pub fn start(
        upstream: SocketAddr,
        classify: impl Fn(&ProxiedRequest) -> String + Send + Sync + 'static,
    ) -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for a proxy");
        listener
            .set_nonblocking(true)
            .expect("make the proxy's listener non-blocking");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            upstream,
            classify: Box::new(classify),
            engine: Engine::new(),
            requests: Mutex::new(Vec::new()),
            stop: watch::channel(false).0,
            connections: std::sync::atomic::AtomicUsize::new(0),
        });
        runtime().spawn(accept_loop(listener, Arc::clone(&shared)));
        Self { port, shared }
    }

    /// The TCP connections accepted so far, whether or not a request came
    /// on them (a dry run's probe connects and sends nothing).
    pub fn connections(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request read so far, in order, with what became of it.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.engine.exchanges()
    }

    /// The request of every exchange, in the order of [`FaultProxy::exchanges`]:
    /// what a report shows of each call (masked by the caller).
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests named `call` were read.
    pub fn count(&self, call: &str) -> usize {
        self.shared.engine.count(call)
    }

    /// Whether the service is down (`refused`).
    pub fn is_down(&self) -> bool {
        self.shared.engine.is_down()
    }

    /// Forwards the nth `call` (so it is applied) but holds its answer
    /// until the gate is released or dropped.
    pub fn hold(&self, call: &str, nth: usize) -> Gate {
        self.shared.engine.hold(call, nth)
    }

    /// Blocks until the nth `call` has arrived (it may still be in flight).
    /// Fails the test after [`WAIT_FOR_LIMIT`](super::WAIT_FOR_LIMIT), naming
    /// the calls seen.
    pub fn wait_for(&self, call: &str, nth: usize) {
        self.shared.engine.wait_for(call, nth);
    }

    /// Blocks until the nth `call` has arrived or `timeout` passed; says
    /// which.
    pub fn wait_for_within(&self, call: &str, nth: usize, timeout: Duration) -> bool {
        self.shared.engine.wait_for_within(call, nth, timeout)
    }
}

impl Armable for FaultProxy {
    /// Any name the classifier gives.
    fn known_calls(&self) -> Vec<String> {
        Vec::new()
    }

    fn arm(&self, call: &str, nth: usize, kind: FaultKind) -> Result<(), FaultError> {
        if kind == FaultKind::Refused {
            return Err(FaultError::RefusedNeedsIndex);
        }
        self.shared.engine.arm(call, nth, kind)
    }

    fn refuse_from(&self, index: usize) {
        self.shared.engine.refuse_from(index);
    }

    fn call_sequence(&self) -> Vec<String> {
        self.shared.engine.call_sequence()
    }

    fn set_hold(&self, hold: Duration) {
        self.shared.engine.set_hold(hold);
    }

    fn wait_applied(&self, limit: Duration) -> bool {
        self.shared.engine.wait_applied(limit)
    }
}

async fn accept_loop(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let shutter = shared.engine.shutter();
    let Ok(listener) = TcpListener::from_std(listener) else {
        shutter.mark_closed();
        return;
    };
    let mut stop = shared.stop.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    shared.connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(Arc::clone(&shared), stream));
                }
            }
            () = shutter.wait_close() => break,
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
    drop(listener);
    shutter.mark_closed();
}

/// Serves one connection until its exchange ends or the proxy is dropped.
async fn connection(shared: Arc<Shared>, mut client: TcpStream) {
    let mut stop = shared.stop.subscribe();
    tokio::select! {
        () = exchange(&shared, &mut client) => {}
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
    let _ = client.shutdown().await;
}

/// Names, records and plans a request; `None` when the service is down.
/// The request is kept while its exchange is recorded, so `requests()`
/// lines up with `exchanges()`.
fn record(shared: &Shared, request: ProxiedRequest) -> Option<Plan<'_, FaultKind>> {
    let call = (shared.classify)(&request);
    let mut requests = shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let plan = shared.engine.plan(&call)?;
    requests.push(request);
    Some(plan)
}

async fn exchange(shared: &Shared, client: &mut TcpStream) {
    let Ok(Some(request)) = http::read_request(client).await else {
        return;
    };
    let proxied = ProxiedRequest::from_message(&request);
    let Some(mut plan) = record(shared, proxied) else {
        return;
    };
    if plan.close_after {
        shared.engine.shutter().close().await;
    }
    match plan.fault {
        Some(FaultKind::DropBeforeApply) => return,
        Some(FaultKind::LateSave) => tokio::time::sleep(plan.hold).await,
        _ => {}
    }
    let bytes = match plan.fault {
        Some(kind) if kind.is_status() => [
            request.head_with(FAULT_HEADER, kind.name()),
            request.raw_body,
        ]
        .concat(),
        _ => request.bytes(),
    };
    let forwarded = forward(shared.upstream, &bytes, &request.start[0]).await;
    // Applied (or refused by the fake): the late save is settled.
    plan.settle();
    let Ok(answer) = forwarded else {
        return;
    };
    let status = answer.status();
    let bytes = match plan.fault {
        Some(FaultKind::DropAfterApply) => return,
        Some(FaultKind::TimeoutAfterApply) => {
            tokio::time::sleep(plan.hold).await;
            return;
        }
        Some(FaultKind::Truncated2xx) if (200..300).contains(&status) => truncated(&answer),
        Some(FaultKind::Garbled2xx) if (200..300).contains(&status) => garbled(&answer),
        _ => {
            if let Some(gate) = plan.gate {
                wait_open(gate).await;
            }
            [answer.head_closing(None), answer.raw_body].concat()
        }
    };
    // Recorded before the client can see it, so whoever saw the answer
    // finds it recorded; taken back if it could not be sent.
    shared.engine.set_status(plan.index, Some(status));
    if !send(client, &bytes).await {
        shared.engine.set_status(plan.index, None);
    }
}

/// Sends `request` to the fake on a fresh connection and reads its answer.
async fn forward(upstream: SocketAddr, request: &[u8], method: &str) -> std::io::Result<Message> {
    let mut stream = TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    stream.write_all(request).await?;
    stream.flush().await?;
    http::read_response(&mut stream, method).await
}

/// The head with the full length and half the body; without a body, only
/// the status line.
fn truncated(answer: &Message) -> Vec<u8> {
    let length = answer.chunked.then_some(answer.body.len());
    http::cut(&answer.head_closing(length), &answer.body)
}

/// The head with a body that is not the service's: what a proxy that
/// rewrites answers sends.
fn garbled(answer: &Message) -> Vec<u8> {
    const PAGE: &[u8] = b"<html><head><title>Blocked</title></head><body>This answer was \
        withheld by the content inspection policy.</body></html>";
    let mut bytes = answer.head_closing(Some(PAGE.len()));
    bytes.extend_from_slice(PAGE);
    bytes
}

/// Writes to the client; says whether it all went out.
async fn send(client: &mut TcpStream, bytes: &[u8]) -> bool {
    client.write_all(bytes).await.is_ok() && client.flush().await.is_ok()
}
