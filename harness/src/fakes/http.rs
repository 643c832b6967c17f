//! The frame every HTTP fake is built in: one service's state behind a
//! wiremock server on 127.0.0.1, behind a [`FaultProxy`].
//!
//! Why one frame: what makes a fake trustworthy is the same for every
//! service (one lock around its state, so a request sees the state the
//! previous one left; the proxy in front, so every transport fault and the
//! call log are the same for every service; teardown when the fake is
//! dropped), and only its routes and its state differ. Each fake module
//! keeps those two (a [`Service`]: its call names, its classifier, its
//! answers, including how it shapes a status fault) and names its fake as
//! this frame over its state (`FakeAws` is `HttpFake<aws::State>`), so a
//! fix to the frame reaches all of them.
//!
//! The frame owns: listening (wiremock on a free 127.0.0.1 port, the proxy
//! on another), the server loop (every request, whatever its path, goes to
//! [`Service::respond`] under the state's lock), the transport faults and
//! the call sequence (the proxy's: [`FaultProxy`], [`crate::faults`]), the
//! status kind the proxy marked a request with (read once here and handed
//! to the service), and teardown (dropping the fake stops both servers).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use wiremock::{MockServer, Respond, ResponseTemplate};

use crate::faults::{self, FaultKind, FaultProxy, ProxiedRequest};
use crate::runtime;

/// One service a fake plays: its routes and its state.
pub trait Service: Send + 'static {
    /// The call names [`Service::CALL_NAME`] gives; empty when any name can
    /// occur (the REST fake's `"{METHOD} {path}"`).
    const CALLS: &'static [&'static str];

    /// Names a request for the fault proxy: the name faults are armed on
    /// and the call sequence is written in.
    const CALL_NAME: fn(&ProxiedRequest) -> String;

    /// Answers one request. `fault` is the status kind (`500`, `429`,
    /// `apply-then-500`) the proxy marked it with: the service answers it
    /// in its own shape, `apply-then-500` after applying the request.
    fn respond(
        &mut self,
        request: &wiremock::Request,
        fault: Option<FaultKind>,
    ) -> ResponseTemplate;
}

/// A fake: `S`'s state served on 127.0.0.1 behind a [`FaultProxy`] until
/// dropped. Its address is the proxy's.
pub struct HttpFake<S> {
    _server: MockServer,
    proxy: FaultProxy,
    state: Arc<Mutex<S>>,
}

impl<S> fmt::Debug for HttpFake<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFake")
            .field("url", &self.proxy.url())
            .finish_non_exhaustive()
    }
}

impl<S: Service> HttpFake<S> {
    /// Serves `state` on a free 127.0.0.1 port behind a fault proxy on
    /// another.
    pub fn serve(state: S) -> Self {
        let state = Arc::new(Mutex::new(state));
        let responder = Responder(Arc::clone(&state));
        let server = runtime().block_on(async {
            let server = MockServer::builder().start().await;
            wiremock::Mock::given(wiremock::matchers::any())
                .respond_with(responder)
                .mount(&server)
                .await;
            server
        });
        let proxy = FaultProxy::start(*server.address(), S::CALL_NAME);
        Self {
            _server: server,
            proxy,
            state,
        }
    }

    /// The service's state, locked: requests wait while it is held.
    pub(crate) fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `http://127.0.0.1:<port>`: the fault proxy in front of the fake.
    pub fn base_url(&self) -> String {
        self.proxy.url()
    }

    /// The fault proxy in front of the fake: its call sequence, gates, waits.
    pub fn proxy(&self) -> &FaultProxy {
        &self.proxy
    }
}

/// Status kinds are answered by the service, transport kinds by the proxy.
impl<S: Service> faults::Proxied for HttpFake<S> {
    fn fault_proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    fn calls(&self) -> &'static [&'static str] {
        S::CALLS
    }
}

/// Hands every request to the service under its lock.
struct Responder<S>(Arc<Mutex<S>>);

impl<S: Service> Respond for Responder<S> {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let fault = faults::injected(request);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .respond(request, fault)
    }
}

/// A request path's segments, each with its `%XX` escapes undone, as a
/// service routes on them: `/users/a%2Fb` is `["users", "a/b"]` (an id
/// holding `/` stays one segment).
pub fn path_segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(percent_decoded)
        .collect()
}

/// One path segment with its `%XX` escapes undone.
pub fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
