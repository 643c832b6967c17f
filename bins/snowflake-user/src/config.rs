//! From the Gateway's input to what the change needs, before any request:
//! the Snowflake user name, the admin record Keeper's own Snowflake script
//! reads (title "Snowflake Authentication Record", the admin's `login`, the
//! account in `snowflake_account_name`), the admin's RSA private key (that
//! script's password sign-in is not what the SQL API takes), the account's
//! URL, and the statement's two quoted parts. A pure function of the input,
//! fuzzed (`fuzz-entry`).

use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::http;
use common::records::{AdminRecord, Record};
use common::secret::Secret;
use reqwest::Url;
use serde_json::Value;

use crate::jwt::PrivateKey;
use crate::sql;

/// The title Keeper's script and docs give the admin record.
pub const DEFAULT_TITLE: &str = "Snowflake Authentication Record";

/// The fields the admin's private key is read from, in this order.
pub const KEY_FIELDS: [&str; 2] = ["privatePEMKey", "keyPair"];

/// Everything the change needs from the Gateway's input.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The Snowflake user name (the Gateway's `user`).
    pub user: &'a str,
    /// `user` as a quoted identifier ([`sql::identifier`]).
    pub quoted_user: String,
    pub new_password: &'a Secret,
    pub admin: &'a Record,
    /// The admin's Snowflake user name (the admin record's `login`).
    pub admin_user: String,
    /// The account identifier (`snowflake_account_name`).
    pub account: String,
    /// The admin's private key.
    pub key: PrivateKey,
    /// The account's URL: `snowflake_url`, else
    /// `https://<account>.snowflakecomputing.com`.
    pub url: Url,
}

impl<'a> Setup<'a> {
    pub fn from_input(input: &'a GatewayInput) -> Result<Self> {
        let user = input.require_user()?;
        let quoted_user = check_user(user)?;
        let new_password = input.require_new_password()?;
        // The key path never sends newPassword: it is checked as an SQL
        // literal only on the password path.
        if !key_in_input(input)? {
            check_password(new_password)?;
        }
        input.require_user_record_uid()?;
        let admin = find_admin_record(input)?;
        let location = admin.location();
        let admin_user = admin.require_text("login").map_err(|_| Error::Missing {
            name: "login".into(),
            location: location.clone(),
            hint: "; it holds the Snowflake user the rotation signs in as (its public key set \
                   with ALTER USER … SET RSA_PUBLIC_KEY)"
                .into(),
        })?;
        check_admin_user(&admin_user, &location)?;
        let account = admin.require_text("snowflake_account_name")?;
        check_account(&account, &location)?;
        let key = admin_key(admin)?;
        let url = match admin.text("snowflake_url")? {
            Some(text) => http::require_https(&text, "snowflake_url", &location)?,
            None => default_url(&account, &location)?,
        };
        Ok(Self {
            user,
            quoted_user,
            new_password,
            admin,
            admin_user,
            account,
            key,
            url,
        })
    }
}

/// The admin record: the attached record titled by the user record's
/// `snowflake_record_title`, else "Snowflake Authentication Record", else
/// the only attached record holding a `snowflake_account_name`.
pub fn find_admin_record(input: &GatewayInput) -> Result<&Record> {
    AdminRecord {
        noun: "Snowflake admin record",
        title_field: "snowflake_record_title",
        titles: &[DEFAULT_TITLE],
        marked: "holding a snowflake_account_name",
        marker: &|r| r.has("snowflake_account_name"),
        foreign: None,
        attach: &format!(
            "a record titled '{DEFAULT_TITLE}' with the admin's Snowflake user in login, its RSA \
             private key in privatePEMKey and the account in the custom field \
             snowflake_account_name"
        ),
    }
    .find(&input.records)
}

/// The admin's private key: `privatePEMKey`, else a `keyPair` field's
/// private key. A record with a password and no key is Keeper's script's
/// record as it was: refused, naming what to add, since the SQL API takes
/// no password.
fn admin_key(admin: &Record) -> Result<PrivateKey> {
    let location = admin.location();
    let (field, pem) = if let Some(pem) = admin.secret("privatePEMKey")? {
        ("privatePEMKey", pem)
    } else if let Some(pair) = admin.value("keyPair") {
        let private = match pair {
            Value::Object(map) => map.get("privateKey"),
            Value::Array(items) => items.iter().find_map(|i| i.get("privateKey")),
            _ => None,
        };
        match private
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty())
        {
            Some(pem) => ("keyPair", Secret::new(pem)),
            None => {
                return Err(Error::invalid(
                    "keyPair",
                    location,
                    "it holds no private key; put the admin's PEM private key in it, or in \
                     privatePEMKey",
                ));
            }
        }
    } else {
        let why = if admin.has("password") {
            "; the record holds a password only, which Snowflake's SQL API does not take (and \
             Snowflake is ending password-only sign-in): generate an RSA key pair, set the \
             public key on the admin user (ALTER USER <admin> SET RSA_PUBLIC_KEY = '…') and \
             store the private key in privatePEMKey"
        } else {
            "; it holds the admin user's RSA private key (PEM), whose public key is set on that \
             user (ALTER USER <admin> SET RSA_PUBLIC_KEY = '…')"
        };
        return Err(Error::Missing {
            name: "privatePEMKey".into(),
            location,
            hint: why.into(),
        });
    };
    PrivateKey::from_pem(&pem).map_err(|problem| Error::invalid(field, location, problem))
}

