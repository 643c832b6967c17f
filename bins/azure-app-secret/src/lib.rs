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
use common::dry_run::Checked;
use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::replace;
use common::secret::Secret;
use common::store::Replacement;
use common::time::iso8601;
use common::vault::{Change, VaultRecord};
use common::verify::Verify;

pub mod admin;
pub mod graph;
mod secrets;

pub use secrets::to_retire;
use secrets::{AppSecrets, own_credentials, retiring};

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
  keep_previous_secrets  custom, optional: how many old secrets stay valid (a grace
                         period) once the new one is stored and verified: 0 (default)
                         deletes them all; N (up to 10) keeps N, the record's previous
                         one first, then the newest
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

    fn check_input(input: &GatewayInput) -> Result<()> {
        input.require_user_record_uid()?;
        admin::from_input(input).map(|_| ())
    }

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

    fn checked(_p: &Planned<'_>, _run: &Run) -> Checked {
        Checked::input()
            .did("the user record and the admin credentials in the vault")
            .did("the admin's sign-in to Entra ID")
            .did("the application and its secrets, with a read from Microsoft Graph")
            .not("that the admin may add and remove the application's secrets")
            .not("that a new secret signs in")
            .not("that the vault accepts the save")
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
