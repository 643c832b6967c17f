//! A stateful fake of a Cisco IOS XE device's RESTCONF server (RFC 8040,
//! the `Cisco-IOS-XE-native` model's local users), over plain http on
//! 127.0.0.1 and, once [`FakeIosXe::with_tls`] is called, over TLS with a
//! test certificate (a test CA's leaf for 127.0.0.1, as a device with an
//! enrolled certificate presents one).
//!
//! - `GET /restconf/data/Cisco-IOS-XE-native:native/username=<name>`: the
//!   user's list entry, `{"Cisco-IOS-XE-native:username": [{name,
//!   privilege, secret: {encryption, secret}}]}` (the key percent-encoded
//!   in the path); no such user is `404`;
//! - `PATCH` of that entry (`application/yang-data+json`): a merge, as
//!   RESTCONF's PATCH is: `secret` (`encryption` `9` with a `$9$` hash, or
//!   `0` with clear text the device hashes) replaces the user's password or
//!   secret, `password` (`encryption` `0`) the reversible form; the
//!   privilege is kept; answered `204`. A malformed hash, a name that is not
//!   the key, or another media type is refused (`400`, `415`), a user that
//!   does not exist `404`;
//! - `GET /restconf/yang-library-version`: what a sign-in proof reads.
//!
//! Every request is authenticated with HTTP basic authentication against
//! the users, as `ip http authentication local` does: a wrong password, an
//! unknown user, or a user below privilege 15 is `401` (IOS XE signs only
//! privilege-15 users in to RESTCONF). A type 9 secret is checked by its own
//! scrypt, here. Errors have RESTCONF's shape (`ietf-restconf:errors`).
//!
//! Hostile or broken devices: [`FakeIosXe::rewriting_secrets`] (the stored
//! secret read back is not the one sent), [`FakeIosXe::also_accepting`] (a
//! password accepted besides the local one, as TACACS+ would), and
//! [`FakeIosXe::with_listed`] (a list entry answered as it is).
//!
//! The fake sits behind a [`FaultProxy`](crate::faults::FaultProxy) that
//! names each request ([`CALLS`], [`call_name`]); the TLS front (when there
//! is one) is in front of the proxy, so transport faults reach a TLS client
//! as a closed connection.

use base64::Engine;
use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD, STANDARD};
use serde_json::{Value, json};
use sha2::Digest;
use wiremock::ResponseTemplate;

use super::http::{HttpFake, Service};
use crate::faults::{FaultKind, ProxiedRequest};

/// The call names: `get_user`, `update_user` (the `PATCH` that sets a
/// password), `sign_in` (a read of `yang-library-version`), and `other`.
pub const CALLS: [&str; 4] = ["get_user", "update_user", "sign_in", "other"];

const USER_PATH: &str = "/restconf/data/Cisco-IOS-XE-native:native/username=";
const USERNAME: &str = "Cisco-IOS-XE-native:username";

/// Names a request by its method and path.
pub fn call_name(request: &ProxiedRequest) -> String {
    let path = request.path.as_str();
    match request.method.as_str() {
        "GET" if path.starts_with(USER_PATH) => "get_user",
        "PATCH" if path.starts_with(USER_PATH) => "update_user",
        "GET" if path == "/restconf/yang-library-version" => "sign_in",
        _ => "other",
    }
    .to_owned()
}

/// One local user of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IosUser {
    pub name: String,
    pub privilege: u8,
    /// `secret`: its type and value (a `$9$` hash for type 9).
    pub secret: Option<(String, String)>,
    /// The reversible `password`, in clear.
    pub password: Option<String>,
    /// How many times a PATCH set its password or secret.
    pub changes: u32,
}

/// A request the fake received (without its body, which holds a secret).
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The user name of the basic authentication, when there was one.
    pub login: Option<String>,
    pub content_type: String,
    /// The keys of the user entry a PATCH sent (`name`, `secret`...).
    pub keys: Vec<String>,
}

