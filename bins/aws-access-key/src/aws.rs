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

/// The endpoint overrides the SDK reads from the environment: the global
/// one and those of every service the SDK may call for this binary (IAM,
/// STS, and the SSO and SSO-OIDC services of an SSO profile's chain).
pub const ENDPOINT_VARIABLES: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IAM",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSO",
    "AWS_ENDPOINT_URL_SSO_OIDC",
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

/// The services the SDK may call for this binary, with the environment
/// variable that overrides each one's endpoint: IAM and STS, and SSO
/// (`GetRoleCredentials`, sent the SSO access token) and SSO-OIDC
/// (`CreateToken`, sent the refresh token and client secret) for a profile
/// that signs in with IAM Identity Center. The SDK looks each up as
/// `AWS_ENDPOINT_URL_<ID>`, then `endpoint_url` under the id's key of the
/// profile's `services` section (`sso`, `sso-oidc`).
const SERVICES: [(&str, &str); 4] = [
    ("IAM", "AWS_ENDPOINT_URL_IAM"),
    ("STS", "AWS_ENDPOINT_URL_STS"),
    ("SSO", "AWS_ENDPOINT_URL_SSO"),
    ("SSO OIDC", "AWS_ENDPOINT_URL_SSO_OIDC"),
];

/// Holds the endpoint each client will use to the same rule as
/// [`check_endpoint_overrides`], wherever the SDK found it: the environment,
/// or `endpoint_url` in the AWS config file, in the profile or in the
/// profile's `services` section. Read through the SDK's own lookup, so that
/// what is checked is what the clients are built with.
fn check_configured_endpoints(base: &SdkConfig) -> Result<()> {
    for (service, variable) in SERVICES {
        let Some(text) = configured_endpoint(base, service) else {
            continue;
        };
        let problem = match url::Url::parse(text.trim()) {
            Ok(url) => match http::check_transport(&url) {
                Ok(()) => continue,
                Err(problem) => problem,
            },
            Err(e) => format!("not an absolute URL ({e})"),
        };
        return Err(Error::Config(format!(
            "the {service} endpoint set by endpoint_url in the AWS config file ({}, profile \
             '{}'), or by {variable} or AWS_ENDPOINT_URL, is refused: {problem}",
            config_file(),
            std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into()),
        )));
    }
    Ok(())
}

/// Holds every `sso_start_url` of the AWS config file (in a profile or an
/// `sso-session` section, whichever profile is active: a `source_profile`
/// chain may reach any of them) to the same transport rule, and every
/// `sso_region` to a region name: the SSO endpoints are derived from it
/// (`portal.sso.<region>.amazonaws.com`, https), so a value that is not a
/// host label could point them elsewhere.
fn check_sso_settings() -> Result<()> {
    let Some(path) = aws_file("AWS_CONFIG_FILE", DEFAULT_CONFIG_FILE) else {
        return Ok(());
    };
    let Some(text) = read_bounded(path.as_os_str()) else {
        return Ok(());
    };
    for (key, value) in text.lines().filter_map(|line| line.split_once('=')) {
        let (key, value) = (key.trim(), value.trim());
        let problem = if key.eq_ignore_ascii_case("sso_start_url") && !value.is_empty() {
            match url::Url::parse(value) {
                Ok(url) => http::check_transport(&url).err(),
                Err(e) => Some(format!("not an absolute URL ({e})")),
            }
        } else if key.eq_ignore_ascii_case("sso_region")
            && !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            Some("not a region name (letters, digits and '-')".to_owned())
        } else {
            continue;
        };
        if let Some(problem) = problem {
            return Err(Error::Config(format!(
                "{key} in the AWS config file ({}) is refused: {problem}",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Whether an endpoint the clients use is plain http (then, after
/// [`check_configured_endpoints`], a loopback test server).
fn plain_http_endpoint(base: &SdkConfig) -> bool {
    SERVICES.iter().any(|(service, _)| {
        configured_endpoint(base, service)
            .is_some_and(|text| text.trim().to_ascii_lowercase().starts_with("http:"))
    })
}

/// The HTTP client for plain-http (loopback) endpoints: the SDK's default
/// (rustls on aws-lc), but never through a proxy (`HTTP_PROXY` would get the
/// signed requests and CreateAccessKey's answer in cleartext), and with a
/// resolver that holds `*.localhost` names to loopback addresses at every
/// connection ([`http::only_loopback`]).
fn loopback_http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = aws_smithy_http_client::ConnectorBuilder::default().tls_provider(
            aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ),
        );
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(aws_smithy_http_client::proxy::ProxyConfig::disabled()));
        builder.build_with_resolver(LoopbackGuard)
    })
}

/// The HTTP client for https endpoints: the SDK's default, built as the SDK
/// builds it (rustls on aws-lc, the proxy from the environment), so that it
/// can be wrapped in [`RegisteringClient`].
fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = aws_smithy_http_client::ConnectorBuilder::default().tls_provider(
            aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ),
        );
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(aws_smithy_http_client::proxy::ProxyConfig::from_env()));
        builder.build()
    })
}

