//! Tenable's API as this binary uses it, in its two flavours: Tenable
//! Vulnerability Management (Tenable.io: `X-ApiKeys: accessKey=…;
//! secretKey=…;`, answers as they are) and Security Center (`x-apikey:
//! accesskey=…; secretkey=…;`, every answer wrapped in `{"response": …,
//! "error_code": …, "error_msg": …}`). Kept apart from the rotation so that
//! what is sent, and how an answer is shown, is read in one place: nothing
//! of a body is shown but its known error fields, each through
//! [`http::shown`].

use common::cli;
use common::error::{Error, Location, Result};
use common::http::{self, Replay, Request, Response};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::Value;

use crate::config::{Flavour, Service};

/// One Tenable, its keys, and how to talk to it.
#[derive(Debug)]
pub struct Tenable {
    pub flavour: Flavour,
    pub url: Url,
    access_key: Secret,
    secret_key: Secret,
    pub location: Location,
    pub client: http::Client,
}

/// A user as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Tenable's id: a number (Tenable.io) or a string of digits (Security
    /// Center); it goes into the change's path.
    pub id: String,
    pub username: String,
    /// Security Center's `authType` (`tns` is a password Security Center
    /// keeps); Tenable.io's `type` (`local`).
    pub kind: String,
}

impl Tenable {
    pub fn new(service: &Service<'_>, client: http::Client) -> Self {
        Self {
            flavour: service.flavour,
            url: service.url.clone(),
            access_key: service.access_key.clone(),
            secret_key: service.secret_key.clone(),
            location: service.admin.location(),
            client,
        }
    }

    /// The base URL with `segments` appended, each percent-encoded as one
    /// path segment.
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        http::endpoint(&self.url, segments)
    }

    /// A request with the API keys.
    pub fn request(&self, method: Method, url: Url) -> Result<Request> {
        let (header, template) = match self.flavour {
            Flavour::Io => ("X-ApiKeys", "accessKey={}; secretKey={};"),
            Flavour::Sc => ("x-apikey", "accesskey={}; secretkey={};"),
        };
        Request::new(method, url)
            .secret_header_template(header, template, &[&self.access_key, &self.secret_key])?
            .header("Accept", "application/json")
    }

    /// The users' endpoint, or one user's.
    pub fn users_url(&self, id: Option<&str>) -> Url {
        let mut segments = vec![match self.flavour {
            Flavour::Io => "users",
            Flavour::Sc => "user",
        }];
        segments.extend(id);
        self.endpoint(&segments)
    }

    /// Lists the users (a read, retried as reads are): each entry as its
    /// user name and the user, or why it cannot be rotated.
    pub fn users(&self) -> Result<Vec<Listed>> {
        let mut url = self.users_url(None);
        if self.flavour == Flavour::Sc {
            url.set_query(Some("fields=id,username,authType"));
        }
        let request = self.request(Method::GET, url)?;
        let target = request.target();
        let response = cli::block_on(self.client.send(&request, Replay::Safe))??;
        let body = self.answer(&target, &response, "listing the users")?;
        let items = match (self.flavour, &body) {
            (Flavour::Io, Value::Object(map)) => map.get("users"),
            (Flavour::Sc, Value::Array(_)) => Some(&body),
            _ => None,
        };
        let Some(Value::Array(items)) = items else {
            return Err(Error::Failed(format!(
                "{target}: the answer is not a list of users"
            )));
        };
        Ok(items
            .iter()
            .map(|item| Listed::from_json(item, self.flavour))
            .collect())
    }

    /// The body of a successful answer (Security Center's `response`), or
    /// the refusal as the error that says what to fix.
    pub fn answer(&self, target: &str, response: &Response, doing: &str) -> Result<Value> {
        if !response.status.is_success() {
            return Err(self.refused(target, response, doing));
        }
        let body: Value = response
            .json()
            .map_err(|e| Error::Failed(format!("{target}: the answer is not JSON ({e})")))?;
        match self.flavour {
            Flavour::Io => Ok(body),
            Flavour::Sc => match sc_error_code(&body) {
                Some(0) => Ok(body.get("response").cloned().unwrap_or(Value::Null)),
                _ => Err(self.refused(target, response, doing)),
            },
        }
    }

    /// Sends the change through `client` once; a 2xx means it was made, and
    /// so does nothing else (see [`http::Client::send_change`]).
    pub fn send_change(&self, client: &http::Client, request: &Request) -> Result<Response> {
        cli::block_on(client.send_change(request, |s| s.is_success()))?
    }

    /// A refused request as the error that says what to fix.
    pub fn refused(&self, target: &str, response: &Response, doing: &str) -> Error {
        let status = response.status.as_u16();
        let advice = match (status, self.flavour) {
            (401, _) => format!(
                "; check tenable_access_key and tenable_secret_key in {} (and that the keys' \
                 user may manage users)",
                self.location
            ),
            (403, Flavour::Sc) => format!(
                "; Security Center answers 403 for keys it does not take, for a user the keys' \
                 user may not manage, and for a current password (the Gateway's oldPassword) \
                 the user does not have: check tenable_access_key and tenable_secret_key in {} \
                 and the PAM User record's password",
                self.location
            ),
            (403, Flavour::Io) => format!(
                "; the keys in {} belong to a user who may not do this (changing a password \
                 takes the Administrator role)",
                self.location
            ),
            (404, _) => "; the user is gone, or the URL is not Tenable's API".into(),
            (429, _) => "; Tenable's rate limit".into(),
            _ => String::new(),
        };
        Error::Failed(format!(
            "{doing} failed: {target} answered HTTP {status} ({}){advice}",
            self.error_text(response)
        ))
    }

    /// What an error answer says: Security Center's `error_code` and
    /// `error_msg`, or Tenable.io's `error` and `message`, each shown.
    pub fn error_text(&self, response: &Response) -> String {
        match self.flavour {
            Flavour::Io => response.error_fields(),
            Flavour::Sc => {
                let Ok(body) = response.json::<Value>() else {
                    return http::unshown(&response.body);
                };
                let mut parts = Vec::new();
                if let Some(code) = sc_error_code(&body) {
                    parts.push(format!("error_code: {code}"));
                }
                if let Some(text) = body.get("error_msg").and_then(Value::as_str)
                    && !text.trim().is_empty()
                {
                    parts.push(format!("error_msg: {}", http::shown(text)));
                }
                if parts.is_empty() {
                    format!(
                        "a JSON body of {} bytes with no known error field (not shown)",
                        response.body.len()
                    )
                } else {
                    parts.join("; ")
                }
            }
        }
    }
}

