//! A stateful fake of IAM and STS speaking the AWS Query protocol: form-encoded
//! `Action=...` requests, XML answers and error XML as AWS sends them.
//!
//! Every request must be signed with SigV4 by a key the fake issued or was
//! given; the signature is checked with that key's secret, so a caller using
//! a wrong or deleted secret is refused as AWS would refuse it
//! (`SignatureDoesNotMatch`, `InvalidClientTokenId`).
//!
//! State: users with UserId and ARN, their access keys (status, CreateDate,
//! last use), the two-key limit, admin keys, roles to assume (optionally with
//! an external id), temporary credentials. New keys can be made to work for
//! `GetCallerIdentity` only after a delay, or never. Each action has a fault
//! switch.
//!
//! The fake sits behind a [`FaultProxy`](crate::faults::FaultProxy) that names each request by its
//! Query `Action` ([`CALLS`]), so any [`FaultKind`] can be armed on the nth
//! occurrence of an action. `ListAccessKeys` can lag: IAM is eventually
//! consistent, and right after a create or delete a listing may still show
//! the keys as they were ([`FakeAws::listing_lag`]).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use wiremock::ResponseTemplate;

use super::http::{HttpFake, Service};
use crate::faults::{FaultKind, ProxiedRequest};

const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const ACCOUNT: &str = "123456789012";

/// The call names (Query `Action`s) the fake serves; a request without an
/// `Action` is named `unknown`.
pub const CALLS: [&str; 8] = [
    "GetUser",
    "ListAccessKeys",
    "GetAccessKeyLastUsed",
    "CreateAccessKey",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetCallerIdentity",
    "AssumeRole",
];

/// Names a request by its Query `Action` (form body, else query string).
pub fn call_name(request: &ProxiedRequest) -> String {
    request
        .param("Action")
        .unwrap_or_else(|| "unknown".to_owned())
}

/// An access key of an IAM user.
#[derive(Debug, Clone)]
pub struct IamKey {
    pub id: String,
    pub secret: String,
    pub active: bool,
    pub created: String,
    pub last_used: Option<String>,
    usable_after: Instant,
}

#[derive(Debug, Clone)]
struct IamUser {
    name: String,
    user_id: String,
    keys: Vec<IamKey>,
    /// The key sets the user had and since when (`None`: since before the
    /// test), oldest first, for lagging listings.
    history: Vec<(Option<Instant>, Vec<IamKey>)>,
}

impl IamUser {
    /// Makes the current keys the state "since forever" (test setup).
    fn settle(&mut self) {
        self.history = vec![(None, self.keys.clone())];
    }

    /// Remembers a change made through the API.
    fn remember(&mut self) {
        self.history.push((Some(Instant::now()), self.keys.clone()));
    }

    /// The keys as a listing `lag` behind shows them.
    fn listed(&self, lag: Duration) -> &[IamKey] {
        let cutoff = Instant::now().checked_sub(lag);
        if lag.is_zero() {
            return &self.keys;
        }
        self.history
            .iter()
            .rev()
            .find(|(since, _)| match (since, cutoff) {
                (None, _) => true,
                (Some(since), Some(cutoff)) => *since <= cutoff,
                (Some(_), None) => false,
            })
            .map_or(&self.keys, |(_, keys)| keys)
    }
}

