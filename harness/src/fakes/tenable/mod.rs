//! A stateful fake of Tenable's API in both its flavours, over one set of
//! users and managed credentials (one fake serves either: a test points
//! `tenable_url` or `tenable_sc_host` at it). The users and the sign-in are
//! here; the managed credentials in [`credentials`].
//!
//! Tenable Vulnerability Management (Tenable.io), keys in `X-ApiKeys:
//! accessKey=…; secretKey=…;`:
//! - `GET /users`: `{"users": [{id, uuid, username, email, type, enabled,
//!   permissions, …}]}`;
//! - `PUT /users/{id}/chpasswd` with `password` (and `current_password`):
//!   sets it; a password under 12 characters, or without an upper-case
//!   letter, a lower-case letter, a digit and a special character, is
//!   refused (`400`), as is a wrong current password;
//! - errors as `{"statusCode", "error", "message"}`; a wrong key `401`.
//!
//! Tenable Security Center, keys in `x-apikey: accesskey=…; secretkey=…;`,
//! every answer wrapped in `{"type", "response", "error_code", "error_msg",
//! "warnings", "timestamp"}`:
//! - `GET /rest/user`: the users (`id` as a string, `authType`);
//! - `PATCH /rest/user/{id}` with `password` (and `currentPassword`): sets
//!   it; a user whose `authType` is not `tns` (LDAP, SAML) is refused, as is
//!   a wrong current password;
//! - `POST /rest/token` with `username` and `password` (no keys): a session
//!   token and a `TNS_SESSIONID` cookie, or `403` for a wrong password;
//!   `DELETE /rest/token` with `X-SecurityCenter` and the cookie ends it;
//! - errors are `403` with an `error_code`, as Security Center sends.
//!
//! The rate limit is `429` with `Retry-After`. The fake sits behind a
//! [`FaultProxy`](crate::faults::FaultProxy) that names each request
//! ([`CALLS`], [`call_name`]), so any [`FaultKind`] can be armed on the nth
//! occurrence of a call.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

mod credentials;

pub use credentials::{Credential, MASKED};

use super::http::{HttpFake, Service};
use crate::faults::{FaultKind, ProxiedRequest};

/// The call names: `list_users`, `change_password` (Tenable.io's `PUT
/// …/chpasswd`, Security Center's `PATCH /rest/user/{id}`), `sign_in` and
/// `sign_out` (Security Center's `/rest/token`), `list_credentials`,
/// `get_credential` and `update_credential` (managed credentials: `GET
/// /credentials`, `GET`/`PUT /credentials/{uuid}`; Security Center's `GET
/// /rest/credential`, `GET`/`PATCH /rest/credential/{id}`), and `other`.
pub const CALLS: [&str; 8] = [
    "list_users",
    "change_password",
    "sign_in",
    "sign_out",
    "list_credentials",
    "get_credential",
    "update_credential",
    "other",
];

/// Names a request by its method and path.
pub fn call_name(request: &ProxiedRequest) -> String {
    let path = request.path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let tail = segments
        .iter()
        .rposition(|s| ["users", "user", "token", "credentials", "credential"].contains(s))
        .map(|at| &segments[at..])
        .unwrap_or_default();
    match (request.method.as_str(), tail) {
        ("GET", ["users" | "user"]) => "list_users",
        ("PUT", ["users", _, "chpasswd"]) | ("PATCH", ["user", _]) => "change_password",
        ("POST", ["token"]) => "sign_in",
        ("DELETE", ["token"]) => "sign_out",
        ("GET", ["credentials" | "credential"]) => "list_credentials",
        ("GET", ["credentials" | "credential", _]) => "get_credential",
        ("PUT", ["credentials", _]) | ("PATCH", ["credential", _]) => "update_credential",
        _ => "other",
    }
    .to_owned()
}