/// The device's users and what it was sent: the service behind
/// [`FakeIosXe`].
pub struct State {
    users: Vec<IosUser>,
    /// Entries answered as they are in place of a user's (hostile).
    listed: Vec<Value>,
    /// Every secret set is stored as another (a device that rewrites it).
    rewrite: bool,
    /// A merge keeps the other form ([`FakeIosXe::keeping_both_forms`]).
    keep_both: bool,
    /// Extra `(user, password)` pairs accepted (AAA elsewhere).
    also: Vec<(String, String)>,
    /// Passwords [`FakeIosXe::password_of`] may name (a hash does not say
    /// which password it is of).
    known: Vec<String>,
    /// `(hash, password)` pairs already found to match: a device checks
    /// scrypt once a sign-in, and the fake's time is not the binary's, so
    /// a pair it has checked is not checked again (bench figures).
    matched: std::collections::HashSet<(String, String)>,
    requests: Vec<Received>,
    tls: Option<TlsFront>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

/// The fake, listening on 127.0.0.1 until dropped.
pub type FakeIosXe = HttpFake<State>;

impl FakeIosXe {
    /// Starts a device with no users (add them with [`FakeIosXe::with_user`]).
    pub fn start() -> Self {
        Self::serve(State {
            users: Vec::new(),
            listed: Vec::new(),
            rewrite: false,
            keep_both: false,
            also: Vec::new(),
            known: Vec::new(),
            matched: std::collections::HashSet::new(),
            requests: Vec::new(),
            tls: None,
        })
    }

    /// Adds a user with this password (stored as a type 9 secret) and
    /// privilege.
    pub fn with_user(self, name: &str, password: &str, privilege: u8) -> Self {
        let secret = type9(password, "kEeperFakeSalt");
        self.state().users.push(IosUser {
            name: name.to_owned(),
            privilege,
            secret: Some(("9".into(), secret)),
            password: None,
            changes: 0,
        });
        self
    }

    /// Answers a read of `name`'s entry with `entry` as it is.
    pub fn with_listed(self, entry: Value) -> Self {
        self.state().listed.push(entry);
        self
    }

    /// Adds a user whose only credential is a reversible `password` (as
    /// Keeper's script leaves one), with this privilege.
    pub fn with_reversible_user(self, name: &str, password: &str, privilege: u8) -> Self {
        self.state().users.push(IosUser {
            name: name.to_owned(),
            privilege,
            secret: None,
            password: Some(password.to_owned()),
            changes: 0,
        });
        self
    }

    /// Merges a PATCH without dropping the other form: a secret set leaves
    /// the reversible password, a password set leaves the secret (a device
    /// whose merge does not follow the CLI's either-or).
    pub fn keeping_both_forms(self) -> Self {
        self.state().keep_both = true;
        self
    }

    /// Stores every secret set as another one (a device or a middlebox that
    /// rewrites what it is sent): the read-back does not match.
    pub fn rewriting_secrets(self) -> Self {
        self.state().rewrite = true;
        self
    }

    /// Accepts `password` for `name` besides the local one (TACACS+ or
    /// RADIUS in front of the local users).
    pub fn also_accepting(self, name: &str, password: &str) -> Self {
        self.state()
            .also
            .push((name.to_owned(), password.to_owned()));
        self
    }

    /// Serves TLS too, with a fresh test CA's certificate for 127.0.0.1
    /// ([`FakeIosXe::https_url`], [`FakeIosXe::ca_pem`],
    /// [`FakeIosXe::certificate_sha256`]).
    pub fn with_tls(self) -> Self {
        let front = TlsFront::start(&self.base_url());
        self.state().tls = Some(front);
        self
    }

    /// `http://127.0.0.1:<port>`: plain http, what `host_endpoint` holds.
    pub fn url(&self) -> String {
        self.base_url()
    }

    /// `https://127.0.0.1:<port>` of the TLS front ([`FakeIosXe::with_tls`]).
    pub fn https_url(&self) -> String {
        let port = self.state().tls.as_ref().map_or(0, |t| t.port);
        format!("https://127.0.0.1:{port}")
    }

    /// The test CA's certificate (PEM): what `SSL_CERT_FILE` trusts.
    pub fn ca_pem(&self) -> String {
        self.state()
            .tls
            .as_ref()
            .map(|t| t.ca_pem.clone())
            .unwrap_or_default()
    }

    /// The SHA-256 of the certificate the TLS front presents, as
    /// `AB:CD:...`.
    pub fn certificate_sha256(&self) -> String {
        self.state()
            .tls
            .as_ref()
            .map(|t| t.sha256.clone())
            .unwrap_or_default()
    }

    pub fn user(&self, name: &str) -> Option<IosUser> {
        self.state().users.iter().find(|u| u.name == name).cloned()
    }

    /// Whether `password` signs `name` in (the local user only).
    pub fn accepts(&self, name: &str, password: &str) -> bool {
        self.user(name)
            .is_some_and(|u| matches_password(&u, password))
    }

