//! A stateful fake of a REST password endpoint.
//!
//! It holds accounts and their passwords, checks the token in the configured
//! header, and on a valid request sets the account's password: the one found
//! at a JSON pointer of the body (`/newPassword` by default) for the account
//! at another (`/userEmail`). It records every request it receives, and can
//! be told to answer the next requests with any status, headers, body or
//! delay instead.
//!
//! A path set with [`FakeRest::verify_at`] is a sign-in instead: `POST`
//! with `{"username", "password"}` (JSON) or `GET` with HTTP Basic, no API
//! token; `200` when the password is the account's, `401` otherwise.
//!
//! The fake sits behind a [`FaultProxy`](crate::faults::FaultProxy) that names each request
//! `"{METHOD} {path}"` (e.g. `POST /api/password`; no query), so any
//! [`FaultKind`] can be armed on the nth change request.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::http::{HttpFake, Service};
use crate::faults::{FaultKind, ProxiedRequest};

/// Names a request `"{METHOD} {path}"`.
pub fn call_name(request: &ProxiedRequest) -> String {
    format!("{} {}", request.method, request.path)
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One scripted answer, used instead of the fake's own logic.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// The accounts and what the API expects: the service behind [`FakeRest`].
#[derive(Debug)]
pub struct State {
    accounts: HashMap<String, String>,
    token_header: String,
    token_value: String,
    user_pointer: String,
    password_pointer: String,
    success_status: u16,
    delay: Duration,
    verify_path: Option<String>,
    script: VecDeque<Reply>,
    received: Vec<Received>,
}

/// The fake, listening on 127.0.0.1 until dropped.
pub type FakeRest = HttpFake<State>;

impl FakeRest {
    /// Starts a fake that accepts `Authorization: Bearer <token>` and answers
    /// 201 on success.
    pub fn start(token: &str) -> Self {
        Self::serve(State {
            accounts: HashMap::new(),
            token_header: "authorization".into(),
            token_value: format!("Bearer {token}"),
            user_pointer: "/userEmail".into(),
            password_pointer: "/newPassword".into(),
            success_status: 201,
            delay: Duration::ZERO,
            verify_path: None,
            script: VecDeque::new(),
            received: Vec::new(),
        })
    }

    /// `http://127.0.0.1:<port><path>`, the port being the fault proxy's.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub fn with_account(self, user: &str, password: &str) -> Self {
        self.state()
            .accounts
            .insert(user.to_owned(), password.to_owned());
        self
    }

    /// Expects the token as `<header>: <value>` (value including any scheme).
    pub fn expect_token(self, header: &str, value: &str) -> Self {
        {
            let mut state = self.state();
            state.token_header = header.to_ascii_lowercase();
            state.token_value = value.to_owned();
        }
        self
    }

    /// Where in the JSON body the account and the new password are. An
    /// empty `user` pointer: the body does not name the account, and the
    /// fake's only account is changed.
    pub fn body_pointers(self, user: &str, password: &str) -> Self {
        {
            let mut state = self.state();
            state.user_pointer = user.to_owned();
            state.password_pointer = password.to_owned();
        }
        self
    }

    pub fn success_status(self, status: u16) -> Self {
        self.state().success_status = status;
        self
    }

    /// Delays every answer of the fake's own logic.
    pub fn delay(self, delay: Duration) -> Self {
        self.state().delay = delay;
        self
    }

    /// Requests to `path` sign in instead of changing a password (see the
    /// module docs).
    pub fn verify_at(self, path: &str) -> Self {
        self.state().verify_path = Some(path.to_owned());
        self
    }

    /// Answers the next request with `reply` (queued after earlier ones).
    pub fn then_reply(&self, reply: Reply) -> &Self {
        self.state().script.push_back(reply);
        self
    }

    pub fn password_of(&self, user: &str) -> Option<String> {
        self.state().accounts.get(user).cloned()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }
}

/// Status kinds are answered by the fake in plain text: `500`, `429` with
/// `Retry-After: 1`, and `apply-then-500` after changing the password. Any
/// `"{METHOD} {path}"` is a call: the fake changes a password on every path.
impl Service for State {
    const CALLS: &'static [&'static str] = &[];
    const CALL_NAME: fn(&ProxiedRequest) -> String = call_name;

    fn respond(
        &mut self,
        request: &wiremock::Request,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        let state = self;
        let received = Received {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            headers: request
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: request.body.clone(),
        };
        state.received.push(received.clone());
        if let Some(reply) = state.script.pop_front() {
            let mut template = ResponseTemplate::new(reply.status)
                .set_body_string(reply.body)
                .set_delay(reply.delay);
            for (name, value) in reply.headers {
                template = template.insert_header(name.as_str(), value.as_str());
            }
            return template;
        }
        match injected {
            Some(FaultKind::Status500) => return plain(500, "Internal Server Error"),
            Some(FaultKind::Status429) => {
                return plain(429, "Too Many Requests").insert_header("Retry-After", "1");
            }
            _ => {}
        }
        if state.verify_path.as_deref() == Some(received.path.as_str()) {
            return state.sign_in(&received);
        }
        let delay = state.delay;
        let answer = state.change_password(&received);
        if injected == Some(FaultKind::ApplyThen500) {
            return plain(500, "Internal Server Error");
        }
        answer.set_delay(delay)
    }
}

impl State {
    /// A sign-in: the account and password from the JSON body (`POST`) or
    /// HTTP Basic (`GET`).
    fn sign_in(&self, request: &Received) -> ResponseTemplate {
        let (user, password) = if request.method == "GET" {
            use base64::Engine as _;
            let pair = request
                .header("authorization")
                .and_then(|h| h.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            match pair.split_once(':') {
                Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
                None => (None, None),
            }
        } else {
            let body = request.json();
            let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
            (field("username"), field("password"))
        };
        match (user, password) {
            (Some(user), Some(password))
                if self.accounts.get(&user).is_some_and(|p| *p == password) =>
            {
                ResponseTemplate::new(200).set_body_json(json!({"status": "signed in"}))
            }
            (Some(_), Some(_)) => error(401, "invalid_credentials", "Wrong account or password."),
            _ => error(
                400,
                "invalid_request",
                "The account or password is missing.",
            ),
        }
    }

    fn change_password(&mut self, request: &Received) -> ResponseTemplate {
        if request.header(&self.token_header) != Some(self.token_value.as_str()) {
            return error(
                401,
                "invalid_token",
                "The access token is missing or invalid.",
            );
        }
        let body = request.json();
        if body.is_null() {
            return error(400, "invalid_request", "The body is not JSON.");
        }
        // No user pointer: the body does not name the account (the url
        // does), and the fake's only account is the one changed.
        let only = (self.user_pointer.is_empty() && self.accounts.len() == 1)
            .then(|| self.accounts.keys().next().cloned())
            .flatten();
        let user = match &only {
            Some(user) => Some(user.as_str()),
            None => body.pointer(&self.user_pointer).and_then(Value::as_str),
        };
        let password = body.pointer(&self.password_pointer).and_then(Value::as_str);
        let (Some(user), Some(password)) = (user, password) else {
            return error(
                400,
                "invalid_request",
                "The account or new password is missing.",
            );
        };
        let Some(stored) = self.accounts.get_mut(user) else {
            return error(404, "not_found", "No such account.");
        };
        password.clone_into(stored);
        ResponseTemplate::new(self.success_status)
            .set_body_json(json!({"status": "password changed", "account": user}))
    }
}

fn plain(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(text, "text/plain")
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": code, "message": message}))
}