/// The request headers that carry a credential to a server, which may echo
/// it: a session token (SigV4's `X-Amz-Security-Token`), the SSO access
/// token, the instance metadata session token, and a container or bearer
/// token in `Authorization` (a SigV4 `Authorization` holds a key id and a
/// signature only, never a secret).
const CREDENTIAL_HEADERS: [&str; 4] = [
    "x-amz-security-token",
    "x-amz-sso_bearer_token",
    "x-aws-ec2-metadata-token",
    "authorization",
];

/// An HTTP client that registers every credential a request carries in
/// [`CREDENTIAL_HEADERS`] before the request is sent. Every client the SDK
/// builds uses it, the ones inside its credential chain included (the STS
/// client of a `source_profile` chain, the SSO client): so a credential the
/// chain's result never shows (a base profile's session token, a
/// `credential_process` output's token, an intermediate role's session, an
/// SSO access token) is registered before any server receives it.
#[derive(Debug)]
struct RegisteringClient(SharedHttpClient);

impl HttpClient for RegisteringClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RegisteringConnector(
            self.0.http_connector(settings, components),
        ))
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// See [`RegisteringClient`].
#[derive(Debug)]
struct RegisteringConnector(SharedHttpConnector);

impl HttpConnector for RegisteringConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        for name in CREDENTIAL_HEADERS {
            for value in request.headers().get_all(name) {
                if let Some(token) = header_credential(value) {
                    register_held(token);
                }
            }
        }
        self.0.call(request)
    }
}

/// The credential in a header value: all of it, without a `Bearer ` prefix;
/// `None` for a SigV4 signature.
fn header_credential(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.starts_with("AWS4-") {
        return None;
    }
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// The system's resolver, refusing a `*.localhost` name that resolves to an
/// address that is not loopback (the refusal is a connect error: nothing
/// is sent).
#[derive(Debug, Clone, Copy)]
struct LoopbackGuard;

impl ResolveDns for LoopbackGuard {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async move {
            let addresses: Vec<std::net::IpAddr> = tokio::net::lookup_host((name, 0))
                .await
                .map_err(ResolveDnsError::new)?
                .map(|address| address.ip())
                .collect();
            http::only_loopback(name, &addresses).map_err(ResolveDnsError::new)?;
            Ok(addresses)
        })
    }
}

/// The endpoint override the SDK applies to `service`: as the SDK's service
/// config reads it (`AWS_ENDPOINT_URL_<SERVICE>`, then the profile's
/// `services` section), else the global one (`AWS_ENDPOINT_URL`, then the
/// profile's `endpoint_url`).
fn configured_endpoint(base: &SdkConfig, service: &str) -> Option<String> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id(service)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    base.service_config()
        .and_then(|config| config.load_config(key))
        .or_else(|| base.endpoint_url().map(str::to_owned))
}

/// Where the SDK reads the AWS config file from, as set.
fn config_file() -> String {
    std::env::var("AWS_CONFIG_FILE").unwrap_or_else(|_| DEFAULT_CONFIG_FILE.into())
}

const DEFAULT_CONFIG_FILE: &str = "~/.aws/config";
const DEFAULT_CREDENTIALS_FILE: &str = "~/.aws/credentials";

/// The path of the AWS file `variable` names (else `default`), with a
/// leading `~` expanded as the SDK expands it (`aws-runtime`'s
/// `env_config::source`): when the path's first component is exactly `~`
/// (`~` or `~/...`; `~user/...` is not expanded), it is replaced by `HOME`;
/// without `HOME` the path is left as it is. `None` for an empty variable
/// with no file to read.
fn aws_file(variable: &str, default: &str) -> Option<std::path::PathBuf> {
    let set = std::env::var_os(variable).filter(|p| !p.is_empty());
    let path = set.map_or_else(
        || std::path::PathBuf::from(default),
        std::path::PathBuf::from,
    );
    Some(expand_home(&path, std::env::var_os("HOME").as_deref()))
}

