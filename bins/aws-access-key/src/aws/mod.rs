//! IAM and STS through the official AWS SDK, as blocking calls bounded by the
//! run's deadline. The async runtime lives here; the vault is only ever
//! called outside it.
//!
//! Endpoints come from the standard `AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_IAM`, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_SSO`
//! and `AWS_ENDPOINT_URL_SSO_OIDC`, or `endpoint_url` in the AWS config
//! file, which the SDK reads itself; each is held to the https rule of
//! `common::http` before any call, and so is every `sso_start_url`. (This
//! build leaves out the SDK's SSO credential provider, aws-config's `sso`
//! feature, so an SSO profile fails before any call; the SSO checks keep
//! the rule if it is ever enabled.) Regions pick the partition (aws,
//! aws-us-gov, aws-cn).
//!
//! Every AWS credential the SDK obtains (environment, files, web identity,
//! container or instance role, an AssumeRole session) is registered with the
//! redactor by [`Registering`] before a request is signed with it: a server
//! may echo the session token it received. The credentials held in files
//! and the environment are registered before the SDK is loaded
//! (`register_ambient_credentials`), and every credential a request carries
//! is registered before it is sent ([`RegisteringClient`]): that covers the
//! steps of a chain whose credentials the chain's result never shows.
//!
//! Rooms: [`transport`] (endpoints, HTTP clients, credentials on the wire),
//! [`credentials`] (registration of every credential), and here the errors
//! and the IAM and STS calls.

mod credentials;
mod transport;

#[allow(
    clippy::wildcard_imports,
    reason = "the rooms' own helpers, shared within aws"
)]
use credentials::*;
#[allow(
    clippy::wildcard_imports,
    reason = "the rooms' own helpers, shared within aws"
)]
use transport::*;
pub use transport::{ENDPOINT_VARIABLES, check_endpoint_overrides};

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::future;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sts::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use common::change;
use common::deadline::{self, Deadline};
use common::error::{Error, Location, Result};
use common::http;
use common::replace::Failure;
use common::secret::{self, Secret};

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
    /// The request may have reached AWS and taken effect: a timeout, a
    /// connection lost after it was made, an unreadable answer, or a 5xx.
    pub maybe_sent: bool,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl AwsError {
    /// As the outcome of a step of the replacement sequence.
    pub fn failure(self) -> Failure {
        if self.maybe_sent {
            Failure::Unknown(self.text)
        } else {
            Failure::Definite(self.text)
        }
    }

    fn unsent(text: String) -> Self {
        Self {
            code: None,
            text,
            maybe_sent: false,
        }
    }

    fn deadline(error: &Error) -> Self {
        Self {
            code: None,
            text: error.to_string(),
            maybe_sent: true,
        }
    }
}

/// Whether an error's causes show the connection was never made (refused,
/// unreachable, a name that does not resolve, a TLS handshake that failed,
/// or the connect timeout): then no byte of the request was sent.
fn never_connected(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(cause) = next {
        let text = cause.to_string();
        if text.starts_with("client error (Connect)")
            || text.starts_with("HTTP connect timeout")
            || text.contains("dns error")
        {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::AddrNotAvailable
            )
        {
            return true;
        }
        next = cause.source();
    }
    false
}

/// An error and its causes, each as its `Display` text (never the SDK's
/// debug text), joined on one line without repeats.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
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
    R: std::fmt::Debug + HasStatus + 'static,
{
    let chain = || http::shown_capped(&causes(error), CHAIN_CHARS);
    match error {
        SdkError::ServiceError(context) => {
            let code = error.code().map(str::to_owned);
            let status = context.raw().status_code();
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
                // Only a 4xx is a refusal. A 5xx may follow a change that was
                // made, and so does a 2xx the SDK could not read (it reports
                // an unreadable success as a service error with no code).
                maybe_sent: !(400..500).contains(&status),
            }
        }
        SdkError::ConstructionFailure(_) => {
            AwsError::unsent(format!("the request could not be built: {}", chain()))
        }
        SdkError::DispatchFailure(_) => AwsError {
            code: None,
            text: format!("no answer: {}", chain()),
            maybe_sent: !never_connected(error),
        },
        SdkError::ResponseError(_) => AwsError {
            code: None,
            text: format!("the answer could not be read: {}", chain()),
            maybe_sent: true,
        },
        _ => AwsError {
            code: None,
            text: format!("no answer: {}", chain()),
            maybe_sent: true,
        },
    }
}

