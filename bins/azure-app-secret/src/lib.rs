//! rotate-azure-app-secret: rotates an Entra ID application's client secret
//! over Microsoft Graph and stores the new one in the PAM User record, as a
//! Keeper Gateway PAM script.
//!
//! What is particular to Entra ID lives here: the admin application, the
//! token and Graph calls ([`graph`]), which secrets go (all but
//! `keep_previous_secrets`: the record's previous one, then the newest), and
//! self-rotation: when the admin application is the one rotated, its record
//! gets the new secret too and only a token from the new secret is used
//! afterwards. The order that keeps a working secret
//! stored at every moment is the shared sequence of [`common::replace`]; the
//! run around it (lease, dry run, exit codes) is [`common::driver`]'s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::driver::{Rotator, Run};
use common::error::{Error, Location, Result};
use common::holders::{self, Retiring};
use common::replace::{self, Credentials, Failure, Found, Step};
use common::secret::Secret;
use common::store::Replacement;
use common::time::iso8601;
use common::vault::{Change, VaultRecord};
use common::verify::Verify;

pub mod admin;
pub mod graph;

use admin::Admin;
use graph::{App, Graph, NewSecret};

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record whose rotation is \"Run PAM scripts only\". The Gateway's
KSM config must allow editing the record.

Gateway input read: userRecordUid, providerRecordUid, records.

User record (read from the vault):
  application_object_id  custom: the application to rotate: its object id or its
                         application (client) id
  client_secret_id       custom text: written: the new secret's keyId
  client_secret          custom hidden: written: the new secret
  expires                custom text: written: when the new secret expires (ISO 8601)
  secret_expiry_days     custom, optional: lifetime of the new secret (default 365)
  keep_previous_secrets  custom, optional: keep N old secrets, the record's previous
                         one first, then the newest (default 0)
  azure_cloud            custom, optional: public (default), usgov or china
  verify_successes, verify_interval_seconds, verify_timeout_seconds
                         custom, optional: token checks of the new secret (default 3 in
                         a row, 1.5 s apart, within 120 s)
  rotation_lease         custom text: written: held while a rotation runs (one run at a
                         time per record), cleared at the end; a run that did not
                         complete leaves what is left to retire there for the next

Admin application, the first that applies (never the user record):
  1. an attached record with application_client_id, client_secret, tenant_id
  2. the PAM configuration's record in the input: clientId, clientSecret, tenantId
  3. the PAM configuration record in the vault (providerRecordUid)
When the admin application is the one rotated, its record gets the new secret too.
Graph permission: Application.ReadWrite.All (or .OwnedBy, the admin app being an owner).
Hosts: AZURE_AUTHORITY_HOST, MICROSOFT_GRAPH_URL. Default --timeout: 180 s.";

/// The rotator.
#[derive(Debug)]
pub struct AzureAppSecret;

const SECRET_ID: &str = "client_secret_id";
const SECRET: &str = "client_secret";
const EXPIRES: &str = "expires";

/// What planning found and decided.
#[derive(Debug)]
pub struct Planned<'r> {
    user_uid: &'r str,
    location: Location,
    graph: Graph,
    admin: Admin,
    admin_token: Secret,
    app: App,
    self_rotation: bool,
    retire: Vec<String>,
    /// The secret texts this run knows that may be among those retired:
    /// every record holding one gets the new secret before any is removed.
    retiring: Vec<Secret>,
    /// Records read from the vault for them whatever their copy in the
    /// input shows (see [`own_credentials`]).
    holders: Vec<String>,
    end: String,
    verify: Verify,
}

/// The secret id the record stores, trimmed as Graph compares it.
fn stored_secret_id(record: &VaultRecord) -> Result<Option<String>> {
    Ok(record
        .text(SECRET_ID)?
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty()))
}

fn fields(new: &NewSecret) -> Vec<Change> {
    vec![
        Change::text(SECRET_ID, &new.key_id),
        Change::secret(SECRET, &new.text),
        Change::text(EXPIRES, &new.end),
    ]
}

impl Rotator for AzureAppSecret {
    const NAME: &'static str = "rotate-azure-app-secret";
    const ABOUT: &'static str = "Rotates an Entra ID application's client secret and stores it \
                                 in the Keeper record (Gateway PAM script).";
    const FIELDS: &'static str = FIELDS;
    const DEFAULT_TIMEOUT: u64 = 180;
    const LEASE: bool = true;

