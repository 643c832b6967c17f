//! The rehearsal of a *password rotator*: a binary that changes one
//! account's password through an HTTP API authorised by an API record's
//! token, and leaves storing `newPassword` to the Gateway (exit 0).
//!
//! Why one service for all of them: what such a rehearsal does is the same
//! for every API (find the API record as the binary picks it, seed the fake
//! with its token and the PAM User's account and old password, point the
//! record's url at the fake, and judge the account's password against the
//! exit code). Only a small description differs: which fake, how the binary
//! picks its API record, how the fake expects the token and reads the body,
//! and the words for the account. That description is a
//! [`PasswordRotator`] (`okta.rs`, `rest.rs`); adding an HTTP password
//! rotator's rehearsal is one more.

use serde_json::{Map, Value};

use super::Rehearsal;
use super::world::{
    Call, Service, Staging, is_loopback_url, lookup_text, proxied_calls, repoint, shown_url,
};
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, Proxied, ProxiedRequest};
use crate::runner::Outcome;

/// The token the fake expects when no API record would be picked: one
/// nobody has.
const NO_TOKEN: &str = "no-api-record-token";

/// A record dictionary as the Gateway sends it.
pub(super) type Dict = Map<String, Value>;

/// What differs between password rotators' rehearsals.
pub(super) trait PasswordRotator: Sized + Send + Sync + 'static {
    /// The fake the binary talks to (an [`crate::fakes::http::HttpFake`]:
    /// faults are armed through its proxy).
    type Fake: Proxied + Send + Sync + 'static;
    /// The name faults and reports use for it: `okta`, `rest`.
    const NAME: &'static str;
    /// The fake in words, for notes and errors: "the fake Okta org".
    const FAKE: &'static str;
    /// The user record's field that names the API record by its title.
    const TITLE_FIELD: &'static str;
    /// The titles the binary looks for when the user record names none.
    const DEFAULT_TITLES: &'static [&'static str];
    /// `Some(how)` when the binary's last resort finds the API record by
    /// its url ("its Okta-hosted url"), which the fake's address is not:
    /// the harness then names the record in [`Self::TITLE_FIELD`].
    const FOUND_BY_URL: Option<&'static str>;
    /// The seeded line when no API record would be picked.
    const NO_API_RECORD: &'static str;
    /// The API record's field holding the API's url, which the rehearsal
    /// points at the fake.
    const URL_FIELD: &'static str = "url";
    /// The exit code of a run on a user the service does not know, as the
    /// binary documents it: 1 (nothing changed) unless the binary calls it
    /// bad input (rotate-okta-user: 2).
    const UNKNOWN_USER_EXIT: i32 = 1;
    /// The fake's name for the call that changes the password, when a
    /// clean run sends another request that is not a read before it (a
    /// sign-in for a session); by default the change is the first request
    /// that is not a `GET` or `HEAD`.
    const CHANGE_CALL: Option<&'static str> = None;
    /// The API record's field holding the token (a secret the service
    /// checks on every request).
    const TOKEN_FIELD: &'static str = "password";

    /// A value of [`Self::TOKEN_FIELD`] the binary reads but the service
    /// refuses, when a fixed string would not be one (a private key, which
    /// the binary refuses as bad input unless it is a key). `None`: the
    /// suite's own wrong token.
    fn wrong_token() -> Option<String> {
        None
    }

    /// The field of `api` that holds the API's url: [`Self::URL_FIELD`],
    /// unless the record picks another (Tenable's `tenable_sc_host`, set,
    /// selects Security Center in place of `tenable_url`).
    fn url_field(_api: &Dict) -> &'static str {
        Self::URL_FIELD
    }

    /// Whether the binary's last resort (no title named, none with a
    /// default title) would pick `dict`, if it were the only one.
    fn last_resort(dict: &Dict) -> bool;
    /// Starts the fake from the API record the binary will pick (if any)
    /// and the Gateway's input.
    fn start(api: Option<&Dict>, token: &str, staging: &Staging) -> Seeded<Self>;
    /// The url the API record is pointed at, from the one it held.
    fn url(fake: &Self::Fake, was: &str) -> String;
    /// The account's password on the fake now.
    fn password_of(fake: &Self::Fake, account: &str) -> Option<String>;
    /// A request, for the report (masked by the caller): its method, path
    /// and query, its `Authorization` header and its body.
    fn describe(&self, request: &ProxiedRequest) -> String {
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
    /// How the reports name `account` (for a service's users:
    /// [`Words::user_of`]).
    fn words(account: &str) -> Words;
}

