//! `rotate-snowflake-user` rotating a user's RSA key pair: Snowflake's SQL
//! API for the admin record's account, seeded with the admin user (holding
//! the public key of the admin record's private key) and a SERVICE user
//! with the PAM User's name whose `RSA_PUBLIC_KEY` is the public key of the
//! PAM User's `privatePEMKey`. Judged as a key set of two slots: the key
//! the vault holds must be in a slot (so it signs in), every other key in a
//! slot must be named by the output, and the slots must match the exit
//! code.

use rotate_snowflake_user::config::DEFAULT_TITLE;
use rotate_snowflake_user::jwt::PrivateKey;
use rotate_snowflake_user::sql::stored_name;
use serde_json::Value;

use super::Rehearsal;
use super::world::{Call, Service, Staging, named, proxied_calls};
use crate::fakes::snowflake::FakeSnowflake;
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, ProxiedRequest};
use crate::runner::Outcome;

/// The PAM User's field holding the key.
const KEY_FIELD: &str = "privatePEMKey";

struct SnowflakeKeys {
    fake: FakeSnowflake,
    /// The user as Snowflake stores it.
    user: String,
    user_uid: String,
    /// The fingerprint of the key the PAM User held before the run.
    original: String,
    seeded: Vec<String>,
}

fn key_of(pem: &str) -> Option<PrivateKey> {
    PrivateKey::from_pem(&common::secret::Secret::new(pem)).ok()
}

/// Seeds the fake from the admin record (the attached record titled
/// 'Snowflake Authentication Record', else the one holding a
/// `snowflake_account_name`) and the PAM User's key, and points the admin
/// record's `snowflake_url` at it.
pub fn start(rehearsal: &Rehearsal, staging: &mut Staging) -> Result<Box<dyn Service>, String> {
    let admin = rehearsal
        .attached_records()
        .find(|r| r.title == DEFAULT_TITLE)
        .or_else(|| {
            rehearsal
                .attached_records()
                .find(|r| r.text("snowflake_account_name").is_some())
        })
        .ok_or("no admin record the binary would pick ('Snowflake Authentication Record', or the only record with a snowflake_account_name)")?;
    let text = |name: &str| admin.text(name).map(|t| t.trim().to_owned());
    let account = text("snowflake_account_name").unwrap_or_default();
    let login = text("login").ok_or("the admin record has no login")?;
    let admin_key = admin
        .text(KEY_FIELD)
        .and_then(|pem| key_of(&pem))
        .ok_or("the admin record holds no RSA private key in privatePEMKey")?;
    let user_key = rehearsal
        .user_record()
        .and_then(|r| r.text(KEY_FIELD))
        .and_then(|pem| key_of(&pem))
        .ok_or("the PAM User holds no RSA private key in privatePEMKey")?;
    let user = stored_name(&staging.param("user"));
    let fake = FakeSnowflake::start(&account)
        .with_admin(&login.to_uppercase(), &admin_key.public_key)
        .with_service_user(&user, [Some(&user_key.public_key), None]);
    let url = fake.url();
    if let Some(dict) = staging.dict_mut(&admin.uid) {
        dict.insert("snowflake_url".into(), Value::String(url));
    }
    staging.notes.push(format!(
        "the snowflake_url of '{}' points at the fake Snowflake for this rehearsal",
        admin.title
    ));
    Ok(Box::new(SnowflakeKeys {
        seeded: vec![
            format!(
                "admin user '{}' holding the public key of the admin record's private key",
                login.to_uppercase()
            ),
            format!(
                "SERVICE user '{user}' with RSA_PUBLIC_KEY {} (the PAM User's key) and an \
                 empty RSA_PUBLIC_KEY_2",
                user_key.fingerprint
            ),
        ],
        fake,
        user,
        user_uid: rehearsal.roles.user.uid.clone(),
        original: user_key.fingerprint,
    }))
}

impl SnowflakeKeys {
    /// The fingerprints in the user's slots now.
    fn live(&self) -> Vec<String> {
        self.fake
            .fingerprints(&self.user)
            .into_iter()
            .flatten()
            .collect()
    }

