//! A service's HTTP API as a password rotator reaches it: a base URL and
//! one token from an admin record, sent the same way on every request.
//!
//! Why here: every HTTP rotator's client module began with the same four
//! pieces (the base URL with path segments appended, a request carrying the
//! token and asking for JSON, a read sent as reads are, the change sent
//! once), and only the service's own paths, answers and advice differ.
//! Those stay in the binary's client module, around an [`Api`].

use reqwest::{Method, StatusCode, Url};

use super::{Client, Replay, Request, Response};
use crate::cli;
use crate::error::{Location, Result};
use crate::secret::Secret;

/// The API, its token, the admin record both came from, and the run's
/// client.
#[derive(Debug)]
pub struct Api {
    /// The base URL (`https://api.meraki.com/api/v1`): paths are appended.
    pub url: Url,
    token: Secret,
    /// What precedes the token in `Authorization`: `"Bearer "`.
    scheme: &'static str,
    /// The admin record, for messages that say what to check.
    pub location: Location,
    pub client: Client,
}

impl Api {
    /// An API at `url` taking `token` as `Authorization: {scheme}{token}`.
    pub fn new(
        url: Url,
        token: Secret,
        scheme: &'static str,
        location: Location,
        client: Client,
    ) -> Self {
        Self {
            url,
            token,
            scheme,
            location,
            client,
        }
    }

    /// The base URL with `segments` appended, each percent-encoded as one
    /// path segment (an id holding `/` stays one segment), and without the
    /// base URL's query.
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        endpoint(&self.url, segments)
    }

    /// A request carrying the token (registered as a secret) and asking for
    /// JSON.
    pub fn request(&self, method: Method, url: Url) -> Result<Request> {
        Request::new(method, url)
            .secret_header("Authorization", self.scheme, &self.token)?
            .header("Accept", "application/json")
    }

    /// Sends a read (retried as reads are) and returns the first answer
    /// that is not a retryable 429 or 503, whatever its status.
    pub fn read(&self, request: &Request) -> Result<Response> {
        cli::block_on(self.client.send(request, Replay::Safe))?
    }

    /// Sends the change once through `client` (the run's, or one that keeps
    /// time for a proof); `accepted` says which statuses mean it was made.
    /// An answer that does not say is [`crate::error::Error::NoAnswer`] (see
    /// [`Client::send_change`]): turn it into the administrator's message
    /// with [`crate::error::Error::unsure_change`].
    pub fn send_change(
        &self,
        client: &Client,
        request: &Request,
        accepted: impl Fn(StatusCode) -> bool,
    ) -> Result<Response> {
        cli::block_on(client.send_change(request, accepted))?
    }
}

/// `base` with `segments` appended, each percent-encoded as one path
/// segment (an id holding `/` stays one segment), and without `base`'s
/// query: how a client module builds its endpoints.
pub fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::Deadline;

    fn api(base: &str) -> Api {
        let deadline = Deadline::after(std::time::Duration::from_secs(60));
        Api::new(
            Url::parse(base).expect("a URL"),
            Secret::new("token-of-the-api-test-0001".to_owned()),
            "Bearer ",
            Location::Params,
            Client::new(crate::http::Policy::default(), deadline).expect("a client"),
        )
    }

    #[test]
    fn each_segment_is_one_path_segment_after_the_base_path_without_its_query() {
        let api = api("https://api.example.com/api/v1/?key=x");
        let url = api.endpoint(&["users", "YT8/QGV4YW1wbGUuY29t=", "a b"]);
        assert_eq!(
            url.as_str(),
            "https://api.example.com/api/v1/users/YT8%2FQGV4YW1wbGUuY29t=/a%20b"
        );
    }
}