/// A password rotator's world as the shared end-to-end suite sees it
/// ([`crate::suites::password`]): what its description says, and the fake's
/// state now.
#[derive(Debug, Clone)]
pub struct PasswordFacts {
    /// The uid and title of the API record the binary picks, if any.
    pub admin: Option<(String, String)>,
    /// The user record's field that names the API record by its title.
    pub title_field: &'static str,
    /// The first title the binary looks for when the user record names none.
    pub default_title: &'static str,
    /// The API record's field holding the API's url.
    pub url_field: &'static str,
    /// The documented exit code of a user the service does not know.
    pub unknown_user_exit: i32,
    /// The call that changes the password, when the description names it.
    pub change_call: Option<&'static str>,
    /// The API record's field holding the token.
    pub token_field: &'static str,
    /// A token the service refuses, when the description gives one.
    pub wrong_token: Option<String>,
    /// The account whose password the binary changes.
    pub account: String,
    /// The account's password on the fake now.
    pub password: Option<String>,
    /// Every request the fake received, in order: its call name and method.
    pub requests: Vec<(String, String)>,
}

/// A started fake and what it was seeded with.
pub(super) struct Seeded<R: PasswordRotator> {
    /// What [`PasswordRotator::describe`] needs of this run.
    pub rotator: R,
    pub fake: R::Fake,
    /// The account whose password the binary changes.
    pub account: String,
    /// How the fake expects the token: "expected as SSWS ********".
    pub token: String,
    /// What the account was seeded with, one line each.
    pub account_lines: Vec<String>,
}

/// How the reports name the account.
pub(super) struct Words {
    /// As a subject in a verdict: "the Okta user".
    pub holder: String,
    /// In the end state: "Okta user 'bob'".
    pub account: String,
    /// Its password in the end state: "bob's Okta password".
    pub password: String,
    /// In a matrix cell: "the user".
    pub short: &'static str,
}

impl Words {
    /// A user of `service`: "the Okta user", "Okta user 'bob'", "bob's Okta
    /// password", "the user".
    pub fn user_of(service: &str, login: &str) -> Self {
        Self {
            holder: format!("the {service} user"),
            account: format!("{service} user '{login}'"),
            password: format!("{login}'s {service} password"),
            short: "the user",
        }
    }
}

