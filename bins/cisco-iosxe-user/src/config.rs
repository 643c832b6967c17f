//! From the Gateway's input to what the change needs, before any request:
//! the user's name, the admin record Keeper's own IOS XE script reads (title
//! "Cisco Authentication Record", the admin's `login` and `password`, the
//! device in `host_endpoint`), the RESTCONF root, how the device's
//! certificate is trusted, and which form the password is set in. A pure
//! function of the input, fuzzed (`fuzz-entry`).
//!
//! Rotate-meraki-user's admin record has the same title (Keeper's scripts
//! give both the one title). The two are told apart by what they hold: an
//! IOS XE admin record has a `host_endpoint`, a Meraki one a `network_id`
//! and no `host_endpoint`; a titled record that is the other binary's is
//! passed over, never taken ([`AdminRecord::foreign`]).

use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::http::{self, CertPin};
use common::records::{AdminRecord, Record};
use common::secret::Secret;
use reqwest::Url;

/// The title Keeper's script and docs give the admin record.
pub const DEFAULT_TITLE: &str = "Cisco Authentication Record";
/// The admin record's field naming the device.
pub const ENDPOINT_FIELD: &str = "host_endpoint";
/// The admin record's field pinning the device's certificate.
pub const PIN_FIELD: &str = "tls_certificate_sha256";
/// The admin record's opt-in to store the first certificate seen as the pin.
pub const TOFU_FIELD: &str = "trust_certificate_on_first_use";
/// The user record's field choosing the reversible `password` form.
pub const FORM_FIELD: &str = "iosxe_set_as";

/// How the new password is set on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `secret` type 9, hashed here: the password never crosses the wire.
    Secret9,
    /// The reversible `password` form (type 0 sent, as Keeper's script
    /// does): only when the user record asks for it.
    Password,
}

/// How the device's certificate is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The certificate authorities (the system's, or `SSL_CERT_FILE`).
    Authorities,
    /// Only the certificate with this SHA-256.
    Pinned(CertPin),
    /// No pin yet: the certificate seen first is pinned and stored.
    FirstUse,
}

/// Everything the change needs from the Gateway's input.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The IOS XE user name (the Gateway's `user`).
    pub user: &'a str,
    pub admin: &'a Record,
    pub login: String,
    pub password: Secret,
    /// The RESTCONF root (`https://host/restconf`).
    pub root: Url,
    pub trust: Trust,
    pub form: Form,
}

impl<'a> Setup<'a> {
    pub fn from_input(input: &'a GatewayInput) -> Result<Self> {
        let user = input.require_user()?;
        check_user(user)?;
        input.require_new_password()?;
        input.require_user_record_uid()?;
        let admin = find_admin_record(input)?;
        let location = admin.location();
        let login = admin.require_text("login")?.trim().to_owned();
        if login == user {
            return Err(Error::Config(format!(
                "the user to rotate, '{user}', is the admin of {location} (its login): the change \
                 would leave the admin record with a password the device no longer takes, and \
                 the read-back could not be made. Rotate the admin with another admin record \
                 (nothing was sent)"
            )));
        }
        let password = admin.require_secret("password")?;
        let root = root_url(&admin.require_text(ENDPOINT_FIELD)?, &location)?;
        let pin = match admin.text(PIN_FIELD)? {
            Some(text) if !text.trim().is_empty() => Some(
                CertPin::parse(&text)
                    .map_err(|problem| Error::invalid(PIN_FIELD, location.clone(), problem))?,
            ),
            _ => None,
        };
        let first_use = match admin.text(TOFU_FIELD)? {
            Some(text) if !text.trim().is_empty() => admin.flag(TOFU_FIELD)?.unwrap_or(false),
            _ => false,
        };
        let trust = match (pin, first_use) {
            (Some(pin), _) => Trust::Pinned(pin),
            (None, true) => Trust::FirstUse,
            (None, false) => Trust::Authorities,
        };
        let form = match input
            .records
            .user()
            .map(|r| r.text(FORM_FIELD))
            .transpose()?
        {
            Some(Some(text)) => parse_form(&text, input)?,
            _ => Form::Secret9,
        };
        Ok(Self {
            user,
            admin,
            login,
            password,
            root,
            trust,
            form,
        })
    }
}

