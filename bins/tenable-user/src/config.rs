//! From the Gateway's input to what the change needs, before any request:
//! the user name, the admin record Keeper's own Tenable scripts read (title
//! "Tenable Authentication Record", the API keys in `tenable_access_key` and
//! `tenable_secret_key`), and which Tenable it is: Security Center when
//! `tenable_sc_host` is set, else Tenable Vulnerability Management
//! (Tenable.io) at `tenable_url` or its public URL. A pure function of the
//! input, fuzzed (`fuzz-entry`).
//!
//! The admin record and the service are their own step ([`Service`]), apart
//! from the user: Keeper's three Tenable scripts share the record, and so
//! does anything else that talks to the same Tenable.

use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::http;
use common::records::{AdminRecord, Record};
use common::secret::Secret;
use reqwest::Url;

/// The title Keeper's scripts and docs give the admin record.
pub const DEFAULT_TITLE: &str = "Tenable Authentication Record";

/// Tenable Vulnerability Management's API (Tenable.io).
pub const DEFAULT_URL: &str = "https://cloud.tenable.com";

/// Which Tenable the admin record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Tenable Vulnerability Management (Tenable.io): `X-ApiKeys`, `/users`.
    Io,
    /// Tenable Security Center (Tenable.sc): `x-apikey`, `/rest/user`.
    Sc,
}

impl Flavour {
    /// The product's name, for messages.
    pub fn product(self) -> &'static str {
        match self {
            Self::Io => "Tenable Vulnerability Management",
            Self::Sc => "Tenable Security Center",
        }
    }
}

/// The Tenable the admin record names, and its keys.
#[derive(Debug)]
pub struct Service<'a> {
    pub admin: &'a Record,
    pub flavour: Flavour,
    /// The API's base URL: `https://cloud.tenable.com` for Tenable.io, or
    /// `https://<host>/rest` for Security Center.
    pub url: Url,
    pub access_key: Secret,
    pub secret_key: Secret,
}

impl<'a> Service<'a> {
    pub fn from_input(input: &'a GatewayInput) -> Result<Self> {
        let admin = find_admin_record(input)?;
        let location = admin.location();
        // A key pasted with a line break or blanks around it is the key:
        // trimmed, since a header cannot carry them (a new secret only then:
        // each registration costs the redactor's time).
        let key = |name: &str| {
            admin
                .require_secret(name)
                .map(|key| {
                    let trimmed = key.expose().trim();
                    if trimmed.len() == key.expose().len() {
                        key
                    } else {
                        Secret::new(trimmed.to_owned())
                    }
                })
                .map_err(|_| Error::Missing {
                    name: name.into(),
                    location: location.clone(),
                    hint: "; it holds the Tenable API key pair's half of that name (Settings > \
                           My Account > API Keys)"
                        .into(),
                })
        };
        let access_key = key("tenable_access_key")?;
        let secret_key = key("tenable_secret_key")?;
        for (name, value) in [
            ("tenable_access_key", &access_key),
            ("tenable_secret_key", &secret_key),
        ] {
            check_key(value, name, &location)?;
        }
        let filled = |name: &str| -> Result<Option<String>> {
            Ok(admin
                .text(name)?
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()))
        };
        let (flavour, url) = match (filled("tenable_sc_host")?, filled("tenable_url")?) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(format!(
                    "{location} sets both tenable_sc_host (Security Center) and tenable_url \
                     (Tenable Vulnerability Management): which one to change is not guessed. \
                     Keep only the one for this user's Tenable (nothing was sent)"
                )));
            }
            (Some(host), None) => (Flavour::Sc, sc_url(&host, &location)?),
            (None, Some(url)) => (
                Flavour::Io,
                http::require_https(&url, "tenable_url", &location)?,
            ),
            (None, None) => (
                Flavour::Io,
                Url::parse(DEFAULT_URL).map_err(|e| Error::Failed(e.to_string()))?,
            ),
        };
        Ok(Self {
            admin,
            flavour,
            url,
            access_key,
            secret_key,
        })
    }
}

/// Everything the change needs from the Gateway's input.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The Tenable user name (the Gateway's `user`).
    pub username: &'a str,
    pub new_password: &'a Secret,
    /// The current password (the Gateway's `oldPassword`), sent with the
    /// change where the API takes it; `None` when the Gateway sent none.
    pub old_password: Option<&'a Secret>,
    pub service: Service<'a>,
}

