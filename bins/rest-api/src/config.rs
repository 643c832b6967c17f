//! What the rotation needs, read from the Gateway's input: the API record
//! (url, token, customisations) and the account whose password changes.

use common::error::{Error, Location, Result};
use common::gateway::GatewayInput;
use common::http::{self, Request};
use common::records::{AdminRecord, Record, Records};
use common::secret::Secret;
use reqwest::{Method, StatusCode};

use crate::template::{Template, Values};

/// Titles the API record may have: the docs' and the docs' script's.
pub const DEFAULT_TITLES: [&str; 2] = ["API Access Details", "Record with Access Token"];

/// Everything needed to send the password change, checked.
#[derive(Debug)]
pub struct Plan<'a> {
    pub api_record: &'a Record,
    pub url: reqwest::Url,
    pub method: Method,
    pub auth_header: String,
    /// The scheme before the token (`"Bearer "`), empty for none.
    pub auth_prefix: String,
    pub token: Secret,
    pub template: Template,
    pub success: Success,
    pub user: &'a str,
    pub user_record_uid: &'a str,
    pub new_password: &'a Secret,
    pub old_password: Option<&'a Secret>,
    /// The request that proves the new password after the change, if the
    /// API record names one (`verify_url`).
    pub verify: Option<Verify>,
}

/// How the new password is proven: a request that succeeds only with it
/// (a sign-in). It carries the account and the new password, never the API
/// token (with the token, a request could succeed whatever the password).
#[derive(Debug)]
pub struct Verify {
    pub url: reqwest::Url,
    pub how: VerifyHow,
    pub success: Success,
}

/// The verify request's shape.
#[derive(Debug)]
pub enum VerifyHow {
    /// `POST` with a JSON body from `verify_body_template`.
    Post(Template),
    /// `GET` with HTTP Basic authentication as the account.
    GetBasic,
}

/// The verify request's default body.
pub const DEFAULT_VERIFY_BODY: &str = r#"{"username": "{{user}}", "password": "{{newPassword}}"}"#;

impl Verify {
    /// Reads `verify_url`, `verify_method`, `verify_body_template` and
    /// `verify_status` from the API record; `None` without `verify_url`.
    fn from_record(record: &Record) -> Result<Option<Self>> {
        let location = record.location();
        let Some(url) = record.text("verify_url")? else {
            for field in ["verify_method", "verify_body_template", "verify_status"] {
                if record.text(field)?.is_some() {
                    return Err(Error::invalid(
                        field,
                        location,
                        "is set but verify_url is not; set verify_url to the request that \
                         proves a password, or remove it"
                            .to_owned(),
                    ));
                }
            }
            return Ok(None);
        };
        let url = http::require_https(&url, "verify_url", &location)?;
        let method = record
            .text("verify_method")?
            .map(|m| m.trim().to_ascii_uppercase());
        let how = match method.as_deref() {
            None | Some("POST") => {
                let text = record
                    .text("verify_body_template")?
                    .unwrap_or_else(|| DEFAULT_VERIFY_BODY.to_owned());
                let template = Template::parse_field(&text, "verify_body_template", &location)?;
                let names = template.placeholders();
                if !names.iter().any(|n| n == "newPassword") {
                    return Err(Error::invalid(
                        "verify_body_template",
                        location,
                        "does not use {{newPassword}}, so it cannot prove the new password"
                            .to_owned(),
                    ));
                }
                if let Some(other) = names.iter().find(|n| *n != "newPassword" && *n != "user") {
                    return Err(Error::invalid(
                        "verify_body_template",
                        location,
                        format!(
                            "may use only {{{{user}}}} and {{{{newPassword}}}}, not {{{{{other}}}}}"
                        ),
                    ));
                }
                VerifyHow::Post(template)
            }
            Some("GET") => {
                if record.text("verify_body_template")?.is_some() {
                    return Err(Error::invalid(
                        "verify_body_template",
                        location,
                        "is set but verify_method is GET, which sends no body".to_owned(),
                    ));
                }
                VerifyHow::GetBasic
            }
            Some(other) => {
                return Err(Error::invalid(
                    "verify_method",
                    location,
                    format!("'{}' is not POST or GET", http::shown(other)),
                ));
            }
        };
        let success = match record.text("verify_status")? {
            Some(text) => Success::parse(&text)
                .map_err(|problem| Error::invalid("verify_status", location.clone(), problem))?,
            None => Success::default(),
        };
        Ok(Some(Self { url, how, success }))
    }

