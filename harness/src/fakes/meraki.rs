//! A stateful fake of the Meraki Dashboard API's authorized users of one
//! network (Meraki authentication: 802.1X, splash guest, client VPN).
//!
//! - `GET /api/v1/networks/{networkId}/merakiAuthUsers`: the users, each
//!   `{id, email, name, createdAt, accountType, isAdmin, authorizations}`;
//!   an id is the base64 of the email, as Meraki's are (so it may hold `/`,
//!   `+` and `=`, which a client must encode in the path);
//! - `GET …/merakiAuthUsers/{id}`: one user;
//! - `PUT …/merakiAuthUsers/{id}` with `password` (and `emailPasswordToUser`):
//!   sets the password; a Dashboard administrator is refused (`400`), as is
//!   a password shorter than 8 characters.
//!
//! The key is taken as `Authorization: Bearer <key>` or in
//! `X-Cisco-Meraki-API-Key`, as Meraki takes it; anything else is `401`.
//! Another network is `404`. Errors have Meraki's shape (`{"errors": [...]}`);
//! the rate limit is `429` with `Retry-After`, as Meraki's is, and an
//! organisation on another shard is a `308` to its host, as Meraki sends
//! ([`FakeMeraki::redirecting_to`]).
//!
//! The fake sits behind a [`FaultProxy`](crate::faults::FaultProxy) that
//! names each request ([`CALLS`], [`call_name`]), so any [`FaultKind`] can
//! be armed on the nth occurrence of a call.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::http::{HttpFake, Service, path_segments};
use crate::faults::{FaultKind, ProxiedRequest};

/// The call names: `list_users`, `get_user`, `update_user` (the `PUT` that
/// sets a password), and `other` for anything else.
pub const CALLS: [&str; 4] = ["list_users", "get_user", "update_user", "other"];

/// Names a request by its method and path.
pub fn call_name(request: &ProxiedRequest) -> String {
    let tail: Vec<&str> = request
        .path
        .split_once("/merakiAuthUsers")
        .map(|(_, rest)| rest.split('/').filter(|s| !s.is_empty()).collect())
        .unwrap_or_else(|| vec!["?", "?"]);
    match (request.method.as_str(), tail.as_slice()) {
        ("GET", []) => "list_users",
        ("GET", [_]) => "get_user",
        ("PUT", [_]) => "update_user",
        _ => "other",
    }
    .to_owned()
}

/// One authorized user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: String,
    pub email: String,
    pub account_type: String,
    pub is_admin: bool,
    pub password: String,
    /// Whether a change asked Meraki to email the password to the user.
    pub emailed: bool,
    /// How many times the password was set.
    pub changes: u32,
}

/// The network, its users and the API key: the service behind
/// [`FakeMeraki`].
pub struct State {
    key: String,
    network: String,
    users: Vec<AuthUser>,
    /// Users the listing also shows, with ids that are no Meraki id (a
    /// hostile or broken listing).
    odd: Vec<Value>,
    /// The host requests are redirected to (Meraki's shard redirect, 308),
    /// and whether only changes are.
    redirect: Option<(String, bool)>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// The fake, listening on 127.0.0.1 until dropped.
pub type FakeMeraki = HttpFake<State>;

impl FakeMeraki {
    /// Starts a fake of network `network` that takes the API key `key`.
    pub fn start(key: &str, network: &str) -> Self {
        Self::serve(State {
            key: key.to_owned(),
            network: network.to_owned(),
            users: Vec::new(),
            odd: Vec::new(),
            redirect: None,
        })
    }

    /// Answers every request with Meraki's shard redirect to `host` (308,
    /// nothing applied), or only the changes (`PUT`) when `changes_only`.
    pub fn redirecting_to(self, host: &str, changes_only: bool) -> Self {
        self.state().redirect = Some((host.to_owned(), changes_only));
        self
    }

    /// The API's base URL, `/api/v1` included: what `meraki_api_url` holds.
    pub fn url(&self) -> String {
        format!("{}/api/v1", self.base_url())
    }

    /// Adds an 802.1X user with this email and password.
    pub fn with_user(self, email: &str, password: &str) -> Self {
        self.state().users.push(AuthUser {
            id: STANDARD.encode(email),
            email: email.to_owned(),
            account_type: "802.1X".into(),
            is_admin: false,
            password: password.to_owned(),
            emailed: false,
            changes: 0,
        });
        self
    }

