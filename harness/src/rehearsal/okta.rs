//! `rotate-okta-user`: the Okta users API, seeded with the PAM User's login
//! and password and the API record's token (a [`PasswordRotator`]).

use rotate_okta_user::config::{DEFAULT_TITLE, is_okta_org};

use super::password::{Dict, PasswordRotator, Seeded, Words};
use super::world::{Staging, lookup_text};
use crate::fakes::okta::FakeOkta;

/// A field as the binary reads it (the shared lookup), trimmed.
fn text(dict: &Dict, key: &str) -> Option<String> {
    lookup_text(dict, key).map(|s| s.trim().to_owned())
}

pub(super) struct Okta;

impl PasswordRotator for Okta {
    type Fake = FakeOkta;
    const NAME: &'static str = "okta";
    const FAKE: &'static str = "the fake Okta org";
    const TITLE_FIELD: &'static str = "okta_record_title";
    const DEFAULT_TITLES: &'static [&'static str] = &[DEFAULT_TITLE];
    const FOUND_BY_URL: Option<&'static str> = Some("its Okta-hosted url");
    const NO_API_RECORD: &'static str = "no API record the binary would pick \
        (okta_record_title, 'Okta API Access Details', or the only record with an Okta-hosted \
        url): the fake expects a token nobody has";
    /// "Okta has no user with login ...": the record names no Okta user.
    const UNKNOWN_USER_EXIT: i32 = 2;

    fn last_resort(dict: &Dict) -> bool {
        text(dict, "url").is_some_and(|u| is_okta_org(&u))
    }

    /// The user with the PAM User's login, status ACTIVE and its password;
    /// the token expected as `SSWS`, or `Bearer` with `auth_scheme`.
    fn start(api: Option<&Dict>, token: &str, staging: &Staging) -> Seeded<Self> {
        let bearer = api
            .and_then(|d| text(d, "auth_scheme"))
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"));
        let mut fake = FakeOkta::start(token.trim());
        if bearer {
            fake = fake.bearer();
        }
        let login = staging.param("user");
        let mut account_lines = Vec::new();
        if login.is_empty() {
            account_lines.push("no user: the PAM User has no login".into());
        } else {
            fake = fake.with_user(&login, "ACTIVE", &staging.param("oldPassword"));
            account_lines.push(format!(
                "user '{login}' (ACTIVE) whose password is the PAM User's (oldPassword)"
            ));
        }
        Seeded {
            rotator: Okta,
            fake,
            account: login,
            token: format!(
                "expected as {} ********",
                if bearer { "Bearer" } else { "SSWS" }
            ),
            account_lines,
        }
    }

    fn url(fake: &FakeOkta, _was: &str) -> String {
        fake.url()
    }

    fn password_of(fake: &FakeOkta, account: &str) -> Option<String> {
        fake.password_of(account)
    }

    fn words(login: &str) -> Words {
        Words::user_of("Okta", login)
    }
}
