//! From the Gateway's input to what the change needs, before any request:
//! the login (refused when it is no Okta login), the Okta API record, the
//! switches on the user record. A pure function of the input, fuzzed
//! (`fuzz-entry`).

use common::error::{Error, Location, Result};
use common::http;
use common::records::{AdminRecord, Record, Records};
use common::secret::Secret;
use reqwest::Url;

/// The title the docs give the API record.
pub const DEFAULT_TITLE: &str = "Okta API Access Details";

/// Domains of Okta-hosted orgs.
const OKTA_DOMAINS: [&str; 6] = [
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "okta-gov.com",
    "okta.mil",
    "okta-miltest.com",
];

/// Whether `url` is an Okta-hosted org (`https://dev-123.okta.com`).
pub fn is_okta_org(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url.trim()) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    OKTA_DOMAINS
        .iter()
        .any(|d| host.ends_with(&format!(".{d}")))
}

/// The API record: among the attached records (never the user record), the
/// one titled by the user record's `okta_record_title`, else "Okta API
/// Access Details", else the single one whose `url` is an Okta org.
pub fn find_api_record(records: &Records) -> Result<&Record> {
    AdminRecord {
        noun: "Okta API record",
        title_field: "okta_record_title",
        titles: &[DEFAULT_TITLE],
        marked: "holding an Okta org url",
        marker: &|r| {
            r.text("url")
                .ok()
                .flatten()
                .is_some_and(|u| is_okta_org(&u))
        },
        foreign: None,
        attach: &format!(
            "a record titled '{DEFAULT_TITLE}' with the org URL in url and the API token in \
             password"
        ),
    }
    .find(records)
}

/// Everything the change needs from the Gateway's input, checked before any
/// request: a pure function of the input.
#[derive(Debug)]
pub struct Setup<'a> {
    pub login: &'a str,
    pub new_password: &'a Secret,
    /// `None` for an admin reset.
    pub old_password: Option<&'a Secret>,
    pub api_record: &'a common::records::Record,
    pub url: Url,
    pub token: Secret,
    /// `SSWS` or `Bearer`.
    pub scheme: &'static str,
    pub admin_reset: bool,
    pub strict: bool,
    /// Whether the new password is proven with primary authentication.
    pub prove: bool,
}

/// Refuses a login that is not an Okta login: `me` (Okta answers
/// `/api/v1/users/me` with the API token's own user), dot segments, and
/// text no login has (blanks at either end, control characters, `/`).
/// The lookup's answer is checked too ([`plan`]); this refuses before any
/// request.
pub fn check_login(login: &str) -> Result<()> {
    let rule = |login: &str| {
        if login.eq_ignore_ascii_case("me") {
            Some("'me' names the API token's own user in Okta, not an account to rotate")
        } else if login == "." || login == ".." {
            Some("it is not a login")
        } else if login.contains(['/', '\\']) {
            Some("it holds '/' or '\\', which no Okta login has")
        } else {
            None
        }
    };
    common::gateway::check_account(login, rule, "the Okta user's full login")
}

impl<'a> Setup<'a> {
    pub fn from_input(input: &'a common::gateway::GatewayInput) -> Result<Self> {
        let login = input.require_user()?;
        check_login(login)?;
        let new_password = input.require_new_password()?;
        input.require_user_record_uid()?;
        let api = find_api_record(&input.records)?;
        let location = api.location();
        let url = http::require_https(&api.require_text("url")?, "url", &location)?;
        let token = api.require_secret("password").map_err(|_| Error::Missing {
            name: "password".into(),
            location: location.clone(),
            hint: "; it holds the Okta API token".into(),
        })?;
        let scheme = match api.text("auth_scheme")?.map(|s| s.to_ascii_lowercase()) {
            None => "SSWS",
            Some(s) if s == "ssws" => "SSWS",
            Some(s) if s == "bearer" => "Bearer",
            Some(other) => {
                return Err(Error::invalid(
                    "auth_scheme",
                    location,
                    format!("'{other}' is not SSWS or Bearer"),
                ));
            }
        };
        let user_record = input.records.user();
        let flag = |name: &str| -> Result<bool> {
            Ok(match user_record {
                Some(record) => record.flag(name)?.unwrap_or(false),
                None => false,
            })
        };
        let admin_reset = flag("okta_admin_reset")?;
        let strict = !admin_reset && flag("okta_strict")?;
        let prove = match user_record {
            Some(record) => record.flag("okta_prove_password")?.unwrap_or(true),
            None => true,
        };
        let old_password = if admin_reset {
            None
        } else {
            Some(input.old_password.as_ref().ok_or_else(|| {
                Error::Missing {
                    name: "oldPassword".into(),
                    location: Location::Params,
                    hint: "; change_password needs the current password. To set the password \
                       without it, set the user record's custom field okta_admin_reset to true"
                        .into(),
                }
            })?)
        };
        Ok(Self {
            login,
            new_password,
            old_password,
            api_record: api,
            url,
            token,
            scheme,
            admin_reset,
            strict,
            prove,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(json: &str) -> Records {
        Records::parse(json.as_bytes(), Some("U")).unwrap()
    }

    #[test]
    fn okta_orgs_are_recognised_by_their_domain() {
        assert!(is_okta_org("https://dev-123456.okta.com"));
        assert!(is_okta_org("https://acme.oktapreview.com/"));
        assert!(is_okta_org("https://acme.okta-emea.com"));
        assert!(!is_okta_org("https://okta.com.evil.example"));
        assert!(!is_okta_org("https://notokta.com"));
        assert!(!is_okta_org("not a url"));
    }

    #[test]
    fn the_single_record_with_an_okta_org_url_is_found_without_a_title() {
        let r = records(
            r#"[{"uid":"C","title":"PAM config"},
                {"uid":"A","title":"My Okta","url":"https://dev-1.okta.com","password":"t"},
                {"uid":"B","title":"Other","url":"https://api.example.com","password":"t"},
                {"uid":"U","title":"user","url":"https://dev-2.okta.com","password":"p"}]"#,
        );
        assert_eq!(find_api_record(&r).unwrap().uid(), "A");
    }

    #[test]
    fn the_user_record_is_never_the_api_record() {
        let r = records(
            r#"[{"uid":"U","title":"Okta API Access Details","url":"https://dev-2.okta.com","password":"p"}]"#,
        );
        let err = find_api_record(&r).unwrap_err().to_string();
        assert!(err.contains("no Okta API record found"), "{err}");
    }

    #[test]
    fn two_okta_org_records_are_ambiguous() {
        let r = records(
            r#"[{"uid":"A","title":"One","url":"https://dev-1.okta.com","password":"t"},
                {"uid":"B","title":"Two","url":"https://dev-2.okta.com","password":"t"}]"#,
        );
        let err = find_api_record(&r).unwrap_err().to_string();
        assert!(
            err.contains("'One' (uid A)") && err.contains("'Two' (uid B)"),
            "{err}"
        );
    }

    #[test]
    fn me_and_text_that_is_no_login_are_refused_before_any_request() {
        for bad in [
            "me", "Me", " me ", "", " ", ".", "..", "a/b", "a\\b", "a\nb", " alice",
        ] {
            let error = check_login(bad).unwrap_err();
            assert_eq!(error.exit(), common::Exit::BadInput, "{bad:?}");
        }
        for good in [
            "alice@example.com",
            "alice",
            "me@example.com",
            "jürgen",
            "a+b@x",
        ] {
            assert!(check_login(good).is_ok(), "{good:?}");
        }
    }
}