/// The record's title, as the Gateway sends it.
pub(super) fn title(dict: &Dict) -> String {
    dict.get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The API record as the binary picks it, among the attached records (never
/// the PAM configuration or the resource): titled by the user record's
/// [`PasswordRotator::TITLE_FIELD`] (exactly, else ignoring case and
/// spaces around), else by one of the default titles, else the only record
/// its last resort accepts. With the dictionary, whether the last resort
/// found it. `None` where the binary would find none, or several.
fn api_record<R: PasswordRotator>(rehearsal: &Rehearsal) -> Option<(Dict, bool)> {
    let user = rehearsal
        .dicts
        .iter()
        .find(|d| d.get("uid").and_then(Value::as_str) == Some(rehearsal.roles.user.uid.as_str()));
    let titled = |wanted: &str| -> Vec<&Dict> {
        let exact: Vec<_> = rehearsal
            .attached_dicts()
            .filter(|d| title(d) == wanted)
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        rehearsal
            .attached_dicts()
            .filter(|d| title(d).trim().eq_ignore_ascii_case(wanted.trim()))
            .collect()
    };
    let one = |found: Vec<&Dict>, last_resort: bool| match found.as_slice() {
        [one] => Some(((*one).clone(), last_resort)),
        _ => None,
    };
    if let Some(wanted) = user.and_then(|u| lookup_text(u, R::TITLE_FIELD)) {
        return one(titled(wanted.trim()), false);
    }
    let defaults: Vec<_> = R::DEFAULT_TITLES.iter().flat_map(|t| titled(t)).collect();
    if !defaults.is_empty() {
        return one(defaults, false);
    }
    one(
        rehearsal
            .attached_dicts()
            .filter(|d| R::last_resort(d))
            .collect(),
        true,
    )
}

/// Seeds the fake of `R`: the token of the API record the binary will pick
/// and the PAM User's account with its password (the Gateway's
/// `oldPassword`). That record's `url` is pointed at the fake; when the
/// binary would find the record only by a url the fake's address is not,
/// the user record names it by title instead. The notes say both.
pub(super) fn start<R: PasswordRotator>(
    rehearsal: &Rehearsal,
    staging: &mut Staging,
) -> Result<Box<dyn Service>, String> {
    let found = api_record::<R>(rehearsal);
    let api = found.as_ref().map(|(dict, _)| dict);
    let token = api
        .and_then(|d| lookup_text(d, "password"))
        .unwrap_or_else(|| NO_TOKEN.into());
    let started = R::start(api, &token, staging);
    let mut seeded = Vec::new();
    match &found {
        Some((dict, last_resort)) => {
            let api_title = title(dict);
            let url_field = R::url_field(dict);
            let was = lookup_text(dict, url_field).unwrap_or_default();
            let now = R::url(&started.fake, &was);
            let api_uid = lookup_text(dict, "uid").unwrap_or_default();
            let api_uid = api_uid.trim();
            let mut keys = Vec::new();
            if let Some(dict) = staging.dict_mut(api_uid) {
                keys = repoint(dict, url_field, &now);
                let read = lookup_text(dict, url_field).unwrap_or_default();
                if !is_loopback_url(&read) {
                    return Err(format!(
                        "cannot point the {} of '{api_title}' at {}: the binary would read '{}'",
                        url_field,
                        R::FAKE,
                        shown_url(&read)
                    ));
                }
            }
            staging.notes.push(format!(
                "the {} of '{api_title}' ({}; field {}) points at {} ({}) for this rehearsal",
                url_field,
                shown_url(&was),
                keys.join(", "),
                R::FAKE,
                shown_url(&now)
            ));
            if let (true, Some(how)) = (*last_resort, R::FOUND_BY_URL) {
                let user_uid = rehearsal.roles.user.uid.clone();
                if let Some(user) = staging.dict_mut(&user_uid) {
                    user.insert(R::TITLE_FIELD.into(), Value::String(api_title.clone()));
                }
                staging.notes.push(format!(
                    "the binary finds '{api_title}' by {how}, which the fake's address is not: \
                     the harness sets {} = '{api_title}' in the PAM User's dictionary for this \
                     rehearsal (setting it in the record makes the choice explicit on the \
                     Gateway too)",
                    R::TITLE_FIELD
                ));
            }
            seeded.push(format!("API token from '{api_title}', {}", started.token));
        }
        None => seeded.push(R::NO_API_RECORD.into()),
    }
    seeded.extend(started.account_lines);
    let admin = found.map(|(dict, _)| {
        let uid = lookup_text(&dict, "uid").unwrap_or_default();
        (uid.trim().to_owned(), title(&dict))
    });
    Ok(Box::new(PasswordService::<R> {
        admin,
        rotator: started.rotator,
        fake: started.fake,
        account: started.account,
        old: staging.param("oldPassword"),
        new: staging.param("newPassword"),
        seeded,
    }))
}

/// A password rotator's fake, seeded, and the account it rotates.
struct PasswordService<R: PasswordRotator> {
    /// The uid and title of the API record the binary will pick, if any.
    admin: Option<(String, String)>,
    rotator: R,
    fake: R::Fake,
    account: String,
    old: String,
    new: String,
    seeded: Vec<String>,
}

impl<R: PasswordRotator> PasswordService<R> {
    fn now(&self) -> Option<String> {
        R::password_of(&self.fake, &self.account)
    }
}

impl<R: PasswordRotator> Service for PasswordService<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn calls(&self) -> Vec<Call> {
        proxied_calls(self.fake.fault_proxy(), |r| self.rotator.describe(r))
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

    /// Exit 0 needs the new password, 1 and 2 the old one, 4 either.
    fn verdict(&self, _vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        let now = self.now();
        let now_text = now.as_deref().unwrap_or_default();
        match out.code {
            Some(0) if now_text == self.new => Ok(()),
            Some(1 | 2) if now_text == self.old => Ok(()),
            Some(4) if now_text == self.old || now_text == self.new => Ok(()),
            other => Err(format!(
                "exit {other:?} but the account has {}",
                self.which()
            )),
        }
    }

    /// Lost: the account has a password nobody holds (neither the old one
    /// the vault keeps nor the Gateway's newPassword), or the new one
    /// after an exit that tells the Gateway to keep the old one (1, 2; any
    /// code but 0 and 4). Exit 4 with the new password is declared, not
    /// lost: the binary said the outcome is uncertain and what to check.
    fn lost(&self, _vault: &FakeVault, out: &Outcome) -> Option<String> {
        let now = self.now();
        let now_text = now.as_deref().unwrap_or_default();
        if now.is_none() || (now_text != self.old && now_text != self.new) {
            return Some(format!("the account has {}", self.which()));
        }
        match out.code {
            Some(0) if now_text == self.old => Some(
                "exit 0: the Gateway stores newPassword, but the account still has the old \
                 password"
                    .into(),
            ),
            Some(0 | 4) => None,
            _ if now_text == self.new => Some(format!(
                "exit {}: the Gateway keeps the old password, but the account has the new one",
                super::exit_text(out.code)
            )),
            _ => None,
        }
    }

    /// The account must still have the old password.
    fn unchanged(&self, _vault: &FakeVault) -> Result<(), String> {
        match self.now() {
            Some(now) if now != self.old => Err(format!(
                "{} now has {}",
                R::words(&self.account).holder,
                self.which()
            )),
            _ => Ok(()),
        }
    }

    fn end_state(&self, _vault: &FakeVault) -> Vec<String> {
        let words = R::words(&self.account);
        vec![
            format!("{} now has {}", words.account, self.which()),
            format!(
                "{} is now the Gateway's newPassword: {}",
                words.password,
                if self.now().as_deref() == Some(self.new.as_str()) {
                    "yes"
                } else {
                    "no"
                }
            ),
        ]
    }

    fn state_line(&self, _vault: &FakeVault) -> String {
        format!("{} has {}", R::words(&self.account).short, self.which())
    }

    fn gateway_stores_password(&self) -> bool {
        true
    }

    fn password_rotator(&self) -> Option<PasswordFacts> {
        let proxy = self.fake.fault_proxy();
        let requests = proxy
            .exchanges()
            .into_iter()
            .zip(proxy.requests())
            .map(|(exchange, request)| (exchange.call, request.method))
            .collect();
        Some(PasswordFacts {
            admin: self.admin.clone(),
            title_field: R::TITLE_FIELD,
            default_title: R::DEFAULT_TITLES.first().copied().unwrap_or_default(),
            url_field: R::URL_FIELD,
            unknown_user_exit: R::UNKNOWN_USER_EXIT,
            change_call: R::CHANGE_CALL,
            token_field: R::TOKEN_FIELD,
            wrong_token: R::wrong_token(),
            account: self.account.clone(),
            password: self.now(),
            requests,
        })
    }
}

impl<R: PasswordRotator> PasswordService<R> {
    fn which(&self) -> &'static str {
        super::world::which_password(self.now().as_deref(), &self.old, &self.new)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rehearsal::okta::Okta;
    use crate::rehearsal::world::repoint;
    use crate::rehearsal::{Rehearsal, use_case};

    /// rotate-okta-user refuses when two records carry its default title
    /// (`find_api_record`: "several titled"); the rehearsal must not fall
    /// back to the one with an Okta-hosted url and name it for the binary,
    /// which would rehearse a rotation the Gateway would refuse.
    #[test]
    fn two_records_with_the_default_title_pick_no_api_record_as_the_binary_refuses() {
        let mut rehearsal =
            Rehearsal::fixture(use_case("okta-user").expect("the use case")).expect("the fixture");
        let user_uid = rehearsal.roles.user.uid.clone();
        let mut second = None;
        for dict in &mut rehearsal.dicts {
            if dict.get("uid").and_then(Value::as_str) == Some(user_uid.as_str()) {
                dict.retain(|key, _| !key.eq_ignore_ascii_case("okta_record_title"));
            } else if title(dict) == "Okta API Access Details" {
                let mut copy = dict.clone();
                copy.insert("uid".into(), json!("SecondApiRecordUid0001"));
                repoint(&mut copy, "url", "https://intranet.example.com/");
                second = Some(copy);
            }
        }
        rehearsal
            .dicts
            .push(second.expect("the fixture has the API record"));
        assert!(api_record::<Okta>(&rehearsal).is_none());
    }

    /// The binary never takes the PAM configuration for its admin record
    /// (`Records::attached`): neither may the rehearsal, or it would point
    /// a record at the fake that the binary does not read.
    #[test]
    fn the_pam_configuration_is_never_the_admin_record() {
        let mut rehearsal = Rehearsal::fixture(use_case("meraki-user").expect("the use case"))
            .expect("the fixture");
        let config_uid = rehearsal.roles.config.uid.clone();
        rehearsal
            .dicts
            .retain(|d| title(d) != "Cisco Authentication Record");
        for dict in &mut rehearsal.dicts {
            if dict.get("uid").and_then(Value::as_str) == Some(config_uid.as_str()) {
                dict.insert("network_id".into(), json!("L_1"));
                dict.insert("title".into(), json!("Cisco Authentication Record"));
            }
        }
        assert!(api_record::<crate::rehearsal::meraki::Meraki>(&rehearsal).is_none());
    }
}
