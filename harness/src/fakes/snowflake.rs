//! A stateful fake of Snowflake's SQL API for one account's users.
//!
//! - `POST /api/v2/statements` with `{"statement": ..., "timeout": ...}`:
//!   runs one statement, answering `200` with the result
//!   (`resultSetMetaData`, `data`, `code` `090001`, `sqlState` `00000`,
//!   `statementHandle`), or `422` with Snowflake's error shape (`code`,
//!   `message`, `sqlState`, `statementHandle`); with
//!   [`FakeSnowflake::running_for`], `202` (`code` `333334`) and a handle;
//! - `GET /api/v2/statements/{handle}`: the statement's status, `202` while
//!   it runs, then its answer.
//!
//! Every request must carry a key-pair JWT (`Authorization: Bearer`) that
//! the fake verifies as Snowflake documents it: RS256 signed by the key
//! whose fingerprint `iss` names, that key set on the user `sub` names
//! (`RSA_PUBLIC_KEY` or `RSA_PUBLIC_KEY_2`), `sub` = `ACCOUNT.USER` of this
//! account, `iss` = `sub.SHA256:<fingerprint>`, not expired, at most an
//! hour long; the `X-Snowflake-Authorization-Token-Type` header, when
//! present, `KEYPAIR_JWT`; and a `User-Agent`. Anything else is `401`
//! (`390144`).
//!
//! Statements are parsed strictly ([`parse_statement`]: the lexer reads
//! quoted identifiers, string literals with their escapes and `$$` strings,
//! and comments, as Snowflake documents them); the fake understands `DESC
//! USER` and `ALTER USER … SET PASSWORD` and answers anything else, and
//! more than one statement, with Snowflake's errors. It takes no
//! `bindings`: Snowflake documents none for these statements. Only the
//! admin ([`FakeSnowflake::with_admin`]) may describe or alter another
//! user.
//!
//! The fake sits behind a [`FaultProxy`](crate::faults::FaultProxy) that
//! names each request ([`CALLS`], [`call_name`]).

use std::collections::HashMap;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::http::{HttpFake, Service, path_segments};

mod sql;
use crate::faults::{FaultKind, ProxiedRequest};
pub use sql::{Statement, parse_statement};

/// The call names: `desc_user`, `alter_user` (the statement that sets a
/// password), `set_key` and `unset_key` (`ALTER USER … SET` / `UNSET
/// RSA_PUBLIC_KEY[_2]`), `current_user` (`SELECT CURRENT_USER()`, a key's
/// sign-in check), `statement_status` (a poll), and `other`.
pub const CALLS: [&str; 7] = [
    "desc_user",
    "alter_user",
    "set_key",
    "unset_key",
    "current_user",
    "statement_status",
    "other",
];

