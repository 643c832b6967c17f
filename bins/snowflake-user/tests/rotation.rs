//! rotate-snowflake-user end to end: the real binary against the stateful
//! Snowflake fake, for what only it does (what every HTTP password rotator
//! does is `suite.rs`). Every run is scanned for leaks of the scenario's
//! secrets.

#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use harness::{FakeSnowflake, Outcome, Run, Scenario};
use rotate_snowflake_user::jwt::PrivateKey;
use serde_json::{Value, json};

const BIN: harness::Binary = harness::binary!("rotate-snowflake-user");
const ADMIN: &str = "KEEPER_ROTATOR";
const ADMIN_RECORD: &str = "SnowflakeAdminRecord01";
const USER: &str = "ANALYST";
const OLD: &str = "Old-Snowflake-Passw0rd-1";
const NEW: &str = "New-Snowflake-Passw0rd-2";

/// The admin's key, and a fake account whose admin holds its public key
/// and whose user ANALYST has the old password.
fn snowflake() -> (PrivateKey, FakeSnowflake) {
    let key = PrivateKey::generate().expect("a key");
    let fake = FakeSnowflake::start("myorg-myaccount")
        .with_admin(ADMIN, &key.public_key)
        .with_user(USER, OLD);
    (key, fake)
}

/// The scenario `name` against `fake`, the admin record holding `key`.
fn scenario(name: &str, fake: &FakeSnowflake, key: &PrivateKey) -> Scenario {
    let pem = key.to_pem().expect("a PEM").expose().to_owned();
    Scenario::load(&format!("scenarios/snowflake-user/{name}"))
        .var("SNOWFLAKE_URL", fake.url())
        .record_field(ADMIN_RECORD, "privatePEMKey", json!(pem))
}

/// A run with this test's own lock directory (each test is its own
/// process, and runs on one user wait for each other).
fn binary(scenario: &Scenario) -> Run {
    let locks = std::env::temp_dir().join(format!("snowflake-locks-{}", std::process::id()));
    std::fs::create_dir_all(&locks).expect("a lock directory");
    Run::new(BIN)
        .scenario(scenario)
        .env("KEEPER_ROTATOR_LOCK_DIR", locks.display().to_string())
}

/// The statements the fake received, in order.
fn statements(fake: &FakeSnowflake) -> Vec<String> {
    fake.proxy()
        .requests()
        .iter()
        .filter_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).ok()?;
            body.get("statement")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// How many statements set a password.
fn changes(fake: &FakeSnowflake) -> usize {
    statements(fake)
        .iter()
        .filter(|s| s.starts_with("ALTER USER"))
        .count()
}

fn rotate(scenario: &Scenario) -> Outcome {
    binary(scenario).run()
}

#[test]
fn the_password_is_set_by_one_statement_signed_with_the_admins_key_pair_token() {
    let (key, fake) = snowflake();
    rotate(&scenario("default.json", &fake, &key))
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("set the Snowflake password of 'analyst' in account myorg-myaccount")
        .assert_stdout_has("proven by Snowflake's answer only");
    let user = fake.user(USER).expect("the user");
    assert_eq!((user.password.as_deref(), user.changes), (Some(NEW), 1));
    assert_eq!(
        statements(&fake),
        [
            "DESC USER \"ANALYST\"",
            &format!("ALTER USER \"ANALYST\" SET PASSWORD = '{NEW}'")
        ]
    );
    let change = &fake.proxy().requests()[1];
    assert_eq!(
        change.header("x-snowflake-authorization-token-type"),
        Some("KEYPAIR_JWT")
    );
    assert!(change.header("user-agent").is_some_and(|a| !a.is_empty()));
    let body: Value = serde_json::from_slice(&change.body).expect("JSON");
    assert!(body.get("bindings").is_none(), "{body}");
    let token = change
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .expect("a bearer token");
    let claims = token.split('.').nth(1).expect("the claims");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64url")).expect("JSON");
    assert_eq!(claims["sub"], "MYORG-MYACCOUNT.KEEPER_ROTATOR");
    assert_eq!(
        claims["iss"],
        format!("MYORG-MYACCOUNT.KEEPER_ROTATOR.{}", key.fingerprint)
    );
    let lifetime = claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat");
    assert!(lifetime <= 3600, "a token of {lifetime} s");
}

#[test]
fn quotes_backslashes_and_a_statement_in_the_password_are_set_exactly_as_they_are() {
    let (key, fake) = snowflake();
    let hostile = r#"x'; DROP USER KEEPER_ROTATOR; --\'"$$\n"#;
    let s = scenario("default.json", &fake, &key).param("newPassword", json!(hostile));
    rotate(&s).assert_exit(0).assert_clean();
    assert_eq!(fake.password_of(USER).as_deref(), Some(hostile));
    assert!(fake.user(ADMIN).is_some(), "the admin user was dropped");
    assert_eq!(changes(&fake), 1);
}

#[test]
fn a_name_snowflake_would_not_take_unquoted_is_the_user_of_that_exact_name() {
    let (key, fake) = snowflake();
    let name = "Bob.Smith@example.com";
    let fake = fake
        .with_user(name, OLD)
        .with_user("BOB.SMITH@EXAMPLE.COM", OLD);
    let s = scenario("default.json", &fake, &key).param("user", json!(name));
    rotate(&s).assert_exit(0).assert_clean();
    assert_eq!(fake.password_of(name).as_deref(), Some(NEW));
    assert_eq!(
        fake.password_of("BOB.SMITH@EXAMPLE.COM").as_deref(),
        Some(OLD)
    );
}

