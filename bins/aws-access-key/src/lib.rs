//! rotate-aws-access-key: rotates an IAM user's access key and stores the new
//! key in the PAM User record, as a Keeper Gateway PAM script.
//!
//! What is particular to IAM lives here: where the admin credentials come
//! from, the two-key limit (which key may make room, [`plan`]), and the IAM
//! calls ([`aws`]). The order that keeps a working key stored at every moment
//! (make room, create, store, verify, retire, confirm) is the shared sequence
//! of [`common::replace`], and the run around it (lease, dry run, exit codes)
//! is [`common::driver`]'s.

use std::time::Duration;

use common::driver::{Rotator, Run};
use common::dry_run::Checked;
use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::holders;
use common::replace::{self, Retirement};
use common::secret::Secret;
use common::store::Replacement;
use common::vault::{Change, VaultRecord};
use common::verify::Verify;

pub mod admin;
pub mod aws;
mod keys;
pub mod plan;
mod retirement;

use aws::{Aws, NewKey};
use keys::IamKeys;
// The record field listing the keys this binary deactivated.
use plan::DEACTIVATED_FIELD as DEACTIVATED;
use retirement::{RETIRE, deactivated_ids, deactivated_now, retired_keys, retirement};

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
  retire_old_key           custom, optional: what becomes of the old key (a grace period)
                           once the new one is stored and verified: delete (default)
                           deletes it; deactivate sets it Inactive and keeps it (never made
                           active again by this binary; a later rotation deletes it to make
                           room, and no other key: see deactivated_access_key_ids)
  deactivated_access_key_ids
                           custom text: written with retire_old_key = deactivate: the key
                           ids this binary set Inactive, oldest first; only these are
                           deleted to make room (other Inactive keys are left alone)
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
  rotation_lease           custom text: written: held while a rotation runs (one run at a
                           time per record), cleared at the end; a run that did not
                           complete leaves what is left to retire there for the next

Admin credentials, the first that applies (never the user record):
  1. an attached record with role_arn, aws_access_key_id, aws_secret_access_key
     (and optional external_id): AssumeRole signed with those keys
  2. an attached record with aws_access_key_id and aws_secret_access_key
  3. the PAM configuration's record in the input: accessKeyId, accessSecretKey
  4. the PAM configuration record in the vault (providerRecordUid); USE_INSTANCE_ROLE skips it
  5. the AWS default chain: environment, profile, web identity, container, instance role
IAM permissions: iam:ListAccessKeys, iam:CreateAccessKey, iam:DeleteAccessKey;
iam:UpdateAccessKey with retire_old_key = deactivate; recommended: iam:GetUser,
iam:GetAccessKeyLastUsed. Endpoints: AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_SSO,
AWS_ENDPOINT_URL_SSO_OIDC, endpoint_url and sso_start_url in the AWS config file
(https, or plain http to loopback addresses only). Default --timeout: 180 s.";

/// The rotator.
#[derive(Debug)]
pub struct AwsAccessKey;

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
    retire: Retirement,
    /// With `deactivate`: the keys this binary deactivated, oldest first
    /// ([`DEACTIVATED`]); empty with `delete`.
    deactivated: Vec<String>,
}

impl Settings {
    fn read(record: &VaultRecord) -> Result<Self> {
        let retire = retirement(record)?;
        Ok(Self {
            delete_all: record.flag("delete_all_keys_before_rotating")?,
            verify: Verify::from_record(record)?,
            deactivated: match retire {
                Retirement::Revoke => Vec::new(),
                Retirement::Deactivate => deactivated_ids(record)?,
            },
            retire,
        })
    }

    /// What [`plan::plan`] is told of the retirement: the keys this binary
    /// deactivated, or `None` with `delete`.
    fn deactivating(&self) -> Option<&[String]> {
        (self.retire == Retirement::Deactivate).then_some(self.deactivated.as_slice())
    }
}

/// The key id the record stores, as IAM compares it: without the spaces a
/// paste can leave around it.
fn stored_key_id(record: &VaultRecord) -> Result<Option<String>> {
    Ok(record
        .text(KEY_ID)?
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty()))
}

