//! The HTTP policy every rotator follows.
//!
//! - rustls only, certificate verification always on, no redirects followed
//!   (a redirect would resend a credential somewhere not configured);
//! - `https` required, except for loopback hosts (the test fakes), and a
//!   loopback host is never reached through a proxy (`HTTP_PROXY` would
//!   otherwise receive the token and the password in cleartext). A host is
//!   loopback only by the addresses actually connected to: an IP literal in
//!   127.0.0.0/8 or `::1`, or a name (`localhost`, `*.localhost`) every one of
//!   whose addresses is loopback, checked when the URL is read
//!   ([`require_https`]) and again by the resolver of every connection
//!   ([`LoopbackGuard`]). glibc gives `*.localhost` no special treatment: a
//!   hosts file or DNS can map it anywhere;
//! - a connect timeout, a per-request timeout, and the run's one [`Deadline`].
//!   The connect is cut a little before the request's own timeout, so a
//!   connect that never completes (dropped SYNs) always ends as a connect
//!   error: nothing was sent;
//! - retries with jitter on connect errors (nothing was sent) and on 429
//!   (the server refused the request), honouring `Retry-After`. 503 and
//!   timeouts are retried only for requests that are safe to repeat
//!   ([`Replay::Safe`]): a proxy's 502/503/504, a 3xx or a lost answer can
//!   follow a change that was applied. [`Client::send_change`] turns such an
//!   answer to a change into "may or may not have changed" (exit 4);
//! - every number a server supplies (`Retry-After`, `X-Rate-Limit-Reset`)
//!   is read with checked arithmetic;
//! - bodies are read up to a bound into zeroizing memory and never shown as
//!   they are: a server may echo a secret in any encoding, and a body is the
//!   server's to fill. Only the known error fields of a service are shown
//!   ([`Response::error_fields`] for REST APIs; each service module has its
//!   own), each through [`shown`]: control characters removed, redacted,
//!   capped.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::{Host, Url};
use zeroize::Zeroizing;

use crate::change;
use crate::deadline::Deadline;
use crate::error::{Error, Location, Result};
use crate::secret::{self, Secret};

/// Timeouts and retry budget. Every wait is also cut to the run's deadline.
#[derive(Debug, Clone)]
pub struct Policy {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Attempts of one request, the first included.
    pub max_attempts: u32,
    /// Bytes of a response body kept; the rest is discarded.
    pub max_body: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: crate::deadline::request_timeout_or_default(),
            max_attempts: 4,
            max_body: 1024 * 1024,
        }
    }
}

/// Whether a request may be sent again after it might have reached the
/// server (a timeout, a dropped connection, a 503). Connect errors and 429
/// are retried either way: the request was not sent, or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads, and writes that give the same result when repeated.
    Safe,
    /// Writes that must not be repeated blindly (a password change: once it
    /// took effect, the old password no longer works).
    Unsafe,
}

/// One request, built once and sent as many times as the policy allows.
#[derive(Debug)]
pub struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Zeroizing<Vec<u8>>>,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// Adds a header whose value is not secret.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self> {
        let name = header_name(name)?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            Error::Config(format!(
                "the value for header '{name}' has characters an HTTP header cannot carry"
            ))
        })?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// Adds a header carrying a secret (`prefix` is e.g. `"Bearer "`). The
    /// value is marked sensitive, so the HTTP stack never logs it.
    pub fn secret_header(mut self, name: &str, prefix: &str, secret: &Secret) -> Result<Self> {
        let name = header_name(name)?;
        let text = Zeroizing::new(format!("{prefix}{}", secret.expose()));
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            Error::Config(format!(
                "the secret for header '{name}' has characters an HTTP header cannot carry \
                 (a line break or control character?)"
            ))
        })?;
        value.set_sensitive(true);
        self.headers.append(name, value);
        Ok(self)
    }

    /// Sets a JSON body (and its content type).
    pub fn json_body(mut self, body: Zeroizing<Vec<u8>>) -> Self {
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = Some(body);
        self
    }

    /// Sets an `application/x-www-form-urlencoded` body (for OAuth token
    /// requests). Secret values are passed exposed only for the encoding.
    pub fn form_body(mut self, pairs: &[(&str, &str)]) -> Self {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            serializer.append_pair(key, value);
        }
        let encoded = Zeroizing::new(serializer.finish());
        self.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.body = Some(Zeroizing::new(encoded.as_bytes().to_vec()));
        self
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Method and URL for messages: no user info, query or fragment, which
    /// may carry credentials.
    pub fn target(&self) -> String {
        format!("{} {}", self.method, display_url(&self.url))
    }
}

/// An answer: status, headers and the (bounded) body.
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Zeroizing<Vec<u8>>,
    /// An earlier attempt of the same request may have been applied (it got
    /// a 503, or no answer when resending was safe): this answer, even a
    /// refusal, does not show the request had no effect.
    pub earlier_attempt_maybe_applied: bool,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
    ) -> std::result::Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// What a REST API's error body says, from the fields such bodies
    /// commonly have ([`ERROR_KEYS`], one level deep, and the first items of
    /// an `errors` list): `error: invalid_token; message: ...`, each field
    /// through [`shown`]. Any other body is described by its size only.
    pub fn error_fields(&self) -> String {
        let Ok(serde_json::Value::Object(map)) = self.json::<serde_json::Value>() else {
            return unshown(&self.body);
        };
        let mut parts = Vec::new();
        collect_error_fields(&map, "", &mut parts);
        if let Some(serde_json::Value::Array(errors)) = map.get("errors") {
            for (index, item) in errors.iter().take(3).enumerate() {
                match item {
                    serde_json::Value::Object(inner) => {
                        collect_error_fields(inner, &format!("errors[{index}]."), &mut parts);
                    }
                    serde_json::Value::String(text) => {
                        parts.push(format!("errors[{index}]: {}", shown(text)));
                    }
                    _ => {}
                }
            }
        }
        if parts.is_empty() {
            return format!(
                "a JSON body of {} bytes with no known error field (not shown)",
                self.body.len()
            );
        }
        parts.join("; ")
    }
}

