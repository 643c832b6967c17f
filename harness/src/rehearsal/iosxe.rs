//! `rotate-cisco-iosxe-user`: a Cisco IOS XE device's RESTCONF server,
//! seeded with the admin record's login and password (a privilege-15 user)
//! and the PAM User's name and password (a privilege-15 user too, so that
//! the binary's sign-in proof runs), over plain http on loopback (a
//! [`PasswordRotator`]).

use rotate_cisco_iosxe_user::config::{DEFAULT_TITLE, ENDPOINT_FIELD};

use super::password::{Dict, PasswordRotator, Seeded, Words};
use super::world::{Staging, lookup_text};
use crate::fakes::iosxe::FakeIosXe;
use crate::faults::ProxiedRequest;

pub(super) struct IosXe;

impl PasswordRotator for IosXe {
    type Fake = FakeIosXe;
    const NAME: &'static str = "iosxe";
    const FAKE: &'static str = "the fake IOS XE device";
    const TITLE_FIELD: &'static str = "iosxe_record_title";
    const DEFAULT_TITLES: &'static [&'static str] = &[DEFAULT_TITLE];
    const FOUND_BY_URL: Option<&'static str> = None;
    const NO_API_RECORD: &'static str = "no admin record the binary would pick \
        (iosxe_record_title, 'Cisco Authentication Record', or the only record with a \
        host_endpoint): the fake has no admin anybody can sign in as";
    const URL_FIELD: &'static str = ENDPOINT_FIELD;

    fn last_resort(dict: &Dict) -> bool {
        lookup_text(dict, ENDPOINT_FIELD).is_some_and(|n| !n.trim().is_empty())
    }

    /// The admin record's login (privilege 15) with its password, and the
    /// PAM User with its old password (privilege 15).
    fn start(api: Option<&Dict>, token: &str, staging: &Staging) -> Seeded<Self> {
        let admin = api
            .and_then(|d| lookup_text(d, "login"))
            .map(|n| n.trim().to_owned())
            .unwrap_or_default();
        let (old, new) = (staging.param("oldPassword"), staging.param("newPassword"));
        let mut fake = FakeIosXe::start().knowing(&[&old, &new]);
        let mut account_lines = Vec::new();
        if !admin.is_empty() {
            fake = fake.with_user(&admin, token, 15);
        }
        let user = staging.param("user");
        if user.is_empty() {
            account_lines.push("no user: the PAM User has no login".into());
        } else if user != admin {
            fake = fake.with_user(&user, &old, 15);
            account_lines.push(format!(
                "local user '{user}' (privilege 15) whose secret is of the PAM User's password \
                 (oldPassword)"
            ));
        }
        Seeded {
            rotator: IosXe,
            fake,
            account: user,
            token: format!("expected as basic authentication of '{admin}' (privilege 15)"),
            account_lines,
        }
    }

    fn url(fake: &FakeIosXe, _was: &str) -> String {
        fake.url()
    }

    fn password_of(fake: &FakeIosXe, account: &str) -> Option<String> {
        fake.password_of(account)
    }

    fn describe(&self, request: &ProxiedRequest) -> String {
        let mut lines = vec![format!("{} {}", request.method, request.path)];
        // Basic authentication is base64 of "login:password": the report's
        // masking knows the password's own forms, not that one, so the
        // whole value is masked here.
        if let Some(auth) = request.header("authorization") {
            let scheme = auth.split_whitespace().next().unwrap_or_default();
            lines.push(format!("authorization: {scheme} ********"));
        }
        if !request.body.is_empty() {
            // The secret sent is a hash of the new password: as much a
            // secret as the password to an offline guesser.
            let body = match serde_json::from_slice::<serde_json::Value>(&request.body) {
                Ok(mut json) => {
                    mask(&mut json);
                    json.to_string()
                }
                Err(_) => String::from_utf8_lossy(&request.body).into_owned(),
            };
            lines.push(format!("body: {body}"));
        }
        lines.join("\n")
    }

    fn words(user: &str) -> Words {
        Words {
            holder: "the IOS XE user".into(),
            account: format!("IOS XE user '{user}'"),
            password: format!("{user}'s IOS XE password"),
            short: "the user",
        }
    }
}

/// Every string under a `secret` or `password` key, masked.
fn mask(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if (key == "secret" || key == "password") && inner.is_string() {
                    *inner = serde_json::Value::String("********".into());
                } else {
                    mask(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}
