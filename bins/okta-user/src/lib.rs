//! rotate-okta-user: changes an Okta user's password through the Okta
//! management API, as a Keeper Gateway PAM script.
//!
//! The Gateway stores `newPassword` in the PAM User record itself when this
//! program exits 0, so nothing is written to the vault here.

use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Result};
use common::http::{self, Replay};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::{Value, json};

pub mod config;
mod okta;
mod password;

pub use config::{Setup, check_login};
use okta::{Org, okta_error, refused};
use password::{Path, Proof, prove_password};

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

    fn checked(p: &Planned<'_>, _run: &Run) -> Checked {
        let checked = Checked::input()
            .did("the API record")
            .did("the API token and the user, with a read of the user (GET /api/v1/users/<login>)")
            .not("that Okta's password policy accepts the new password");
        if p.path == Path::AdminReset {
            checked.not("that the token may reset passwords")
        } else {
            checked.not("that the old password is the user's current one")
        }
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
    // The request first: the body holds the passwords, and an error before
    // it is handed over would leave them unwiped.
    let request = org.request(Method::POST, url)?;
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
    let change = request.secret_json(body);
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
    let response = org.send_change(&change_client, &change).map_err(|error| {
        error.unsure_change(
            &format!("the Okta password of '{login}'"),
            &format!(
                "It was not sent again (once changed, the old password no longer works). Check \
                 by signing in to Okta as '{login}' with the old password: if it still works, \
                 nothing changed and the rotation can be run again; if not, reset the password \
                 in Okta and store it in the record"
            ),
        )
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