/// The SQL statement a request to the SQL API carries, if any.
pub fn statement_of(request: &ProxiedRequest) -> Option<String> {
    serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|b| {
            b.get("statement")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

/// Names a request by its method, path and statement.
pub fn call_name(request: &ProxiedRequest) -> String {
    let statement = statement_of(request).unwrap_or_default();
    let first = statement
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match (request.method.as_str(), request.path.trim_end_matches('/')) {
        ("POST", "/api/v2/statements") => match (first.as_str(), parse_statement(&statement)) {
            ("DESC" | "DESCRIBE", _) => "desc_user",
            (_, Ok(Statement::SetKey { .. })) => "set_key",
            (_, Ok(Statement::UnsetKey { .. })) => "unset_key",
            (_, Ok(Statement::CurrentUser)) => "current_user",
            ("ALTER", _) => "alter_user",
            _ => "other",
        },
        ("GET", path) if path.starts_with("/api/v2/statements/") => "statement_status",
        _ => "other",
    }
    .to_owned()
}

/// One Snowflake user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// As Snowflake stores it (upper-cased when created unquoted).
    pub name: String,
    pub password: Option<String>,
    /// `PERSON`, `SERVICE`, `LEGACY_SERVICE`, or `null`.
    pub kind: String,
    /// `RSA_PUBLIC_KEY` and `RSA_PUBLIC_KEY_2`: base64 of the DER.
    pub keys: [Option<String>; 2],
    /// How many times the password was set.
    pub changes: u32,
    /// Key-pair sign-ins of this user are refused (`390144`), as when a
    /// network or authentication policy stops them.
    pub refuses_sign_in: bool,
}

/// A statement answered `202`: the polls left before its answer.
struct Running {
    polls: u32,
    status: u16,
    body: Value,
}

/// The account, its users and the statements still running: the service
/// behind [`FakeSnowflake`].
pub struct State {
    /// The account as the claims name it (upper-cased, no region).
    account: String,
    users: Vec<User>,
    /// The user whose role may describe and alter other users.
    admin: Option<String>,
    /// How many polls a statement answers `202` to before its answer.
    running_for: u32,
    /// The same for `ALTER USER` statements only, when set.
    changes_running_for: Option<u32>,
    running: HashMap<String, Running>,
    handles: u64,
    /// Statement handles are forgotten: a poll is answered `422` (`000709`).
    forgetful: bool,
    /// `QUOTED_IDENTIFIERS_IGNORE_CASE` is set: a quoted name finds a user
    /// whatever its case, as on an account with that parameter.
    folding_case: bool,
    /// A failed statement's message quotes the statement, as a hostile or
    /// careless server might.
    echoing: bool,
    /// The next `UNSET RSA_PUBLIC_KEY[_2]` is answered `422` with this
    /// code, not applied (Snowflake's unsure codes say nothing of whether it
    /// ran).
    unset_answer: Option<String>,
    /// `SET RSA_PUBLIC_KEY[_2]` is acknowledged (`200`) but not applied, as
    /// a change that lands late or never.
    ignoring_sets: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// The fake, listening on 127.0.0.1 until dropped.
pub type FakeSnowflake = HttpFake<State>;

impl FakeSnowflake {
    /// Starts a fake of `account` (an account identifier: upper-cased, its
    /// region left out, as the claims name it).
    pub fn start(account: &str) -> Self {
        Self::serve(State {
            account: account.split('.').next().unwrap_or_default().to_uppercase(),
            users: Vec::new(),
            admin: None,
            running_for: 0,
            changes_running_for: None,
            running: HashMap::new(),
            handles: 0,
            forgetful: false,
            folding_case: false,
            echoing: false,
            unset_answer: None,
            ignoring_sets: false,
        })
    }

    /// The account's URL: what `snowflake_url` holds.
    pub fn url(&self) -> String {
        self.base_url()
    }

    /// Adds a PERSON user named `name` (stored upper-cased unless
    /// `quoted`) with this password.
    pub fn with_user(self, name: &str, password: &str) -> Self {
        self.state().users.push(User {
            name: name.to_owned(),
            password: Some(password.to_owned()),
            kind: "PERSON".into(),
            keys: [None, None],
            changes: 0,
            refuses_sign_in: false,
        });
        self
    }

    /// Adds a SERVICE user named `name` (no password) whose
    /// `RSA_PUBLIC_KEY` and `RSA_PUBLIC_KEY_2` are `keys` (base64 of the
    /// DER).
    pub fn with_service_user(self, name: &str, keys: [Option<&str>; 2]) -> Self {
        self.state().users.push(User {
            name: name.to_owned(),
            password: None,
            kind: "SERVICE".into(),
            keys: keys.map(|k| k.map(str::to_owned)),
            changes: 0,
            refuses_sign_in: false,
        });
        self
    }

    /// Sets a user's key slot (0: `RSA_PUBLIC_KEY`, 1: `RSA_PUBLIC_KEY_2`),
    /// as another administrator would.
    pub fn set_key(&self, name: &str, slot: usize, key: Option<&str>) {
        if let Some(user) = self.state().users.iter_mut().find(|u| u.name == name) {
            user.keys[slot] = key.map(str::to_owned);
        }
    }

    /// Gives user `name` a password too.
    pub fn with_password(self, name: &str, password: &str) -> Self {
        if let Some(user) = self.state().users.iter_mut().find(|u| u.name == name) {
            user.password = Some(password.to_owned());
        }
        self
    }

    /// Refuses every key-pair sign-in of user `name` (`401`), whatever its
    /// keys.
    pub fn refusing_sign_ins_of(self, name: &str) -> Self {
        if let Some(user) = self.state().users.iter_mut().find(|u| u.name == name) {
            user.refuses_sign_in = true;
        }
        self
    }

    /// The fingerprints (`SHA256:…`) of user `name`'s two key slots.
    pub fn fingerprints(&self, name: &str) -> [Option<String>; 2] {
        self.user(name)
            .map(|u| u.keys.map(|k| k.as_deref().and_then(fingerprint_of)))
            .unwrap_or_default()
    }

    /// Adds the admin user `name` whose public key (base64 of its DER) is
    /// `public_key`, with the role to manage every user.
    pub fn with_admin(self, name: &str, public_key: &str) -> Self {
        {
            let mut state = self.state();
            state.users.push(User {
                name: name.to_owned(),
                password: None,
                kind: "SERVICE".into(),
                keys: [Some(public_key.to_owned()), None],
                changes: 0,
                refuses_sign_in: false,
            });
            state.admin = Some(name.to_owned());
        }
        self
    }

    /// Sets the `TYPE` of user `name`.
    pub fn with_kind(self, name: &str, kind: &str) -> Self {
        if let Some(user) = self.state().users.iter_mut().find(|u| u.name == name) {
            user.kind = kind.to_owned();
        }
        self
    }

    /// Every statement answers `202` to its submission and to `polls - 1`
    /// polls before its answer.
    pub fn running_for(self, polls: u32) -> Self {
        self.state().running_for = polls;
        self
    }

    /// `ALTER USER` statements answer `202` to their submission and to
    /// `polls - 1` polls (the statement has run: only its answer waits).
    pub fn changes_running_for(self, polls: u32) -> Self {
        self.state().changes_running_for = Some(polls);
        self
    }

    /// Polls are answered `422` `000709` ("Statement not found"), as for a
    /// handle Snowflake no longer knows: the statement may have run.
    pub fn forgetting_statements(self) -> Self {
        self.state().forgetful = true;
        self
    }

    /// Quoted names are resolved without regard to case
    /// (`QUOTED_IDENTIFIERS_IGNORE_CASE = TRUE` on the account).
    pub fn folding_quoted_case(self) -> Self {
        self.state().folding_case = true;
        self
    }

    /// A failed statement's message ends with the statement itself,
    /// password and all.
    pub fn echoing_statements(self) -> Self {
        self.state().echoing = true;
        self
    }

    /// The next `UNSET` of a key slot is answered `422` with `code` (e.g.
    /// `000630`) and not applied.
    pub fn answering_next_unset(&self, code: &str) {
        self.state().unset_answer = Some(code.to_owned());
    }

    /// `SET` of a key slot is answered `200` and not applied.
    pub fn ignoring_key_sets(self) -> Self {
        self.state().ignoring_sets = true;
        self
    }

    /// How many statements the fake has run (a held answer's statement
    /// counts once it has run, which the proxy's arrival does not tell).
    pub fn statements_run(&self) -> u64 {
        self.state().handles
    }

    pub fn user(&self, name: &str) -> Option<User> {
        self.state().users.iter().find(|u| u.name == name).cloned()
    }

    pub fn password_of(&self, name: &str) -> Option<String> {
        self.user(name).and_then(|u| u.password)
    }
}

/// Status kinds are answered by the fake: `500` in Snowflake's error shape,
/// `429` with `Retry-After: 1`, `apply-then-500` runs the statement and
/// then answers `500`.
impl Service for State {
    const CALLS: &'static [&'static str] = &CALLS;
    const CALL_NAME: fn(&ProxiedRequest) -> String = call_name;

    fn respond(
        &mut self,
        request: &wiremock::Request,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        match injected {
            Some(FaultKind::Status500) => return error(500, "000603", "Internal error.", "XX000"),
            Some(FaultKind::Status429) => {
                return error(429, "000610", "Too many requests.", "")
                    .insert_header("Retry-After", "1");
            }
            _ => {}
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if header("user-agent").is_none_or(|a| a.trim().is_empty()) {
            return error(400, "391903", "User-Agent header is required.", "");
        }
        let caller = match self.signed_in(
            header("authorization").as_deref(),
            header("x-snowflake-authorization-token-type").as_deref(),
        ) {
            Ok(user) => user,
            Err(()) => return error(401, "390144", "JWT token is invalid.", ""),
        };
        let segments = path_segments(request.url.path());
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let answer = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["api", "v2", "statements"] | ["api", "v2", "statements", ""]) => {
                self.submit(&caller, &request.body)
            }
            ("GET", ["api", "v2", "statements", handle]) => self.status(handle),
            _ => error(404, "390404", "Not found.", ""),
        };
        if injected == Some(FaultKind::ApplyThen500) {
            return error(500, "000603", "Internal error.", "XX000");
        }
        answer
    }
}

