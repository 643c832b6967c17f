//! rotate-meraki-user: sets a Cisco Meraki authorized user's password
//! through the Dashboard API, as a Keeper Gateway PAM script, in place of
//! Keeper's `update_meraki_user.py`, from the same records.
//!
//! That script prints the error of a refused change and exits 0, so the
//! Gateway stores a password the network never got; here a refusal is exit
//! 1 and an unanswered change exit 4. Meraki offers no sign-in for these
//! users through its API, so the change is proven by Meraki's answer only,
//! and the summary says so.

use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Result};
use common::host_lock;
use common::http;
use reqwest::{Method, Url};
use serde_json::json;

pub mod config;
mod meraki;

pub use config::Setup;
use meraki::{AuthUser, Dashboard, Listed};

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record (login = the Meraki authorized user's email) whose rotation
is \"Run PAM scripts only\", with the admin record attached to the script as a rotation
credential. The records of Keeper's update_meraki_user.py work unchanged.

Gateway input read: user (the email), newPassword, records.

Admin record (never the user record), the first that applies:
  1. the attached record titled by the user record's custom field meraki_record_title
  2. the attached record titled \"Cisco Authentication Record\" (rotate-cisco-iosxe-user's
     record of that title, with a host_endpoint and no network_id, is passed over)
  3. the only attached record holding a network_id
  password        the Meraki Dashboard API key (sent as a bearer token)
  network_id      custom: the network whose authorized users hold the user (L_..., N_...)
  meraki_api_url  custom, optional: the API's base URL, /api/v1 included (default
                  https://api.meraki.com/api/v1); https, or plain http to a loopback
                  address only

The user is looked up by email among the network's authorized users (merakiAuthUsers:
802.1X, splash guest and client VPN users); no match, two matches, or a match without a
Meraki id or isAdmin exit 1, and a Dashboard administrator exits 2 (Meraki takes no
password for one there). The password is
set with one PUT, emailPasswordToUser false; it is never sent again. A redirect (to the
organisation's shard host) is not followed: exit 1, naming the host for meraki_api_url. Meraki offers no
sign-in for these users through its API: the change is proven by Meraki's answer only.
A user has one password in every network of the organisation: runs on one email never
overlap on this host, whatever network they name (a second run exits 1, nothing changed;
lock directory: KEEPER_ROTATOR_LOCK_DIR), and two PAM User records for one email would
each overwrite the other's password.
A new password with a backslash exits 2 before any request: Meraki authentication cannot
sign in with one.

Writes: nothing to the vault; the Gateway stores the new password on exit 0.";

/// The rotator.
#[derive(Debug)]
pub struct MerakiUser;

/// What planning found: the user, and where its password is set.
#[derive(Debug)]
pub struct Planned<'r> {
    email: &'r str,
    user: AuthUser,
    url: Url,
    dashboard: Dashboard,
}

impl Rotator for MerakiUser {
    const NAME: &'static str = "rotate-meraki-user";
    const ABOUT: &'static str = "Rotates a Cisco Meraki authorized user's password through the \
                                 Dashboard API (Keeper Gateway PAM script).";
    const FIELDS: &'static str = FIELDS;

    type Plan<'r> = Planned<'r>;

