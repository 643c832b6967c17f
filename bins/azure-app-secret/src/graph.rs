//! The token endpoint and the Graph application endpoints, over the shared
//! HTTP policy. Clouds: public (default), usgov, china; `AZURE_AUTHORITY_HOST`
//! and `MICROSOFT_GRAPH_URL` override the hosts.

use common::error::{Error, Location, Result};
use common::http::{self, Replay, Request, Response};
use common::secret::Secret;
use reqwest::{Method, Url};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Authority and Graph hosts of a cloud.
pub fn endpoints(cloud: Option<&str>, location: &Location) -> Result<(Url, Url)> {
    let (authority, graph) = match cloud.map(str::to_ascii_lowercase).as_deref() {
        None | Some("public" | "azurecloud" | "global") => (
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
        ),
        Some("usgov" | "azureusgovernment" | "gcchigh") => (
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        ),
        Some("china" | "azurechinacloud") => (
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
        Some(other) => {
            return Err(Error::invalid(
                "azure_cloud",
                location.clone(),
                format!("'{other}' is not public, usgov or china"),
            ));
        }
    };
    let pick = |var: &str, default: &str| -> Result<Url> {
        let text = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        let text = text.as_deref().unwrap_or(default);
        http::require_https(text, var, &Location::Environment)
    };
    Ok((
        pick("AZURE_AUTHORITY_HOST", authority)?,
        pick("MICROSOFT_GRAPH_URL", graph)?,
    ))
}

/// A password credential as Graph lists it (no secret text).
#[derive(Debug, Clone)]
pub struct Credential {
    pub key_id: String,
    pub display_name: String,
    pub start: String,
}

/// An application.
#[derive(Debug, Clone)]
pub struct App {
    pub object_id: String,
    pub app_id: String,
    pub name: String,
    pub credentials: Vec<Credential>,
}

/// A secret Graph just made: the text exists only here and, once stored,
/// in the vault.
#[derive(Debug)]
pub struct NewSecret {
    pub key_id: String,
    pub text: Secret,
    pub end: String,
}

/// Graph for one run.
pub struct Graph {
    pub client: http::Client,
    pub authority: Url,
    pub graph: Url,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph").finish_non_exhaustive()
    }
}

/// Why a token was refused, as the identity platform says it.
#[derive(Debug)]
pub struct Refusal(pub String);

