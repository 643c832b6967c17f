//! The password change itself: the two ways Okta changes a password, and
//! the sign-in that proves the new one afterwards. The proof decides between
//! exit 0 and exit 4, so what counts as proven, refused or unknown lives
//! here, beside the statuses Okta gives only after accepting a password.

use common::cli;
use common::http::{self, Request};
use common::secret::Secret;
use reqwest::Method;
use serde_json::{Value, json};

use crate::okta::{Org, okta_error};

/// How the password is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    ChangePassword { strict: bool },
    AdminReset,
}

impl Path {
    pub(crate) fn describe(self) -> &'static str {
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

/// What the sign-in with the new password showed.
pub(crate) enum Proof {
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
pub(crate) fn prove_password(org: &Org, login: &str, password: &Secret) -> Proof {
    // The request first, then the body holding the password, handed over
    // (and wiped) at once.
    let request = match Request::new(Method::POST, org.endpoint(&["api", "v1", "authn"]))
        .header("Accept", "application/json")
    {
        Ok(request) => request,
        Err(e) => return Proof::Unknown(format!("the sign-in request cannot be made ({e})")),
    };
    let request = request.secret_json(json!({"username": login, "password": password.expose()}));
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