fn parse_form(text: &str, input: &GatewayInput) -> Result<Form> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "secret" => Ok(Form::Secret9),
        "password" => Ok(Form::Password),
        _ => Err(Error::invalid(
            FORM_FIELD,
            input
                .records
                .user()
                .map_or(Location::Params, Record::location),
            "it is 'secret' (the default: a type 9 secret hashed before it is sent) or \
             'password' (the reversible form Keeper's script sets)",
        )),
    }
}

/// The admin record: the attached record titled by the user record's
/// `iosxe_record_title`, else "Cisco Authentication Record" holding a
/// `host_endpoint`, else the only attached record holding one.
pub fn find_admin_record(input: &GatewayInput) -> Result<&Record> {
    AdminRecord {
        noun: "IOS XE admin record",
        title_field: "iosxe_record_title",
        titles: &[DEFAULT_TITLE],
        marked: "holding a host_endpoint",
        marker: &|r| r.has(ENDPOINT_FIELD),
        foreign: Some(&|r| r.has("network_id") && !r.has(ENDPOINT_FIELD)),
        attach: &format!(
            "a record titled '{DEFAULT_TITLE}' with the admin's login and password and the \
             device in the custom field {ENDPOINT_FIELD}"
        ),
    }
    .find(&input.records)
}

/// The RESTCONF root of `host_endpoint`: a host or `host:port` (https, as
/// Keeper's script takes it), or a URL (https, or plain http to a loopback
/// address only) whose path, when it has one, is the RESTCONF root.
pub fn root_url(text: &str, location: &Location) -> Result<Url> {
    let mut url = http::require_host_or_https(text, ENDPOINT_FIELD, location, "host_endpoint")?;
    url.set_query(None);
    url.set_fragment(None);
    if url.path() == "/" || url.path().is_empty() {
        url.set_path("/restconf");
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

/// Refuses a `user` that is no IOS XE user name: it goes into the request's
/// path (percent-encoded) and into messages, and IOS takes no blank or
/// control character in one.
pub fn check_user(user: &str) -> Result<()> {
    let problem = if user.is_empty() {
        Some("it is empty")
    } else if user.chars().count() > 64 {
        Some("it is longer than the 64 characters IOS takes")
    } else if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it holds a blank or a control character, which no IOS user name has")
    } else if !user.is_ascii() {
        Some("it holds a character outside ASCII, which no IOS user name has")
    } else if user.contains(':') {
        // Basic authentication ends the user name at the first ':': the
        // sign-in that proves the new password could never succeed.
        Some("it holds ':', which basic authentication cannot carry in a user name")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::Invalid {
            name: "user".into(),
            location: Location::Params,
            problem: format!(
                "{problem}; set the PAM User record's login to the IOS XE user name (nothing was \
                 sent)"
            ),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_a_host_and_port_or_a_url_give_the_restconf_root() {
        let at = Location::Params;
        for (text, root) in [
            ("10.10.20.48", "https://10.10.20.48/restconf"),
            (
                "router-1.example.com:8443",
                "https://router-1.example.com:8443/restconf",
            ),
            ("[2001:db8::1]", "https://[2001:db8::1]/restconf"),
            ("https://r1.example.com", "https://r1.example.com/restconf"),
            ("https://r1.example.com/rc/", "https://r1.example.com/rc"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/restconf"),
        ] {
            assert_eq!(root_url(text, &at).unwrap().as_str(), root, "{text}");
        }
        for bad in [
            "",
            "a b",
            "r1/x",
            "admin@r1",
            "http://r1.example.com",
            "2001:db8::1",
            "https://u:p@r1",
        ] {
            let error = root_url(bad, &at).unwrap_err();
            assert_eq!(error.exit(), common::Exit::BadInput, "{bad:?}");
        }
    }

    #[test]
    fn a_user_name_with_a_blank_or_control_character_is_refused() {
        for bad in ["", " a", "a b", "a\nb", "é", &"a".repeat(65)] {
            assert!(check_user(bad).is_err(), "{bad:?}");
        }
        for good in ["alice", "net-ops_1", "a.b", "a,b=c/d"] {
            assert!(check_user(good).is_ok(), "{good:?}");
        }
    }
}
