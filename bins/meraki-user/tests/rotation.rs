//! rotate-meraki-user end to end: the real binary against the stateful
//! Meraki fake, for what only it does (what every HTTP password rotator
//! does is `suite.rs`). Every run is scanned for leaks of the scenario's
//! secrets.

#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::{FakeMeraki, Outcome, Run, Scenario};

const BIN: harness::Binary = harness::binary!("rotate-meraki-user");
const KEY: &str = "meraki-dashboard-api-key-0000000000000001";
const NETWORK: &str = "L_646829496481105433";
const EMAIL: &str = "alice@example.com";
const OLD: &str = "Old-Meraki-Passw0rd-1";
const NEW: &str = "New-Meraki-Passw0rd-2";

fn meraki() -> FakeMeraki {
    FakeMeraki::start(KEY, NETWORK).with_user(EMAIL, OLD)
}

fn scenario(name: &str) -> Scenario {
    Scenario::load(&format!("scenarios/meraki-user/{name}"))
}

/// A run with this test's own lock directory: a user has one lock for the
/// whole organisation, so tests on one email would otherwise wait for each
/// other (each test is its own process).
fn binary(scenario: &Scenario) -> Run {
    let locks = std::env::temp_dir().join(format!("meraki-locks-{}", std::process::id()));
    std::fs::create_dir_all(&locks).expect("a lock directory");
    Run::new(BIN)
        .scenario(scenario)
        .env("KEEPER_ROTATOR_LOCK_DIR", locks.display().to_string())
}

fn rotate(name: &str, meraki: &FakeMeraki) -> Outcome {
    binary(&scenario(name).var("MERAKI_URL", meraki.url())).run()
}

/// The password changes sent.
fn puts(meraki: &FakeMeraki) -> usize {
    meraki
        .proxy()
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count()
}

#[test]
fn the_password_is_set_with_the_key_as_bearer_and_never_emailed() {
    let meraki = meraki();
    rotate("default.json", &meraki)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("set the Meraki password of 'alice@example.com'")
        .assert_stdout_has("proven by Meraki's answer only");
    let user = meraki.user(EMAIL).expect("the user");
    assert_eq!(user.password, NEW);
    assert_eq!(user.changes, 1);
    assert!(!user.emailed, "the password was emailed to the user");
    let requests = meraki.proxy().requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].path,
        format!("/api/v1/networks/{NETWORK}/merakiAuthUsers")
    );
    // The id is the email's base64, "YWxpY2VAZXhhbXBsZS5jb20=": its '='
    // stays as it is in a path segment.
    assert_eq!(
        requests[1].path,
        format!("/api/v1/networks/{NETWORK}/merakiAuthUsers/YWxpY2VAZXhhbXBsZS5jb20=")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).expect("JSON");
    let mut keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["emailPasswordToUser", "password"]);
}

#[test]
fn an_id_holding_a_slash_reaches_meraki_as_one_path_segment() {
    // base64("a??@example.com") is "YT8/QGV4YW1wbGUuY29t".
    let email = "a??@example.com";
    let meraki = FakeMeraki::start(KEY, NETWORK).with_user(email, OLD);
    let s = scenario("default.json")
        .var("MERAKI_URL", meraki.url())
        .param("user", serde_json::json!(email));
    binary(&s).run().assert_exit(0).assert_clean();
    assert_eq!(meraki.password_of(email).as_deref(), Some(NEW));
    let put = meraki
        .proxy()
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .expect("a PUT");
    assert!(
        put.path
            .ends_with("/merakiAuthUsers/YT8%2FQGV4YW1wbGUuY29t"),
        "{}",
        put.path
    );
}

#[test]
fn the_email_is_matched_without_regard_to_case() {
    let meraki = FakeMeraki::start(KEY, NETWORK).with_user("Alice@Example.com", OLD);
    rotate("default.json", &meraki)
        .assert_exit(0)
        .assert_clean();
    assert_eq!(
        meraki.password_of("Alice@Example.com").as_deref(),
        Some(NEW)
    );
}

#[test]
fn hostile_passwords_arrive_intact() {
    let s = scenario("hostile-passwords.json");
    let new = s.params()["newPassword"].as_str().expect("new").to_owned();
    let meraki = meraki();
    rotate("hostile-passwords.json", &meraki)
        .assert_exit(0)
        .assert_clean();
    assert_eq!(meraki.password_of(EMAIL), Some(new));
}

#[test]
fn two_users_with_the_email_are_never_guessed_between() {
    let meraki = meraki().with_listed(serde_json::json!({
        "id": "b3RoZXI=", "email": "ALICE@example.com", "isAdmin": false
    }));
    rotate("default.json", &meraki)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("2 authorized users with the email");
    assert_eq!(puts(&meraki), 0);
}

#[test]
fn a_second_user_with_the_email_and_a_broken_id_is_not_passed_over() {
    let meraki = meraki().with_listed(serde_json::json!({
        "id": "../admins", "email": "ALICE@example.com", "isAdmin": false
    }));
    rotate("default.json", &meraki)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("2 authorized users with the email");
    assert_eq!(puts(&meraki), 0);
}

#[test]
fn a_user_whose_listing_does_not_say_whether_it_is_an_administrator_is_not_changed() {
    let meraki = FakeMeraki::start(KEY, NETWORK)
        .with_listed(serde_json::json!({"id": "YWxpY2VAZXhhbXBsZS5jb20=", "email": EMAIL}));
    rotate("default.json", &meraki)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("does not say whether it is a Dashboard administrator");
    assert_eq!(puts(&meraki), 0);
}

