//! `rotate-rest-api`: a REST password endpoint, seeded with the PAM User's
//! account and password and the API record's token, header and body shape.

use serde_json::{Map, Value};

use super::Rehearsal;
use super::world::{
    Call, Service, Staging, is_loopback_url, lookup_text, password_end_state, password_unchanged,
    password_verdict, proxied_calls, repoint, which_password,
};
use crate::fakes::rest::FakeRest;
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, ProxiedRequest};
use crate::runner::Outcome;

/// The binary's default titles for the API record.
const DEFAULT_TITLES: [&str; 2] = ["API Access Details", "Record with Access Token"];
/// The binary's default body.
const DEFAULT_TEMPLATE: &str = r#"{"userEmail": "{{user}}", "newPassword": "{{newPassword}}"}"#;

struct Rest {
    fake: FakeRest,
    account: String,
    old: String,
    new: String,
    /// The request header carrying the token, lower case.
    auth_header: String,
    seeded: Vec<String>,
}

/// A field as the binary reads it (the shared lookup: ignoring case,
/// numbered duplicates).
fn text(dict: &Map<String, Value>, key: &str) -> Option<String> {
    lookup_text(dict, key)
}

fn title(dict: &Map<String, Value>) -> String {
    dict.get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The API record as the binary picks it: titled by the user record's
/// `api_record_title`, else one of the default titles, else the only record
/// holding `url` and `password`.
fn api_record(rehearsal: &Rehearsal) -> Option<Map<String, Value>> {
    let user = rehearsal
        .dicts
        .iter()
        .find(|d| d.get("uid").and_then(Value::as_str) == Some(rehearsal.roles.user.uid.as_str()));
    let titled = |wanted: &str| -> Vec<&Map<String, Value>> {
        let exact: Vec<_> = rehearsal
            .other_dicts()
            .filter(|d| title(d) == wanted)
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        rehearsal
            .other_dicts()
            .filter(|d| title(d).trim().eq_ignore_ascii_case(wanted.trim()))
            .collect()
    };
    let one = |found: Vec<&Map<String, Value>>| match found.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    };
    if let Some(wanted) = user.and_then(|u| text(u, "api_record_title")) {
        return one(titled(wanted.trim()));
    }
    let defaults: Vec<_> = DEFAULT_TITLES.iter().flat_map(|t| titled(t)).collect();
    if !defaults.is_empty() {
        return one(defaults);
    }
    one(rehearsal
        .other_dicts()
        .filter(|d| text(d, "url").is_some() && text(d, "password").is_some())
        .collect())
}

