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
//!
//! Rooms: [`client`] (attempts, retries, deadlines, what an error says),
//! [`probe`] (a dry run's connection that sends nothing),
//! [`transport`] (where a request may go), [`pin`] (trusting one
//! certificate instead of the authorities), [`api`] (a service's API with
//! its token, as a rotator's client module starts from it), and here the
//! request, the answer and the error fields shown of it.

mod api;
mod client;
pub mod pin;
mod probe;
mod transport;

pub use api::{Api, endpoint};
pub use client::Client;
#[allow(
    clippy::wildcard_imports,
    reason = "the rooms' own helpers, shared within http"
)]
use client::*;
pub use pin::CertPin;
pub use transport::*;

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
    /// The service applies nothing it answers with a 307 or 308.
    redirect_unapplied: bool,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            redirect_unapplied: false,
        }
    }

    /// Says that the service answers a 307 or 308 before it applies
    /// anything (Meraki sends an organisation's requests to its shard that
    /// way), so a change answered with one had no effect. By default a
    /// redirect after a change says nothing about it: a proxy or a load
    /// balancer may redirect after the application took the request.
    pub fn redirect_unapplied(mut self) -> Self {
        self.redirect_unapplied = true;
        self
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

    /// Adds a header whose value is `template` with each `{}` replaced by
    /// the next of `secrets` (Tenable's `accessKey={}; secretKey={};`). The
    /// value is marked sensitive and built in zeroizing memory; it is not
    /// registered with the redactor as a whole, since each secret in it
    /// already is (registering long compound values costs every run time).
    pub fn secret_header_template(
        mut self,
        name: &str,
        template: &str,
        secrets: &[&Secret],
    ) -> Result<Self> {
        let name = header_name(name)?;
        let pieces: Vec<&str> = template.split("{}").collect();
        if pieces.len() != secrets.len() + 1 {
            return Err(Error::Failed(format!(
                "the template for header '{name}' has {} placeholders for {} secrets",
                pieces.len() - 1,
                secrets.len()
            )));
        }
        let mut text = Zeroizing::new(String::new());
        for (piece, secret) in pieces.iter().zip(secrets) {
            text.push_str(piece);
            text.push_str(secret.expose());
        }
        text.push_str(pieces.last().copied().unwrap_or_default());
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            Error::Config(format!(
                "a secret for header '{name}' has characters an HTTP header cannot carry (a \
                 line break or control character?)"
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

    /// Sets a JSON body that carries secrets (a password the body was built
    /// with `Secret::expose`): serialized into memory that is zeroized when
    /// the request is dropped, and every string of `body` wiped at once, so
    /// no copy of the secret outlives the request.
    pub fn secret_json(self, mut body: serde_json::Value) -> Self {
        let bytes = Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
        crate::records::wipe_json(&mut body);
        self.json_body(bytes)
    }

    /// Sets the body's content type, in place of the one the body was set
    /// with (`application/yang-data+json` for a JSON body, say).
    pub fn content_type(mut self, value: &'static str) -> Self {
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(value));
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
    // The skeleton has no spaces or controls: the text as received says
    // what its one-line form would.
    if secret::echoes_secret(text) {
        return secret::WITHHELD.to_owned();
    }
    // Redacted before anything else changes it: a secret holding a tab or
    // ending in a space is then still matched whole.
    let one_line: String = secret::redact(text)
        .chars()
        .map(|c| {
            if c.is_control() || is_line_separator(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let redacted = one_line.trim();
    let mut out: String = redacted.chars().take(cap).collect();
    if redacted.chars().count() > cap {
        out.push_str("...");
    }
    out
}

pub use crate::log::is_line_separator;

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

#[cfg(test)]
mod tests;
