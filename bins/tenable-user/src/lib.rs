//! rotate-tenable-user: changes a Tenable Vulnerability Management
//! (Tenable.io) or Tenable Security Center user's password through
//! Tenable's API, as a Keeper Gateway PAM script, in place of Keeper's
//! `update_tenable_user.py` and `update_tenablesc_user.py`, from the same
//! records.
//!
//! Those scripts print a refused change's traceback and leave the exit code
//! to Python (a lost answer is as good as a success to them), and the
//! Security Center one turns TLS verification off. Here a refusal is exit 1,
//! an unanswered change exit 4, and on Security Center the new password is
//! proven by signing in with it (`POST /rest/token`). Tenable.io takes no
//! password sign-in through its API: there, Tenable's answer is the only
//! proof, and the summary says so.
//!
//! The admin record and the client (`config`, `tenable`) are public: any
//! other binary that talks to the same Tenable with the same record uses
//! them rather than a copy.

use common::cli;
use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Result};
use common::host_lock;
use common::http::{self, Request};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::{Value, json};

pub mod config;
pub mod tenable;

pub use config::{Flavour, Service, Setup};
use tenable::{Listed, Tenable, User, sc_error_code};

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record (login = the Tenable user name) whose rotation is \"Run PAM
scripts only\", with the admin record attached to the script as a rotation credential.
The records of Keeper's update_tenable_user.py and update_tenablesc_user.py work
unchanged.

Gateway input read: user (the user name), newPassword, oldPassword (sent as the current
password where Tenable takes it), records.

Admin record (never the user record), the first that applies:
  1. the attached record titled by the user record's custom field tenable_record_title
  2. the attached record titled \"Tenable Authentication Record\"
  3. the only attached record holding a tenable_access_key
  tenable_access_key  custom: the API access key (Settings > My Account > API Keys)
  tenable_secret_key  custom: the API secret key
  tenable_sc_host     custom, optional: Tenable Security Center's host (sc.example.com,
                      sc.example.com:8443) or https URL; set, the user is a Security Center
                      user, else a Tenable Vulnerability Management (Tenable.io) user
  tenable_url         custom, optional: Tenable.io's API URL (default
                      https://cloud.tenable.com); not with tenable_sc_host
  Every URL is https, or plain http to a loopback address only.

The user is looked up by name among the users the keys can see (Tenable.io: without regard
to case, its user names are emails; Security Center: exactly); no match, two matches, or
a match without a Tenable id exit 1. A Security Center user who signs in through LDAP,
SAML or a certificate exits 2 (Security Center keeps no password for one).
The password is changed with one request, never sent again:
  Tenable.io       PUT /users/{id}/chpasswd {password, current_password}
  Security Center  PATCH /rest/user/{id} {password, currentPassword}
(the current password only when the Gateway sends oldPassword). On Security Center the
new password is then proven by signing in as the user (POST /rest/token, then DELETE
/rest/token); refused or unanswered, the run exits 4. Tenable.io offers no password
sign-in through its API: the change is proven by Tenable's answer only.
Runs on one user of one Tenable never overlap on this host (a second run exits 1,
nothing changed; lock directory: KEEPER_ROTATOR_LOCK_DIR).

Writes: nothing to the vault; the Gateway stores the new password on exit 0.";

/// The rotator.
#[derive(Debug)]
pub struct TenableUser;

/// What planning found: the user, and where its password is changed.
#[derive(Debug)]
pub struct Planned<'r> {
    username: &'r str,
    user: User,
    url: Url,
    tenable: Tenable,
    old_password: Option<&'r Secret>,
}

impl Rotator for TenableUser {
    const NAME: &'static str = "rotate-tenable-user";
    const ABOUT: &'static str = "Rotates a Tenable Vulnerability Management or Security Center \
                                 user's password through Tenable's API (Keeper Gateway PAM \
                                 script).";
    const FIELDS: &'static str = FIELDS;

    type Plan<'r> = Planned<'r>;