/// The fields of a JSON error body that are shown, in this order.
pub const ERROR_KEYS: [&str; 9] = [
    "error",
    "error_description",
    "code",
    "message",
    "detail",
    "title",
    "reason",
    "errorCode",
    "errorSummary",
];

fn collect_error_fields(
    map: &serde_json::Map<String, serde_json::Value>,
    prefix: &str,
    parts: &mut Vec<String>,
) {
    for key in ERROR_KEYS {
        match map.get(key) {
            Some(serde_json::Value::String(text)) if !text.trim().is_empty() => {
                parts.push(format!("{prefix}{key}: {}", shown(text)));
            }
            Some(value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                parts.push(format!("{prefix}{key}: {value}"));
            }
            Some(serde_json::Value::Object(inner)) if prefix.is_empty() => {
                collect_error_fields(inner, &format!("{key}."), parts);
            }
            _ => {}
        }
    }
}

/// Characters of one server-supplied field shown in a message.
pub const FIELD_CHARS: usize = 200;

/// A text a server or a dependency supplied, made fit for a message: control
/// characters become spaces (a line break cannot forge a log line), and the
/// whole text is [`secret::WITHHELD`] when its skeleton shares a run with a
/// registered secret's ([`secret::echoes_secret`]: shell or regex quoting,
/// doubled quotes, normalised Unicode, byte dumps). Otherwise every
/// registered secret is redacted (in any form), and the result is capped at
/// [`FIELD_CHARS`] characters. Redaction comes before the cap: cutting first
/// could leave a piece of a secret too short to recognise.
pub fn shown(text: &str) -> String {
    shown_capped(text, FIELD_CHARS)
}

/// Characters of a dependency's error chain shown in a message (see
/// [`Failure`]): longer than a field, since each cause adds its words.
pub const ERROR_CHAIN_CHARS: usize = 400;

/// [`shown`] with another cap (for a dependency's error chain, say).
pub fn shown_capped(text: &str, cap: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| {
            if c.is_control() || is_line_separator(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    if secret::echoes_secret(&one_line) {
        return secret::WITHHELD.to_owned();
    }
    let redacted = secret::redact(one_line.trim());
    let mut out: String = redacted.chars().take(cap).collect();
    if redacted.chars().count() > cap {
        out.push_str("...");
    }
    out
}

/// Characters that end a line on some terminals and log viewers without
/// being control characters.
pub fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// A body described without its content: `an empty body`, or `a body of N
/// bytes (not shown)`.
pub fn unshown(body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        "an empty body".into()
    } else {
        format!("a body of {} bytes (not shown)", body.len())
    }
}

/// A body's text: UTF-8 when it is valid, else each byte read as Latin-1, so
/// that a server that re-encoded a secret in Latin-1 gives back the secret's
/// own characters (which the redactor knows) rather than replacement marks
/// around the ASCII part of it.
pub fn body_text(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => body.iter().copied().map(char::from).collect(),
    }
}

/// A client that applies the [`Policy`] and the run's [`Deadline`].
#[derive(Debug)]
pub struct Client {
    /// For every other host: honours `HTTPS_PROXY`/`NO_PROXY`. Built on
    /// first use: building a client loads the trust store (some 150
    /// certificates on a typical host), and a run usually needs only one of
    /// the two.
    proxied: std::sync::OnceLock<reqwest::Client>,
    /// For loopback hosts: never through a proxy. Built on first use.
    direct: std::sync::OnceLock<reqwest::Client>,
    policy: Policy,
    deadline: Deadline,
}

/// The least time worth starting another attempt with after an error.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// How long before the request's own timeout a connect is cut, so that it
/// ends as a connect error.
const CONNECT_MARGIN: Duration = Duration::from_millis(200);

impl Client {
    pub fn new(policy: Policy, deadline: Deadline) -> Result<Self> {
        Ok(Self {
            proxied: std::sync::OnceLock::new(),
            direct: std::sync::OnceLock::new(),
            policy,
            deadline,
        })
    }

