//! The client: one request, its attempts, retries and deadline, and what an
//! error says of whether the request may have been applied.

use super::*;

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
    pub(super) policy: Policy,
    pub(super) deadline: Deadline,
    /// The one certificate trusted instead of the certificate authorities
    /// ([`pin`]).
    pub(super) pin: Option<CertPin>,
    /// Another certificate the pinned verifier refused, when it did.
    pub(super) refused: std::sync::Arc<std::sync::Mutex<Option<CertPin>>>,
}

/// The least time worth starting another attempt with after an error.
pub(super) const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// The least time left in which a change is sent (or sent again after a
/// 429): less, and its answer could not arrive before the deadline.
pub(super) const MIN_CHANGE: Duration = Duration::from_secs(1);

/// How long before the request's own timeout a connect is cut, so that it
/// ends as a connect error.
pub(super) const CONNECT_MARGIN: Duration = Duration::from_millis(200);

impl Client {
    pub fn new(policy: Policy, deadline: Deadline) -> Result<Self> {
        Ok(Self {
            proxied: std::sync::OnceLock::new(),
            direct: std::sync::OnceLock::new(),
            policy,
            deadline,
            pin: None,
            refused: std::sync::Arc::default(),
        })
    }

    /// This client trusts the server presenting the certificate `pin` names,
    /// and no other: no certificate authority is asked ([`pin`]).
    pub fn pinned(mut self, pin: CertPin) -> Self {
        self.pin = Some(pin);
        self.proxied = std::sync::OnceLock::new();
        self.direct = std::sync::OnceLock::new();
        self
    }

    /// The certificate the server at `url` presents, read in a handshake that
    /// is ended as soon as it arrives: no byte of any request is sent, and
    /// nothing is trusted. For trust on first use: the caller pins it
    /// ([`Client::pinned`]) before sending anything.
    pub async fn certificate_of(&self, url: &Url) -> Result<CertPin> {
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        let tls =
            pin::config(pin::Check::Record(std::sync::Arc::clone(&slot))).map_err(Error::Failed)?;
        self.for_url(url)?;
        let client = self.build_with(!names_loopback(url), Some(tls))?;
        let target = format!("TLS handshake with {}", display_url(url));
        let remaining = self.deadline.remaining();
        if remaining.is_zero() {
            return Err(self.deadline_error(&target, String::new()));
        }
        let outcome = client
            .head(url.clone())
            .timeout(remaining.min(self.policy.request_timeout))
            .send()
            .await;
        let seen = *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (seen, outcome) {
            (Some(pin), _) => Ok(pin),
            (None, Ok(_)) => Err(Error::Failed(format!(
                "{target}: the server answered without TLS, so it has no certificate to pin"
            ))),
            (None, Err(e)) => Err(Error::Unreachable {
                target,
                detail: Failure::from_send(e).shown(),
            }),
        }
    }

    pub(super) fn pinned_tls(&self) -> Result<Option<rustls::ClientConfig>> {
        match self.pin {
            Some(pin) => Ok(Some(
                pin::config(pin::Check::Pinned(
                    pin,
                    std::sync::Arc::clone(&self.refused),
                ))
                .map_err(Error::Failed)?,
            )),
            None => Ok(None),
        }
    }

    fn build(&self, proxy: bool) -> Result<reqwest::Client> {
        let tls = self.pinned_tls()?;
        self.build_with(proxy, tls)
    }

