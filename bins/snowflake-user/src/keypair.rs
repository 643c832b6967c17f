//! The user's RSA key pair as a credential of the shared replacement
//! sequence ([`common::replace`]), when the PAM User record holds a private
//! key (`privatePEMKey`, or a `keyPair` field).
//!
//! Why through the sequence: the order that never loses a working key
//! (make the new one, prove it, store it, re-read the record, retire the
//! old, confirm) is the AWS keys' and the SSH key's, written and tested
//! once. What is particular to Snowflake is here:
//!
//! - a key's id is its fingerprint as `DESC USER` shows it
//!   (`RSA_PUBLIC_KEY_FP`, `RSA_PUBLIC_KEY_2_FP`): `SHA256:` and base64 of
//!   the SHA-256 of the public key's DER; the listing is the user's two
//!   slots;
//! - **create** makes an RSA 2048 key here and sets its public key in the
//!   slot the record's key is not in. Both slots taken is refused before any
//!   change (exit 2), unless the lease shows this record's interrupted run
//!   meant to retire the other key: a key no record is known to hold is
//!   never unset;
//! - the key is made here, so it is proven **before** it is stored
//!   ([`Credentials::verify_before_store`]): K sign-ins as the user with it
//!   (`SELECT CURRENT_USER()` must name the user). A key that does not work
//!   is unset again and nothing changed;
//! - a lost answer to `SET` or `UNSET` is settled by `DESC USER`: the
//!   fingerprint of a key made by this run is proof it is ours, and a slot
//!   that no longer holds a key is proof of the unset.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::driver::Run;
use common::error::{Error, Location, Result};
use common::http;
use common::replace::{self, Credentials, Failure, Found, Step};
use common::secret::Secret;
use common::store::Replacement;
use common::vault::{Change, VaultRecord};
use common::verify::Verify;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::Setup;
use crate::jwt::{self, PrivateKey};
use crate::snowflake::{self, Ran, SqlApi};

/// The user's two key slots, as `ALTER USER` names them.
pub const SLOTS: [&str; 2] = ["RSA_PUBLIC_KEY", "RSA_PUBLIC_KEY_2"];

/// The `DESC USER` properties that show each slot's fingerprint.
const FINGERPRINTS: [&str; 2] = ["RSA_PUBLIC_KEY_FP", "RSA_PUBLIC_KEY_2_FP"];

use crate::config::private_of;
pub use crate::config::{PAIR_FIELD, PEM_FIELD, key_in_input};

/// Which field of the user record holds the key (and gets the new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    Pem,
    Pair,
}

impl KeyField {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pem => PEM_FIELD,
            Self::Pair => PAIR_FIELD,
        }
    }
}

/// Whether the Gateway's user record holds a private key: then the run
/// rotates the key pair (and takes the record's lease).
/// A `privatePEMKey` that cannot be read as text counts as a key (the run
/// takes the key path and [`key_in_input`] refuses it before any change),
/// never as a password rotation.
pub fn in_input(input: &common::gateway::GatewayInput) -> bool {
    key_in_input(input).unwrap_or(true)
}

/// The key a vault record holds, and the field it is in.
pub fn stored_key(record: &VaultRecord) -> Result<Option<(KeyField, PrivateKey)>> {
    let location = record.location();
    let (field, pem) = match record.secret(PEM_FIELD)? {
        Some(pem) if !pem.expose().trim().is_empty() => (KeyField::Pem, pem),
        _ => match private_of(record.value(PAIR_FIELD)) {
            Some(private) => (KeyField::Pair, Secret::new(private)),
            None => return Ok(None),
        },
    };
    let key = PrivateKey::from_pem(&pem)
        .map_err(|problem| Error::invalid(field.name(), location, problem))?;
    Ok(Some((field, key)))
}

/// The fingerprint of the key a record holds (the sequence's re-read).
pub fn stored_fingerprint(record: &VaultRecord) -> Result<Option<String>> {
    Ok(stored_key(record)?.map(|(_, key)| key.fingerprint))
}

/// The fingerprints `DESC USER` shows in the two slots. A value that is no
/// fingerprint (`SHA256:` and base64) is kept as [`http::shown`] makes it:
/// it is named in messages, and matches no key.
pub fn slots_of(properties: &[(String, String)]) -> [Option<String>; 2] {
    FINGERPRINTS.map(|name| {
        properties
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("null"))
            .map(|v| {
                if is_fingerprint(v) {
                    v.to_owned()
                } else {
                    http::shown(v)
                }
            })
    })
}

