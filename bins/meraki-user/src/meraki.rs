//! The Meraki Dashboard API as this binary uses it: the API (its base URL,
//! the key sent as a bearer token: [`http::Api`]), the network's authorized
//! users, and Meraki's error answers turned into one clear message. Kept
//! apart from the rotation so that what is sent, and how an answer is
//! shown, is read in one place: nothing of a body is shown but its known
//! error fields, each through [`http::shown`].

use common::error::{Error, Result};
use common::http::{self, Request, Response};
use reqwest::{Method, Url};
use serde_json::Value;

/// The Dashboard API of one network.
#[derive(Debug)]
pub struct Dashboard {
    pub(crate) api: http::Api,
    pub(crate) network: String,
}

/// One of the network's authorized users (Meraki authentication: 802.1X,
/// splash guest or client VPN), as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: String,
    pub email: String,
    pub account_type: String,
    /// A Dashboard administrator: Meraki does not take a password for one
    /// through this endpoint (the administrator signs in to the Dashboard
    /// with their own).
    pub is_admin: bool,
}

impl Dashboard {
    /// The network's authorized users' endpoint, or one user's.
    pub(crate) fn users_url(&self, id: Option<&str>) -> Url {
        let mut segments = vec!["networks", self.network.as_str(), "merakiAuthUsers"];
        segments.extend(id);
        self.api.endpoint(&segments)
    }

    /// Lists the network's authorized users (a read, retried as reads are):
    /// each entry as its email and the user, or why it cannot be rotated.
    pub(crate) fn users(&self) -> Result<Vec<Listed>> {
        let request = self.api.request(Method::GET, self.users_url(None))?;
        let target = request.target();
        let response = self.api.read(&request)?;
        if response.status.as_u16() != 200 {
            return Err(self.refused(&target, &response, "listing the network's users"));
        }
        let listed: Value = response
            .json()
            .map_err(|e| Error::Failed(format!("{target}: the answer is not JSON ({e})")))?;
        let Value::Array(items) = listed else {
            return Err(Error::Failed(format!(
                "{target}: the answer is not a list of users"
            )));
        };
        Ok(items.iter().map(Listed::from_json).collect())
    }

    /// Sends the change through `client` once; any 2xx means it was made,
    /// and so does nothing else (see [`http::Client::send_change`] for what
    /// other answers mean). A redirect comes back as an answer: Meraki
    /// redirects to an organisation's shard before it applies anything.
    pub(crate) fn send_change(&self, client: &http::Client, request: &Request) -> Result<Response> {
        self.api
            .send_change(client, request, |s| s.is_success() || is_redirect(s))
    }

    /// A refused request as the error that says what to fix.
    pub(crate) fn refused(&self, target: &str, response: &Response, doing: &str) -> Error {
        let status = response.status.as_u16();
        let advice = match status {
            401 => format!(
                "; check the Dashboard API key (password) in {}",
                self.api.location
            ),
            403 => format!(
                "; the API key in {} may not manage network {}",
                self.api.location, self.network
            ),
            404 => format!(
                "; check network_id in {} (Meraki answers 404 for a network the key cannot see)",
                self.api.location
            ),
            429 => "; Meraki's rate limit".into(),
            _ if is_redirect(response.status) => format!(
                "; Meraki sends this organisation's requests to {}: set meraki_api_url in {} \
                 to that host's https://<host>/api/v1 (redirects are not followed: they would \
                 carry the API key to another host)",
                redirect_host(response).unwrap_or_else(|| "another host".into()),
                self.api.location
            ),
            _ => String::new(),
        };
        Error::Failed(format!(
            "{doing} failed: {target} answered HTTP {status} ({}){advice}",
            response.error_fields()
        ))
    }
}

/// Whether `status` is Meraki's shard redirect (307 or 308: the request is
/// to be sent again, unchanged, to another host; nothing was applied).
pub(crate) fn is_redirect(status: reqwest::StatusCode) -> bool {
    matches!(
        status,
        reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
    )
}

/// The host a redirect names, when it is an https Meraki host (anything else
/// a server sends is not shown).
fn redirect_host(response: &Response) -> Option<String> {
    let location = response.headers.get("location")?.to_str().ok()?;
    let url = Url::parse(location).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let meraki = host == "meraki.com" || host.ends_with(".meraki.com");
    (url.scheme() == "https" && meraki && host.len() <= 64).then_some(host)
}

/// One entry of the listing: its email, and the user it describes or why
/// that user cannot be rotated.
#[derive(Debug, Clone)]
pub struct Listed {
    pub email: Option<String>,
    pub user: std::result::Result<AuthUser, &'static str>,
}

impl Listed {
    fn from_json(item: &Value) -> Self {
        Self {
            email: item.get("email").and_then(Value::as_str).map(str::to_owned),
            user: AuthUser::from_json(item),
        }
    }
}

impl AuthUser {
    /// A listed user, when it has what the rotation relies on: an id that
    /// looks like a Meraki id (base64 text: it goes into the next request's
    /// path and into messages), an email, and whether it is a Dashboard
    /// administrator (Meraki may take a PUT for one and ignore the password:
    /// an entry that does not say is not guessed about).
    fn from_json(item: &Value) -> std::result::Result<Self, &'static str> {
        let text = |key: &str| item.get(key).and_then(Value::as_str);
        let id = text("id").unwrap_or_default();
        let valid = !id.is_empty()
            && id.len() <= 256
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
        if !valid {
            return Err("its id is not a Meraki id (withheld)");
        }
        let Some(is_admin) = item.get("isAdmin").and_then(Value::as_bool) else {
            return Err("it does not say whether it is a Dashboard administrator (isAdmin)");
        };
        Ok(Self {
            id: id.to_owned(),
            email: text("email").ok_or("it has no email")?.to_owned(),
            account_type: text("accountType").unwrap_or("unknown").to_owned(),
            is_admin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_user_without_a_meraki_id_is_not_taken() {
        let user = |id: &str| {
            AuthUser::from_json(&serde_json::json!({"id": id, "email": "a@b", "isAdmin": false}))
        };
        assert!(user("aGlAaGkuY29t").is_ok());
        assert!(user("a/b+c=").is_ok());
        for bad in ["", "a b", "a?b", "../x", "a\u{0}b"] {
            assert!(user(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_listed_user_that_does_not_say_whether_it_is_an_administrator_is_not_taken() {
        for entry in [
            serde_json::json!({"id": "YQ==", "email": "a@b"}),
            serde_json::json!({"id": "YQ==", "email": "a@b", "isAdmin": "false"}),
        ] {
            assert!(AuthUser::from_json(&entry).is_err(), "{entry}");
        }
    }
}
