//! A stateful fake of the Microsoft identity platform's token endpoint and the
//! Microsoft Graph application endpoints the Azure rotator uses, with JSON
//! shapes and error bodies as they are sent:
//!
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` (the tenant
//!   discovery an MSAL client, such as Python's azure-identity, makes before
//!   its first token request);
//! - `POST /{tenant}/oauth2/v2.0/token` (client credentials);
//! - `GET /v1.0/applications/{id}` and `GET /v1.0/applications(appId='{id}')`;
//! - `POST /v1.0/applications/{id}/addPassword` and `.../removePassword`.
//!
//! Applications have an object id, an appId and password credentials. New
//! secrets can be made to work only after a delay, or never; a tenant
//! credential-lifetime policy can reject long-lived secrets; each action has
//! a fault switch (throttling with Retry-After included). The fake notes every
//! call made with a token obtained from a secret that has since been removed.
//!
//! The fake sits behind a [`FaultProxy`](crate::faults::FaultProxy) that names each request as the
//! fault switches do ([`CALLS`]), so any [`FaultKind`] can be armed on the
//! nth occurrence of an action. The application's `passwordCredentials` in
//! `get` can lag: Graph is eventually consistent, and right after an
//! `addPassword` or `removePassword` a read may still show the secrets as
//! they were ([`FakeAzure::listing_lag`]).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

mod identity;

use super::http::{HttpFake, Service};
use super::lag::Lagging;
use crate::fakes::aws::iso8601;
use crate::faults::{FaultKind, ProxiedRequest};

/// The call names: `discovery` (the tenant's OpenID configuration),
/// `token` (the token endpoint), `get` (GET application by object id or
/// appId), `addPassword`, `removePassword`.
pub const CALLS: [&str; 5] = ["discovery", "token", "get", "addPassword", "removePassword"];

/// The real hosts of the identity platform and of Graph: a third-party
/// script's SDK names them, and the rehearsal routes them to this fake
/// ([`crate::fakes::vault::FakeVault::route`]).
pub const HOSTS: [&str; 2] = ["login.microsoftonline.com", "graph.microsoft.com"];

/// Names a request as the fault switches do.
pub fn call_name(request: &ProxiedRequest) -> String {
    action_of(&request.path).to_owned()
}

fn action_of(path: &str) -> &'static str {
    if path.ends_with("/oauth2/v2.0/token") {
        "token"
    } else if path.ends_with("/.well-known/openid-configuration") {
        "discovery"
    } else if path.ends_with("/addPassword") {
        "addPassword"
    } else if path.ends_with("/removePassword") {
        "removePassword"
    } else {
        "get"
    }
}

/// One password credential of an application.
#[derive(Debug, Clone)]
pub struct AzureSecret {
    pub key_id: String,
    pub display_name: String,
    pub text: String,
    pub start: String,
    pub end: String,
    usable_after: Instant,
}

#[derive(Debug, Clone)]
struct App {
    object_id: String,
    app_id: String,
    name: String,
    /// May manage every application (Application.ReadWrite.All).
    admin: bool,
    /// As they are, and as lagging reads show them (`listing_lag`).
    secrets: Lagging<AzureSecret>,
}

/// An error answer for one action.
#[derive(Debug, Clone)]
pub struct AzureFault {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl AzureFault {
    pub fn throttled(retry_after: u64) -> Self {
        Self {
            status: 429,
            code: "TooManyRequests".into(),
            message: "Too many requests.".into(),
            retry_after: Some(retry_after),
        }
    }

    pub fn server_error() -> Self {
        Self {
            status: 500,
            code: "InternalServerError".into(),
            message: "An internal server error occurred.".into(),
            retry_after: None,
        }
    }

    /// 503 `serviceUnavailable` with `Retry-After: 1`: what a gateway in
    /// front of Graph answers when it lost the backend's answer.
    pub fn unavailable() -> Self {
        Self {
            status: 503,
            code: "serviceUnavailable".into(),
            message: "Service unavailable.".into(),
            retry_after: Some(1),
        }
    }

    pub fn forbidden() -> Self {
        Self {
            status: 403,
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges to complete the operation.".into(),
            retry_after: None,
        }
    }
}

/// A Graph call the fake received.
#[derive(Debug, Clone)]
pub struct GraphCall {
    /// `token`, `get`, `addPassword` or `removePassword`.
    pub action: String,
    pub path: String,
    /// The appId the token was issued to (for Graph calls), or the client id
    /// asking for a token.
    pub client: String,
    pub body: Value,
}

struct Token {
    app_id: String,
    key_id: String,
}

/// The tenant, its applications and the tokens issued: the service behind
/// [`FakeAzure`].
pub struct State {
    tenant: String,
    apps: Vec<App>,
    tokens: HashMap<String, Token>,
    new_secret_delay: Duration,
    new_secrets_never_work: bool,
    max_lifetime_days: Option<u64>,
    faults: HashMap<String, VecDeque<AzureFault>>,
    /// Faults answered after the action was applied.
    faults_after_apply: HashMap<String, VecDeque<AzureFault>>,
    calls: Vec<GraphCall>,
    removed: Vec<String>,
    used_removed: Vec<String>,
    issued: Vec<String>,
    listing_lag: Duration,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

/// The fake, listening on 127.0.0.1 until dropped. Point both
/// `AZURE_AUTHORITY_HOST` and `MICROSOFT_GRAPH_URL` at [`FakeAzure::url`].
pub type FakeAzure = HttpFake<State>;

impl FakeAzure {
    pub fn start(tenant: &str) -> Self {
        Self::serve(State {
            tenant: tenant.to_owned(),
            apps: Vec::new(),
            tokens: HashMap::new(),
            new_secret_delay: Duration::ZERO,
            new_secrets_never_work: false,
            max_lifetime_days: None,
            faults: HashMap::new(),
            faults_after_apply: HashMap::new(),
            calls: Vec::new(),
            removed: Vec::new(),
            used_removed: Vec::new(),
            issued: Vec::new(),
            listing_lag: Duration::ZERO,
        })
    }

    /// The address of the fault proxy in front of the fake.
    pub fn url(&self) -> String {
        self.base_url()
    }

    /// `get` answers `passwordCredentials` as they were `lag` ago (changes
    /// made through the API only; secrets given at setup were always there).
    /// Tokens, `addPassword` and `removePassword` see the current state.
    pub fn listing_lag(&self, lag: Duration) -> &Self {
        self.state().listing_lag = lag;
        self
    }

    /// The environment that points a binary at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AZURE_AUTHORITY_HOST".into(), self.url()),
            ("MICROSOFT_GRAPH_URL".into(), self.url()),
        ]
    }

    /// An application; `admin` apps may manage every application.
    pub fn with_app(self, object_id: &str, app_id: &str, name: &str, admin: bool) -> Self {
        self.state().apps.push(App {
            object_id: object_id.into(),
            app_id: app_id.into(),
            name: name.into(),
            admin,
            secrets: Lagging::new(),
        });
        self
    }

    /// An existing secret of the app with `app_id`.
    pub fn with_secret(self, app_id: &str, key_id: &str, text: &str, start: &str) -> Self {
        {
            let mut state = self.state();
            state.issued.push(text.to_owned());
            let app = state
                .apps
                .iter_mut()
                .find(|a| a.app_id == app_id)
                .expect("app exists");
            app.secrets.push(AzureSecret {
                key_id: key_id.into(),
                display_name: format!("existing {key_id}"),
                text: text.into(),
                start: start.into(),
                end: "2027-12-31T00:00:00Z".into(),
                usable_after: Instant::now(),
            });
            app.secrets.settle();
        }
        self
    }

    pub fn new_secrets_work_after(self, delay: Duration) -> Self {
        self.state().new_secret_delay = delay;
        self
    }

    pub fn new_secrets_never_work(self) -> Self {
        self.state().new_secrets_never_work = true;
        self
    }

    /// The tenant policy: secrets may live at most `days`.
    pub fn max_lifetime_days(self, days: u64) -> Self {
        self.state().max_lifetime_days = Some(days);
        self
    }

    /// Answers the next `count` calls of `action` (`token`, `get`,
    /// `addPassword`, `removePassword`) with `fault`.
    pub fn fault(&self, action: &str, fault: AzureFault, count: usize) -> &Self {
        let mut state = self.state();
        let queue = state.faults.entry(action.to_owned()).or_default();
        for _ in 0..count {
            queue.push_back(fault.clone());
        }
        self
    }

    /// Applies the next `count` calls of `action` as usual, then answers
    /// them with `fault` instead of the real answer: a change made behind
    /// an error.
    pub fn fault_after_apply(&self, action: &str, fault: AzureFault, count: usize) -> &Self {
        let mut state = self.state();
        let queue = state
            .faults_after_apply
            .entry(action.to_owned())
            .or_default();
        for _ in 0..count {
            queue.push_back(fault.clone());
        }
        self
    }

    pub fn secrets(&self, app_id: &str) -> Vec<AzureSecret> {
        self.state()
            .apps
            .iter()
            .find(|a| a.app_id == app_id)
            .map(|a| a.secrets.to_vec())
            .unwrap_or_default()
    }

    pub fn calls(&self) -> Vec<GraphCall> {
        self.state().calls.clone()
    }

    /// Calls made with a token obtained from a secret removed before the call.
    pub fn calls_with_removed_secrets(&self) -> Vec<String> {
        self.state().used_removed.clone()
    }

    /// Every secret text issued or given: the leak scan's list.
    pub fn issued(&self) -> Vec<String> {
        let state = self.state();
        let mut all = state.issued.clone();
        all.extend(state.tokens.keys().cloned());
        all
    }
}

/// Status kinds are answered by the fake: `500` is Graph's (or the token
/// endpoint's) 500 JSON error, `429` is `TooManyRequests` with `Retry-After:
/// 1`, `apply-then-500` applies the action and then answers the 500.
impl Service for State {
    const CALLS: &'static [&'static str] = &CALLS;
    const CALL_NAME: fn(&ProxiedRequest) -> String = call_name;

    fn respond(
        &mut self,
        request: &wiremock::Request,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        let state = self;
        let path = request.url.path().to_owned();
        // The identity platform's answers and errors, not Graph's.
        let token = matches!(action_of(&path), "token" | "discovery");
        // Reached by a real name (a script through the proxy), each host
        // serves its own endpoints only, as the real ones do: a script that
        // swapped them would fail on a gateway, and fails here.
        let host = request
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
        if let Some(host) = host.filter(|h| HOSTS.contains(&h.as_str()))
            && host != HOSTS[usize::from(!token)]
        {
            state.calls.push(GraphCall {
                action: action_of(&path).into(),
                path: format!("{path} (sent to {host}, which does not serve it: 404)"),
                client: String::new(),
                body: Value::Null,
            });
            return ResponseTemplate::new(404);
        }
        let answer = match action_of(&path) {
            "token" => state.token(request, &path, injected),
            "discovery" => state.discovery(request, &path, injected),
            _ => state.graph(request, &path, injected),
        };
        if let Some(fault) = state
            .faults_after_apply
            .get_mut(action_of(&path))
            .and_then(VecDeque::pop_front)
        {
            let answer = if token {
                aad_error(fault.status, "temporarily_unavailable", &fault.message)
            } else {
                graph_error(fault.status, &fault.code, &fault.message)
            };
            return match fault.retry_after {
                Some(seconds) => answer.insert_header("Retry-After", seconds.to_string().as_str()),
                None => answer,
            };
        }
        if injected != Some(FaultKind::ApplyThen500) {
            return answer;
        }
        let fault = AzureFault::server_error();
        if token {
            aad_error(fault.status, "temporarily_unavailable", &fault.message)
        } else {
            graph_error(fault.status, &fault.code, &fault.message)
        }
    }
}

