//! `rotate-tenable-user`: Tenable's users, seeded with the PAM User's name
//! and password and the admin record's API keys; `rotate-tenable-credential`:
//! a managed credential named as the PAM User's login, holding its old
//! password (two [`PasswordRotator`]s on one fake). The fake serves both
//! flavours: the admin record's `tenable_sc_host` is pointed at it when the
//! record names a Security Center, else its `tenable_url`.

use rotate_tenable_user::config::DEFAULT_TITLE;

use super::password::{Dict, PasswordRotator, Seeded, Words};
use super::world::{Staging, lookup_text};
use crate::fakes::tenable::FakeTenable;
use crate::faults::ProxiedRequest;

pub(super) struct Tenable;

/// The fake, taking the admin record's key pair, and the product the record
/// names.
fn started(api: Option<&Dict>) -> (FakeTenable, &'static str) {
    let key = |name: &str| {
        api.and_then(|d| lookup_text(d, name))
            .map(|k| k.trim().to_owned())
            .unwrap_or_else(|| format!("no-{name}"))
    };
    let fake = FakeTenable::start(&key("tenable_access_key"), &key("tenable_secret_key"));
    let product = match api.map(Tenable::url_field) {
        Some("tenable_sc_host") => "Security Center",
        _ => "Tenable Vulnerability Management",
    };
    (fake, product)
}

/// A request in the report: its line, the key and session headers (masked
/// by the caller) and the body.
fn described(request: &ProxiedRequest) -> String {
    let mut lines = vec![format!("{} {}", request.method, request.path)];
    for name in ["x-apikeys", "x-apikey", "x-securitycenter"] {
        if let Some(value) = request.header(name) {
            lines.push(format!("{name}: {value}"));
        }
    }
    if !request.body.is_empty() {
        lines.push(format!("body: {}", String::from_utf8_lossy(&request.body)));
    }
    lines.join("\n")
}

impl PasswordRotator for Tenable {
    type Fake = FakeTenable;
    const NAME: &'static str = "tenable";
    const FAKE: &'static str = "the fake Tenable";
    const TITLE_FIELD: &'static str = "tenable_record_title";
    const DEFAULT_TITLES: &'static [&'static str] = &[DEFAULT_TITLE];
    const FOUND_BY_URL: Option<&'static str> = None;
    const NO_API_RECORD: &'static str = "no admin record the binary would pick \
        (tenable_record_title, 'Tenable Authentication Record', or the only record with a \
        tenable_access_key): the fake expects API keys nobody has";
    const URL_FIELD: &'static str = "tenable_url";
    const TOKEN_FIELD: &'static str = "tenable_secret_key";

    fn url_field(api: &Dict) -> &'static str {
        if lookup_text(api, "tenable_sc_host").is_some() {
            "tenable_sc_host"
        } else {
            Self::URL_FIELD
        }
    }

    fn last_resort(dict: &Dict) -> bool {
        lookup_text(dict, "tenable_access_key").is_some()
    }

    /// A Tenable holding a user with the PAM User's name and password, that
    /// takes the admin record's key pair.
    fn start(api: Option<&Dict>, _token: &str, staging: &Staging) -> Seeded<Self> {
        let (mut fake, product) = started(api);
        let username = staging.param("user");
        let mut account_lines = Vec::new();
        if username.is_empty() {
            account_lines.push("no user: the PAM User has no login".into());
        } else {
            fake = fake.with_user(&username, &staging.param("oldPassword"));
            account_lines.push(format!(
                "{product} user '{username}' whose password is the PAM User's (oldPassword)"
            ));
        }
        Seeded {
            rotator: Tenable,
            fake,
            account: username,
            token: "expected as accessKey=********; secretKey=********;".into(),
            account_lines,
        }
    }

    fn url(fake: &FakeTenable, _was: &str) -> String {
        fake.url()
    }

    fn password_of(fake: &FakeTenable, account: &str) -> Option<String> {
        fake.password_of(account)
    }

    fn describe(&self, request: &ProxiedRequest) -> String {
        described(request)
    }

    fn words(username: &str) -> Words {
        Words {
            holder: "the Tenable user".into(),
            account: format!("Tenable user '{username}'"),
            password: format!("{username}'s Tenable password"),
            short: "the user",
        }
    }
}

pub(super) struct TenableCredential;

impl PasswordRotator for TenableCredential {
    type Fake = FakeTenable;
    const NAME: &'static str = "tenable";
    const FAKE: &'static str = "the fake Tenable";
    const TITLE_FIELD: &'static str = Tenable::TITLE_FIELD;
    const DEFAULT_TITLES: &'static [&'static str] = Tenable::DEFAULT_TITLES;
    const FOUND_BY_URL: Option<&'static str> = None;
    const NO_API_RECORD: &'static str = Tenable::NO_API_RECORD;
    const URL_FIELD: &'static str = Tenable::URL_FIELD;
    const TOKEN_FIELD: &'static str = Tenable::TOKEN_FIELD;

    fn url_field(api: &Dict) -> &'static str {
        Tenable::url_field(api)
    }

    fn last_resort(dict: &Dict) -> bool {
        Tenable::last_resort(dict)
    }

    /// A Tenable holding a Windows managed credential named as the PAM
    /// User's login, whose password is the one the built-in rotation just
    /// replaced (oldPassword).
    fn start(api: Option<&Dict>, _token: &str, staging: &Staging) -> Seeded<Self> {
        let (mut fake, product) = started(api);
        let name = staging.param("user");
        let mut account_lines = Vec::new();
        if name.is_empty() {
            account_lines.push("no credential: the PAM User has no login".into());
        } else {
            fake = fake.with_credential(&name, &name, &staging.param("oldPassword"));
            account_lines.push(format!(
                "{product} managed credential '{name}' (Windows, password authentication) \
                 holding the password the rotation replaced (oldPassword)"
            ));
        }
        Seeded {
            rotator: TenableCredential,
            fake,
            account: name,
            token: "expected as accessKey=********; secretKey=********;".into(),
            account_lines,
        }
    }

    fn url(fake: &FakeTenable, _was: &str) -> String {
        fake.url()
    }

    fn password_of(fake: &FakeTenable, account: &str) -> Option<String> {
        fake.credential(account).map(|c| c.password)
    }

    fn describe(&self, request: &ProxiedRequest) -> String {
        described(request)
    }

    fn words(name: &str) -> Words {
        Words {
            holder: "the managed credential".into(),
            account: format!("Tenable managed credential '{name}'"),
            password: format!("the password in managed credential '{name}'"),
            short: "the credential",
        }
    }
}
