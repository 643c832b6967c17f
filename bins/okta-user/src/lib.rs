//! rotate-okta-user: changes an Okta user's password through the Okta
//! management API, as a Keeper Gateway PAM script.
//!
//! The Gateway stores `newPassword` in the PAM User record itself when this
//! program exits 0, so nothing is written to the vault here.

use common::cli;
use common::driver::{Rotator, Run};
use common::error::{Error, Location, Result};
use common::http::{self, Replay, Request, Response};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::{Value, json};
use zeroize::Zeroizing;

pub mod config;

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record (login = the Okta user's login or email, password = the
current password) whose rotation is \"Run PAM scripts only\", with the Okta API record
attached to the script as a rotation credential.

Gateway input read: user, newPassword, oldPassword (not with okta_admin_reset), records.

Okta API record (never the user record), the first that applies:
  1. the attached record titled by the user record's custom field okta_record_title
  2. the attached record titled \"Okta API Access Details\"
  3. the only attached record whose url is an Okta org (*.okta.com, *.oktapreview.com, ...)
  url          the org URL, e.g. https://dev-123456.okta.com
  password     the API token
  auth_scheme  custom, optional: SSWS (default, an API token) or Bearer (an OAuth 2.0
               access token)

User record, custom, optional:
  okta_admin_reset     true: set the password as an admin, without the old one (Okta then
                       does not apply the password-history rule)
  okta_strict          true: change_password with strict=true (Okta also enforces the
                       minimum password age)
  okta_prove_password  false: do not sign in with the new password after the change
                       (default true; see below)

The login must be the Okta user's full login: 'me' and anything Okta resolves to a user
with another login (a login short name, a user id) exit 2 before any change.

After the change the new password is proven with Okta's primary authentication
(POST /api/v1/authn, no API token): SUCCESS, PASSWORD_WARN, PASSWORD_EXPIRED and an MFA
step mean it signs in. If it is refused, another rotation or an administrator changed the
password in between: exit 4 (the Gateway keeps the old password), naming what to check.
The change leaves a third of the time left to the sign-in, which is retried while no answer
or a 5xx/429 comes; if it never completes: exit 4, and the account most likely holds the
new password, which the Gateway does not store (the message says what to do).
A STAGED user cannot sign in: its change is not proven (said in the summary).
Runs on one account (org and login) never overlap on this host: a second run exits 1,
nothing changed (lock directory: KEEPER_ROTATOR_LOCK_DIR).

Writes: nothing to the vault; the Gateway stores the new password on exit 0.";

/// The rotator.
#[derive(Debug)]
pub struct OktaUser;

impl Rotator for OktaUser {
    const NAME: &'static str = "rotate-okta-user";
    const ABOUT: &'static str =
        "Rotates an Okta user's password through the Okta API (Keeper Gateway PAM script).";
    const FIELDS: &'static str = FIELDS;

    type Plan<'r> = Planned<'r>;

    fn host_lock(run: &Run) -> Result<Option<common::host_lock::Target>> {
        let setup = Setup::from_input(&run.input)?;
        let org = setup.url.origin().ascii_serialization();
        Ok(Some(common::host_lock::Target {
            shown: format!("the Okta user '{}' at {org}", setup.login),
            service: org,
            account: setup.login.to_owned(),
        }))
    }

    fn plan(run: &Run) -> Result<Planned<'_>> {
        plan(run)
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        format!(
            "Okta user '{}' ({}) is {}; would change the password with {} (POST {}); {}.",
            p.login,
            p.id,
            p.status,
            p.path.describe(),
            http::display_url(&p.url),
            if !p.prove {
                "the new password would not be proven (okta_prove_password is false)"
            } else if p.status == "STAGED" {
                "the new password would not be proven (a STAGED user cannot sign in)"
            } else {
                "then would prove it by signing in (POST /api/v1/authn)"
            }
        )
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        apply(p, run)
    }
}

/// User statuses in which Okta lets a password be changed or set.
const CHANGEABLE: [&str; 4] = ["STAGED", "ACTIVE", "PASSWORD_EXPIRED", "RECOVERY"];

/// How the password is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    ChangePassword { strict: bool },
    AdminReset,
}

impl Path {
    fn describe(self) -> &'static str {
        match self {
            Self::ChangePassword { strict: false } => {
                "change_password with the old password (Okta applies the password policy, history included)"
            }
            Self::ChangePassword { strict: true } => {
                "change_password with the old password, strict (Okta applies the password policy, \
                 history and minimum age included)"
            }
            Self::AdminReset => {
                "an admin reset without the old password (Okta applies the complexity rules but \
                 not the password history)"
            }
        }
    }
}

