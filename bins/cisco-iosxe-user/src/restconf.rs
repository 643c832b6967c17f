//! RESTCONF (RFC 8040) on a Cisco IOS XE device as this binary uses it: the
//! root, basic authentication, the `Cisco-IOS-XE-native` user list entry
//! (`/data/Cisco-IOS-XE-native:native/username=<name>`), and the device's
//! error answers (`ietf-restconf:errors`) turned into one clear message.
//! Kept apart from the rotation so that what is sent, and how an answer is
//! shown, is read in one place: nothing of a body is shown but its known
//! error fields, each through [`http::shown`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::cli;
use common::error::{Error, Location, Result};
use common::http::{self, Replay, Request, Response};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::Value;
use zeroize::Zeroizing;

/// The media type of RESTCONF's JSON encoding.
pub const YANG_JSON: &str = "application/yang-data+json";

/// The top-level name of the user list in a RESTCONF JSON document.
pub const USERNAME: &str = "Cisco-IOS-XE-native:username";

/// One device's RESTCONF root, the admin's credentials, and the client
/// (which trusts the device's certificate as the records say).
#[derive(Debug)]
pub struct Device {
    pub(crate) root: Url,
    pub(crate) admin: Secret,
    pub(crate) location: Location,
    pub(crate) client: http::Client,
}

/// The user as the device's configuration holds it.
#[derive(Debug)]
pub struct DeviceUser {
    /// `privilege` (1 when the configuration does not say).
    pub privilege: u8,
    /// `secret`: its type and the hash, when the user has one.
    pub secret: Option<(String, Secret)>,
    /// Whether the user has a (reversible) `password`.
    pub has_password: bool,
}

/// `Basic base64(login:password)`'s credentials part, registered for
/// redaction.
pub fn basic(login: &str, password: &Secret) -> Secret {
    let pair = Zeroizing::new(format!("{login}:{}", password.expose()));
    Secret::new(STANDARD.encode(pair.as_bytes()))
}

impl Device {
    /// `<root>/data/Cisco-IOS-XE-native:native/username=<user>`, the user
    /// name percent-encoded as RFC 8040 asks of a key (every character but
    /// letters, digits and `-._~`).
    pub(crate) fn user_url(&self, user: &str) -> Url {
        let mut key = String::new();
        for b in user.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                key.push(char::from(b));
            } else {
                key.push_str(&format!("%{b:02X}"));
            }
        }
        let mut url = self.root.clone();
        let path = format!(
            "{}/data/Cisco-IOS-XE-native:native/username={key}",
            self.root.path()
        );
        url.set_path(&path);
        url
    }

    /// `<root>/yang-library-version`: the smallest resource RFC 8040 makes
    /// every server have, read to prove a sign-in.
    pub(crate) fn sign_in_url(&self) -> Url {
        let mut url = self.root.clone();
        url.set_path(&format!("{}/yang-library-version", self.root.path()));
        url
    }

    /// A request as `auth` (a [`basic`] credential).
    pub(crate) fn request(&self, method: Method, url: Url, auth: &Secret) -> Result<Request> {
        Request::new(method, url)
            .secret_header("Authorization", "Basic ", auth)?
            .header("Accept", YANG_JSON)
    }

    /// The user's list entry, read as the admin: `None` when the device has
    /// no such user (404).
    pub(crate) fn read_user(&self, user: &str) -> Result<Option<DeviceUser>> {
        let request = self.request(Method::GET, self.user_url(user), &self.admin)?;
        let target = request.target();
        let response = cli::block_on(self.client.send(&request, Replay::Safe))??;
        match response.status.as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.refused(&target, &response, "reading the user")),
        }
        let body: Value = response
            .json()
            .map_err(|e| Error::Failed(format!("{target}: the answer is not JSON ({e})")))?;
        DeviceUser::from_json(&body, user)
            .map(Some)
            .map_err(|why| Error::Failed(format!("{target}: {why}")))
    }

    /// Sends the change once; 200, 201 and 204 mean it was made (see
    /// [`http::Client::send_change`] for what other answers mean).
    pub(crate) fn send_change(&self, client: &http::Client, request: &Request) -> Result<Response> {
        cli::block_on(client.send_change(request, |s| matches!(s.as_u16(), 200 | 201 | 204)))?
    }

    /// A refused request as the error that says what to fix.
    pub(crate) fn refused(&self, target: &str, response: &Response, doing: &str) -> Error {
        let status = response.status.as_u16();
        let advice = match status {
            401 => format!(
                "; check login and password in {} (IOS XE answers 401 to a wrong password and to \
                 a user below privilege 15)",
                self.location
            ),
            403 => format!(
                "; the admin of {} may not do this (its privilege, or the device's NACM rules)",
                self.location
            ),
            404 => format!(
                "; check host_endpoint in {} (is RESTCONF enabled: 'restconf' and 'ip http \
                 secure-server'?)",
                self.location
            ),
            _ => String::new(),
        };
        Error::Failed(format!(
            "{doing} failed: {target} answered HTTP {status} ({}){advice}",
            errors(response)
        ))
    }
}