impl Graph {
    fn url(base: &Url, path: &str) -> Url {
        let mut url = base.clone();
        let joined = format!(
            "{}/{}",
            base.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        url
    }

    fn send(&self, request: &Request, replay: Replay) -> Result<Response> {
        common::cli::block_on(self.client.send(request, replay))?
    }

    /// A client-credentials token for `client_id` with `secret`. `Ok(Err)`
    /// when the identity platform refuses the credentials.
    pub fn token(
        &self,
        tenant: &str,
        client_id: &str,
        secret: &Secret,
    ) -> Result<std::result::Result<Secret, Refusal>> {
        let scope = format!("{}/.default", self.graph.as_str().trim_end_matches('/'));
        let request = Request::new(
            Method::POST,
            Self::url(&self.authority, &format!("{tenant}/oauth2/v2.0/token")),
        )
        .header("Accept", "application/json")?
        .form_body(&[
            ("client_id", client_id),
            ("client_secret", secret.expose()),
            ("scope", &scope),
            ("grant_type", "client_credentials"),
        ]);
        let response = self.send(&request, Replay::Safe)?;
        let body: Value = response.json().unwrap_or(Value::Null);
        if response.status.is_success() {
            let token = body
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::Failed(format!(
                        "{}: the answer has no access_token",
                        request.target()
                    ))
                })?;
            return Ok(Ok(Secret::new(token)));
        }
        Ok(Err(Refusal(token_error(&response, &body))))
    }

    fn authorized(&self, method: Method, path: &str, token: &Secret) -> Result<Request> {
        Request::new(method, Self::url(&self.graph, &format!("v1.0/{path}")))
            .secret_header("Authorization", "Bearer ", token)?
            .header("Accept", "application/json")
    }

    /// The application with object id `id`, or else with client id `id`.
    pub fn find_app(&self, token: &Secret, id: &str) -> Result<Option<App>> {
        for path in [
            format!("applications/{id}"),
            format!("applications(appId='{id}')"),
        ] {
            let request = self.authorized(Method::GET, &path, token)?;
            let response = self.send(&request, Replay::Safe)?;
            match response.status.as_u16() {
                200 => return parse_app(&request, &response).map(Some),
                404 | 400 => continue,
                _ => return Err(graph_error(&request, &response)),
            }
        }
        Ok(None)
    }

    pub fn app(&self, token: &Secret, object_id: &str) -> Result<App> {
        let request = self.authorized(Method::GET, &format!("applications/{object_id}"), token)?;
        let response = self.send(&request, Replay::Safe)?;
        if response.status.as_u16() != 200 {
            return Err(graph_error(&request, &response));
        }
        parse_app(&request, &response)
    }

    pub fn add_password(
        &self,
        token: &Secret,
        object_id: &str,
        display_name: &str,
        end: &str,
    ) -> Result<NewSecret> {
        let body = json!({"passwordCredential": {"displayName": display_name, "endDateTime": end}});
        let request = self
            .authorized(
                Method::POST,
                &format!("applications/{object_id}/addPassword"),
                token,
            )?
            .json_body(Zeroizing::new(
                serde_json::to_vec(&body).unwrap_or_default(),
            ));
        // A 5xx or 3xx does not say whether the secret was added: NoAnswer,
        // which the caller settles by looking for this run's display name.
        let response =
            common::cli::block_on(self.client.send_change(&request, |s| s.is_success()))??;
        if !response.status.is_success() && response.earlier_attempt_maybe_applied {
            // A refusal after an attempt that may have been applied is only
            // the last attempt's.
            return Err(Error::NoAnswer {
                target: request.target(),
                detail: format!(
                    "an earlier attempt may have been applied, and the last one {}",
                    graph_error(&request, &response)
                ),
            });
        }
        if !response.status.is_success() {
            return Err(graph_error(&request, &response));
        }
        // A 2xx whose body cannot be used: the secret exists, its text is
        // lost. That is an answer as good as none.
        let unusable = |why: &str| Error::NoAnswer {
            target: request.target(),
            detail: format!(
                "HTTP {} arrived but {why}, so the new secret's text is unknown",
                response.status.as_u16()
            ),
        };
        let mut answer: Value = response
            .json()
            .map_err(|_| unusable("its body is not complete JSON"))?;
        let text = match answer.get_mut("secretText").map(Value::take) {
            Some(Value::String(text)) if !text.is_empty() => Secret::new(text),
            _ => return Err(unusable("it has no secretText")),
        };
        let field = |name: &str| {
            answer
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let key_id = field("keyId");
        if key_id.is_empty() {
            return Err(unusable("it has no keyId"));
        }
        Ok(NewSecret {
            key_id,
            end: field("endDateTime"),
            text,
        })
    }

    /// Removes a secret; one already gone counts as removed.
    pub fn remove_password(&self, token: &Secret, object_id: &str, key_id: &str) -> Result<()> {
        let body = json!({"keyId": key_id});
        let request = self
            .authorized(
                Method::POST,
                &format!("applications/{object_id}/removePassword"),
                token,
            )?
            .json_body(Zeroizing::new(
                serde_json::to_vec(&body).unwrap_or_default(),
            ));
        // Removing is safe to repeat, so the HTTP layer may retry it; it is
        // still a change, entered in the ledger here.
        let entry = common::change::sent(format!("removePassword {key_id}"))?;
        let response = match self.send(&request, Replay::Safe) {
            Ok(response) => response,
            Err(e) => {
                entry.keep();
                return Err(e);
            }
        };
        if response.status.is_success() {
            entry.keep();
            return Ok(());
        }
        let error = graph_error(&request, &response);
        if error
            .to_string()
            .contains("CannotDeleteOrUpdateNonExistentCredential")
        {
            // Gone: perhaps by an earlier attempt whose answer was lost.
            entry.keep();
            return Ok(());
        }
        if response.status.is_client_error() && !response.earlier_attempt_maybe_applied {
            entry.settle();
            return Err(error);
        }
        entry.keep();
        Err(Error::NoAnswer {
            target: request.target(),
            detail: format!("the answer was {error}, which does not show whether it was removed"),
        })
    }
}