/// `SHA256:` and the base64 of 32 bytes.
fn is_fingerprint(text: &str) -> bool {
    text.strip_prefix("SHA256:").is_some_and(|b64| {
        b64.len() == 44
            && b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    })
}

/// Whether `DESC USER` shows the user has a password: `HAS_PASSWORD` true,
/// or, where that property is not shown, a `PASSWORD` that is not null.
pub fn has_password(properties: &[(String, String)]) -> bool {
    let value = |name: &str| {
        properties
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    match value("HAS_PASSWORD") {
        Some(v) => v == "true",
        None => value("PASSWORD").is_some_and(|v| !v.is_empty() && v != "null"),
    }
}

/// What planning decided for the key.
#[derive(Debug)]
pub struct KeyPlan {
    /// The record's field holding the key.
    pub field: KeyField,
    /// The user record, for messages.
    pub location: Location,
    /// The fingerprint of the record's key.
    pub current: String,
    /// The slots as `DESC USER` showed them.
    pub slots: [Option<String>; 2],
    /// The slot the new key goes into.
    pub slot: usize,
    /// The key unset first to free that slot, and why that is safe.
    pub make_room: Option<(String, String)>,
    /// How the new key is proven.
    pub verify: Verify,
}

impl KeyPlan {
    /// The plan for the sequence.
    fn sequence(&self) -> replace::Plan {
        replace::Plan {
            before: self.slots.iter().flatten().cloned().collect(),
            make_room: self.make_room.clone(),
            retire: vec![self.current.clone()],
        }
    }

    /// What a dry run says it would do.
    pub fn describe(&self, user: &str) -> String {
        let shown = |slot: usize| self.slots[slot].as_deref().unwrap_or("empty");
        let room = self
            .make_room
            .as_ref()
            .map(|(id, why)| format!(" after unsetting {} ({id}: {why})", SLOTS[self.slot]))
            .unwrap_or_default();
        format!(
            "Its key slots: {} {}, {} {}; the record's key ({}, in {} of {}) is {}. Would make \
             an RSA 2048 key here, set it in {}{room}, prove it by {} key-pair sign-ins as \
             '{user}', store it in {}, then unset {}.",
            SLOTS[0],
            shown(0),
            SLOTS[1],
            shown(1),
            self.current,
            self.field.name(),
            self.location,
            SLOTS[1 - self.slot],
            SLOTS[self.slot],
            self.verify.successes,
            self.field.name(),
            SLOTS[1 - self.slot],
        )
    }
}

/// How the new key is proven: the user record's `verify_successes`,
/// `verify_interval_seconds` and `verify_timeout_seconds`, else 3 sign-ins
/// in a row, 0.1 s apart, within 30 s (Snowflake checks a token against
/// the user's keys as they are when it is presented).
fn verify_of(record: &VaultRecord) -> Result<Verify> {
    Verify::from_record_or(record, 0.1, 30.0)
}

/// Plans the key's rotation from the user record (the vault's copy) and
/// `DESC USER`'s properties. Refused before any change (exit 2): a user
/// that also has a password, a record key in neither slot, both slots taken
/// with a key no record is known to hold.
pub fn plan(run: &Run, user: &str, properties: &[(String, String)]) -> Result<KeyPlan> {
    let record = run.user_record()?;
    let location = record.location();
    let Some((field, key)) = stored_key(&record)? else {
        return Err(Error::Missing {
            name: PEM_FIELD.into(),
            location,
            hint: "; the vault's copy of the record holds no private key (privatePEMKey or a \
                   keyPair field), although the Gateway's did: rotate again"
                .into(),
        });
    };
    if has_password(properties) {
        return Err(Error::Config(format!(
            "the Snowflake user '{user}' has a password as well as a key pair. On success the \
             Gateway stores newPassword in {location}, which would not be the user's password. \
             Unset the password (ALTER USER ... UNSET PASSWORD) to rotate the key pair, or \
             remove the private key from the record to rotate the password. Nothing was changed"
        )));
    }
    let slots = slots_of(properties);
    let current = key.fingerprint.clone();
    let shown = |slot: usize| slots[slot].as_deref().unwrap_or("empty").to_owned();
    let Some(held) = slots.iter().position(|s| s.as_deref() == Some(&current)) else {
        return Err(Error::Config(format!(
            "the private key in {} of {location} ({current}) is in neither key slot of the \
             Snowflake user '{user}' ({} {}, {} {}): the record does not hold the user's key. \
             Put the user's current private key in the record, or set its public key on the \
             user (ALTER USER ... SET RSA_PUBLIC_KEY_2 = '...'), and rotate again. Nothing was \
             changed",
            field.name(),
            SLOTS[0],
            shown(0),
            SLOTS[1],
            shown(1),
        )));
    };
    let slot = 1 - held;
    let make_room = match &slots[slot] {
        None => None,
        Some(other) if *other == current => {
            return Err(Error::Config(format!(
                "the record's key ({current}) is in both key slots of the Snowflake user \
                 '{user}': unset one of them (ALTER USER ... UNSET {}) and rotate again. \
                 Nothing was changed",
                SLOTS[slot]
            )));
        }
        Some(other) => {
            let interrupted = run.interrupted();
            let retirable = interrupted
                .as_ref()
                .map_or(&[][..], |i| i.retirable(Some(&current)));
            if !retirable.contains(other) {
                return Err(Error::Config(format!(
                    "both key slots of the Snowflake user '{user}' are taken: {} holds the \
                     record's key ({current}) and {} holds {}, which no record is known to \
                     hold. It is not unset: if nothing uses it, unset it (ALTER USER ... UNSET \
                     {}) and rotate again. Nothing was changed",
                    SLOTS[held], SLOTS[slot], other, SLOTS[slot],
                )));
            }
            Some((
                other.clone(),
                "an interrupted rotation of this record stored the record's key and meant to \
                 retire it"
                    .to_owned(),
            ))
        }
    };
    Ok(KeyPlan {
        field,
        location,
        current,
        slots,
        slot,
        make_room,
        verify: verify_of(&record)?,
    })
}

/// The admin record's key is a key a record holds: refused before any
/// change (exit 2) when the rotation would unset it, as the record's key
/// (the PAM User is the admin user) or to make room. The run would sign its
/// own admin out, and the admin record would hold a dead key.
pub fn refuse_admin_key(setup: &Setup<'_>, plan: &KeyPlan) -> Result<()> {
    let admin = &setup.key.fingerprint;
    let mut unset = std::iter::once(&plan.current).chain(plan.make_room.as_ref().map(|(id, _)| id));
    if !unset.any(|id| id == admin) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "the rotation of the Snowflake user '{}' would unset {admin}, the key of the admin \
         record {} (admin user '{}') this run signs in with: the admin record would be left \
         holding a dead key. Use a separate admin user with its own key in the admin record, or \
         rotate the admin's key another way. Nothing was changed",
        setup.user,
        setup.admin.location(),
        http::shown(&setup.admin_user),
    )))
}

