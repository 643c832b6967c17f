//! The request body: the default `{"userEmail", "newPassword"}` object, or the
//! API record's `body_template` with `{{placeholders}}` substituted.
//!
//! Placeholders are replaced inside the parsed JSON, and the body is then
//! serialised, so every value arrives correctly escaped: a password with
//! quotes, backslashes or any unicode character is sent intact. A placeholder
//! written bare (`{"pw": {{newPassword}}}`) is read as if it were quoted.

use common::error::{Error, Location, Result};
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 4] = ["user", "newPassword", "oldPassword", "userRecordUid"];

/// The values substituted for the placeholders. `None` where the run has no
/// such value.
#[derive(Debug)]
pub struct Values<'a> {
    pub user: &'a str,
    pub new_password: &'a str,
    pub old_password: Option<&'a str>,
    pub user_record_uid: &'a str,
}

/// A body template, parsed and checked.
#[derive(Debug, Clone)]
pub struct Template {
    json: Value,
}

impl Template {
    /// The docs' request: `{"userEmail": user, "newPassword": newPassword}`.
    pub fn default_body() -> Self {
        let mut map = Map::new();
        map.insert("userEmail".into(), Value::String("{{user}}".into()));
        map.insert(
            "newPassword".into(),
            Value::String("{{newPassword}}".into()),
        );
        Self {
            json: Value::Object(map),
        }
    }

    /// Parses `text` (the `body_template` field of `location`), rejecting
    /// invalid JSON and unknown placeholders.
    pub fn parse(text: &str, location: &Location) -> Result<Self> {
        Self::parse_field(text, "body_template", location)
    }

    /// Parses `text`, the field `field` of `location`, as [`Template::parse`]
    /// does.
    pub fn parse_field(text: &str, field: &str, location: &Location) -> Result<Self> {
        let quoted = quote_bare_placeholders(text);
        let json: Value = serde_json::from_str(&quoted).map_err(|e| {
            Error::invalid(
                field,
                location.clone(),
                format!(
                    "not valid JSON ({e}); write placeholders such as {{{{newPassword}}}} inside a JSON object"
                ),
            )
        })?;
        let template = Self { json };
        for name in template.placeholders() {
            if !PLACEHOLDERS.contains(&name.as_str()) {
                return Err(Error::invalid(
                    field,
                    location.clone(),
                    format!(
                        "unknown placeholder {{{{{name}}}}}; the known ones are {}",
                        PLACEHOLDERS.map(|p| format!("{{{{{p}}}}}")).join(", ")
                    ),
                ));
            }
        }
        Ok(template)
    }

    /// The body as parsed, placeholders still in it (the harness's
    /// rehearsal finds where they are).
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The placeholder names the template uses, in order of appearance.
    pub fn placeholders(&self) -> Vec<String> {
        let mut names = Vec::new();
        visit_strings(&self.json, &mut |s| {
            for name in placeholders_in(s) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        });
        names
    }

    /// The top-level keys of the body, for the dry-run plan.
    pub fn top_level_keys(&self) -> Vec<String> {
        match &self.json {
            Value::Object(map) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The body with every placeholder replaced, serialised. The caller
    /// checks first that every placeholder has a value
    /// ([`Template::placeholders`]); one without is replaced by "".
    pub fn render(&self, values: &Values<'_>) -> Zeroizing<Vec<u8>> {
        let mut json = self.json.clone();
        substitute(&mut json, values);
        let body = Zeroizing::new(serde_json::to_vec(&json).unwrap_or_default());
        common::records::wipe_json(&mut json);
        body
    }
}

/// Finds `{{ name }}` in a string: the names, trimmed.
fn placeholders_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        names.push(after[..close].trim().to_owned());
        rest = &after[close + 2..];
    }
    names
}

fn replace_in(text: &str, values: &Values<'_>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        out.push_str(&rest[..open]);
        let value = match after[..close].trim() {
            "user" => values.user,
            "newPassword" => values.new_password,
            "oldPassword" => values.old_password.unwrap_or_default(),
            "userRecordUid" => values.user_record_uid,
            _ => "",
        };
        out.push_str(value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

fn substitute(json: &mut Value, values: &Values<'_>) {
    match json {
        Value::String(s) => {
            if s.contains("{{") {
                let mut replaced = replace_in(s, values);
                std::mem::swap(s, &mut replaced);
                replaced.zeroize();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, values)),
        Value::Object(map) => {
            // Keys may hold placeholders too; rebuild the map in order.
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (key, mut value) in entries {
                substitute(&mut value, values);
                let key = if key.contains("{{") {
                    replace_in(&key, values)
                } else {
                    key
                };
                map.insert(key, value);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn visit_strings(json: &Value, f: &mut impl FnMut(&str)) {
    match json {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| visit_strings(v, f)),
        Value::Object(map) => {
            for (key, value) in map {
                f(key);
                visit_strings(value, f);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Wraps `{{name}}` written outside a JSON string in quotes, so both
/// `"{{user}}"` and `{{user}}` are accepted. Public for the harness's
/// rehearsal, which reads a record's body the way this binary does.
pub fn quote_bare_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> Location {
        Location::Record {
            title: "API".into(),
            uid: "a".into(),
        }
    }

    fn values<'a>(new: &'a str, old: Option<&'a str>) -> Values<'a> {
        Values {
            user: "alice@example.com",
            new_password: new,
            old_password: old,
            user_record_uid: "UID1",
        }
    }

    #[test]
    fn hostile_passwords_arrive_intact() {
        let template = Template::parse(
            r#"{"login": "{{user}}", "auth": {"new": "{{ newPassword }}", "old": "{{oldPassword}}"}, "tag": "id-{{userRecordUid}}"}"#,
            &loc(),
        )
        .unwrap();
        let new = "q\"uote\\back\u{0}slash é 🙂 {{user}}";
        let body = template.render(&values(new, Some("o'ld\n")));
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["auth"]["new"], new);
        assert_eq!(parsed["auth"]["old"], "o'ld\n");
        assert_eq!(parsed["login"], "alice@example.com");
        assert_eq!(parsed["tag"], "id-UID1");
    }

    #[test]
    fn bare_placeholders_are_accepted() {
        let template = Template::parse(r#"{"pw": {{newPassword}}, "s": "a {{x"}"#, &loc());
        // "{{x" inside a string is not a placeholder (no closing braces).
        let template = template.unwrap();
        let body = template.render(&values("p\"w", None));
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["pw"], "p\"w");
    }

    #[test]
    fn unknown_placeholders_and_bad_json_are_rejected_by_name() {
        let err = Template::parse(r#"{"a": "{{password}}"}"#, &loc()).unwrap_err();
        assert!(
            err.to_string().contains("unknown placeholder {{password}}"),
            "{err}"
        );
        let err = Template::parse(r#"{"a": "#, &loc()).unwrap_err();
        assert!(
            err.to_string().contains("'body_template' in record 'API'"),
            "{err}"
        );
        assert_eq!(err.exit().code(), 2);
    }

    #[test]
    fn the_default_body_is_the_documented_one() {
        let body = Template::default_body().render(&values("N", None));
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"userEmail": "alice@example.com", "newPassword": "N"})
        );
    }
}