    fn build_with(
        &self,
        proxy: bool,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<reqwest::Client> {
        self.builder(proxy, tls)
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the HTTP client: {e}")))
    }

    /// The builder every client of this policy starts from.
    pub(super) fn builder(
        &self,
        proxy: bool,
        tls: Option<rustls::ClientConfig>,
    ) -> reqwest::ClientBuilder {
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
        if let Some(tls) = tls {
            builder = builder.tls_backend_preconfigured(tls);
        }
        builder
    }

    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    pub(super) fn for_url(&self, url: &Url) -> Result<&reqwest::Client> {
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
            redirect_unapplied: request.redirect_unapplied,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = self.deadline.remaining();
            if remaining.is_zero() {
                ledger.close(None);
                return Err(self.deadline_error(&target, String::new()));
            }
            if replay == Replay::Unsafe && remaining < MIN_CHANGE {
                // A change sent now could not be answered in time: its
                // outcome would be unknown (exit 4). Not sent, it is a
                // plain "nothing changed".
                ledger.close(None);
                return Err(self.deadline_error(
                    &target,
                    format!(
                        "; {:.1} s were left, less than the {} s a change needs to be sent and \
                         answered, so it was not sent",
                        remaining.as_secs_f32(),
                        MIN_CHANGE.as_secs()
                    ),
                ));
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
                    let wait = retry_after(status, &response.headers)
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
                    if let Some(refused) = self.pin_refused(&target) {
                        ledger.close(None);
                        return Err(refused);
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
                        // A write safe to repeat is still a write: once an
                        // attempt may have reached the server, a later one
                        // that did not connect proves nothing.
                        if ledger.maybe_applied && !request.method.is_safe() {
                            return Err(Error::NoAnswer {
                                target,
                                detail: format!(
                                    "{detail}; an earlier attempt may have reached the server, \
                                     so it may have been applied"
                                ),
                            });
                        }
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

    /// A certificate that is not the pinned one, as the refusal to report
    /// (exit 2: the handshake ended before any byte of the request was
    /// sent, and asking again meets the same certificate).
    pub(super) fn pin_refused(&self, target: &str) -> Option<Error> {
        let seen = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()?;
        let pinned = self.pin?;
        Some(Error::Config(format!(
            "{target}: refused before sending anything: the server presented a certificate \
             whose SHA-256 is {seen}, not the pinned {pinned}. If the device's certificate was \
             replaced on purpose, put its SHA-256 in the pin field; otherwise someone else may \
             be answering for the device"
        )))
    }

    pub(super) fn deadline_error(&self, target: &str, detail: String) -> Error {
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
                    let wait = retry_after(status, &response.headers)
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
                    if let Some(refused) = self.pin_refused(&target) {
                        return Err(refused);
                    }
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
pub(super) struct Ledger {
    entry: Option<change::Sent>,
    /// An earlier attempt may have reached the server and taken effect.
    maybe_applied: bool,
    /// A 307 or 308 had no effect ([`Request::redirect_unapplied`]).
    redirect_unapplied: bool,
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
            Some(status) => {
                status.is_client_error()
                    || (self.redirect_unapplied
                        && matches!(
                            status,
                            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
                        ))
            }
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
pub(super) struct ConnectDeadline {
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
pub(super) struct ConnectDeadlineService<S> {
    inner: S,
    deadline: Deadline,
    limit: Duration,
}

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
pub(super) struct ConnectTimedOut(Duration);

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
pub(super) struct Failure {
    pub(super) maybe_sent: bool,
    pub(super) detail: String,
    /// The resolver refused the connection ([`NotLoopback`]).
    pub(super) not_loopback: bool,
}

impl Failure {
    /// The detail for a message. It is a dependency's error chain, and an
    /// error's text can hold a server's words (a certificate's names, a
    /// proxy's reason) or a URL: it goes through [`shown_capped`] like any
    /// server field, so an echo of a secret in an escape the exact redactor
    /// does not know (shell or regex quoting, full-width letters) is
    /// withheld, not just the forms [`secret::redact`] knows.
    pub(super) fn shown(&self) -> String {
        shown_capped(&self.detail, ERROR_CHAIN_CHARS)
    }

    pub(super) fn from_send(error: reqwest::Error) -> Self {
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
pub(super) fn error_chain(error: &reqwest::Error) -> String {
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

pub(super) trait WithoutUrl {
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
pub(super) fn describe_wait(wait: Duration) -> String {
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
pub(super) fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let Some(value) = headers.get(RETRY_AFTER) else {
        // Okta sends `X-Rate-Limit-Reset` on every answer: the end of the
        // current rate-limit window, up to a minute ahead. It is a wait only
        // when the answer is the rate limit itself; a 500 that carries it is
        // retried after the usual back-off.
        if status != StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
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

pub(super) fn until(when: std::time::SystemTime) -> Duration {
    when.duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// Exponential back-off with full jitter: 0.25 s, 0.5 s, 1 s... capped at 8 s,
/// each scaled by a random factor in [0.5, 1.0).
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250) * 2u32.saturating_pow(attempt.saturating_sub(1).min(5));
    base.min(Duration::from_secs(8))
        .mul_f64(0.5 + fastrand::f64() / 2.0)
}

pub(super) fn header_name(name: &str) -> Result<HeaderName> {
    HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| Error::Config(format!("'{name}' is not a valid HTTP header name")))
}
