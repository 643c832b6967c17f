//! Tenable's managed credentials as this binary reads them: finding one by
//! name, and what its details say (which never include its password:
//! Tenable.io masks every secret setting, Security Center shows `SET`).

use common::cli;
use common::error::{Error, Result};
use common::http::{self, Replay};
use common::records::names_a_secret;
use common::secret;
use reqwest::Method;
use rotate_tenable_user::config::Flavour;
use rotate_tenable_user::tenable::Tenable;
use serde_json::Value;

/// A managed credential, as its listing and details show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    /// Tenable.io's `uuid` or Security Center's `id`: it goes into the
    /// update's path.
    pub id: String,
    pub name: String,
    /// How it authenticates: Tenable.io's `settings.auth_method`, Security
    /// Center's `authType`.
    pub auth: String,
    /// Tenable.io: the credential's details (name, description, settings),
    /// sent back with the new password. Security Center: `Null`.
    pub details: Value,
    /// Security Center's `modifiedTime` (seconds), read before the update
    /// and after it; Tenable.io: `None`.
    pub modified: Option<u64>,
}

/// The credential named `name` among those the keys' user may edit.
/// Every listed entry with that name counts, so one whose id cannot be
/// trusted is never passed over for another.
pub fn find(tenable: &Tenable, name: &str) -> Result<Credential> {
    let product = tenable.flavour.product();
    let (editable, usable_only) = listed(tenable, name)?;
    let id = match (editable.as_slice(), usable_only) {
        ([one], _) => one.clone().map_err(|why| {
            Error::Failed(format!(
                "{product} lists a managed credential named '{name}', but {why}; nothing was \
                 changed"
            ))
        })?,
        ([], true) => {
            return Err(Error::Failed(format!(
                "the keys' user may use the {product} managed credential '{name}' but not edit \
                 it: give that user Can Edit on it (Tenable.io) or make it manage it (Security \
                 Center). Nothing was changed"
            )));
        }
        ([], false) => {
            return Err(Error::Failed(format!(
                "{product} has no managed credential named '{name}' (the PAM User record's login) \
                 that the keys of {} can see; nothing was changed",
                tenable.location
            )));
        }
        (several, _) => {
            return Err(Error::Failed(format!(
                "{product} lists {} managed credentials named '{name}'; which one to update is \
                 not guessed. Nothing was changed",
                several.len()
            )));
        }
    };
    details(tenable, &id, name)
}

type Entry = std::result::Result<String, &'static str>;

/// The ids of the listed credentials named `name` that the keys' user may
/// edit, and whether one it may only use has the name.
fn listed(tenable: &Tenable, name: &str) -> Result<(Vec<Entry>, bool)> {
    let mut url = tenable.endpoint(&[match tenable.flavour {
        Flavour::Io => "credentials",
        Flavour::Sc => "credential",
    }]);
    match tenable.flavour {
        Flavour::Io => {
            url.query_pairs_mut()
                .append_pair("f", &format!("name:eq:{name}"))
                .append_pair("limit", "200");
        }
        Flavour::Sc => url.set_query(Some("fields=id,name,type,authType")),
    }
    let request = tenable.request(Method::GET, url)?;
    let target = request.target();
    let response = cli::block_on(tenable.client.send(&request, Replay::Safe))??;
    let body = tenable.answer(&target, &response, "listing the managed credentials")?;
    fn named<'v>(items: Option<&'v Value>, name: &str, target: &str) -> Result<Vec<&'v Value>> {
        let Some(Value::Array(items)) = items else {
            return Err(Error::Failed(format!(
                "{target}: the answer is not a list of credentials"
            )));
        };
        Ok(items
            .iter()
            .filter(|c| c.get("name").and_then(Value::as_str) == Some(name))
            .collect())
    }
    match tenable.flavour {
        Flavour::Io => {
            // Tenable.io lists what the user may use; whether it may edit
            // one, the update's answer says (403).
            let found = named(body.get("credentials"), name, &target)?;
            Ok((found.into_iter().map(io_id).collect(), false))
        }
        Flavour::Sc => {
            let editable = named(body.get("manageable"), name, &target)?;
            let usable = named(body.get("usable"), name, &target)?;
            Ok((
                editable.into_iter().map(sc_id).collect(),
                !usable.is_empty(),
            ))
        }
    }
}