#[derive(Debug, Clone)]
struct Role {
    external_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Session {
    secret: String,
    token: String,
    role_arn: String,
}

/// In a fault's message, replaced by the `X-Amz-Security-Token` header of
/// the request it answers (empty when there is none).
pub const ECHO_SECURITY_TOKEN: &str = "{x-amz-security-token}";

/// An error answer: HTTP status, AWS error code and message.
#[derive(Debug, Clone)]
pub struct AwsFault {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl AwsFault {
    pub fn new(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn throttling() -> Self {
        Self::new(400, "Throttling", "Rate exceeded")
    }

    pub fn service_failure() -> Self {
        Self::new(
            500,
            "ServiceFailure",
            "The request processing has failed because of an unknown error.",
        )
    }

    /// What an IAM-compatible endpoint may answer: a 403 whose message
    /// echoes the `X-Amz-Security-Token` header it received
    /// ([`ECHO_SECURITY_TOKEN`] is replaced by it).
    pub fn invalid_token_echoing_it() -> Self {
        Self::new(
            403,
            "InvalidClientTokenId",
            &format!(
                "The security token included in the request is invalid: {ECHO_SECURITY_TOKEN}"
            ),
        )
    }

    pub fn access_denied() -> Self {
        Self::new(
            403,
            "AccessDenied",
            "User is not authorized to perform this action",
        )
    }
}

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct AwsCall {
    pub action: String,
    /// The access key id that signed it.
    pub key_id: String,
    pub params: Vec<(String, String)>,
}

impl AwsCall {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// IAM and STS as the fake holds them: the service behind [`FakeAws`].
pub struct State {
    users: Vec<IamUser>,
    admins: HashMap<String, String>,
    roles: HashMap<String, Role>,
    sessions: HashMap<String, Session>,
    new_key_delay: Duration,
    new_keys_never_work: bool,
    faults: HashMap<String, VecDeque<AwsFault>>,
    calls: Vec<AwsCall>,
    issued_secrets: Vec<String>,
    listing_lag: Duration,
}

/// The fake, listening on 127.0.0.1 until dropped. Point `AWS_ENDPOINT_URL`
/// at [`FakeAws::url`]: IAM and STS answer on the same address.
pub type FakeAws = HttpFake<State>;

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

impl FakeAws {
    pub fn start() -> Self {
        Self::serve(State {
            users: Vec::new(),
            admins: HashMap::new(),
            roles: HashMap::new(),
            sessions: HashMap::new(),
            new_key_delay: Duration::ZERO,
            new_keys_never_work: false,
            faults: HashMap::new(),
            calls: Vec::new(),
            issued_secrets: Vec::new(),
            listing_lag: Duration::ZERO,
        })
    }

    /// The address of the fault proxy in front of the fake.
    pub fn url(&self) -> String {
        self.base_url()
    }

    /// `ListAccessKeys` answers the key set as it was `lag` ago (changes
    /// made through the API only; keys given at setup were always there).
    /// Every other action sees the current state.
    pub fn listing_lag(&self, lag: Duration) -> &Self {
        self.state().listing_lag = lag;
        self
    }

    /// The environment that points the AWS SDK at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.url()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ]
    }

    /// An admin key that may call IAM and AssumeRole.
    pub fn with_admin(self, key_id: &str, secret: &str) -> Self {
        self.state()
            .admins
            .insert(key_id.to_owned(), secret.to_owned());
        self
    }

    /// A role that admin keys may assume (with `external_id` if given).
    pub fn with_role(self, arn: &str, external_id: Option<&str>) -> Self {
        self.state().roles.insert(
            arn.to_owned(),
            Role {
                external_id: external_id.map(str::to_owned),
            },
        );
        self
    }

    pub fn with_user(self, name: &str) -> Self {
        let user_id = format!("AIDA{}", random_upper(17));
        self.state().users.push(IamUser {
            name: name.to_owned(),
            user_id,
            keys: Vec::new(),
            history: vec![(None, Vec::new())],
        });
        self
    }

    /// Gives `user` an existing key with a fixed id and secret.
    pub fn with_key(
        self,
        user: &str,
        id: &str,
        secret: &str,
        active: bool,
        last_used: Option<&str>,
    ) -> Self {
        {
            let mut state = self.state();
            state.issued_secrets.push(secret.to_owned());
            let user = state.user_mut(user).expect("user exists");
            user.keys.push(IamKey {
                id: id.to_owned(),
                secret: secret.to_owned(),
                active,
                created: "2025-01-15T08:30:00Z".into(),
                last_used: last_used.map(str::to_owned),
                usable_after: Instant::now(),
            });
            user.settle();
        }
        self
    }

    /// New keys work for GetCallerIdentity only after `delay`.
    pub fn new_keys_work_after(self, delay: Duration) -> Self {
        self.state().new_key_delay = delay;
        self
    }

    /// New keys never work for GetCallerIdentity.
    pub fn new_keys_never_work(self) -> Self {
        self.state().new_keys_never_work = true;
        self
    }

    /// Answers the next `count` calls of `action` with `fault`.
    pub fn fault(&self, action: &str, fault: AwsFault, count: usize) -> &Self {
        let mut state = self.state();
        let queue = state.faults.entry(action.to_owned()).or_default();
        for _ in 0..count {
            queue.push_back(fault.clone());
        }
        self
    }

    /// The keys of `user` now.
    pub fn keys(&self, user: &str) -> Vec<IamKey> {
        self.state()
            .users
            .iter()
            .find(|u| u.name == user)
            .map(|u| u.keys.clone())
            .unwrap_or_default()
    }

    pub fn user_id(&self, user: &str) -> Option<String> {
        self.state()
            .users
            .iter()
            .find(|u| u.name == user)
            .map(|u| u.user_id.clone())
    }

    pub fn calls(&self) -> Vec<AwsCall> {
        self.state().calls.clone()
    }

    /// The actions called, in order.
    pub fn actions(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.action).collect()
    }

