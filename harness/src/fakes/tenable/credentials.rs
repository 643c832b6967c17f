//! The fake's managed credentials (a scanner's stored copies of passwords),
//! in both flavours: kept apart from the users and the sign-in, which
//! `rotate-tenable-user` uses, since `rotate-tenable-credential` reads and
//! changes only these.
//!
//! Tenable.io: `GET /credentials` (`f=name:eq:<name>` honoured), `GET
//! /credentials/{uuid}` with every secret setting masked, and `PUT
//! /credentials/{uuid}`, whose settings replace the credential's (a setting
//! left out is gone, a secret sent back masked is kept). Security Center:
//! `GET /rest/credential` (`usable` and `manageable`), `GET
//! /rest/credential/{id}` (`password` shown as `SET`, `modifiedTime`), and
//! `PATCH /rest/credential/{id}` with `password`.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::{Flavour, State, error, sc_ok};

/// One managed credential (a scanner's stored copy of a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: u64,
    pub uuid: String,
    pub name: String,
    /// Tenable.io's type (`Windows`, `SSH`); Security Center's is its lower case.
    pub kind: String,
    /// `Password`, `certificate`, `public key`: Security Center's `authType`.
    pub auth_method: String,
    pub username: String,
    pub password: String,
    /// The escalation password, another secret of the settings: a client
    /// that sends back the masked value it read must not overwrite it.
    pub escalation_password: String,
    /// Whether the keys' user may edit it (Security Center: `manageable`).
    pub editable: bool,
    /// How many times it was updated.
    pub changes: u32,
}

/// What Tenable shows for a secret setting it keeps.
pub const MASKED: &str = "********";

impl State {
    /// Tenable.io's managed credentials: the listing (`f=name:eq:<name>`
    /// honoured), the details with every secret setting masked, and the
    /// update, which keeps a secret sent back masked.
    pub(super) fn io_credentials(
        &mut self,
        method: &str,
        segments: &[&str],
        request: &wiremock::Request,
        body: &Value,
    ) -> ResponseTemplate {
        match (method, segments) {
            ("GET", ["credentials"]) => {
                let wanted = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "f")
                    .and_then(|(_, v)| v.strip_prefix("name:eq:").map(str::to_owned));
                let mut listed: Vec<Value> = self
                    .credentials
                    .iter()
                    .filter(|c| wanted.as_ref().is_none_or(|w| *w == c.name))
                    .map(|c| {
                        json!({
                            "uuid": c.uuid,
                            "name": c.name,
                            "description": "",
                            "category": {"id": "Host", "name": "Host"},
                            "type": {"id": c.kind, "name": c.kind},
                            "created_date": 1_700_000_000,
                        })
                    })
                    .collect();
                listed.extend(self.odd.iter().cloned());
                let total = listed.len();
                ResponseTemplate::new(200).set_body_json(json!({
                    "credentials": listed,
                    "pagination": {"total": total, "limit": 50, "offset": 0},
                }))
            }
            ("GET", ["credentials", uuid]) => {
                match self.credentials.iter().find(|c| c.uuid == *uuid) {
                    Some(c) => ResponseTemplate::new(200).set_body_json(json!({
                        "name": c.name,
                        "description": "",
                        "ad_hoc": false,
                        "category": {"id": "Host", "name": "Host"},
                        "type": {"id": c.kind, "name": c.kind},
                        "settings": {
                            "domain": "",
                            "username": c.username,
                            "auth_method": c.auth_method,
                            "password": MASKED,
                            "escalation_password": if self.echo_secrets {
                                c.escalation_password.as_str()
                            } else {
                                MASKED
                            },
                        },
                    })),
                    None => error(Flavour::Io, 404, "Credential not found"),
                }
            }
            ("PUT", ["credentials", uuid]) => {
                let Some(c) = self.credentials.iter_mut().find(|c| c.uuid == *uuid) else {
                    return error(Flavour::Io, 404, "Credential not found");
                };
                if !c.editable {
                    return error(
                        Flavour::Io,
                        403,
                        "You do not have permission to edit this credential",
                    );
                }
                if self.echo_secrets {
                    let echoed =
                        format!("escalation_password {} is invalid", c.escalation_password);
                    return error(Flavour::Io, 400, &echoed);
                }
                let Some(settings) = body.get("settings").and_then(Value::as_object) else {
                    return error(Flavour::Io, 400, "settings is required");
                };
                let text = |key: &str| settings.get(key).and_then(Value::as_str);
                // Settings are replaced as sent: a setting left out is gone,
                // a secret sent back masked is kept.
                let (Some(username), Some(auth_method)) = (text("username"), text("auth_method"))
                else {
                    return error(Flavour::Io, 400, "username and auth_method are required");
                };
                c.username = username.to_owned();
                c.auth_method = auth_method.to_owned();
                match text("password") {
                    Some(MASKED) => {}
                    Some(p) => c.password = p.to_owned(),
                    None => c.password.clear(),
                }
                match text("escalation_password") {
                    Some(MASKED) => {}
                    Some(p) => c.escalation_password = p.to_owned(),
                    None => c.escalation_password.clear(),
                }
                c.changes += 1;
                ResponseTemplate::new(200).set_body_json(json!({"updated": true}))
            }
            _ => error(Flavour::Io, 404, "Not Found"),
        }
    }

    /// Security Center's credentials: `usable` and `manageable` lists, the
    /// details (`password` shown as `SET`), and the `PATCH`.
    pub(super) fn sc_credentials(
        &mut self,
        method: &str,
        segments: &[&str],
        body: &Value,
    ) -> ResponseTemplate {
        let shown = |c: &Credential| {
            json!({
                "id": c.id.to_string(),
                "name": c.name,
                "type": c.kind.to_lowercase(),
                "authType": c.auth_method.to_lowercase(),
                "username": c.username,
                "password": if c.password.is_empty() { "" } else { "SET" },
                "modifiedTime": (1_700_000_000 + u64::from(c.changes)).to_string(),
            })
        };
        match (method, segments) {
            ("GET", ["rest", "credential"]) => {
                let mut usable: Vec<Value> = self.credentials.iter().map(shown).collect();
                usable.extend(self.odd.iter().cloned());
                let manageable: Vec<Value> = self
                    .credentials
                    .iter()
                    .filter(|c| c.editable)
                    .map(shown)
                    .chain(self.odd.iter().cloned())
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(sc_ok(json!({"usable": usable, "manageable": manageable})))
            }
            ("GET", ["rest", "credential", id]) => {
                match self.credentials.iter().find(|c| c.id.to_string() == *id) {
                    Some(c) => ResponseTemplate::new(200).set_body_json(sc_ok(shown(c))),
                    None => error(Flavour::Sc, 404, "Credential not found"),
                }
            }
            ("PATCH", ["rest", "credential", id]) => {
                let Some(c) = self
                    .credentials
                    .iter_mut()
                    .find(|c| c.id.to_string() == *id)
                else {
                    return error(Flavour::Sc, 404, "Credential not found");
                };
                if !c.editable {
                    return error(
                        Flavour::Sc,
                        403,
                        "Insufficient permissions to edit the credential",
                    );
                }
                let Some(password) = body.get("password").and_then(Value::as_str) else {
                    return error(Flavour::Sc, 400, "password is required");
                };
                if !self.ignore_updates {
                    c.password = password.to_owned();
                    c.changes += 1;
                }
                let answer = shown(c);
                ResponseTemplate::new(200).set_body_json(sc_ok(answer))
            }
            _ => error(Flavour::Sc, 404, "Not Found"),
        }
    }
}