/// A Tenable.io credential's uuid: hex digits and dashes.
fn io_id(item: &Value) -> Entry {
    let uuid = item.get("uuid").and_then(Value::as_str).unwrap_or_default();
    let valid =
        (8..=64).contains(&uuid.len()) && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    valid
        .then(|| uuid.to_owned())
        .ok_or("its uuid is not a Tenable uuid (withheld)")
}

/// A Security Center credential's id: digits.
fn sc_id(item: &Value) -> Entry {
    let id = match item.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        _ => String::new(),
    };
    let valid = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    valid
        .then_some(id)
        .ok_or("its id is not a Tenable id (withheld)")
}

/// The credential's details (a read, retried as reads are).
pub fn details(tenable: &Tenable, id: &str, name: &str) -> Result<Credential> {
    let mut url = tenable.endpoint(&[
        match tenable.flavour {
            Flavour::Io => "credentials",
            Flavour::Sc => "credential",
        },
        id,
    ]);
    if tenable.flavour == Flavour::Sc {
        url.set_query(Some("fields=id,name,type,authType,password,modifiedTime"));
    }
    let request = tenable.request(Method::GET, url)?;
    let target = request.target();
    let response = cli::block_on(tenable.client.send(&request, Replay::Safe))??;
    let body = tenable.answer(&target, &response, "reading the managed credential")?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let (auth, has_password, modified) = match tenable.flavour {
        Flavour::Io => {
            let settings = body.get("settings").cloned().unwrap_or(Value::Null);
            register_secrets(&settings);
            (
                text(&settings, "auth_method").unwrap_or_else(|| "Password".into()),
                settings.get("password").is_some_and(Value::is_string),
                None,
            )
        }
        Flavour::Sc => (
            text(&body, "authType").unwrap_or_default(),
            text(&body, "password").is_some_and(|p| p == "SET"),
            text(&body, "modifiedTime").and_then(|t| t.trim().parse().ok()),
        ),
    };
    if !auth.eq_ignore_ascii_case("password") {
        return Err(Error::Config(format!(
            "the managed credential '{name}' authenticates with {} (its auth method), not a \
             password: there is no password in it to update. Attach this script to the record \
             whose password the credential holds; nothing was changed",
            http::shown(&auth)
        )));
    }
    if !has_password {
        return Err(Error::Failed(format!(
            "{target}: the managed credential '{name}' shows no password setting; nothing was \
             changed"
        )));
    }
    Ok(Credential {
        id: id.to_owned(),
        name: name.to_owned(),
        auth,
        details: match tenable.flavour {
            Flavour::Io => body,
            Flavour::Sc => Value::Null,
        },
        modified,
    })
}

/// Registers for redaction every secret setting a credential's details
/// show other than masked (Tenable masks them; a broken or hostile service
/// may not): the update sends them back, and an answer may echo them.
fn register_secrets(settings: &Value) {
    let Some(settings) = settings.as_object() else {
        return;
    };
    for (key, value) in settings {
        if let Value::String(text) = value
            && names_a_secret(key)
            && !text.chars().all(|c| c == '*')
        {
            secret::register(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_credential_without_a_tenable_id_is_not_taken() {
        assert!(io_id(&json!({"uuid": "c0ffee00-0000-4000-8000-000000000500"})).is_ok());
        for bad in ["", "../x", "c0ffee/1", "zzzzzzzz"] {
            assert!(io_id(&json!({ "uuid": bad })).is_err(), "{bad:?}");
        }
        assert!(sc_id(&json!({"id": "12"})).is_ok());
        for bad in [json!("1/2"), json!(""), json!(-3)] {
            assert!(sc_id(&json!({ "id": bad })).is_err(), "{bad}");
        }
    }
}
