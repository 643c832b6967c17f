//! rotate-cisco-iosxe-user: sets a Cisco IOS XE local user's password
//! through RESTCONF, as a Keeper Gateway PAM script, in place of Keeper's
//! `update-cisco-user.py`, from the same records.
//!
//! That script turns TLS verification off, sends the new password in the
//! reversible `password` form, and prints the error of a refused change and
//! exits 0, so the Gateway stores a password the device never got. Here:
//!
//! - the device's certificate is verified: by the certificate authorities,
//!   or pinned by its SHA-256 in the admin record, trusted on first use and
//!   stored there when the record opts in ([`common::http::pin`]); a pin
//!   mismatch is exit 2 before any credential is sent;
//! - the password is set as a type 9 `secret` hashed here ([`type9`]), so
//!   it never crosses the wire; the reversible form only when the user
//!   record asks for it;
//! - the change is sent once; a refusal is exit 1, a lost answer or a 5xx
//!   exit 4;
//! - the change is proven: the stored secret is read back and must be the
//!   hash sent; a privilege-15 user then signs in to RESTCONF with the new
//!   password, and the old one must be refused (still accepted: exit 0 with
//!   a WARNING, since the Gateway stores the new password only on exit 0).
//!   IOS XE signs only privilege-15 users in to RESTCONF, so for any other
//!   the read-back is the proof, and the summary says so.
//!
//! Rooms: [`config`] (the input, pure), [`restconf`] (the device's API),
//! [`type9`] (the hash), and here the rotation.

use common::cli;
use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Result};
use common::host_lock;
use common::http::{self, CertPin, Replay};
use common::records::Record;
use common::secret::Secret;
use reqwest::Method;
use serde_json::json;

pub mod config;
mod restconf;
pub mod type9;

pub use config::Setup;
use config::{Form, PIN_FIELD, TOFU_FIELD, Trust};
use restconf::{Device, DeviceUser, USERNAME, basic};

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record (login = the IOS XE user name) whose rotation is \"Run PAM
scripts only\", with the admin record attached to the script as a rotation credential.
The records of Keeper's update-cisco-user.py work unchanged.

Gateway input read: user (the IOS XE user name), newPassword, oldPassword, records.

Admin record (never the user record), the first that applies:
  1. the attached record titled by the user record's custom field iosxe_record_title
  2. the attached record titled \"Cisco Authentication Record\" holding a host_endpoint
     (rotate-meraki-user's record of that title, with a network_id, is passed over)
  3. the only attached record holding a host_endpoint
  login           the admin's user name on the device (privilege 15); never the user
                  rotated (exit 2: the admin record would keep a password that no
                  longer works)
  password        the admin's password (sent as HTTP basic authentication)
  host_endpoint   custom: the device: a host or host:port (https), or a URL whose path,
                  if any, is the RESTCONF root (default /restconf); https, or plain http
                  to a loopback address only
  tls_certificate_sha256
                  custom, optional: the SHA-256 of the device's certificate (AB:CD:...,
                  as 'openssl x509 -fingerprint -sha256' prints it): only that
                  certificate is trusted, no certificate authority is asked, and any
                  other is refused before a credential is sent (exit 2)
  trust_certificate_on_first_use
                  custom, optional: true = with no pin, the certificate the device
                  presents first is pinned and stored in tls_certificate_sha256 before
                  the change; without either field the certificate must be trusted by
                  the system's certificate authorities (or SSL_CERT_FILE's)

User record (the PAM User), optional:
  iosxe_set_as    custom: secret (default: a type 9 secret, scrypt, hashed here, so
                  the password never crosses the wire) or password (the reversible form
                  Keeper's script sets, sent in clear text inside TLS; not recommended)

The user must exist on the device (none: exit 1). Its secret is set with one RESTCONF
PATCH of Cisco-IOS-XE-native:native/username=<user>, never sent again; its privilege and
other settings are kept. Then the secret is read back and must be the hash sent. A
privilege-15 user then signs in to RESTCONF with the new password, and the old one must
be refused (still accepted: exit 0, with a WARNING). IOS XE signs only privilege-15 users
in to RESTCONF: for any other user the read-back is the proof, and the summary says so. One run per user
and device on this host (lock directory: KEEPER_ROTATOR_LOCK_DIR).

Writes: tls_certificate_sha256 of the admin record when a certificate is trusted on first
use; the Gateway stores the new password on exit 0.";

/// The rotator.
#[derive(Debug)]
pub struct IosXeUser;

/// What planning found: the device, the user, and how the device is trusted.
#[derive(Debug)]
pub struct Planned<'r> {
    user: &'r str,
    admin: &'r Record,
    device: Device,
    found: DeviceUser,
    form: Form,
    /// The pin the client holds, and whether it was trusted on first use
    /// (and so is to be stored).
    pin: Option<(CertPin, bool)>,
}