/// Security Center's `error_code` (a number, or digits in a string).
pub fn sc_error_code(body: &Value) -> Option<i64> {
    match body.get("error_code")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One entry of the listing: its user name, and the user it describes or
/// why that user cannot be rotated.
#[derive(Debug, Clone)]
pub struct Listed {
    pub username: Option<String>,
    pub user: std::result::Result<User, &'static str>,
}

impl Listed {
    fn from_json(item: &Value, flavour: Flavour) -> Self {
        let text = |key: &str| item.get(key).and_then(Value::as_str);
        Self {
            username: text("username").map(str::to_owned),
            user: User::from_json(item, flavour),
        }
    }
}

impl User {
    /// A listed user, when its id is one Tenable gives (digits: it goes
    /// into the change's path and into messages) and it says what kind of
    /// account it is where the rotation depends on it.
    fn from_json(item: &Value, flavour: Flavour) -> std::result::Result<Self, &'static str> {
        let id = match item.get("id") {
            Some(Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err("its id is not a Tenable id (withheld)");
        }
        let username = item
            .get("username")
            .and_then(Value::as_str)
            .ok_or("it has no username")?;
        let kind = match flavour {
            Flavour::Io => item.get("type").and_then(Value::as_str).unwrap_or("local"),
            Flavour::Sc => item
                .get("authType")
                .and_then(Value::as_str)
                .ok_or("it does not say how it signs in (authType)")?,
        };
        Ok(Self {
            id,
            username: username.to_owned(),
            kind: kind.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_user_without_a_tenable_id_is_not_taken() {
        let user = |id: Value| {
            User::from_json(
                &json!({"id": id, "username": "a", "authType": "tns"}),
                Flavour::Sc,
            )
        };
        assert!(user(json!(7)).is_ok());
        assert!(user(json!("12")).is_ok());
        for bad in [
            json!(""),
            json!("1/../2"),
            json!(-1),
            json!(1.5),
            json!(null),
        ] {
            assert!(user(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_security_center_user_that_does_not_say_how_it_signs_in_is_not_taken() {
        let entry = json!({"id": "3", "username": "a"});
        assert!(User::from_json(&entry, Flavour::Sc).is_err());
        assert!(User::from_json(&entry, Flavour::Io).is_ok());
    }
}
