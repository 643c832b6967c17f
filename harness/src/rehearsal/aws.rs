//! `rotate-aws-access-key`: IAM + STS, seeded from the PAM User's key and the
//! admin credentials the records name.

use super::Rehearsal;
use super::azure::holds_text;
use super::world::{Call, Service, Staging, last4, named, proxied_calls};
use crate::fakes::aws::FakeAws;
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, ProxiedRequest};
use crate::runner::Outcome;

/// When the record's key was last used, as IAM reports it (a key in use).
const LAST_USED: &str = "2026-11-01T00:00:00Z";
/// The made-up admin key given to the AWS default chain when the records
/// name no admin credentials.
const CHAIN_KEY_ID: &str = "AKIAREHEARSALCHAIN01";

struct Aws {
    fake: FakeAws,
    iam_user: String,
    user_uid: String,
    /// The key id the record held before the run (empty: none).
    original_id: String,
    /// The ids of the keys IAM had before the run.
    seeded_ids: Vec<String>,
    seeded: Vec<String>,
    chain_env: Vec<(String, String)>,
    /// Every record in the vault but the PAM User (judged on its own; its
    /// `Access_Key_ID_Removed_during_previous_rotation` names deleted keys by
    /// design): (uid, title). Any of them may hold a key of the IAM user.
    records: Vec<(String, String)>,
}

