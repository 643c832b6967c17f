//! A stateful fake of the Okta management API's user and password endpoints.
//!
//! - `GET /api/v1/users/{login or id}`
//! - `POST /api/v1/users/{id}/credentials/change_password[?strict=true]`,
//!   which checks the old password and the password policy (length,
//!   character classes, history; with `strict`, also the minimum age);
//! - `POST /api/v1/users/{id}` with `credentials.password.value`: the admin
//!   set-password, which (as in Okta) skips the history check;
//! - `POST /api/v1/authn` (primary authentication, no API token): `SUCCESS`,
//!   `PASSWORD_EXPIRED` or `MFA_REQUIRED` (a user with MFA) for the right
//!   password of a user who can sign in, `401 E0000004` otherwise, as Okta
//!   does (it never says which of login, password or status was wrong).
//!
//! Lookups are by id, by login (case-insensitive), by login short name (the
//! part before `@`, as Okta resolves it) and by `me`: the API token's owner
//! ([`FakeOkta::with_token_owner`]).
//!
//! Errors have Okta's shape (`errorCode`, `errorSummary`, `errorCauses`);
//! rate limiting answers 429 `E0000047` with the `X-Rate-Limit-*` headers.
//!
//! The fake sits behind a [`FaultProxy`](crate::faults::FaultProxy) that names each request by method
//! and path ([`CALLS`], [`call_name`]), so any [`FaultKind`] can be armed on
//! the nth occurrence of a call.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::http::{HttpFake, Service};
use crate::faults::{FaultKind, ProxiedRequest};

/// The call names: `get_user` (`GET /api/v1/users/{login or id}`),
/// `change_password` (`POST /api/v1/users/{id}/credentials/change_password`),
/// `set_password` (`POST /api/v1/users/{id}`, the admin set-password),
/// `authn` (`POST /api/v1/authn`), `list_users` (`GET /api/v1/users`, as
/// Keeper's example script finds a user by email), and `other` for
/// anything else.
pub const CALLS: [&str; 6] = [
    "get_user",
    "change_password",
    "set_password",
    "authn",
    "list_users",
    "other",
];

/// Names a request by its method and path.
pub fn call_name(request: &ProxiedRequest) -> String {
    if request.method == "POST" && request.path == "/api/v1/authn" {
        return "authn".into();
    }
    if request.method == "GET" && request.path.trim_end_matches('/') == "/api/v1/users" {
        return "list_users".into();
    }
    let tail: Vec<&str> = request
        .path
        .strip_prefix("/api/v1/users/")
        .map(|rest| rest.split('/').skip(1).collect())
        .unwrap_or_else(|| vec!["?"]);
    match (request.method.as_str(), tail.as_slice()) {
        ("GET", []) => "get_user",
        ("POST", ["credentials", "change_password"]) => "change_password",
        ("POST", []) => "set_password",
        _ => "other",
    }
    .to_owned()
}

/// The password policy the fake enforces.
#[derive(Debug, Clone)]
pub struct Policy {
    pub min_length: usize,
    pub require_upper: bool,
    pub require_lower: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
    /// How many previous passwords may not be reused.
    pub history: usize,
    /// With `strict=true`: how long a password must be kept.
    pub min_age: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            min_length: 8,
            require_upper: true,
            require_lower: true,
            require_digit: true,
            require_symbol: false,
            history: 4,
            min_age: Duration::ZERO,
        }
    }
}

/// An Okta user.
#[derive(Debug, Clone)]
pub struct OktaUser {
    pub id: String,
    pub login: String,
    pub status: String,
    pub password: String,
    pub history: Vec<String>,
    /// Whether signing in asks for a second factor (`MFA_REQUIRED`).
    pub mfa: bool,
    changed_at: Instant,
}