    type Plan<'r> = Planned<'r>;

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let input = &run.input;
        let user_uid = input.require_user_record_uid()?;
        let record = run.user_record()?;
        let target = record
            .text("application_object_id")?
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::missing("application_object_id", record.location()))?;
        let days = record.number("secret_expiry_days", 365.0, 1.0..=3650.0)? as u64;
        let keep = record.number("keep_previous_secrets", 0.0, 0.0..=10.0)? as usize;
        let verify = Verify::from_record(&record)?;
        let admin = admin::resolve(input, &mut *run.vault()?)?;
        tracing::info!(
            "admin application: client id {} from {}",
            admin.client_id,
            admin.from
        );
        let (authority, graph_url) =
            graph::endpoints(record.text("azure_cloud")?.as_deref(), &record.location())?;
        let graph = Graph {
            client: run.http()?,
            authority,
            graph: graph_url,
        };
        let admin_token = admin_token(&graph, &admin)?;
        let app = graph.find_app(&admin_token, &target)?.ok_or_else(|| {
            Error::Config(format!(
                "no application has the object id or client id '{target}' \
                 (application_object_id of {})",
                record.location()
            ))
        })?;
        tracing::info!(
            "application '{}': object id {}, client id {}, {} secret(s)",
            app.name,
            app.object_id,
            app.app_id,
            app.credentials.len()
        );
        // Client ids are GUIDs, which Entra compares ignoring case: a
        // self-rotation missed here would remove the secret the admin record
        // still holds.
        let self_rotation = admin.client_id.eq_ignore_ascii_case(&app.app_id);
        let stored = stored_secret_id(&record)?;
        let retire = to_retire(&app, keep, stored.as_deref());
        let (own, holders) = own_credentials(run, &admin, &app, self_rotation)?;
        let retiring = retiring(&record, &own, stored.as_deref(), &retire)?;
        let end = iso8601(SystemTime::now() + Duration::from_secs(days * 86_400));
        Ok(Planned {
            user_uid,
            location: record.location(),
            graph,
            admin,
            admin_token,
            app,
            self_rotation,
            retire,
            retiring,
            holders,
            end,
            verify,
        })
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        format!(
            "application '{}' ({}) has {} secret(s). Would add a secret valid until {}, store it \
             in {} ({SECRET_ID}, {SECRET}, {EXPIRES}), check it works {} times in a row within {} \
             s, then remove {}{}.",
            p.app.name,
            p.app.app_id,
            p.app.credentials.len(),
            p.end,
            p.location,
            p.verify.successes,
            p.verify.timeout.as_secs(),
            if p.retire.is_empty() {
                "none".into()
            } else {
                p.retire.join(", ")
            },
            if p.self_rotation {
                " (the admin application itself: its record gets the new secret too)"
            } else {
                ""
            }
        )
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        let sequence = replace::Plan {
            before: p.app.credentials.iter().map(|c| c.key_id.clone()).collect(),
            make_room: None,
            retire: p.retire.clone(),
        };
        // Unique to this run: a secret found by it after a lost answer is
        // this run's and nobody else's.
        let tag = format!(
            "keeper-rotated {} {}-{:08x}",
            p.user_uid,
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            fastrand::u32(..)
        );
        let mut secrets = AppSecrets {
            run,
            graph: &p.graph,
            app: &p.app,
            admin: &p.admin,
            token: p.admin_token.clone(),
            tag,
            end: &p.end,
            self_rotation: p.self_rotation,
            user_uid: p.user_uid,
            retiring: &p.retiring,
            holders: &p.holders,
        };
        let replaced = run.replace(
            &mut secrets,
            Replacement {
                record_uid: p.user_uid,
                location: p.location.clone(),
                plan: &sequence,
                verify: &p.verify,
                reserve: Duration::from_secs(10),
                fields,
                stored_id: stored_secret_id,
            },
        )?;
        Ok(replaced.summary(format_args!(
            "rotated the client secret of application '{}' ({}): new secret {} stored in {}, \
             expires {}",
            p.app.name, p.app.app_id, replaced.new.key_id, p.location, replaced.new.end,
        )))
    }
}

fn admin_token(graph: &Graph, admin: &Admin) -> Result<Secret> {
    match graph.token(&admin.tenant, &admin.client_id, &admin.secret)? {
        Ok(token) => Ok(token),
        Err(refusal) => Err(Error::Failed(format!(
            "the admin application {} from {} could not get a Graph token: {}; check its \
             client id, secret and tenant id",
            admin.client_id, admin.from, refusal.0
        ))),
    }
}

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
fn retiring(
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
fn own_credentials(
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
struct AppSecrets<'a> {
    run: &'a Run,
    graph: &'a Graph,
    app: &'a App,
    admin: &'a Admin,
    /// The token calls are made with: the admin's, until a self-rotation
    /// swaps to one from the new secret.
    token: Secret,
    tag: String,
    end: &'a str,
    self_rotation: bool,
    user_uid: &'a str,
    retiring: &'a [Secret],
    holders: &'a [String],
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