/// `path` with a first component of exactly `~` replaced by `home`.
fn expand_home(path: &std::path::Path, home: Option<&std::ffi::OsStr>) -> std::path::PathBuf {
    let mut components = path.components();
    match (components.next(), home) {
        (Some(std::path::Component::Normal(first)), Some(home)) if first == "~" => {
            let mut out = std::path::PathBuf::from(home);
            out.extend(components);
            out
        }
        _ => path.to_owned(),
    }
}

/// The most bytes of a token or AWS config file read for registration.
const FILE_BYTES: u64 = 1024 * 1024;

/// The keys of the AWS config and shared credentials files whose values
/// are secret.
const SECRET_PROFILE_KEYS: [&str; 2] = ["aws_secret_access_key", "aws_session_token"];

/// Registers the AWS credentials the process holds before the SDK reads
/// them: the environment's, token files', and every secret of the AWS
/// config and shared credentials files (of any profile: a `source_profile`
/// chain sends a session token the chain's result never shows). The
/// default chain may sign with them or send them to a container endpoint or
/// to STS, and a server may echo them.
fn register_ambient_credentials() {
    for variable in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ] {
        if let Ok(value) = std::env::var(variable) {
            register_held(value.trim());
        }
    }
    for variable in [
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ] {
        if let Some(text) = std::env::var_os(variable).and_then(|p| read_bounded(&p)) {
            register_held(text.trim());
        }
    }
    for (variable, default) in [
        ("AWS_CONFIG_FILE", DEFAULT_CONFIG_FILE),
        ("AWS_SHARED_CREDENTIALS_FILE", DEFAULT_CREDENTIALS_FILE),
    ] {
        if let Some(text) = aws_file(variable, default).and_then(|p| read_bounded(p.as_os_str())) {
            for value in profile_secrets(&text) {
                register_held(value);
            }
        }
    }
    register_sso_cache();
}

/// The most SSO cache files read for registration (one per start URL or
/// `sso-session`: a host has a handful).
const SSO_CACHE_FILES: usize = 64;

/// The fields of an SSO token cache file whose values are secret.
const SSO_CACHE_SECRETS: [&str; 3] = ["accessToken", "refreshToken", "clientSecret"];

/// Registers the secrets of the SSO token cache (`~/.aws/sso/cache/*.json`,
/// `HOME` as the SDK finds it): an SSO profile's chain sends the access
/// token to the SSO service, and the refresh token and client secret to
/// SSO-OIDC when it refreshes, and either may echo them.
fn register_sso_cache() {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let dir = std::path::Path::new(&home).join(".aws/sso/cache");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries
        .filter_map(std::result::Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .take(SSO_CACHE_FILES)
    {
        if let Some(text) = read_bounded(entry.path().as_os_str()) {
            for value in sso_cache_secrets(&text) {
                register_held(&value);
            }
        }
    }
}

/// The values of [`SSO_CACHE_SECRETS`] in an SSO cache file; nothing for a
/// file that is not a JSON object.
fn sso_cache_secrets(text: &str) -> Vec<zeroize::Zeroizing<String>> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        return Vec::new();
    };
    SSO_CACHE_SECRETS
        .iter()
        .filter_map(|name| fields.get(*name)?.as_str())
        .map(|value| zeroize::Zeroizing::new(value.trim().to_owned()))
        .filter(|value| !value.is_empty())
        .collect()
}

/// Registers a credential found in the environment or a file. A value
/// shorter than a record's shortest registered value (a placeholder such as
/// `x`) is left out: it would redact ordinary letters in every message.
fn register_held(value: &str) {
    if value.chars().count() >= common::records::MIN_REGISTERED_CHARS {
        secret::register(value);
    }
}

/// The values of [`SECRET_PROFILE_KEYS`] in an AWS config or credentials
/// file (`key = value` lines, in any section).
fn profile_secrets(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| {
            SECRET_PROFILE_KEYS
                .iter()
                .any(|secret| key.trim().eq_ignore_ascii_case(secret))
        })
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .collect()
}

/// At most [`FILE_BYTES`] of the file at `path`; `None` when it cannot be
/// read (the SDK reports that itself, if it needs the file).
fn read_bounded(path: &std::ffi::OsStr) -> Option<zeroize::Zeroizing<String>> {
    use std::io::Read;
    // Regular files only: opening a FIFO would wait for a writer forever.
    if path.is_empty() || !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let mut text = zeroize::Zeroizing::new(String::new());
    file.take(FILE_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Registers the secret parts of `credentials` (the key id is not secret).
fn register_credentials(credentials: &Credentials) {
    secret::register(credentials.secret_access_key());
    if let Some(token) = credentials.session_token() {
        secret::register(token);
    }
}

/// `base` with its credentials provider wrapped in [`Registering`].
fn registering(base: SdkConfig) -> SdkConfig {
    let Some(provider) = base.credentials_provider() else {
        return base;
    };
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Registering(provider)))
        .build()
}