    /// Lets [`FakeIosXe::password_of`] name these passwords.
    pub fn knowing(self, passwords: &[&str]) -> Self {
        self.state()
            .known
            .extend(passwords.iter().map(|p| (*p).to_owned()));
        self
    }

    /// The password `name` signs in with now, among those
    /// [`FakeIosXe::knowing`] was given; `None` when it is none of them.
    pub fn password_of(&self, name: &str) -> Option<String> {
        let user = self.user(name)?;
        let known = self.state().known.clone();
        known.into_iter().find(|p| matches_password(&user, p))
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state().requests.clone()
    }
}

/// Status kinds are answered by the fake in RESTCONF's error shape: `500`
/// (`operation-failed`), `429` with `Retry-After: 1`, `apply-then-500`
/// applies the request, then answers `500`.
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
        let credentials = basic_credentials(&header("authorization"));
        let received = Received {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            login: credentials.as_ref().map(|(login, _)| login.clone()),
            content_type: header("content-type"),
            keys: body
                .get(USERNAME)
                .and_then(|u| u.get(0).or(Some(u)))
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        };
        self.requests.push(received.clone());
        match injected {
            Some(FaultKind::Status500) => {
                return errors(500, "application", "operation-failed", "internal error");
            }
            Some(FaultKind::Status429) => {
                return errors(429, "protocol", "resource-denied", "too many requests")
                    .insert_header("Retry-After", "1");
            }
            _ => {}
        }
        let signed_in =
            credentials.is_some_and(|(login, password)| self.signs_in(&login, &password));
        if !signed_in {
            return errors(401, "protocol", "access-denied", "access denied");
        }
        let answer = self.serve(&received, &body);
        if injected == Some(FaultKind::ApplyThen500) {
            return errors(500, "application", "operation-failed", "internal error");
        }
        answer
    }
}

impl State {
    fn signs_in(&mut self, login: &str, password: &str) -> bool {
        if self.also.iter().any(|(u, p)| u == login && p == password) {
            return true;
        }
        let Some(user) = self.users.iter().find(|u| u.name == login) else {
            return false;
        };
        if user.privilege != 15 {
            return false;
        }
        let key = (
            user.secret
                .as_ref()
                .map(|(_, s)| s.clone())
                .unwrap_or_default(),
            password.to_owned(),
        );
        if user.secret.is_some() && self.matched.contains(&key) {
            return true;
        }
        let ok = matches_password(user, password);
        if ok && user.secret.is_some() {
            self.matched.insert(key);
        }
        ok
    }

    fn serve(&mut self, request: &Received, body: &Value) -> ResponseTemplate {
        if request.path == "/restconf/yang-library-version" && request.method == "GET" {
            return ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/yang-data+json")
                .set_body_json(json!({"ietf-restconf:yang-library-version": "2016-06-21"}));
        }
        let Some(key) = request.path.strip_prefix(USER_PATH) else {
            return errors(404, "application", "invalid-value", "uri keypath not found");
        };
        let name = super::http::percent_decoded(key);
        match request.method.as_str() {
            "GET" => {
                if let Some(entry) = self
                    .listed
                    .iter()
                    .find(|e| e.get("name").and_then(Value::as_str) == Some(&name))
                {
                    return yang(200, json!({ USERNAME: [entry] }));
                }
                match self.users.iter().find(|u| u.name == name) {
                    Some(user) => yang(200, json!({ USERNAME: [entry_json(user)] })),
                    None => errors(404, "application", "invalid-value", "uri keypath not found"),
                }
            }
            "PATCH" => self.patch(&name, request, body),
            _ => errors(
                405,
                "protocol",
                "operation-not-supported",
                "method not allowed",
            ),
        }
    }

