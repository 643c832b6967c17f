//! From the Gateway's input to what the change needs, before any request:
//! the user's email, the admin record Keeper's own Meraki script reads
//! (title "Cisco Authentication Record", the Dashboard API key in
//! `password`, the network in `network_id`), and the API's base URL. A pure
//! function of the input, fuzzed (`fuzz-entry`).

use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::http;
use common::records::{AdminRecord, Record};
use common::secret::Secret;
use reqwest::Url;

/// The title Keeper's script and docs give the admin record.
pub const DEFAULT_TITLE: &str = "Cisco Authentication Record";

/// The Dashboard API's base URL, its `/api/v1` path included.
pub const DEFAULT_URL: &str = "https://api.meraki.com/api/v1";

/// Everything the change needs from the Gateway's input.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The authorized user's email (the Gateway's `user`).
    pub email: &'a str,
    pub new_password: &'a Secret,
    pub admin: &'a Record,
    /// The Dashboard API key.
    pub key: Secret,
    pub network: String,
    /// The API's base URL, `/api/v1` included.
    pub url: Url,
}

impl<'a> Setup<'a> {
    pub fn from_input(input: &'a GatewayInput) -> Result<Self> {
        let email = input.require_user()?;
        check_email(email)?;
        let new_password = input.require_new_password()?;
        check_password(new_password)?;
        input.require_user_record_uid()?;
        let admin = find_admin_record(input)?;
        let location = admin.location();
        let key = admin
            .require_secret("password")
            .map_err(|_| Error::Missing {
                name: "password".into(),
                location: location.clone(),
                hint: "; it holds the Meraki Dashboard API key".into(),
            })?;
        let network = admin.require_text("network_id")?.trim().to_owned();
        check_network(&network, &location)?;
        let url = match admin.text("meraki_api_url")? {
            Some(text) if !text.trim().is_empty() => {
                http::require_https(&text, "meraki_api_url", &location)?
            }
            _ => Url::parse(DEFAULT_URL).map_err(|e| Error::Failed(e.to_string()))?,
        };
        Ok(Self {
            email,
            new_password,
            admin,
            key,
            network,
            url,
        })
    }
}

/// The admin record: the attached record titled by the user record's
/// `meraki_record_title`, else "Cisco Authentication Record" (but not
/// rotate-cisco-iosxe-user's, which has that title too: one with a
/// `host_endpoint` and no `network_id`), else the only attached record
/// holding a `network_id`.
pub fn find_admin_record(input: &GatewayInput) -> Result<&Record> {
    AdminRecord {
        noun: "Meraki admin record",
        title_field: "meraki_record_title",
        titles: &[DEFAULT_TITLE],
        marked: "holding a network_id",
        marker: &|r| r.has("network_id"),
        // rotate-cisco-iosxe-user's admin record has the same title.
        foreign: Some(&|r| r.has("host_endpoint") && !r.has("network_id")),
        attach: &format!(
            "a record titled '{DEFAULT_TITLE}' with the Dashboard API key in password and the \
             network in the custom field network_id"
        ),
    }
    .find(&input.records)
}

/// Refuses a `user` that is no email: the user is looked up by email, and
/// text no email has (blanks at either end, control characters) would only
/// match nothing, or someone else.
pub fn check_email(email: &str) -> Result<()> {
    common::gateway::check_account(
        email,
        |email| (!email.contains('@')).then_some("it is not an email address"),
        "the Meraki user's email",
    )
}

/// Refuses a new password Meraki would take but nobody could sign in with:
/// Meraki's hosted authentication fails every sign-in whose password holds a
/// backslash ("Cloud Hosted Meraki Authentication"). Setting it would exit 0
/// and the Gateway would store a password that never works.
fn check_password(password: &Secret) -> Result<()> {
    if password.expose().contains('\\') {
        return Err(Error::Invalid {
            name: "newPassword".into(),
            location: Location::Params,
            problem: "it holds a backslash, which Meraki authentication cannot sign in with; \
                      leave '\\' out of the PAM User record's password complexity (special \
                      characters) and rotate again (nothing was sent)"
                .into(),
        });
    }
    Ok(())
}

/// A network id goes into every request's path: only what Meraki's ids are
/// made of (`L_123…`, `N_123…`) is taken.
fn check_network(network: &str, location: &Location) -> Result<()> {
    if network.is_empty()
        || network.len() > 64
        || !network
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid(
            "network_id",
            location.clone(),
            "a Meraki network id is letters, digits, '_' and '-' (L_123..., N_123...)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_no_email_is_refused_before_any_request() {
        for bad in ["", " ", " a@b", "a@b ", "a\n@b", "alice"] {
            let error = check_email(bad).unwrap_err();
            assert_eq!(error.exit(), common::Exit::BadInput, "{bad:?}");
        }
        for good in ["alice@example.com", "a+b@x", "jürgen@example.de"] {
            assert!(check_email(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_password_with_a_backslash_is_refused_before_any_request() {
        let refused = check_password(&Secret::new("Abc\\def-1".to_owned())).unwrap_err();
        assert_eq!(refused.exit(), common::Exit::BadInput);
        assert!(!refused.to_string().contains("Abc"), "{refused}");
        assert!(check_password(&Secret::new("Abc\"'{}-1".to_owned())).is_ok());
    }

    #[test]
    fn a_network_id_is_only_what_meraki_ids_are_made_of() {
        for bad in ["", "L_1/../x", "N_1?x", "a b", &"N".repeat(65)] {
            assert!(check_network(bad, &Location::Params).is_err(), "{bad:?}");
        }
        for good in ["L_123456789012345678", "N_24329156", "n-1"] {
            assert!(check_network(good, &Location::Params).is_ok(), "{good:?}");
        }
    }
}