/// The region: `aws_region` on the user record, then on an attached record,
/// then `AWS_REGION`, then us-east-1.
fn region(record: &VaultRecord, run: &Run) -> Result<String> {
    if let Some(region) = record.text("aws_region")? {
        return Ok(region.trim().to_owned());
    }
    for other in run.input.records.others() {
        if let Some(region) = other.text("aws_region")? {
            return Ok(region);
        }
    }
    Ok(std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "us-east-1".into()))
}

/// What planning found and decided.
#[derive(Debug)]
pub struct Planned<'r> {
    user: &'r str,
    user_uid: &'r str,
    location: Location,
    aws: Aws,
    keys: Vec<plan::Key>,
    stored: Option<String>,
    /// The record's key, when it is to be checked before making room, or
    /// before an interrupted rotation is completed.
    stored_key: Option<NewKey>,
    /// Whether iam:GetUser answered (the dry run says what it read).
    read_user: bool,
    plan: plan::Plan,
    settings: Settings,
    /// The secrets this run knows, by key id: the record's and the admin
    /// key's. A record holding a key being deleted gets the new key in its
    /// place first; this is how its secret field is found.
    known: Vec<(String, Secret)>,
    admin_key: Option<String>,
}

impl Rotator for AwsAccessKey {
    const NAME: &'static str = "rotate-aws-access-key";
    const ABOUT: &'static str = "Rotates an IAM user's access key and stores it in the Keeper \
                                 record (Gateway PAM script).";
    const FIELDS: &'static str = FIELDS;
    const DEFAULT_TIMEOUT: u64 = 180;
    const LEASE: bool = true;

    fn check_input(input: &GatewayInput) -> Result<()> {
        input.require_user()?;
        input.require_user_record_uid()?;
        admin::from_input(input).map(|_| ())
    }

    type Plan<'r> = Planned<'r>;

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let input = &run.input;
        let user = input.require_user()?;
        let user_uid = input.require_user_record_uid()?;
        let record = run.user_record()?;
        let mut settings = Settings::read(&record)?;
        let stored = stored_key_id(&record)?;
        let region = region(&record, run)?;
        let admin = admin::resolve(input, &mut *run.vault()?)?;
        tracing::info!("admin credentials: {}", admin.describe());
        let mut known = Vec::new();
        if let (Some(id), Some(secret)) = (stored.clone(), record.secret(SECRET)?) {
            known.push((id, secret));
        }
        let mut admin_key = None;
        if let admin::Admin::Keys { key, .. } | admin::Admin::AssumeRole { key, .. } = &admin {
            known.push((key.id.trim().to_owned(), key.secret.clone()));
            admin_key = Some(key.id.trim().to_owned());
        }
        tracing::info!("region: {region}");

