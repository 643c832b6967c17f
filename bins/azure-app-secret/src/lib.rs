//! rotate-azure-app-secret: rotates an Entra ID application's client secret
//! over Microsoft Graph and stores the new one in the PAM User record, as a
//! Keeper Gateway PAM script.
//!
//! The order is the safety argument: add the new secret; store it at once
//! (Graph returns its text only once; if storing fails it is removed again);
//! verify it by getting a token with it several times in a row; only then
//! remove the old secrets (all, or all but the newest N); list again to
//! confirm.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use common::cli::{self, Cli, CommonArgs, Context};
use common::error::{Error, Result};
use common::secret::Secret;
use common::time::iso8601;
use common::vault::{Change, Vault, VaultRecord};
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
  keep_previous_secrets  custom, optional: keep the newest N old secrets (default 0)
  azure_cloud            custom, optional: public (default), usgov or china
  verify_successes, verify_interval_seconds, verify_timeout_seconds
                         custom, optional: token checks of the new secret (default 3 in
                         a row, 1.5 s apart, within 120 s)

Admin application, the first that applies (never the user record):
  1. an attached record with application_client_id, client_secret, tenant_id
  2. the PAM configuration's record in the input: clientId, clientSecret, tenantId
  3. the PAM configuration record in the vault (providerRecordUid)
When the admin application is the one rotated, its record gets the new secret too.
Graph permission: Application.ReadWrite.All (or .OwnedBy, the admin app being an owner).
Hosts: AZURE_AUTHORITY_HOST, MICROSOFT_GRAPH_URL. Default --timeout: 180 s.";

#[derive(Debug, Parser)]
#[command(
    name = "rotate-azure-app-secret",
    version,
    about = "Rotates an Entra ID application's client secret and stores it in the Keeper record (Gateway PAM script)."
)]
pub struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