/// Seeds IAM: the user named by the PAM User's login, with the key its
/// record holds; every admin key the records hold (an attached record with
/// `aws_access_key_id`/`aws_secret_access_key`, with `role_arn` as a role
/// those keys may assume; the PAM configuration's `accessKeyId`/
/// `accessSecretKey` unless `USE_INSTANCE_ROLE`). With none, the default
/// chain gets a made-up admin key in `AWS_ACCESS_KEY_ID`.
pub fn start(rehearsal: &Rehearsal, staging: &mut Staging) -> Result<Box<dyn Service>, String> {
    let mut fake = FakeAws::start();
    let mut seeded = Vec::new();
    let user_record = rehearsal.user_record();
    let iam_user = staging.param("user");
    let original_id = user_record
        .and_then(|r| r.text("aws_access_key_id"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut seeded_ids = Vec::new();
    if iam_user.is_empty() {
        seeded.push("no IAM user: the PAM User has no login".into());
    } else {
        fake = fake.with_user(&iam_user);
        if original_id.is_empty() {
            seeded.push(format!(
                "IAM user '{iam_user}' with no access key (the record holds none)"
            ));
        } else {
            let secret = user_record
                .and_then(|r| r.text("aws_secret_access_key"))
                .unwrap_or_else(|| {
                    staging.notes.push(
                        "the PAM User holds a key id but no aws_secret_access_key: IAM gets a \
                         made-up secret for it"
                            .into(),
                    );
                    format!("made-up-secret-for-{original_id}")
                });
            fake = fake.with_key(&iam_user, &original_id, &secret, true, Some(LAST_USED));
            seeded_ids.push(original_id.clone());
            seeded.push(format!(
                "IAM user '{iam_user}' with access key {original_id} (active, last used \
                 {LAST_USED}; id and secret from the PAM User)"
            ));
        }
    }
    let mut admins = 0;
    for record in rehearsal.attached_records() {
        let (Some(id), Some(secret)) = (
            record.text("aws_access_key_id"),
            record.text("aws_secret_access_key"),
        ) else {
            continue;
        };
        fake = fake.with_admin(id.trim(), &secret);
        admins += 1;
        match record.text("role_arn") {
            Some(arn) => {
                let external = record.text("external_id");
                fake = fake.with_role(arn.trim(), external.as_deref());
                seeded.push(format!(
                    "admin key {} from '{}', which may assume {}{}",
                    last4(id.trim()),
                    record.title,
                    arn.trim(),
                    if external.is_some() {
                        " (with its external id)"
                    } else {
                        ""
                    }
                ));
            }
            None => seeded.push(format!(
                "admin key {} from '{}'",
                last4(id.trim()),
                record.title
            )),
        }
    }
    if let Some(config) = rehearsal.config_record()
        && let (Some(id), Some(secret)) =
            (config.text("accessKeyId"), config.text("accessSecretKey"))
        && id.trim() != "USE_INSTANCE_ROLE"
    {
        fake = fake.with_admin(id.trim(), &secret);
        admins += 1;
        seeded.push(format!(
            "admin key {} from the PAM configuration '{}'",
            last4(id.trim()),
            config.title
        ));
    }
    let mut chain_env = Vec::new();
    if admins == 0 {
        let secret = format!("rehearsal-chain-secret-{}", rand_suffix());
        fake = fake.with_admin(CHAIN_KEY_ID, &secret);
        chain_env = vec![
            ("AWS_ACCESS_KEY_ID".into(), CHAIN_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), secret),
        ];
        seeded.push(format!(
            "admin key {} for the AWS default chain (made up: the records name no admin \
             credentials, so the binary falls back to the chain; here, AWS_ACCESS_KEY_ID)",
            last4(CHAIN_KEY_ID)
        ));
    }
    Ok(Box::new(Aws {
        fake,
        iam_user,
        user_uid: rehearsal.roles.user.uid.clone(),
        original_id,
        seeded_ids,
        seeded,
        chain_env,
        records: rehearsal
            .records
            .iter()
            .filter(|r| r.uid != rehearsal.roles.user.uid)
            .map(|r| (r.uid.clone(), r.title.clone()))
            .collect(),
    }))
}

fn rand_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

impl Aws {
    fn stored(&self, vault: &FakeVault) -> (String, String) {
        (
            vault
                .field(&self.user_uid, "aws_access_key_id")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            vault
                .field(&self.user_uid, "aws_secret_access_key")
                .unwrap_or_default(),
        )
    }

    fn live_ids(&self) -> Vec<String> {
        self.fake
            .keys(&self.iam_user)
            .into_iter()
            .map(|k| k.id)
            .collect()
    }
}

fn ids(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A request, for the report (masked by the caller).
fn describe(request: &ProxiedRequest) -> String {
    let mut detail = Vec::new();
    for name in ["UserName", "AccessKeyId", "Status", "RoleArn"] {
        if let Some(value) = request.param(name) {
            detail.push(format!("{name} {value}"));
        }
    }
    let signer = request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .map(|id| format!("signed by {}", last4(id)));
    detail.extend(signer);
    detail.join(", ")
}

impl Service for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn calls(&self) -> Vec<Call> {
        proxied_calls(self.fake.proxy(), describe)
    }

    fn armable(&self) -> &dyn Armable {
        &self.fake
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.fake.env();
        env.extend(self.chain_env.iter().cloned());
        env
    }

    fn issued(&self) -> Vec<String> {
        self.fake.secrets()
    }

    fn seeded(&self) -> Vec<String> {
        self.seeded.clone()
    }

    /// As the conformance suite: the vault holds a live key with its secret
    /// (unless the record held none and still holds none); every other live
    /// key is named in the output; exit 0 leaves one key, a new one; 1 and 2
    /// leave the keys and the record as they were; 3 has the new key stored.
    fn verdict(&self, vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        let live = self.fake.keys(&self.iam_user);
        let live_ids = || ids(&live.iter().map(|k| k.id.clone()).collect::<Vec<_>>());
        let (stored_id, stored_secret) = self.stored(vault);
        let works = live
            .iter()
            .any(|k| k.id == stored_id && k.secret == stored_secret && k.active);
        if !(works || (stored_id.is_empty() && self.original_id.is_empty())) {
            return Err(format!(
                "the vault holds {}, which is not a live key with that secret (live: {})",
                if stored_id.is_empty() {
                    "no key"
                } else {
                    &stored_id
                },
                live_ids()
            ));
        }
        for key in &live {
            if key.id != stored_id && !named(out, &key.id) {
                return Err(format!(
                    "key {} is live, not in the vault, and not named in the output",
                    key.id
                ));
            }
        }
        // No other record may be left holding a key that was deleted: the
        // binary gives each holder the new key first, or keeps the old one.
        for id in &self.seeded_ids {
            if live.iter().any(|k| &k.id == id) {
                continue;
            }
            for (uid, title) in &self.records {
                if vault.record(uid).is_some_and(|r| holds_text(&r, id)) {
                    return Err(format!(
                        "the record '{title}' ({uid}) still holds key {id}, which was deleted"
                    ));
                }
            }
        }
        let unchanged = stored_id == self.original_id
            && sorted(live.iter().map(|k| k.id.clone()).collect())
                == sorted(self.seeded_ids.clone());
        match out.code {
            Some(0) if live.len() != 1 || stored_id == self.original_id => Err(format!(
                "exit 0 but the keys are {} and the vault holds {stored_id}",
                live_ids()
            )),
            Some(1 | 2) if !unchanged => Err(format!(
                "exit 1/2 (nothing changed) but the keys are {} and the vault holds {stored_id}",
                live_ids()
            )),
            Some(3) if stored_id == self.original_id => {
                Err("exit 3 but the vault still holds the old key".into())
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
                "IAM's keys changed: {} before, {} now",
                ids(&self.seeded_ids),
                ids(&live)
            ))
        }
    }

    fn end_state(&self, vault: &FakeVault) -> Vec<String> {
        let live = self.fake.keys(&self.iam_user);
        let (stored_id, stored_secret) = self.stored(vault);
        let keys: Vec<String> = live
            .iter()
            .map(|k| {
                format!(
                    "{} ({})",
                    k.id,
                    if k.active { "active" } else { "inactive" }
                )
            })
            .collect();
        let works = live
            .iter()
            .any(|k| k.id == stored_id && k.secret == stored_secret && k.active);
        vec![
            format!("IAM user '{}' has the keys: {}", self.iam_user, ids(&keys)),
            format!(
                "the vault record now holds aws_access_key_id {}, aws_secret_access_key ********, \
                 CreateDate {}",
                if stored_id.is_empty() {
                    "(empty)"
                } else {
                    &stored_id
                },
                vault
                    .field(&self.user_uid, "CreateDate")
                    .unwrap_or_else(|| "(empty)".into())
            ),
            format!(
                "the stored secret is the one IAM issued for {}: {}",
                if stored_id.is_empty() {
                    "(no key)"
                } else {
                    &stored_id
                },
                if works { "yes" } else { "no" }
            ),
        ]
    }

    fn state_line(&self, vault: &FakeVault) -> String {
        let live = self.live_ids();
        let (stored_id, stored_secret) = self.stored(vault);
        let works = self
            .fake
            .keys(&self.iam_user)
            .iter()
            .any(|k| k.id == stored_id && k.secret == stored_secret && k.active);
        format!(
            "IAM keys {}; vault holds {} ({})",
            ids(&live),
            if stored_id.is_empty() {
                "no key"
            } else {
                &stored_id
            },
            if works { "works" } else { "does not work" }
        )
    }
}