/// A key made by this run.
pub struct NewKey {
    /// Its fingerprint.
    pub id: String,
    pub key: PrivateKey,
    /// The private key, PKCS#8 PEM (registered for redaction).
    pub pem: Secret,
    /// The public key, PEM (a `keyPair` field's `publicKey`).
    pub public_pem: String,
    pub field: KeyField,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What the record stores for a new key: the field the old one was in.
pub fn fields(new: &NewKey) -> Vec<Change> {
    match new.field {
        KeyField::Pem => vec![Change::secret(PEM_FIELD, &new.pem)],
        KeyField::Pair => vec![Change::key_pair(PAIR_FIELD, &new.public_pem, &new.pem)],
    }
}

/// The user's keys through the admin's SQL API.
struct UserKeys<'a> {
    sql: &'a SqlApi,
    setup: &'a Setup<'a>,
    /// The user's NAME, as `DESC USER` shows it.
    name: &'a str,
    field: KeyField,
    /// The slot the new key goes into.
    slot: usize,
    deadline: common::deadline::Deadline,
    /// The fingerprint of the key this run made, once made: proof that a
    /// key found in a slot is ours.
    made: Option<String>,
    /// The SQL API signed in as the user with the new key (its id), made
    /// at the first sign-in.
    signed_in: Option<(String, SqlApi)>,
}