impl<'a> Setup<'a> {
    pub fn from_input(input: &'a GatewayInput) -> Result<Self> {
        let username = input.require_user()?;
        check_username(username)?;
        let new_password = input.require_new_password()?;
        input.require_user_record_uid()?;
        let service = Service::from_input(input)?;
        let old_password = input.old_password.as_ref().filter(|p| !p.is_empty());
        Ok(Self {
            username,
            new_password,
            old_password,
            service,
        })
    }
}

/// The admin record: the attached record titled by the user record's
/// `tenable_record_title`, else "Tenable Authentication Record", else the
/// only attached record holding a `tenable_access_key`.
pub fn find_admin_record(input: &GatewayInput) -> Result<&Record> {
    AdminRecord {
        noun: "Tenable admin record",
        title_field: "tenable_record_title",
        titles: &[DEFAULT_TITLE],
        marked: "holding a tenable_access_key",
        marker: &|r| r.has("tenable_access_key"),
        foreign: None,
        attach: &format!(
            "a record titled '{DEFAULT_TITLE}' with the API keys in the custom fields \
             tenable_access_key and tenable_secret_key"
        ),
    }
    .find(&input.records)
}

/// Security Center's API base from `tenable_sc_host`: a host (`sc.example`,
/// `sc.example:8443`, as Keeper's script takes it) is `https://<host>/rest`;
/// a URL must be https (or plain http to a loopback address), and `/rest`
/// is added to its path unless the path already ends with it.
pub fn sc_url(text: &str, location: &Location) -> Result<Url> {
    let mut url =
        http::require_host_or_https(text, "tenable_sc_host", location, "a Security Center host")?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            "tenable_sc_host",
            location.clone(),
            "a Security Center URL takes no query or fragment",
        ));
    }
    if !url.path().trim_end_matches('/').ends_with("/rest")
        && let Ok(mut path) = url.path_segments_mut()
    {
        path.pop_if_empty().push("rest");
    }
    Ok(url)
}

/// Refuses a key no API key is: the keys go into a header, and a blank, a
/// `;` or a `=` would change what the header says.
fn check_key(key: &Secret, name: &str, location: &Location) -> Result<()> {
    let text = key.expose();
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid(
            name,
            location.clone(),
            "a Tenable API key is letters and digits (copy it again from Settings > My Account \
             > API Keys)",
        ));
    }
    Ok(())
}

/// Refuses a `user` that no Tenable user name is: blanks at either end or a
/// control character would only match nothing, or someone else.
pub fn check_username(name: &str) -> Result<()> {
    common::gateway::check_account(
        name,
        |name| {
            (name.chars().count() > 256)
                .then_some("it is longer than any Tenable user name (256 characters)")
        },
        "the Tenable user name",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_security_center_host_becomes_its_rest_url() {
        let at = Location::Params;
        for (host, url) in [
            ("sc.example.com", "https://sc.example.com/rest"),
            ("sc.example.com:8443", "https://sc.example.com:8443/rest"),
            ("https://sc.example.com", "https://sc.example.com/rest"),
            ("https://sc.example.com/rest", "https://sc.example.com/rest"),
            (
                "https://sc.example.com/tsc/",
                "https://sc.example.com/tsc/rest",
            ),
            ("http://127.0.0.1:9/", "http://127.0.0.1:9/rest"),
        ] {
            assert_eq!(sc_url(host, &at).expect(host).as_str(), url, "{host}");
        }
    }

    #[test]
    fn a_security_center_host_that_is_no_host_is_refused() {
        let at = Location::Params;
        for bad in [
            "",
            "sc.example.com/x",
            "user@sc.example.com",
            "sc example",
            "http://sc.example.com",
            "https://sc.example.com/?a=1",
        ] {
            let error = sc_url(bad, &at).unwrap_err();
            assert_eq!(error.exit(), common::Exit::BadInput, "{bad:?}");
        }
    }

    #[test]
    fn text_that_is_no_user_name_is_refused_before_any_request() {
        for bad in ["", " ", " a", "a ", "a\nb", "a\u{2028}b"] {
            assert_eq!(
                check_username(bad).unwrap_err().exit(),
                common::Exit::BadInput,
                "{bad:?}"
            );
        }
        for good in ["alice@example.com", "alice", "Jürgen Müller"] {
            assert!(check_username(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_key_that_would_change_the_header_is_refused() {
        for bad in ["", "abc;secretKey=x", "a b", "a=b"] {
            let key = Secret::new(bad.to_owned());
            assert!(check_key(&key, "tenable_access_key", &Location::Params).is_err());
        }
        assert!(check_key(&Secret::new("0a1B2c".to_owned()), "k", &Location::Params).is_ok());
    }
}