impl DeviceUser {
    /// The entry named `user` in a RESTCONF document holding the user list
    /// (a list entry comes back as a one-item list; an object is taken too).
    /// Only an entry whose name is exactly `user` is read: a device that
    /// answers with another user's entry is not believed.
    fn from_json(body: &Value, user: &str) -> std::result::Result<Self, String> {
        let entries: Vec<&Value> = match body.get(USERNAME) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(item @ Value::Object(_)) => vec![item],
            _ => return Err(format!("the answer holds no {USERNAME} entry")),
        };
        let mine: Vec<&&Value> = entries
            .iter()
            .filter(|e| e.get("name").and_then(Value::as_str) == Some(user))
            .collect();
        let [entry] = mine.as_slice() else {
            return Err(format!(
                "the answer holds {} entries named '{user}', not one",
                mine.len()
            ));
        };
        let privilege = match entry.get("privilege") {
            None => 1,
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()).unwrap_or(0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
            Some(_) => 0,
        };
        if privilege > 15 {
            return Err("the user's privilege is not a number from 0 to 15".into());
        }
        let secret = entry.get("secret").and_then(|s| {
            let kind = match s.get("encryption") {
                Some(Value::String(k)) => k.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => "0".into(),
            };
            s.get("secret")
                .and_then(Value::as_str)
                .map(|hash| (kind, Secret::new(hash)))
        });
        Ok(Self {
            privilege,
            secret,
            has_password: entry.get("password").is_some(),
        })
    }
}

/// What a RESTCONF error body says: `error-tag` and `error-message` of the
/// first errors of `ietf-restconf:errors`, each through [`http::shown`];
/// any other body is described by its size only.
pub fn errors(response: &Response) -> String {
    let Ok(body) = response.json::<Value>() else {
        return http::unshown(&response.body);
    };
    let list = body
        .get("ietf-restconf:errors")
        .or_else(|| body.get("errors"))
        .and_then(|e| e.get("error"));
    let items: Vec<&Value> = match list {
        Some(Value::Array(items)) => items.iter().take(3).collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => return response.error_fields(),
    };
    let parts: Vec<String> = items
        .iter()
        .map(|item| {
            ["error-tag", "error-message"]
                .iter()
                .filter_map(|key| {
                    item.get(*key)
                        .and_then(Value::as_str)
                        .map(|text| format!("{key}: {}", http::shown(text)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|part| !part.is_empty())
        .collect();
    if parts.is_empty() {
        return format!(
            "a RESTCONF error body of {} bytes with no error-tag (not shown)",
            response.body.len()
        );
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device {
            root: Url::parse("https://r1.example.com/restconf").unwrap(),
            admin: Secret::new("x"),
            location: Location::Params,
            client: http::Client::new(
                http::Policy::default(),
                common::deadline::Deadline::after(std::time::Duration::from_secs(1)),
            )
            .unwrap(),
        }
    }

    #[test]
    fn a_user_name_is_one_percent_encoded_key_in_the_path() {
        let url = device().user_url("a/b,c=d%e");
        assert_eq!(
            url.path(),
            "/restconf/data/Cisco-IOS-XE-native:native/username=a%2Fb%2Cc%3Dd%25e"
        );
    }

    #[test]
    fn only_the_entry_named_for_the_user_is_read() {
        let body = serde_json::json!({USERNAME: [
            {"name": "bob", "privilege": 15},
            {"name": "alice", "privilege": "7", "secret": {"encryption": "9", "secret": "$9$x$y"}}
        ]});
        let user = DeviceUser::from_json(&body, "alice").unwrap();
        assert_eq!(user.privilege, 7);
        assert_eq!(user.secret.unwrap().0, "9");
        assert!(DeviceUser::from_json(&body, "carol").is_err());
        let twice = serde_json::json!({USERNAME: [{"name": "a"}, {"name": "a"}]});
        assert!(DeviceUser::from_json(&twice, "a").is_err());
    }
}
