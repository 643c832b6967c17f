//! `rotate-snowflake-user`: Snowflake's SQL API for the admin record's
//! account, seeded with the admin user (its `login`, holding the public key
//! of its `privatePEMKey`) and a PERSON user with the PAM User's name and
//! password (a [`PasswordRotator`]).

use rotate_snowflake_user::config::DEFAULT_TITLE;
use rotate_snowflake_user::jwt::PrivateKey;
use rotate_snowflake_user::sql::is_unquoted_identifier;
use serde_json::Value;

use super::password::{Dict, PasswordRotator, Seeded, Words};
use super::world::{Staging, lookup_text};
use crate::fakes::snowflake::FakeSnowflake;
use crate::faults::ProxiedRequest;

pub(super) struct Snowflake;

/// A name as Snowflake stores it: upper-cased when it would be created
/// unquoted.
fn stored(name: &str) -> String {
    if is_unquoted_identifier(name) {
        name.to_ascii_uppercase()
    } else {
        name.to_owned()
    }
}

/// The admin's public key (base64 of its DER), from its `privatePEMKey` or
/// its `keyPair`'s private key.
fn admin_public_key(api: &Dict) -> Option<String> {
    let pem = lookup_text(api, "privatePEMKey").or_else(|| {
        api.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("keyPair"))
            .and_then(|(_, v)| match v {
                Value::Array(items) => items.first().cloned(),
                other => Some(other.clone()),
            })
            .and_then(|v| {
                v.get("privateKey")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
    })?;
    let key = PrivateKey::from_pem(&common::secret::Secret::new(pem)).ok()?;
    Some(key.public_key)
}

impl PasswordRotator for Snowflake {
    type Fake = FakeSnowflake;
    const NAME: &'static str = "snowflake";
    const FAKE: &'static str = "the fake Snowflake";
    const TITLE_FIELD: &'static str = "snowflake_record_title";
    const DEFAULT_TITLES: &'static [&'static str] = &[DEFAULT_TITLE];
    const FOUND_BY_URL: Option<&'static str> = None;
    const NO_API_RECORD: &'static str = "no admin record the binary would pick \
        (snowflake_record_title, 'Snowflake Authentication Record', or the only record with a \
        snowflake_account_name): the fake knows no admin key";
    const URL_FIELD: &'static str = "snowflake_url";
    const CHANGE_CALL: Option<&'static str> = Some("alter_user");
    const TOKEN_FIELD: &'static str = "privatePEMKey";

    fn last_resort(dict: &Dict) -> bool {
        lookup_text(dict, "snowflake_account_name").is_some()
    }

    /// Another admin's key: a private key Snowflake has no public key of.
    fn wrong_token() -> Option<String> {
        let key = PrivateKey::generate().ok()?;
        Some(key.to_pem().ok()?.expose().to_owned())
    }

    /// The account of the admin record's `snowflake_account_name`, holding
    /// the admin (its `login`, with the public key of its private key) and
    /// a PERSON user with the PAM User's name and password.
    fn start(api: Option<&Dict>, _token: &str, staging: &Staging) -> Seeded<Self> {
        let text = |name: &str| {
            api.and_then(|d| lookup_text(d, name))
                .map(|t| t.trim().to_owned())
                .unwrap_or_default()
        };
        let mut fake = FakeSnowflake::start(&text("snowflake_account_name"));
        let admin = text("login");
        let admin_key = api.and_then(admin_public_key);
        let mut account_lines = Vec::new();
        let token = match (&admin_key, admin.is_empty()) {
            (Some(key), false) => {
                fake = fake.with_admin(&admin.to_uppercase(), key);
                account_lines.push(format!(
                    "admin user '{}' holding the public key of the admin record's private key",
                    admin.to_uppercase()
                ));
                "expected as a key-pair JWT (Bearer ********)".into()
            }
            _ => "no admin user: the admin record has no login or no private key".into(),
        };
        let user = staging.param("user");
        let account = stored(&user);
        if user.is_empty() {
            account_lines.push("no user: the PAM User has no login".into());
        } else {
            fake = fake.with_user(&account, &staging.param("oldPassword"));
            account_lines.push(format!(
                "PERSON user '{account}' whose password is the PAM User's (oldPassword)"
            ));
        }
        Seeded {
            rotator: Snowflake,
            fake,
            account,
            token,
            account_lines,
        }
    }

    fn url(fake: &FakeSnowflake, _was: &str) -> String {
        fake.url()
    }

    fn password_of(fake: &FakeSnowflake, account: &str) -> Option<String> {
        fake.password_of(account)
    }

    /// The request line, the token's scheme (the JWT is the binary's own,
    /// which the caller's mask does not know) and the statement, its
    /// password literal masked here (the caller knows the password, not its
    /// quoted form).
    fn describe(&self, request: &ProxiedRequest) -> String {
        let mut lines = vec![format!("{} {}", request.method, request.path)];
        if let Some(auth) = request.header("authorization") {
            let scheme = auth.split_once(' ').map_or("", |(scheme, _)| scheme);
            lines.push(format!("authorization: {scheme} ********"));
        }
        if let Some(statement) = crate::fakes::snowflake::statement_of(request) {
            let shown = match statement.split_once(" PASSWORD = ") {
                Some((head, _)) => format!("{head} PASSWORD = '********'"),
                None => statement,
            };
            lines.push(format!("statement: {shown}"));
        }
        lines.join("\n")
    }

    fn words(name: &str) -> Words {
        Words::user_of("Snowflake", name)
    }
}