/// One Tenable user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub password: String,
    /// Security Center's `authType`: `tns` (a password it keeps), `ldap`,
    /// `saml`.
    pub auth_type: String,
    /// How many times the password was set.
    pub changes: u32,
    /// Sign-ins with the right password.
    pub sign_ins: u32,
}

/// A request the fake received (its body without the values: passwords).
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The `X-ApiKeys` header (Tenable.io's), as sent.
    pub io_keys: String,
    /// The `x-apikey` header (Security Center's), as sent.
    pub sc_keys: String,
    /// The body's keys.
    pub keys: Vec<String>,
}

/// The users, the keys and the open sessions: the service behind
/// [`FakeTenable`].
pub struct State {
    access_key: String,
    secret_key: String,
    users: Vec<User>,
    credentials: Vec<Credential>,
    /// Listing entries shown as they are (a broken or hostile listing).
    odd: Vec<Value>,
    /// Open Security Center sessions: token, cookie, user id.
    sessions: Vec<(String, String, u64)>,
    next_token: u64,
    /// Security Center refuses every sign-in (the password changed again
    /// behind the rotation's back, say).
    refuse_sign_in: bool,
    /// A user with the right password has used up its sessions: the
    /// sign-in answers `releaseSession: true` and no token.
    sessions_used_up: bool,
    /// Credential updates are answered as accepted but not applied (a
    /// broken or hostile service).
    ignore_updates: bool,
    /// Credential details show the escalation password in clear, and an
    /// update is refused with a message that echoes it (a hostile service).
    echo_secrets: bool,
    requests: Vec<Received>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

/// The fake, listening on 127.0.0.1 until dropped.
pub type FakeTenable = HttpFake<State>;

impl FakeTenable {
    /// Starts a fake that takes the API key pair `access_key`, `secret_key`.
    pub fn start(access_key: &str, secret_key: &str) -> Self {
        Self::serve(State {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            users: Vec::new(),
            credentials: Vec::new(),
            odd: Vec::new(),
            sessions: Vec::new(),
            next_token: 4_242_000,
            refuse_sign_in: false,
            sessions_used_up: false,
            ignore_updates: false,
            echo_secrets: false,
            requests: Vec::new(),
        })
    }

    /// Tenable.io's API URL: what `tenable_url` holds.
    pub fn url(&self) -> String {
        self.base_url()
    }

    /// Security Center's address: what `tenable_sc_host` holds (the binary
    /// adds `/rest`).
    pub fn sc_host(&self) -> String {
        self.base_url()
    }

    /// Adds a user with this name and password (a password Security Center
    /// keeps: `authType` `tns`).
    pub fn with_user(self, username: &str, password: &str) -> Self {
        self.with_auth_type(username, password, "tns")
    }

    /// Adds a user that signs in to Security Center through `auth_type`
    /// (`ldap`, `saml`).
    pub fn with_auth_type(self, username: &str, password: &str, auth_type: &str) -> Self {
        {
            let mut state = self.state();
            let id = 100 + state.users.len() as u64;
            state.users.push(User {
                id,
                username: username.to_owned(),
                password: password.to_owned(),
                auth_type: auth_type.to_owned(),
                changes: 0,
                sign_ins: 0,
            });
        }
        self
    }

    /// Refuses every Security Center sign-in, whatever the password.
    pub fn refusing_sign_in(self) -> Self {
        self.state().refuse_sign_in = true;
        self
    }

    /// Every Security Center user has used up its sessions (signed in
    /// elsewhere): a sign-in with the right password answers
    /// `releaseSession: true` without a token, as Security Center does
    /// unless asked to release the other session.
    pub fn with_sessions_used_up(self) -> Self {
        self.state().sessions_used_up = true;
        self
    }

    /// Adds a Windows managed credential with this name, its account's user
    /// name and password, authenticating with the password.
    pub fn with_credential(self, name: &str, username: &str, password: &str) -> Self {
        self.with_credential_auth(name, username, password, "Password")
    }

