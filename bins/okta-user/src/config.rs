//! The Okta API record and the switches on the user record.

use common::error::{Error, Result};
use common::records::{Record, Records};

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
    if let Some(user) = records.user()
        && let Some(title) = user.text("okta_record_title")?
    {
        return match records.titled(&title).as_slice() {
            [one] => Ok(one),
            [] => Err(Error::Config(format!(
                "no attached record is titled '{title}', the okta_record_title of {}; attached: {}",
                user.location(),
                common::records::describe(records.attached())
            ))),
            several => Err(several_error(&format!("titled '{title}'"), several)),
        };
    }
    match records.titled(DEFAULT_TITLE).as_slice() {
        [one] => return Ok(one),
        [] => {}
        several => return Err(several_error(&format!("titled '{DEFAULT_TITLE}'"), several)),
    }
    let orgs: Vec<&Record> = records
        .attached()
        .filter(|r| {
            r.text("url")
                .ok()
                .flatten()
                .is_some_and(|u| is_okta_org(&u))
        })
        .collect();
    match orgs.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::Config(format!(
            "no Okta API record found: attach a record titled '{DEFAULT_TITLE}' with the org URL \
             in url and the API token in password, or name it in the user record's custom field \
             okta_record_title; attached: {}",
            common::records::describe(records.attached())
        ))),
        several => Err(several_error("holding an Okta org url", several)),
    }
}

fn several_error(what: &str, records: &[&Record]) -> Error {
    Error::Config(format!(
        "several attached records are {what}: {}; set the user record's custom field \
         okta_record_title to the one to use",
        common::records::describe(records.iter().copied())
    ))
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
}
