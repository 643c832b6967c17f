//! Where a request may go: `https`, or plain `http` to a peer that is
//! loopback by the very addresses connected to; never a loopback host
//! through a proxy; a proxy's own credentials are secrets.

use super::*;

/// Parses `text` as the URL in field `name` of `location`, requiring https
/// unless the host is loopback: an IP literal in 127.0.0.0/8 or `::1`, or
/// `localhost` / `*.localhost` when every address the name resolves to now
/// is loopback. (The resolver checks the name again at every connection.)
pub fn require_https(text: &str, name: &str, location: &Location) -> Result<Url> {
    let url = Url::parse(text.trim()).map_err(|e| {
        Error::invalid(name, location.clone(), format!("not an absolute URL ({e})"))
    })?;
    check_transport(&url).map_err(|problem| Error::invalid(name, location.clone(), problem))?;
    Ok(url)
}

/// A device's or a server's address as Keeper's scripts take it: a host, a
/// `host:port`, or a URL held to [`require_https`]. A bare host becomes
/// `https://<host>/`; `what` says what the field names in the refusal ("a
/// Security Center host"). A user or password in it is refused: the
/// admin's credentials have fields of their own.
pub fn require_host_or_https(
    text: &str,
    name: &str,
    location: &Location,
    what: &str,
) -> Result<Url> {
    let text = text.trim();
    let invalid = |problem: &str| {
        Error::invalid(
            name,
            location.clone(),
            format!(
                "{problem}; {what} is a host name or address with an optional port \
                 (host.example.com, host.example.com:8443; an IPv6 address goes in []), or an \
                 https URL (nothing was sent)"
            ),
        )
    };
    let url = if text.contains("://") {
        require_https(text, name, location)?
    } else {
        if text.is_empty()
            || text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "/?#@\\".contains(c))
        {
            return Err(invalid("it is not a host name or address"));
        }
        let url = Url::parse(&format!("https://{text}/"))
            .map_err(|_| invalid("it is not a host name or address"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it names no host"));
        }
        url
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it holds a user or password (the admin's have fields of their own)",
        ));
    }
    Ok(url)
}

/// The transport rule for `url` (see [`require_https`]): `Err` says why it
/// is refused, in words that name the URL without its query.
pub fn check_transport(url: &Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if names_loopback(url) => {}
        "http" => {
            return Err(format!(
                "{} uses plain http; use https (plain http is accepted only for loopback test servers)",
                display_url(url)
            ));
        }
        other => return Err(format!("scheme '{other}' is not supported; use https")),
    }
    if let Some(Host::Domain(domain)) = url.host() {
        if !is_loopback_name(domain) {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(0);
        // A name that does not resolve cannot be connected to either; the
        // connection fails later with nothing sent.
        if let Ok(addresses) = std::net::ToSocketAddrs::to_socket_addrs(&(domain, port)) {
            let addresses: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
            if let Err(refused) = only_loopback(domain, &addresses) {
                return Err(format!(
                    "{} {refused}; {}",
                    display_url(url),
                    if url.scheme() == "http" {
                        "use https (plain http is accepted only for loopback test servers)"
                    } else {
                        "a name that says loopback must be loopback (it would bypass the proxy)"
                    }
                ));
            }
        }
    }
    Ok(())
}

/// Whether the URL's host says it is loopback: a loopback IP literal, or
/// `localhost` / `*.localhost`, which must still resolve to loopback
/// addresses only ([`only_loopback`]).
pub(super) fn names_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => is_loopback_name(domain),
        None => false,
    }
}

/// `localhost`, `*.localhost` (any case, with or without the final dot).
pub fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// A name that says loopback resolved to an address that is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLoopback {
    pub name: String,
    pub address: IpAddr,
}

impl std::fmt::Display for NotLoopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{}' resolves to {}, which is not a loopback address (check /etc/hosts and DNS)",
            self.name, self.address
        )
    }
}

impl std::error::Error for NotLoopback {}