    fn patch(&mut self, name: &str, request: &Received, body: &Value) -> ResponseTemplate {
        if !request
            .content_type
            .starts_with("application/yang-data+json")
        {
            return errors(415, "protocol", "invalid-value", "unsupported media type");
        }
        let entry = match body.get(USERNAME) {
            Some(Value::Array(items)) if items.len() == 1 => &items[0],
            _ => return errors(400, "protocol", "malformed-message", "bad username list"),
        };
        if entry.get("name").and_then(Value::as_str) != Some(name) {
            return errors(
                400,
                "protocol",
                "invalid-value",
                "key leaf does not match the uri",
            );
        }
        let (rewrite, keep_both) = (self.rewrite, self.keep_both);
        let Some(user) = self.users.iter_mut().find(|u| u.name == name) else {
            return errors(404, "application", "data-missing", "uri keypath not found");
        };
        if let Some(secret) = entry.get("secret") {
            let kind = secret
                .get("encryption")
                .and_then(Value::as_str)
                .unwrap_or("0");
            let Some(value) = secret.get("secret").and_then(Value::as_str) else {
                return errors(400, "application", "invalid-value", "secret is missing");
            };
            let stored = match kind {
                "9" if is_type9(value) => value.to_owned(),
                "0" if !value.is_empty() => type9(value, "dEviceHashSalt"),
                _ => {
                    return errors(
                        400,
                        "application",
                        "invalid-value",
                        "invalid encrypted password",
                    );
                }
            };
            user.secret = Some((
                "9".into(),
                if rewrite {
                    type9("rewritten", "rEwrittenSalt1")
                } else {
                    stored
                },
            ));
            if !keep_both {
                user.password = None;
            }
        } else if let Some(password) = entry.get("password") {
            let Some(value) = password.get("password").and_then(Value::as_str) else {
                return errors(400, "application", "invalid-value", "password is missing");
            };
            user.password = Some(value.to_owned());
            if !keep_both {
                user.secret = None;
            }
        } else {
            return errors(400, "application", "invalid-value", "nothing to set");
        }
        user.changes += 1;
        ResponseTemplate::new(204)
    }
}

fn entry_json(user: &IosUser) -> Value {
    let mut entry = json!({"name": user.name, "privilege": user.privilege});
    if let Some((kind, value)) = &user.secret {
        entry["secret"] = json!({"encryption": kind, "secret": value});
    }
    if let Some(password) = &user.password {
        entry["password"] = json!({"encryption": "0", "password": password});
    }
    entry
}

fn matches_password(user: &IosUser, password: &str) -> bool {
    match (&user.secret, &user.password) {
        (Some((kind, stored)), _) if kind == "9" => {
            let salt = stored.get(3..17).unwrap_or_default();
            type9(password, salt) == *stored
        }
        (_, Some(plain)) => plain == password,
        _ => false,
    }
}

/// The fake's own type 9: scrypt (2^14, 1, 1, 32 bytes) over the salt's
/// text, both in Cisco's base64 alphabet.
fn type9(password: &str, salt: &str) -> String {
    let mut out = [0u8; 32];
    let params = scrypt::Params::new(14, 1, 1).unwrap_or_else(|_| unreachable!());
    if scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).is_err() {
        return String::new();
    }
    format!("$9${salt}${}", cisco_base64().encode(out))
}

fn is_type9(value: &str) -> bool {
    let parts: Vec<&str> = value.split('$').collect();
    matches!(parts.as_slice(), ["", "9", salt, hash] if salt.len() == 14 && hash.len() == 43
        && cisco_base64().decode(hash).is_ok_and(|h| h.len() == 32))
}

fn cisco_base64() -> GeneralPurpose {
    let alphabet =
        Alphabet::new("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
            .unwrap_or_else(|_| unreachable!());
    GeneralPurpose::new(&alphabet, NO_PAD)
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (login, password) = decoded.split_once(':')?;
    Some((login.to_owned(), password.to_owned()))
}

fn yang(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Content-Type", "application/yang-data+json")
        .set_body_json(body)
}

/// RESTCONF's error shape (RFC 8040 section 7.1).
fn errors(status: u16, kind: &str, tag: &str, message: &str) -> ResponseTemplate {
    yang(
        status,
        json!({"ietf-restconf:errors": {"error": [{
            "error-type": kind, "error-tag": tag, "error-message": message
        }]}}),
    )
}

/// TLS in front of the fault proxy: each connection's TLS is ended here and
/// its bytes passed on to the proxy, until the fake is dropped.
struct TlsFront {
    port: u16,
    ca_pem: String,
    sha256: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsFront {
    fn start(proxy_url: &str) -> Self {
        let tls = super::vault::tls::Tls::generate();
        let digest = sha2::Sha256::digest(&tls.leaf_der);
        let sha256 = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let upstream = proxy_url.trim_start_matches("http://").to_owned();
        let runtime = crate::runtime();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("the TLS front cannot listen: {e}"));
        let port = listener.local_addr().map_or(0, |a| a.port());
        let acceptor = tls.acceptor.clone();
        let task = runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self {
            port,
            ca_pem: tls.ca_pem,
            sha256,
            task,
        }
    }
}
