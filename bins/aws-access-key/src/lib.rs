//! rotate-aws-access-key: rotates an IAM user's access key and stores the new
//! key in the PAM User record, as a Keeper Gateway PAM script.
//!
//! The order is the safety argument: make room only with a key shown to be
//! unused; create the new key; store it in the vault at once (and delete it
//! again if storing fails); verify it with sts:GetCallerIdentity until it
//! works several times in a row; only then delete the old keys, the record's
//! key last; list again to confirm. A crash at any step leaves a working key
//! stored in the vault, and a second run picks up where the first stopped.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use common::cli::{self, Cli, CommonArgs, Context};
use common::error::{Error, Result};
use common::vault::{Change, Vault, VaultRecord};
use common::verify::Verify;

pub mod admin;
pub mod aws;
pub mod plan;

use admin::mask;
use aws::{Aws, AwsError, NewKey};

/// `--help`: the record fields this binary reads and writes.
pub const FIELDS: &str = "\
Attach to: a PAM User record (login = the IAM user name) whose rotation is
\"Run PAM scripts only\". The Gateway's KSM config must allow editing the record.

Gateway input read: user (the IAM user), userRecordUid, providerRecordUid, records.

User record (read from the vault):
  aws_access_key_id        custom text: the current key; written: the new key id
  aws_secret_access_key    custom hidden: written: the new secret access key
  CreateDate               custom text: written: when the new key was created (ISO 8601)
  Access_Key_ID_Removed_during_previous_rotation
                           custom text: written: the key ids deleted by this run
  delete_all_keys_before_rotating
                           custom, optional: true to allow deleting the least recently
                           used key first when the user has two keys and neither is
                           known to be unused (the record's key still goes last)
  aws_region               custom, optional: region (and partition); else AWS_REGION,
                           else us-east-1
  verify_successes         custom, optional: consecutive GetCallerIdentity successes
                           needed before old keys are deleted (default 3)
  verify_interval_seconds  custom, optional: pause between checks (default 1.5, jittered)
  verify_timeout_seconds   custom, optional: how long to wait for the new key (default 120)

Admin credentials, the first that applies (never the user record):
  1. an attached record with role_arn, aws_access_key_id, aws_secret_access_key
     (and optional external_id): AssumeRole signed with those keys
  2. an attached record with aws_access_key_id and aws_secret_access_key
  3. the PAM configuration's record in the input: accessKeyId, accessSecretKey
  4. the PAM configuration record in the vault (providerRecordUid); USE_INSTANCE_ROLE skips it
  5. the AWS default chain: environment, profile, web identity, container, instance role
IAM permissions: iam:ListAccessKeys, iam:CreateAccessKey, iam:DeleteAccessKey;
recommended: iam:GetUser, iam:GetAccessKeyLastUsed. Endpoints: AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_STS. Default --timeout: 180 s.";

#[derive(Debug, Parser)]
#[command(
    name = "rotate-aws-access-key",
    version = common::build_info::VERSION,
    about = "Rotates an IAM user's access key and stores it in the Keeper record (Gateway PAM script)."
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

/// Field labels on the user record.
const KEY_ID: &str = "aws_access_key_id";
const SECRET: &str = "aws_secret_access_key";
const CREATED: &str = "CreateDate";
const REMOVED: &str = "Access_Key_ID_Removed_during_previous_rotation";

/// Settings from the user record.
#[derive(Debug)]
struct Settings {
    delete_all: bool,
    verify: Verify,
}

impl Settings {
    fn read(record: &VaultRecord) -> Result<Self> {
        Ok(Self {
            delete_all: record.flag("delete_all_keys_before_rotating")?,
            verify: Verify::from_record(record)?,
        })
    }
}

/// The region: `aws_region` on the user record, then on an attached record,
/// then `AWS_REGION`, then us-east-1.
fn region(record: &VaultRecord, context: &Context) -> Result<String> {
    if let Some(region) = record.text("aws_region")? {
        return Ok(region);
    }
    for other in context.input.records.others() {
        if let Some(region) = other.text("aws_region")? {
            return Ok(region);
        }
    }
    Ok(std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "us-east-1".into()))
}