impl Rotator for IosXeUser {
    const NAME: &'static str = "rotate-cisco-iosxe-user";
    const ABOUT: &'static str = "Rotates a Cisco IOS XE local user's password through RESTCONF \
                                 (Keeper Gateway PAM script).";
    const FIELDS: &'static str = FIELDS;

    type Plan<'r> = Planned<'r>;

    /// A local user is one account per device: runs on one user of one
    /// device (whatever the URL's path) never overlap on this host.
    fn host_lock(run: &Run) -> Result<Option<host_lock::Target>> {
        let setup = Setup::from_input(&run.input)?;
        let host = setup
            .root
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let port = setup.root.port_or_known_default().unwrap_or(443);
        Ok(Some(host_lock::Target {
            shown: format!("the IOS XE user '{}' on {host}:{port}", setup.user),
            service: format!("Cisco IOS XE {host}:{port}"),
            account: setup.user.to_owned(),
        }))
    }

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let Setup {
            user,
            admin,
            login,
            password,
            root,
            trust,
            form,
        } = Setup::from_input(&run.input)?;
        let mut client = run.http()?;
        let pin = match trust {
            Trust::Authorities => None,
            Trust::Pinned(pin) => Some((pin, false)),
            Trust::FirstUse => {
                let seen = cli::block_on(client.certificate_of(&root))??;
                tracing::info!(
                    "{} presented the certificate {seen}: trusting it on first use, as \
                     {TOFU_FIELD} asks",
                    http::display_url(&root)
                );
                Some((seen, true))
            }
        };
        if let Some((pin, _)) = pin {
            client = client.pinned(pin);
        }
        let device = Device {
            root,
            admin: basic(&login, &password),
            location: admin.location(),
            client,
        };
        let found = match device.read_user(user) {
            Ok(Some(found)) => found,
            Ok(None) => {
                return Err(Error::Failed(format!(
                    "the device {} has no user '{user}' (the PAM User record's login); nothing \
                     was changed",
                    http::display_url(&device.root)
                )));
            }
            Err(error) if pin.is_none() => return Err(untrusted(error, &device, run)),
            Err(error) => return Err(error),
        };
        tracing::info!(
            "IOS XE user '{user}': privilege {}, {}",
            found.privilege,
            match &found.secret {
                Some((kind, _)) => format!("a type {} secret", http::shown(kind)),
                None if found.has_password => "a password (reversible form)".into(),
                None => "no secret or password".into(),
            }
        );
        Ok(Planned {
            user,
            admin,
            device,
            found,
            form,
            pin,
        })
    }

    fn checked(p: &Planned<'_>, _run: &Run) -> Checked {
        let checked = Checked::input()
            .did("the admin record")
            .did("the device's TLS certificate")
            .did("the admin's sign-in and the user, with a RESTCONF read of the user")
            .not("that the device accepts the new secret");
        if p.found.privilege == 15 {
            checked.not("a sign-in as the user (it would use a password)")
        } else {
            checked
        }
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        let trust = match p.pin {
            None => "its certificate trusted by the certificate authorities".to_owned(),
            Some((pin, false)) => format!("its certificate pinned ({pin})"),
            Some((pin, true)) => format!(
                "its certificate {pin} not pinned yet: would be stored in {PIN_FIELD} of {}, \
                 as {TOFU_FIELD} asks",
                p.admin.location()
            ),
        };
        format!(
            "IOS XE user '{}' (privilege {}) on {}, {trust}; would set its {} (PATCH {}), then \
             read it back{}.",
            p.user,
            p.found.privilege,
            http::display_url(&p.device.root),
            match p.form {
                Form::Secret9 => "secret as type 9, hashed here",
                Form::Password => "password in the reversible form (iosxe_set_as)",
            },
            http::display_url(&p.device.user_url(p.user)),
            if p.found.privilege == 15 {
                " and sign in to RESTCONF as the user with the new password and the old one"
            } else {
                " (a user below privilege 15 cannot sign in to RESTCONF: no sign-in proof)"
            }
        )
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        if let Some((pin, true)) = p.pin {
            store_pin(run, p.admin, pin)?;
        }
        let user = p.user;
        let new_password = run.input.require_new_password()?;
        let sent_hash = match p.form {
            Form::Secret9 => Some(type9::hash(new_password)?),
            Form::Password => None,
        };
        let entry = match &sent_hash {
            Some(hash) => {
                json!({"name": user, "secret": {"encryption": "9", "secret": hash.expose()}})
            }
            None => {
                json!({"name": user, "password": {"encryption": "0", "password": new_password.expose()}})
            }
        };
        let url = p.device.user_url(user);
        let change = p
            .device
            .request(Method::PATCH, url, &p.device.admin)?
            .secret_json(json!({ USERNAME: [entry] }))
            .content_type(restconf::YANG_JSON);
        let target = change.target();
        let mut client = run.http_keeping(run.deadline.proof_reserve())?;
        if let Some((pin, _)) = p.pin {
            client = client.pinned(pin);
        }
        tracing::info!("setting the password of '{user}' with {target}");
        let response = p
            .device
            .send_change(&client, &change)
            .map_err(|error| match error {
                Error::NoAnswer { target, detail } => Error::NeedsAttention(format!(
                    "{target}: the request was sent but {detail}, so the password of '{user}' \
                     may or may not have changed. It was not sent again. The record keeps the \
                     previous password, which may no longer work: rotate again (the change does \
                     not need the old password)"
                )),
                other => other,
            })?;
        if !matches!(response.status.as_u16(), 200 | 201 | 204) {
            return Err(p.device.refused(&target, &response, "setting the password"));
        }
        prove(&p, run, sent_hash.as_ref())
    }
}

