//! `rotate-aws-access-key`: IAM + STS, seeded from the PAM User's key and the
//! admin credentials the records name; the IAM user's access keys judged as
//! a key set ([`KeySetRotator`]).

use common::log::id_tail;

use super::Rehearsal;
use super::keyset::{Cred, KeySet, KeySetRotator, Words};
use super::world::{Service, Staging};
use crate::fakes::aws::FakeAws;
use crate::faults::{FaultProxy, ProxiedRequest};

/// When the record's key was last used, as IAM reports it (a key in use).
const LAST_USED: &str = "2026-11-01T00:00:00Z";
/// The made-up admin key given to the AWS default chain when the records
/// name no admin credentials.
const CHAIN_KEY_ID: &str = "AKIAREHEARSALCHAIN01";

/// IAM and the user whose keys are rotated.
struct Aws {
    fake: FakeAws,
    iam_user: String,
    /// The made-up admin key for the AWS default chain, when the records
    /// name none.
    chain_env: Vec<(String, String)>,
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
                    id_tail(id.trim()),
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
                id_tail(id.trim()),
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
            id_tail(id.trim()),
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
            id_tail(CHAIN_KEY_ID)
        ));
    }
    Ok(Box::new(KeySet {
        rotator: Aws {
            fake,
            iam_user,
            chain_env,
        },
        user_uid: rehearsal.roles.user.uid.clone(),
        original_id,
        before: seeded_ids
            .iter()
            .map(|id| (id.clone(), id.clone()))
            .collect(),
        keep: 0,
        seeded,
        // Every record but the PAM User (judged on its own: its
        // `Access_Key_ID_Removed_during_previous_rotation` names deleted keys
        // by design) may hold a key of the IAM user.
        holders: rehearsal
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

impl KeySetRotator for Aws {
    type Fake = FakeAws;
    const NAME: &'static str = "aws";
    const WORDS: Words = Words {
        noun: "key",
        plural: "keys",
        secret: "secret",
        retired: "deleted",
        old: "the old key",
        set: "IAM's keys",
        short_set: "IAM keys",
        issuer: "IAM issued",
        id_field: "aws_access_key_id",
        secret_field: "aws_secret_access_key",
        date_field: "CreateDate",
    };
    const OLD_MAY_STAY: bool = false;

    fn fake(&self) -> &FakeAws {
        &self.fake
    }

    fn proxy(&self) -> &FaultProxy {
        self.fake.proxy()
    }

    fn live(&self) -> Vec<Cred> {
        self.fake
            .keys(&self.iam_user)
            .into_iter()
            .map(|k| Cred {
                shown: format!(
                    "{} ({})",
                    k.id,
                    if k.active { "active" } else { "inactive" }
                ),
                id: k.id,
                secret: k.secret,
                works: k.active,
                aliases: Vec::new(),
            })
            .collect()
    }

    fn owner(&self) -> String {
        format!("IAM user '{}'", self.iam_user)
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.fake.env();
        env.extend(self.chain_env.iter().cloned());
        env
    }

    fn issued(&self) -> Vec<String> {
        self.fake.secrets()
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
            .map(|id| format!("signed by {}", id_tail(id)));
        detail.extend(signer);
        detail.join(", ")
    }
}
