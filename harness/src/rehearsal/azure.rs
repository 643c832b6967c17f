//! `rotate-azure-app-secret`: Entra ID's token endpoint and Graph, seeded
//! from the target application's record and the admin application the
//! records name; the target application's client secrets judged as a key
//! set ([`KeySetRotator`]).

use super::Rehearsal;
use super::keyset::{Cred, KeySet, KeySetRotator, Words};
use super::world::{Service, Staging, derived_uuid};
use crate::fakes::azure::FakeAzure;
use crate::faults::{FaultProxy, ProxiedRequest};

/// The key id of the older secret the harness gives the target application.
const OLDER_SECRET_ID: &str = "older-secret-not-in-the-record";

/// Entra ID and the application whose secrets are rotated.
struct Azure {
    fake: FakeAzure,
    /// The target application's appId.
    target_app: String,
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
    Ok(Box::new(KeySet {
        rotator: Azure { fake, target_app },
        user_uid: rehearsal.roles.user.uid.clone(),
        original_id,
        before: seeded_texts,
        keep,
        seeded,
        holders: records,
    }))
}

impl KeySetRotator for Azure {
    type Fake = FakeAzure;
    const NAME: &'static str = "azure";
    const WORDS: Words = Words {
        noun: "secret",
        plural: "secrets",
        secret: "text",
        retired: "removed",
        old: "an old secret",
        set: "the application's secrets",
        short_set: "secrets",
        issuer: "Graph made",
        id_field: "client_secret_id",
        secret_field: "client_secret",
        date_field: "expires",
    };
    const OLD_MAY_STAY: bool = true;

    fn fake(&self) -> &FakeAzure {
        &self.fake
    }

    fn proxy(&self) -> &FaultProxy {
        self.fake.proxy()
    }

    fn live(&self) -> Vec<Cred> {
        self.fake
            .secrets(&self.target_app)
            .into_iter()
            .map(|s| Cred {
                shown: s.key_id.clone(),
                id: s.key_id,
                secret: s.text,
                works: true,
                aliases: vec![s.display_name],
            })
            .collect()
    }

    fn owner(&self) -> String {
        format!("the target application {}", self.target_app)
    }

    fn env(&self) -> Vec<(String, String)> {
        self.fake.env()
    }

    fn hosts(&self) -> Vec<(String, String)> {
        crate::fakes::azure::HOSTS
            .iter()
            .map(|host| ((*host).to_owned(), self.fake.url()))
            .collect()
    }

    fn issued(&self) -> Vec<String> {
        self.fake.issued()
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
}
