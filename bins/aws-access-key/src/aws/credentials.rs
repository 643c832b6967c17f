//! Every AWS credential registered with the redactor the moment it exists:
//! the config and credentials files (`~` expanded as the SDK does), the SSO
//! token cache, and each credential the SDK's provider chain hands out.

use super::*;

/// Where the SDK reads the AWS config file from, as set.
pub(super) fn config_file() -> String {
    std::env::var("AWS_CONFIG_FILE").unwrap_or_else(|_| DEFAULT_CONFIG_FILE.into())
}

pub(super) const DEFAULT_CONFIG_FILE: &str = "~/.aws/config";
pub(super) const DEFAULT_CREDENTIALS_FILE: &str = "~/.aws/credentials";

/// The path of the AWS file `variable` names (else `default`), with a
/// leading `~` expanded as the SDK expands it (`aws-runtime`'s
/// `env_config::source`): when the path's first component is exactly `~`
/// (`~` or `~/...`; `~user/...` is not expanded), it is replaced by `HOME`;
/// without `HOME` the path is left as it is. `None` for an empty variable
/// with no file to read.
pub(super) fn aws_file(variable: &str, default: &str) -> Option<std::path::PathBuf> {
    let set = std::env::var_os(variable).filter(|p| !p.is_empty());
    let path = set.map_or_else(
        || std::path::PathBuf::from(default),
        std::path::PathBuf::from,
    );
    Some(expand_home(&path, std::env::var_os("HOME").as_deref()))
}

/// `path` with a first component of exactly `~` replaced by `home`.
pub(super) fn expand_home(
    path: &std::path::Path,
    home: Option<&std::ffi::OsStr>,
) -> std::path::PathBuf {
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
pub(super) const FILE_BYTES: u64 = 1024 * 1024;

/// The keys of the AWS config and shared credentials files whose values
/// are secret.
pub(super) const SECRET_PROFILE_KEYS: [&str; 2] = ["aws_secret_access_key", "aws_session_token"];

/// Registers the AWS credentials the process holds before the SDK reads
/// them: the environment's, token files', and every secret of the AWS
/// config and shared credentials files (of any profile: a `source_profile`
/// chain sends a session token the chain's result never shows). The
/// default chain may sign with them or send them to a container endpoint or
/// to STS, and a server may echo them.
pub(super) fn register_ambient_credentials() {
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
pub(super) const SSO_CACHE_FILES: usize = 64;

/// The fields of an SSO token cache file whose values are secret.
pub(super) const SSO_CACHE_SECRETS: [&str; 3] = ["accessToken", "refreshToken", "clientSecret"];

/// Registers the secrets of the SSO token cache (`~/.aws/sso/cache/*.json`,
/// `HOME` as the SDK finds it): an SSO profile's chain sends the access
/// token to the SSO service, and the refresh token and client secret to
/// SSO-OIDC when it refreshes, and either may echo them.
pub(super) fn register_sso_cache() {
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
pub(super) fn sso_cache_secrets(text: &str) -> Vec<zeroize::Zeroizing<String>> {
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
pub(super) fn register_held(value: &str) {
    if value.chars().count() >= common::records::MIN_REGISTERED_CHARS {
        secret::register(value);
    }
}

/// The values of [`SECRET_PROFILE_KEYS`] in an AWS config or credentials
/// file (`key = value` lines, in any section).
pub(super) fn profile_secrets(text: &str) -> Vec<&str> {
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
pub(super) fn read_bounded(path: &std::ffi::OsStr) -> Option<zeroize::Zeroizing<String>> {
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
pub(super) fn register_credentials(credentials: &Credentials) {
    secret::register(credentials.secret_access_key());
    if let Some(token) = credentials.session_token() {
        secret::register(token);
    }
}

/// `base` with its credentials provider wrapped in [`Registering`].
pub(super) fn registering(base: SdkConfig) -> SdkConfig {
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
pub(super) struct Registering(SharedCredentialsProvider);

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
