//! rotate-rest-api: changes an account's password with one REST call, as a
//! Keeper Gateway PAM script ("Run PAM scripts only").
//!
//! The Gateway stores `newPassword` in the PAM User record itself when this
//! program exits 0, so nothing is written to the vault here.

use common::cli;
use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Result};

pub mod config;
pub mod template;

use config::Plan;

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record whose rotation is set to \"Run PAM scripts only\",
with an API record attached to the script as a rotation credential.

Gateway input read: user, newPassword, userRecordUid; oldPassword only for {{oldPassword}}.

API record (never the user record), the first that applies:
  1. the attached record titled by the user record's custom field api_record_title
  2. the attached record titled \"API Access Details\" or \"Record with Access Token\"
  3. the only attached record holding both url and password
  url             the endpoint that changes the password (https)
  password        the API token
  http_method     custom, optional: POST (default), PUT or PATCH
  body_template   custom, optional: JSON with {{user}}, {{newPassword}},
                  {{oldPassword}}, {{userRecordUid}}; default
                  {\"userEmail\": \"{{user}}\", \"newPassword\": \"{{newPassword}}\"}
  auth_header     custom, optional: header carrying the token (default Authorization)
  auth_scheme     custom, optional: word before the token (default Bearer for
                  Authorization, none otherwise; 'none' for no scheme)
  success_status  custom, optional: statuses meaning success, e.g. 201 or 200, 204
                  (default any 2xx)
  verify_url      custom, optional: a request that succeeds only with the account's
                  current password (a sign-in), sent after the change to prove the new
                  one; https. Without it the new password is not proven.
  verify_method   custom, optional: POST (default: a JSON body, no API token) or GET
                  (HTTP Basic as the account, no API token)
  verify_body_template
                  custom, optional, POST only: JSON with {{user}} and {{newPassword}};
                  default {\"username\": \"{{user}}\", \"password\": \"{{newPassword}}\"}
  verify_status   custom, optional: statuses meaning the password works (default any 2xx)

A change that succeeded but whose new password does not verify (a 4xx) exits 4: another
rotation or an administrator changed it in between, and the Gateway keeps the old one.
The change leaves a third of the time left to the verify request, which is retried while
no answer or a 5xx/429 comes; if it never completes: exit 4, and the account most likely
holds the new password, which the Gateway does not store (the message says what to do).
--dry-run resolves the url's host and completes a TLS handshake with it (a TCP connect
for a loopback http url), then closes the connection: neither the change nor the verify
request is sent (the verify request would sign in as the account). A host that does not
resolve or refuses the connection or its certificate exits 1.
Runs on one account (url and user) never overlap on this host: a second run exits 1,
nothing changed (lock directory: KEEPER_ROTATOR_LOCK_DIR).

Writes: nothing to the vault; the Gateway stores the new password on exit 0.";

/// The rotator.
#[derive(Debug)]
pub struct RestApi;

impl Rotator for RestApi {
    const NAME: &'static str = "rotate-rest-api";
    const ABOUT: &'static str =
        "Rotates an account's password with one REST call (Keeper Gateway PAM script).";
    const FIELDS: &'static str = FIELDS;

    type Plan<'r> = Plan<'r>;

    fn host_lock(run: &Run) -> Result<Option<common::host_lock::Target>> {
        let plan = Plan::from_input(&run.input)?;
        let url = common::http::display_url(&plan.url);
        Ok(Some(common::host_lock::Target {
            shown: format!("'{}' at {url}", plan.user),
            service: plan.url.to_string(),
            account: plan.user.to_owned(),
        }))
    }

    fn plan(run: &Run) -> Result<Plan<'_>> {
        let plan = Plan::from_input(&run.input)?;
        tracing::info!(
            "API record: {}; account: '{}'",
            plan.api_record.location(),
            plan.user
        );
        if run.dry_run {
            // The one read-only probe there is: the change endpoint's host
            // resolves and completes a handshake, with the client a real
            // run uses. No request is sent: the change would change, and
            // even a HEAD to an unknown API is a request it may act on.
            let reached = cli::block_on(run.http()?.reach(&plan.url))?.map_err(|e| match e {
                Error::Unreachable { target, detail } => Error::Unreachable {
                    target: format!("the dry run's {target}"),
                    detail: format!(
                        "{detail}. Check the url in {} and this host's DNS, proxy \
                         (HTTPS_PROXY) and trusted authorities (SSL_CERT_FILE); nothing was sent",
                        plan.api_record.location()
                    ),
                },
                other => other,
            })?;
            tracing::info!("reached the change endpoint's host: {reached}");
        }
        Ok(plan)
    }

    fn checked(plan: &Plan<'_>, _run: &Run) -> Checked {
        let host = plan.url.host_str().unwrap_or_default();
        let port = plan.url.port_or_known_default().unwrap_or(0);
        let reached = if plan.url.scheme() == "https" {
            format!("DNS and TLS to {host}:{port}")
        } else {
            format!("DNS and a TCP connection to {host}:{port}")
        };
        let checked = Checked::input()
            .did("the API record")
            .did(reached)
            .not("the API token")
            .not("that the change endpoint accepts this password (no request is sent)");
        match &plan.verify {
            Some(_) => checked.not("the verify request (it would sign in as the account)"),
            None => checked,
        }
    }

    fn describe(plan: &Plan<'_>, _run: &Run) -> String {
        format!(
            "would send {} with header {}: {}{} and a JSON body with {}; success on {}; {}.",
            plan.target(),
            plan.auth_header,
            plan.auth_prefix,
            plan.token,
            keys(&plan.template.top_level_keys()),
            plan.success.describe(),
            match &plan.verify {
                // Not tried now: it signs in with the account's password,
                // and a dry run presents no password (a refused sign-in
                // counts toward the account's lockout).
                Some(verify) => format!(
                    "then would prove the new password with {} (success on {}; not tried in a \
                     dry run: it signs in as the account)",
                    verify.target(),
                    verify.success.describe()
                ),
                None => "the new password would not be proven (no verify_url)".to_owned(),
            }
        )
    }

    /// Sends the password change (once) and judges the answer.
    fn apply(plan: Plan<'_>, run: &Run) -> Result<String> {
        let target = plan.target();
        // The change may not use up the time the proof needs: a change
        // answered at the deadline would leave a new password no one can
        // prove (exit 4).
        let kept = if plan.verify.is_some() {
            run.deadline.proof_reserve()
        } else {
            std::time::Duration::ZERO
        };
        let client = run.http_keeping(kept)?;
        let request = plan.request()?;
        tracing::info!("changing the password of '{}' with {target}", plan.user);
        let response = cli::block_on(client.send_change(&request, |s| plan.success.accepts(s)))?
            .map_err(|error| explain(error, &plan))?;
        if plan.success.accepts(response.status) {
            let rotated = format!(
                "rotated the password of '{}': {target} answered HTTP {}",
                plan.user,
                response.status.as_u16()
            );
            return match &plan.verify {
                None => {
                    tracing::debug!("no verify_url: the new password is not proven");
                    Ok(rotated)
                }
                Some(verify) => prove(verify, &plan, run).map(|how| format!("{rotated}; {how}")),
            };
        }
        let fields = response.error_fields();
        let status = response.status.as_u16();
        let advice = match status {
            401 | 403 => format!(
                "; check the API token (password) in {}",
                plan.api_record.location()
            ),
            404 => format!("; check the url in {}", plan.api_record.location()),
            _ => String::new(),
        };
        Err(Error::Status {
            target,
            status,
            snippet: format!(": {fields}; the password was not changed{advice}"),
        })
    }
}