    /// Adds a managed credential that authenticates with `auth_method`
    /// (`Password`, `certificate`).
    pub fn with_credential_auth(
        self,
        name: &str,
        username: &str,
        password: &str,
        auth_method: &str,
    ) -> Self {
        {
            let mut state = self.state();
            let id = 500 + state.credentials.len() as u64;
            state.credentials.push(Credential {
                id,
                uuid: format!("c0ffee00-0000-4000-8000-{id:012}"),
                name: name.to_owned(),
                kind: "Windows".into(),
                auth_method: auth_method.to_owned(),
                username: username.to_owned(),
                password: password.to_owned(),
                escalation_password: "Lk8#escalate-Vb3".into(),
                editable: true,
                changes: 0,
            });
        }
        self
    }

    /// Answers every credential update as accepted without applying it.
    pub fn ignoring_updates(self) -> Self {
        self.state().ignore_updates = true;
        self
    }

    /// Shows every credential's escalation password in clear in its
    /// details, and refuses every update with a message that echoes it.
    pub fn echoing_secrets(self) -> Self {
        self.state().echo_secrets = true;
        self
    }

    /// Makes the credential named `name` usable but not editable by the
    /// keys' user.
    pub fn read_only(self, name: &str) -> Self {
        for credential in self.state().credentials.iter_mut() {
            if credential.name == name {
                credential.editable = false;
            }
        }
        self
    }

    pub fn credential(&self, name: &str) -> Option<Credential> {
        self.state()
            .credentials
            .iter()
            .find(|c| c.name == name)
            .cloned()
    }

    /// Adds an entry, as it is, to every listing (users and credentials):
    /// an id that is no Tenable id, say.
    pub fn with_listed(self, entry: Value) -> Self {
        self.state().odd.push(entry);
        self
    }

    pub fn user(&self, username: &str) -> Option<User> {
        self.state()
            .users
            .iter()
            .find(|u| u.username == username)
            .cloned()
    }

    pub fn password_of(&self, username: &str) -> Option<String> {
        self.user(username).map(|u| u.password)
    }

    /// Security Center sessions still open.
    pub fn open_sessions(&self) -> usize {
        self.state().sessions.len()
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state().requests.clone()
    }
}

/// Which API a request is for, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Io,
    Sc,
}

/// Status kinds are answered by the fake in the flavour's own shape: `500`,
/// `429` with `Retry-After: 1`, and `apply-then-500`, which applies the
/// request and then answers `500`.
impl Service for State {
    const CALLS: &'static [&'static str] = &CALLS;
    const CALL_NAME: fn(&ProxiedRequest) -> String = call_name;

    fn respond(
        &mut self,
        request: &wiremock::Request,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let received = Received {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            io_keys: header("x-apikeys"),
            sc_keys: header("x-apikey"),
            keys: body
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        };
        self.requests.push(received.clone());
        let segments: Vec<String> = received
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let flavour = if segments.first().map(String::as_str) == Some("rest") {
            Flavour::Sc
        } else {
            Flavour::Io
        };
        match injected {
            Some(FaultKind::Status500) => return error(flavour, 500, "Internal Server Error"),
            Some(FaultKind::Status429) => {
                return error(flavour, 429, "Too Many Requests").insert_header("Retry-After", "1");
            }
            _ => {}
        }
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let answer = match (flavour, segments.as_slice()) {
            (Flavour::Sc, ["rest", "token"]) => self.token(&received.method, request, &body),
            _ if !self.authorized(flavour, &received) => match flavour {
                Flavour::Io => error(flavour, 401, "Invalid Credentials"),
                Flavour::Sc => error(flavour, 403, "Invalid API key"),
            },
            (Flavour::Io, ["credentials", ..]) => {
                self.io_credentials(&received.method, &segments, request, &body)
            }
            (Flavour::Sc, ["rest", "credential", ..]) => {
                self.sc_credentials(&received.method, &segments, &body)
            }
            (Flavour::Io, rest) => self.io(&received.method, rest, &body),
            (Flavour::Sc, rest) => self.sc(&received.method, rest, &body),
        };
        if injected == Some(FaultKind::ApplyThen500) {
            return error(flavour, 500, "Internal Server Error");
        }
        answer
    }
}