impl State {
    /// The queued fault for `action`, else the status kind the proxy marked
    /// the request with.
    fn fault(&mut self, action: &str, injected: Option<FaultKind>) -> Option<AzureFault> {
        if let Some(fault) = self.faults.get_mut(action).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        match injected {
            Some(FaultKind::Status500) => Some(AzureFault::server_error()),
            Some(FaultKind::Status429) => Some(AzureFault::throttled(1)),
            _ => None,
        }
    }

    fn graph(
        &mut self,
        request: &wiremock::Request,
        path: &str,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        let bearer = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let decoded = path
            .replace("%27", "'")
            .replace("%28", "(")
            .replace("%29", ")");
        let rest = decoded
            .strip_prefix("/v1.0/")
            .unwrap_or_default()
            .to_owned();
        let action = action_of(&rest);
        let target = rest
            .strip_suffix(&format!("/{action}"))
            .unwrap_or(&rest)
            .to_owned();
        let decoded = rest;
        let (client, key_id) = match self.tokens.get(&bearer) {
            Some(t) => (t.app_id.clone(), t.key_id.clone()),
            None => (String::new(), String::new()),
        };
        self.calls.push(GraphCall {
            action: action.into(),
            path: decoded.clone(),
            client: client.clone(),
            body: body.clone(),
        });
        if client.is_empty() {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            );
        }
        if self.removed.contains(&key_id) {
            self.used_removed.push(format!(
                "{action} {decoded} with a token from removed secret {key_id}"
            ));
        }
        if let Some(fault) = self.fault(action, injected) {
            let mut answer = graph_error(fault.status, &fault.code, &fault.message);
            if let Some(seconds) = fault.retry_after {
                answer = answer.insert_header("Retry-After", seconds.to_string().as_str());
            }
            return answer;
        }
        let target = target.strip_prefix("applications").unwrap_or_default();
        let index = if let Some(app_id) = target
            .strip_prefix("(appId='")
            .and_then(|t| t.strip_suffix("')"))
        {
            self.apps.iter().position(|a| a.app_id == app_id)
        } else if let Some(object_id) = target.strip_prefix('/') {
            self.apps.iter().position(|a| a.object_id == object_id)
        } else {
            None
        };
        let caller_is_admin = self.apps.iter().any(|a| a.app_id == client && a.admin);
        let Some(index) = index else {
            return graph_error(
                404,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{target}' does not exist or one of its queried reference-property objects are not present."
                ),
            );
        };
        if !caller_is_admin && self.apps[index].app_id != client {
            return graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            );
        }
        match action {
            "get" => {
                let app = &self.apps[index];
                ResponseTemplate::new(200)
                    .set_body_json(app_json(app, app.secrets.as_of(self.listing_lag)))
            }
            "addPassword" => self.add_password(index, &body),
            _ => self.remove_password(index, &body),
        }
    }

    fn add_password(&mut self, index: usize, body: &Value) -> ResponseTemplate {
        let credential = body
            .get("passwordCredential")
            .cloned()
            .unwrap_or(Value::Null);
        let display_name = credential
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let end = credential
            .get("endDateTime")
            .and_then(Value::as_str)
            .unwrap_or("2099-01-01T00:00:00Z")
            .to_owned();
        if let Some(days) = self.max_lifetime_days {
            let limit = iso8601(SystemTime::now() + Duration::from_secs(days * 86_400 + 3600));
            if end > limit {
                return graph_error(
                    400,
                    "CredentialInvalidLifetimeAsPerAppPolicy",
                    "Credential lifetime exceeds the max value allowed as per assigned policy.",
                );
            }
        }
        let delay = if self.new_secrets_never_work {
            Duration::from_secs(365 * 86_400)
        } else {
            self.new_secret_delay
        };
        let secret = AzureSecret {
            key_id: uuid(),
            display_name,
            text: random_text(40),
            start: iso8601(SystemTime::now()),
            end,
            usable_after: Instant::now() + delay,
        };
        self.issued.push(secret.text.clone());
        let answer = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential",
            "customKeyIdentifier": null,
            "displayName": secret.display_name,
            "endDateTime": secret.end,
            "hint": &secret.text[..3],
            "keyId": secret.key_id,
            "secretText": secret.text,
            "startDateTime": secret.start,
        });
        self.apps[index].secrets.push(secret);
        self.apps[index].secrets.remember();
        ResponseTemplate::new(200).set_body_json(answer)
    }

    fn remove_password(&mut self, index: usize, body: &Value) -> ResponseTemplate {
        let key_id = body
            .get("keyId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let secrets = &mut self.apps[index].secrets;
        let before = secrets.len();
        secrets.retain(|s| s.key_id != key_id);
        if secrets.len() == before {
            return graph_error(
                400,
                "CannotDeleteOrUpdateNonExistentCredential",
                &format!("No password credential found with keyId {key_id}."),
            );
        }
        self.apps[index].secrets.remember();
        self.removed.push(key_id);
        ResponseTemplate::new(204)
    }
}

/// The application as `get` shows it, with `secrets` as its credentials.
fn app_json(app: &App, secrets: &[AzureSecret]) -> Value {
    let credentials: Vec<Value> = secrets
        .iter()
        .map(|s| {
            json!({
                "customKeyIdentifier": null,
                "displayName": s.display_name,
                "endDateTime": s.end,
                "hint": &s.text[..3.min(s.text.len())],
                "keyId": s.key_id,
                "secretText": null,
                "startDateTime": s.start,
            })
        })
        .collect();
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications/$entity",
        "id": app.object_id,
        "appId": app.app_id,
        "displayName": app.name,
        "passwordCredentials": credentials,
    })
}

fn graph_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": iso8601(SystemTime::now()), "request-id": uuid(), "client-request-id": uuid()}
        }
    }))
}

fn aad_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": error,
        "error_description": description,
        "error_codes": [7_000_215],
        "timestamp": iso8601(SystemTime::now()),
        "trace_id": uuid(),
        "correlation_id": uuid(),
    }))
}

fn uuid() -> String {
    let mut rng = rand::thread_rng();
    let hex: String = (0..32)
        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn random_text(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~_.-";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}