/// Sends the verify request with the new password. `Ok` says how it was
/// proven; any other outcome is exit 4. A refusal (a 4xx): the account may
/// hold another password now (a run from another gateway, an
/// administrator), and only a proven password may be stored. No answer
/// that says anything (after the retries of [`http::Client::send_proof`]):
/// the account most likely holds the new password, which the Gateway does
/// not store, and the message says so.
///
/// [`http::Client::send_proof`]: common::http::Client::send_proof
fn prove(verify: &config::Verify, plan: &Plan<'_>, run: &Run) -> Result<String> {
    let target = verify.target();
    let user = plan.user;
    let location = plan.api_record.location();
    tracing::info!("proving the new password of '{user}' with {target}");
    let outcome = send_verify(verify, user, plan.new_password, run);
    let why = match outcome {
        Ok(response) if verify.success.accepts(response.status) => {
            return Ok(format!(
                "the new password verified: {target} answered HTTP {}",
                response.status.as_u16()
            ));
        }
        // 408 and 429 are about the request, not the password (and were
        // retried while the deadline allowed).
        Ok(response)
            if response.status.is_client_error()
                && !matches!(response.status.as_u16(), 408 | 429) =>
        {
            return Err(Error::NeedsAttention(format!(
                "the change of the password of '{user}' was accepted, but the new password does \
                 not verify: {target} answered HTTP {}: {}. Another rotation or an administrator \
                 may have changed the password since, so the Gateway must not store this run's \
                 password (exit 4); the record keeps the one it holds. Check which password the \
                 account has now (the record's, or neither: then reset it through the service \
                 and store it in the record) and that no other rotation of '{user}' runs, from \
                 this or another gateway; check verify_url, verify_body_template and \
                 verify_status in {location} if the service answered something unexpected",
                response.status.as_u16(),
                response.error_fields()
            )));
        }
        Ok(response) => format!(
            "{target} answered HTTP {} ({}), which does not say whether the new password works",
            response.status.as_u16(),
            response.error_fields()
        ),
        Err(error) => format!("{error}"),
    };
    let again = if plan
        .template
        .placeholders()
        .iter()
        .any(|p| p == "oldPassword")
    {
        "the change needs the current password ({{oldPassword}}), which the record no longer \
         holds: reset the password through the service, store it in the record, and rotate again"
    } else {
        "rotate again once the verify request answers: the change does not need the current \
         password, and its proof settles which password the account holds"
    };
    Err(Error::NeedsAttention(format!(
        "the change of the password of '{user}' was accepted, but the request that proves the new \
         password could not be completed ({why}). The account most likely holds this run's NEW \
         password now, and the Gateway does not store it (this exit is 4, not 0): the record \
         still holds the previous password, which most likely no longer works. Do not assume \
         the record's password works. Check a sign-in as '{user}' with this run's new password \
         if your rotation history shows it; otherwise {again}. Check verify_url and \
         verify_status in {location} if the service answered something unexpected"
    )))
}

/// Sends the verify request for `user` with `password` (a sign-in: safe to
/// repeat, so transient failures are retried while the deadline allows).
fn send_verify(
    verify: &config::Verify,
    user: &str,
    password: &common::secret::Secret,
    run: &Run,
) -> Result<common::http::Response> {
    let client = run.http()?;
    let request = verify.request(user, password)?;
    cli::block_on(client.send_proof(&request, |s| verify.success.accepts(s)))?
}

/// Adds what the administrator must know to the HTTP layer's errors.
fn explain(error: Error, plan: &Plan<'_>) -> Error {
    error.unsure_change(
        &format!("the password of '{}'", plan.user),
        "The record still holds the old password: if it still works, nothing changed and the \
         rotation can be run again; if not, reset the password through the service and store it \
         in the record",
    )
}

fn keys(keys: &[String]) -> String {
    if keys.is_empty() {
        "no top-level keys".into()
    } else {
        format!("keys {}", keys.join(", "))
    }
}