impl UserKeys<'_> {
    /// The slots as `DESC USER` shows them now.
    fn slots(&self) -> Step<[Option<String>; 2]> {
        let ran = self
            .sql
            .read(
                &format!("DESC USER {}", self.setup.quoted_user),
                "reading the user's keys (DESC USER)",
            )
            .map_err(Failure::from_error)?;
        match ran {
            Ran::Done(result) => Ok(slots_of(&snowflake::properties(&result))),
            Ran::Failed { message, .. } => Err(Failure::Definite(format!(
                "reading the user's keys (DESC USER {}) failed: {message}",
                self.setup.quoted_user
            ))),
        }
    }

    /// Runs one `ALTER USER` on the user's keys, sent once. An answer that
    /// does not say whether it ran is [`Failure::Unknown`].
    fn change(&self, statement: &str, doing: &str) -> Step<()> {
        let statement = Zeroizing::new(statement.to_owned());
        let (target, response) = self
            .sql
            .send_change(&self.sql.api.client, &statement)
            .map_err(Failure::from_error)?;
        let ran = match response.status.as_u16() {
            200 | 202 => self.sql.ended(&target, &response, doing).map_err(|e| {
                Failure::Unknown(format!(
                    "{target}: Snowflake took the statement but its outcome is unknown ({e})"
                ))
            })?,
            408 => {
                return Err(Failure::Unknown(format!(
                    "{target}: Snowflake answered HTTP 408 (the statement ran out of time; {})",
                    snowflake::error_fields(&response)
                )));
            }
            422 => self
                .sql
                .ended(&target, &response, doing)
                .map_err(Failure::from_error)?,
            _ => {
                return Err(Failure::Definite(
                    self.sql.refused(&target, &response, doing).to_string(),
                ));
            }
        };
        match ran {
            Ran::Done(_) => Ok(()),
            Ran::Failed { code, message }
                if code.is_empty() || crate::UNSURE_CODES.contains(&code.as_str()) =>
            {
                Err(Failure::Unknown(format!(
                    "{target}: Snowflake answered that the statement ended without saying \
                     whether it ran ({message})"
                )))
            }
            Ran::Failed { message, .. } => Err(Failure::Definite(format!(
                "Snowflake refused {doing}: {message}"
            ))),
        }
    }
}

impl UserKeys<'_> {
    /// The slot holding `id` now. A key this run set that `DESC USER` does
    /// not show is read again until it settles: its `SET` may land late, so
    /// absence is no proof it is gone ([`Failure::Unknown`]).
    fn slot_of(&self, id: &str) -> Step<Option<usize>> {
        let find = |slots: [Option<String>; 2]| slots.iter().position(|s| s.as_deref() == Some(id));
        let found = find(self.slots()?);
        if found.is_some() || self.made.as_deref() != Some(id) {
            return Ok(found);
        }
        let (attempts, pause) = self.settle();
        for _ in 0..attempts {
            std::thread::sleep(pause);
            if let Some(slot) = find(self.slots()?) {
                return Ok(Some(slot));
            }
        }
        Err(Failure::Unknown(format!(
            "DESC USER {} does not show {id}, the key this run set in {}: the SET was \
             acknowledged, so it may still be applied, and it was not unset",
            self.setup.quoted_user, SLOTS[self.slot]
        )))
    }
}