impl State {
    /// The user a key-pair JWT signs in, when it is valid.
    fn signed_in(&self, authorization: Option<&str>, kind: Option<&str>) -> Result<String, ()> {
        if kind.is_some_and(|k| k != "KEYPAIR_JWT") {
            return Err(());
        }
        let token = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .ok_or(())?;
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, signature] = parts.as_slice() else {
            return Err(());
        };
        let decode = |part: &str| -> Result<Value, ()> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| ())?;
            serde_json::from_slice(&bytes).map_err(|_| ())
        };
        if decode(header)?.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(());
        }
        let claims = decode(claims)?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).ok_or(());
        let number = |name: &str| claims.get(name).and_then(Value::as_u64).ok_or(());
        let (sub, iss) = (text("sub")?, text("iss")?);
        let (iat, exp) = (number("iat")?, number("exp")?);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| ())?
            .as_secs();
        if exp <= now || iat > now + 60 || exp < iat || exp - iat > 3600 {
            return Err(());
        }
        let name = sub.strip_prefix(&format!("{}.", self.account)).ok_or(())?;
        let fingerprint = iss.strip_prefix(&format!("{sub}.")).ok_or(())?;
        let user = self
            .users
            .iter()
            .find(|u| u.name.to_uppercase() == name)
            .filter(|u| !u.refuses_sign_in)
            .ok_or(())?;
        let key = user
            .keys
            .iter()
            .flatten()
            .find(|k| fingerprint_of(k).as_deref() == Some(fingerprint))
            .ok_or(())?;
        let der = STANDARD.decode(key).map_err(|_| ())?;
        let signed = format!("{header}.{}", parts[1]);
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| ())?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| ())?;
        Ok(user.name.clone())
    }

    /// Runs a submitted statement: its answer, or `202` and a handle.
    fn submit(&mut self, caller: &str, body: &[u8]) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return error(
                400,
                "390142",
                "Incoming request does not contain a valid payload.",
                "",
            );
        };
        let Some(statement) = body.get("statement").and_then(Value::as_str) else {
            return error(
                400,
                "390142",
                "Incoming request does not contain a valid payload.",
                "",
            );
        };
        self.handles += 1;
        let handle = format!("01b2c3d4-0000-4000-8000-{:012x}", self.handles);
        let parsed = parse_statement(statement);
        let polls = match (&parsed, self.changes_running_for) {
            (
                Ok(
                    Statement::SetPassword { .. }
                    | Statement::SetKey { .. }
                    | Statement::UnsetKey { .. },
                ),
                Some(polls),
            ) => polls,
            _ => self.running_for,
        };
        let (status, mut answer) = if body.get("bindings").is_some_and(|b| !b.is_null()) {
            failure(
                "002049",
                "SQL compilation error: bind variables are not supported in this statement.",
                "42601",
            )
        } else {
            match parsed {
                Ok(parsed) => self.run(caller, parsed),
                Err((code, message)) => failure(&code, &message, "42000"),
            }
        };
        if self.echoing && status == 422 {
            let message = answer["message"].as_str().unwrap_or_default().to_owned();
            answer["message"] = json!(format!("{message} Statement: {statement}"));
        }
        answer["statementHandle"] = json!(handle);
        answer["statementStatusUrl"] = json!(format!("/api/v2/statements/{handle}"));
        if polls > 0 {
            self.running.insert(
                handle.clone(),
                Running {
                    polls: polls - 1,
                    status,
                    body: answer,
                },
            );
            return running(&handle);
        }
        ResponseTemplate::new(status).set_body_json(answer)
    }

    /// A running statement's status.
    fn status(&mut self, handle: &str) -> ResponseTemplate {
        let running = self.running.get_mut(handle).filter(|_| !self.forgetful);
        let Some(running) = running else {
            // Snowflake's QueryFailureStatus names the handle asked about.
            return ResponseTemplate::new(422).set_body_json(json!({
                "code": "000709",
                "message": "Statement not found.",
                "sqlState": "02000",
                "statementHandle": handle,
            }));
        };
        if running.polls > 0 {
            running.polls -= 1;
            return running_answer(handle);
        }
        ResponseTemplate::new(running.status).set_body_json(running.body.clone())
    }

    /// Runs a statement as `caller`: the status and body of its answer.
    fn run(&mut self, caller: &str, statement: Statement) -> (u16, Value) {
        let target = match &statement {
            Statement::DescUser { user }
            | Statement::SetPassword { user, .. }
            | Statement::SetKey { user, .. }
            | Statement::UnsetKey { user, .. } => user.clone(),
            Statement::CurrentUser => {
                return (
                    200,
                    result_set(&["CURRENT_USER()"], vec![vec![json!(caller)]]),
                );
            }
        };
        let admin = self.admin.as_deref() == Some(caller);
        let folding = self.folding_case;
        let Some(index) = self
            .users
            .iter()
            .position(|u| u.name == target || (folding && u.name.eq_ignore_ascii_case(&target)))
        else {
            return failure(
                "002003",
                &format!(
                    "SQL compilation error:\nUser '{target}' does not exist or not authorized."
                ),
                "02000",
            );
        };
        if !admin && target != caller {
            return failure(
                "003001",
                &format!(
                    "SQL access control error:\nInsufficient privileges to operate on user '{target}'"
                ),
                "42501",
            );
        }
        let user = &mut self.users[index];
        match statement {
            Statement::DescUser { .. } => (200, describe(user)),
            Statement::SetPassword { password, .. } => {
                if user.kind == "SERVICE" {
                    return failure(
                        "002319",
                        "SQL compilation error: Property 'PASSWORD' is not supported for users of TYPE SERVICE.",
                        "0A000",
                    );
                }
                if password.chars().count() < 8 {
                    return failure(
                        "003002",
                        "New password rejected by current password policy. Reason: 'PASSWORD_TOO_SHORT'.",
                        "28P01",
                    );
                }
                user.password = Some(password);
                user.changes += 1;
                (200, executed())
            }
            Statement::SetKey { slot, key, .. } => {
                if !is_rsa_public_key(&key) {
                    return failure(
                        "002026",
                        "SQL compilation error: Invalid RSA public key.",
                        "22023",
                    );
                }
                if !self.ignoring_sets {
                    user.keys[slot] = Some(key);
                }
                (200, executed())
            }
            Statement::UnsetKey { slot, .. } => {
                if let Some(code) = self.unset_answer.take() {
                    return failure(
                        &code,
                        "Statement reached its statement or warehouse timeout.",
                        "57014",
                    );
                }
                user.keys[slot] = None;
                (200, executed())
            }
            Statement::CurrentUser => (200, executed()),
        }
    }
}