/// The HTTP status of a raw response.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_iam::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// How often one DeleteAccessKey is tried.
const DELETE_ATTEMPTS: u32 = 3;

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
        register_ambient_credentials();
        check_endpoint_overrides()?;
        check_sso_settings()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
        // The connect timeout is shorter than the attempt timeout, so a
        // connection that is never made is reported as such (nothing sent).
        let attempt = deadline::request_timeout_or_default();
        let timeouts = TimeoutConfig::builder()
            .connect_timeout((attempt / 2).min(Duration::from_secs(10)))
            .operation_attempt_timeout(attempt)
            .build();
        let loader = || {
            let loader = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.to_owned()))
                .timeout_config(timeouts.clone());
            match admin {
                Admin::DefaultChain => loader,
                Admin::Keys { key, .. } | Admin::AssumeRole { key, .. } => {
                    loader.credentials_provider(credentials(key, "keeper-record"))
                }
            }
        };
        // Loading reads the environment and the config files only; the
        // endpoints it finds decide the HTTP client the clients are built with.
        let configured = runtime.block_on(loader().load());
        check_configured_endpoints(&configured)?;
        let client = if plain_http_endpoint(&configured) {
            loopback_http_client()
        } else {
            https_client()
        };
        let base = runtime.block_on(loader().http_client(RegisteringClient(client)).load());
        let mut aws = Self::with(runtime, registering(base), deadline);
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
            register_credentials(&session);
            let base = registering(
                aws.base
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(session))
                    .build(),
            );
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
            // Inactive only when IAM says so: a status this binary does not
            // know (or none) counts as Active, so such a key is never taken
            // for unused, and a deactivation is confirmed only by `Inactive`.
            let active = meta.status.is_none_or(|s| s.as_str() != "Inactive");
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

    /// CreateAccessKey. Sent once: the SDK's retries are off for it (a
    /// retried create can make a second key whose secret nobody sees); a
    /// throttled create is refused, so it is tried again here.
    pub fn create_key(&self, user: &str) -> std::result::Result<NewKey, AwsError> {
        let entry = change::sent(format!("CreateAccessKey for IAM user '{user}'"))
            .map_err(|e| AwsError::unsent(e.to_string()))?;
        let mut throttled = 0;
        let answer = loop {
            let sent = self
                .call(
                    self.iam
                        .create_access_key()
                        .user_name(user)
                        .customize()
                        .config_override(sent_once())
                        .send(),
                )
                .map_err(|e| AwsError::deadline(&e));
            let outcome = match sent {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(e)) => Err(describe(&e)),
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if e.code.as_deref() == Some("Throttling") && throttled < 3 => {
                    throttled += 1;
                    let wait = Duration::from_millis(500 * 2u64.pow(throttled));
                    if !self.deadline.allows(wait) {
                        break Err(e);
                    }
                    tracing::info!("CreateAccessKey was throttled; trying again");
                    std::thread::sleep(wait);
                }
                other => break other,
            }
        };
        let answer = match answer {
            Ok(answer) => {
                entry.keep();
                answer
            }
            Err(e) => {
                if e.maybe_sent {
                    entry.keep();
                } else {
                    entry.settle();
                }
                return Err(e);
            }
        };
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

    /// DeleteAccessKey. Repeating it is harmless (a key already gone,
    /// NoSuchEntity, counts as deleted: an earlier attempt whose answer was
    /// lost may have deleted it), so it is tried up to [`DELETE_ATTEMPTS`]
    /// times. The attempts are made here, not by the SDK: the outcome must
    /// remember that *any* attempt may have been applied. With the SDK's own
    /// retries only the last attempt's error is seen, and a deletion applied
    /// whose answer was lost, followed by a retry that could not connect,
    /// looked like a request never sent ("nothing was changed").
    pub fn delete_key(&self, user: &str, id: &str) -> std::result::Result<(), AwsError> {
        self.repeated_change(
            &format!("DeleteAccessKey {id} of IAM user '{user}'"),
            "deleted",
            || {
                self.call(
                    self.iam
                        .delete_access_key()
                        .user_name(user)
                        .access_key_id(id)
                        .customize()
                        .config_override(sent_once())
                        .send(),
                )
                .map(|sent| sent.map(|_| ()).map_err(|e| describe(&e)))
            },
        )
        .map(|_gone| ())
    }

    /// UpdateAccessKey to Inactive: the key stays listed but AWS refuses
    /// it. Only ever `Inactive`: this binary never makes a key active
    /// again. Setting a status twice is harmless, so it is repeated like a
    /// deletion ([`Aws::delete_key`]); a key already gone counts as retired.
    ///
    /// `Ok(true)`: the key is gone (NoSuchEntity), not deactivated.
    pub fn deactivate_key(&self, user: &str, id: &str) -> std::result::Result<bool, AwsError> {
        self.repeated_change(
            &format!("UpdateAccessKey {id} of IAM user '{user}' to Inactive"),
            "deactivated",
            || {
                self.call(
                    self.iam
                        .update_access_key()
                        .user_name(user)
                        .access_key_id(id)
                        .status(aws_sdk_iam::types::StatusType::Inactive)
                        .customize()
                        .config_override(sent_once())
                        .send(),
                )
                .map(|sent| sent.map(|_| ()).map_err(|e| describe(&e)))
            },
        )
    }

    /// A change safe to repeat, entered in the ledger as `what`, tried up to
    /// [`DELETE_ATTEMPTS`] times; NoSuchEntity counts as done (the key is
    /// gone). The entry is settled only when no attempt may have reached
    /// IAM.
    fn repeated_change(
        &self,
        what: &str,
        done: &str,
        mut attempt_once: impl FnMut() -> Result<std::result::Result<(), AwsError>>,
    ) -> std::result::Result<bool, AwsError> {
        let entry = change::sent(what).map_err(|e| AwsError::unsent(e.to_string()))?;
        let mut maybe_applied = false;
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let error = match attempt_once().map_err(|e| AwsError::deadline(&e)) {
                Ok(Ok(())) => break Ok(false),
                Ok(Err(e)) => e,
                // The run's deadline: no time for another attempt.
                Err(e) => break Err(e),
            };
            if error.code.as_deref() == Some("NoSuchEntity") {
                break Ok(true);
            }
            maybe_applied |= error.maybe_sent;
            // Worth another attempt: no answer, a 5xx, a throttle, or a
            // connection never made. A refusal (AccessDenied...) is final.
            let transient = error.maybe_sent
                || error.code.is_none()
                || error.code.as_deref() == Some("Throttling");
            let wait = Duration::from_millis(250 * 2u64.pow(attempt));
            if !transient || attempt >= DELETE_ATTEMPTS || !self.deadline.allows(wait) {
                break Err(error);
            }
            tracing::info!(
                "{what}: {error}; trying again (attempt {} of {DELETE_ATTEMPTS})",
                attempt + 1
            );
            std::thread::sleep(wait);
        };
        match outcome {
            Ok(gone) => {
                entry.keep();
                Ok(gone)
            }
            Err(mut error) => {
                error.maybe_sent |= maybe_applied;
                if error.maybe_sent {
                    if maybe_applied {
                        error.text = format!(
                            "{} (an earlier attempt got no usable answer and may have {done} it)",
                            error.text
                        );
                    }
                    entry.keep();
                } else {
                    entry.settle();
                }
                Err(error)
            }
        }
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

/// The override for a change sent once (see [`Aws::create_key`] and
/// [`Aws::delete_key`]): the SDK's retries off.
fn sent_once() -> aws_sdk_iam::config::Builder {
    aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled())
}

pub fn iso8601(date: &DateTime) -> String {
    date.fmt(DateTimeFormat::DateTime).unwrap_or_default()
}

#[cfg(test)]
mod tests;
