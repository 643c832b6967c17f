//! The admin credentials that rotate the user's key: the first source that
//! applies, logged by name (key ids masked to their last 4 characters).
//!
//! 1. An attached record with `role_arn` and `aws_access_key_id` /
//!    `aws_secret_access_key`: AssumeRole into `role_arn`, signed with those
//!    keys (optional `external_id`).
//! 2. An attached record with `aws_access_key_id` / `aws_secret_access_key`.
//! 3. The PAM configuration's dictionary in `records`, with `accessKeyId` /
//!    `accessSecretKey`.
//! 4. The PAM configuration record fetched from the vault by
//!    `providerRecordUid` (same fields; `USE_INSTANCE_ROLE` means skip).
//! 5. The AWS default credential chain (environment, profile, web identity,
//!    container, IMDSv2 instance role).
//!
//! The user record is never a source: its `aws_access_key_id` is the key
//! being rotated.

use common::error::{Error, Result};
use common::gateway::GatewayInput;
use common::records::Record;
use common::secret::Secret;
use common::vault::Vault;

/// The value of a PAM configuration's key fields meaning "use the instance role".
const USE_INSTANCE_ROLE: &str = "USE_INSTANCE_ROLE";

/// A key pair from a record.
#[derive(Debug, Clone)]
pub struct StaticKey {
    pub id: String,
    pub secret: Secret,
}

/// Where the admin credentials come from.
#[derive(Debug, Clone)]
pub enum Admin {
    AssumeRole {
        from: String,
        key: StaticKey,
        role_arn: String,
        external_id: Option<String>,
    },
    Keys {
        from: String,
        key: StaticKey,
    },
    DefaultChain,
}

impl Admin {
    /// One line for the log: the source, the key id masked.
    pub fn describe(&self) -> String {
        match self {
            Self::AssumeRole {
                from,
                key,
                role_arn,
                external_id,
            } => format!(
                "AssumeRole into {role_arn}{} with key {} from {from}",
                if external_id.is_some() {
                    " (with external id)"
                } else {
                    ""
                },
                mask(&key.id)
            ),
            Self::Keys { from, key } => format!("key {} from {from}", mask(&key.id)),
            Self::DefaultChain => {
                "the AWS default credential chain (environment, profile, web identity, \
                 container or instance role)"
                    .into()
            }
        }
    }
}

/// `AKIA...WXYZ` -> `...WXYZ` (one rule with the harness's reports).
pub use common::log::id_tail as mask;

/// Sources 1 to 3, from the Gateway's input alone (a pure function of it);
/// `None` when none applies.
pub fn from_input(input: &GatewayInput) -> Result<Option<Admin>> {
    let others: Vec<&Record> = input.records.others().collect();

    let with_role: Vec<&&Record> = others.iter().filter(|r| r.has("role_arn")).collect();
    if let Some(record) = single(&with_role, "role_arn")? {
        let key =
            record_key(record, "aws_access_key_id", "aws_secret_access_key")?.ok_or_else(|| {
                Error::Missing {
                    name: "aws_access_key_id".into(),
                    location: record.location(),
                    hint: "; a record with role_arn needs aws_access_key_id and \
                       aws_secret_access_key to sign the AssumeRole call"
                        .into(),
                }
            })?;
        return Ok(Some(Admin::AssumeRole {
            from: record.location().to_string(),
            key,
            role_arn: record.require_text("role_arn")?,
            external_id: record.text("external_id")?,
        }));
    }

    let with_keys: Vec<&&Record> = others
        .iter()
        .filter(|r| r.has("aws_access_key_id") || r.has("aws_secret_access_key"))
        .collect();
    if let Some(record) = single(&with_keys, "aws_access_key_id")? {
        let key = record_key(record, "aws_access_key_id", "aws_secret_access_key")?
            .ok_or_else(|| Error::missing("aws_secret_access_key", record.location()))?;
        return Ok(Some(Admin::Keys {
            from: record.location().to_string(),
            key,
        }));
    }

    // The PAM configuration's dictionary: the provider record first.
    let provider = input.provider_record_uid.as_deref();
    let mut configs: Vec<&&Record> = others.iter().filter(|r| r.has("accessKeyId")).collect();
    configs.sort_by_key(|r| Some(r.uid()) != provider);
    if let Some(record) = configs.first()
        && let Some(key) = record_key(record, "accessKeyId", "accessSecretKey")?
    {
        return Ok(Some(Admin::Keys {
            from: format!("the PAM configuration {}", record.location()),
            key,
        }));
    }
    Ok(None)
}

/// Finds the admin credentials (see the module documentation). `vault` is
/// used only for source 4.
pub fn resolve(input: &GatewayInput, vault: &mut Vault) -> Result<Admin> {
    if let Some(admin) = from_input(input)? {
        return Ok(admin);
    }
    let provider = input.provider_record_uid.as_deref();
    if let Some(uid) = provider {
        match vault.fetch(uid) {
            Ok(record) => {
                let id = record.text("accessKeyId")?;
                let secret = record.secret("accessSecretKey")?;
                if let (Some(id), Some(secret)) = (id, secret)
                    && id != USE_INSTANCE_ROLE
                    && secret.expose() != USE_INSTANCE_ROLE
                {
                    return Ok(Admin::Keys {
                        from: format!("the PAM configuration {} in the vault", record.location()),
                        key: StaticKey { id, secret },
                    });
                }
            }
            Err(Error::Config(reason)) => {
                tracing::info!("no admin key from the PAM configuration record: {reason}");
            }
            Err(other) => return Err(other),
        }
    }
    Ok(Admin::DefaultChain)
}

/// The one record of `records`, `None` when there is none; several are an
/// error naming them.
fn single<'r>(records: &[&&'r Record], what: &str) -> Result<Option<&'r Record>> {
    match records {
        [] => Ok(None),
        [one] => Ok(Some(**one)),
        several => Err(Error::Config(format!(
            "several attached records hold {what}: {}; attach only the admin record",
            several
                .iter()
                .map(|r| r.location().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The key pair under `id_field` / `secret_field`, `None` when both are
/// absent (or say USE_INSTANCE_ROLE); one without the other is an error.
fn record_key(record: &Record, id_field: &str, secret_field: &str) -> Result<Option<StaticKey>> {
    let id = record.text(id_field)?.filter(|v| v != USE_INSTANCE_ROLE);
    let secret = record
        .secret(secret_field)?
        .filter(|v| !v.is_empty() && v.expose() != USE_INSTANCE_ROLE);
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(StaticKey { id, secret })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::missing(secret_field, record.location())),
        (None, Some(_)) => Err(Error::missing(id_field, record.location())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_last_four_characters() {
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "...MPLE");
        assert_eq!(mask("AB"), "...AB");
    }
}