        let aws = Aws::connect(&admin, &region, run.deadline)?;
        let user_id = aws.user_id(user)?;
        tracing::info!(
            "IAM user '{user}' (UserId {})",
            user_id.as_deref().unwrap_or("unknown")
        );
        let keys = aws.keys(user, true)?;
        let (interrupted, promised) = run
            .interrupted()
            .map(|i| {
                (
                    i.retirable(stored.as_deref()).to_vec(),
                    i.progress.retirement,
                )
            })
            .unwrap_or_default();
        let plan = plan::plan(
            &keys,
            stored.as_deref(),
            settings.delete_all,
            std::time::SystemTime::now(),
            (&interrupted, promised),
            settings.deactivating(),
        )
        .map_err(|no| Error::Config(format!("IAM user '{user}': {no}")))?;
        if plan.complete {
            // The interrupted run meant to deactivate (or the record says
            // so): its keys keep the grace they were promised, whatever the
            // record says now, and are noted in DEACTIVATED.
            settings.retire = Retirement::Deactivate;
            if settings.deactivated.is_empty() {
                settings.deactivated = deactivated_ids(&record).unwrap_or_default();
            }
        }
        // The key this run signs with is never deleted to make room: the
        // records that hold it (the PAM configuration, an admin record the
        // Gateway sent with only its title) have not been given the new key
        // yet, so the Gateway's own AWS credential would die with it.
        if let Some(id) = signing_key_deleted_to_make_room(&plan, admin_key.as_deref()) {
            return Err(Error::Config(format!(
                "IAM user '{user}': key {id} would be deleted to make room, but it is the admin \
                 key this run signs with; nothing was changed. Delete another key of the user \
                 by hand, or rotate with another admin key"
            )));
        }
        // A key deleted to make room is gone before the new one exists: no
        // record can be given the new key first, so one another record of
        // the input holds is never deleted that way.
        if let Some((id, why)) = &plan.make_room {
            let held = holders::shown_in_input(input, user_uid, &[id.as_str()]);
            if !held.is_empty() {
                return Err(Error::Config(format!(
                    "IAM user '{user}': key {id} would be deleted to make room ({why}), but {} \
                     holds it, and would stop working before a new key exists; nothing was \
                     changed. Delete an unused key of the user by hand, or stop that record \
                     holding key {id}",
                    held.iter()
                        .map(|r| r.location().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        // Before a key an interrupted rotation meant to delete goes, or
        // the rotation it began is completed, the key it stored instead must
        // work (that run never got to check it).
        let completing =
            plan.complete || matches!(&plan.make_room, Some((_, plan::Reason::Interrupted)));
        let stored_key = if completing {
            Some(NewKey {
                id: stored.clone().unwrap_or_default(),
                secret: record.secret(SECRET)?.ok_or_else(|| {
                    Error::Config(format!(
                        "{} holds access key {} without its secret ({SECRET} is empty); nothing \
                         was changed",
                        record.location(),
                        stored.as_deref().unwrap_or_default()
                    ))
                })?,
                created: String::new(),
            })
        } else {
            None
        };
        Ok(Planned {
            user,
            user_uid,
            location: record.location(),
            aws,
            keys,
            stored,
            stored_key,
            plan,
            settings,
            known,
            admin_key,
            read_user: user_id.is_some(),
        })
    }

    fn checked(p: &Planned<'_>, _run: &Run) -> Checked {
        let checked = Checked::input()
            .did("the user record and the admin credentials in the vault")
            .did(if p.read_user {
                "the admin credentials and the IAM user, with GetUser and ListAccessKeys"
            } else {
                "the admin credentials and the IAM user's keys, with ListAccessKeys (GetUser was \
                 refused: the user's id was not read)"
            })
            .not("that the admin may create and delete the user's access keys");
        match p.settings.retire {
            Retirement::Revoke => checked,
            Retirement::Deactivate => checked.not(
                "that the admin may set the user's access keys Inactive (iam:UpdateAccessKey)",
            ),
        }
        .not("that the vault accepts the save")
    }

    fn describe(planned: &Planned<'_>, _run: &Run) -> String {
        describe_plan(planned)
    }

    fn apply(planned: Planned<'_>, run: &Run) -> Result<String> {
        let Planned {
            user,
            user_uid,
            location,
            aws,
            keys,
            plan,
            settings,
            known,
            admin_key,
            stored_key,
            ..
        } = planned;
        if let (Some(key), Some((old, _))) = (&stored_key, &plan.make_room) {
            check_interrupted(
                &aws,
                key,
                &format!("delete {old}"),
                &settings,
                run,
                &location,
            )?;
        }
        if let (Some(key), true) = (&stored_key, plan.complete) {
            let meant = format!("deactivate {}", plan.retire.join(", "));
            check_interrupted(&aws, key, &meant, &settings, run, &location)?;
        }
        let sequence = replace::Plan {
            before: keys.iter().map(|k| k.id.clone()).collect(),
            make_room: plan
                .make_room
                .as_ref()
                .map(|(id, why)| (id.clone(), why.to_string())),
            retire: retired_keys(&plan, &keys, settings.retire),
        };
        let mut iam = IamKeys {
            aws: &aws,
            user,
            run,
            user_uid,
            retire: &sequence.retire,
            known: &known,
            admin_key: admin_key.as_deref(),
            retirement: settings.retire,
            gone: Vec::new(),
        };
        let replacement = Replacement {
            record_uid: user_uid,
            location: location.clone(),
            plan: &sequence,
            verify: &settings.verify,
            reserve: Duration::from_secs(10),
            fields,
            stored_id: stored_key_id,
        };
        let (new, replaced) = match (&stored_key, plan.complete) {
            (Some(key), true) => {
                tracing::info!(
                    "completing the rotation an interrupted run began: it stored access key {} \
                     and meant to deactivate {}; no key is deleted or created in this run",
                    key.id,
                    plan.retire.join(", ")
                );
                let done = run.complete(&mut iam, replacement, key)?;
                (done.new, (done.removed, done.deactivated))
            }
            _ => {
                let done = run.replace(&mut iam, replacement)?;
                (done.new.id, (done.removed, done.deactivated))
            }
        };
        let (removed, deactivated) = replaced;
        // Found gone when it was to be deactivated: neither deactivated by
        // this run nor ever to be deleted as ours.
        let gone = iam.gone;
        let deactivated: Vec<String> = deactivated
            .into_iter()
            .filter(|id| !gone.contains(id))
            .collect();
        // Deleted keys only: a deactivated key is still there, Inactive.
        let deleted: Vec<String> = removed
            .iter()
            .filter(|id| !deactivated.contains(id) && !gone.contains(id))
            .cloned()
            .collect();
        let mut note: Vec<Change> = Vec::new();
        if !deleted.is_empty() {
            note.push(Change::text(REMOVED, deleted.join(", ")));
        }
        let ours = (settings.retire == Retirement::Deactivate)
            .then(|| deactivated_now(&settings.deactivated, &plan, &keys, &deleted, &deactivated));
        if let Some(ours) = &ours {
            note.push(Change::text(DEACTIVATED, ours.join(", ")));
        }
        if let Err(e) = run.finish(&note) {
            let ours = ours.filter(|o| !o.is_empty());
            let warning = format!(
                "the key was rotated, but noting the removed key ids in {REMOVED}{} failed: {e}",
                match &ours {
                    Some(ours) => format!(
                        " and the deactivated ones ({}) in {DEACTIVATED}: unless that save \
                         landed after all, the rotation lease keeps them as still to \
                         deactivate, and the next rotation, finding them Inactive, notes them \
                         there",
                        ours.join(", ")
                    ),
                    None => String::new(),
                }
            );
            // The lease is released with the keys this run deactivated as
            // still to deactivate: the next run finds them Inactive and
            // notes them in DEACTIVATED (else it would refuse to make room
            // with a key it deactivated, never having noted it).
            if let Some(ours) = ours {
                run.keep_progress(common::lease::Progress {
                    stored: new.clone(),
                    retiring: ours,
                    retirement: Retirement::Deactivate,
                });
            }
            tracing::warn!("{warning}");
            common::summary::advise(&warning);
        }
        let gone_note = if gone.is_empty() {
            String::new()
        } else {
            format!(
                "; {} gone already (not deactivated by this run)",
                gone.join(", ")
            )
        };
        if plan.complete {
            let already: Vec<String> = plan
                .retire
                .iter()
                .filter(|id| keys.iter().any(|k| &k.id == *id && !k.active))
                .cloned()
                .collect();
            let mut did: Vec<String> = Vec::new();
            if !deactivated.is_empty() {
                did.push(format!(
                    "deactivated {} (Inactive, kept until a later rotation needs room)",
                    deactivated.join(", ")
                ));
            }
            if !already.is_empty() {
                did.push(format!(
                    "{} already Inactive before this run (nothing sent; noted in {DEACTIVATED})",
                    already.join(", ")
                ));
            }
            return Ok(format!(
                "completed the rotation of IAM user '{user}' that an interrupted run began: key \
                 {new}, which it stored in {location}, works; {}{gone_note}. No new key was \
                 created: the old key keeps its grace period and IAM's limit of two keys; the \
                 next rotation creates one",
                if did.is_empty() {
                    "no key was deactivated".to_owned()
                } else {
                    did.join("; ")
                }
            ));
        }
        let done = format!(
            "rotated the access key of IAM user '{user}': new key {new} stored in {location}"
        );
        if settings.retire == Retirement::Deactivate {
            return Ok(format!(
                "{done}; deactivated {} (Inactive, kept until a later rotation needs room); \
                 deleted {}{gone_note}",
                list_or_none(&deactivated),
                list_or_none(&deleted)
            ));
        }
        Ok(format!("{done}; removed {}", list_or_none(&removed)))
    }
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

/// The key deleted to make room, when it is the admin key this run signs
/// with (a self-rotation, interrupted or not).
fn signing_key_deleted_to_make_room<'p>(
    plan: &'p plan::Plan,
    admin_key: Option<&str>,
) -> Option<&'p str> {
    let (id, _) = plan.make_room.as_ref()?;
    (Some(id.as_str()) == admin_key).then_some(id.as_str())
}

/// The key an interrupted rotation stored must work before the key it
/// replaced is deleted to make room: checked like a new key.
fn check_interrupted(
    aws: &Aws,
    key: &NewKey,
    meant: &str,
    settings: &Settings,
    run: &Run,
    location: &Location,
) -> Result<()> {
    tracing::info!(
        "checking access key {} (stored by an interrupted rotation, which meant to {meant})",
        key.id
    );
    settings
        .verify
        .until_it_works(&run.deadline, Duration::from_secs(30), || {
            aws.probe(key).map_err(|e| e.to_string())
        })
        .map_err(|failed| {
            Error::NeedsAttention(format!(
                "an interrupted rotation stored access key {} in {location} and meant to \
                 {meant}, but {} does not work ({} checks within {} s; last: {}). Nothing was \
                 changed: both keys are still valid. Check which key the consumers use",
                key.id,
                key.id,
                failed.checks,
                failed.budget.as_secs(),
                failed.last_error
            ))
        })
        .map(|_| ())
}

/// What the record stores for a new key.
fn fields(new: &NewKey) -> Vec<Change> {
    vec![
        Change::text(KEY_ID, &new.id),
        Change::secret(SECRET, &new.secret),
        Change::text(CREATED, &new.created),
    ]
}

fn describe_plan(planned: &Planned<'_>) -> String {
    let stored = planned.stored.as_deref();
    let listed: Vec<String> = planned
        .keys
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
        "IAM user '{}' has {}. Would ",
        planned.user,
        if listed.is_empty() {
            "no keys".into()
        } else {
            format!("keys {}", listed.join(", "))
        }
    );
    if planned.plan.complete {
        let retire = retired_keys(&planned.plan, &planned.keys, planned.settings.retire);
        text.push_str(&format!(
            "complete the rotation an interrupted run began: check that {} (which it stored in \
             {}) works {} times in a row within {} s, then {}; no key would be deleted or \
             created.",
            stored.unwrap_or_default(),
            planned.location,
            planned.settings.verify.successes,
            planned.settings.verify.timeout.as_secs(),
            if retire.is_empty() {
                format!(
                    "note {} (already Inactive) in {DEACTIVATED}",
                    planned.plan.retire.join(", ")
                )
            } else {
                format!(
                    "deactivate {} ({RETIRE} = deactivate: set Inactive and kept)",
                    retire.join(", then ")
                )
            }
        ));
        return text;
    }
    if let Some((id, reason)) = &planned.plan.make_room {
        text.push_str(&format!("delete {id} first ({reason}), "));
    }
    text.push_str(&format!(
        "create a new key, store it in {} ({KEY_ID}, {SECRET}, {CREATED}), check it works {} \
         times in a row within {} s",
        planned.location,
        planned.settings.verify.successes,
        planned.settings.verify.timeout.as_secs()
    ));
    let retire = retired_keys(&planned.plan, &planned.keys, planned.settings.retire);
    if retire.is_empty() {
        text.push('.');
    } else if planned.settings.retire == Retirement::Deactivate {
        text.push_str(&format!(
            ", then deactivate {} ({RETIRE} = deactivate: set Inactive and kept).",
            retire.join(", then ")
        ));
    } else {
        text.push_str(&format!(", then delete {}.", retire.join(", then ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str) -> plan::Plan {
        plan::Plan {
            make_room: Some((id.into(), plan::Reason::Interrupted)),
            retire: vec!["NEW".into()],
            complete: false,
        }
    }

    #[test]
    fn the_admin_key_this_run_signs_with_is_never_deleted_to_make_room() {
        assert_eq!(
            signing_key_deleted_to_make_room(&room("ADMINKEY"), Some("ADMINKEY")),
            Some("ADMINKEY")
        );
    }

    #[test]
    fn another_key_may_be_deleted_to_make_room() {
        assert_eq!(
            signing_key_deleted_to_make_room(&room("OLD"), Some("ADMINKEY")),
            None
        );
        assert_eq!(signing_key_deleted_to_make_room(&room("OLD"), None), None);
    }
}