/// The Okta org, its token, and how to talk to it.
#[derive(Debug)]
pub struct Org {
    url: Url,
    token: Secret,
    scheme: &'static str,
    location: Location,
    client: http::Client,
}

impl Org {
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        let mut path = base;
        for segment in segments {
            path.push('/');
            path.push_str(&encode_segment(segment));
        }
        url.set_path(&path);
        url.set_query(None);
        url
    }

    fn request(&self, method: Method, url: Url) -> Result<Request> {
        Request::new(method, url)
            .secret_header("Authorization", &format!("{} ", self.scheme), &self.token)?
            .header("Accept", "application/json")
    }

    fn send(&self, request: &Request, replay: Replay) -> Result<Response> {
        cli::block_on(self.client.send(request, replay))?
    }

    /// Sends the change through `client` (the run's, less the time kept for
    /// the proof); any 2xx means it was made (see
    /// [`http::Client::send_change`] for what other answers mean).
    fn send_change(&self, client: &http::Client, request: &Request) -> Result<Response> {
        cli::block_on(client.send_change(request, |s| s.is_success()))?
    }
}

/// Percent-encodes everything but unreserved characters: a login with `@`,
/// `+`, `/` or any unicode reaches Okta as one path segment, intact.
fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Everything the change needs from the Gateway's input, checked before any
/// request: a pure function of the input.
#[derive(Debug)]
pub struct Setup<'a> {
    pub login: &'a str,
    pub new_password: &'a Secret,
    /// `None` for an admin reset.
    pub old_password: Option<&'a Secret>,
    pub api_record: &'a common::records::Record,
    pub url: Url,
    pub token: Secret,
    /// `SSWS` or `Bearer`.
    pub scheme: &'static str,
    pub admin_reset: bool,
    pub strict: bool,
    /// Whether the new password is proven with primary authentication.
    pub prove: bool,
}

/// Refuses a login that is not an Okta login: `me` (Okta answers
/// `/api/v1/users/me` with the API token's own user), dot segments, and
/// text no login has (blanks at either end, control characters, `/`).
/// The lookup's answer is checked too ([`plan`]); this refuses before any
/// request.
pub fn check_login(login: &str) -> Result<()> {
    let problem = if login.trim().eq_ignore_ascii_case("me") {
        Some("'me' names the API token's own user in Okta, not an account to rotate")
    } else if login.trim().is_empty() || login == "." || login == ".." {
        Some("it is not a login")
    } else if login.trim() != login {
        Some("it starts or ends with a blank")
    } else if login
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        Some("it holds a control character, '/' or '\\', which no Okta login has")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::Invalid {
            name: "user".into(),
            location: Location::Params,
            problem: format!(
                "{problem}; set the PAM User record's login to the Okta user's full login \
                 (nothing was sent)"
            ),
        }),
        None => Ok(()),
    }
}

impl<'a> Setup<'a> {
    pub fn from_input(input: &'a common::gateway::GatewayInput) -> Result<Self> {
        let login = input.require_user()?;
        check_login(login)?;
        let new_password = input.require_new_password()?;
        input.require_user_record_uid()?;
        let api = config::find_api_record(&input.records)?;
        let location = api.location();
        let url = http::require_https(&api.require_text("url")?, "url", &location)?;
        let token = api.require_secret("password").map_err(|_| Error::Missing {
            name: "password".into(),
            location: location.clone(),
            hint: "; it holds the Okta API token".into(),
        })?;
        let scheme = match api.text("auth_scheme")?.map(|s| s.to_ascii_lowercase()) {
            None => "SSWS",
            Some(s) if s == "ssws" => "SSWS",
            Some(s) if s == "bearer" => "Bearer",
            Some(other) => {
                return Err(Error::invalid(
                    "auth_scheme",
                    location,
                    format!("'{other}' is not SSWS or Bearer"),
                ));
            }
        };
        let user_record = input.records.user();
        let flag = |name: &str| -> Result<bool> {
            Ok(match user_record {
                Some(record) => record.flag(name)?.unwrap_or(false),
                None => false,
            })
        };
        let admin_reset = flag("okta_admin_reset")?;
        let strict = !admin_reset && flag("okta_strict")?;
        let prove = match user_record {
            Some(record) => record.flag("okta_prove_password")?.unwrap_or(true),
            None => true,
        };
        let old_password = if admin_reset {
            None
        } else {
            Some(input.old_password.as_ref().ok_or_else(|| {
                Error::Missing {
                    name: "oldPassword".into(),
                    location: Location::Params,
                    hint: "; change_password needs the current password. To set the password \
                       without it, set the user record's custom field okta_admin_reset to true"
                        .into(),
                }
            })?)
        };
        Ok(Self {
            login,
            new_password,
            old_password,
            api_record: api,
            url,
            token,
            scheme,
            admin_reset,
            strict,
            prove,
        })
    }
}

