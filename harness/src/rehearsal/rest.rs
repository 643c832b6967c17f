//! `rotate-rest-api`: a REST password endpoint, seeded with the PAM User's
//! account and password and the API record's token, header and body shape
//! (a [`PasswordRotator`]).

use rotate_rest_api::config::DEFAULT_TITLES;
use rotate_rest_api::template::{Template, quote_bare_placeholders};
use serde_json::Value;

use super::password::{Dict, PasswordRotator, Seeded, Words};
use super::world::{Staging, lookup_text};
use crate::fakes::rest::FakeRest;
use crate::faults::ProxiedRequest;

/// The request header carrying the token, lower case.
pub(super) struct Rest {
    auth_header: String,
}

/// A field as the binary reads it (the shared lookup: ignoring case,
/// numbered duplicates).
fn text(dict: &Dict, key: &str) -> Option<String> {
    lookup_text(dict, key)
}

/// The JSON pointer of the first string in `json` containing `needle`.
fn pointer_to(json: &Value, needle: &str, at: &str) -> Option<(String, String)> {
    match json {
        Value::String(s) if s.contains(needle) => Some((at.to_owned(), s.clone())),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let key = k.replace('~', "~0").replace('/', "~1");
            pointer_to(v, needle, &format!("{at}/{key}"))
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| pointer_to(v, needle, &format!("{at}/{i}"))),
        _ => None,
    }
}

/// The first status `success_status` accepts: `201`, `200, 204` → 200,
/// `2xx` → 200; none given → 201, the fake's (and a typical API's) answer.
fn success_status(text: Option<&str>) -> u16 {
    let Some(text) = text else { return 201 };
    for token in text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| t.trim_matches('"').to_ascii_lowercase())
        .filter(|t| !t.is_empty())
    {
        if let Ok(status @ 100..=599) = token.parse::<u16>() {
            return status;
        }
        if let Some(class) = token.strip_suffix("xx")
            && let Ok(class @ 1..=5) = class.parse::<u16>()
        {
            return class * 100;
        }
    }
    201
}

impl PasswordRotator for Rest {
    type Fake = FakeRest;
    const NAME: &'static str = "rest";
    const FAKE: &'static str = "the fake API";
    const TITLE_FIELD: &'static str = "api_record_title";
    const DEFAULT_TITLES: &'static [&'static str] = &DEFAULT_TITLES;
    const FOUND_BY_URL: Option<&'static str> = None;
    const NO_API_RECORD: &'static str = "no API record the binary would pick \
        (api_record_title, 'API Access Details', 'Record with Access Token', or the only record \
        with url and password): the fake expects a token nobody has";

    fn last_resort(dict: &Dict) -> bool {
        text(dict, "url").is_some() && text(dict, "password").is_some()
    }

    /// The account named by the body template's `{{user}}` (the PAM User's
    /// login) with the PAM User's password, the token in the record's
    /// `auth_header` with its `auth_scheme`, and the body's shape (where
    /// `{{user}}` and `{{newPassword}}` are).
    fn start(api: Option<&Dict>, token: &str, staging: &Staging) -> Seeded<Self> {
        let header = api
            .and_then(|d| text(d, "auth_header"))
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|| "Authorization".into());
        let prefix = match api.and_then(|d| text(d, "auth_scheme")) {
            Some(s) if s.trim().eq_ignore_ascii_case("none") => String::new(),
            Some(s) => format!("{} ", s.trim()),
            None if header.eq_ignore_ascii_case("Authorization") => "Bearer ".into(),
            None => String::new(),
        };
        // The record's body read as the binary reads it (its quoting of bare
        // placeholders), else the binary's own default body.
        let template: Value = match api.and_then(|d| text(d, "body_template")) {
            Some(text) => {
                serde_json::from_str(&quote_bare_placeholders(&text)).unwrap_or(Value::Null)
            }
            None => Template::default_body().json().clone(),
        };
        let login = staging.param("user");
        let uid = staging.param("userRecordUid");
        let user_at = pointer_to(&template, "{{user}}", "");
        let account = match &user_at {
            Some((_, shape)) => shape
                .replace("{{user}}", &login)
                .replace("{{userRecordUid}}", &uid),
            None => login.clone(),
        };
        let password_pointer = pointer_to(&template, "{{newPassword}}", "")
            .map(|(p, _)| p)
            .unwrap_or_else(|| "/newPassword".into());
        let status = success_status(api.and_then(|d| text(d, "success_status")).as_deref());
        let fake = FakeRest::start(token)
            .expect_token(&header, &format!("{prefix}{token}"))
            .body_pointers(
                user_at.as_ref().map(|(p, _)| p.as_str()).unwrap_or(""),
                &password_pointer,
            )
            .success_status(status)
            .with_account(&account, &staging.param("oldPassword"));
        let account_line = format!(
            "account '{account}' whose password is the PAM User's (oldPassword); the body \
             carries the account at {} and the new password at {password_pointer}",
            user_at
                .as_ref()
                .map_or("(nowhere: the fake's only account is changed)", |(p, _)| p
                    .as_str())
        );
        Seeded {
            rotator: Rest {
                auth_header: header.to_ascii_lowercase(),
            },
            fake,
            account,
            token: format!("expected as {header}: {prefix}********; answers {status} on success"),
            account_lines: vec![account_line],
        }
    }

    /// The fake's address with the record's path and query.
    fn url(fake: &FakeRest, was: &str) -> String {
        let path = url::Url::parse(was.trim())
            .map(|u| {
                let mut path = u.path().to_owned();
                if let Some(query) = u.query() {
                    path.push('?');
                    path.push_str(query);
                }
                path
            })
            .unwrap_or_else(|_| "/".into());
        fake.url(&path)
    }

    fn password_of(fake: &FakeRest, account: &str) -> Option<String> {
        fake.password_of(account)
    }

    fn describe(&self, request: &ProxiedRequest) -> String {
        let mut lines = Vec::new();
        for name in [self.auth_header.as_str(), "content-type"] {
            if let Some(value) = request.header(name) {
                lines.push(format!("{name}: {value}"));
            }
        }
        if !request.query.is_empty() {
            lines.push(format!("query: {}", request.query));
        }
        lines.push(format!("body: {}", String::from_utf8_lossy(&request.body)));
        lines.join("\n")
    }

    fn words(account: &str) -> Words {
        Words {
            holder: "the account".into(),
            account: format!("the account '{account}'"),
            password: format!("{account}'s password on the fake"),
            short: "the account",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_answers_the_first_status_the_record_accepts() {
        assert_eq!(success_status(None), 201);
        assert_eq!(success_status(Some("200, 204")), 200);
        assert_eq!(success_status(Some("2xx")), 200);
        assert_eq!(success_status(Some("[202, 200]")), 202);
    }

    #[test]
    fn the_body_shape_is_found_where_the_placeholders_are() {
        let template: Value = serde_json::from_str(&quote_bare_placeholders(
            r#"{"data": {"login": "{{user}}", "pw": {{newPassword}}}}"#,
        ))
        .unwrap_or(Value::Null);
        assert_eq!(
            pointer_to(&template, "{{user}}", "").map(|(p, _)| p),
            Some("/data/login".into())
        );
        assert_eq!(
            pointer_to(&template, "{{newPassword}}", "").map(|(p, _)| p),
            Some("/data/pw".into())
        );
    }
}