/// `SHA256:<base64>` of a key given as base64 of its DER.
fn fingerprint_of(key: &str) -> Option<String> {
    let der = STANDARD.decode(key).ok()?;
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
    Some(format!("SHA256:{}", STANDARD.encode(hash.as_ref())))
}

/// Whether `key` is base64 of the DER of an RSA public key of 2048 bits or
/// more (a SubjectPublicKeyInfo), as Snowflake takes it: without PEM armor.
fn is_rsa_public_key(key: &str) -> bool {
    STANDARD.decode(key).is_ok_and(|der| {
        aws_lc_rs::rsa::PublicEncryptingKey::from_der(&der).is_ok_and(|k| k.key_size_bits() >= 2048)
    })
}

/// A result set of string columns.
fn result_set(columns: &[&str], rows: Vec<Vec<Value>>) -> Value {
    json!({
        "resultSetMetaData": {
            "numRows": rows.len(),
            "format": "jsonv2",
            "rowType": columns.iter().map(|c| json!({"name": c, "type": "text", "nullable": true})).collect::<Vec<_>>(),
        },
        "data": rows,
        "code": "090001",
        "sqlState": "00000",
        "message": "Statement executed successfully.",
    })
}

fn executed() -> Value {
    result_set(
        &["status"],
        vec![vec![json!("Statement executed successfully.")]],
    )
}