impl State {
    /// Whether the flavour's key header holds this fake's key pair, in the
    /// flavour's spelling (`accessKey` for Tenable.io, `accesskey` for
    /// Security Center).
    fn authorized(&self, flavour: Flavour, request: &Received) -> bool {
        let (value, access, secret) = match flavour {
            Flavour::Io => (&request.io_keys, "accessKey", "secretKey"),
            Flavour::Sc => (&request.sc_keys, "accesskey", "secretkey"),
        };
        let pairs: Vec<(&str, &str)> = value
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .collect();
        pairs.len() == 2
            && pairs.contains(&(access, self.access_key.as_str()))
            && pairs.contains(&(secret, self.secret_key.as_str()))
    }

    fn listing(&self, flavour: Flavour) -> Vec<Value> {
        let mut listed: Vec<Value> = self
            .users
            .iter()
            .map(|u| match flavour {
                Flavour::Io => json!({
                    "uuid": format!("00000000-0000-4000-8000-{:012}", u.id),
                    "id": u.id,
                    "user_name": u.username,
                    "username": u.username,
                    "email": u.username,
                    "name": u.username,
                    "type": "local",
                    "permissions": 32,
                    "login_fail_count": 0,
                    "enabled": true,
                    "lockout": 0,
                }),
                Flavour::Sc => json!({
                    "id": u.id.to_string(),
                    "username": u.username,
                    "authType": u.auth_type,
                }),
            })
            .collect();
        listed.extend(self.odd.iter().cloned());
        listed
    }

    fn io(&mut self, method: &str, segments: &[&str], body: &Value) -> ResponseTemplate {
        match (method, segments) {
            ("GET", ["users"]) => ResponseTemplate::new(200)
                .set_body_json(json!({"users": self.listing(Flavour::Io)})),
            ("PUT", ["users", id, "chpasswd"]) => {
                let Some(user) = self.users.iter_mut().find(|u| u.id.to_string() == *id) else {
                    return error(Flavour::Io, 404, "User not found");
                };
                let Some(password) = body.get("password").and_then(Value::as_str) else {
                    return error(Flavour::Io, 400, "password is required");
                };
                if let Some(current) = body.get("current_password")
                    && current.as_str() != Some(user.password.as_str())
                {
                    return error(Flavour::Io, 400, "Invalid current password");
                }
                if !io_policy(password) {
                    return error(
                        Flavour::Io,
                        400,
                        "Password must be at least 12 characters long and contain an uppercase \
                         letter, a lowercase letter, a number and a special character",
                    );
                }
                user.password = password.to_owned();
                user.changes += 1;
                ResponseTemplate::new(200).set_body_json(json!({}))
            }
            _ => error(Flavour::Io, 404, "Not Found"),
        }
    }

    fn sc(&mut self, method: &str, segments: &[&str], body: &Value) -> ResponseTemplate {
        match (method, segments) {
            ("GET", ["rest", "user"]) => {
                ResponseTemplate::new(200).set_body_json(sc_ok(json!(self.listing(Flavour::Sc))))
            }
            ("PATCH", ["rest", "user", id]) => {
                let Some(user) = self.users.iter_mut().find(|u| u.id.to_string() == *id) else {
                    return error(Flavour::Sc, 404, "User not found");
                };
                let Some(password) = body.get("password").and_then(Value::as_str) else {
                    return error(Flavour::Sc, 400, "password is required");
                };
                if user.auth_type != "tns" {
                    return error(
                        Flavour::Sc,
                        403,
                        "The password of a user who does not sign in with TNS cannot be set",
                    );
                }
                if let Some(current) = body.get("currentPassword")
                    && current.as_str() != Some(user.password.as_str())
                {
                    return error(Flavour::Sc, 403, "Current password is incorrect");
                }
                if password.is_empty() {
                    return error(Flavour::Sc, 400, "Password cannot be empty");
                }
                user.password = password.to_owned();
                user.changes += 1;
                ResponseTemplate::new(200).set_body_json(sc_ok(json!({
                    "id": user.id.to_string(),
                    "username": user.username,
                    "authType": user.auth_type,
                    "password": "SET",
                })))
            }
            _ => error(Flavour::Sc, 404, "Not Found"),
        }
    }