/// Quotes `{{name}}` written outside a JSON string, as the binary reads it.
fn quote_bare_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !in_string
            && rest.starts_with("{{")
            && let Some(close) = rest.find("}}")
        {
            out.push('"');
            out.push_str(&rest[..close + 2]);
            out.push('"');
            rest = &rest[close + 2..];
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
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

/// Seeds the REST API: the account named by the body template's `{{user}}`
/// (the PAM User's login) with the PAM User's password, the token of the API
/// record the binary will pick, in its `auth_header` with its `auth_scheme`,
/// and the body's shape (where `{{user}}` and `{{newPassword}}` are). That
/// record's `url` is pointed at the fake, keeping its path.
pub fn start(rehearsal: &Rehearsal, staging: &mut Staging) -> Result<Box<dyn Service>, String> {
    let mut seeded = Vec::new();
    let api = api_record(rehearsal);
    let token = api
        .as_ref()
        .and_then(|d| text(d, "password"))
        .unwrap_or_else(|| "no-api-record-token".into());
    let header = api
        .as_ref()
        .and_then(|d| text(d, "auth_header"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|| "Authorization".into());
    let prefix = match api.as_ref().and_then(|d| text(d, "auth_scheme")) {
        Some(s) if s.trim().eq_ignore_ascii_case("none") => String::new(),
        Some(s) => format!("{} ", s.trim()),
        None if header.eq_ignore_ascii_case("Authorization") => "Bearer ".into(),
        None => String::new(),
    };
    let template_text = api
        .as_ref()
        .and_then(|d| text(d, "body_template"))
        .unwrap_or_else(|| DEFAULT_TEMPLATE.into());
    let template: Value =
        serde_json::from_str(&quote_bare_placeholders(&template_text)).unwrap_or(Value::Null);
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
    let status = success_status(
        api.as_ref()
            .and_then(|d| text(d, "success_status"))
            .as_deref(),
    );
    let old = staging.param("oldPassword");
    let fake = FakeRest::start(&token)
        .expect_token(&header, &format!("{prefix}{token}"))
        .body_pointers(
            user_at.as_ref().map(|(p, _)| p.as_str()).unwrap_or(""),
            &password_pointer,
        )
        .success_status(status)
        .with_account(&account, &old);
    match &api {
        Some(dict) => {
            let was = text(dict, "url").unwrap_or_default();
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
            let now = fake.url(&path);
            let api_uid = text(dict, "uid").unwrap_or_default();
            let mut keys = Vec::new();
            if let Some(dict) = staging.dict_mut(&api_uid) {
                keys = repoint(dict, "url", &now);
                let read = lookup_text(dict, "url").unwrap_or_default();
                if !is_loopback_url(&read) {
                    return Err(format!(
                        "cannot point the url of '{}' at the fake API: the binary would read \
                         '{}'",
                        title(dict),
                        super::world::shown_url(&read)
                    ));
                }
            }
            staging.notes.push(format!(
                "the url of '{}' ({}; field {}) points at the fake API ({}) for this rehearsal",
                title(dict),
                super::world::shown_url(&was),
                keys.join(", "),
                super::world::shown_url(&now)
            ));
            seeded.push(format!(
                "API token from '{}', expected as {header}: {prefix}********; answers {status} \
                 on success",
                title(dict)
            ));
        }
        None => seeded.push(
            "no API record the binary would pick (api_record_title, 'API Access Details', \
             'Record with Access Token', or the only record with url and password): the fake \
             expects a token nobody has"
                .into(),
        ),
    }
    seeded.push(format!(
        "account '{account}' whose password is the PAM User's (oldPassword); the body carries \
         the account at {} and the new password at {password_pointer}",
        user_at
            .as_ref()
            .map_or("(nowhere: the fake's only account is changed)", |(p, _)| p
                .as_str())
    ));
    Ok(Box::new(Rest {
        fake,
        account,
        old,
        new: staging.param("newPassword"),
        auth_header: header.to_ascii_lowercase(),
        seeded,
    }))
}

/// A request, for the report (masked by the caller).
fn describe(request: &ProxiedRequest, auth_header: &str) -> String {
    let mut lines = Vec::new();
    for name in [auth_header, "content-type"] {
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

impl Service for Rest {
    fn name(&self) -> &'static str {
        "rest"
    }

    fn calls(&self) -> Vec<Call> {
        proxied_calls(self.fake.proxy(), |r| describe(r, &self.auth_header))
    }

    fn armable(&self) -> &dyn Armable {
        &self.fake
    }

    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn issued(&self) -> Vec<String> {
        vec![self.old.clone(), self.new.clone()]
    }

    fn seeded(&self) -> Vec<String> {
        self.seeded.clone()
    }

    fn verdict(&self, _vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        password_verdict(
            out,
            self.fake.password_of(&self.account).as_deref(),
            &self.old,
            &self.new,
        )
    }

    fn unchanged(&self, _vault: &FakeVault) -> Result<(), String> {
        password_unchanged(
            "the account",
            self.fake.password_of(&self.account).as_deref(),
            &self.old,
            &self.new,
        )
    }

    fn end_state(&self, _vault: &FakeVault) -> Vec<String> {
        password_end_state(
            &format!("the account '{}'", self.account),
            &format!("{}'s password on the fake", self.account),
            self.fake.password_of(&self.account).as_deref(),
            &self.old,
            &self.new,
        )
    }

    fn state_line(&self, _vault: &FakeVault) -> String {
        format!(
            "the account has {}",
            which_password(
                self.fake.password_of(&self.account).as_deref(),
                &self.old,
                &self.new
            )
        )
    }

    fn gateway_stores_password(&self) -> bool {
        true
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