/// `DESC USER`: one row per property (never the password).
fn describe(user: &User) -> Value {
    let fp = |slot: usize| {
        user.keys[slot]
            .as_deref()
            .and_then(fingerprint_of)
            .map_or(json!("null"), Value::from)
    };
    let key = |slot: usize| user.keys[slot].clone().map_or(json!("null"), Value::from);
    let row = |p: &str, v: Value| vec![json!(p), v, json!("null"), json!("")];
    result_set(
        &["property", "value", "default", "description"],
        vec![
            row("NAME", json!(user.name)),
            row("TYPE", json!(user.kind)),
            row("LOGIN_NAME", json!(user.name)),
            row("DISABLED", json!("false")),
            row(
                "HAS_PASSWORD",
                json!(if user.password.is_some() {
                    "true"
                } else {
                    "false"
                }),
            ),
            row(
                "PASSWORD",
                json!(if user.password.is_some() {
                    "********"
                } else {
                    "null"
                }),
            ),
            row("RSA_PUBLIC_KEY", key(0)),
            row("RSA_PUBLIC_KEY_FP", fp(0)),
            row("RSA_PUBLIC_KEY_2", key(1)),
            row("RSA_PUBLIC_KEY_2_FP", fp(1)),
        ],
    )
}

/// Snowflake's failure of a statement (HTTP 422).
fn failure(code: &str, message: &str, state: &str) -> (u16, Value) {
    (
        422,
        json!({"code": code, "message": message, "sqlState": state}),
    )
}

/// Snowflake's error shape with `status`.
fn error(status: u16, code: &str, message: &str, state: &str) -> ResponseTemplate {
    let mut body = json!({"code": code, "message": message});
    if !state.is_empty() {
        body["sqlState"] = json!(state);
    }
    ResponseTemplate::new(status).set_body_json(body)
}

fn running_answer(handle: &str) -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({
        "code": "333334",
        "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
        "statementHandle": handle,
        "statementStatusUrl": format!("/api/v2/statements/{handle}"),
    }))
}

fn running(handle: &str) -> ResponseTemplate {
    running_answer(handle)
}