#[test]
fn an_account_folding_quoted_case_onto_another_user_exits_2_and_changes_no_one() {
    // With QUOTED_IDENTIFIERS_IGNORE_CASE, "Bob.Smith@x" resolves to
    // BOB.SMITH@X: the change would set another user's password while the
    // Gateway stored it for this one.
    let (key, fake) = snowflake();
    let fake = fake
        .with_user("BOB.SMITH@EXAMPLE.COM", OLD)
        .folding_quoted_case();
    let s = scenario("default.json", &fake, &key).param("user", json!("Bob.Smith@example.com"));
    rotate(&s).assert_exit(2).assert_clean().assert_stderr_has(
        "describes the Snowflake user BOB.SMITH@EXAMPLE.COM, not Bob.Smith@example.com",
    );
    assert_eq!(
        fake.password_of("BOB.SMITH@EXAMPLE.COM").as_deref(),
        Some(OLD)
    );
    assert_eq!(changes(&fake), 0);
}

#[test]
fn keepers_password_only_admin_record_exits_2_naming_the_key_to_add_and_sends_nothing() {
    let (key, fake) = snowflake();
    let s = Scenario::load("scenarios/snowflake-user/password-only-admin.json")
        .var("SNOWFLAKE_URL", fake.url());
    drop(key);
    rotate(&s)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(
            "'privatePEMKey' is missing or empty in record 'Snowflake Authentication Record'",
        )
        .assert_stderr_has("does not take");
    assert!(fake.proxy().requests().is_empty());
}

#[test]
fn the_admins_private_key_may_be_in_a_key_pair_field() {
    let (key, fake) = snowflake();
    let pem = key.to_pem().expect("a PEM").expose().to_owned();
    let s = Scenario::load("scenarios/snowflake-user/default.json")
        .var("SNOWFLAKE_URL", fake.url())
        .record_field(
            ADMIN_RECORD,
            "keyPair",
            json!({"publicKey": key.public_key, "privateKey": pem}),
        );
    binary(&s).secret(pem).run().assert_exit(0).assert_clean();
    assert_eq!(fake.password_of(USER).as_deref(), Some(NEW));
}

#[test]
fn a_statement_snowflake_answers_later_is_polled_until_it_ends() {
    let (key, fake) = snowflake();
    let fake = fake.running_for(3);
    rotate(&scenario("default.json", &fake, &key))
        .assert_exit(0)
        .assert_clean();
    assert_eq!(fake.password_of(USER).as_deref(), Some(NEW));
    assert_eq!(changes(&fake), 1);
    let polls = fake
        .proxy()
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    // Each statement: 202 to its submission and its first two polls.
    assert_eq!(polls, 6, "three polls of each of the two statements");
}

#[test]
fn a_change_still_running_at_the_deadline_exits_4_and_is_never_sent_again() {
    let (key, fake) = snowflake();
    let fake = fake.changes_running_for(10_000);
    binary(&scenario("default.json", &fake, &key))
        .arg("--timeout=3")
        .run()
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("may or may not have changed");
    assert_eq!(changes(&fake), 1);
}

#[test]
fn a_password_snowflakes_policy_refuses_exits_1_and_the_password_is_unchanged() {
    let (key, fake) = snowflake();
    let s = scenario("default.json", &fake, &key).param("newPassword", json!("Sh0rt-7"));
    rotate(&s)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("Snowflake refused the new password of 'analyst'")
        .assert_stderr_has("003002");
    assert_eq!(fake.password_of(USER).as_deref(), Some(OLD));
}

#[test]
fn a_policy_refusal_answered_later_is_still_exit_1() {
    let (key, fake) = snowflake();
    let fake = fake.changes_running_for(2);
    let s = scenario("default.json", &fake, &key).param("newPassword", json!("Sh0rt-7"));
    rotate(&s).assert_exit(1).assert_clean();
    assert_eq!(fake.password_of(USER).as_deref(), Some(OLD));
}

#[test]
fn a_refusal_quoting_the_statement_never_shows_the_password() {
    let (key, fake) = snowflake();
    let fake = fake.echoing_statements();
    let short = "Sh0'\\x";
    let s = scenario("default.json", &fake, &key).param("newPassword", json!(short));
    let out = rotate(&s);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("withheld: it may echo a secret");
    assert!(!out.stderr.contains("Sh0"), "{}", out.stderr);
}

#[test]
fn a_change_whose_statement_snowflake_no_longer_knows_exits_4() {
    let (key, fake) = snowflake();
    let fake = fake.changes_running_for(2).forgetting_statements();
    rotate(&scenario("default.json", &fake, &key))
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("may or may not have changed");
    assert_eq!(changes(&fake), 1);
}

#[test]
fn a_service_user_exits_2_before_any_change() {
    let (key, fake) = snowflake();
    let fake = fake.with_kind(USER, "SERVICE");
    rotate(&scenario("default.json", &fake, &key))
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("SERVICE user");
    assert_eq!(changes(&fake), 0);
}

#[test]
fn a_password_with_a_line_break_exits_2_before_any_request() {
    let (key, fake) = snowflake();
    let s = scenario("default.json", &fake, &key).param("newPassword", json!("New-Pass\nword-2"));
    rotate(&s)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("'newPassword'");
    assert!(fake.proxy().requests().is_empty());
}