/// Something the fake does to the next matching request instead.
#[derive(Debug, Clone)]
pub enum OktaFault {
    /// 429 E0000047 with `X-Rate-Limit-Reset` this many seconds ahead.
    RateLimit { reset_in: u64 },
    /// Serve the request normally, but answer only after this delay.
    Delay(Duration),
    /// 500 E0000009.
    ServerError,
    /// This status and body, as they are (an echo of the request, say).
    Reply { status: u16, body: String },
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct OktaRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: String,
    pub body: Value,
}

/// The org's users, its policy and its token: the service behind
/// [`FakeOkta`].
pub struct State {
    token: String,
    scheme: String,
    /// The login of the user the API token belongs to (`/users/me`).
    token_owner: Option<String>,
    users: Vec<OktaUser>,
    policy: Policy,
    faults: VecDeque<(String, OktaFault)>,
    requests: Vec<OktaRequest>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

/// The fake, listening on 127.0.0.1 until dropped.
pub type FakeOkta = HttpFake<State>;

impl FakeOkta {
    /// Starts a fake that accepts `Authorization: SSWS <token>`.
    pub fn start(token: &str) -> Self {
        Self::serve(State {
            token: token.to_owned(),
            scheme: "SSWS".into(),
            token_owner: None,
            users: Vec::new(),
            policy: Policy::default(),
            faults: VecDeque::new(),
            requests: Vec::new(),
        })
    }

    /// The org URL: the fault proxy in front of the fake.
    pub fn url(&self) -> String {
        self.base_url()
    }

    /// Expects `Authorization: Bearer <token>` instead of SSWS.
    pub fn bearer(self) -> Self {
        self.state().scheme = "Bearer".into();
        self
    }

    pub fn with_user(self, login: &str, status: &str, password: &str) -> Self {
        {
            let mut state = self.state();
            let id = format!("00u{:0>17}", state.users.len() + 1);
            state.users.push(OktaUser {
                id,
                login: login.to_owned(),
                status: status.to_owned(),
                password: password.to_owned(),
                history: Vec::new(),
                mfa: false,
                changed_at: Instant::now(),
            });
        }
        self
    }

    /// The API token belongs to this user: `GET /api/v1/users/me` answers it.
    pub fn with_token_owner(self, login: &str) -> Self {
        self.state().token_owner = Some(login.to_owned());
        self
    }

    /// Signing in as this user asks for a second factor (`MFA_REQUIRED`).
    pub fn with_mfa(self, login: &str) -> Self {
        if let Some(user) = self.state().users.iter_mut().find(|u| u.login == login) {
            user.mfa = true;
        }
        self
    }

    /// Adds `previous` to the user's password history (most recent last).
    pub fn with_history(self, login: &str, previous: &str) -> Self {
        if let Some(user) = self.state().users.iter_mut().find(|u| u.login == login) {
            user.history.push(previous.to_owned());
        }
        self
    }

    pub fn with_policy(self, policy: Policy) -> Self {
        self.state().policy = policy;
        self
    }

    /// Applies `fault` to the next `count` requests whose path ends with
    /// `path_suffix` (`""` for any).
    pub fn fault(&self, path_suffix: &str, fault: OktaFault, count: usize) -> &Self {
        let mut state = self.state();
        for _ in 0..count {
            state
                .faults
                .push_back((path_suffix.to_owned(), fault.clone()));
        }
        self
    }

    /// Sets a user's password directly and forgets its history (for
    /// benchmarks that change the same password again and again).
    pub fn reset_password(&self, login: &str, password: &str) {
        if let Some(user) = self.state().users.iter_mut().find(|u| u.login == login) {
            user.password = password.to_owned();
            user.history.clear();
        }
    }

    pub fn user(&self, login: &str) -> Option<OktaUser> {
        self.state()
            .users
            .iter()
            .find(|u| u.login == login)
            .cloned()
    }

    pub fn password_of(&self, login: &str) -> Option<String> {
        self.user(login).map(|u| u.password)
    }

