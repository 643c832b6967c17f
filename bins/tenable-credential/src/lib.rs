//! rotate-tenable-credential: pushes a password that Keeper's built-in
//! rotation just changed into the Tenable managed credential that holds a
//! copy of it (the scanner's), as a Keeper Gateway PAM script, in place of
//! Keeper's `update_tenable_credential.py`, from the same records. It is a
//! consumer update attached beside a built-in rotation: it changes no
//! account, only Tenable's stored copy.
//!
//! That script edits the credential and prints success whatever Tenable
//! answered (a lost answer ends in a traceback), works on Tenable.io only,
//! and hard-codes where the password goes. Here the update is sent once;
//! exit 0 only when Tenable accepted it and the credential reads back
//! intact (Tenable.io: `updated`, the same user and password
//! authentication; Security Center: a later `modifiedTime` and its
//! password `SET`). Neither API ever shows a stored password, so the
//! password itself cannot be read back: the summary says so.

use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Result};
use common::host_lock;
use common::http;
use reqwest::Method;
use rotate_tenable_user::config::Flavour;
use rotate_tenable_user::tenable::{Tenable, sc_error_code};
use serde_json::{Value, json};

pub mod config;
mod credential;

pub use config::Setup;
use credential::Credential;

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: the PAM User record of the account whose password a Tenable managed credential
holds, beside its built-in rotation (a consumer update: the rotation changes the account,
this script then updates Tenable's copy). Its login must be the managed credential's name
(Keeper's update_tenable_credential.py reads it there too), with the admin record
attached to the script as a rotation credential. The records of that script work
unchanged.

Gateway input read: user (the managed credential's name), newPassword, records.

Admin record (never the user record), the first that applies, as rotate-tenable-user:
  1. the attached record titled by the user record's custom field tenable_record_title
  2. the attached record titled \"Tenable Authentication Record\"
  3. the only attached record holding a tenable_access_key
  tenable_access_key  custom: the API access key (Settings > My Account > API Keys)
  tenable_secret_key  custom: the API secret key
  tenable_sc_host     custom, optional: Tenable Security Center's host or https URL; set,
                      the credential is a Security Center one, else Tenable.io's
  tenable_url         custom, optional: Tenable.io's API URL (default
                      https://cloud.tenable.com); not with tenable_sc_host
  Every URL is https, or plain http to a loopback address only.

The credential is looked up by its exact name (Tenable.io: GET /credentials?f=name:eq:...;
Security Center: the credentials the keys' user manages); no match, two matches, or one
the keys' user may only use exit 1. One that does not authenticate with a password
(a certificate, a public key) exits 2. The password is set with one request, never sent
again:
  Tenable.io       PUT /credentials/{uuid}: the credential's own name, description and
                   settings (secrets as Tenable shows them, masked), the password replaced
  Security Center  PATCH /rest/credential/{id} {password}
Exit 0 only when Tenable accepted it and the credential then reads back intact:
Tenable.io answers updated and still shows the same user, password authentication and a
password; Security Center shows a later modifiedTime and its password SET. Neither API
shows a stored password, so the password itself cannot be read back. An unanswered
update, or a read-back that fails or shows something else, exits 4.
Runs on one credential of one Tenable never overlap on this host (a second run exits 1,
nothing changed; lock directory: KEEPER_ROTATOR_LOCK_DIR).

Writes: nothing to the vault; nothing the Gateway stores (the built-in rotation stored the
password before this script ran).";

/// The rotator.
#[derive(Debug)]
pub struct TenableCredential;

/// What planning found: the credential, and the client.
#[derive(Debug)]
pub struct Planned<'r> {
    name: &'r str,
    credential: Credential,
    tenable: Tenable,
}

impl Rotator for TenableCredential {
    const NAME: &'static str = "rotate-tenable-credential";
    const ABOUT: &'static str = "Pushes a rotated password into a Tenable Vulnerability \
                                 Management or Security Center managed credential (Keeper \
                                 Gateway PAM script, beside a built-in rotation).";
    const FIELDS: &'static str = FIELDS;

    type Plan<'r> = Planned<'r>;

    /// One lock per credential of one Tenable.
    fn host_lock(run: &Run) -> Result<Option<host_lock::Target>> {
        let setup = Setup::from_input(&run.input)?;
        let service = http::display_url(&setup.service.url);
        Ok(Some(host_lock::Target {
            shown: format!("the Tenable credential '{}' at {service}", setup.name),
            service,
            account: format!("credential:{}", setup.name),
        }))
    }

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let Setup { name, service, .. } = Setup::from_input(&run.input)?;
        let tenable = Tenable::new(&service, run.http()?);
        let credential = credential::find(&tenable, name)?;
        Ok(Planned {
            name,
            credential,
            tenable,
        })
    }

    fn checked(p: &Planned<'_>, _run: &Run) -> Checked {
        Checked::input()
            .did("the admin record")
            .did("the API keys and the managed credential, with a read of the credentials")
            .not("that the keys may edit the credential")
            .not(format!(
                "that {} accepts the new password",
                p.tenable.flavour.product()
            ))
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        let (method, path) = match p.tenable.flavour {
            Flavour::Io => ("PUT", "credentials"),
            Flavour::Sc => ("PATCH", "credential"),
        };
        format!(
            "{} managed credential '{}' ({}, {} authentication); would set its password ({method} \
             {}) and read it back (the password itself is never shown by Tenable).",
            p.tenable.flavour.product(),
            p.name,
            p.credential.id,
            http::shown(&p.credential.auth),
            http::display_url(&p.tenable.endpoint(&[path, &p.credential.id])),
        )
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        let Planned {
            name,
            credential,
            tenable,
        } = p;
        let new_password = run.input.require_new_password()?;
        let product = tenable.flavour.product();
        let id = credential.id.clone();
        let (method, path) = match tenable.flavour {
            Flavour::Io => (Method::PUT, "credentials"),
            Flavour::Sc => (Method::PATCH, "credential"),
        };
        // The request first: the body holds the password, and an error
        // before it is handed over would leave it unwiped.
        let request = tenable.request(method, tenable.endpoint(&[path, &id]))?;
        let body = match tenable.flavour {
            Flavour::Io => {
                let details = &credential.details;
                let mut settings = details.get("settings").cloned().unwrap_or(json!({}));
                if let Some(map) = settings.as_object_mut() {
                    map.insert(
                        "password".into(),
                        Value::String(new_password.expose().to_owned()),
                    );
                }
                json!({
                    "name": details.get("name").cloned().unwrap_or(json!(name)),
                    "description": details.get("description").cloned().unwrap_or(json!("")),
                    "ad_hoc": false,
                    "settings": settings,
                })
            }
            Flavour::Sc => json!({"password": new_password.expose()}),
        };
        let change = request.secret_json(body);
        let target = change.target();
        tracing::info!("setting the password of the managed credential '{name}' ({id})");
        let unknown = |what: String| {
            Error::NeedsAttention(format!(
                "{what}, so the {product} managed credential '{name}' may or may not hold the \
                 new password. It was not sent again. The account's password was already \
                 rotated and stored: check the credential in {product}, and set the record's \
                 password in it if it does not work (a scan with it would fail)"
            ))
        };
        // The update may not use up the time the read-back needs: an update
        // answered at the deadline would leave nothing to confirm it with.
        let response = tenable
            .send_change(&run.http_keeping(run.deadline.proof_reserve())?, &change)
            .map_err(|error| match error {
                Error::NoAnswer { target, detail } => {
                    unknown(format!("{target}: the request was sent but {detail}"))
                }
                other => other,
            })?;
        if !response.status.is_success() {
            return Err(tenable.refused(&target, &response, "updating the managed credential"));
        }
        let said = response.json::<Value>().ok();
        let accepted = match tenable.flavour {
            Flavour::Io => {
                said.as_ref()
                    .and_then(|b| b.get("updated"))
                    .and_then(Value::as_bool)
                    == Some(true)
            }
            Flavour::Sc => said.as_ref().and_then(sc_error_code) == Some(0),
        };
        if !accepted {
            return Err(unknown(format!(
                "{target} answered HTTP {} without saying the credential was updated ({})",
                response.status.as_u16(),
                tenable.error_text(&response)
            )));
        }
        let after = credential::details(&tenable, &id, name).map_err(|e| {
            unknown(format!(
                "{target} was accepted, but reading the credential back failed ({e})"
            ))
        })?;
        let intact = match tenable.flavour {
            Flavour::Io => same_account(&credential.details, &after.details),
            Flavour::Sc => match (credential.modified, after.modified) {
                (Some(before), Some(now)) => now > before,
                _ => false,
            },
        };
        if !intact {
            return Err(unknown(format!(
                "{target} was accepted, but the credential does not read back as updated ({})",
                match tenable.flavour {
                    Flavour::Io => "its user or authentication method changed",
                    Flavour::Sc => "its modifiedTime did not advance",
                }
            )));
        }
        Ok(format!(
            "set the password of the {product} managed credential '{name}' ({id}); {}; Tenable \
             never shows a stored password, so the password itself was not read back",
            match tenable.flavour {
                Flavour::Io =>
                    "Tenable answered updated and the credential reads back with the \
                                same user and password authentication",
                Flavour::Sc => "its modifiedTime advanced and its password reads back SET",
            }
        ))
    }
}

/// Whether the credential still names the same account after the update:
/// its user name, domain and authentication method unchanged.
fn same_account(before: &Value, after: &Value) -> bool {
    let setting = |v: &Value, key: &str| v.get("settings").and_then(|s| s.get(key)).cloned();
    ["username", "domain", "auth_method"]
        .iter()
        .all(|key| setting(before, key) == setting(after, key))
}