    /// Adds a Dashboard administrator with this email.
    pub fn with_admin(self, email: &str, password: &str) -> Self {
        let fake = self.with_user(email, password);
        if let Some(user) = fake.state().users.last_mut() {
            user.is_admin = true;
        }
        fake
    }

    /// Adds a listing entry as it is (an id that is no Meraki id, say).
    pub fn with_listed(self, entry: Value) -> Self {
        self.state().odd.push(entry);
        self
    }

    pub fn user(&self, email: &str) -> Option<AuthUser> {
        self.state()
            .users
            .iter()
            .find(|u| u.email == email)
            .cloned()
    }

    pub fn password_of(&self, email: &str) -> Option<String> {
        self.user(email).map(|u| u.password)
    }
}

/// Status kinds are answered by the fake: `500` is Meraki's error shape,
/// `429` its rate limit with `Retry-After: 1`, `apply-then-500` sets the
/// password and then answers `500`.
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
        let (method, path) = (request.method.as_str(), request.url.path());
        match injected {
            Some(FaultKind::Status500) => return errors(500, "Internal server error"),
            Some(FaultKind::Status429) => {
                return errors(429, "API rate limit exceeded for organization")
                    .insert_header("Retry-After", "1");
            }
            _ => {}
        }
        let key = header("x-cisco-meraki-api-key");
        let authorized = header("authorization") == format!("Bearer {}", self.key)
            || (!key.is_empty() && key == self.key);
        if !authorized {
            return errors(401, "Invalid API key");
        }
        if let Some((host, changes_only)) = &self.redirect
            && (!changes_only || method == "PUT")
        {
            return ResponseTemplate::new(308)
                .insert_header("Location", format!("https://{host}{path}").as_str());
        }
        let answer = self.serve(method, path, &body);
        if injected == Some(FaultKind::ApplyThen500) {
            return errors(500, "Internal server error");
        }
        answer
    }
}

impl State {
    fn serve(&mut self, method: &str, path: &str, body: &Value) -> ResponseTemplate {
        let segments = path_segments(path);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (method, segments.as_slice()) {
            (_, ["api", "v1", "networks", network, "merakiAuthUsers", ..])
                if *network != self.network =>
            {
                errors(404, "Not found")
            }
            ("GET", ["api", "v1", "networks", _, "merakiAuthUsers"]) => {
                let mut listed: Vec<Value> = self.users.iter().map(user_json).collect();
                listed.extend(self.odd.iter().cloned());
                ResponseTemplate::new(200).set_body_json(Value::Array(listed))
            }
            ("GET", ["api", "v1", "networks", _, "merakiAuthUsers", id]) => {
                match self.users.iter().find(|u| u.id == *id) {
                    Some(user) => ResponseTemplate::new(200).set_body_json(user_json(user)),
                    None => errors(404, "Not found"),
                }
            }
            ("PUT", ["api", "v1", "networks", _, "merakiAuthUsers", id]) => {
                let Some(user) = self.users.iter_mut().find(|u| u.id == *id) else {
                    return errors(404, "Not found");
                };
                if user.is_admin {
                    return errors(
                        400,
                        "Password cannot be updated for a Dashboard administrator",
                    );
                }
                let Some(password) = body.get("password").and_then(Value::as_str) else {
                    return errors(400, "'password' must be a string");
                };
                if password.chars().count() < 8 {
                    return errors(400, "Password must be at least 8 characters");
                }
                user.password = password.to_owned();
                user.changes += 1;
                user.emailed = body
                    .get("emailPasswordToUser")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                ResponseTemplate::new(200).set_body_json(user_json(user))
            }
            _ => errors(404, "Not found"),
        }
    }
}

/// A user as Meraki lists it (never its password).
fn user_json(user: &AuthUser) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "name": user.email.split('@').next().unwrap_or_default(),
        "createdAt": "2024-01-01T00:00:00.000000Z",
        "accountType": user.account_type,
        "isAdmin": user.is_admin,
        "authorizations": [{"ssidNumber": 1, "authorizedZone": "Office", "expiresAt": "Never"}],
    })
}

/// Meraki's error shape.
fn errors(status: u16, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"errors": [text]}))
}
