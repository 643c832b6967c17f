//! An application's client secrets as the replacement sequence's
//! [`Credentials`], and which of them go: all but `keep_previous_secrets`
//! (the record's first, then the newest), the secret texts this run knows
//! for them, and the other records that hold them and so must get the new
//! secret before an old one is removed. The order of the steps is
//! [`common::replace`]'s.

use std::time::Duration;

use common::driver::Run;
use common::error::{Error, Result};
use common::holders::{self, Retiring};
use common::replace::{Credentials, Failure, Found, Step};
use common::secret::Secret;
use common::vault::{Change, VaultRecord};

use crate::SECRET;
use crate::admin::Admin;
use crate::graph::{App, Graph, NewSecret};

/// The old secrets to remove: all but `keep`, oldest first and the record's
/// last. The ones kept are the record's (what consumers use during the
/// overlap), then the newest: a newer secret the record never held (a
/// crashed run's, someone else's) must not take the record's place.
pub fn to_retire(app: &App, keep: usize, stored: Option<&str>) -> Vec<String> {
    let mut old = app.credentials.clone();
    // The record's first, then newest first.
    old.sort_by(|a, b| {
        let stored_first =
            (Some(b.key_id.as_str()) == stored).cmp(&(Some(a.key_id.as_str()) == stored));
        stored_first.then_with(|| b.start.cmp(&a.start))
    });
    let mut retire: Vec<String> = old.into_iter().skip(keep).map(|c| c.key_id).collect();
    retire.reverse();
    retire
}

/// The secret texts this run knows that may be retired: the record's (when
/// its key id is among those retired, or unknown) and, in a self-rotation,
/// the admin's (unless it is the record's and that one is kept: which key id
/// the admin's text belongs to is not shown by Graph).
pub(crate) fn retiring(
    record: &VaultRecord,
    own: &[Secret],
    stored: Option<&str>,
    retire: &[String],
) -> Result<Vec<Secret>> {
    let mut texts = Vec::new();
    let record_secret = record
        .secret(SECRET)?
        .filter(|s| !s.expose().trim().is_empty());
    let record_kept = stored.is_some_and(|id| !retire.iter().any(|r| r == id));
    if let Some(text) = &record_secret
        && !record_kept
        && !retire.is_empty()
    {
        texts.push(text.clone());
    }
    for secret in own {
        let is_kept_record_secret = record_kept
            && record_secret
                .as_ref()
                .is_some_and(|s| s.expose().trim() == secret.expose().trim());
        if !is_kept_record_secret {
            texts.push(secret.clone());
        }
    }
    Ok(texts)
}

/// The secrets of the rotated application that other records hold next to
/// its client id, and those records: the admin's in a self-rotation, and a
/// PAM configuration or attached record for the same application even when
/// another admin application does the rotation. The PAM configuration is
/// read from the vault when the input carries it without `clientId`. In a
/// self-rotation the admin's record and the PAM configuration are always
/// read again before retiring.
pub(crate) fn own_credentials(
    run: &Run,
    admin: &Admin,
    app: &App,
    self_rotation: bool,
) -> Result<(Vec<Secret>, Vec<String>)> {
    let mut secrets = Vec::new();
    let mut holders = Vec::new();
    let provider = run
        .input
        .provider_record_uid
        .as_deref()
        .map(str::trim)
        .filter(|uid| !uid.is_empty());
    if self_rotation {
        secrets.push(admin.secret.clone());
        holders.push(admin.record_uid.clone());
        holders.extend(provider.map(str::to_owned));
    }
    let is_app = |id: Option<String>| id.is_some_and(|id| id.eq_ignore_ascii_case(&app.app_id));
    for record in run.input.records.others() {
        for (id, secret) in [
            ("application_client_id", "client_secret"),
            ("clientId", "clientSecret"),
        ] {
            if is_app(record.text(id)?)
                && let Some(text) = record.secret(secret)?
            {
                secrets.push(text);
                holders.push(record.uid().to_owned());
            }
        }
    }
    let sent = |uid: &str| {
        run.input
            .records
            .all()
            .iter()
            .any(|r| r.uid() == uid && r.has("clientId"))
    };
    if let Some(uid) = provider
        && uid != admin.record_uid
        && !sent(uid)
    {
        match run.vault().and_then(|mut vault| vault.fetch(uid)) {
            Ok(config) => {
                if is_app(config.text("clientId")?.map(|id| id.trim().to_owned()))
                    && let Some(text) = config.secret("clientSecret")?
                {
                    secrets.push(text);
                    holders.push(uid.to_owned());
                }
            }
            Err(Error::Config(why)) => tracing::info!(
                "the PAM configuration {uid} could not be read from the vault ({why}); \
                 whether it holds a secret of the application is not known"
            ),
            Err(other) => return Err(other),
        }
    }
    Ok((secrets, holders))
}