impl Credentials for UserKeys<'_> {
    type New = NewKey;

    fn noun(&self) -> &'static str {
        "RSA key"
    }

    fn holder(&self) -> String {
        format!("Snowflake user '{}'", self.setup.user)
    }

    fn id(new: &NewKey) -> &str {
        &new.id
    }

    fn create(&mut self) -> Step<NewKey> {
        let key = PrivateKey::generate().map_err(|e| Failure::Definite(e.into()))?;
        // Registered for redaction the moment it exists.
        let pem = key.to_pem().map_err(|e| Failure::Definite(e.into()))?;
        let public_pem = public_pem(&key.public_key);
        let new = NewKey {
            id: key.fingerprint.clone(),
            key,
            pem,
            public_pem,
            field: self.field,
        };
        // The slot must still be empty: SET would overwrite a key someone
        // set since planning, and a key no record is known to hold is never
        // removed.
        if let Some(now) = &self.slots()?[self.slot] {
            return Err(Failure::Definite(format!(
                "{} of '{}' holds {now}, set since this run read the user; it was not \
                 overwritten",
                SLOTS[self.slot], self.setup.user
            )));
        }
        self.made = Some(new.id.clone());
        let mut statement = format!(
            "ALTER USER {} SET {} = ",
            self.setup.quoted_user, SLOTS[self.slot]
        );
        // Base64 of the DER, made here: nothing in it needs quoting (and
        // sql::string_literal's limit is a password's 256 characters).
        if !new
            .key
            .public_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        {
            return Err(Failure::Definite(
                "the new public key is not base64 (a bug, please report it)".into(),
            ));
        }
        statement.push('\'');
        statement.push_str(&new.key.public_key);
        statement.push('\'');
        let doing = format!("setting {} of '{}'", SLOTS[self.slot], self.setup.user);
        match self.change(&statement, &doing) {
            Ok(()) => Ok(new),
            // A lost answer: the slot holding this run's key is proof.
            Err(Failure::Unknown(lost)) => match self.slots() {
                Ok(slots) if slots[self.slot].as_deref() == Some(new.id.as_str()) => {
                    tracing::info!(
                        "{doing}: the answer was lost, and DESC USER shows this run's key there"
                    );
                    Ok(new)
                }
                _ => Err(Failure::Unknown(lost)),
            },
            Err(other) => Err(other),
        }
    }

    fn find_created(&mut self, before: &[String]) -> Step<Found> {
        let slots = self.slots()?;
        let newcomers: Vec<String> = slots
            .iter()
            .flatten()
            .filter(|fp| !before.contains(fp))
            .cloned()
            .collect();
        let made = self.made.clone().unwrap_or_default();
        if newcomers.contains(&made) {
            return Ok(Found::Ours(vec![made]));
        }
        if !newcomers.is_empty() {
            return Ok(Found::Unproven(newcomers));
        }
        Ok(Found::Nothing {
            hint: format!("with the fingerprint {made} in {}", SLOTS[self.slot]),
        })
    }

    /// Unsets the slot holding `id`, found by `DESC USER` just before: a
    /// slot is never unset on an older reading. A lost answer is settled by
    /// `DESC USER` again.
    fn revoke(&mut self, id: &str) -> Step<()> {
        let Some(slot) = self.slot_of(id)? else {
            return Ok(());
        };
        let statement = format!(
            "ALTER USER {} UNSET {}",
            self.setup.quoted_user, SLOTS[slot]
        );
        let doing = format!("unsetting {} of '{}'", SLOTS[slot], self.setup.user);
        match self.change(&statement, &doing) {
            Err(Failure::Unknown(lost)) => match self.slots() {
                Ok(slots) if !slots.iter().any(|s| s.as_deref() == Some(id)) => {
                    tracing::info!("{doing}: the answer was lost, and DESC USER shows {id} gone");
                    Ok(())
                }
                // Still shown is no proof it will not be unset: Snowflake
                // did not say the statement failed, and it may still run.
                Ok(_) => Err(Failure::Unknown(format!(
                    "{lost}; DESC USER still shows {id} in {}, and Snowflake may still unset it",
                    SLOTS[slot]
                ))),
                Err(e) => Err(Failure::Unknown(format!(
                    "{lost}; reading the user's keys afterwards failed too ({e})"
                ))),
            },
            other => other,
        }
    }

    /// A sign-in as the user with the new key: `SELECT CURRENT_USER()`
    /// must name the user.
    fn probe(&mut self, new: &NewKey) -> std::result::Result<(), String> {
        if self.signed_in.as_ref().is_none_or(|(id, _)| *id != new.id) {
            let client = http::Client::new(http::Policy::default(), self.deadline)
                .map_err(|e| e.to_string())?;
            let lifetime = jwt::lifetime(client.deadline().remaining());
            let token = new
                .key
                .token(&self.setup.account, self.name, jwt::now(), lifetime)
                .map_err(str::to_owned)?;
            let api = SqlApi {
                api: http::Api::new(
                    self.setup.url.clone(),
                    token,
                    "Bearer ",
                    self.setup.admin.location(),
                    client,
                ),
            };
            self.signed_in = Some((new.id.clone(), api));
        }
        let Some((_, api)) = &self.signed_in else {
            return Err("no sign-in was made".into());
        };
        match api
            .read(
                "SELECT CURRENT_USER()",
                "signing in as the user with the new key",
            )
            .map_err(|e| e.to_string())?
        {
            Ran::Done(result) => {
                let named = result
                    .pointer("/data/0/0")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if named == self.name {
                    Ok(())
                } else {
                    Err(format!(
                        "the sign-in with the new key is the Snowflake user {}, not {}",
                        http::shown(named),
                        http::shown(self.name)
                    ))
                }
            }
            Ran::Failed { message, .. } => Err(format!("SELECT CURRENT_USER() failed: {message}")),
        }
    }

    fn list(&mut self) -> Step<Vec<String>> {
        Ok(self.slots()?.into_iter().flatten().collect())
    }

    fn verify_before_store(&self) -> bool {
        true
    }

    /// The new key must still be in a slot before the old one is unset:
    /// another run or a person may have overwritten it since the sign-ins,
    /// and unsetting the old key would leave the record with a key the user
    /// no longer has. That is [`Failure::Superseded`] (exit 4): the record's
    /// key does not work, whatever the old one does.
    fn before_retire(&mut self, new: &NewKey) -> Step<()> {
        let slots = self.slots()?;
        if slots.iter().any(|s| s.as_deref() == Some(new.id.as_str())) {
            return Ok(());
        }
        Err(Failure::Superseded(format!(
            "DESC USER {} no longer shows the new key in {} (it holds {}): another run or a \
             person changed the user's keys since the sign-ins, so the record's new key does \
             not work and the old key was not unset. Check the user's keys and the record",
            self.setup.quoted_user,
            SLOTS[self.slot],
            slots[self.slot].as_deref().unwrap_or("nothing"),
        )))
    }

    fn settle(&self) -> (u32, Duration) {
        (3, Duration::from_millis(300))
    }
}