/// What planning found: the user, and how its password will be changed.
#[derive(Debug)]
pub struct Planned<'r> {
    login: &'r str,
    id: String,
    status: String,
    path: Path,
    url: Url,
    org: Org,
    prove: bool,
}

/// Reads the input and looks the user up (a read). Changes nothing.
fn plan(run: &Run) -> Result<Planned<'_>> {
    let Setup {
        login,
        api_record,
        url,
        token,
        scheme,
        admin_reset,
        strict,
        prove,
        ..
    } = Setup::from_input(&run.input)?;
    let location = api_record.location();
    let path = if admin_reset {
        Path::AdminReset
    } else {
        Path::ChangePassword { strict }
    };
    tracing::info!("Okta API record: {location}");

    let org = Org {
        url,
        token,
        scheme,
        location,
        client: run.http()?,
    };
    let lookup = org.request(Method::GET, org.endpoint(&["api", "v1", "users", login]))?;
    let target = lookup.target();
    let response = org.send(&lookup, Replay::Safe)?;
    let user: Value = match response.status.as_u16() {
        200 => response
            .json()
            .map_err(|e| Error::Failed(format!("{target}: the answer is not a user ({e})")))?,
        404 => {
            return Err(Error::Config(format!(
                "Okta has no user with login '{login}' (the PAM User record's login): {}",
                okta_error(&response)
            )));
        }
        _ => return Err(refused(&org, &target, &response, "looking up the user")),
    };
    let id = user
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let status = user
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("UNKNOWN")
        .to_owned();
    // The id goes into the next request's path and into every message, the
    // status into messages: a server's text, so an id must look like one
    // (Okta's are 20 letters and digits) and a status is shown as any
    // server field is.
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::Failed(format!(
            "{target}: the answer's user id {} is not an Okta user id (letters and digits); \
             nothing was changed",
            if id.is_empty() {
                "is missing and"
            } else {
                "is withheld: it"
            }
        )));
    }
    if status.is_empty()
        || status.len() > 32
        || !status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    {
        return Err(Error::Failed(format!(
            "{target}: the answer's user status {} is not an Okta status; nothing was changed",
            http::shown(&status)
        )));
    }
    tracing::info!("Okta user '{login}': id {id}, status {status}");
    // Okta answers a lookup by id, by login short name or by `me` with a
    // user whose login is not the one asked for: rotating that user would
    // change someone else's password and file it under this record.
    let answered = user
        .pointer("/profile/login")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !answered.eq_ignore_ascii_case(login) {
        return Err(Error::Config(format!(
            "Okta answered the lookup of '{login}' with the user {id} whose login is '{}'; only \
             a user whose login is the record's login is rotated. Set the PAM User record's \
             login to the Okta user's full login (nothing was changed)",
            http::shown(answered)
        )));
    }
    if !CHANGEABLE.contains(&status.as_str()) {
        return Err(Error::Config(format!(
            "the Okta user '{login}' ({id}) is {status}; Okta changes passwords only for users \
             that are {}",
            CHANGEABLE.join(", ")
        )));
    }

    let url = match path {
        Path::ChangePassword { strict } => {
            let mut url =
                org.endpoint(&["api", "v1", "users", &id, "credentials", "change_password"]);
            if strict {
                url.set_query(Some("strict=true"));
            }
            url
        }
        Path::AdminReset => org.endpoint(&["api", "v1", "users", &id]),
    };
    Ok(Planned {
        login,
        id,
        status,
        path,
        url,
        org,
        prove,
    })
}