/// An application's secrets, for the replacement sequence.
pub(crate) struct AppSecrets<'a> {
    pub(crate) run: &'a Run,
    pub(crate) graph: &'a Graph,
    pub(crate) app: &'a App,
    pub(crate) admin: &'a Admin,
    /// The token calls are made with: the admin's, until a self-rotation
    /// swaps to one from the new secret.
    pub(crate) token: Secret,
    pub(crate) tag: String,
    pub(crate) end: &'a str,
    pub(crate) self_rotation: bool,
    pub(crate) user_uid: &'a str,
    pub(crate) retiring: &'a [Secret],
    pub(crate) holders: &'a [String],
}

impl AppSecrets<'_> {
    /// Every other record holding a secret being retired gets the new one
    /// (see [`common::holders`]); otherwise every old secret is kept.
    fn hand_over(&self, new: &NewSecret) -> Step<()> {
        let retiring: Vec<Retiring> = self
            .retiring
            .iter()
            .map(|old| Retiring::secret(old, &new.text))
            .collect();
        // The records holding the application's own credentials, such as
        // the PAM configuration (the Gateway's own Azure credential), which
        // the input may carry with its uid and title only.
        let also: Vec<&str> = self.holders.iter().map(String::as_str).collect();
        holders::hand_over(self.run, self.user_uid, &also, &retiring, "client secret").map(|_| ())
    }
}

impl Credentials for AppSecrets<'_> {
    type New = NewSecret;

    fn noun(&self) -> &'static str {
        "client secret"
    }

    fn holder(&self) -> String {
        format!("application '{}' ({})", self.app.name, self.app.app_id)
    }

    fn id(new: &NewSecret) -> &str {
        &new.key_id
    }

    fn create(&mut self) -> Step<NewSecret> {
        self.graph
            .add_password(&self.token, &self.app.object_id, &self.tag, self.end)
            .map_err(|error| {
                if error
                    .to_string()
                    .contains("CredentialInvalidLifetimeAsPerAppPolicy")
                {
                    Failure::Config(format!(
                        "the tenant's credential lifetime policy refused it ({error}); lower the \
                         user record's secret_expiry_days"
                    ))
                } else {
                    Failure::from_error(error)
                }
            })
    }

    /// Graph reads lag behind writes: the tag is looked for in a few paced
    /// listings.
    fn find_created(&mut self, _before: &[String]) -> Step<Found> {
        for round in 0..4 {
            if round > 0 {
                std::thread::sleep(Duration::from_secs(2));
            }
            let app = self
                .graph
                .app(&self.token, &self.app.object_id)
                .map_err(Failure::from_error)?;
            let ours: Vec<String> = app
                .credentials
                .into_iter()
                .filter(|c| c.display_name == self.tag)
                .map(|c| c.key_id)
                .collect();
            if !ours.is_empty() {
                return Ok(Found::Ours(ours));
            }
        }
        Ok(Found::Nothing {
            hint: format!("named '{}'", self.tag),
        })
    }

    fn revoke(&mut self, id: &str) -> Step<()> {
        self.graph
            .remove_password(&self.token, &self.app.object_id, id)
            .map_err(Failure::from_error)
    }

    /// Graph's listings can lag behind a removal by several seconds.
    fn settle(&self) -> (u32, Duration) {
        (8, Duration::from_secs(2))
    }

    fn probe(&mut self, new: &NewSecret) -> std::result::Result<(), String> {
        match self
            .graph
            .token(&self.admin.tenant, &self.app.app_id, &new.text)
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(refusal)) => Err(refusal.0),
            Err(e) => Err(e.to_string()),
        }
    }

    fn list(&mut self) -> Step<Vec<String>> {
        self.graph
            .app(&self.token, &self.app.object_id)
            .map(|app| app.credentials.into_iter().map(|c| c.key_id).collect())
            .map_err(Failure::from_error)
    }

    /// Self-rotation: the admin record gets the new secret, and from here on
    /// only a token from the new secret is used, so no call is ever made
    /// with a secret that is being removed.
    fn before_retire(&mut self, new: &NewSecret) -> Step<()> {
        if !self.self_rotation {
            return self.hand_over(new);
        }
        self.run
            .vault()
            .and_then(|mut vault| {
                vault.update(
                    &self.admin.record_uid,
                    &[Change::secret(self.admin.secret_label, &new.text)],
                )
            })
            .map_err(|e| {
                Failure::Definite(format!(
                    "the application is the admin application itself, and storing the new secret \
                     in the admin record {} failed ({e})",
                    self.admin.from
                ))
            })?;
        tracing::info!(
            "stored the new secret in the admin record too ({})",
            self.admin.from
        );
        self.hand_over(new)?;
        match self
            .graph
            .token(&self.admin.tenant, &self.app.app_id, &new.text)
        {
            Ok(Ok(token)) => {
                self.token = token;
                Ok(())
            }
            Ok(Err(refusal)) => Err(Failure::Definite(format!(
                "a token with the new secret was refused ({})",
                refusal.0
            ))),
            Err(e) => Err(Failure::from_error(e)),
        }
    }
}