    pub fn requests(&self) -> Vec<OktaRequest> {
        self.state().requests.clone()
    }
}

/// Status kinds are answered by the fake: `500` is `E0000009`, `429` is
/// `E0000047` with `X-Rate-Limit-Reset` two seconds ahead, `apply-then-500`
/// applies the call and then answers `E0000009`.
impl Service for State {
    const CALLS: &'static [&'static str] = &CALLS;
    const CALL_NAME: fn(&ProxiedRequest) -> String = call_name;

    /// Every answer but the rate limit's own carries the current window's
    /// `X-Rate-Limit-*` headers, as Okta's do: the reset is the end of the
    /// minute window, up to 60 s ahead, whatever the status.
    fn respond(
        &mut self,
        request: &wiremock::Request,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        match self.answer(request, injected) {
            (answer, true) => answer,
            (answer, false) => in_window(answer),
        }
    }
}

/// `answer` with the headers of a rate-limit window that ends 60 s from now.
fn in_window(answer: ResponseTemplate) -> ResponseTemplate {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + 60;
    answer
        .insert_header("X-Rate-Limit-Limit", "600")
        .insert_header("X-Rate-Limit-Remaining", "599")
        .insert_header("X-Rate-Limit-Reset", reset.to_string().as_str())
}

impl State {
    /// The answer, and whether it is the rate limit's (its headers are its
    /// own).
    fn answer(
        &mut self,
        request: &wiremock::Request,
        injected: Option<FaultKind>,
    ) -> (ResponseTemplate, bool) {
        let state = self;
        let path = request.url.path().to_owned();
        let recorded = OktaRequest {
            method: request.method.to_string(),
            path: path.clone(),
            query: request.url.query().unwrap_or_default().to_owned(),
            authorization: request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
        };
        state.requests.push(recorded.clone());
        let fault = state
            .faults
            .iter()
            .position(|(suffix, _)| path.ends_with(suffix.as_str()))
            .and_then(|i| state.faults.remove(i))
            .map(|(_, fault)| fault);
        let fault = fault.or(match injected {
            Some(FaultKind::Status500) => Some(OktaFault::ServerError),
            // Two seconds ahead: the reset is a whole epoch second, so the
            // wait it asks is over one second whatever the clock's fraction.
            Some(FaultKind::Status429) => Some(OktaFault::RateLimit { reset_in: 2 }),
            _ => None,
        });
        let delay = match fault {
            Some(OktaFault::RateLimit { reset_in }) => return (rate_limited(reset_in), true),
            Some(OktaFault::ServerError) => return (server_error(), false),
            Some(OktaFault::Reply { status, body }) => {
                return (
                    ResponseTemplate::new(status)
                        .set_body_raw(body.into_bytes(), "application/json"),
                    false,
                );
            }
            Some(OktaFault::Delay(delay)) => delay,
            None => Duration::ZERO,
        };
        let answer = state.serve(&recorded);
        if injected == Some(FaultKind::ApplyThen500) {
            return (server_error(), false);
        }
        (answer.set_delay(delay), false)
    }
}

