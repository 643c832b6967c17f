//! The identity platform's side of the fake: the tenant's OpenID
//! configuration and the client-credentials token endpoint, with its
//! errors (an unknown tenant, client or secret) as Entra ID sends them.
//!
//! Why apart from Graph's side: a token is what Graph's calls are checked
//! against, but the two change for their own reasons (an SDK's discovery,
//! a new grant; a Graph endpoint).

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::{GraphCall, HOSTS, State, Token, aad_error, random_text};
use crate::faults::FaultKind;

impl State {
    /// The identity platform's part common to its calls: the call logged,
    /// a fault armed on it answered, and the path's tenant (its first
    /// segment) checked: an unknown one is the platform's 400, whose error
    /// code differs by endpoint (`invalid_tenant` for the discovery,
    /// `invalid_request` for a token). `Ok`: the tenant.
    fn identity_call(
        &mut self,
        action: &str,
        path: &str,
        client: String,
        injected: Option<FaultKind>,
    ) -> Result<String, Box<ResponseTemplate>> {
        self.calls.push(GraphCall {
            action: action.into(),
            path: path.to_owned(),
            client,
            body: Value::Null,
        });
        if let Some(fault) = self.fault(action, injected) {
            let answer = aad_error(fault.status, "temporarily_unavailable", &fault.message);
            return Err(Box::new(match fault.retry_after {
                Some(seconds) => answer.insert_header("Retry-After", seconds.to_string().as_str()),
                None => answer,
            }));
        }
        let tenant = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        if tenant != self.tenant {
            let code = if action == "discovery" {
                "invalid_tenant"
            } else {
                "invalid_request"
            };
            return Err(Box::new(aad_error(
                400,
                code,
                &format!("AADSTS90002: Tenant '{tenant}' not found."),
            )));
        }
        Ok(tenant.to_owned())
    }

    /// The tenant's OpenID configuration, naming the endpoints on the host
    /// the request was sent to (`login.microsoftonline.com` when routed).
    /// An unknown tenant is the platform's 400 `invalid_tenant`.
    pub(super) fn discovery(
        &mut self,
        request: &wiremock::Request,
        path: &str,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        let tenant = match self.identity_call("discovery", path, String::new(), injected) {
            Ok(tenant) => tenant,
            Err(answer) => return *answer,
        };
        let host = request
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or(HOSTS[0]);
        let base = format!("https://{host}/{tenant}");
        ResponseTemplate::new(200).set_body_json(json!({
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("https://{host}/{tenant}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("https://{host}/{tenant}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "ver"],
            "kerberos_endpoint": format!("{base}/kerberos"),
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }))
    }

    pub(super) fn token(
        &mut self,
        request: &wiremock::Request,
        path: &str,
        injected: Option<FaultKind>,
    ) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let client_id = form.get("client_id").cloned().unwrap_or_default();
        if let Err(answer) = self.identity_call("token", path, client_id.clone(), injected) {
            return *answer;
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return aad_error(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The grant type is not supported.",
            );
        }
        if !form.get("scope").is_some_and(|s| s.ends_with("/.default")) {
            return aad_error(
                400,
                "invalid_scope",
                "AADSTS1002012: The provided value for scope is not valid.",
            );
        }
        // Client ids are GUIDs: the identity platform compares them
        // ignoring case.
        let Some(app) = self
            .apps
            .iter()
            .find(|a| a.app_id.eq_ignore_ascii_case(&client_id))
        else {
            return aad_error(
                400,
                "unauthorized_client",
                &format!(
                    "AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
                ),
            );
        };
        let presented = form.get("client_secret").cloned().unwrap_or_default();
        let Some(secret) = app
            .secrets
            .iter()
            .find(|s| s.text == presented && Instant::now() >= s.usable_after)
        else {
            return aad_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        };
        let token = format!("eyJ0eXAiOiJKV1Qi.fake.{}", random_text(24));
        let key_id = secret.key_id.clone();
        let app_id = app.app_id.clone();
        self.tokens.insert(token.clone(), Token { app_id, key_id });
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }))
    }
}
