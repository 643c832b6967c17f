//! The SSH key as a credential of the shared replacement sequence.
//!
//! Why through [`common::replace`]: the order that never loses a working
//! credential (create, store at once, verify, re-read the record, retire the
//! old, confirm) is the same for an IAM access key, an Entra secret and an
//! SSH key, and it is written and tested once there. What is particular to
//! SSH is here:
//!
//! - a credential's id is the key's SHA-256 fingerprint; the listing is the
//!   distinct keys of `authorized_keys`;
//! - **create** makes a key like the record's (algorithm and size, or
//!   `Private Key Type`; same format family) and adds the line tagged
//!   `keeper-security-<user>` after the line it replaces, with that line's
//!   options. The first write uses the file as planning read it, so a file
//!   someone changed in between is refused (exit 1, nothing changed);
//! - **find_created**: after a write with no answer, the file is read again
//!   and the new key's blob (unique to this run) looked for;
//! - **revoke** removes every line holding the key;
//! - **probe** logs in with the new key, authentication only;
//! - **still_accepted**: a retired key the record held must now be refused.
//!   sshd also reads `authorized_keys2` (Debian's default) and may ask an
//!   `AuthorizedKeysCommand`; a key still accepted from there ends the run
//!   with exit 3, and the password is not changed.
//!
//! Every write is entered in the change ledger by [`remote::write_keys`].
//!
//! Rooms: [`plan`] (what planning reads and decides: the file, who edits it,
//! what to retire), [`file`] (the file as a credential set of the sequence),
//! and here the key's identity, what is stored, and [`rotate`], the call.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use common::driver::Run;
use common::error::Result;
use common::replace;
use common::secret::Secret;
use common::store::Replacement;
use common::vault::{Change, VaultRecord};
use common::verify::Verify;
use russh::keys::PrivateKey;
use sha2::{Digest, Sha256};

use crate::admin::Admin;
use crate::authorized_keys::AuthorizedKeys;
use crate::conn::Conn;
use crate::keys;
use crate::settings::{KEY_FIELD, PUBLIC_KEY_FIELD};

mod file;
mod plan;

pub use file::AuthorizedKeyFile;
pub use plan::{KeyFacts, KeyPlan};
pub(crate) use plan::{KeyInputs, plan_key};

/// `SHA256:…` of a public key blob (base64, as in `authorized_keys`), as
/// ssh-keygen prints it. `None` when the blob is not base64.
pub fn blob_fingerprint(blob: &str) -> Option<String> {
    let bytes = STANDARD.decode(blob).ok()?;
    Some(format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(Sha256::digest(&bytes))
    ))
}

/// The distinct keys of a file, by fingerprint, in file order.
pub fn fingerprints(file: &AuthorizedKeys) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, entry) in file.entries() {
        if let Some(id) = blob_fingerprint(&entry.blob)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// A key made by this run.
pub struct NewKey {
    pub id: String,
    /// The private key in the old key's family.
    pub private: Secret,
    /// `type blob keeper-security-<user>`.
    pub public: String,
    pub key: Arc<PrivateKey>,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What the record stores for a new key.
pub fn fields(new: &NewKey) -> Vec<Change> {
    vec![
        Change::secret(KEY_FIELD, &new.private),
        Change::text(PUBLIC_KEY_FIELD, &new.public),
    ]
}

/// The fingerprint of the key a record holds.
pub fn stored_fingerprint(record: &VaultRecord) -> Result<Option<String>> {
    let Some(text) = record.secret(KEY_FIELD)? else {
        return Ok(None);
    };
    if text.expose().trim().is_empty() {
        return Ok(None);
    }
    let parsed = keys::parse_field(&text, KEY_FIELD, &record.location())?;
    Ok(Some(keys::fingerprint(parsed.key.public_key())))
}

/// What names one run's backup of `authorized_keys`
/// (`authorized_keys.keeper-<id>.bak`): the UTC second, then the
/// nanoseconds and 16 random bits, `20260101T000000Z-123456789ab12`. Two
/// runs in the same second (one after the other: the machine's lock keeps
/// them from overlapping) get names of their own, so each keeps the file as
/// it was before it, and a rollback's removal of its own backup never takes
/// the other's. The names still sort by time, which is how the write script
/// keeps the newest few.
pub fn backup_id(now: std::time::SystemTime) -> String {
    use russh::keys::ssh_key::rand_core::Rng;
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut random = [0u8; 2];
    russh::keys::key::safe_rng().fill_bytes(&mut random);
    format!(
        "{}-{nanos:09}{:02x}{:02x}",
        common::time::iso8601(now).replace(['-', ':'], ""),
        random[0],
        random[1]
    )
}

/// Whose key [`rotate`] replaces, and by what plan.
pub(crate) struct KeyRun<'a> {
    pub plan: &'a KeyPlan,
    /// The user record's uid (where the new key is stored).
    pub uid: &'a str,
    /// The Linux user.
    pub user: &'a str,
    pub admin: &'a Admin,
}

/// The key, through the shared replacement sequence. Returns what was done,
/// for the summary.
pub(crate) fn rotate(run: &Run, conn: &mut Conn, key: KeyRun<'_>) -> Result<String> {
    let KeyRun {
        plan,
        uid,
        user,
        admin,
    } = key;
    let sequence = replace::Plan {
        before: plan.before.clone(),
        make_room: None,
        retire: plan.retire.clone(),
    };
    // sshd reads authorized_keys at every login: one accepted login proves
    // the key, and a refusal is not going to change by waiting long.
    let verify = Verify {
        successes: 1,
        interval: Duration::from_millis(500),
        timeout: Duration::from_secs(3),
    };
    let mut file =
        AuthorizedKeyFile::new(conn, plan, user, admin.password.as_ref()).handing_over(run, uid);
    // Notes are warned once, by the sequence itself.
    let replaced = run.replace(
        &mut file,
        Replacement {
            record_uid: uid,
            location: plan.location.clone(),
            plan: &sequence,
            verify: &verify,
            reserve: Duration::from_secs(15),
            fields,
            stored_id: stored_fingerprint,
        },
    )?;
    Ok(replaced.summary(format_args!(
        "new {} key {} ({}) stored in {} ({KEY_FIELD}, {PUBLIC_KEY_FIELD})",
        plan.new_type, replaced.new.id, plan.family, plan.location,
    )))
}

#[cfg(test)]
mod tests;