    fn build(&self, proxy: bool) -> Result<reqwest::Client> {
        if proxy {
            // reqwest reads the proxy variables now: their credentials are
            // secrets from here on, whatever echoes the proxy's URL.
            register_proxy_credentials();
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.policy.connect_timeout)
            .connector_layer(ConnectDeadline {
                deadline: self.deadline,
                // Below the attempt's own timeout too (request_timeout may
                // be shorter than connect_timeout): a cut connect must end
                // as a connect error ("nothing was sent"), not a timeout.
                limit: self
                    .policy
                    .connect_timeout
                    .min(self.policy.request_timeout.saturating_sub(CONNECT_MARGIN)),
            })
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(LoopbackGuard))
            .user_agent(concat!("keeper-rotators/", env!("CARGO_PKG_VERSION")));
        if !proxy {
            builder = builder.no_proxy();
        }
        builder
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the HTTP client: {e}")))
    }

    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    fn for_url(&self, url: &Url) -> Result<&reqwest::Client> {
        // Every URL a rotator sends to went through `require_https`; this
        // holds the rule for any other (a URL built in code, say).
        if url.scheme() != "https" && !names_loopback(url) {
            return Err(Error::Config(format!(
                "{} is not https and not a loopback host; refusing to send to it",
                display_url(url)
            )));
        }
        let (slot, proxy) = if names_loopback(url) {
            (&self.direct, false)
        } else {
            (&self.proxied, true)
        };
        if let Some(client) = slot.get() {
            return Ok(client);
        }
        let client = self.build(proxy)?;
        Ok(slot.get_or_init(|| client))
    }

    /// Sends a change (a request that must not be repeated blindly) and
    /// judges the answer. `accepted` says which statuses mean the change was
    /// made. Returns the answer when it is accepted or a refusal (4xx: the
    /// change was not made). Any other answer, a 5xx (a proxy's 502/503/504
    /// included), a 3xx, or a 2xx that `accepted` does not list, does not say
    /// whether the change was made: [`Error::NoAnswer`], exit 4 unless the
    /// caller can settle it.
    pub async fn send_change(
        &self,
        request: &Request,
        accepted: impl Fn(StatusCode) -> bool,
    ) -> Result<Response> {
        let response = self.send(request, Replay::Unsafe).await?;
        let status = response.status;
        if accepted(status) || status.is_client_error() {
            return Ok(response);
        }
        let code = status.as_u16();
        let what = if status.is_redirection() {
            format!("the answer was HTTP {code}, a redirect (not followed)")
        } else if status.is_success() {
            format!("the answer was HTTP {code}, a success status not among those expected")
        } else {
            format!(
                "the answer was HTTP {code} ({}), a server or proxy error",
                response.error_fields()
            )
        };
        Err(Error::NoAnswer {
            target: request.target(),
            detail: format!("{what}, which does not say whether the change was made"),
        })
    }

    /// Sends `request`, retrying as the policy and `replay` allow, and returns
    /// the first answer that is not a retryable 429 (or 503, for
    /// [`Replay::Safe`]), whatever its status.
    pub async fn send(&self, request: &Request, replay: Replay) -> Result<Response> {
        let target = request.target();
        let client = self.for_url(&request.url)?;
        // An unsafe request is a change: it is in the ledger from before its
        // first attempt until its outcome shows it had no effect.
        let mut ledger = Ledger {
            entry: match replay {
                Replay::Unsafe => Some(change::sent(target.clone())?),
                Replay::Safe => None,
            },
            maybe_applied: false,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = self.deadline.remaining();
            if remaining.is_zero() {
                ledger.close(None);
                return Err(self.deadline_error(&target, String::new()));
            }
            let started = std::time::Instant::now();
            let outcome = self
                .attempt(client, request, remaining.min(self.policy.request_timeout))
                .await;
            let last = attempt >= self.policy.max_attempts;
            match outcome {
                Ok(response) => {
                    tracing::debug!(
                        "{target} -> {} in {} ms",
                        response.status.as_u16(),
                        started.elapsed().as_millis()
                    );
                    let mut response = response;
                    response.earlier_attempt_maybe_applied = ledger.maybe_applied;
                    let status = response.status;
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || (status == StatusCode::SERVICE_UNAVAILABLE && replay == Replay::Safe);
                    if !retryable {
                        ledger.close(Some(status));
                        return Ok(response);
                    }
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        ledger.maybe_applied = true;
                    }
                    let wait = retry_after(&response.headers)
                        .unwrap_or_else(|| backoff(attempt))
                        .max(Duration::from_millis(50));
                    if last {
                        ledger.close(Some(status));
                        return Ok(response);
                    }
                    if !self.deadline.allows(wait) {
                        ledger.close(None);
                        return Err(self.deadline_error(
                            &target,
                            format!(
                                "; the server answered HTTP {} and asked to wait {}",
                                status.as_u16(),
                                describe_wait(wait)
                            ),
                        ));
                    }
                    tracing::info!(
                        "{target}: HTTP {}, retrying in {:.1} s (attempt {} of {})",
                        status.as_u16(),
                        wait.as_secs_f32(),
                        attempt + 1,
                        self.policy.max_attempts
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(failure) => {
                    let detail = failure.shown();
                    if failure.maybe_sent {
                        ledger.maybe_applied = true;
                    }
                    if failure.not_loopback {
                        // Nothing was sent; asking again gets the same answer.
                        ledger.close(None);
                        return Err(Error::Config(format!("{target}: {detail}")));
                    }
                    if failure.maybe_sent && replay == Replay::Unsafe {
                        ledger.close(None);
                        return Err(Error::NoAnswer { target, detail });
                    }
                    let wait = backoff(attempt);
                    if last {
                        ledger.close(None);
                        return Err(Error::Unreachable { target, detail });
                    }
                    if !self.deadline.allows(wait + MIN_ATTEMPT) {
                        ledger.close(None);
                        return Err(self.deadline_error(
                            &target,
                            format!(
                                "; last error: {detail}{}",
                                if failure.maybe_sent {
                                    ""
                                } else {
                                    " (nothing was sent)"
                                }
                            ),
                        ));
                    }
                    tracing::info!(
                        "{target}: {detail}; retrying in {:.1} s (attempt {} of {})",
                        wait.as_secs_f32(),
                        attempt + 1,
                        self.policy.max_attempts
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn deadline_error(&self, target: &str, detail: String) -> Error {
        let kept = self.deadline.kept();
        let detail = if kept.is_zero() {
            detail
        } else {
            format!(
                " ({:.1} s of it kept for proving the new password){detail}",
                kept.as_secs_f32()
            )
        };
        Error::Deadline {
            target: target.to_owned(),
            seconds: self.deadline.limit_secs(),
            detail,
        }
    }

    /// Sends a sign-in that proves a password just changed, and returns the
    /// first answer that `accepted` lists or that is not transient.
    ///
    /// A sign-in with the right password is safe to repeat, and after a
    /// change that succeeded a proof that cannot complete leaves the account
    /// on a password the Gateway does not store (exit 4). So, unlike
    /// [`Client::send`], every transient outcome is retried, with back-off
    /// and `Retry-After`, for as long as the deadline allows: a connect
    /// error, a dropped connection, a timeout, a 429, 408 and any 5xx. Each
    /// attempt may take at most half of the time left (at least
    /// [`MIN_ATTEMPT`]), so an attempt that hangs leaves room for another.
    /// When the time is up the last answer is returned (a 5xx, say), or
    /// [`Error::Unreachable`] / [`Error::Deadline`] when there was none.
    pub async fn send_proof(
        &self,
        request: &Request,
        accepted: impl Fn(StatusCode) -> bool,
    ) -> Result<Response> {
        let target = request.target();
        let client = self.for_url(&request.url)?;
        let started = std::time::Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = self.deadline.remaining();
            if remaining.is_zero() {
                return Err(self.deadline_error(&target, String::new()));
            }
            let timeout = self
                .policy
                .request_timeout
                .min((remaining / 2).max(MIN_ATTEMPT))
                .min(remaining);
            let outcome = self.attempt(client, request, timeout).await;
            let (wait, why) = match outcome {
                Ok(response) => {
                    let status = response.status;
                    let transient = status.is_server_error()
                        || status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::REQUEST_TIMEOUT;
                    if accepted(status) || !transient {
                        return Ok(response);
                    }
                    let wait = retry_after(&response.headers)
                        .unwrap_or_else(|| backoff(attempt))
                        .max(Duration::from_millis(50));
                    if !self.deadline.allows(wait.saturating_add(MIN_ATTEMPT)) {
                        tracing::info!(
                            "{target}: HTTP {} on attempt {attempt}; no time left for another \
                             ({:.1} s since the first)",
                            status.as_u16(),
                            started.elapsed().as_secs_f32()
                        );
                        return Ok(response);
                    }
                    (wait, format!("HTTP {}", status.as_u16()))
                }
                Err(failure) => {
                    let detail = failure.shown();
                    if failure.not_loopback {
                        return Err(Error::Config(format!("{target}: {detail}")));
                    }
                    let wait = backoff(attempt);
                    if !self.deadline.allows(wait.saturating_add(MIN_ATTEMPT)) {
                        return Err(Error::Unreachable {
                            target,
                            detail: format!(
                                "{detail} (attempt {attempt}, {:.1} s since the first; no time \
                                 left for another before the run's deadline)",
                                started.elapsed().as_secs_f32()
                            ),
                        });
                    }
                    (wait, detail)
                }
            };
            tracing::info!(
                "{target}: {why}; a sign-in is safe to repeat, retrying in {:.1} s (attempt {})",
                wait.as_secs_f32(),
                attempt + 1
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        client: &reqwest::Client,
        request: &Request,
        timeout: Duration,
    ) -> std::result::Result<Response, Failure> {
        let mut builder = client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .timeout(timeout);
        if let Some(body) = &request.body {
            builder = builder.body(body.to_vec());
        }
        let mut response = builder.send().await.map_err(Failure::from_send)?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Zeroizing::new(Vec::new());
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.policy.max_body.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if room <= chunk.len() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The status line arrived, so the server did answer; keep
                    // what came of the body.
                    tracing::debug!(
                        "body of the answer was cut short: {}",
                        shown_capped(&error_chain(&e), ERROR_CHAIN_CHARS)
                    );
                    break;
                }
            }
        }
        Ok(Response {
            status,
            headers,
            body,
            earlier_attempt_maybe_applied: false,
        })
    }
}

/// The ledger entry of one unsafe request across its attempts.
struct Ledger {
    entry: Option<change::Sent>,
    /// An earlier attempt may have reached the server and taken effect.
    maybe_applied: bool,
}

impl Ledger {
    /// The request is over. It had no effect only if no attempt may have
    /// been applied and it ended refused (a 4xx) or never sent (`None` with
    /// nothing maybe applied: every attempt failed to connect).
    fn close(&mut self, last_status: Option<StatusCode>) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let refused = match last_status {
            Some(status) => status.is_client_error(),
            None => true,
        };
        if refused && !self.maybe_applied {
            entry.settle();
        } else {
            entry.keep();
        }
    }
}

/// A connector layer that cuts each connect (TCP, then TLS) at the connect
/// timeout or shortly before the run's deadline, whichever comes first.
///
/// Why: the request's total timeout is cut to the deadline too, and when it
/// ends during a connect, reqwest reports a timeout, not a connect error, so
/// a connect that never completed would look like a request that may have
/// been sent (exit 4). Ending the connect here first makes it a connect
/// error (reqwest's `is_connect`): nothing was sent, exit 1.
#[derive(Debug, Clone, Copy)]
struct ConnectDeadline {
    deadline: Deadline,
    limit: Duration,
}

impl<S> tower_layer::Layer<S> for ConnectDeadline {
    type Service = ConnectDeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectDeadlineService {
            inner,
            deadline: self.deadline,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Clone)]
struct ConnectDeadlineService<S> {
    inner: S,
    deadline: Deadline,
    limit: Duration,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, R> tower_service::Service<R> for ConnectDeadlineService<S>
where
    S: tower_service::Service<R, Error = BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let budget = self
            .limit
            .min(self.deadline.remaining().saturating_sub(CONNECT_MARGIN));
        let connect = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(budget, connect).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(ConnectTimedOut(budget)) as BoxError),
            }
        })
    }
}

