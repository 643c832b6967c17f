//! An IAM user's access keys as the replacement sequence's
//! [`Credentials`]: what creating, finding, deleting, probing and listing a
//! key mean in IAM, and which other records must get the new key before an
//! old one is deleted. The order of those steps is [`common::replace`]'s.

use std::time::Duration;

use common::driver::Run;
use common::holders::{self, Retiring, Swap};
use common::replace::{Credentials, Failure, Found, Retirement, Step};
use common::secret::Secret;

use crate::aws::{self, Aws, NewKey};

/// An IAM user's access keys, for the replacement sequence.
pub(crate) struct IamKeys<'a> {
    pub(crate) aws: &'a Aws,
    pub(crate) user: &'a str,
    pub(crate) run: &'a Run,
    pub(crate) user_uid: &'a str,
    pub(crate) retire: &'a [String],
    pub(crate) known: &'a [(String, Secret)],
    /// The admin key's id, when the admin credentials are static keys.
    pub(crate) admin_key: Option<&'a str>,
    /// How the old keys are retired (`retire_old_key`).
    pub(crate) retirement: Retirement,
    /// Keys found gone (NoSuchEntity) when they were to be deactivated:
    /// retired, but not deactivated by this run.
    pub(crate) gone: Vec<String>,
}

impl Credentials for IamKeys<'_> {
    type New = NewKey;

    fn noun(&self) -> &'static str {
        "access key"
    }

    fn holder(&self) -> String {
        format!("IAM user '{}'", self.user)
    }

    fn id(new: &NewKey) -> &str {
        &new.id
    }

    fn create(&mut self) -> Step<NewKey> {
        self.aws.create_key(self.user).map_err(|e| {
            let hint = if e.code.as_deref() == Some("LimitExceeded") {
                " (the user already has two keys, IAM's limit)"
            } else {
                ""
            };
            let failure = e.failure();
            match failure {
                Failure::Definite(text) => Failure::Definite(format!("{text}{hint}")),
                unknown => unknown,
            }
        })
    }

    /// IAM access keys carry no tag, so a key that appeared cannot be shown
    /// to be this run's: it is named, never deleted.
    fn find_created(&mut self, before: &[String]) -> Step<Found> {
        let mut appeared = Vec::new();
        for round in 0..3 {
            if round > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
            appeared = self
                .list()?
                .into_iter()
                .filter(|id| !before.contains(id))
                .collect();
            if !appeared.is_empty() {
                break;
            }
        }
        if appeared.is_empty() {
            Ok(Found::Nothing {
                hint: "that is not in the record (one created in the last minutes)".into(),
            })
        } else {
            Ok(Found::Unproven(appeared))
        }
    }

    /// IAM is eventually consistent: a deleted key can stay listed a few
    /// seconds.
    fn settle(&self) -> (u32, Duration) {
        (6, Duration::from_millis(1500))
    }

    fn revoke(&mut self, id: &str) -> Step<()> {
        self.aws
            .delete_key(self.user, id)
            .map_err(aws::AwsError::failure)
    }

    fn retirement(&self) -> Retirement {
        self.retirement
    }

    /// Deletes the old key, or with `retire_old_key = deactivate` sets it
    /// Inactive (never Active: see [`Aws::deactivate_key`]).
    fn retire(&mut self, id: &str) -> Step<()> {
        match self.retirement {
            Retirement::Revoke => self.revoke(id),
            Retirement::Deactivate => match self.aws.deactivate_key(self.user, id) {
                Ok(gone) => {
                    if gone {
                        tracing::info!("access key {id} is gone already (NoSuchEntity)");
                        self.gone.push(id.to_owned());
                    }
                    Ok(())
                }
                Err(e) => Err(aws::AwsError::failure(e)),
            },
        }
    }

    fn probe(&mut self, new: &NewKey) -> std::result::Result<(), String> {
        self.aws.probe(new).map_err(|e| e.to_string())
    }

    /// Every other record of the input holding a key about to be deleted
    /// (its id or its secret) gets the new key first (see
    /// [`common::holders`]); otherwise every old key is kept.
    fn before_retire(&mut self, new: &NewKey) -> Step<()> {
        let retiring: Vec<Retiring> = self
            .retire
            .iter()
            .filter(|id| **id != new.id)
            .map(|id| Retiring {
                id: Some((id.clone(), new.id.clone())),
                secret: self
                    .known
                    .iter()
                    .find(|(known, _)| known == id)
                    .map(|(_, secret)| Swap::new(secret, &new.secret)),
            })
            .collect();
        // The admin key among those deleted (the IAM user rotates its own
        // key): the PAM configuration may hold it although the input does not
        // show it.
        let admin_retired = self
            .admin_key
            .is_some_and(|admin| self.retire.iter().any(|id| id == admin));
        let also: Vec<&str> = if admin_retired {
            self.run
                .input
                .provider_record_uid
                .as_deref()
                .into_iter()
                .collect()
        } else {
            Vec::new()
        };
        holders::hand_over(self.run, self.user_uid, &also, &retiring, "access key").map(|_| ())
    }

    /// The user's keys; when old keys are deactivated, the Active ones
    /// only: an Inactive key is no valid credential, and the confirmation
    /// must see a deactivated key go as it sees a deleted one go.
    fn list(&mut self) -> Step<Vec<String>> {
        let deactivating = self.retirement == Retirement::Deactivate;
        self.aws
            .keys(self.user, false)
            .map(|keys| {
                keys.into_iter()
                    .filter(|k| k.active || !deactivating)
                    .map(|k| k.id)
                    .collect()
            })
            .map_err(Failure::from_error)
    }
}