    /// One lock per user of one Tenable (its API's host and path).
    fn host_lock(run: &Run) -> Result<Option<host_lock::Target>> {
        let setup = Setup::from_input(&run.input)?;
        let service = http::display_url(&setup.service.url);
        let account = match setup.service.flavour {
            Flavour::Io => setup.username.to_lowercase(),
            Flavour::Sc => setup.username.to_owned(),
        };
        Ok(Some(host_lock::Target {
            shown: format!("the Tenable user '{}' at {service}", setup.username),
            service,
            account,
        }))
    }

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let Setup {
            username,
            old_password,
            service,
            ..
        } = Setup::from_input(&run.input)?;
        let tenable = Tenable::new(&service, run.http()?);
        let user = find_user(&tenable, username)?;
        let url = match tenable.flavour {
            Flavour::Io => tenable.endpoint(&["users", &user.id, "chpasswd"]),
            Flavour::Sc => tenable.users_url(Some(&user.id)),
        };
        Ok(Planned {
            username,
            user,
            url,
            tenable,
            old_password,
        })
    }

    fn checked(p: &Planned<'_>, _run: &Run) -> Checked {
        Checked::input()
            .did("the admin record")
            .did(format!(
                "the API keys and the user, with a list of {}'s users",
                p.tenable.flavour.product()
            ))
            .not("that the keys may change the user's password")
            .not(format!(
                "that {} accepts the new password",
                p.tenable.flavour.product()
            ))
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        let method = match p.tenable.flavour {
            Flavour::Io => "PUT",
            Flavour::Sc => "PATCH",
        };
        format!(
            "{} user '{}' (id {}, {}); would change its password ({method} {}, {}); {}.",
            p.tenable.flavour.product(),
            p.username,
            p.user.id,
            http::shown(&p.user.kind),
            http::display_url(&p.url),
            if p.old_password.is_some() {
                "with the current password"
            } else {
                "without the current password: the Gateway sent no oldPassword"
            },
            match p.tenable.flavour {
                Flavour::Io => "Tenable's answer is the only proof",
                Flavour::Sc => "then would prove it by signing in as the user (POST /rest/token)",
            }
        )
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        let Planned {
            username,
            user,
            url,
            tenable,
            old_password,
        } = p;
        let new_password = run.input.require_new_password()?;
        let proving = tenable.flavour == Flavour::Sc;
        let (method, current_key) = match tenable.flavour {
            Flavour::Io => (Method::PUT, "current_password"),
            Flavour::Sc => (Method::PATCH, "currentPassword"),
        };
        // The request first: the body holds the passwords, and an error
        // before it is handed over would leave them unwiped.
        let request = tenable.request(method, url)?;
        let mut body = json!({"password": new_password.expose()});
        if let (Some(old), Some(map)) = (old_password, body.as_object_mut()) {
            map.insert(current_key.into(), Value::String(old.expose().to_owned()));
        }
        let change = request.secret_json(body);
        let target = change.target();
        // The change may not use up the time the proof needs: a change
        // answered at the deadline would leave a password no one proved.
        let kept = if proving {
            run.deadline.proof_reserve()
        } else {
            std::time::Duration::ZERO
        };
        let product = tenable.flavour.product();
        tracing::info!("changing the password of '{username}' (id {})", user.id);
        let response = tenable
            .send_change(&run.http_keeping(kept)?, &change)
            .map_err(|error| match error {
                Error::NoAnswer { target, detail } => Error::NeedsAttention(format!(
                    "{target}: the request was sent but {detail}, so the {product} password of \
                     '{username}' may or may not have changed. It was not sent again (once \
                     changed, the old password no longer works). The record keeps the previous \
                     password: check which one signs in as '{username}', and if neither does, \
                     set a password in Tenable and store it in the record"
                )),
                other => other,
            })?;
        if !response.status.is_success() {
            return Err(tenable.refused(&target, &response, "changing the password"));
        }
        if tenable.flavour == Flavour::Sc {
            let said = response.json::<Value>().ok();
            if said.as_ref().and_then(sc_error_code) != Some(0) {
                return Err(Error::NeedsAttention(format!(
                    "{target} answered HTTP {} but its error_code is not 0 ({}): the answer \
                     contradicts itself, so the Security Center password of '{username}' may or \
                     may not have changed. It was not sent again; check which password signs in \
                     as '{username}'",
                    response.status.as_u16(),
                    tenable.error_text(&response)
                )));
            }
        }
        let changed = format!(
            "changed the {product} password of '{username}' (id {})",
            user.id
        );
        if !proving {
            return Ok(format!(
                "{changed}; proven by Tenable's answer only (Tenable Vulnerability Management \
                 offers no password sign-in through its API)"
            ));
        }
        match prove(&tenable, username, new_password) {
            Proof::Proven => Ok(format!(
                "{changed}; the new password signs in (POST /rest/token)"
            )),
            Proof::Refused(why) => Err(Error::NeedsAttention(format!(
                "Security Center accepted the change of the password of '{username}' (id {}), \
                 but {why}. Another rotation or an administrator may have changed it since, or \
                 the user is locked or disabled (Security Center refuses its sign-in then too), \
                 so the Gateway must not store this run's password (exit 4); the record keeps \
                 the one it holds. Check which password signs in as '{username}', if any: if \
                 neither does, unlock the user, set a password and store it in the record; and \
                 check that no other rotation of '{username}' runs, from this or another gateway",
                user.id
            ))),
            Proof::Unknown(why) => Err(Error::NeedsAttention(format!(
                "Security Center accepted the change of the password of '{username}' (id {}), \
                 but the sign-in that proves the new password could not be completed ({why}). \
                 The account most likely holds this run's NEW password now, and the Gateway \
                 does not store it (this exit is 4, not 0): the record still holds the previous \
                 password, which most likely no longer works. Set a password for '{username}' \
                 in Security Center and store it in the record, or rotate again once the \
                 record holds the password that works",
                user.id
            ))),
        }
    }
}