    /// Security Center's sign-in and sign-out.
    fn token(
        &mut self,
        method: &str,
        request: &wiremock::Request,
        body: &Value,
    ) -> ResponseTemplate {
        match method {
            "POST" => {
                let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
                if self.refuse_sign_in {
                    return error(Flavour::Sc, 403, "Invalid login credentials");
                }
                let Some(user) = self.users.iter_mut().find(|u| {
                    u.username == text("username")
                        && u.auth_type == "tns"
                        && u.password == text("password")
                }) else {
                    return error(Flavour::Sc, 403, "Invalid login credentials");
                };
                if self.sessions_used_up && body.get("releaseSession") != Some(&json!(true)) {
                    return ResponseTemplate::new(200)
                        .set_body_json(sc_ok(json!({"releaseSession": true})));
                }
                user.sign_ins += 1;
                let id = user.id;
                self.next_token += 1;
                let token = self.next_token.to_string();
                let cookie = format!("s{:016x}", self.next_token.wrapping_mul(0x9e37_79b9));
                self.sessions.push((token.clone(), cookie.clone(), id));
                ResponseTemplate::new(200)
                    .insert_header(
                        "Set-Cookie",
                        format!("TNS_SESSIONID={cookie}; path=/; HttpOnly").as_str(),
                    )
                    .set_body_json(sc_ok(json!({
                        "token": self.next_token,
                        "unassociatedCert": "false",
                    })))
            }
            "DELETE" => {
                let header = |name: &str| {
                    request
                        .headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let token = header("x-securitycenter");
                let cookies = header("cookie");
                let before = self.sessions.len();
                self.sessions.retain(|(t, c, _)| {
                    !(*t == token
                        && cookies
                            .split(';')
                            .any(|p| p.trim() == format!("TNS_SESSIONID={c}")))
                });
                if self.sessions.len() == before {
                    return error(Flavour::Sc, 403, "Invalid token");
                }
                ResponseTemplate::new(200).set_body_json(sc_ok(json!("")))
            }
            _ => error(Flavour::Sc, 404, "Not Found"),
        }
    }
}

/// Tenable.io's password rules: at least 12 characters, with an upper-case
/// letter, a lower-case letter, a digit and a special character.
fn io_policy(password: &str) -> bool {
    password.chars().count() >= 12
        && password.chars().any(char::is_uppercase)
        && password.chars().any(char::is_lowercase)
        && password.chars().any(|c| c.is_ascii_digit())
        && password.chars().any(|c| !c.is_alphanumeric())
}

/// Security Center's envelope around a successful answer.
fn sc_ok(response: Value) -> Value {
    json!({
        "type": "regular",
        "response": response,
        "error_code": 0,
        "error_msg": "",
        "warnings": [],
        "timestamp": 1_700_000_000,
    })
}

/// An error in the flavour's shape.
fn error(flavour: Flavour, status: u16, text: &str) -> ResponseTemplate {
    let body = match flavour {
        Flavour::Io => json!({
            "statusCode": status,
            "error": reason(status),
            "message": text,
        }),
        Flavour::Sc => json!({
            "type": "regular",
            "response": "",
            "error_code": if status == 403 { 74 } else { u32::from(status) },
            "error_msg": text,
            "warnings": [],
            "timestamp": 1_700_000_000,
        }),
    };
    ResponseTemplate::new(status).set_body_json(body)
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    }
}
