//! Where the SDK may send: every endpoint override and configured endpoint
//! held to the https rule of `common::http`, the HTTP clients the SDK is
//! given (loopback only by address, never through a proxy), and every
//! credential a request carries registered before it is sent.

use super::*;
use aws_smithy_http_client::proxy::ProxyConfig;

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
pub(super) const SERVICES: [(&str, &str); 4] = [
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
pub(super) fn check_configured_endpoints(base: &SdkConfig) -> Result<()> {
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
pub(super) fn check_sso_settings() -> Result<()> {
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
pub(super) fn plain_http_endpoint(base: &SdkConfig) -> bool {
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
pub(super) fn loopback_http_client() -> SharedHttpClient {
    sdk_client(true)
}

/// The HTTP client for https endpoints: the SDK's default, built as the SDK
/// builds it (rustls on aws-lc, the proxy from the environment), so that it
/// can be wrapped in [`RegisteringClient`].
pub(super) fn https_client() -> SharedHttpClient {
    sdk_client(false)
}

/// The SDK's client as the SDK builds it (rustls on aws-lc, the client's
/// timeouts and sleep); `loopback`: no proxy and the [`LoopbackGuard`]
/// resolver, else the proxy from the environment.
fn sdk_client(loopback: bool) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut builder = aws_smithy_http_client::ConnectorBuilder::default().tls_provider(
            aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ),
        );
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        if loopback {
            builder.set_proxy_config(Some(ProxyConfig::disabled()));
            builder.build_with_resolver(LoopbackGuard)
        } else {
            builder.set_proxy_config(Some(ProxyConfig::from_env()));
            builder.build()
        }
    })
}

/// The request headers that carry a credential to a server, which may echo
/// it: a session token (SigV4's `X-Amz-Security-Token`), the SSO access
/// token, the instance metadata session token, and a container or bearer
/// token in `Authorization` (a SigV4 `Authorization` holds a key id and a
/// signature only, never a secret).
pub(super) const CREDENTIAL_HEADERS: [&str; 4] = [
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
pub(super) struct RegisteringClient(pub(super) SharedHttpClient);

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
pub(super) struct RegisteringConnector(SharedHttpConnector);

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
pub(super) fn header_credential(value: &str) -> Option<&str> {
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
pub(super) struct LoopbackGuard;

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
pub(super) fn configured_endpoint(base: &SdkConfig, service: &str) -> Option<String> {
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