    /// Meraki keeps one list of authorized users for the whole organisation
    /// (a user has one password in every network), and an organisation may
    /// be reached through more than one host: two runs on one email must
    /// never overlap whatever network or URL their records name.
    fn host_lock(run: &Run) -> Result<Option<host_lock::Target>> {
        let setup = Setup::from_input(&run.input)?;
        Ok(Some(host_lock::Target {
            shown: format!("the Meraki user '{}'", setup.email),
            service: "Meraki authentication".into(),
            account: setup.email.to_ascii_lowercase(),
        }))
    }

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let Setup {
            email,
            admin,
            key,
            network,
            url,
            ..
        } = Setup::from_input(&run.input)?;
        let dashboard = Dashboard {
            api: http::Api::new(url, key, "Bearer ", admin.location(), run.http()?),
            network,
        };
        let user = find_user(&dashboard, email)?;
        let url = dashboard.users_url(Some(&user.id));
        Ok(Planned {
            email,
            user,
            url,
            dashboard,
        })
    }

    fn checked(_p: &Planned<'_>, _run: &Run) -> Checked {
        Checked::input()
            .did("the admin record")
            .did("the API key, the network and the user, with a list of the network's users")
            .not("that the key may change a user's password")
            .not("that Meraki accepts the new password")
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        format!(
            "Meraki user '{}' ({}, {}) of network {}; would set its password (PUT {}, \
             emailPasswordToUser false); Meraki's answer is the only proof.",
            p.email,
            p.user.id,
            http::shown(&p.user.account_type),
            p.dashboard.network,
            http::display_url(&p.url),
        )
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        let Planned {
            email,
            user,
            url,
            dashboard,
        } = p;
        let new_password = run.input.require_new_password()?;
        let change = dashboard
            .api
            .request(Method::PUT, url)?
            .redirect_unapplied()
            .secret_json(json!({
                "password": new_password.expose(),
                "emailPasswordToUser": false,
            }));
        let target = change.target();
        tracing::info!("setting the password of '{email}' ({})", user.id);
        let response = dashboard
            .send_change(&run.http()?, &change)
            .map_err(|error| {
                error.unsure_change(
                    &format!("the Meraki password of '{email}'"),
                    "It was not sent again. The record keeps the previous password, which may \
                     no longer work: rotate again (the change does not need the old password)",
                )
            })?;
        // Not a success, so not applied: Meraki answers a redirect (to the
        // organisation's shard) before it applies anything, and a 4xx is a
        // refusal.
        if !response.status.is_success() {
            return Err(dashboard.refused(&target, &response, "setting the password"));
        }
        Ok(format!(
            "set the Meraki password of '{email}' ({}) in network {}; proven by Meraki's answer \
             only (Meraki offers no sign-in for authorized users through its API)",
            user.id, dashboard.network
        ))
    }
}

/// The one authorized user whose email is `email` (compared without regard
/// to case, as email domains are). Every listed entry with that email counts,
/// so one whose id or fields cannot be trusted is never passed over for
/// another. A Dashboard administrator is refused: Meraki takes no password
/// for one through this endpoint.
fn find_user(dashboard: &Dashboard, email: &str) -> Result<AuthUser> {
    let listed = dashboard.users()?;
    let found: Vec<&Listed> = listed
        .iter()
        .filter(|l| {
            l.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .collect();
    let user = match found.as_slice() {
        [one] => match &one.user {
            Ok(user) => user.clone(),
            Err(why) => {
                return Err(Error::Failed(format!(
                    "network {} lists an authorized user with the email '{email}', but {why}; \
                     nothing was changed",
                    dashboard.network
                )));
            }
        },
        [] => {
            return Err(Error::Failed(format!(
                "network {} has no authorized user with the email '{email}' (the PAM User \
                 record's login) among its {} listed users; nothing was changed",
                dashboard.network,
                listed.len()
            )));
        }
        several => {
            return Err(Error::Failed(format!(
                "network {} lists {} authorized users with the email '{email}'; which one to \
                 rotate is not guessed. Nothing was changed",
                dashboard.network,
                several.len(),
            )));
        }
    };
    if user.is_admin {
        return Err(Error::Config(format!(
            "'{email}' ({}) of network {} is a Dashboard administrator: Meraki takes no password \
             for one through merakiAuthUsers (the administrator signs in with their own \
             Dashboard password). Rotate a non-administrator user; nothing was changed",
            user.id, dashboard.network
        )));
    }
    tracing::info!(
        "Meraki user '{email}': id {}, {}",
        user.id,
        http::shown(&user.account_type)
    );
    Ok(user)
}