    /// The verify request for `user` and `password`.
    pub fn request(&self, user: &str, password: &Secret) -> Result<Request> {
        let request = match &self.how {
            VerifyHow::Post(template) => {
                let body = template.render(&Values {
                    user,
                    new_password: password.expose(),
                    old_password: None,
                    user_record_uid: "",
                });
                Request::new(Method::POST, self.url.clone()).json_body(body)
            }
            VerifyHow::GetBasic => {
                use base64::Engine as _;
                let pair = zeroize::Zeroizing::new(format!("{user}:{}", password.expose()));
                let basic =
                    Secret::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
                Request::new(Method::GET, self.url.clone()).secret_header(
                    "Authorization",
                    "Basic ",
                    &basic,
                )?
            }
        };
        request.header("Accept", "application/json")
    }

    pub fn target(&self) -> String {
        let method = match self.how {
            VerifyHow::Post(_) => "POST",
            VerifyHow::GetBasic => "GET",
        };
        format!("{method} {}", http::display_url(&self.url))
    }
}

impl<'a> Plan<'a> {
    pub fn from_input(input: &'a GatewayInput) -> Result<Self> {
        let user = input.require_user()?;
        let new_password = input.require_new_password()?;
        let user_record_uid = input.require_user_record_uid()?;
        let api_record = find_api_record(&input.records)?;
        let location = api_record.location();

        let url = http::require_https(&api_record.require_text("url")?, "url", &location)?;
        let token = api_record
            .require_secret("password")
            .map_err(|_| Error::Missing {
                name: "password".into(),
                location: location.clone(),
                hint: "; it holds the API token".into(),
            })?;
        let method = match api_record.text("http_method")? {
            None => Method::POST,
            Some(m) => match m.to_ascii_uppercase().as_str() {
                "POST" => Method::POST,
                "PUT" => Method::PUT,
                "PATCH" => Method::PATCH,
                _ => {
                    return Err(Error::invalid(
                        "http_method",
                        location,
                        format!("'{m}' is not POST, PUT or PATCH"),
                    ));
                }
            },
        };
        let auth_header = api_record
            .text("auth_header")?
            .unwrap_or_else(|| "Authorization".into());
        let auth_prefix = match api_record.text("auth_scheme")? {
            Some(s) if s.eq_ignore_ascii_case("none") => String::new(),
            Some(s) => format!("{s} "),
            None if auth_header.eq_ignore_ascii_case("Authorization") => "Bearer ".into(),
            None => String::new(),
        };
        let template = match api_record.text("body_template")? {
            Some(text) => Template::parse(&text, &location)?,
            None => Template::default_body(),
        };
        let old_password = input.old_password.as_ref();
        if template.placeholders().iter().any(|p| p == "oldPassword") && old_password.is_none() {
            return Err(Error::Missing {
                name: "oldPassword".into(),
                location: Location::Params,
                hint: format!("; the body_template of {location} uses {{{{oldPassword}}}}"),
            });
        }
        let success = match api_record.text("success_status")? {
            Some(text) => Success::parse(&text)
                .map_err(|problem| Error::invalid("success_status", location.clone(), problem))?,
            None => Success::default(),
        };
        let verify = Verify::from_record(api_record)?;
        // HTTP Basic cannot carry a user holding a colon (RFC 7617): every
        // proof would fail after a change that succeeded.
        if let Some(Verify {
            how: VerifyHow::GetBasic,
            ..
        }) = &verify
            && user.contains(':')
        {
            return Err(Error::invalid(
                "verify_method",
                location,
                "is GET, which signs in with HTTP Basic, and the user holds a ':' that HTTP \
                 Basic cannot carry; use POST with a verify_body_template"
                    .to_owned(),
            ));
        }
        if let Some(verify) = &verify
            && common::host_lock::same_service(verify.url.as_str(), url.as_str())
        {
            return Err(Error::invalid(
                "verify_url",
                location,
                "is the url that changes the password; name a request that only checks one (a \
                 sign-in), or remove verify_url"
                    .to_owned(),
            ));
        }
        let plan = Self {
            verify,
            api_record,
            url,
            method,
            auth_header,
            auth_prefix,
            token,
            template,
            success,
            user,
            user_record_uid,
            new_password,
            old_password,
        };
        // Build the request once now, so a header the HTTP stack refuses is
        // reported as bad input before anything is sent.
        plan.request()?;
        if let Some(verify) = &plan.verify {
            verify.request(plan.user, plan.new_password)?;
        }
        Ok(plan)
    }