impl State {
    fn serve(&mut self, request: &OktaRequest) -> ResponseTemplate {
        // Primary authentication takes no API token.
        if request.method == "POST" && request.path == "/api/v1/authn" {
            return self.authn(request);
        }
        let expected = format!("{} {}", self.scheme, self.token);
        if request.authorization != expected {
            return error(401, "E0000011", "Invalid token provided", &[]);
        }
        // Every user in one page (a real org pages them with a Link
        // header; the fake's handful fit in Okta's default page of 200).
        if request.method == "GET" && request.path.trim_end_matches('/') == "/api/v1/users" {
            let users: Vec<Value> = self.users.iter().map(user_json).collect();
            return ResponseTemplate::new(200).set_body_json(Value::Array(users));
        }
        let Some(rest) = request.path.strip_prefix("/api/v1/users/") else {
            return error(
                404,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
                &[],
            );
        };
        let segments: Vec<String> = rest
            .split('/')
            .map(|s| {
                url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let who = segments.first().cloned().unwrap_or_default();
        let Some(index) = self.find(&who) else {
            return error(
                404,
                "E0000007",
                &format!("Not found: Resource not found: {who} (User)"),
                &[],
            );
        };
        let tail: Vec<&str> = segments[1..].iter().map(String::as_str).collect();
        match (request.method.as_str(), tail.as_slice()) {
            ("GET", []) => ResponseTemplate::new(200).set_body_json(user_json(&self.users[index])),
            ("POST", ["credentials", "change_password"]) => {
                self.change_password(index, request, request.query.contains("strict=true"))
            }
            ("POST", []) => self.admin_set(index, request),
            _ => error(
                405,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
                &[],
            ),
        }
    }

    /// A user by id, login, login short name, or `me` (the token's owner),
    /// as Okta resolves them; logins are case-insensitive.
    fn find(&self, who: &str) -> Option<usize> {
        let login = if who == "me" {
            self.token_owner.as_deref()?
        } else {
            who
        };
        let by = |matches: &dyn Fn(&OktaUser) -> bool| self.users.iter().position(matches);
        by(&|u| u.id == login)
            .or_else(|| by(&|u| u.login.eq_ignore_ascii_case(login)))
            .or_else(|| {
                by(&|u| {
                    u.login
                        .split_once('@')
                        .is_some_and(|(short, _)| short.eq_ignore_ascii_case(login))
                })
            })
    }

    /// `POST /api/v1/authn`: signs a user in with a password.
    fn authn(&mut self, request: &OktaRequest) -> ResponseTemplate {
        let field = |name: &str| request.body.get(name).and_then(Value::as_str);
        let failed = || error(401, "E0000004", "Authentication failed", &[]);
        let (Some(username), Some(password)) = (field("username"), field("password")) else {
            return error(
                400,
                "E0000001",
                "Api validation failed: username",
                &["username and password are required"],
            );
        };
        let Some(user) = self
            .users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(username))
        else {
            return failed();
        };
        if user.password != password {
            return failed();
        }
        let status = match user.status.as_str() {
            "PASSWORD_EXPIRED" => "PASSWORD_EXPIRED",
            "ACTIVE" | "RECOVERY" if user.mfa => "MFA_REQUIRED",
            "ACTIVE" | "RECOVERY" => "SUCCESS",
            // STAGED, SUSPENDED, DEPROVISIONED, LOCKED_OUT: Okta's answer does
            // not tell them from a wrong password.
            _ => return failed(),
        };
        let mut answer = json!({
            "status": status,
            "expiresAt": "2030-01-01T00:00:00.000Z",
            "_embedded": {"user": {"id": user.id, "profile": {"login": user.login}}},
        });
        if status == "SUCCESS" {
            answer["sessionToken"] = json!("20111fakeSessionToken0000000001");
        } else {
            answer["stateToken"] = json!("00fakeStateToken000000000000001");
        }
        ResponseTemplate::new(200).set_body_json(answer)
    }

    fn change_password(
        &mut self,
        index: usize,
        request: &OktaRequest,
        strict: bool,
    ) -> ResponseTemplate {
        let user = &self.users[index];
        if let Some(refused) = not_active(user) {
            return refused;
        }
        let old = request
            .body
            .pointer("/oldPassword/value")
            .and_then(Value::as_str);
        let new = request
            .body
            .pointer("/newPassword/value")
            .and_then(Value::as_str);
        let (Some(old), Some(new)) = (old, new) else {
            return error(
                400,
                "E0000001",
                "Api validation failed: password",
                &["oldPassword and newPassword are required as {\"value\": ...}"],
            );
        };
        if old != user.password {
            return error(
                403,
                "E0000014",
                "Update of credentials failed",
                &["oldPassword: The credentials provided were incorrect."],
            );
        }
        if strict && user.changed_at.elapsed() < self.policy.min_age {
            return error(
                403,
                "E0000014",
                "Update of credentials failed",
                &["password: Password has been changed too recently"],
            );
        }
        if let Err(cause) = self.check_policy(index, new, true) {
            return error(403, "E0000014", "Update of credentials failed", &[&cause]);
        }
        self.set(index, new);
        ResponseTemplate::new(200).set_body_json(json!({
            "password": {},
            "provider": {"type": "OKTA", "name": "OKTA"}
        }))
    }

    fn admin_set(&mut self, index: usize, request: &OktaRequest) -> ResponseTemplate {
        let Some(new) = request
            .body
            .pointer("/credentials/password/value")
            .and_then(Value::as_str)
        else {
            return error(
                400,
                "E0000001",
                "Api validation failed: credentials",
                &["credentials.password.value is required"],
            );
        };
        if let Some(refused) = not_active(&self.users[index]) {
            return refused;
        }
        // Okta's admin set-password does not apply the history rule.
        if let Err(cause) = self.check_policy(index, new, false) {
            return error(
                400,
                "E0000001",
                "Api validation failed: password",
                &[&cause],
            );
        }
        self.set(index, new);
        ResponseTemplate::new(200).set_body_json(user_json(&self.users[index]))
    }

    fn check_policy(&self, index: usize, password: &str, history: bool) -> Result<(), String> {
        let p = &self.policy;
        let user = &self.users[index];
        let mut missing = Vec::new();
        if password.chars().count() < p.min_length {
            missing.push(format!("at least {} characters", p.min_length));
        }
        if p.require_upper && !password.chars().any(char::is_uppercase) {
            missing.push("an uppercase letter".into());
        }
        if p.require_lower && !password.chars().any(char::is_lowercase) {
            missing.push("a lowercase letter".into());
        }
        if p.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            missing.push("a number".into());
        }
        if p.require_symbol && password.chars().all(char::is_alphanumeric) {
            missing.push("a symbol".into());
        }
        if !missing.is_empty() {
            return Err(format!(
                "password: Password requirements were not met. Password requirements: {}.",
                missing.join(", ")
            ));
        }
        if history {
            let recent = user.history.iter().rev().take(p.history.saturating_sub(1));
            if password == user.password || recent.into_iter().any(|h| h == password) {
                return Err(format!(
                    "password: Password has been used too recently. Your password cannot be any of your last {} passwords.",
                    p.history
                ));
            }
        }
        Ok(())
    }