/// Sends the change (once: it is not safe to repeat) and judges the answer.
fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
    let Planned {
        login,
        id,
        status,
        path,
        url,
        org,
        prove,
    } = p;
    let new_password = run.input.require_new_password()?;
    let body = match path {
        Path::ChangePassword { .. } => {
            let old = run
                .input
                .old_password
                .as_ref()
                .map(Secret::expose)
                .unwrap_or_default();
            json!({
                "oldPassword": {"value": old},
                "newPassword": {"value": new_password.expose()},
            })
        }
        Path::AdminReset => json!({"credentials": {"password": {"value": new_password.expose()}}}),
    };
    tracing::info!("changing the password with {}", path.describe());
    let bytes = Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
    let mut body = body;
    common::records::wipe_json(&mut body);
    let change = org.request(Method::POST, url)?.json_body(bytes);
    let target = change.target();
    // The change may not use up the time the proof needs: a change answered
    // at the deadline would leave a new password no one can prove (exit 4).
    let proving = prove && status != "STAGED";
    let kept = if proving {
        run.deadline.proof_reserve()
    } else {
        std::time::Duration::ZERO
    };
    let change_client = run.http_keeping(kept)?;
    let response = org.send_change(&change_client, &change).map_err(|error| match error {
        Error::NoAnswer { target, detail } => Error::NeedsAttention(format!(
            "{target}: the request was sent but {detail}, so the Okta password of '{login}' may or \
             may not have changed. It was not sent again (once changed, the old password no longer \
             works). Check by signing in to Okta as '{login}' with the old password: if it still \
             works, nothing changed and the rotation can be run again; if not, reset the password \
             in Okta and store it in the record"
        )),
        other => other,
    })?;
    if !response.status.is_success() {
        return Err(refused(&org, &target, &response, "changing the password"));
    }
    let rotated = format!(
        "rotated the Okta password of '{login}' ({id}) with {}",
        path.describe()
    );
    if !prove {
        tracing::warn!(
            "okta_prove_password is false: the new password was not proven by signing in"
        );
        return Ok(format!(
            "{rotated}; not proven (okta_prove_password is false)"
        ));
    }
    if status == "STAGED" {
        tracing::warn!("a STAGED user cannot sign in: the new password was not proven");
        return Ok(format!(
            "{rotated}; not proven (a STAGED user cannot sign in)"
        ));
    }
    match prove_password(&org, login, new_password) {
        Proof::Proven(how) => Ok(format!("{rotated}; the new password signs in ({how})")),
        Proof::Refused(why) => Err(Error::NeedsAttention(format!(
            "Okta accepted the change of the password of '{login}' ({id}), but {why}. Another \
             rotation or an administrator may have changed the password since, so the Gateway must \
             not store this run's password (exit 4); the record keeps the one it holds. \
             Check which password signs in as '{login}' (the record's, or neither: then reset \
             it in Okta and store it in the record) and that no other rotation of '{login}' \
             runs, from this or another gateway"
        ))),
        Proof::Unknown(why) => Err(Error::NeedsAttention(format!(
            "Okta accepted the change of the password of '{login}' ({id}), but the sign-in that \
             proves the new password could not be completed ({why}). The account most likely \
             holds this run's NEW password now, and the Gateway does not store it (this exit is \
             4, not 0): the record still holds the previous password, which most likely no \
             longer works. Do not assume the record's password works. {}",
            match path {
                Path::AdminReset => format!(
                    "Rotate '{login}' again once Okta answers sign-ins (an admin reset does not \
                     need the old password), or check a sign-in as '{login}' with this run's \
                     new password if your rotation history shows it"
                ),
                Path::ChangePassword { .. } => format!(
                    "Check a sign-in as '{login}' with this run's new password if your rotation \
                     history shows it; otherwise reset the password in Okta (or set \
                     okta_admin_reset to true on the user record: change_password needs the \
                     current password, which the record no longer holds) and rotate again"
                ),
            }
        ))),
    }
}

/// What the sign-in with the new password showed.
enum Proof {
    /// The password signs in: the status that proves it.
    Proven(String),
    /// Okta refused the password: the account holds another one.
    Refused(String),
    /// The sign-in could not be completed or said nothing about the
    /// password: the account most likely holds the new one.
    Unknown(String),
}

/// Okta's primary-authentication statuses that come only after the
/// password was accepted.
const SIGNED_IN: [&str; 6] = [
    "SUCCESS",
    "PASSWORD_WARN",
    "PASSWORD_EXPIRED",
    "MFA_REQUIRED",
    "MFA_ENROLL",
    "MFA_CHALLENGE",
];

