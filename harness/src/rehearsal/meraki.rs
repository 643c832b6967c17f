//! `rotate-meraki-user`: the Dashboard API's authorized users of the admin
//! record's network, seeded with the PAM User's email and password and the
//! admin record's API key (a [`PasswordRotator`]).

use rotate_meraki_user::config::DEFAULT_TITLE;

use super::password::{Dict, PasswordRotator, Seeded, Words};
use super::world::{Staging, lookup_text};
use crate::fakes::meraki::FakeMeraki;

pub(super) struct Meraki;

impl PasswordRotator for Meraki {
    type Fake = FakeMeraki;
    const NAME: &'static str = "meraki";
    const FAKE: &'static str = "the fake Meraki Dashboard";
    const TITLE_FIELD: &'static str = "meraki_record_title";
    const DEFAULT_TITLES: &'static [&'static str] = &[DEFAULT_TITLE];
    const FOUND_BY_URL: Option<&'static str> = None;
    const NO_API_RECORD: &'static str = "no admin record the binary would pick \
        (meraki_record_title, 'Cisco Authentication Record', or the only record with a \
        network_id): the fake expects an API key nobody has";
    const URL_FIELD: &'static str = "meraki_api_url";

    fn last_resort(dict: &Dict) -> bool {
        lookup_text(dict, "network_id").is_some_and(|n| !n.trim().is_empty())
    }

    /// The network of the admin record's `network_id`, holding an 802.1X
    /// user with the PAM User's email and password.
    fn start(api: Option<&Dict>, token: &str, staging: &Staging) -> Seeded<Self> {
        let network = api
            .and_then(|d| lookup_text(d, "network_id"))
            .map(|n| n.trim().to_owned())
            .unwrap_or_default();
        let mut fake = FakeMeraki::start(token.trim(), &network);
        let email = staging.param("user");
        let mut account_lines = Vec::new();
        if email.is_empty() {
            account_lines.push("no user: the PAM User has no login".into());
        } else {
            fake = fake.with_user(&email, &staging.param("oldPassword"));
            account_lines.push(format!(
                "authorized user '{email}' (802.1X) of network '{network}' whose password is \
                 the PAM User's (oldPassword)"
            ));
        }
        Seeded {
            rotator: Meraki,
            fake,
            account: email,
            token: "expected as Bearer ********".into(),
            account_lines,
        }
    }

    fn url(fake: &FakeMeraki, _was: &str) -> String {
        fake.url()
    }

    fn password_of(fake: &FakeMeraki, account: &str) -> Option<String> {
        fake.password_of(account)
    }

    fn words(email: &str) -> Words {
        Words::user_of("Meraki", email)
    }
}
