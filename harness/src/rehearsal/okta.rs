//! `rotate-okta-user`: the Okta users API, seeded with the PAM User's login
//! and password and the API record's token.

use serde_json::Value;

use super::Rehearsal;
use super::world::{
    Call, Service, Staging, password_end_state, password_unchanged, password_verdict,
    proxied_calls, which_password,
};
use crate::fakes::okta::FakeOkta;
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, ProxiedRequest};
use crate::runner::Outcome;

/// The binary's default title for the API record.
const DEFAULT_TITLE: &str = "Okta API Access Details";
/// Domains of Okta-hosted orgs, as the binary knows them.
const OKTA_DOMAINS: [&str; 6] = [
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "okta-gov.com",
    "okta.mil",
    "okta-miltest.com",
];

struct Okta {
    fake: FakeOkta,
    login: String,
    old: String,
    new: String,
    seeded: Vec<String>,
}

/// A field as the binary reads it (the shared lookup: ignoring case,
/// numbered duplicates), trimmed.
fn text(dict: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    super::world::lookup_text(dict, key).map(|s| s.trim().to_owned())
}

fn title(dict: &serde_json::Map<String, Value>) -> String {
    dict.get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn is_okta_org(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url.trim()) else {
        return false;
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    OKTA_DOMAINS
        .iter()
        .any(|d| host.ends_with(&format!(".{d}")))
}

/// The API record as the binary picks it: titled by the user record's
/// `okta_record_title`, else "Okta API Access Details", else the only
/// record with an Okta-hosted url. Returns its uid and whether it was
/// found by its url alone.
fn api_record(rehearsal: &Rehearsal) -> Option<(String, bool)> {
    let user = rehearsal
        .dicts
        .iter()
        .find(|d| d.get("uid").and_then(Value::as_str) == Some(rehearsal.roles.user.uid.as_str()));
    let titled = |wanted: &str| -> Vec<String> {
        let exact: Vec<String> = rehearsal
            .other_dicts()
            .filter(|d| title(d) == wanted)
            .filter_map(|d| text(d, "uid"))
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        rehearsal
            .other_dicts()
            .filter(|d| title(d).trim().eq_ignore_ascii_case(wanted.trim()))
            .filter_map(|d| text(d, "uid"))
            .collect()
    };
    if let Some(wanted) = user.and_then(|u| text(u, "okta_record_title")) {
        return match titled(&wanted).as_slice() {
            [one] => Some((one.clone(), false)),
            _ => None,
        };
    }
    if let [one] = titled(DEFAULT_TITLE).as_slice() {
        return Some((one.clone(), false));
    }
    let orgs: Vec<String> = rehearsal
        .other_dicts()
        .filter(|d| text(d, "url").is_some_and(|u| is_okta_org(&u)))
        .filter_map(|d| text(d, "uid"))
        .collect();
    match orgs.as_slice() {
        [one] => Some((one.clone(), true)),
        _ => None,
    }
}

/// Seeds the Okta org: the user with the PAM User's login, status ACTIVE and
/// its password (the Gateway's `oldPassword`), and the token of the API
/// record the binary will pick (`SSWS`, or `Bearer` with `auth_scheme`).
/// That record's `url` is pointed at the fake. When the binary would find
/// the record only by its Okta-hosted url (which the fake's address is
/// not), the user record's `okta_record_title` is set to its title, and the
/// notes say so.
pub fn start(rehearsal: &Rehearsal, staging: &mut Staging) -> Result<Box<dyn Service>, String> {
    let mut seeded = Vec::new();
    let found = api_record(rehearsal);
    let api = found
        .as_ref()
        .and_then(|(uid, _)| {
            rehearsal
                .dicts
                .iter()
                .find(|d| text(d, "uid").as_deref() == Some(uid))
        })
        .cloned();
    let token = api
        .as_ref()
        .and_then(|d| text(d, "password"))
        .unwrap_or_else(|| "no-api-record-token".into());
    let bearer = api
        .as_ref()
        .and_then(|d| text(d, "auth_scheme"))
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer"));
    let mut fake = FakeOkta::start(&token);
    if bearer {
        fake = fake.bearer();
    }
    match (&found, &api) {
        (Some((uid, by_url)), Some(dict)) => {
            let was = super::world::shown_url(&text(dict, "url").unwrap_or_default());
            let api_title = title(dict);
            let mut keys = Vec::new();
            if let Some(dict) = staging.dict_mut(uid) {
                keys = super::world::repoint(dict, "url", &fake.url());
                let read = super::world::lookup_text(dict, "url").unwrap_or_default();
                if !super::world::is_loopback_url(&read) {
                    return Err(format!(
                        "cannot point the url of '{api_title}' at the fake Okta org: the binary \
                         would read '{}'",
                        super::world::shown_url(&read)
                    ));
                }
            }
            staging.notes.push(format!(
                "the url of '{api_title}' ({was}; field {}) points at the fake Okta org ({}) for \
                 this rehearsal",
                keys.join(", "),
                fake.url()
            ));
            if *by_url {
                let user_uid = rehearsal.roles.user.uid.clone();
                if let Some(user) = staging.dict_mut(&user_uid) {
                    user.insert("okta_record_title".into(), Value::String(api_title.clone()));
                }
                staging.notes.push(format!(
                    "the binary finds '{api_title}' by its Okta-hosted url, which the fake's \
                     address is not: the harness sets okta_record_title = '{api_title}' in the \
                     PAM User's dictionary for this rehearsal (setting it in the record makes the \
                     choice explicit on the Gateway too)"
                ));
            }
            seeded.push(format!(
                "API token from '{api_title}', expected as {} ********",
                if bearer { "Bearer" } else { "SSWS" }
            ));
        }
        _ => seeded.push(
            "no API record the binary would pick (okta_record_title, 'Okta API Access Details', \
             or the only record with an Okta-hosted url): the fake expects a token nobody has"
                .into(),
        ),
    }
    let login = staging.param("user");
    let old = staging.param("oldPassword");
    if login.is_empty() {
        seeded.push("no user: the PAM User has no login".into());
    } else {
        fake = fake.with_user(&login, "ACTIVE", &old);
        seeded.push(format!(
            "user '{login}' (ACTIVE) whose password is the PAM User's (oldPassword)"
        ));
    }
    Ok(Box::new(Okta {
        fake,
        login,
        old,
        new: staging.param("newPassword"),
        seeded,
    }))
}

/// A request, for the report (masked by the caller).
fn describe(request: &ProxiedRequest) -> String {
    let query = if request.query.is_empty() {
        String::new()
    } else {
        format!("?{}", request.query)
    };
    let mut lines = vec![format!("{} {}{query}", request.method, request.path)];
    if let Some(auth) = request.header("authorization") {
        lines.push(format!("authorization: {auth}"));
    }
    if !request.body.is_empty() {
        lines.push(format!("body: {}", String::from_utf8_lossy(&request.body)));
    }
    lines.join("\n")
}

impl Service for Okta {
    fn name(&self) -> &'static str {
        "okta"
    }

    fn calls(&self) -> Vec<Call> {
        proxied_calls(self.fake.proxy(), describe)
    }

    fn armable(&self) -> &dyn Armable {
        &self.fake
    }

    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn issued(&self) -> Vec<String> {
        vec![self.old.clone(), self.new.clone()]
    }

    fn seeded(&self) -> Vec<String> {
        self.seeded.clone()
    }

    fn verdict(&self, _vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        password_verdict(
            out,
            self.fake.password_of(&self.login).as_deref(),
            &self.old,
            &self.new,
        )
    }

    fn unchanged(&self, _vault: &FakeVault) -> Result<(), String> {
        password_unchanged(
            "the Okta user",
            self.fake.password_of(&self.login).as_deref(),
            &self.old,
            &self.new,
        )
    }

    fn end_state(&self, _vault: &FakeVault) -> Vec<String> {
        password_end_state(
            &format!("Okta user '{}'", self.login),
            &format!("{}'s Okta password", self.login),
            self.fake.password_of(&self.login).as_deref(),
            &self.old,
            &self.new,
        )
    }

    fn state_line(&self, _vault: &FakeVault) -> String {
        format!(
            "the user has {}",
            which_password(
                self.fake.password_of(&self.login).as_deref(),
                &self.old,
                &self.new
            )
        )
    }

    fn gateway_stores_password(&self) -> bool {
        true
    }
}