/// A public key (base64 of its DER) as PEM.
fn public_pem(base64_der: &str) -> String {
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in base64_der.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    // Checked: the DER it names decodes.
    debug_assert!(STANDARD.decode(base64_der).is_ok());
    pem
}

/// Rotates the key pair as `plan` says. Returns the summary line.
pub(crate) fn rotate(
    run: &Run,
    setup: &Setup<'_>,
    sql: &SqlApi,
    name: &str,
    plan: &KeyPlan,
) -> Result<String> {
    let uid = run.input.require_user_record_uid()?;
    let mut keys = UserKeys {
        sql,
        setup,
        name,
        field: plan.field,
        slot: plan.slot,
        deadline: run.deadline,
        made: None,
        signed_in: None,
    };
    let sequence = plan.sequence();
    let replaced = run.replace(
        &mut keys,
        Replacement {
            record_uid: uid,
            location: plan.location.clone(),
            plan: &sequence,
            verify: &plan.verify,
            reserve: Duration::from_secs(10),
            fields,
            stored_id: stored_fingerprint,
        },
    )?;
    Ok(replaced.summary(format_args!(
        "new RSA key {} set in {} of Snowflake user '{}' in account {}, proven by {} key-pair \
         sign-ins as the user, and stored in {} ({}); newPassword was not set in Snowflake (the \
         user has no password)",
        replaced.new.id,
        SLOTS[plan.slot],
        setup.user,
        setup.account,
        plan.verify.successes,
        plan.location,
        plan.field.name(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_value_that_is_no_fingerprint_is_shown_on_one_line_and_matches_no_key() {
        let fp = format!("SHA256:{}", "A".repeat(43) + "=");
        let properties = vec![
            ("RSA_PUBLIC_KEY_FP".to_owned(), fp.clone()),
            ("RSA_PUBLIC_KEY_2_FP".to_owned(), "x\ny\u{1b}[2J".to_owned()),
        ];
        let [first, second] = slots_of(&properties);
        assert_eq!(first, Some(fp));
        let second = second.expect("a value");
        assert!(!second.chars().any(char::is_control), "{second:?}");
        assert!(!is_fingerprint(&second));
    }

    #[test]
    fn null_or_absent_slots_are_empty_and_has_password_reads_either_property() {
        let properties = vec![
            ("RSA_PUBLIC_KEY_FP".to_owned(), "null".to_owned()),
            ("PASSWORD".to_owned(), "********".to_owned()),
        ];
        assert_eq!(slots_of(&properties), [None, None]);
        assert!(has_password(&properties));
        let properties = vec![
            ("HAS_PASSWORD".to_owned(), "false".to_owned()),
            ("PASSWORD".to_owned(), "********".to_owned()),
        ];
        assert!(!has_password(&properties));
        assert!(!has_password(&[("PASSWORD".to_owned(), "null".to_owned())]));
    }
}