    /// The password-change request.
    pub fn request(&self) -> Result<Request> {
        let body = self.template.render(&Values {
            user: self.user,
            new_password: self.new_password.expose(),
            old_password: self.old_password.map(Secret::expose),
            user_record_uid: self.user_record_uid,
        });
        Ok(Request::new(self.method.clone(), self.url.clone())
            .secret_header(&self.auth_header, &self.auth_prefix, &self.token)?
            .header("Accept", "application/json")?
            .json_body(body))
    }

    pub fn target(&self) -> String {
        format!("{} {}", self.method, http::display_url(&self.url))
    }
}

/// The API record: among the attached records (never the user record), the
/// one titled by the user record's `api_record_title`, else one of the
/// documented titles, else the single record holding both `url` and
/// `password`.
pub fn find_api_record(records: &Records) -> Result<&Record> {
    AdminRecord {
        noun: "API record",
        title_field: "api_record_title",
        titles: &DEFAULT_TITLES,
        marked: "holding both url and password",
        marker: &|r| r.has("url") && r.has("password"),
        foreign: None,
        attach: &format!(
            "a record titled '{}' holding the API's url and its token in password",
            DEFAULT_TITLES[0]
        ),
    }
    .find(records)
}

/// Which statuses mean the password changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Success {
    /// Any 2xx (the default).
    #[default]
    AnyOk,
    /// Exactly these statuses, or classes (`2` for `2xx`).
    Listed(Vec<StatusMatch>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    Exact(u16),
    Class(u16),
}

impl Success {
    /// Parses `201`, `200, 204`, `2xx` or a JSON list `[200, 201]`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let cleaned = text.trim().trim_start_matches('[').trim_end_matches(']');
        let mut list = Vec::new();
        for token in cleaned
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let token = token.trim_matches('"');
            let lower = token.to_ascii_lowercase();
            if let Some(class) = lower.strip_suffix("xx") {
                match class.parse::<u16>() {
                    Ok(c @ 1..=5) => list.push(StatusMatch::Class(c)),
                    _ => return Err(format!("'{token}' is not a status class such as 2xx")),
                }
            } else {
                match token.parse::<u16>() {
                    Ok(s @ 100..=599) => list.push(StatusMatch::Exact(s)),
                    _ => {
                        return Err(format!(
                            "'{token}' is not an HTTP status; write e.g. 200, 201 or 2xx"
                        ));
                    }
                }
            }
        }
        if list.is_empty() {
            return Err("lists no status; write e.g. 200, 201 or 2xx".into());
        }
        Ok(Self::Listed(list))
    }

    pub fn accepts(&self, status: StatusCode) -> bool {
        let code = status.as_u16();
        match self {
            Self::AnyOk => status.is_success(),
            Self::Listed(list) => list.iter().any(|m| match m {
                StatusMatch::Exact(s) => *s == code,
                StatusMatch::Class(c) => code / 100 == *c,
            }),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::AnyOk => "any HTTP 2xx".into(),
            Self::Listed(list) => format!(
                "HTTP {}",
                list.iter()
                    .map(|m| match m {
                        StatusMatch::Exact(s) => s.to_string(),
                        StatusMatch::Class(c) => format!("{c}xx"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_statuses_parse_in_every_documented_form() {
        for (text, ok, not_ok) in [
            ("201", 201, 200),
            ("200, 204", 204, 201),
            ("[200,201]", 201, 202),
            ("2xx", 299, 300),
            ("\"202\"", 202, 200),
        ] {
            let success = Success::parse(text).unwrap();
            assert!(success.accepts(StatusCode::from_u16(ok).unwrap()), "{text}");
            assert!(
                !success.accepts(StatusCode::from_u16(not_ok).unwrap()),
                "{text}"
            );
        }
        for bad in ["", "abc", "99", "7xx", "600"] {
            assert!(Success::parse(bad).is_err(), "{bad}");
        }
    }
}
