//! `rotate-azure-app-secret`: Entra ID's token endpoint and Graph, seeded
//! from the target application's record and the admin application the
//! records name.

use super::Rehearsal;
use super::world::{Call, Service, Staging, derived_uuid, named, proxied_calls};
use crate::fakes::azure::FakeAzure;
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, ProxiedRequest};
use crate::runner::Outcome;

/// The key id of the older secret the harness gives the target application.
const OLDER_SECRET_ID: &str = "older-secret-not-in-the-record";

struct Azure {
    fake: FakeAzure,
    user_uid: String,
    /// The target application's appId.
    target_app: String,
    /// The key id the record held before the run (empty: none).
    original_id: String,
    /// The key ids the target application had before the run.
    seeded_ids: Vec<String>,
    /// How many old secrets a successful run keeps.
    keep: usize,
    seeded: Vec<String>,
    /// The target application's secrets before the run: (key id, text).
    seeded_texts: Vec<(String, String)>,
    /// Every record in the vault: (uid, title). Any of them may hold a
    /// secret of the target application (the admin record, the PAM
    /// configuration's clientSecret, a consumer's record).
    records: Vec<(String, String)>,
}

/// One application the fake knows, before it is started.
struct App {
    object_id: String,
    app_id: String,
    name: String,
    admin: bool,
    /// (key id, text, start)
    secrets: Vec<(String, String, &'static str)>,
}

/// Seeds Entra ID: the tenant and admin application of an attached record
/// with `application_client_id`/`client_secret`/`tenant_id` and of the PAM
/// configuration's `clientId`/`clientSecret`/`tenantId`; the target
/// application named by the PAM User's `application_object_id` (its object
/// id, or its appId when it is one of the admin applications: a
/// self-rotation), holding the secret the record holds and one older secret
/// the record does not, as an application rotated by hand before would.
pub fn start(rehearsal: &Rehearsal, staging: &mut Staging) -> Result<Box<dyn Service>, String> {
    let mut seeded = Vec::new();
    let mut tenant = None;
    let mut apps: Vec<App> = Vec::new();
    let mut admin_sources = Vec::new();
    for record in rehearsal.attached_records() {
        if let (Some(client), Some(secret)) = (
            record.text("application_client_id"),
            record.text("client_secret"),
        ) {
            admin_sources.push((client, secret, format!("'{}'", record.title)));
            tenant = tenant.or_else(|| record.text("tenant_id"));
        }
    }
    if let Some(config) = rehearsal.config_record()
        && let (Some(client), Some(secret)) = (config.text("clientId"), config.text("clientSecret"))
    {
        admin_sources.push((
            client,
            secret,
            format!("the PAM configuration '{}'", config.title),
        ));
        tenant = tenant.or_else(|| config.text("tenantId"));
    }
    let tenant = match tenant {
        Some(tenant) => tenant.trim().to_owned(),
        None => {
            staging.notes.push(
                "no tenant_id or tenantId in the records: the fake tenant has a made-up id".into(),
            );
            derived_uuid("tenant")
        }
    };
    for (index, (client, secret, source)) in admin_sources.iter().enumerate() {
        let client = client.trim();
        let key_id = format!("admin-secret-{}", index + 1);
        let line = match apps.iter_mut().find(|a| a.app_id == client) {
            Some(app) => match app.secrets.iter().find(|(_, text, _)| text == secret) {
                Some((known, _, _)) => {
                    format!("admin application {client}: {source} holds the same secret ({known})")
                }
                None => {
                    app.secrets
                        .push((key_id.clone(), secret.clone(), "2026-06-01T00:00:00Z"));
                    format!("admin application {client}: another secret ({key_id}) from {source}")
                }
            },
            None => {
                apps.push(App {
                    object_id: derived_uuid(&format!("object id of {client}")),
                    app_id: client.to_owned(),
                    name: format!("admin application from {source}"),
                    admin: true,
                    secrets: vec![(key_id.clone(), secret.clone(), "2026-06-01T00:00:00Z")],
                });
                format!(
                    "admin application {client} (may manage every application) with a secret \
                     ({key_id}) from {source}"
                )
            }
        };
        seeded.push(line);
    }
    if admin_sources.is_empty() {
        seeded.push(
            "no admin application: the records hold no application_client_id/client_secret \
             and the PAM configuration no clientId/clientSecret"
                .into(),
        );
    }

    let user = rehearsal.user_record();
    let named_id = user
        .and_then(|r| r.text("application_object_id"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let original_id = user
        .and_then(|r| r.text("client_secret_id"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let record_secret = user.and_then(|r| r.text("client_secret"));
    let keep = user
        .and_then(|r| r.text("keep_previous_secrets"))
        .and_then(|k| k.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut target_app = String::new();
    if named_id.is_empty() {
        seeded.push("no target application: the PAM User has no application_object_id".into());
    } else {
        let index = match apps
            .iter()
            .position(|a| a.app_id == named_id || a.object_id == named_id)
        {
            Some(index) => {
                seeded.push(format!(
                    "the target application is the admin application {named_id} \
                     (a self-rotation)"
                ));
                index
            }
            None => {
                apps.push(App {
                    object_id: named_id.clone(),
                    app_id: derived_uuid(&format!("app id of {named_id}")),
                    name: staging.param("user"),
                    admin: false,
                    secrets: Vec::new(),
                });
                apps.len() - 1
            }
        };
        let app = &mut apps[index];
        target_app = app.app_id.clone();
        app.secrets.insert(
            0,
            (
                OLDER_SECRET_ID.into(),
                format!("older~secret~{}", derived_uuid(&named_id)),
                "2025-01-01T00:00:00Z",
            ),
        );
        let mut lines = vec![format!(
            "older secret {OLDER_SECRET_ID} (made up: the record does not hold it, so the run \
             shows what becomes of secrets it does not know)"
        )];
        match &record_secret {
            Some(text) => {
                let key_id = if original_id.is_empty() {
                    staging.notes.push(
                        "the PAM User holds a client_secret but no client_secret_id: its secret \
                         gets a made-up key id"
                            .into(),
                    );
                    "record-secret".to_owned()
                } else {
                    original_id.clone()
                };
                if !app.secrets.iter().any(|(_, t, _)| t == text) {
                    app.secrets
                        .push((key_id.clone(), text.clone(), "2026-01-01T00:00:00Z"));
                }
                lines.push(format!("secret {key_id} (id and text from the PAM User)"));
            }
            None => lines.push("no secret from the record (it holds none)".into()),
        }
        if app.admin {
            seeded.push(format!("its secrets also include: {}", lines.join("; ")));
        } else {
            seeded.push(format!(
                "target application (object id {}, appId {}) with: {}",
                app.object_id,
                app.app_id,
                lines.join("; ")
            ));
        }
    }
    let seeded_texts: Vec<(String, String)> = apps
        .iter()
        .find(|a| a.app_id == target_app)
        .map(|a| {
            a.secrets
                .iter()
                .map(|(id, text, _)| (id.clone(), text.clone()))
                .collect()
        })
        .unwrap_or_default();
    let seeded_ids: Vec<String> = seeded_texts.iter().map(|(id, _)| id.clone()).collect();
    let records = rehearsal
        .records
        .iter()
        .map(|r| (r.uid.clone(), r.title.clone()))
        .collect();

    let mut fake = FakeAzure::start(&tenant);
    seeded.insert(0, format!("tenant {tenant}"));
    for app in apps {
        fake = fake.with_app(&app.object_id, &app.app_id, &app.name, app.admin);
        for (key_id, text, start) in &app.secrets {
            fake = fake.with_secret(&app.app_id, key_id, text, start);
        }
    }
    Ok(Box::new(Azure {
        fake,
        user_uid: rehearsal.roles.user.uid.clone(),
        target_app,
        original_id,
        seeded_ids,
        keep,
        seeded,
        seeded_texts,
        records,
    }))
}

fn ids(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

impl Azure {
    fn stored(&self, vault: &FakeVault) -> (String, String) {
        (
            vault
                .field(&self.user_uid, "client_secret_id")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            vault
                .field(&self.user_uid, "client_secret")
                .unwrap_or_default(),
        )
    }

    fn live_ids(&self) -> Vec<String> {
        self.fake
            .secrets(&self.target_app)
            .into_iter()
            .map(|s| s.key_id)
            .collect()
    }

    fn works(&self, vault: &FakeVault) -> bool {
        let (stored_id, stored_text) = self.stored(vault);
        self.fake
            .secrets(&self.target_app)
            .iter()
            .any(|s| s.key_id == stored_id && s.text == stored_text)
    }
}

/// Whether a stored record (`fields` and `custom`) has a value equal to
/// `text`, without surrounding spaces.
pub(super) fn holds_text(record: &serde_json::Value, text: &str) -> bool {
    let text = text.trim();
    ["fields", "custom"].iter().any(|section| {
        record
            .get(section)
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|field| field.get("value").and_then(serde_json::Value::as_array))
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .any(|value| value.trim() == text)
    })
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A request, for the report (masked by the caller).
fn describe(request: &ProxiedRequest) -> String {
    let mut detail = format!("{} {}", request.method, request.path);
    if let Some(client) = request.param("client_id") {
        detail.push_str(&format!(" (client {client})"));
    }
    if request.path.ends_with("/addPassword") || request.path.ends_with("/removePassword") {
        detail.push_str(&format!(
            " body: {}",
            String::from_utf8_lossy(&request.body)
        ));
    }
    detail
}

impl Service for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn calls(&self) -> Vec<Call> {
        proxied_calls(self.fake.proxy(), describe)
    }

    fn armable(&self) -> &dyn Armable {
        &self.fake
    }

    fn env(&self) -> Vec<(String, String)> {
        self.fake.env()
    }

    fn issued(&self) -> Vec<String> {
        self.fake.issued()
    }

    fn seeded(&self) -> Vec<String> {
        self.seeded.clone()
    }

    /// As the conformance suite: the vault holds a live secret with its
    /// text; every other live secret was there before or is named in the
    /// output; exit 0 leaves the new secret and the newest
    /// `keep_previous_secrets` old ones; 1 and 2 leave everything as it was;
    /// 3 has the new secret stored; and no record (the admin record, the PAM
    /// configuration) is left holding a secret that was removed.
    fn verdict(&self, vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        let live = self.fake.secrets(&self.target_app);
        let live_ids = || ids(&live.iter().map(|s| s.key_id.clone()).collect::<Vec<_>>());
        let (stored_id, _) = self.stored(vault);
        if !(self.works(vault) || (stored_id.is_empty() && self.original_id.is_empty())) {
            return Err(format!(
                "the vault holds {stored_id}, which is not a live secret with that text (live: {})",
                live_ids()
            ));
        }
        for secret in &live {
            if secret.key_id != stored_id
                && !self.seeded_ids.contains(&secret.key_id)
                && !named(out, &secret.key_id)
                && !named(out, &secret.display_name)
            {
                return Err(format!(
                    "secret {} is live, not in the vault, and not named in the output",
                    secret.key_id
                ));
            }
        }
        // Every record that held a secret of the application must not be
        // left holding one that was removed, whatever the exit code: the
        // binary updates each holder before it retires anything, or keeps
        // the old secret.
        for (id, text) in &self.seeded_texts {
            if live.iter().any(|s| &s.key_id == id) {
                continue;
            }
            for (uid, title) in &self.records {
                if vault.record(uid).is_some_and(|r| holds_text(&r, text)) {
                    return Err(format!(
                        "the record '{title}' ({uid}) still holds secret {id}, which was removed"
                    ));
                }
            }
        }
        let old = |id: &str| self.seeded_ids.iter().any(|s| s == id);
        let unchanged = stored_id == self.original_id
            && sorted(live.iter().map(|s| s.key_id.clone()).collect())
                == sorted(self.seeded_ids.clone());
        let expected = 1 + self.keep.min(self.seeded_ids.len());
        match out.code {
            Some(0) if live.len() != expected || old(&stored_id) => Err(format!(
                "exit 0 but the secrets are {} and the vault holds {stored_id}",
                live_ids()
            )),
            Some(1 | 2) if !unchanged => Err(format!(
                "exit 1/2 (nothing changed) but the secrets are {} and the vault holds {stored_id}",
                live_ids()
            )),
            Some(3) if old(&stored_id) => {
                Err("exit 3 but the vault still holds an old secret".into())
            }
            Some(0..=4) => Ok(()),
            other => Err(format!("exit {other:?}")),
        }
    }

    fn unchanged(&self, _vault: &FakeVault) -> Result<(), String> {
        let live = sorted(self.live_ids());
        if live == sorted(self.seeded_ids.clone()) {
            Ok(())
        } else {
            Err(format!(
                "the application's secrets changed: {} before, {} now",
                ids(&self.seeded_ids),
                ids(&live)
            ))
        }
    }

    fn end_state(&self, vault: &FakeVault) -> Vec<String> {
        let (stored_id, _) = self.stored(vault);
        let shown = if stored_id.is_empty() {
            "(empty)".to_owned()
        } else {
            stored_id.clone()
        };
        vec![
            format!(
                "the target application {} has the secrets: {}",
                self.target_app,
                ids(&self.live_ids())
            ),
            format!(
                "the vault record now holds client_secret_id {shown}, client_secret ********, \
                 expires {}",
                vault
                    .field(&self.user_uid, "expires")
                    .unwrap_or_else(|| "(empty)".into())
            ),
            format!(
                "the stored secret is the one Graph made for {shown}: {}",
                if self.works(vault) { "yes" } else { "no" }
            ),
        ]
    }

    fn state_line(&self, vault: &FakeVault) -> String {
        let (stored_id, _) = self.stored(vault);
        format!(
            "secrets {}; vault holds {} ({})",
            ids(&self.live_ids()),
            if stored_id.is_empty() {
                "no secret"
            } else {
                &stored_id
            },
            if self.works(vault) {
                "works"
            } else {
                "does not work"
            }
        )
    }
}