/// A connect that did not complete in time.
#[derive(Debug)]
struct ConnectTimedOut(Duration);

impl std::fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the connection was not established within {:.1} s",
            self.0.as_secs_f32()
        )
    }
}

impl std::error::Error for ConnectTimedOut {}

/// Why an attempt produced no answer, and whether the request may have
/// reached the server.
struct Failure {
    maybe_sent: bool,
    detail: String,
    /// The resolver refused the connection ([`NotLoopback`]).
    not_loopback: bool,
}

impl Failure {
    /// The detail for a message. It is a dependency's error chain, and an
    /// error's text can hold a server's words (a certificate's names, a
    /// proxy's reason) or a URL: it goes through [`shown_capped`] like any
    /// server field, so an echo of a secret in an escape the exact redactor
    /// does not know (shell or regex quoting, full-width letters) is
    /// withheld, not just the forms [`secret::redact`] knows.
    fn shown(&self) -> String {
        shown_capped(&self.detail, ERROR_CHAIN_CHARS)
    }

    fn from_send(error: reqwest::Error) -> Self {
        let detail = if error.is_timeout() {
            "no answer before the timeout".to_owned()
        } else {
            error_chain(&error)
        };
        let not_loopback = caused_by_not_loopback(&error);
        Self {
            // A connect error (refused, unreachable, TLS handshake, connect
            // timeout, a refused name) means no byte of the request was sent.
            maybe_sent: !error.is_connect() && !not_loopback,
            detail,
            not_loopback,
        }
    }
}