/// The user name, quoted: see [`sql::identifier`].
pub fn check_user(user: &str) -> Result<String> {
    common::gateway::check_account(user, |_| None, "the Snowflake user's name")?;
    sql::identifier(user).map_err(|problem| Error::Invalid {
        name: "user".into(),
        location: Location::Params,
        problem: format!("{problem}; set the PAM User record's login to the Snowflake user's name (nothing was sent)"),
    })
}

/// The admin's user name goes into the token's claims, split on dots by
/// Snowflake: blanks and control characters are refused.
fn check_admin_user(admin_user: &str, location: &Location) -> Result<()> {
    if admin_user
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Error::invalid(
            "login",
            location.clone(),
            "a Snowflake user name to sign in with holds no blank or control character",
        ));
    }
    Ok(())
}

/// Refuses a password [`sql::string_literal`] cannot quote, before anything
/// is sent.
fn check_password(password: &Secret) -> Result<()> {
    sql::string_literal(
        password.expose(),
        &mut zeroize::Zeroizing::new(String::new()),
    )
    .map_err(|problem| Error::Invalid {
        name: "newPassword".into(),
        location: Location::Params,
        problem: format!(
            "{problem}; adjust the PAM User record's password complexity and rotate again \
                 (nothing was sent)"
        ),
    })
}

/// An account identifier: `myorg-myaccount`, or a locator with its region
/// (`xy12345.us-east-1`). It names a host and goes into the token's claims:
/// only letters, digits, `-`, `_` and `.` are taken.
fn check_account(account: &str, location: &Location) -> Result<()> {
    let valid = !account.is_empty()
        && account.len() <= 255
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !account.starts_with(['.', '-'])
        && !account.ends_with(['.', '-'])
        && !account.contains("..");
    let host = account.to_ascii_lowercase().contains("snowflakecomputing");
    if !valid || host {
        return Err(Error::invalid(
            "snowflake_account_name",
            location.clone(),
            "an account identifier is the organisation and account name (myorg-myaccount) or \
             an account locator (xy12345, xy12345.us-east-1), without https:// or \
             .snowflakecomputing.com; a private link or another URL goes in snowflake_url",
        ));
    }
    Ok(())
}

/// `https://<account>.snowflakecomputing.com`, the account's `_` written
/// `-` as a host name must be.
fn default_url(account: &str, location: &Location) -> Result<Url> {
    let host = account.to_ascii_lowercase().replace('_', "-");
    Url::parse(&format!("https://{host}.snowflakecomputing.com")).map_err(|e| {
        Error::invalid(
            "snowflake_account_name",
            location.clone(),
            format!("it makes no host name ({e}); set snowflake_url"),
        )
    })
}

/// The user record's field holding the private key: `privatePEMKey`.
pub const PEM_FIELD: &str = "privatePEMKey";
/// Or a `keyPair` field (its `privateKey` and `publicKey`).
pub const PAIR_FIELD: &str = "keyPair";

/// Whether the Gateway's user record holds a private key; a
/// `privatePEMKey` that is not text is an error naming the field and the
/// record (exit 2), not a password rotation.
pub fn key_in_input(input: &common::gateway::GatewayInput) -> Result<bool> {
    let Some(user) = input.records.user() else {
        return Ok(false);
    };
    Ok(user.text(PEM_FIELD)?.is_some() || private_of(user.value(PAIR_FIELD)).is_some())
}

/// A `keyPair` value's private key, when it holds one.
pub(crate) fn private_of(pair: Option<&Value>) -> Option<&str> {
    let private = match pair? {
        Value::Object(map) => map.get("privateKey"),
        Value::Array(items) => items.iter().find_map(|i| i.get("privateKey")),
        _ => None,
    };
    private
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_identifier_is_a_name_or_a_locator_and_nothing_else() {
        for good in [
            "myorg-myaccount",
            "xy12345",
            "xy12345.us-east-1",
            "my_org-acct",
        ] {
            assert!(check_account(good, &Location::Params).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "https://x.snowflakecomputing.com",
            "x.snowflakecomputing.com",
            "a/b",
            "a b",
            ".x",
            "x.",
            "a..b",
        ] {
            assert!(check_account(bad, &Location::Params).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_url_is_the_account_host_with_underscores_as_hyphens() {
        let url = default_url("My_Org-acct", &Location::Params).expect("a URL");
        assert_eq!(url.as_str(), "https://my-org-acct.snowflakecomputing.com/");
    }

    #[test]
    fn a_password_that_cannot_be_quoted_is_refused_without_showing_it() {
        let refused = check_password(&Secret::new("Abc-def\n1")).unwrap_err();
        assert_eq!(refused.exit(), common::Exit::BadInput);
        assert!(!refused.to_string().contains("Abc"), "{refused}");
        assert!(check_password(&Secret::new("a'b\\c\"d;--$$")).is_ok());
    }
}
