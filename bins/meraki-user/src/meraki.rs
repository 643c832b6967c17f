//! The Meraki Dashboard API as this binary uses it: the base URL and API
//! key, requests with the key as a bearer token, the network's authorized
//! users, and Meraki's error answers turned into one clear message. Kept
//! apart from the rotation so that what is sent, and how an answer is
//! shown, is read in one place: nothing of a body is shown but its known
//! error fields, each through [`http::shown`].

use common::cli;
use common::error::{Error, Location, Result};
use common::http::{self, Replay, Request, Response};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::Value;

/// The Dashboard API of one network, its key, and how to talk to it.
#[derive(Debug)]
pub struct Dashboard {
    pub(crate) url: Url,
    pub(crate) key: Secret,
    pub(crate) network: String,
    pub(crate) location: Location,
    pub(crate) client: http::Client,
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
    /// The base URL with `segments` appended, each percent-encoded as one
    /// path segment.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.url.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// The network's authorized users' endpoint, or one user's.
    pub(crate) fn users_url(&self, id: Option<&str>) -> Url {
        let mut segments = vec!["networks", self.network.as_str(), "merakiAuthUsers"];
        segments.extend(id);
        self.endpoint(&segments)
    }

    pub(crate) fn request(&self, method: Method, url: Url) -> Result<Request> {
        Request::new(method, url)
            .secret_header("Authorization", "Bearer ", &self.key)?
            .header("Accept", "application/json")
    }

    /// Lists the network's authorized users (a read, retried as reads are).
    pub(crate) fn users(&self) -> Result<Vec<AuthUser>> {
        let request = self.request(Method::GET, self.users_url(None))?;
        let target = request.target();
        let response = cli::block_on(self.client.send(&request, Replay::Safe))??;
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
        Ok(items.iter().filter_map(AuthUser::from_json).collect())
    }

    /// Sends the change through `client` once; any 2xx means it was made
    /// (see [`http::Client::send_change`] for what other answers mean).
    pub(crate) fn send_change(&self, client: &http::Client, request: &Request) -> Result<Response> {
        cli::block_on(client.send_change(request, |s| s.is_success()))?
    }

    /// A refused request as the error that says what to fix.
    pub(crate) fn refused(&self, target: &str, response: &Response, doing: &str) -> Error {
        let advice = match response.status.as_u16() {
            401 => format!(
                "; check the Dashboard API key (password) in {}",
                self.location
            ),
            403 => format!(
                "; the API key in {} may not manage network {}",
                self.location, self.network
            ),
            404 => format!(
                "; check network_id in {} (Meraki answers 404 for a network the key cannot see)",
                self.location
            ),
            429 => "; Meraki's rate limit".into(),
            _ => String::new(),
        };
        Error::Failed(format!(
            "{doing} failed: {target} answered HTTP {} ({}){advice}",
            response.status.as_u16(),
            response.error_fields()
        ))
    }
}

impl AuthUser {
    /// A listed user, when it has the fields the rotation relies on; the id
    /// goes into the next request's path and messages, so it must look like
    /// a Meraki id (base64 text).
    fn from_json(item: &Value) -> Option<Self> {
        let text = |key: &str| item.get(key).and_then(Value::as_str);
        let id = text("id")?;
        let valid = !id.is_empty()
            && id.len() <= 256
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
        if !valid {
            return None;
        }
        Some(Self {
            id: id.to_owned(),
            email: text("email")?.to_owned(),
            account_type: text("accountType").unwrap_or("unknown").to_owned(),
            is_admin: item
                .get("isAdmin")
                .and_then(Value::as_bool)
                .unwrap_or(false),
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
        assert!(user("aGlAaGkuY29t").is_some());
        assert!(user("a/b+c=").is_some());
        for bad in ["", "a b", "a?b", "../x", "a\u{0}b"] {
            assert!(user(bad).is_none(), "{bad:?}");
        }
    }
}
