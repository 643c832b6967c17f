//! IAM and STS through the official AWS SDK, as blocking calls bounded by the
//! run's deadline. The async runtime lives here; the vault is only ever
//! called outside it.
//!
//! Endpoints come from the standard `AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_IAM` and `AWS_ENDPOINT_URL_STS`, which the SDK reads
//! itself; regions pick the partition (aws, aws-us-gov, aws-cn).

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use common::deadline::Deadline;
use common::error::{Error, Location, Result};
use common::http;
use common::secret::Secret;

use crate::admin::{Admin, StaticKey, mask};
use crate::plan::Key;

/// A key IAM just created. The secret exists only here and, once stored, in
/// the vault.
#[derive(Debug)]
pub struct NewKey {
    pub id: String,
    pub secret: Secret,
    pub created: String,
}

/// What a failed AWS call was: a service error code, or no answer.
#[derive(Debug)]
pub struct AwsError {
    pub code: Option<String>,
    pub text: String,
    /// The request may have reached AWS (a timeout, a dropped connection).
    pub maybe_sent: bool,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Characters of the SDK's own error chain shown in a message.
const CHAIN_CHARS: usize = 400;

/// A failed call as a message. The service's `Code` and `Message` (which the
/// SDK parsed from the error XML) and the SDK's error chain are server- or
/// dependency-supplied text: each goes through [`http::shown`] (one line,
/// redacted, capped). Nothing else of the answer is shown.
fn describe<E, R>(error: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let chain = || http::shown_capped(&DisplayErrorContext(error).to_string(), CHAIN_CHARS);
    match error {
        SdkError::ServiceError(_) => {
            let code = error.code().map(str::to_owned);
            let text = format!(
                "{}: {}",
                error.code().map_or_else(|| "error".into(), http::shown),
                error
                    .message()
                    .map_or_else(|| "no message".into(), http::shown)
            );
            AwsError {
                code,
                text,
                maybe_sent: false,
            }
        }
        SdkError::ConstructionFailure(_) => AwsError {
            code: None,
            text: format!("the request could not be built: {}", chain()),
            maybe_sent: false,
        },
        SdkError::DispatchFailure(failure) => AwsError {
            code: None,
            text: format!("no answer: {}", chain()),
            maybe_sent: !failure.is_io() || failure.is_timeout(),
        },
        _ => AwsError {
            code: None,
            text: format!("no answer: {}", chain()),
            maybe_sent: true,
        },
    }
}

/// The endpoint overrides the SDK reads from the environment.
pub const ENDPOINT_VARIABLES: [&str; 3] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IAM",
    "AWS_ENDPOINT_URL_STS",
];

/// Refuses an endpoint override that would send keys in cleartext across a
/// network: each of [`ENDPOINT_VARIABLES`] that is set must be https, or
/// plain http to a loopback host (the fakes). The SDK would follow it as it
/// is, and CreateAccessKey's answer holds the new secret access key.
pub fn check_endpoint_overrides() -> Result<()> {
    for variable in ENDPOINT_VARIABLES {
        match std::env::var(variable) {
            Ok(value) if !value.trim().is_empty() => {
                http::require_https(&value, variable, &Location::Environment)?;
            }
            Ok(_) | Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::invalid(
                    variable,
                    Location::Environment,
                    "not valid text",
                ));
            }
        }
    }
    Ok(())
}

/// IAM and STS for one run.
pub struct Aws {
    runtime: tokio::runtime::Runtime,
    base: SdkConfig,
    iam: aws_sdk_iam::Client,
    deadline: Deadline,
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws").finish_non_exhaustive()
    }
}

fn credentials(key: &StaticKey, source: &'static str) -> Credentials {
    Credentials::new(
        key.id.clone(),
        key.secret.expose().to_owned(),
        None,
        None,
        source,
    )
}