/// An error and its causes on one line, without the URL (which reqwest adds
/// and which may carry a query string).
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        parts.push(error.without_url_string());
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        if self.is_timeout() {
            "timed out".into()
        } else if self.is_connect() {
            "connection failed".into()
        } else if self.is_body() || self.is_decode() {
            "the body could not be read".into()
        } else {
            "the request failed".into()
        }
    }
}

/// A wait for a message: whole seconds, or "longer than any deadline".
fn describe_wait(wait: Duration) -> String {
    if wait >= Duration::from_secs(100 * 365 * 86_400) {
        "longer than any deadline".into()
    } else {
        format!("{} s", wait.as_secs_f64().ceil())
    }
}

/// How long a 429/503 asks to wait: `Retry-After` (seconds or an HTTP date),
/// else `X-Rate-Limit-Reset` (epoch seconds, as Okta sends it). The numbers
/// are the server's: a time past what the clock can hold is a wait longer
/// than any deadline, never an overflow.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let Some(value) = headers.get(RETRY_AFTER) else {
        let reset: u64 = headers
            .get("x-rate-limit-reset")?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let Some(when) = std::time::UNIX_EPOCH.checked_add(Duration::from_secs(reset)) else {
            return Some(Duration::MAX);
        };
        return Some(until(when));
    };
    let value = value.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds.
        return Some(Duration::MAX);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(until(when))
}

fn until(when: std::time::SystemTime) -> Duration {
    when.duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// Exponential back-off with full jitter: 0.25 s, 0.5 s, 1 s... capped at 8 s,
/// each scaled by a random factor in [0.5, 1.0).
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250) * 2u32.saturating_pow(attempt.saturating_sub(1).min(5));
    base.min(Duration::from_secs(8))
        .mul_f64(0.5 + fastrand::f64() / 2.0)
}

fn header_name(name: &str) -> Result<HeaderName> {
    HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| Error::Config(format!("'{name}' is not a valid HTTP header name")))
}

/// Parses `text` as the URL in field `name` of `location`, requiring https
/// unless the host is loopback: an IP literal in 127.0.0.0/8 or `::1`, or
/// `localhost` / `*.localhost` when every address the name resolves to now
/// is loopback. (The resolver checks the name again at every connection.)
pub fn require_https(text: &str, name: &str, location: &Location) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        Error::invalid(name, location.clone(), format!("not an absolute URL ({e})"))
    })?;
    check_transport(&url).map_err(|problem| Error::invalid(name, location.clone(), problem))?;
    Ok(url)
}

/// The transport rule for `url` (see [`require_https`]): `Err` says why it
/// is refused, in words that name the URL without its query.
pub fn check_transport(url: &Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if names_loopback(url) => {}
        "http" => {
            return Err(format!(
                "{} uses plain http; use https (plain http is accepted only for loopback test servers)",
                display_url(url)
            ));
        }
        other => return Err(format!("scheme '{other}' is not supported; use https")),
    }
    if let Some(Host::Domain(domain)) = url.host() {
        if !is_loopback_name(domain) {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(0);
        // A name that does not resolve cannot be connected to either; the
        // connection fails later with nothing sent.
        if let Ok(addresses) = std::net::ToSocketAddrs::to_socket_addrs(&(domain, port)) {
            let addresses: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
            if let Err(refused) = only_loopback(domain, &addresses) {
                return Err(format!(
                    "{} {refused}; {}",
                    display_url(url),
                    if url.scheme() == "http" {
                        "use https (plain http is accepted only for loopback test servers)"
                    } else {
                        "a name that says loopback must be loopback (it would bypass the proxy)"
                    }
                ));
            }
        }
    }
    Ok(())
}

/// Whether the URL's host says it is loopback: a loopback IP literal, or
/// `localhost` / `*.localhost`, which must still resolve to loopback
/// addresses only ([`only_loopback`]).
fn names_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => is_loopback_name(domain),
        None => false,
    }
}