    /// Every secret this fake issued or was given: the leak scan's list.
    pub fn secrets(&self) -> Vec<String> {
        let state = self.state();
        let mut all = state.issued_secrets.clone();
        all.extend(state.admins.values().cloned());
        all.extend(
            state
                .sessions
                .values()
                .flat_map(|s| [s.secret.clone(), s.token.clone()]),
        );
        all
    }
}

impl State {
    fn user_mut(&mut self, name: &str) -> Option<&mut IamUser> {
        self.users.iter_mut().find(|u| u.name == name)
    }

    /// Who signed: (key id, secret, kind).
    fn principal(&self, key_id: &str, token: Option<&str>) -> Option<(String, Principal)> {
        if let Some(secret) = self.admins.get(key_id) {
            return Some((secret.clone(), Principal::Admin));
        }
        if let Some(session) = self.sessions.get(key_id) {
            if token != Some(session.token.as_str()) {
                return None;
            }
            return Some((
                session.secret.clone(),
                Principal::Role(session.role_arn.clone()),
            ));
        }
        for user in &self.users {
            if let Some(key) = user.keys.iter().find(|k| k.id == key_id) {
                return Some((key.secret.clone(), Principal::User(user.name.clone())));
            }
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    Admin,
    Role(String),
    User(String),
}

/// Status kinds are answered by the fake: `500` is `ServiceFailure`, `429` is
/// IAM's 400 `Throttling`, `apply-then-500` applies the action and then
/// answers `ServiceFailure`.
impl Service for State {
    const CALLS: &'static [&'static str] = &CALLS;

    fn call_name(request: &ProxiedRequest) -> String {
        call_name(request)
    }

    fn respond(
        &mut self,
        request: &wiremock::Request,
        fault: Option<FaultKind>,
    ) -> ResponseTemplate {
        let answer = self.serve(request, fault);
        if fault == Some(FaultKind::ApplyThen500) {
            let action = url::form_urlencoded::parse(&request.body)
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            return error(namespace(&action), &AwsFault::service_failure());
        }
        answer
    }
}

impl State {
    fn serve(
        &mut self,
        request: &wiremock::Request,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let action = param("Action").unwrap_or_default();
        let ns = namespace(&action);
        let state = self;
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let key_id = auth
            .split("Credential=")
            .nth(1)
            .and_then(|c| c.split('/').next())
            .unwrap_or_default()
            .to_owned();
        state.calls.push(AwsCall {
            action: action.clone(),
            key_id: key_id.clone(),
            params: params.clone(),
        });
        if let Some(mut fault) = state.faults.get_mut(&action).and_then(VecDeque::pop_front) {
            let echoed = request
                .headers
                .get("x-amz-security-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            fault.message = fault.message.replace(ECHO_SECURITY_TOKEN, echoed);
            return error(ns, &fault);
        }
        match injected {
            Some(FaultKind::Status500) => return error(ns, &AwsFault::service_failure()),
            Some(FaultKind::Status429) => return error(ns, &AwsFault::throttling()),
            _ => {}
        }
        let token = request
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok());
        let Some((secret, principal)) = state.principal(&key_id, token) else {
            return error(
                ns,
                &AwsFault::new(
                    403,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                ),
            );
        };
        if !sigv4_valid(request, &auth, &secret) {
            return error(
                ns,
                &AwsFault::new(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                ),
            );
        }
        if action == "GetCallerIdentity" {
            return caller_identity(state, &key_id, &principal);
        }
        if action == "AssumeRole" {
            return assume_role(
                state,
                &principal,
                &param("RoleArn").unwrap_or_default(),
                param("ExternalId"),
            );
        }
        if matches!(principal, Principal::User(_)) {
            return error(ns, &AwsFault::access_denied());
        }
        if action == "GetAccessKeyLastUsed" {
            let id = param("AccessKeyId").unwrap_or_default();
            let found = state.users.iter().find_map(|u| {
                u.keys
                    .iter()
                    .find(|k| k.id == id)
                    .map(|k| (u.name.clone(), k.last_used.clone()))
            });
            return match found {
                Some((user, Some(date))) => ok(
                    "GetAccessKeyLastUsed",
                    IAM_NS,
                    &format!(
                        "<UserName>{user}</UserName><AccessKeyLastUsed><LastUsedDate>{date}</LastUsedDate><ServiceName>s3</ServiceName><Region>us-east-1</Region></AccessKeyLastUsed>"
                    ),
                ),
                Some((user, None)) => ok(
                    "GetAccessKeyLastUsed",
                    IAM_NS,
                    &format!(
                        "<UserName>{user}</UserName><AccessKeyLastUsed><ServiceName>N/A</ServiceName><Region>N/A</Region></AccessKeyLastUsed>"
                    ),
                ),
                None => error(
                    IAM_NS,
                    &AwsFault::new(
                        404,
                        "NoSuchEntity",
                        &format!("The Access Key with id {id} cannot be found."),
                    ),
                ),
            };
        }
        let user_name = param("UserName").unwrap_or_default();
        let Some(user) = state.users.iter().position(|u| u.name == user_name) else {
            return error(
                ns,
                &AwsFault::new(
                    404,
                    "NoSuchEntity",
                    &format!("The user with name {user_name} cannot be found."),
                ),
            );
        };
        match action.as_str() {
            "GetUser" => {
                let u = &state.users[user];
                ok(
                    "GetUser",
                    IAM_NS,
                    &format!(
                        "<User><Path>/</Path><UserName>{}</UserName><UserId>{}</UserId><Arn>arn:aws:iam::{ACCOUNT}:user/{}</Arn><CreateDate>2024-03-01T12:00:00Z</CreateDate></User>",
                        u.name, u.user_id, u.name
                    ),
                )
            }
            "ListAccessKeys" => {
                let u = &state.users[user];
                let members: String = u
                    .listed(state.listing_lag)
                    .iter()
                    .map(|k| {
                        format!(
                            "<member><UserName>{}</UserName><AccessKeyId>{}</AccessKeyId><Status>{}</Status><CreateDate>{}</CreateDate></member>",
                            u.name,
                            k.id,
                            status(k.active),
                            k.created
                        )
                    })
                    .collect();
                ok(
                    "ListAccessKeys",
                    IAM_NS,
                    &format!(
                        "<AccessKeyMetadata>{members}</AccessKeyMetadata><IsTruncated>false</IsTruncated>"
                    ),
                )
            }
            "CreateAccessKey" => {
                if state.users[user].keys.len() >= 2 {
                    return error(
                        IAM_NS,
                        &AwsFault::new(
                            409,
                            "LimitExceeded",
                            "Cannot exceed quota for AccessKeysPerUser: 2",
                        ),
                    );
                }
                let delay = if state.new_keys_never_work {
                    Duration::from_secs(365 * 24 * 3600)
                } else {
                    state.new_key_delay
                };
                let key = IamKey {
                    id: format!("AKIA{}", random_upper(16)),
                    secret: random_secret(),
                    active: true,
                    created: iso8601(SystemTime::now()),
                    last_used: None,
                    usable_after: Instant::now() + delay,
                };
                state.issued_secrets.push(key.secret.clone());
                let body = format!(
                    "<AccessKey><UserName>{}</UserName><AccessKeyId>{}</AccessKeyId><Status>Active</Status><SecretAccessKey>{}</SecretAccessKey><CreateDate>{}</CreateDate></AccessKey>",
                    user_name, key.id, key.secret, key.created
                );
                state.users[user].keys.push(key);
                state.users[user].remember();
                ok("CreateAccessKey", IAM_NS, &body)
            }
            "DeleteAccessKey" => {
                let id = param("AccessKeyId").unwrap_or_default();
                let keys = &mut state.users[user].keys;
                let before = keys.len();
                keys.retain(|k| k.id != id);
                if keys.len() == before {
                    return error(
                        IAM_NS,
                        &AwsFault::new(
                            404,
                            "NoSuchEntity",
                            &format!("The Access Key with id {id} cannot be found."),
                        ),
                    );
                }
                state.users[user].remember();
                ok("DeleteAccessKey", IAM_NS, "")
            }
            "UpdateAccessKey" => {
                let id = param("AccessKeyId").unwrap_or_default();
                let active = param("Status").as_deref() == Some("Active");
                match state.users[user].keys.iter_mut().find(|k| k.id == id) {
                    Some(key) => {
                        key.active = active;
                        state.users[user].remember();
                        ok("UpdateAccessKey", IAM_NS, "")
                    }
                    None => error(
                        IAM_NS,
                        &AwsFault::new(
                            404,
                            "NoSuchEntity",
                            &format!("The Access Key with id {id} cannot be found."),
                        ),
                    ),
                }
            }
            other => error(
                ns,
                &AwsFault::new(
                    400,
                    "InvalidAction",
                    &format!("Could not find operation {other}"),
                ),
            ),
        }
    }
}

fn caller_identity(state: &mut State, key_id: &str, principal: &Principal) -> ResponseTemplate {
    let (arn, user_id) = match principal {
        Principal::Admin => (
            format!("arn:aws:iam::{ACCOUNT}:user/keeper-admin"),
            "AIDAADMIN".to_owned(),
        ),
        Principal::Role(role) => (format!("{role}/session"), "AROAROLE:session".to_owned()),
        Principal::User(name) => {
            let user = state.user_mut(name).expect("the principal's user");
            let user_id = user.user_id.clone();
            let key = user
                .keys
                .iter_mut()
                .find(|k| k.id == key_id)
                .expect("the principal's key");
            if !key.active || Instant::now() < key.usable_after {
                return error(
                    STS_NS,
                    &AwsFault::new(
                        403,
                        "InvalidClientTokenId",
                        "The security token included in the request is invalid.",
                    ),
                );
            }
            key.last_used = Some(iso8601(SystemTime::now()));
            (format!("arn:aws:iam::{ACCOUNT}:user/{name}"), user_id)
        }
    };
    ok(
        "GetCallerIdentity",
        STS_NS,
        &format!("<Arn>{arn}</Arn><UserId>{user_id}</UserId><Account>{ACCOUNT}</Account>"),
    )
}

fn assume_role(
    state: &mut State,
    principal: &Principal,
    arn: &str,
    external_id: Option<String>,
) -> ResponseTemplate {
    let denied = || {
        error(
            STS_NS,
            &AwsFault::new(
                403,
                "AccessDenied",
                &format!("User is not authorized to perform: sts:AssumeRole on resource: {arn}"),
            ),
        )
    };
    if *principal != Principal::Admin {
        return denied();
    }
    let Some(role) = state.roles.get(arn) else {
        return denied();
    };
    if role.external_id.is_some() && role.external_id != external_id {
        return denied();
    }
    let id = format!("ASIA{}", random_upper(16));
    let session = Session {
        secret: random_secret(),
        token: format!("FwoGZXIvYXdzE{}", random_secret()),
        role_arn: arn.to_owned(),
    };
    let body = format!(
        "<Credentials><AccessKeyId>{id}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAROLE:keeper</AssumedRoleId><Arn>{arn}/keeper</Arn></AssumedRoleUser>",
        session.secret,
        session.token,
        iso8601(SystemTime::now() + Duration::from_secs(3600))
    );
    state.sessions.insert(id, session);
    ok("AssumeRole", STS_NS, &body)
}

/// The XML namespace of an action's answers.
fn namespace(action: &str) -> &'static str {
    if matches!(action, "GetCallerIdentity" | "AssumeRole") {
        STS_NS
    } else {
        IAM_NS
    }
}

fn status(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}

fn ok(action: &str, ns: &str, result: &str) -> ResponseTemplate {
    let request_id = random_upper(8);
    let body = if result.is_empty() {
        format!(
            "<{action}Response xmlns=\"{ns}\"><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        )
    } else {
        format!(
            "<{action}Response xmlns=\"{ns}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
        )
    };
    ResponseTemplate::new(200).set_body_raw(body, "text/xml")
}

fn error(ns: &str, fault: &AwsFault) -> ResponseTemplate {
    let kind = if fault.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        fault.code,
        fault.message,
        random_upper(8)
    );
    ResponseTemplate::new(fault.status).set_body_raw(body, "text/xml")
}

fn random_upper(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

fn random_secret() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

pub use common::time::iso8601;

/// Checks a SigV4 `Authorization` header against `secret`.
fn sigv4_valid(request: &wiremock::Request, auth: &str, secret: &str) -> bool {
    let field = |name: &str| {
        auth.split([',', ' '])
            .find_map(|part| part.trim().strip_prefix(name))
            .map(str::to_owned)
    };
    let (Some(credential), Some(signed_headers), Some(signature)) = (
        field("Credential="),
        field("SignedHeaders="),
        field("Signature="),
    ) else {
        return false;
    };
    let scope: Vec<&str> = credential.splitn(2, '/').collect();
    let Some(scope) = scope.get(1) else {
        return false;
    };
    let parts: Vec<&str> = scope.split('/').collect();
    if parts.len() != 4 {
        return false;
    }
    let (date, region, service) = (parts[0], parts[1], parts[2]);
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let amz_date = header("x-amz-date");
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        canonical_headers.push_str(&format!("{name}:{}\n", header(name)));
    }
    let mut query: Vec<(String, String)> = request
        .url
        .query_pairs()
        .map(|(k, v)| (uri_encode(&k), uri_encode(&v)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let payload_hash = match request
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(hash) => hash.to_owned(),
        None => hex(&Sha256::digest(&request.body)),
    };
    let canonical_request = format!(
        "{}\n{}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        request.method,
        request.url.path()
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes())) == signature
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn uri_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
