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
//! Query `Action` ([`CALLS`]), so any [`FaultKind`](crate::faults::FaultKind) can be armed on the nth
//! occurrence of an action. `ListAccessKeys` can lag: IAM is eventually
//! consistent, and right after a create or delete a listing may still show
//! the keys as they were ([`FakeAws::listing_lag`]).
//!
//! The module in three: the state and the handle a test holds (here), the
//! Query API's actions and answers (`query.rs`), and the SigV4 check
//! (`sigv4.rs`), which is AWS's published algorithm and changes with
//! nothing else.

mod query;
mod sigv4;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::Rng;

use super::http::HttpFake;
use super::lag::Lagging;
use crate::faults::ProxiedRequest;

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
    /// As they are, and as lagging listings show them (`listing_lag`).
    keys: Lagging<IamKey>,
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
    /// What `ListAccessKeys` shows as a key's `Status` instead of its own
    /// (`None`: no `Status` element), by key id.
    listed_status: HashMap<String, Option<String>>,
    /// Keys someone else deletes just before an `UpdateAccessKey` names
    /// them ([`FakeAws::deleted_before_update`]).
    deleted_before_update: Vec<String>,
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
            listed_status: HashMap::new(),
            deleted_before_update: Vec::new(),
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

    /// `ListAccessKeys` shows key `id` with `status` (`None`: without a
    /// `Status`), as a service that knows more states than Active and
    /// Inactive, or an IAM-compatible one that leaves it out, would. The
    /// key itself keeps working as before.
    pub fn list_status_as(&self, id: &str, status: Option<&str>) -> &Self {
        self.state()
            .listed_status
            .insert(id.to_owned(), status.map(str::to_owned));
        self
    }

    /// Someone else deletes key `id` just before the first
    /// `UpdateAccessKey` that names it, which then finds it gone
    /// (NoSuchEntity), as IAM answers a key deleted meanwhile.
    pub fn deleted_before_update(&self, id: &str) -> &Self {
        self.state().deleted_before_update.push(id.to_owned());
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
            keys: Lagging::new(),
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
            user.keys.settle();
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
            .map(|u| u.keys.to_vec())
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