/// `localhost`, `*.localhost` (any case, with or without the final dot).
pub fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// A name that says loopback resolved to an address that is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLoopback {
    pub name: String,
    pub address: IpAddr,
}

impl std::fmt::Display for NotLoopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{}' resolves to {}, which is not a loopback address (check /etc/hosts and DNS)",
            self.name, self.address
        )
    }
}

impl std::error::Error for NotLoopback {}

/// `Ok` when `name` does not say loopback, or every one of its `addresses`
/// is loopback (an IPv4-mapped `::ffff:127.0.0.1` counts as loopback).
pub fn only_loopback(name: &str, addresses: &[IpAddr]) -> std::result::Result<(), NotLoopback> {
    if !is_loopback_name(name) {
        return Ok(());
    }
    match addresses
        .iter()
        .find(|address| !address.to_canonical().is_loopback())
    {
        Some(address) => Err(NotLoopback {
            name: name.to_owned(),
            address: *address,
        }),
        None => Ok(()),
    }
}

/// The resolver of every HTTP client: the system's (`getaddrinfo`, as
/// reqwest's default), refusing a name that says loopback ([`is_loopback_name`])
/// when any address it resolves to is not. Such a name is sent plain http
/// and bypasses the proxy, so the check is made on the very addresses that
/// are connected to. The refusal is a connect error: nothing was sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopbackGuard;

impl reqwest::dns::Resolve for LoopbackGuard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(resolve_guarded(name.as_str().to_owned()))
    }
}

async fn resolve_guarded(name: String) -> std::result::Result<reqwest::dns::Addrs, BoxError> {
    let addresses: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
    let ips: Vec<IpAddr> = addresses.iter().map(std::net::SocketAddr::ip).collect();
    only_loopback(&name, &ips)?;
    Ok(Box::new(addresses.into_iter()))
}

/// Whether the resolver refused the connection.
fn caused_by_not_loopback(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<NotLoopback>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The environment variables a proxy is read from (reqwest's, as curl's).
pub const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Registers the user and password of every proxy URL in the environment
/// ([`PROXY_VARS`], `http://user:password@host:port`) as secrets, so that an
/// error or a log line echoing the proxy's URL, or its `Proxy-Authorization`
/// (base64 of `user:password`), never shows them. Called when a run starts
/// and again when a client that uses the proxy is built.
pub fn register_proxy_credentials() {
    register_proxy_credentials_from(|name| std::env::var(name).ok());
}

/// [`register_proxy_credentials`] with the variables read by `lookup`.
pub fn register_proxy_credentials_from(lookup: impl Fn(&str) -> Option<String>) {
    for name in PROXY_VARS {
        let Some(value) = lookup(name) else {
            continue;
        };
        let Some(((user, user_decoded), (password, password_decoded))) = url_credentials(&value)
        else {
            continue;
        };
        // A password is registered whatever its length; a user of a few
        // letters would redact ordinary words everywhere.
        for form in [&password, &password_decoded] {
            if !form.is_empty() {
                secret::register(form);
            }
        }
        for form in [&user, &user_decoded] {
            if form.chars().count() >= 6 {
                secret::register(form);
            }
        }
        if !password_decoded.is_empty() {
            secret::register_with_login(&user_decoded, &password_decoded);
        }
    }
}

/// The user and password of a URL's userinfo, each as written and
/// percent-decoded: `((user, user), (password, password))`. Read by hand, not
/// with [`Url::parse`]: a proxy variable may lack a scheme (`user:pw@host:3128`)
/// or be no valid URL at all, and its password is a secret either way.
fn url_credentials(text: &str) -> Option<((String, String), (String, String))> {
    let text = text.trim();
    let rest = match text.find("://") {
        Some(at) => &text[at + 3..],
        None => text,
    };
    // The userinfo ends at the last '@': a password may hold '@', '/', '?'
    // or '#' written as they are (too much taken is redacted, never shown).
    let at = rest.rfind('@')?;
    let userinfo = &rest[..at];
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let pair = |raw: &str| (raw.to_owned(), percent_decode(raw));
    Some((pair(user), pair(password)))
}

/// `%XX` escapes decoded (invalid ones kept as written); the bytes read as
/// UTF-8, or as Latin-1 when they are not.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            && let Ok(byte) = u8::try_from(h * 16 + l)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    body_text(&out)
}

