//! The Query API's actions as the fake answers them: who signed (and
//! whether the signature holds), what each action does to the state, and
//! the XML answers and error XML as IAM and STS send them.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use wiremock::ResponseTemplate;

use super::sigv4::sigv4_valid;
use super::{
    ACCOUNT, AwsCall, AwsFault, CALLS, ECHO_SECURITY_TOKEN, IAM_NS, IamKey, Principal, STS_NS,
    Session, State, call_name, iso8601, random_secret, random_upper,
};
use crate::fakes::http::Service;
use crate::faults::{FaultKind, ProxiedRequest};

/// Status kinds are answered by the fake: `500` is `ServiceFailure`, `429` is
/// IAM's 400 `Throttling`, `apply-then-500` applies the action and then
/// answers `ServiceFailure`.
impl Service for State {
    const CALLS: &'static [&'static str] = &CALLS;
    const CALL_NAME: fn(&ProxiedRequest) -> String = call_name;

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
                None => no_such_key(&id),
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
                    .keys
                    .as_of(state.listing_lag)
                    .iter()
                    .map(|k| {
                        let shown = match state.listed_status.get(&k.id) {
                            None => format!("<Status>{}</Status>", status(k.active)),
                            Some(Some(other)) => format!("<Status>{other}</Status>"),
                            Some(None) => String::new(),
                        };
                        format!(
                            "<member><UserName>{}</UserName><AccessKeyId>{}</AccessKeyId>{shown}<CreateDate>{}</CreateDate></member>",
                            u.name,
                            k.id,
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
                state.users[user].keys.remember();
                ok("CreateAccessKey", IAM_NS, &body)
            }
            "DeleteAccessKey" => {
                let id = param("AccessKeyId").unwrap_or_default();
                let keys = &mut state.users[user].keys;
                let before = keys.len();
                keys.retain(|k| k.id != id);
                if keys.len() == before {
                    return no_such_key(&id);
                }
                state.users[user].keys.remember();
                ok("DeleteAccessKey", IAM_NS, "")
            }
            "UpdateAccessKey" => {
                let id = param("AccessKeyId").unwrap_or_default();
                if let Some(at) = state.deleted_before_update.iter().position(|d| *d == id) {
                    state.deleted_before_update.remove(at);
                    state.users[user].keys.retain(|k| k.id != id);
                    state.users[user].keys.remember();
                }
                // IAM takes exactly Active or Inactive, and refuses any other
                // status (a missing one included) with a ValidationError.
                let active = match param("Status").as_deref() {
                    Some("Active") => true,
                    Some("Inactive") => false,
                    status => {
                        return error(
                            IAM_NS,
                            &AwsFault::new(
                                400,
                                "ValidationError",
                                &format!(
                                    "1 validation error detected: Value '{}' at 'status' failed \
                                     to satisfy constraint: Member must satisfy enum value set: \
                                     [Active, Inactive]",
                                    status.unwrap_or("null")
                                ),
                            ),
                        );
                    }
                };
                match state.users[user].keys.iter_mut().find(|k| k.id == id) {
                    Some(key) => {
                        key.active = active;
                        state.users[user].keys.remember();
                        ok("UpdateAccessKey", IAM_NS, "")
                    }
                    None => no_such_key(&id),
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

/// IAM's answer for an access key id it does not have.
fn no_such_key(id: &str) -> ResponseTemplate {
    error(
        IAM_NS,
        &AwsFault::new(
            404,
            "NoSuchEntity",
            &format!("The Access Key with id {id} cannot be found."),
        ),
    )
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