/// Rotates the key. Returns the summary line.
pub fn rotate(context: &Context) -> Result<String> {
    let input = &context.input;
    let user = input.require_user()?;
    let user_uid = input.require_user_record_uid()?;

    let mut vault = Vault::open_default(context.deadline)?;
    let record = vault.fetch(user_uid)?;
    let settings = Settings::read(&record)?;
    let stored = record.text(KEY_ID)?;
    let region = region(&record, context)?;
    let admin = admin::resolve(input, &mut vault)?;
    tracing::info!("admin credentials: {}", admin.describe());
    tracing::info!("region: {region}");

    let aws = Aws::connect(&admin, &region, context.deadline)?;
    let user_id = aws.user_id(user)?;
    tracing::info!(
        "IAM user '{user}' (UserId {})",
        user_id.as_deref().unwrap_or("unknown")
    );
    let keys = aws.keys(user, true)?;
    let plan = plan::plan(&keys, stored.as_deref(), settings.delete_all)
        .map_err(|no| Error::Config(format!("IAM user '{user}': {no}")))?;

    if context.dry_run {
        return Ok(describe_plan(
            user,
            &record,
            &keys,
            stored.as_deref(),
            &plan,
            &settings,
        ));
    }

    // 1. Make room.
    let mut removed = Vec::new();
    if let Some((id, reason)) = &plan.make_room {
        tracing::info!("deleting key {id} to make room for the new one: {reason}");
        aws.delete_key(user, id).map_err(|e| {
            Error::Failed(format!(
                "deleting key {id} to make room failed: {e}; nothing was changed"
            ))
        })?;
        removed.push(id.clone());
    }
    let room_note = plan
        .make_room
        .as_ref()
        .map(|(id, _)| format!(" (key {id} had been deleted to make room)"))
        .unwrap_or_default();

    // 2. Create.
    let existing: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
    let new = match aws.create_key(user) {
        Ok(new) => new,
        Err(e) => return Err(creation_failed(&aws, user, &existing, &e, &room_note)),
    };
    tracing::info!("created key {}", new.id);

    // 3. Store at once.
    let changes = [
        Change::text(KEY_ID, &new.id),
        Change::secret(SECRET, &new.secret),
        Change::text(CREATED, &new.created),
    ];
    if let Err(error) = vault.update(user_uid, &changes) {
        return Err(storing_failed(&aws, user, &new, &record, error, &room_note));
    }
    tracing::info!("stored key {} in {}", new.id, record.location());

    // 4. Verify.
    verify(&aws, &new, &settings, context)?;

    // 5. Retire every other key, the record's key last.
    for id in &plan.retire {
        tracing::info!("deleting old key {id}");
        aws.delete_key(user, id).map_err(|e| {
            Error::OldNotRetired(format!(
                "deleting old key {id} failed: {e}. It is still valid; the new key {} is \
                 stored in {} and works. Delete {id} in IAM once nothing uses it, or run the \
                 rotation again",
                new.id,
                record.location()
            ))
        })?;
        removed.push(id.clone());
    }

    // 6. Confirm, and delete keys nobody can use (made by a retried create).
    confirm(&aws, user, &new, &existing)?;

    // 7. Note what went.
    if !removed.is_empty()
        && let Err(e) = vault.update(user_uid, &[Change::text(REMOVED, removed.join(", "))])
    {
        tracing::warn!(
            "the key was rotated, but noting the removed key ids in {REMOVED} failed: {e}"
        );
    }
    Ok(format!(
        "rotated the access key of IAM user '{user}': new key {} stored in {}; removed {}",
        new.id,
        record.location(),
        if removed.is_empty() {
            "none".into()
        } else {
            removed.join(", ")
        }
    ))
}

fn describe_plan(
    user: &str,
    record: &VaultRecord,
    keys: &[plan::Key],
    stored: Option<&str>,
    plan: &plan::Plan,
    settings: &Settings,
) -> String {
    let listed: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{} ({}{}, last used {})",
                k.id,
                if k.active { "Active" } else { "Inactive" },
                if Some(k.id.as_str()) == stored {
                    ", in the record"
                } else {
                    ""
                },
                match (&k.last_used, k.last_used_known) {
                    (Some(date), _) => date.clone(),
                    (None, true) => "never".into(),
                    (None, false) => "unknown".into(),
                }
            )
        })
        .collect();
    let mut text = format!(
        "dry run: IAM user '{user}' has {}. Would ",
        if listed.is_empty() {
            "no keys".into()
        } else {
            format!("keys {}", listed.join(", "))
        }
    );
    if let Some((id, reason)) = &plan.make_room {
        text.push_str(&format!("delete {id} first ({reason}), "));
    }
    text.push_str(&format!(
        "create a new key, store it in {} ({KEY_ID}, {SECRET}, {CREATED}), check it works {} \
         times in a row within {} s",
        record.location(),
        settings.verify.successes,
        settings.verify.timeout.as_secs()
    ));
    if plan.retire.is_empty() {
        text.push('.');
    } else {
        text.push_str(&format!(", then delete {}.", plan.retire.join(", then ")));
    }
    text.push_str(" Nothing was changed.");
    text
}

