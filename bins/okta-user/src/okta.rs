//! The Okta management API as this binary uses it: the org's address and
//! token, requests with the token's scheme, login-safe path segments, and
//! Okta's error answers turned into one clear message. Kept apart from the
//! rotation so that what is sent, and how an answer is shown, is read in one
//! place: Okta echoes input in its error summaries, so nothing of a body is
//! shown but its named fields, each through [`http::shown`].

use common::cli;
use common::error::{Error, Location, Result};
use common::http::{self, Replay, Request, Response};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::Value;

/// The Okta org, its token, and how to talk to it.
#[derive(Debug)]
pub struct Org {
    pub(crate) url: Url,
    pub(crate) token: Secret,
    pub(crate) scheme: &'static str,
    pub(crate) location: Location,
    pub(crate) client: http::Client,
}

impl Org {
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        let mut path = base;
        for segment in segments {
            path.push('/');
            path.push_str(&encode_segment(segment));
        }
        url.set_path(&path);
        url.set_query(None);
        url
    }

    pub(crate) fn request(&self, method: Method, url: Url) -> Result<Request> {
        Request::new(method, url)
            .secret_header("Authorization", &format!("{} ", self.scheme), &self.token)?
            .header("Accept", "application/json")
    }

    pub(crate) fn send(&self, request: &Request, replay: Replay) -> Result<Response> {
        cli::block_on(self.client.send(request, replay))?
    }

    /// Sends the change through `client` (the run's, less the time kept for
    /// the proof); any 2xx means it was made (see
    /// [`http::Client::send_change`] for what other answers mean).
    pub(crate) fn send_change(&self, client: &http::Client, request: &Request) -> Result<Response> {
        cli::block_on(client.send_change(request, |s| s.is_success()))?
    }
}

/// Percent-encodes everything but unreserved characters: a login with `@`,
/// `+`, `/` or any unicode reaches Okta as one path segment, intact.
fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// An Okta error answer as one clear message: code, summary and causes,
/// each through [`http::shown`]. Nothing else of the body is shown: Okta
/// echoes input in its summaries, and a body that is not Okta's error object
/// (a proxy's page, say) is described by its size only.
pub(crate) fn okta_error(response: &Response) -> String {
    let status = response.status.as_u16();
    let Ok(Value::Object(body)) = response.json::<Value>() else {
        return format!("HTTP {status}: {}", http::unshown(&response.body));
    };
    let field = |v: Option<&Value>| v.and_then(Value::as_str).map(http::shown);
    let code = field(body.get("errorCode")).unwrap_or_else(|| "no error code".into());
    let summary = field(body.get("errorSummary")).unwrap_or_default();
    let causes: Vec<String> = body
        .get("errorCauses")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .take(5)
                .filter_map(|c| field(c.get("errorSummary")))
                .collect()
        })
        .unwrap_or_default();
    let mut text = format!("HTTP {status} {code} {summary}");
    if !causes.is_empty() {
        text.push_str(": ");
        text.push_str(&causes.join("; "));
    }
    text
}

/// A refused request as the error that says what to fix.
pub(crate) fn refused(org: &Org, target: &str, response: &Response, doing: &str) -> Error {
    let detail = okta_error(response);
    let advice = match response.status.as_u16() {
        401 => format!(
            "; check the API token (password) and auth_scheme in {}",
            org.location
        ),
        403 if detail.contains("oldPassword") => {
            "; the record's password is not the user's current Okta password. \
             Correct it, or set okta_admin_reset to true on the user record"
                .into()
        }
        403 if detail.contains("E0000014") => {
            "; the new password does not meet the Okta password policy: \
             adjust the record's password complexity to the policy"
                .into()
        }
        429 => "; Okta's rate limit; the password was not changed".into(),
        _ => String::new(),
    };
    Error::Failed(format!(
        "{doing} failed: {target} answered {detail}{advice}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_encoded_as_one_path_segment() {
        assert_eq!(encode_segment("a+b@example.com"), "a%2Bb%40example.com");
        assert_eq!(encode_segment("x/y"), "x%2Fy");
        assert_eq!(encode_segment("jürgen"), "j%C3%BCrgen");
    }
}