#[test]
fn a_password_with_a_backslash_exits_2_before_any_request() {
    let meraki = meraki();
    let s = scenario("default.json")
        .var("MERAKI_URL", meraki.url())
        .param("newPassword", serde_json::json!("New-Meraki\\Passw0rd-2"));
    binary(&s)
        .run()
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("backslash");
    assert!(meraki.proxy().requests().is_empty());
}

#[test]
fn a_change_redirected_to_the_organisations_shard_exits_1_naming_the_host() {
    let meraki = meraki().redirecting_to("n123.meraki.com", true);
    rotate("default.json", &meraki)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("HTTP 308")
        .assert_stderr_has("n123.meraki.com")
        .assert_stderr_has("set meraki_api_url");
    assert_eq!(puts(&meraki), 1);
    assert_eq!(meraki.password_of(EMAIL).as_deref(), Some(OLD));
}

#[test]
fn a_redirect_to_a_host_that_is_not_merakis_is_not_shown() {
    let meraki = meraki().redirecting_to("evil.example", false);
    rotate("default.json", &meraki)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("to another host");
    assert!(
        !rotate("default.json", &meraki)
            .stderr
            .contains("evil.example")
    );
    assert_eq!(puts(&meraki), 0);
}

/// Meraki keeps one list of users for the organisation: two records for
/// one email that name different networks still take one lock.
#[test]
fn runs_on_one_email_in_two_networks_never_overlap_on_one_host() {
    let meraki = meraki();
    let host = tempfile::tempdir().expect("a lock directory");
    let other = FakeMeraki::start(KEY, "N_24329156").with_user(EMAIL, OLD);
    let gate = meraki.proxy().hold("update_user", 1);
    let locked = |fake: &FakeMeraki, new: &str| {
        let s = scenario("default.json")
            .var("MERAKI_URL", fake.url())
            .param("newPassword", serde_json::json!(new));
        Run::new(BIN)
            .scenario(&s)
            .env("KEEPER_ROTATOR_LOCK_DIR", host.path().display().to_string())
    };
    let (a, b) = harness::runner::overlap(
        locked(&meraki, "New-Meraki-Passw0rd-A1"),
        locked(&other, "New-Meraki-Passw0rd-B2"),
        || meraki.proxy().wait_for("update_user", 1),
        |_| {
            std::thread::sleep(std::time::Duration::from_secs(2));
            gate.release();
        },
    );
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("is in progress on this host");
    a.assert_exit(0).assert_clean();
    assert_eq!(puts(&other), 0);
}

#[test]
fn a_dashboard_administrator_exits_2_naming_the_reason() {
    let meraki = FakeMeraki::start(KEY, NETWORK).with_admin(EMAIL, OLD);
    rotate("default.json", &meraki)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("is a Dashboard administrator");
    assert_eq!(puts(&meraki), 0);
    assert_eq!(meraki.password_of(EMAIL).as_deref(), Some(OLD));
}

#[test]
fn a_listed_user_whose_id_is_no_meraki_id_is_never_sent_to() {
    let meraki = FakeMeraki::start(KEY, NETWORK).with_listed(serde_json::json!({
        "id": "../../organizations/1/admins", "email": EMAIL, "isAdmin": false
    }));
    rotate("default.json", &meraki)
        .assert_exit(1)
        .assert_clean();
    assert_eq!(puts(&meraki), 0);
}

#[test]
fn another_network_exits_1_and_changes_nothing() {
    let meraki = FakeMeraki::start(KEY, "N_1").with_user(EMAIL, OLD);
    rotate("default.json", &meraki)
        .assert_exit(1)
        .assert_stderr_has("check network_id");
    assert_eq!(puts(&meraki), 0);
}

#[test]
fn a_refused_password_exits_1_with_merakis_error_and_the_old_one_kept() {
    let meraki = meraki();
    let s = scenario("default.json")
        .var("MERAKI_URL", meraki.url())
        .param("newPassword", serde_json::json!("short-7"));
    binary(&s)
        .run()
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("Password must be at least 8 characters");
    assert_eq!(meraki.password_of(EMAIL).as_deref(), Some(OLD));
}

#[test]
fn a_missing_network_id_exits_2_naming_the_field_and_the_record() {
    let meraki = meraki();
    rotate("missing-network.json", &meraki)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("network_id")
        .assert_stderr_has("Cisco Authentication Record");
    assert!(meraki.proxy().requests().is_empty());
}

#[test]
fn a_login_that_is_no_email_exits_2_before_any_request() {
    let meraki = meraki();
    rotate("not-an-email.json", &meraki)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("not an email address");
    assert!(meraki.proxy().requests().is_empty());
}

/// Keeper titles the IOS XE script's admin record alike: attached beside,
/// it is passed over, not guessed between (nor taken: its password would go
/// to Meraki as an API key).
#[test]
fn rotate_cisco_iosxe_users_admin_record_titled_alike_is_passed_over() {
    let meraki = meraki();
    let s = scenario("default.json")
        .var("MERAKI_URL", meraki.url())
        .record(serde_json::json!({
            "uid": "IosXeAdminRecordUid001",
            "title": "Cisco Authentication Record",
            "login": "developer",
            "password": "Admin-IosXe-Passw0rd-0",
            "host_endpoint": "10.10.20.48"
        }));
    binary(&s).run().assert_exit(0).assert_clean();
    assert_eq!(meraki.password_of(EMAIL).as_deref(), Some(NEW));
}