/// Creating failed: any key that appeared anyway (a create AWS carried out
/// but whose answer was lost, or a retried create) has a secret nobody knows,
/// so it is deleted.
fn creation_failed(
    aws: &Aws,
    user: &str,
    existing: &[String],
    error: &AwsError,
    room_note: &str,
) -> Error {
    let hint = if error.code.as_deref() == Some("LimitExceeded") {
        "; the user already has two keys (IAM's limit)"
    } else {
        ""
    };
    let orphans = match aws.keys(user, false) {
        Ok(now) => now
            .into_iter()
            .map(|k| k.id)
            .filter(|id| !existing.contains(id))
            .collect::<Vec<_>>(),
        Err(list_error) => {
            return Error::NeedsAttention(format!(
                "creating a new key for '{user}' failed ({error}) and listing the keys afterwards \
                 failed too ({list_error}): check in IAM whether a key was created anyway, and \
                 delete it (its secret is unknown){room_note}"
            ));
        }
    };
    for orphan in &orphans {
        if let Err(e) = aws.delete_key(user, orphan) {
            return Error::NeedsAttention(format!(
                "creating a new key for '{user}' failed ({error}); key {orphan} was created anyway \
                 and deleting it failed ({e}): delete it in IAM (its secret is unknown){room_note}"
            ));
        }
        tracing::info!("deleted key {orphan}, created although the call failed");
    }
    Error::Failed(format!(
        "creating a new key for IAM user '{user}' failed: {error}{hint}; the stored key is \
         unchanged{room_note}"
    ))
}

/// Storing failed: the new key must not outlive the failure unknown to the
/// vault, unless the vault may hold it.
fn storing_failed(
    aws: &Aws,
    user: &str,
    new: &NewKey,
    record: &VaultRecord,
    error: Error,
    room_note: &str,
) -> Error {
    if let Error::NoAnswer { .. } = error {
        return Error::NeedsAttention(format!(
            "{error}. The new key {} may be in {}: it and the old key are both valid. Check the \
             record: if it holds {}, delete the old key in IAM; if not, delete {} in IAM{room_note}",
            new.id,
            record.location(),
            new.id,
            new.id
        ));
    }
    match aws.delete_key(user, &new.id) {
        Ok(()) => Error::Failed(format!(
            "storing the new key in {} failed: {error}. The new key {} was deleted again; the \
             stored key is unchanged{room_note}",
            record.location(),
            new.id
        )),
        Err(e) => Error::NeedsAttention(format!(
            "storing the new key in {} failed: {error}, and deleting the new key {} again failed \
             too: {e}. Delete key {} in IAM (its secret is in no record){room_note}",
            record.location(),
            new.id,
            new.id
        )),
    }
}

/// Waits until AWS accepts the new key several times in a row, keeping time
/// for the deletions after it.
fn verify(aws: &Aws, new: &NewKey, settings: &Settings, context: &Context) -> Result<()> {
    let verify = &settings.verify;
    verify
        .until_it_works(&context.deadline, Duration::from_secs(10), || {
            aws.probe(new).map_err(|e| e.to_string())
        })
        .map(|_| ())
        .map_err(|failed| {
            Error::OldNotRetired(format!(
                "the new key {} is stored, but AWS did not accept it {} times in a row within {} s \
                 ({} checks; last: {}). Every old key was kept and is still valid. Run the \
                 rotation again later: it will continue from the stored key",
                new.id,
                verify.successes,
                failed.budget.as_secs(),
                failed.checks,
                failed.last_error
            ))
        })
}

/// Lists again: only the new key may remain. Keys that appeared during the
/// run (a retried create) have secrets nobody knows and are deleted.
fn confirm(aws: &Aws, user: &str, new: &NewKey, existing: &[String]) -> Result<()> {
    let now = common::verify::until_settled(
        4,
        Duration::from_secs(1),
        || aws.keys(user, false),
        |keys| {
            keys.iter()
                .all(|k| k.id == new.id || !existing.contains(&k.id))
        },
    )?;
    if !now.iter().any(|k| k.id == new.id) {
        return Err(Error::NeedsAttention(format!(
            "after the rotation IAM does not list the new key {} for '{user}': check the user's \
             keys in IAM and the record",
            new.id
        )));
    }
    for key in now.iter().filter(|k| k.id != new.id) {
        if existing.contains(&key.id) {
            return Err(Error::OldNotRetired(format!(
                "old key {} is still listed after it was deleted: check it in IAM",
                key.id
            )));
        }
        aws.delete_key(user, &key.id).map_err(|e| {
            Error::OldNotRetired(format!(
                "key {} appeared during the rotation and could not be deleted: {e}; delete it in IAM",
                key.id
            ))
        })?;
        tracing::info!(
            "deleted key {}, created during the run by a retried call",
            mask(&key.id)
        );
    }
    Ok(())
}
