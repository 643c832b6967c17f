//! Issue 10, item 1, at unit level: for random secrets (printable ASCII with
//! every character encoders treat specially, and non-ASCII), no form any
//! encoder writes survives the redactor or the extractors. The forms and the
//! leak check are the harness's own (`harness::encodings`), independent of
//! the redactor's decoding.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use common::http::{self, Response};
use common::secret::{self, Secret};
use harness::LeakScanner;
use harness::encodings::{arb_secret, echo_body, echo_forms};
use proptest::prelude::*;

const LOGIN: &str = "alice@example.com";

/// Finds any form, or any 12 characters of a form, of `secret` (and of
/// `login:secret` in base64).
fn scanner(secret: &str) -> LeakScanner {
    let basic = echo_forms(secret, Some(LOGIN))
        .into_iter()
        .find(|(name, _)| *name == "basic auth")
        .map(|(_, form)| form)
        .unwrap();
    LeakScanner::new(&[secret.to_owned(), basic])
}

fn filler() -> impl Strategy<Value = String> {
    "[ -~]{0,40}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_form_of_a_secret_survives_the_redactor(
        password in arb_secret(),
        before in filler(),
        after in filler(),
    ) {
        secret::forget_all();
        let _secret = Secret::new(password.clone());
        secret::register_with_login(LOGIN, &password);
        let scanner = scanner(&password);
        for (name, form) in echo_forms(&password, Some(LOGIN)) {
            let text = format!("{before}{form}{after}");
            let out = secret::redact(&text);
            prop_assert!(scanner.find(&out).is_none(), "{} survived: {}", name, out);
        }
        // A truncated echo: the first 12 characters and a few more.
        let prefix: String = password.chars().take(14).collect();
        if prefix.chars().count() >= 12 {
            let out = secret::redact(&format!("{before}'{prefix}...'{after}"));
            prop_assert!(!out.contains(&prefix), "{}", out);
        }
    }

    #[test]
    fn text_without_secrets_passes_the_redactor_unchanged(
        password in arb_secret(),
        text in "[ -~]{0,200}",
    ) {
        secret::forget_all();
        let _secret = Secret::new(password.clone());
        prop_assume!(scanner(&password).find(&text).is_none());
        prop_assert_eq!(secret::redact(&text), text);
    }

}

/// Spaces or a tab at either end of a password: servers trim what they
/// echo, and a shown field is trimmed too.
fn padded_secret() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(vec!["", " ", "  ", "\t"]),
        arb_secret(),
        prop::sample::select(vec![" ", "  ", "\t", " \t"]),
    )
        .prop_map(|(before, secret, after)| {
            let padded = format!("{before}{secret}{after}");
            let trimmed = padded.trim().to_owned();
            (padded, trimmed)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_form_of_a_secret_survives_the_rest_extractor(password in arb_secret()) {
        secret::forget_all();
        let _secret = Secret::new(password.clone());
        secret::register_with_login(LOGIN, &password);
        let response = Response {
            status: reqwest::StatusCode::BAD_REQUEST,
            headers: reqwest::header::HeaderMap::new(),
            body: zeroize::Zeroizing::new(echo_body(&password, Some(LOGIN)).into_bytes()),
            earlier_attempt_maybe_applied: false,
        };
        let shown = response.error_fields();
        prop_assert!(scanner(&password).find(&shown).is_none(), "{}", shown);
        prop_assert!(!shown.contains('\n'));
    }

    #[test]
    fn a_password_with_spaces_at_its_ends_echoed_trimmed_or_whole_is_never_shown(
        (password, trimmed) in padded_secret(),
        before in filler(),
    ) {
        secret::forget_all();
        let _secret = Secret::new(password.clone());
        secret::register_with_login(LOGIN, &password);
        let scanner = LeakScanner::new(&[password.clone(), trimmed.clone()]);
        for echoed in [&password, &trimmed] {
            for (name, form) in echo_forms(echoed, None) {
                // The whole field (shown trims it), the end of a field, and
                // a trimmed echo inside text.
                for text in [form.clone(), format!("{before}{form}"), format!("{before}{form} !")] {
                    let shown = http::shown(&text);
                    prop_assert!(scanner.find(&shown).is_none(), "{} survived: {}", name, shown);
                    let out = secret::redact(&text);
                    prop_assert!(scanner.find(&out).is_none(), "{} survived the redactor: {}", name, out);
                }
            }
        }
    }

    #[test]
    fn shown_fields_hold_no_secret_no_line_break_and_at_most_the_cap(
        password in arb_secret(),
        noise in "[ -~\n\r\t]{0,400}",
    ) {
        secret::forget_all();
        let _secret = Secret::new(password.clone());
        let text = format!("{noise}{password}{noise}");
        let shown = http::shown(&text);
        prop_assert!(scanner(&password).find(&shown).is_none(), "{}", shown);
        prop_assert!(!shown.contains(['\n', '\r']));
        prop_assert!(shown.chars().count() <= http::FIELD_CHARS + 3);
    }
}