/// The one user whose name is `username`: on Tenable.io without regard to
/// case (its user names are email addresses), on Security Center exactly.
/// Every listed entry with that name counts, so one whose id cannot be
/// trusted is never passed over for another.
fn find_user(tenable: &Tenable, username: &str) -> Result<User> {
    let listed = tenable.users()?;
    let product = tenable.flavour.product();
    let found: Vec<&Listed> = listed
        .iter()
        .filter(|l| {
            l.username
                .as_deref()
                .is_some_and(|name| match tenable.flavour {
                    Flavour::Io => name.to_lowercase() == username.to_lowercase(),
                    Flavour::Sc => name == username,
                })
        })
        .collect();
    let user = match found.as_slice() {
        [one] => match &one.user {
            Ok(user) => user.clone(),
            Err(why) => {
                return Err(Error::Failed(format!(
                    "{product} lists a user named '{username}', but {why}; nothing was changed"
                )));
            }
        },
        [] => {
            return Err(Error::Failed(format!(
                "{product} has no user named '{username}' (the PAM User record's login) among \
                 the {} users the keys of {} can see; nothing was changed",
                listed.len(),
                tenable.location
            )));
        }
        several => {
            return Err(Error::Failed(format!(
                "{product} lists {} users named '{username}'; which one to rotate is not \
                 guessed. Nothing was changed",
                several.len()
            )));
        }
    };
    if tenable.flavour == Flavour::Sc && user.kind != "tns" {
        return Err(Error::Config(format!(
            "'{username}' (id {}) signs in to Security Center through {} (authType), so \
             Security Center keeps no password for it: change it where that sign-in is managed. \
             Nothing was changed",
            user.id,
            http::shown(&user.kind)
        )));
    }
    tracing::info!(
        "{product} user '{username}': id {}, {}",
        user.id,
        http::shown(&user.kind)
    );
    Ok(user)
}

/// What the sign-in with the new password showed.
enum Proof {
    Proven,
    /// Security Center refused the password: the account holds another.
    Refused(String),
    /// The sign-in could not be completed or said nothing about the password.
    Unknown(String),
}