    fn set(&mut self, index: usize, password: &str) {
        let user = &mut self.users[index];
        let old = std::mem::replace(&mut user.password, password.to_owned());
        user.history.push(old);
        user.changed_at = Instant::now();
        if user.status == "PASSWORD_EXPIRED" {
            user.status = "ACTIVE".into();
        }
    }
}

/// Okta's refusal to change the password of a user in a status that has
/// none to change (`SUSPENDED`, `DEPROVISIONED`, `LOCKED_OUT`...).
fn not_active(user: &OktaUser) -> Option<ResponseTemplate> {
    let active = matches!(
        user.status.as_str(),
        "STAGED" | "ACTIVE" | "PASSWORD_EXPIRED" | "RECOVERY"
    );
    (!active).then(|| {
        error(
            403,
            "E0000112",
            "Unable to update password, because the user is not active",
            &[],
        )
    })
}

fn user_json(user: &OktaUser) -> Value {
    json!({
        "id": user.id,
        "status": user.status,
        "profile": {"login": user.login, "email": user.login},
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}}
    })
}

fn error(status: u16, code: &str, summary: &str, causes: &[&str]) -> ResponseTemplate {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    ResponseTemplate::new(status).set_body_json(json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": "oaeFakeErrorId0001",
        "errorCauses": causes,
    }))
}

fn server_error() -> ResponseTemplate {
    error(500, "E0000009", "Internal Server Error", &[])
}

fn rate_limited(reset_in: u64) -> ResponseTemplate {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + reset_in;
    error(
        429,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
        &[],
    )
    .insert_header("X-Rate-Limit-Limit", "600")
    .insert_header("X-Rate-Limit-Remaining", "0")
    .insert_header("X-Rate-Limit-Reset", reset.to_string().as_str())
}