/// A credentials provider that registers every credential its inner one
/// yields (environment, profile, process, web identity, container, instance
/// role, an AssumeRole session) with the redactor before the SDK signs with
/// it: one place for every AWS credential the process obtains.
#[derive(Debug)]
struct Registering(SharedCredentialsProvider);

impl ProvideCredentials for Registering {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let credentials = self.0.provide_credentials().await?;
            register_credentials(&credentials);
            Ok(credentials)
        })
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        let credentials = self.0.fallback_on_interrupt()?;
        register_credentials(&credentials);
        Some(credentials)
    }
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
                        .config_override(
                            aws_sdk_iam::config::Builder::default()
                                .retry_config(RetryConfig::disabled()),
                        )
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
        let entry = change::sent(format!("DeleteAccessKey {id} of IAM user '{user}'"))
            .map_err(|e| AwsError::unsent(e.to_string()))?;
        let mut maybe_applied = false;
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let sent = self
                .call(
                    self.iam
                        .delete_access_key()
                        .user_name(user)
                        .access_key_id(id)
                        .customize()
                        .config_override(
                            aws_sdk_iam::config::Builder::default()
                                .retry_config(RetryConfig::disabled()),
                        )
                        .send(),
                )
                .map_err(|e| AwsError::deadline(&e));
            let error = match sent {
                Ok(Ok(_)) => break Ok(()),
                Ok(Err(e)) => describe(&e),
                // The run's deadline: no time for another attempt.
                Err(e) => break Err(e),
            };
            if error.code.as_deref() == Some("NoSuchEntity") {
                break Ok(());
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
                "DeleteAccessKey {id}: {error}; trying again (attempt {} of {DELETE_ATTEMPTS})",
                attempt + 1
            );
            std::thread::sleep(wait);
        };
        match outcome {
            Ok(()) => {
                entry.keep();
                Ok(())
            }
            Err(mut error) => {
                error.maybe_sent |= maybe_applied;
                if error.maybe_sent {
                    if maybe_applied {
                        error.text = format!(
                            "{} (an earlier attempt got no usable answer and may have deleted it)",
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

pub fn iso8601(date: &DateTime) -> String {
    date.fmt(DateTimeFormat::DateTime).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secrets_of_every_profile_of_an_aws_file_are_found() {
        let text = "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s1 \n\
                    [profile x]\nAWS_SESSION_TOKEN=t1\nregion = us-east-1\naws_session_token =\n";
        assert_eq!(profile_secrets(text), ["s1", "t1"]);
    }

    #[test]
    fn a_leading_tilde_component_is_expanded_as_the_sdk_expands_it() {
        let home = Some(std::ffi::OsStr::new("/home/gw"));
        let expand = |path: &str, home| {
            expand_home(std::path::Path::new(path), home)
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(expand("~/.aws/config", home), "/home/gw/.aws/config");
        assert_eq!(expand("~", home), "/home/gw");
        assert_eq!(expand("~other/config", home), "~other/config");
        assert_eq!(expand("/etc/aws/~/config", home), "/etc/aws/~/config");
        assert_eq!(expand("~/config", None), "~/config");
    }

    #[test]
    fn the_tokens_and_client_secret_of_an_sso_cache_file_are_found() {
        let text = r#"{"startUrl": "https://d-1.awsapps.com/start", "accessToken": "at1",
            "refreshToken": "rt1", "clientSecret": "cs1", "clientId": "id1",
            "expiresAt": "2026-12-06T12:00:00Z"}"#;
        let found: Vec<String> = sso_cache_secrets(text)
            .iter()
            .map(|v| v.as_str().to_owned())
            .collect();
        assert_eq!(found, ["at1", "rt1", "cs1"]);
        assert!(sso_cache_secrets("not json").is_empty());
    }

    #[test]
    fn a_bearer_or_raw_token_header_is_a_credential_a_sigv4_signature_is_not() {
        assert_eq!(header_credential("Bearer tok1"), Some("tok1"));
        assert_eq!(header_credential(" tok2 "), Some("tok2"));
        assert_eq!(
            header_credential("AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ab"),
            None
        );
    }
}