/// Signs in to Security Center as `username` with `password` (`POST
/// /rest/token`, without the API keys), retrying transient failures for as
/// long as the deadline allows ([`http::Client::send_proof`]), then signs
/// the session out again (`DELETE /rest/token`), so a rotation never uses
/// up one of the user's sessions. A refused sign-in counts toward the
/// user's lockout like any wrong password.
fn prove(tenable: &Tenable, username: &str, password: &Secret) -> Proof {
    let url = tenable.endpoint(&["token"]);
    let request = match Request::new(Method::POST, url.clone()).header("Accept", "application/json")
    {
        Ok(request) => request,
        Err(e) => return Proof::Unknown(format!("the sign-in request cannot be made ({e})")),
    };
    let request = request.secret_json(json!({
        "username": username,
        "password": password.expose(),
        "releaseSession": false,
    }));
    let target = request.target();
    tracing::info!("proving the new password: {target}");
    let response = match cli::block_on(tenable.client.send_proof(&request, |s| s.as_u16() == 200)) {
        Ok(Ok(response)) => response,
        Ok(Err(e)) | Err(e) => return Proof::Unknown(format!("signing in failed: {e}")),
    };
    let code = response.status.as_u16();
    let body = response.json::<Value>().ok();
    let token = body
        .as_ref()
        .filter(|b| sc_error_code(b) == Some(0))
        .and_then(|b| b.get("response"))
        .and_then(|r| r.get("token"))
        .and_then(|t| match t {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        })
        .map(Secret::new);
    match (code, token) {
        (200, Some(token)) => {
            sign_out(tenable, &url, &token, &response);
            Proof::Proven
        }
        // Security Center asks to release the user's other session only
        // once the password is right: the new one signs in. The other
        // session is not released (it is the user's).
        (200, None) if released_session_asked(body.as_ref()) => {
            tracing::info!(
                "{target}: the new password is accepted; '{username}' has another session open, \
                 which is left alone"
            );
            Proof::Proven
        }
        (200, None) => Proof::Unknown(format!(
            "{target} answered HTTP 200 without a session token ({}); Security Center answers \
             so when the user has used up its sessions, which does not prove the password",
            tenable.error_text(&response)
        )),
        (401 | 403, _) => Proof::Refused(format!(
            "signing in with the new password was refused ({target} answered HTTP {code}: {})",
            tenable.error_text(&response)
        )),
        _ => Proof::Unknown(format!(
            "signing in with the new password did not say whether it works ({target} answered \
             HTTP {code}: {})",
            tenable.error_text(&response)
        )),
    }
}

/// Whether a sign-in's answer is Security Center's "this user has used up
/// its sessions: release the other one?" (`releaseSession: true`, error
/// code 0, no token).
fn released_session_asked(body: Option<&Value>) -> bool {
    body.filter(|b| sc_error_code(b) == Some(0))
        .and_then(|b| b.get("response"))
        .and_then(|r| r.get("releaseSession"))
        == Some(&Value::Bool(true))
}

/// Ends the session the proof opened; a failure is only logged (the
/// password was proven, and Security Center ends idle sessions itself).
fn sign_out(tenable: &Tenable, url: &Url, token: &Secret, signed_in: &http::Response) {
    let cookies: Vec<String> = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|pair| pair.contains('='))
        .map(str::to_owned)
        .collect();
    let cookie = Secret::new(cookies.join("; "));
    let request = Request::new(Method::DELETE, url.clone())
        .secret_header("X-SecurityCenter", "", token)
        .and_then(|r| {
            if cookie.is_empty() {
                Ok(r)
            } else {
                r.secret_header("Cookie", "", &cookie)
            }
        });
    let outcome = match request {
        Ok(request) => cli::block_on(tenable.client.send(&request, http::Replay::Safe))
            .and_then(|r| r)
            .map(|r| r.status.as_u16()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(200) => tracing::info!("signed the proof's session out"),
        Ok(code) => tracing::warn!("signing the proof's session out answered HTTP {code}"),
        Err(e) => tracing::warn!("signing the proof's session out failed: {e}"),
    }
}
