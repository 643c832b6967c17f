//! Issue 10, item 1: a server that echoes the new password, in any encoding
//! servers use, never gets it printed. Random passwords (property tests)
//! through the real binary; the harness scans every output for every form.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::encodings::{FAMILIES, arb_keeper_password, arb_secret, dumps, echo_body, escape};
use harness::{FakeRest, Reply, Run, Scenario};
use proptest::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_rotate-rest-api");
const TOKEN: &str = "api-token-0001-x7";
const ACCOUNT: &str = "alice@example.com";

fn scenario(fake: &FakeRest, new_password: &str) -> Scenario {
    Scenario::load("scenarios/rest-api/default.json")
        .var("API_URL", fake.url("/v1/password"))
        .param("newPassword", serde_json::json!(new_password))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_400_echoing_the_new_password_in_every_encoding_shows_none_of_them(password in arb_secret()) {
        let fake = FakeRest::start(TOKEN).with_account(ACCOUNT, "old");
        fake.then_reply(Reply::status(400).body(echo_body(&password, Some(ACCOUNT))));
        let out = Run::new(BIN).scenario(&scenario(&fake, &password)).run();
        out.assert_exit(1).assert_clean();
        // The request itself carried the password intact.
        let sent = fake.received()[0].json();
        prop_assert_eq!(sent["newPassword"].as_str(), Some(password.as_str()));
    }
}

/// A 400 whose `message` echoes `echo`, next to an `error` code.
fn echoing(fake: &FakeRest, echo: &str) {
    fake.then_reply(
        Reply::status(400).body(
            serde_json::json!({
                "error": "invalid_password",
                "message": format!("newPassword '{echo}' does not meet the policy"),
            })
            .to_string(),
        ),
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    // Issue 23, item 1.
    #[test]
    fn a_400_echoing_the_new_password_through_an_escape_family_shows_its_message_as_withheld(
        password in arb_keeper_password(true),
        family in proptest::sample::select(FAMILIES),
    ) {
        let fake = FakeRest::start(TOKEN).with_account(ACCOUNT, "old");
        echoing(&fake, &escape(family, &password));
        let out = Run::new(BIN).scenario(&scenario(&fake, &password)).run();
        out.assert_exit(1).assert_clean().assert_stderr_has(
            "error: invalid_password; message: withheld: it may echo a secret",
        );
    }

    // Issue 23, item 1.
    #[test]
    fn a_400_echoing_a_byte_dump_of_the_new_password_shows_its_message_as_withheld(
        password in arb_keeper_password(false),
        dump in 0..14usize,
    ) {
        let fake = FakeRest::start(TOKEN).with_account(ACCOUNT, "old");
        echoing(&fake, &dumps(&password)[dump].1);
        let out = Run::new(BIN).scenario(&scenario(&fake, &password)).run();
        out.assert_exit(1).assert_clean().assert_stderr_has(
            "error: invalid_password; message: withheld: it may echo a secret",
        );
    }
}

#[test]
fn a_body_that_is_not_an_error_object_is_never_shown() {
    let fake = FakeRest::start(TOKEN).with_account(ACCOUNT, "old");
    fake.then_reply(
        Reply::status(400)
            .body("<html><body>Bad request: session=unregistered-session-value-1</body></html>"),
    );
    let out = Run::new(BIN)
        .scenario(&scenario(&fake, "New-Passw0rd-9d2e"))
        .run();
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("answered HTTP 400: a body of 75 bytes (not shown)");
    assert!(!out.stderr.contains("session"), "{}", out.output());
}

#[test]
fn known_error_fields_are_shown_each_on_one_line_and_capped() {
    let fake = FakeRest::start(TOKEN).with_account(ACCOUNT, "old");
    let long = "x".repeat(1000);
    fake.then_reply(
        Reply::status(422).body(
            serde_json::json!({
                "error": "weak_password",
                "message": format!("too short\nforged: line {long}"),
                "internal": "never-shown-field-value"
            })
            .to_string(),
        ),
    );
    let out = Run::new(BIN)
        .scenario(&scenario(&fake, "New-Passw0rd-9d2e"))
        .run();
    out.assert_exit(1).assert_clean().assert_stderr_has(
        "answered HTTP 422: error: weak_password; message: too short forged: line xxx",
    );
    assert!(
        out.stderr.lines().all(|l| !l.starts_with("forged")),
        "{}",
        out.output()
    );
    assert!(!out.stderr.contains(&"x".repeat(300)), "{}", out.output());
    assert!(!out.stderr.contains("never-shown"), "{}", out.output());
}

// A record's secret of fewer than 6 characters is registered too (as a
// whole word), as a short oldPassword is: here a pinCode the binary never
// reads, so only the records' registration can hide it.
#[test]
fn a_400_echoing_a_short_record_secret_as_a_word_does_not_show_it() {
    let pin = "zQ4w";
    let fake = FakeRest::start(TOKEN).with_account(ACCOUNT, "old");
    fake.then_reply(
        Reply::status(400).body(
            serde_json::json!({
                "error": "invalid_request",
                "message": format!("the pin {pin} may not change passwords"),
            })
            .to_string(),
        ),
    );
    let scenario = scenario(&fake, "New-Passw0rd-9d2e").record_field(
        "ApiRecordUid0000000001",
        "pinCode",
        serde_json::json!(pin),
    );
    let out = Run::new(BIN).scenario(&scenario).run();
    out.assert_exit(1).assert_stderr_has("invalid_request");
    assert!(!out.output().contains(pin), "{}", out.output());
}
