//! Issue 10, item 1: Okta's error summaries echo input. A change_password
//! refusal echoing the new password, in every encoding servers use and upper
//! cased, never gets it printed. Random passwords (property tests) through
//! the real binary; the harness scans every output for every form.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::encodings::{arb_secret, echo_body};
use harness::{FakeOkta, OktaFault, Run, Scenario};
use proptest::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_rotate-okta-user");
const TOKEN: &str = "00okta-api-token-value-0000000000000001";
const LOGIN: &str = "alice@example.com";
const OLD: &str = "Old-Okta-Passw0rd-1";

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_refusal_echoing_the_new_password_in_every_encoding_shows_none_of_them(password in arb_secret()) {
        let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
        okta.fault(
            "change_password",
            OktaFault::Reply { status: 403, body: echo_body(&password, Some(LOGIN)) },
            1,
        );
        let scenario = Scenario::load("scenarios/okta-user/default.json")
            .var("OKTA_URL", okta.url())
            .param("newPassword", serde_json::json!(password));
        let out = Run::new(BIN).scenario(&scenario).run();
        out.assert_exit(1).assert_clean().assert_stderr_has("E0000001");
        let sent = okta.requests()[1].body.clone();
        prop_assert_eq!(sent["newPassword"]["value"].as_str(), Some(password.as_str()));
    }
}

#[test]
fn an_answer_that_is_not_an_okta_error_is_never_shown() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    okta.fault(
        "change_password",
        OktaFault::Reply {
            status: 403,
            body: "<html>denied for session unregistered-session-value-1</html>".into(),
        },
        1,
    );
    let out = Run::new(BIN)
        .scenario(&Scenario::load("scenarios/okta-user/default.json").var("OKTA_URL", okta.url()))
        .run();
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("answered HTTP 403: a body of 60 bytes (not shown)");
    assert!(!out.stderr.contains("session"), "{}", out.output());
}