impl Cli for Args {
    const FIELDS: &'static str = FIELDS;
    const DEFAULT_TIMEOUT: u64 = 180;

    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

pub fn main() -> ExitCode {
    cli::run::<Args>(|_, context| rotate(&context))
}

const SECRET_ID: &str = "client_secret_id";
const SECRET: &str = "client_secret";
const EXPIRES: &str = "expires";

/// Rotates the secret. Returns the summary line.
pub fn rotate(context: &Context) -> Result<String> {
    let input = &context.input;
    let user_uid = input.require_user_record_uid()?;
    let mut vault = Vault::open_default(context.deadline)?;
    let record = vault.fetch(user_uid)?;
    let target = record
        .text("application_object_id")?
        .ok_or_else(|| Error::missing("application_object_id", record.location()))?;
    let days = record.number("secret_expiry_days", 365.0, 1.0..=3650.0)? as u64;
    let keep = record.number("keep_previous_secrets", 0.0, 0.0..=10.0)? as usize;
    let verify = Verify::from_record(&record)?;
    let admin = admin::resolve(input, &mut vault)?;
    tracing::info!(
        "admin application: client id {} from {}",
        admin.client_id,
        admin.from
    );
    let (authority, graph_url) =
        graph::endpoints(record.text("azure_cloud")?.as_deref(), &record.location())?;
    let client = context.http()?;
    let graph = Graph {
        client: &client,
        authority,
        graph: graph_url,
    };

    let admin_token = admin_token(&graph, &admin)?;
    let app = graph.find_app(&admin_token, &target)?.ok_or_else(|| {
        Error::Config(format!(
            "no application has the object id or client id '{target}' (application_object_id \
             of {})",
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
    let self_rotation = admin.client_id == app.app_id;
    let retire = to_retire(&app, keep);

    let now = SystemTime::now();
    let end = iso8601(now + Duration::from_secs(days * 86_400));
    if context.dry_run {
        return Ok(format!(
            "dry run: application '{}' ({}) has {} secret(s). Would add a secret valid until \
             {end}, store it in {} ({SECRET_ID}, {SECRET}, {EXPIRES}), check it works {} times \
             in a row within {} s, then remove {}{}. Nothing was changed.",
            app.name,
            app.app_id,
            app.credentials.len(),
            record.location(),
            verify.successes,
            verify.timeout.as_secs(),
            if retire.is_empty() {
                "none".into()
            } else {
                retire.join(", ")
            },
            if self_rotation {
                " (the admin application itself: its record gets the new secret too)"
            } else {
                ""
            }
        ));
    }

    // 1. Add.
    let tag = format!(
        "keeper-rotated {user_uid} {}",
        now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    );
    let new = match graph.add_password(&admin_token, &app.object_id, &tag, &end) {
        Ok(new) => new,
        Err(error) => return Err(adding_failed(&graph, &admin_token, &app, &tag, error)),
    };
    tracing::info!("added secret {} (expires {})", new.key_id, new.end);

    // 2. Store at once: Graph never shows the text again.
    let changes = [
        Change::text(SECRET_ID, &new.key_id),
        Change::secret(SECRET, &new.text),
        Change::text(EXPIRES, &new.end),
    ];
    if let Err(error) = vault.update(user_uid, &changes) {
        return Err(storing_failed(
            &graph,
            &admin_token,
            &app,
            &new,
            &record,
            error,
        ));
    }
    tracing::info!("stored secret {} in {}", new.key_id, record.location());

    // 3. Verify.
    verify
        .until_it_works(&context.deadline, Duration::from_secs(10), || {
            match graph.token(&admin.tenant, &app.app_id, &new.text) {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(refusal)) => Err(refusal.0),
                Err(e) => Err(e.to_string()),
            }
        })
        .map_err(|failed| {
            Error::OldNotRetired(format!(
                "the new secret {} is stored in {}, but no token could be had with it {} times in \
                 a row within {} s ({} checks; last: {}). The old secrets were kept and are still \
                 valid; run the rotation again later",
                new.key_id,
                record.location(),
                verify.successes,
                failed.budget.as_secs(),
                failed.checks,
                failed.last_error
            ))
        })?;

    // 4. Rotating the admin application itself: its record gets the new
    // secret, and from here on only a token from the new secret is used.
    let token =
        if self_rotation {
            vault
            .update(&admin.record_uid, &[Change::secret(admin.secret_label, &new.text)])
            .map_err(|e| {
                Error::OldNotRetired(format!(
                    "the application is the admin application itself; its new secret is stored in \
                     {}, but storing it in the admin record {} failed ({e}), so the old secrets \
                     were kept",
                    record.location(),
                    admin.from
                ))
            })?;
            tracing::info!(
                "stored the new secret in the admin record too ({})",
                admin.from
            );
            match graph.token(&admin.tenant, &app.app_id, &new.text)? {
                Ok(token) => token,
                Err(refusal) => {
                    return Err(Error::OldNotRetired(format!(
                        "a token with the new secret was refused ({}); the old secrets were kept",
                        refusal.0
                    )));
                }
            }
        } else {
            admin_token
        };

    // 5. Remove the others.
    for (done, key_id) in retire.iter().enumerate() {
        tracing::info!("removing old secret {key_id}");
        graph.remove_password(&token, &app.object_id, key_id).map_err(|e| {
            Error::OldNotRetired(format!(
                "removing old secret {key_id} failed: {e}. Still valid: {}; the new secret {} is \
                 stored in {} and works. Remove them in Entra ID once nothing uses them, or run \
                 the rotation again",
                retire[done..].join(", "),
                new.key_id,
                record.location()
            ))
        })?;
    }

    // 6. Confirm.
    let after = common::verify::until_settled(
        4,
        Duration::from_secs(1),
        || graph.app(&token, &app.object_id),
        |now| !now.credentials.iter().any(|c| retire.contains(&c.key_id)),
    )?;
    let left: Vec<&str> = after
        .credentials
        .iter()
        .map(|c| c.key_id.as_str())
        .filter(|id| retire.iter().any(|r| r == id))
        .collect();
    if !left.is_empty() {
        return Err(Error::OldNotRetired(format!(
            "secret(s) {} are still listed after removal: check the application in Entra ID",
            left.join(", ")
        )));
    }
    if !after.credentials.iter().any(|c| c.key_id == new.key_id) {
        return Err(Error::NeedsAttention(format!(
            "the new secret {} is not listed on the application after the rotation: check it in \
             Entra ID and the record {}",
            new.key_id,
            record.location()
        )));
    }
    Ok(format!(
        "rotated the client secret of application '{}' ({}): new secret {} stored in {}, \
         expires {}; removed {}",
        app.name,
        app.app_id,
        new.key_id,
        record.location(),
        new.end,
        if retire.is_empty() {
            "none".into()
        } else {
            retire.join(", ")
        }
    ))
}

fn admin_token(graph: &Graph<'_>, admin: &Admin) -> Result<Secret> {
    match graph.token(&admin.tenant, &admin.client_id, &admin.secret)? {
        Ok(token) => Ok(token),
        Err(refusal) => Err(Error::Failed(format!(
            "the admin application {} from {} could not get a Graph token: {}; check its \
             client id, secret and tenant id",
            admin.client_id, admin.from, refusal.0
        ))),
    }
}

/// The old secrets to remove: all but the newest `keep`, oldest first (the
/// newest is the likeliest still in use).
pub fn to_retire(app: &App, keep: usize) -> Vec<String> {
    let mut old = app.credentials.clone();
    old.sort_by(|a, b| b.start.cmp(&a.start));
    let mut retire: Vec<String> = old.into_iter().skip(keep).map(|c| c.key_id).collect();
    retire.reverse();
    retire
}

/// Adding failed. A policy refusal is configuration; an unanswered add may
/// have made a secret nobody saw, which is found by its tag and removed.
fn adding_failed(graph: &Graph<'_>, token: &Secret, app: &App, tag: &str, error: Error) -> Error {
    if error
        .to_string()
        .contains("CredentialInvalidLifetimeAsPerAppPolicy")
    {
        return Error::Config(format!(
            "the tenant's credential lifetime policy refused the new secret ({error}); lower the \
             user record's secret_expiry_days"
        ));
    }
    if !matches!(error, Error::NoAnswer { .. }) {
        return Error::Failed(format!(
            "adding a secret to '{}' failed: {error}; nothing changed",
            app.name
        ));
    }
    let orphans: Vec<String> = match graph.app(token, &app.object_id) {
        Ok(now) => now
            .credentials
            .into_iter()
            .filter(|c| c.display_name == tag)
            .map(|c| c.key_id)
            .collect(),
        Err(e) => {
            return Error::NeedsAttention(format!(
                "{error}; listing the application afterwards failed too ({e}): check in Entra ID \
                 whether a secret named '{tag}' was added, and remove it (its text is unknown)"
            ));
        }
    };
    for key_id in &orphans {
        if let Err(e) = graph.remove_password(token, &app.object_id, key_id) {
            return Error::NeedsAttention(format!(
                "{error}; secret {key_id} ('{tag}') was added anyway and removing it failed ({e}): \
                 remove it in Entra ID"
            ));
        }
    }
    Error::Failed(format!(
        "adding a secret to '{}' got no answer ({error}); {} secret(s) it may have made were \
         removed; nothing changed",
        app.name,
        orphans.len()
    ))
}

fn storing_failed(
    graph: &Graph<'_>,
    token: &Secret,
    app: &App,
    new: &NewSecret,
    record: &VaultRecord,
    error: Error,
) -> Error {
    if let Error::NoAnswer { .. } = error {
        return Error::NeedsAttention(format!(
            "{error}. The new secret {} may be in {}: it and the old secrets are all valid. Check \
             the record: if it holds {}, remove the old secrets in Entra ID; if not, remove {}",
            new.key_id,
            record.location(),
            new.key_id,
            new.key_id
        ));
    }
    match graph.remove_password(token, &app.object_id, &new.key_id) {
        Ok(()) => Error::Failed(format!(
            "storing the new secret in {} failed: {error}. The new secret {} was removed again; \
             nothing changed",
            record.location(),
            new.key_id
        )),
        Err(e) => Error::NeedsAttention(format!(
            "storing the new secret in {} failed: {error}, and removing the new secret {} again \
             failed too: {e}. Remove secret {} from '{}' in Entra ID (its text is in no record)",
            record.location(),
            new.key_id,
            new.key_id,
            app.name
        )),
    }
}