/// A URL for messages: scheme, host, port and path only.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> Location {
        Location::Record {
            title: "API".into(),
            uid: "u".into(),
        }
    }

    #[test]
    fn https_is_required_except_on_loopback() {
        assert!(require_https("https://api.example.com/x", "url", &loc()).is_ok());
        for ok in [
            "http://127.0.0.1:8080/x",
            "http://[::1]/x",
            "http://localhost/x",
        ] {
            assert!(require_https(ok, "url", &loc()).is_ok(), "{ok}");
        }
        let err = require_https("http://api.example.com/x?token=abc", "url", &loc()).unwrap_err();
        assert_eq!(err.exit().code(), 2);
        let text = err.to_string();
        assert!(text.contains("plain http"), "{text}");
        assert!(!text.contains("token=abc"), "{text}");
        assert!(require_https("ftp://h/x", "url", &loc()).is_err());
        assert!(require_https("not a url", "url", &loc()).is_err());
    }

    #[test]
    fn a_name_that_says_loopback_must_resolve_to_loopback_addresses_only() {
        let v4 = |a, b, c, d| IpAddr::from([a, b, c, d]);
        let loopback = [
            v4(127, 0, 0, 1),
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ];
        assert_eq!(only_loopback("localhost", &loopback), Ok(()));
        assert_eq!(only_loopback("api.localhost.", &[v4(127, 0, 0, 2)]), Ok(()));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(only_loopback("api.localhost", &[mapped]), Ok(()));
        let refused =
            only_loopback("API.localhost", &[v4(127, 0, 0, 1), v4(10, 200, 0, 1)]).unwrap_err();
        assert_eq!(refused.address, v4(10, 200, 0, 1));
        assert_eq!(
            refused.to_string(),
            "'API.localhost' resolves to 10.200.0.1, which is not a loopback address \
             (check /etc/hosts and DNS)"
        );
        for elsewhere in [v4(0, 0, 0, 0), "::ffff:10.0.0.1".parse().unwrap()] {
            assert!(
                only_loopback("localhost", &[elsewhere]).is_err(),
                "{elsewhere}"
            );
        }
        // Other names are not this rule's: they are never sent plain http.
        assert_eq!(only_loopback("api.example.com", &[v4(10, 0, 0, 1)]), Ok(()));
        assert_eq!(
            only_loopback("localhost.example.com", &[v4(10, 0, 0, 1)]),
            Ok(())
        );
    }

    #[test]
    fn plain_http_to_an_address_that_only_looks_local_is_refused() {
        for url in [
            "http://0.0.0.0:8080/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://10.200.0.1/x",
            "http://localhost.example.com/x",
        ] {
            let url = Url::parse(url).unwrap();
            assert!(check_transport(&url).is_err(), "{url}");
        }
    }

    /// Plain http is for a loopback peer only, and "loopback" is decided on
    /// the host the URL parser gives (the WHATWG rules reqwest connects
    /// by), never on the text: odd spellings of 127.0.0.1 are the address
    /// they parse to, percent-encoding and a final dot are undone first, and
    /// userinfo is not the host.
    #[test]
    fn odd_spellings_of_a_host_are_judged_by_the_address_they_parse_to() {
        let table: [(&str, Option<&str>); 30] = [
            // Loopback, however written: the parser gives 127.0.0.1 / ::1.
            ("http://127.1/x", Some("127.0.0.1")),
            ("http://0x7f.1/x", Some("127.0.0.1")),
            ("http://2130706433/x", Some("127.0.0.1")),
            ("http://0x7f000001/x", Some("127.0.0.1")),
            ("http://0177.0.0.1/x", Some("127.0.0.1")),
            ("http://127.0.0.1./x", Some("127.0.0.1")),
            ("http://127%2e0%2e0%2e1/x", Some("127.0.0.1")),
            ("http://%31%32%37.0.0.1/x", Some("127.0.0.1")),
            ("http://127.255.255.254/x", Some("127.255.255.254")),
            ("http://[0:0:0:0:0:0:0:1]/x", Some("[::1]")),
            ("http://LOCALHOST/x", Some("localhost")),
            ("http://localhost./x", Some("localhost.")),
            ("http://localhost%2e/x", Some("localhost.")),
            ("http://evil.example@127.0.0.1/x", Some("127.0.0.1")),
            ("http://127.0.0.1\\@evil.example/x", Some("127.0.0.1")),
            // Not loopback: refused for plain http.
            ("http://0/x", None),
            ("http://0.0.0.0/x", None),
            ("http://[::]/x", None),
            ("http://[::ffff:127.0.0.1]/x", None),
            ("http://[::ffff:7f00:1]/x", None),
            ("http://[::127.0.0.1]/x", None),
            ("http://127.0.0.1@evil.example/x", None),
            ("http://127.0.0.1:80@evil.example/x", None),
            ("http://127.0.0.1.evil.example/x", None),
            ("http://127.0.0.1%2eevil.example/x", None),
            ("http://localhost.evil.example/x", None),
            ("http://localhost%2eevil.example/x", None),
            ("http://evil.example%23@127.0.0.1/x", Some("127.0.0.1")),
            ("http://128.0.0.1/x", None),
            ("http://0x80.1/x", None),
        ];
        for (text, loopback) in table {
            let Ok(url) = Url::parse(text) else {
                assert!(loopback.is_none(), "{text} does not parse");
                continue;
            };
            let host = url.host_str().unwrap_or_default().to_owned();
            match loopback {
                Some(expected) => {
                    assert_eq!(host, expected, "{text}");
                    assert!(check_transport(&url).is_ok(), "{text} ({host}) was refused");
                }
                None => assert!(
                    check_transport(&url).is_err(),
                    "{text} ({host}) passed as loopback"
                ),
            }
        }
        // The same hosts over https are allowed (any host may be), and a
        // loopback one still never goes through the proxy; a name that says
        // loopback but is something else does not pass by its spelling.
        for text in ["https://127.1/x", "https://localhost%2e/x"] {
            let url = Url::parse(text).unwrap();
            assert!(names_loopback(&url), "{text}");
        }
        for text in [
            "https://127.0.0.1.evil.example/x",
            "https://localhost%2eevil.example/x",
            "https://[::ffff:127.0.0.1]/x",
        ] {
            let url = Url::parse(text).unwrap();
            assert!(!names_loopback(&url), "{text}");
        }
    }

    #[test]
    fn targets_hide_credentials_in_the_url() {
        let url = Url::parse("https://user:pw@h.example/p/a?key=abc#f").unwrap();
        let req = Request::new(Method::POST, url);
        assert_eq!(req.target(), "POST https://h.example/p/a");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
    }

    #[test]
    fn okta_rate_limit_reset_is_read_when_there_is_no_retry_after() {
        let mut headers = HeaderMap::new();
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        headers.insert(
            "x-rate-limit-reset",
            HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn server_supplied_waits_past_the_end_of_time_do_not_overflow() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-rate-limit-reset",
            HeaderValue::from_static("18446744073709551615"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::MAX));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("99999999999999999999999"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::MAX));
        assert_eq!(describe_wait(Duration::MAX), "longer than any deadline");
        assert_eq!(describe_wait(Duration::from_millis(2100)), "3 s");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) < Duration::from_millis(250));
        assert!(backoff(30) <= Duration::from_secs(8));
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Zeroizing::new(body.as_bytes().to_vec()),
            earlier_attempt_maybe_applied: false,
        }
    }

    #[test]
    fn shown_fields_are_redacted_before_they_are_capped() {
        let secret = Secret::new("shown-secret-value-xyz");
        let mut text = "a".repeat(FIELD_CHARS - 5);
        text.push(' ');
        text.push_str(secret.expose());
        text.push_str("\n tail");
        let out = shown(&text);
        assert!(!out.contains("shown-sec"), "{out}");
        assert!(out.ends_with("..."), "{out}");
        assert!(!out.contains('\n'));
    }

    #[test]
    fn an_error_chain_echoing_a_secret_in_a_form_the_exact_layer_does_not_know_is_withheld() {
        let secret = Secret::new("Chain7Secret-k4q9Zx");
        // Full-width letters and digits: what a server that normalises text
        // differently sends back. The exact layer alone leaves it.
        let echo: String = secret
            .expose()
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                _ => c,
            })
            .collect();
        let chain = format!(
            "client error (Connect): tunnel error: the proxy answered 'rejected user {echo}'"
        );
        assert!(
            secret::redact(&chain).contains(&echo),
            "the exact layer knew it"
        );
        let failure = Failure {
            maybe_sent: false,
            detail: chain,
            not_loopback: false,
        };
        assert_eq!(failure.shown(), secret::WITHHELD);
        // An ordinary chain is shown, on one line.
        let failure = Failure {
            maybe_sent: true,
            detail: "error sending request: connection reset by peer\n(os error 104)".into(),
            not_loopback: false,
        };
        assert_eq!(
            failure.shown(),
            "error sending request: connection reset by peer (os error 104)"
        );
    }

    #[test]
    fn a_proxy_urls_user_and_password_are_secrets_once_the_proxy_is_read() {
        use base64::Engine as _;
        let env = |name: &str| match name {
            "HTTPS_PROXY" => {
                Some("http://proxy-admin:Pr0xy%40Pass-5521@proxy.internal:3128".to_owned())
            }
            // No scheme: reqwest reads it as http.
            "all_proxy" => Some("relay-user:Z9q-relay-k33@relay.internal:8080".to_owned()),
            _ => None,
        };
        let echoes = [
            "proxy http://proxy-admin:Pr0xy%40Pass-5521@proxy.internal:3128 refused".to_owned(),
            "password Pr0xy@Pass-5521".to_owned(),
            format!(
                "Proxy-Authorization: Basic {}",
                base64::engine::general_purpose::STANDARD.encode("proxy-admin:Pr0xy@Pass-5521")
            ),
            "tunnel to relay-user:Z9q-relay-k33@relay.internal:8080 failed".to_owned(),
        ];
        for echo in &echoes {
            assert!(!secret::echoes_secret(echo), "registered before: {echo}");
        }
        register_proxy_credentials_from(env);
        for echo in &echoes {
            let redacted = secret::redact(echo);
            assert!(!redacted.contains("Pass-5521"), "{redacted}");
            assert!(!redacted.contains("Pr0xy"), "{redacted}");
            assert!(!redacted.contains("relay-k33"), "{redacted}");
            assert!(!redacted.contains("proxy-admin:"), "{redacted}");
            assert!(!shown(echo).contains("5521"), "{}", shown(echo));
        }
        // The proxy's host stays readable.
        assert!(secret::redact("proxy.internal:3128").contains("proxy.internal"));
    }

    #[test]
    fn shown_fields_lose_line_breaks_of_every_kind() {
        assert_eq!(shown("a\nb\rc\u{2028}d\u{85}e\u{1b}[31m"), "a b c d e [31m");
    }

    #[test]
    fn error_fields_show_the_common_keys_one_level_deep() {
        let r = response(
            400,
            r#"{"error":{"code":"E1","message":"bad"},"detail":"x","other":"hidden-value"}"#,
        );
        assert_eq!(
            r.error_fields(),
            "error.code: E1; error.message: bad; detail: x"
        );
        let r = response(400, r#"{"errors":[{"message":"m1"},"m2"],"code":7}"#);
        assert_eq!(
            r.error_fields(),
            "code: 7; errors[0].message: m1; errors[1]: m2"
        );
    }

    #[test]
    fn bodies_without_known_error_fields_are_never_shown() {
        assert_eq!(
            response(500, "<html>stack trace hidden-value</html>").error_fields(),
            "a body of 37 bytes (not shown)"
        );
        assert_eq!(
            response(500, r#"{"trace":"hidden-value"}"#).error_fields(),
            "a JSON body of 24 bytes with no known error field (not shown)"
        );
        assert_eq!(response(500, " \n").error_fields(), "an empty body");
    }

    #[test]
    fn a_body_that_is_not_utf8_is_read_as_latin1() {
        assert_eq!(body_text(b"p\xe4ss"), "päss");
        assert_eq!(body_text("päss".as_bytes()), "päss");
    }
}