    /// The fingerprint of the key the PAM User holds now.
    fn stored(&self, vault: &FakeVault) -> String {
        vault
            .field(&self.user_uid, KEY_FIELD)
            .and_then(|pem| key_of(&pem))
            .map(|k| k.fingerprint)
            .unwrap_or_default()
    }

    fn ids(ids: &[String]) -> String {
        if ids.is_empty() {
            "none".into()
        } else {
            ids.join(", ")
        }
    }
}

/// A request, for the report (masked by the caller): the statement.
fn describe(request: &ProxiedRequest) -> String {
    let statement = crate::fakes::snowflake::statement_of(request);
    match statement {
        Some(s) => format!("{} {}: {s}", request.method, request.path),
        None => format!("{} {}", request.method, request.path),
    }
}

impl Service for SnowflakeKeys {
    fn name(&self) -> &'static str {
        "snowflake"
    }

    fn calls(&self) -> Vec<Call> {
        proxied_calls(self.fake.proxy(), describe)
    }

    fn armable(&self) -> &dyn Armable {
        &self.fake
    }

    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Public keys only: the private ones are the vault's.
    fn issued(&self) -> Vec<String> {
        Vec::new()
    }

    fn seeded(&self) -> Vec<String> {
        self.seeded.clone()
    }

    /// The vault holds a key that is in a slot; every other key in a slot
    /// is named in the output; exit 0 leaves the new key alone, 1 and 2
    /// leave the slots and the record as they were, 3 has a new key
    /// stored.
    fn verdict(&self, vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        let live = self.live();
        let stored = self.stored(vault);
        if !live.contains(&stored) {
            return Err(format!(
                "the vault holds {}, which is in no key slot (slots: {})",
                if stored.is_empty() { "no key" } else { &stored },
                Self::ids(&live)
            ));
        }
        for id in live.iter().filter(|id| **id != stored) {
            if !named(out, id) {
                return Err(format!(
                    "key {id} is in a slot, not in the vault, and not named in the output"
                ));
            }
        }
        let unchanged = stored == self.original && live == [self.original.clone()];
        match out.code {
            Some(0) if stored == self.original || live.len() != 1 => Err(format!(
                "exit 0 but the slots hold {} and the vault {stored}",
                Self::ids(&live)
            )),
            Some(1 | 2) if !unchanged => Err(format!(
                "exit 1/2 (nothing changed) but the slots hold {} and the vault {stored}",
                Self::ids(&live)
            )),
            Some(3) if stored == self.original => {
                Err("exit 3 but the vault still holds the old key".into())
            }
            Some(0..=4) => Ok(()),
            other => Err(format!("exit {other:?}")),
        }
    }

    fn unchanged(&self, vault: &FakeVault) -> Result<(), String> {
        let live = self.live();
        if live == [self.original.clone()] && self.stored(vault) == self.original {
            Ok(())
        } else {
            Err(format!(
                "the key slots changed: {} before, {} now",
                self.original,
                Self::ids(&live)
            ))
        }
    }

    fn end_state(&self, vault: &FakeVault) -> Vec<String> {
        let slots = self.fake.fingerprints(&self.user);
        let shown = |slot: &Option<String>| slot.clone().unwrap_or_else(|| "empty".into());
        let stored = self.stored(vault);
        vec![
            format!(
                "Snowflake user '{}' has RSA_PUBLIC_KEY {} and RSA_PUBLIC_KEY_2 {}",
                self.user,
                shown(&slots[0]),
                shown(&slots[1])
            ),
            format!("the vault record now holds privatePEMKey ******** ({stored})"),
            format!(
                "the stored key signs in as the user: {}",
                if self.live().contains(&stored) {
                    "yes"
                } else {
                    "no"
                }
            ),
        ]
    }

    fn state_line(&self, vault: &FakeVault) -> String {
        let stored = self.stored(vault);
        format!(
            "slots {}; vault holds {} ({})",
            Self::ids(&self.live()),
            if stored.is_empty() { "no key" } else { &stored },
            if self.live().contains(&stored) {
                "works"
            } else {
                "does not work"
            }
        )
    }
}