/// After the device took the change: the secret read back must be the one
/// sent, and a privilege-15 user must sign in with the new password and
/// not with the old. Anything short of that, once the change was taken, is
/// exit 4 (or 3 for an old password still accepted).
fn prove(p: &Planned<'_>, run: &Run, sent_hash: Option<&Secret>) -> Result<String> {
    let user = p.user;
    let unproven = |why: String| {
        Error::NeedsAttention(format!(
            "the device took the change of the password of '{user}', but {why}. The Gateway \
             must not store a password that is not proven (exit 4): the record keeps the \
             previous one, which most likely no longer works. Check which password '{user}' \
             has now and rotate again"
        ))
    };
    let read = match p.device.read_user(user) {
        Ok(Some(read)) => read,
        Ok(None) => return Err(unproven("the user is gone when read back".into())),
        Err(error) => return Err(unproven(format!("reading it back failed ({error})"))),
    };
    let mut how = Vec::new();
    // A reversible password left beside the new secret: whatever IOS
    // prefers, a credential that is not the new one is still configured.
    let mut left_over = None;
    match (sent_hash, &read.secret) {
        (Some(sent), Some((kind, stored))) if kind == "9" && stored.expose() == sent.expose() => {
            how.push("the device holds the type 9 secret sent".to_owned());
            if read.has_password {
                left_over = Some(
                    "the user still has a password in the reversible form beside the new \
                     secret: remove it on the device ('no username ... password')",
                );
            }
        }
        (Some(_), _) => {
            return Err(unproven(
                "the secret read back is not the one sent (another change since, or a device \
                 that rewrote it)"
                    .into(),
            ));
        }
        // IOS checks a secret before a password: one left from before
        // would keep the new password from ever signing in.
        (None, Some(_)) => {
            return Err(unproven(
                "the user still has a secret, which IOS checks before the password just set \
                 (the reversible form cannot replace it: rotate without iosxe_set_as, or \
                 remove the secret on the device)"
                    .into(),
            ));
        }
        (None, None) if read.has_password => {
            how.push("the device holds a password for the user".to_owned());
        }
        (None, _) => {
            return Err(unproven(
                "the user has neither a password nor a secret when read back".into(),
            ));
        }
    }
    // Exit 0 even with something old left over: the Gateway stores the new
    // password only on exit 0, and the device already has it. Exit 3 would
    // leave the vault on the old password and the new one nowhere; the
    // summary line names what is left to clean up instead.
    let done = |how: &[String]| match left_over {
        Some(left) => Ok(format!("{}; WARNING: {left}", summary(p, how))),
        None => Ok(summary(p, how)),
    };
    if read.privilege != 15 {
        how.push(format!(
            "no sign-in was tried: the user has privilege {}, and IOS XE signs only privilege-15 \
             users in to RESTCONF",
            read.privilege
        ));
        return done(&how);
    }
    let new_password = run.input.require_new_password()?;
    let probe = p.device.request(
        Method::GET,
        p.device.sign_in_url(),
        &basic(user, new_password),
    )?;
    let target = probe.target();
    let signed_in = cli::block_on(p.device.client.send_proof(&probe, |s| s.as_u16() == 200))?;
    match signed_in {
        Ok(response) if response.status.as_u16() == 200 => {
            how.push(format!(
                "'{user}' signed in with the new password ({target})"
            ));
        }
        Ok(response) => {
            return Err(unproven(format!(
                "signing in as '{user}' with the new password was answered HTTP {} ({}): AAA \
                 may authenticate the user elsewhere (TACACS+, RADIUS)",
                response.status.as_u16(),
                restconf::errors(&response)
            )));
        }
        Err(error) => return Err(unproven(format!("signing in with it failed ({error})"))),
    }
    let Some(old) = run
        .input
        .old_password
        .as_ref()
        .filter(|old| !old.is_empty() && old.expose() != new_password.expose())
    else {
        how.push("no old password to check".into());
        return done(&how);
    };
    let probe = p
        .device
        .request(Method::GET, p.device.sign_in_url(), &basic(user, old))?;
    match cli::block_on(p.device.client.send(&probe, Replay::Safe))? {
        Ok(response) if matches!(response.status.as_u16(), 401 | 403) => {
            how.push("the old password is refused".into());
        }
        Ok(response) if response.status.is_success() => {
            // Exit 0 for the reason above (`done`): the new password is in
            // force and must reach the vault.
            return Ok(format!(
                "{}; WARNING: the OLD password still signs in ({target} answered HTTP {}): AAA \
                 may authenticate '{user}' elsewhere too (TACACS+, RADIUS). The new password \
                 works and the Gateway stores it; retire the old one where it is still accepted",
                summary(p, &how),
                response.status.as_u16()
            ));
        }
        Ok(response) => how.push(format!(
            "whether the old password is refused is not known (HTTP {})",
            response.status.as_u16()
        )),
        Err(error) => how.push(format!(
            "whether the old password is refused is not known ({error})"
        )),
    }
    done(&how)
}