fn parse_app(request: &Request, response: &Response) -> Result<App> {
    let body: Value = response.json().map_err(|e| {
        Error::Failed(format!(
            "{}: the answer is not JSON ({e})",
            request.target()
        ))
    })?;
    let text = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let credentials = body
        .get("passwordCredentials")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| Credential {
                    key_id: text(c, "keyId"),
                    display_name: text(c, "displayName"),
                    start: text(c, "startDateTime"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(App {
        object_id: text(&body, "id"),
        app_id: text(&body, "appId"),
        name: text(&body, "displayName"),
        credentials,
    })
}

/// The identity platform's refusal as one line: status, `error` and the
/// first line of `error_description`, each through [`http::shown`]; any
/// other body by its size only.
fn token_error(response: &Response, body: &Value) -> String {
    let status = response.status.as_u16();
    let error = body.get("error").and_then(Value::as_str);
    let description = body
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| d.lines().next().unwrap_or(d));
    match (error, description) {
        (Some(error), Some(description)) => format!(
            "HTTP {status} {}: {}",
            http::shown(error),
            http::shown(description)
        ),
        (Some(error), None) => format!("HTTP {status} {}", http::shown(error)),
        _ => format!("HTTP {status}: {}", http::unshown(&response.body)),
    }
}

/// A Graph error as one line: status, `error.code` and `error.message`, each
/// through [`http::shown`]; any other body by its size only.
pub fn graph_error(request: &Request, response: &Response) -> Error {
    let body: Value = response.json().unwrap_or(Value::Null);
    let code = body.pointer("/error/code").and_then(Value::as_str);
    let message = body.pointer("/error/message").and_then(Value::as_str);
    let snippet = match (code, message) {
        (Some(code), Some(message)) => {
            format!(": {}: {}", http::shown(code), http::shown(message))
        }
        (Some(code), None) => format!(": {}", http::shown(code)),
        _ => format!(": {}", http::unshown(&response.body)),
    };
    Error::Status {
        target: request.target(),
        status: response.status.as_u16(),
        snippet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location() -> Location {
        Location::Record {
            title: "app".into(),
            uid: "u".into(),
        }
    }

    #[test]
    fn each_cloud_has_its_own_authority_and_graph_host() {
        // The overrides are not set in the test environment.
        if std::env::var_os("AZURE_AUTHORITY_HOST").is_some()
            || std::env::var_os("MICROSOFT_GRAPH_URL").is_some()
        {
            return;
        }
        for (cloud, authority, graph) in [
            (None, "login.microsoftonline.com", "graph.microsoft.com"),
            (
                Some("public"),
                "login.microsoftonline.com",
                "graph.microsoft.com",
            ),
            (
                Some("USGov"),
                "login.microsoftonline.us",
                "graph.microsoft.us",
            ),
            (
                Some("china"),
                "login.chinacloudapi.cn",
                "microsoftgraph.chinacloudapi.cn",
            ),
        ] {
            let (a, g) = endpoints(cloud, &location()).unwrap();
            assert_eq!(a.host_str(), Some(authority), "{cloud:?}");
            assert_eq!(g.host_str(), Some(graph), "{cloud:?}");
        }
        assert!(endpoints(Some("mars"), &location()).is_err());
    }

    #[test]
    fn paths_join_onto_a_base_with_or_without_a_trailing_slash() {
        let base = Url::parse("https://graph.microsoft.com/").unwrap();
        assert_eq!(
            Graph::url(&base, "v1.0/applications/x").as_str(),
            "https://graph.microsoft.com/v1.0/applications/x"
        );
        let base = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            Graph::url(&base, "t/oauth2/v2.0/token").as_str(),
            "http://127.0.0.1:8080/t/oauth2/v2.0/token"
        );
    }
}