impl Aws {
    /// Builds the clients for `admin` in `region` (assuming the role first,
    /// for an AssumeRole source).
    pub fn connect(admin: &Admin, region: &str, deadline: Deadline) -> Result<Self> {
        check_endpoint_overrides()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(20))
            .build();
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .timeout_config(timeouts);
        let mut aws = match admin {
            Admin::DefaultChain => {
                let base = runtime.block_on(loader.load());
                Self::with(runtime, base, deadline)
            }
            Admin::Keys { key, .. } => {
                let loader = loader.credentials_provider(credentials(key, "keeper-record"));
                let base = runtime.block_on(loader.load());
                Self::with(runtime, base, deadline)
            }
            Admin::AssumeRole { key, .. } => {
                let loader = loader.credentials_provider(credentials(key, "keeper-record"));
                let base = runtime.block_on(loader.load());
                Self::with(runtime, base, deadline)
            }
        };
        if let Admin::AssumeRole {
            role_arn,
            external_id,
            from,
            key,
        } = admin
        {
            let sts = aws_sdk_sts::Client::new(&aws.base);
            let answer = aws
                .call(
                    sts.assume_role()
                        .role_arn(role_arn)
                        .role_session_name("keeper-rotators")
                        .set_external_id(external_id.clone())
                        .send(),
                )?
                .map_err(|e| {
                    let e = describe(&e);
                    Error::Failed(format!(
                        "AssumeRole into {role_arn} with key {} from {from} failed: {e}",
                        mask(&key.id)
                    ))
                })?;
            let Some(temporary) = answer.credentials else {
                return Err(Error::Failed(format!(
                    "AssumeRole into {role_arn} returned no credentials"
                )));
            };
            let session = Credentials::new(
                temporary.access_key_id,
                temporary.secret_access_key,
                Some(temporary.session_token),
                None,
                "assume-role",
            );
            let base = aws
                .base
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(session))
                .build();
            aws.iam = aws_sdk_iam::Client::new(&base);
            aws.base = base;
        }
        Ok(aws)
    }

    fn with(runtime: tokio::runtime::Runtime, base: SdkConfig, deadline: Deadline) -> Self {
        let iam = aws_sdk_iam::Client::new(&base);
        Self {
            runtime,
            base,
            iam,
            deadline,
        }
    }

    /// Runs one SDK call, cut to the run's deadline.
    fn call<F: Future>(&self, future: F) -> Result<F::Output> {
        let remaining = self.deadline.remaining();
        self.runtime
            .block_on(async { tokio::time::timeout(remaining, future).await })
            .map_err(|_| Error::Deadline {
                target: "AWS".into(),
                seconds: self.deadline.limit_secs(),
                detail: String::new(),
            })
    }

    /// The user's immutable UserId; `None` (with a warning) when the admin
    /// may not call iam:GetUser. A missing user is bad input.
    pub fn user_id(&self, user: &str) -> Result<Option<String>> {
        match self.call(self.iam.get_user().user_name(user).send())? {
            Ok(answer) => Ok(answer.user.map(|u| u.user_id)),
            Err(e) => {
                let e = describe(&e);
                match e.code.as_deref() {
                    Some("NoSuchEntity") => Err(Error::Config(format!(
                        "the IAM user '{user}' does not exist (the PAM User record's login)"
                    ))),
                    Some("AccessDenied") => {
                        tracing::warn!(
                            "cannot read the IAM user's id (iam:GetUser is not allowed): {e}"
                        );
                        Ok(None)
                    }
                    _ => Err(Error::Failed(format!(
                        "reading the IAM user '{user}' failed: {e}"
                    ))),
                }
            }
        }
    }

    /// The user's keys, with their last use when iam:GetAccessKeyLastUsed
    /// is allowed.
    pub fn keys(&self, user: &str, with_last_use: bool) -> Result<Vec<Key>> {
        let answer = self
            .call(self.iam.list_access_keys().user_name(user).send())?
            .map_err(|e| {
                let e = describe(&e);
                Error::Failed(format!("listing the access keys of '{user}' failed: {e}"))
            })?;
        let mut keys = Vec::new();
        for meta in answer.access_key_metadata {
            let Some(id) = meta.access_key_id else {
                continue;
            };
            let active = meta.status.is_some_and(|s| s.as_str() == "Active");
            let (last_used, known) = if with_last_use {
                self.last_used(&id)?
            } else {
                (None, false)
            };
            keys.push(Key {
                id,
                active,
                last_used,
                last_used_known: known,
            });
        }
        Ok(keys)
    }

    fn last_used(&self, id: &str) -> Result<(Option<String>, bool)> {
        match self.call(self.iam.get_access_key_last_used().access_key_id(id).send())? {
            Ok(answer) => Ok((
                answer
                    .access_key_last_used
                    .and_then(|u| u.last_used_date)
                    .map(|d| iso8601(&d)),
                true,
            )),
            Err(e) => {
                tracing::warn!(
                    "cannot read when key {} was last used: {}",
                    mask(id),
                    describe(&e)
                );
                Ok((None, false))
            }
        }
    }

    pub fn create_key(&self, user: &str) -> std::result::Result<NewKey, AwsError> {
        common::cli::mark_change_started();
        let answer = self
            .call(self.iam.create_access_key().user_name(user).send())
            .map_err(|e| AwsError {
                code: None,
                text: e.to_string(),
                maybe_sent: true,
            })?
            .map_err(|e| describe(&e))?;
        let Some(key) = answer.access_key else {
            return Err(AwsError {
                code: None,
                text: "CreateAccessKey returned no key".into(),
                maybe_sent: true,
            });
        };
        Ok(NewKey {
            created: key.create_date.map(|d| iso8601(&d)).unwrap_or_default(),
            secret: Secret::new(key.secret_access_key),
            id: key.access_key_id,
        })
    }

    pub fn delete_key(&self, user: &str, id: &str) -> std::result::Result<(), AwsError> {
        common::cli::mark_change_started();
        self.call(
            self.iam
                .delete_access_key()
                .user_name(user)
                .access_key_id(id)
                .send(),
        )
        .map_err(|e| AwsError {
            code: None,
            text: e.to_string(),
            maybe_sent: true,
        })?
        .map(|_| ())
        .map_err(|e| describe(&e))
    }

    /// One sts:GetCallerIdentity signed with `key`. `Ok(())` when AWS
    /// accepts the key.
    pub fn probe(&self, key: &NewKey) -> std::result::Result<(), AwsError> {
        let config = aws_sdk_sts::config::Builder::from(&self.base)
            .credentials_provider(Credentials::new(
                key.id.clone(),
                key.secret.expose().to_owned(),
                None,
                None,
                "new-key",
            ))
            .retry_config(RetryConfig::disabled())
            .build();
        let sts = aws_sdk_sts::Client::from_conf(config);
        self.call(sts.get_caller_identity().send())
            .map_err(|e| AwsError {
                code: None,
                text: e.to_string(),
                maybe_sent: false,
            })?
            .map(|_| ())
            .map_err(|e| describe(&e))
    }
}

pub fn iso8601(date: &DateTime) -> String {
    date.fmt(DateTimeFormat::DateTime).unwrap_or_default()
}