/// `Ok` when `name` does not say loopback, or every one of its `addresses`
/// is loopback (an IPv4-mapped `::ffff:127.0.0.1` counts as loopback).
pub fn only_loopback(name: &str, addresses: &[IpAddr]) -> std::result::Result<(), NotLoopback> {
    if !is_loopback_name(name) {
        return Ok(());
    }
    match addresses
        .iter()
        .find(|address| !address.to_canonical().is_loopback())
    {
        Some(address) => Err(NotLoopback {
            name: name.to_owned(),
            address: *address,
        }),
        None => Ok(()),
    }
}

/// The resolver of every HTTP client: the system's (`getaddrinfo`, as
/// reqwest's default), refusing a name that says loopback ([`is_loopback_name`])
/// when any address it resolves to is not. Such a name is sent plain http
/// and bypasses the proxy, so the check is made on the very addresses that
/// are connected to. The refusal is a connect error: nothing was sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopbackGuard;

impl reqwest::dns::Resolve for LoopbackGuard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(resolve_guarded(name.as_str().to_owned()))
    }
}

pub(super) async fn resolve_guarded(
    name: String,
) -> std::result::Result<reqwest::dns::Addrs, BoxError> {
    let addresses: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
    let ips: Vec<IpAddr> = addresses.iter().map(std::net::SocketAddr::ip).collect();
    only_loopback(&name, &ips)?;
    Ok(Box::new(addresses.into_iter()))
}

/// Whether the resolver refused the connection.
pub(super) fn caused_by_not_loopback(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<NotLoopback>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The environment variables a proxy is read from (reqwest's, as curl's).
pub const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Registers the user and password of every proxy URL in the environment
/// ([`PROXY_VARS`], `http://user:password@host:port`) as secrets, so that an
/// error or a log line echoing the proxy's URL, or its `Proxy-Authorization`
/// (base64 of `user:password`), never shows them. Called when a run starts
/// and again when a client that uses the proxy is built.
pub fn register_proxy_credentials() {
    register_proxy_credentials_from(|name| std::env::var(name).ok());
}

/// [`register_proxy_credentials`] with the variables read by `lookup`.
pub fn register_proxy_credentials_from(lookup: impl Fn(&str) -> Option<String>) {
    for name in PROXY_VARS {
        let Some(value) = lookup(name) else {
            continue;
        };
        let Some(((user, user_decoded), (password, password_decoded))) = url_credentials(&value)
        else {
            continue;
        };
        // A password is registered whatever its length; a user of a few
        // letters would redact ordinary words everywhere.
        for form in [&password, &password_decoded] {
            if !form.is_empty() {
                secret::register(form);
            }
        }
        for form in [&user, &user_decoded] {
            if form.chars().count() >= 6 {
                secret::register(form);
            }
        }
        if !password_decoded.is_empty() {
            secret::register_with_login(&user_decoded, &password_decoded);
        }
    }
}

/// The user and password of a URL's userinfo, each as written and
/// percent-decoded: `((user, user), (password, password))`. Read by hand, not
/// with [`Url::parse`]: a proxy variable may lack a scheme (`user:pw@host:3128`)
/// or be no valid URL at all, and its password is a secret either way.
pub(super) fn url_credentials(text: &str) -> Option<((String, String), (String, String))> {
    let text = text.trim();
    let rest = match text.find("://") {
        Some(at) => &text[at + 3..],
        None => text,
    };
    // The userinfo ends at the last '@': a password may hold '@', '/', '?'
    // or '#' written as they are (too much taken is redacted, never shown).
    let at = rest.rfind('@')?;
    let userinfo = &rest[..at];
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let pair = |raw: &str| (raw.to_owned(), percent_decode(raw));
    Some((pair(user), pair(password)))
}

/// `%XX` escapes decoded (invalid ones kept as written); the bytes read as
/// UTF-8, or as Latin-1 when they are not.
pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            && let Ok(byte) = u8::try_from(h * 16 + l)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    body_text(&out)
}

/// A URL for messages: scheme, host, port and path only.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}