/// Signs in as `login` with `password` (`POST /api/v1/authn`, without the
/// API token: with it, Okta would treat the call as a trusted application's),
/// retrying transient failures for as long as the deadline allows
/// ([`http::Client::send_proof`]). A refused sign-in counts toward the user's
/// lockout like any wrong password.
fn prove_password(org: &Org, login: &str, password: &Secret) -> Proof {
    let body = json!({"username": login, "password": password.expose()});
    let bytes = Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
    let mut body = body;
    common::records::wipe_json(&mut body);
    let request = match Request::new(Method::POST, org.endpoint(&["api", "v1", "authn"]))
        .header("Accept", "application/json")
    {
        Ok(request) => request.json_body(bytes),
        Err(e) => return Proof::Unknown(format!("the sign-in request cannot be made ({e})")),
    };
    let target = request.target();
    tracing::info!("proving the new password: {target}");
    let response = match cli::block_on(org.client.send_proof(&request, |s| s.as_u16() == 200)) {
        Ok(Ok(response)) => response,
        Ok(Err(e)) | Err(e) => return Proof::Unknown(format!("signing in failed: {e}")),
    };
    let code = response.status.as_u16();
    let status = response
        .json::<Value>()
        .ok()
        .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned));
    match (code, status) {
        (200, Some(status)) if SIGNED_IN.contains(&status.as_str()) => Proof::Proven(status),
        (200, Some(status)) => Proof::Unknown(format!(
            "signing in with the new password answered {}, which does not prove it",
            http::shown(&status)
        )),
        (401, _) => Proof::Refused(format!(
            "signing in with the new password was refused ({target} answered {})",
            okta_error(&response)
        )),
        _ => Proof::Unknown(format!(
            "signing in with the new password did not say whether it works ({target} \
             answered {})",
            okta_error(&response)
        )),
    }
}

/// An Okta error answer as one clear message: code, summary and causes,
/// each through [`http::shown`]. Nothing else of the body is shown: Okta
/// echoes input in its summaries, and a body that is not Okta's error object
/// (a proxy's page, say) is described by its size only.
fn okta_error(response: &Response) -> String {
    let status = response.status.as_u16();
    let Ok(Value::Object(body)) = response.json::<Value>() else {
        return format!("HTTP {status}: {}", http::unshown(&response.body));
    };
    let field = |v: Option<&Value>| v.and_then(Value::as_str).map(http::shown);
    let code = field(body.get("errorCode")).unwrap_or_else(|| "no error code".into());
    let summary = field(body.get("errorSummary")).unwrap_or_default();
    let causes: Vec<String> = body
        .get("errorCauses")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .take(5)
                .filter_map(|c| field(c.get("errorSummary")))
                .collect()
        })
        .unwrap_or_default();
    let mut text = format!("HTTP {status} {code} {summary}");
    if !causes.is_empty() {
        text.push_str(": ");
        text.push_str(&causes.join("; "));
    }
    text
}

fn refused(org: &Org, target: &str, response: &Response, doing: &str) -> Error {
    let detail = okta_error(response);
    let advice = match response.status.as_u16() {
        401 => format!(
            "; check the API token (password) and auth_scheme in {}",
            org.location
        ),
        403 if detail.contains("oldPassword") => {
            "; the record's password is not the user's current Okta password. \
             Correct it, or set okta_admin_reset to true on the user record"
                .into()
        }
        403 if detail.contains("E0000014") => {
            "; the new password does not meet the Okta password policy: \
             adjust the record's password complexity to the policy"
                .into()
        }
        429 => "; Okta's rate limit; the password was not changed".into(),
        _ => String::new(),
    };
    Error::Failed(format!(
        "{doing} failed: {target} answered {detail}{advice}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_encoded_as_one_path_segment() {
        assert_eq!(encode_segment("a+b@example.com"), "a%2Bb%40example.com");
        assert_eq!(encode_segment("x/y"), "x%2Fy");
        assert_eq!(encode_segment("jürgen"), "j%C3%BCrgen");
    }

    #[test]
    fn me_and_text_that_is_no_login_are_refused_before_any_request() {
        for bad in [
            "me", "Me", " me ", "", " ", ".", "..", "a/b", "a\\b", "a\nb", " alice",
        ] {
            let error = check_login(bad).unwrap_err();
            assert_eq!(error.exit(), common::Exit::BadInput, "{bad:?}");
        }
        for good in [
            "alice@example.com",
            "alice",
            "me@example.com",
            "jürgen",
            "a+b@x",
        ] {
            assert!(check_login(good).is_ok(), "{good:?}");
        }
    }
}