fn summary(p: &Planned<'_>, how: &[String]) -> String {
    format!(
        "set the {} of IOS XE user '{}' on {}; {}",
        match p.form {
            Form::Secret9 => "secret (type 9)",
            Form::Password => "password (reversible form)",
        },
        p.user,
        http::display_url(&p.device.root),
        how.join("; ")
    )
}

/// A first read refused because no certificate authority vouches for the
/// device's certificate: the refusal, with the certificate's SHA-256 to pin
/// (read without sending anything) and the two ways to trust it.
fn untrusted(error: Error, device: &Device, run: &Run) -> Error {
    let Error::Unreachable { target, detail } = &error else {
        return error;
    };
    if !detail.contains("certificate") {
        return error;
    }
    let seen = run
        .http()
        .and_then(|client| cli::block_on(client.certificate_of(&device.root)).and_then(|r| r))
        .map_or_else(|_| "(not read)".to_owned(), |pin| pin.to_string());
    Error::Config(format!(
        "{target}: the device's certificate is not trusted ({detail}); nothing was sent. \
         Trust it one of three ways: its certificate authority in SSL_CERT_FILE; its SHA-256, \
         {seen} as presented now (compare it on the device: 'show crypto pki certificates'), \
         in {PIN_FIELD} of {}; or {TOFU_FIELD} = true there to pin the first one seen",
        device.location
    ))
}

/// Stores a certificate trusted on first use in the admin record
/// ([`common::store::store_pin`]).
fn store_pin(run: &Run, admin: &Record, pin: CertPin) -> Result<()> {
    let what = format!(
        "storing the certificate {pin} in '{PIN_FIELD}' of {}",
        admin.location()
    );
    common::store::store_pin(run, admin.uid(), PIN_FIELD, &pin.to_string(), &what)?;
    tracing::info!("stored the certificate {pin} as the pin");
    Ok(())
}
