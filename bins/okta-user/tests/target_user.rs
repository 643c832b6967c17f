//! Issue 23, item 6: rotate-okta-user rotates only the user whose login is
//! the record's login. Okta answers `/api/v1/users/me` with the API token's
//! own user and resolves a login short name to the full login; neither may
//! be rotated (and its password filed under the record).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::{FakeOkta, Run, Scenario};
use serde_json::json;

const BIN: harness::Binary = harness::binary!("rotate-okta-user");
const TOKEN: &str = "00okta-api-token-value-0000000000000001";
const ADMIN: &str = "api-admin@example.com";
const ADMIN_PASSWORD: &str = "Admin-Okta-Passw0rd-7";
const LOGIN: &str = "alice@example.com";
const OLD: &str = "Old-Okta-Passw0rd-1";

fn admin_reset_of(okta: &FakeOkta, login: &str) -> harness::Outcome {
    let lock_dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::load("scenarios/okta-user/admin-reset.json")
        .var("OKTA_URL", okta.url())
        .param("user", json!(login))
        .record_field("PamUserUid000000000001", "login", json!(login));
    Run::new(BIN)
        .scenario(&scenario)
        .env(
            "KEEPER_ROTATOR_LOCK_DIR",
            lock_dir.path().display().to_string(),
        )
        .run()
}

#[test]
fn a_login_of_me_exits_2_before_any_request_and_the_api_admin_keeps_its_password() {
    let okta = FakeOkta::start(TOKEN)
        .with_user(ADMIN, "ACTIVE", ADMIN_PASSWORD)
        .with_user(LOGIN, "ACTIVE", OLD)
        .with_token_owner(ADMIN);
    admin_reset_of(&okta, "me")
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("'me' names the API token's own user");
    assert!(okta.requests().is_empty(), "{:?}", okta.requests());
    assert_eq!(okta.password_of(ADMIN).as_deref(), Some(ADMIN_PASSWORD));
}

#[test]
fn me_in_capitals_is_refused_too() {
    let okta = FakeOkta::start(TOKEN)
        .with_user(ADMIN, "ACTIVE", ADMIN_PASSWORD)
        .with_token_owner(ADMIN);
    admin_reset_of(&okta, "ME").assert_exit(2);
    assert!(okta.requests().is_empty());
    assert_eq!(okta.password_of(ADMIN).as_deref(), Some(ADMIN_PASSWORD));
}

#[test]
fn a_login_okta_resolves_to_a_user_with_another_login_exits_2_naming_it() {
    // Okta resolves the short name "alice" to alice@example.com.
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    admin_reset_of(&okta, "alice")
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(
            "Okta answered the lookup of 'alice' with the user 00u00000000000000001 whose login \
             is 'alice@example.com'",
        )
        .assert_stderr_has("nothing was changed");
    let requests = okta.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}

#[test]
fn a_user_id_in_place_of_the_login_exits_2() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    admin_reset_of(&okta, "00u00000000000000001")
        .assert_exit(2)
        .assert_stderr_has("whose login is 'alice@example.com'");
    assert_eq!(okta.password_of(LOGIN).as_deref(), Some(OLD));
}

#[test]
fn the_login_is_compared_without_regard_to_case_as_okta_does() {
    let okta = FakeOkta::start(TOKEN).with_user(LOGIN, "ACTIVE", OLD);
    admin_reset_of(&okta, "Alice@Example.com").assert_exit(0);
    assert_eq!(
        okta.password_of(LOGIN).as_deref(),
        Some("New-Okta-Passw0rd-2")
    );
}
