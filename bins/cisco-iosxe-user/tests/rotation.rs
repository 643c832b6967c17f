//! rotate-cisco-iosxe-user end to end: the real binary against the stateful
//! IOS XE fake, over plain http on loopback and over TLS. Every run is
//! scanned for leaks of the scenario's secrets.

#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::{FakeIosXe, FakeVault, Outcome, Run, Scenario};
use serde_json::{Value, json};

const BIN: harness::Binary = harness::binary!("rotate-cisco-iosxe-user");
const ADMIN: &str = "developer";
const ADMIN_PW: &str = "Admin-IosXe-Passw0rd-0";
const ADMIN_UID: &str = "IosXeAdminRecordUid001";
const USER: &str = "alice";
const OLD: &str = "Old-IosXe-Passw0rd-1";
const NEW: &str = "New-IosXe-Passw0rd-2";

fn device() -> FakeIosXe {
    FakeIosXe::start()
        .with_user(ADMIN, ADMIN_PW, 15)
        .with_user(USER, OLD, 15)
}

fn scenario(name: &str) -> Scenario {
    Scenario::load(&format!("scenarios/cisco-iosxe-user/{name}"))
}

/// A run with this test's own lock directory (each test is its own
/// process; tests on one user would otherwise wait for each other).
fn binary(scenario: &Scenario) -> Run {
    let locks = std::env::temp_dir().join(format!("iosxe-locks-{}", std::process::id()));
    std::fs::create_dir_all(&locks).expect("a lock directory");
    Run::new(BIN)
        .scenario(scenario)
        .env("KEEPER_ROTATOR_LOCK_DIR", locks.display().to_string())
}

fn rotate_with(name: &str, device: &FakeIosXe, args: &[&str]) -> Outcome {
    let mut run = binary(&scenario(name).var("IOSXE_URL", device.url()));
    for arg in args {
        run = run.arg(*arg);
    }
    run.run()
}

fn rotate(name: &str, device: &FakeIosXe) -> Outcome {
    rotate_with(name, device, &[])
}

/// The default scenario against the device's TLS front, with these admin
/// record fields.
fn over_tls(device: &FakeIosXe, fields: &[(&str, Value)]) -> Scenario {
    let mut s = scenario("default.json").var("IOSXE_URL", device.https_url());
    for (label, value) in fields {
        s = s.record_field(ADMIN_UID, label, value.clone());
    }
    s
}

/// The changes sent.
fn patches(device: &FakeIosXe) -> usize {
    device
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count()
}

#[test]
fn the_secret_is_set_as_a_type_9_hash_read_back_and_proven_by_signing_in() {
    let device = device();
    rotate("default.json", &device)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("set the secret (type 9) of IOS XE user 'alice'")
        .assert_stdout_has("the device holds the type 9 secret sent")
        .assert_stdout_has("'alice' signed in with the new password")
        .assert_stdout_has("the old password is refused");
    assert!(device.accepts(USER, NEW));
    assert!(!device.accepts(USER, OLD));
    let user = device.user(USER).expect("the user");
    assert_eq!(user.changes, 1);
    assert_eq!(user.privilege, 15, "the privilege is kept");
    let requests = device.requests();
    let patch = requests
        .iter()
        .find(|r| r.method == "PATCH")
        .expect("a PATCH");
    assert_eq!(
        patch.path,
        "/restconf/data/Cisco-IOS-XE-native:native/username=alice"
    );
    assert_eq!(patch.login.as_deref(), Some(ADMIN));
    assert_eq!(patch.content_type, "application/yang-data+json");
    let mut keys = patch.keys.clone();
    keys.sort();
    assert_eq!(keys, ["name", "secret"], "no clear-text password is sent");
    let logins: Vec<Option<&str>> = requests.iter().map(|r| r.login.as_deref()).collect();
    assert_eq!(
        logins,
        [
            Some(ADMIN),
            Some(ADMIN),
            Some(ADMIN),
            Some(USER),
            Some(USER)
        ],
        "read, change, read back, sign in with the new password, then with the old"
    );
}

#[test]
fn hostile_passwords_arrive_intact() {
    let s = scenario("hostile-passwords.json");
    let new = s.params()["newPassword"].as_str().expect("new").to_owned();
    let device = device();
    rotate("hostile-passwords.json", &device)
        .assert_exit(0)
        .assert_clean();
    assert!(device.accepts(USER, &new));
}

#[test]
fn a_user_below_privilege_15_is_proven_by_the_read_back_without_signing_in() {
    let device = FakeIosXe::start()
        .with_user(ADMIN, ADMIN_PW, 15)
        .with_user(USER, OLD, 1);
    rotate("default.json", &device)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the device holds the type 9 secret sent")
        .assert_stdout_has("no sign-in was tried: the user has privilege 1");
    assert!(device.accepts(USER, NEW));
    assert_eq!(device.proxy().count("sign_in"), 0);
}

#[test]
fn a_secret_read_back_that_is_not_the_one_sent_exits_4() {
    let device = device().rewriting_secrets();
    rotate("default.json", &device)
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("the secret read back is not the one sent");
    assert_eq!(patches(&device), 1);
}

#[test]
fn an_old_password_still_accepted_exits_0_so_the_gateway_stores_the_new_one_and_warns() {
    // Exit 3 would leave the vault on the old password while the device
    // holds the new one: the Gateway stores newPassword on exit 0 only.
    let device = device().also_accepting(USER, OLD);
    rotate("default.json", &device)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("WARNING: the OLD password still signs in");
    assert!(device.accepts(USER, NEW));
}

#[test]
fn the_reversible_form_is_sent_only_when_the_user_record_asks_for_it() {
    let device = device();
    let s = scenario("default.json")
        .var("IOSXE_URL", device.url())
        .record_field("PamUserUid000000000001", "iosxe_set_as", json!("password"));
    binary(&s)
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("set the password (reversible form) of IOS XE user 'alice'");
    let user = device.user(USER).expect("the user");
    assert_eq!(user.password.as_deref(), Some(NEW));
    assert_eq!(user.secret, None);
}

#[test]
fn a_missing_host_endpoint_exits_2_naming_the_field_and_the_record() {
    let device = device();
    rotate("missing-endpoint.json", &device)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("host_endpoint")
        .assert_stderr_has("Cisco Authentication Record");
    assert!(device.requests().is_empty());
}

#[test]
fn rotate_meraki_users_admin_record_titled_alike_is_passed_over() {
    let device = device();
    rotate("with-meraki-record.json", &device)
        .assert_exit(0)
        .assert_clean();
    assert!(device.accepts(USER, NEW));
}

#[test]
fn a_pinned_certificate_is_trusted_without_any_authority() {
    let device = device().with_tls();
    let s = over_tls(
        &device,
        &[("tls_certificate_sha256", json!(device.certificate_sha256()))],
    );
    binary(&s).run().assert_exit(0).assert_clean();
    assert!(device.accepts(USER, NEW));
}

#[test]
fn a_certificate_that_is_not_the_pinned_one_exits_2_before_any_credential_is_sent() {
    let device = device().with_tls();
    let other = FakeIosXe::start().with_tls();
    let s = over_tls(
        &device,
        &[("tls_certificate_sha256", json!(other.certificate_sha256()))],
    );
    binary(&s)
        .run()
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("refused before sending anything")
        .assert_stderr_has(&device.certificate_sha256());
    assert!(device.requests().is_empty(), "a request reached the device");
}

#[test]
fn a_certificate_no_trusted_authority_signed_exits_2_naming_its_sha256() {
    let device = device().with_tls();
    let other = FakeIosXe::start().with_tls();
    let ca = tempfile::NamedTempFile::new().expect("a CA file");
    std::fs::write(ca.path(), other.ca_pem()).expect("the CA written");
    let s = over_tls(&device, &[]);
    binary(&s)
        .env("SSL_CERT_FILE", ca.path().display().to_string())
        .run()
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("the device's certificate is not trusted")
        .assert_stderr_has(&device.certificate_sha256());
    assert!(device.requests().is_empty(), "a request reached the device");
}

#[test]
fn the_devices_authority_in_ssl_cert_file_is_trusted() {
    let device = device().with_tls();
    let ca = tempfile::NamedTempFile::new().expect("a CA file");
    std::fs::write(ca.path(), device.ca_pem()).expect("the CA written");
    let s = over_tls(&device, &[]);
    binary(&s)
        .env("SSL_CERT_FILE", ca.path().display().to_string())
        .run()
        .assert_exit(0)
        .assert_clean();
    assert!(device.accepts(USER, NEW));
}

#[test]
fn trust_on_first_use_stores_the_certificate_in_the_admin_record_before_the_change() {
    let device = device().with_tls();
    let vault = FakeVault::start(&[json!({
        "uid": ADMIN_UID,
        "type": "login",
        "title": "Cisco Authentication Record",
        "fields": [
            {"type": "login", "value": [ADMIN]},
            {"type": "password", "value": [ADMIN_PW]}
        ],
        "custom": [
            {"type": "text", "label": "host_endpoint", "value": [device.https_url()]},
            {"type": "text", "label": "tls_certificate_sha256", "value": []},
            {"type": "text", "label": "trust_certificate_on_first_use", "value": ["true"]}
        ]
    })]);
    let s = over_tls(
        &device,
        &[("trust_certificate_on_first_use", json!("true"))],
    );
    let mut run = binary(&s);
    for (key, value) in vault.env() {
        run = run.env(&key, value);
    }
    run.run()
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("trusting it on first use")
        .assert_stderr_has("stored the certificate");
    assert_eq!(
        vault.field(ADMIN_UID, "tls_certificate_sha256"),
        Some(device.certificate_sha256())
    );
    assert!(device.accepts(USER, NEW));
}

#[test]
fn a_dry_run_with_trust_on_first_use_stores_nothing() {
    let device = device().with_tls();
    let s = over_tls(
        &device,
        &[("trust_certificate_on_first_use", json!("true"))],
    );
    binary(&s)
        .arg("--dry-run")
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("not pinned yet: would be stored in tls_certificate_sha256");
    assert_eq!(patches(&device), 0);
}

#[test]
fn the_admin_itself_is_refused_with_exit_2_before_any_request() {
    let device = device();
    let s = scenario("default.json")
        .var("IOSXE_URL", device.url())
        .param("user", json!(ADMIN));
    binary(&s)
        .run()
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("is the admin of record 'Cisco Authentication Record'");
    assert!(device.requests().is_empty());
}

#[test]
fn an_entry_the_device_answers_with_an_impossible_privilege_is_not_changed() {
    let device = device().with_listed(json!({"name": USER, "privilege": 99}));
    rotate("default.json", &device)
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("privilege is not a number from 0 to 15");
    assert_eq!(patches(&device), 0);
}

#[test]
fn a_reversible_password_left_beside_the_new_secret_exits_0_and_warns() {
    // Keeper's script leaves a reversible password; a device whose merge
    // keeps it still holds a credential that is not the new one.
    let device = FakeIosXe::start()
        .with_user(ADMIN, ADMIN_PW, 15)
        .with_reversible_user(USER, OLD, 5)
        .keeping_both_forms();
    rotate("default.json", &device)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("WARNING: the user still has a password in the reversible form");
    assert!(device.user(USER).expect("the user").secret.is_some());
}

#[test]
fn a_password_set_beside_a_secret_the_device_kept_exits_4() {
    // IOS checks the secret first: the reversible password just set would
    // never sign in, so the Gateway must not store it.
    let device = FakeIosXe::start()
        .with_user(ADMIN, ADMIN_PW, 15)
        .with_user(USER, OLD, 5)
        .keeping_both_forms();
    let s = scenario("default.json")
        .var("IOSXE_URL", device.url())
        .record_field("PamUserUid000000000001", "iosxe_set_as", json!("password"));
    binary(&s)
        .run()
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("the user still has a secret");
}

#[test]
fn a_user_name_with_a_colon_is_refused_before_any_request() {
    let device = device();
    let s = scenario("default.json")
        .var("IOSXE_URL", device.url())
        .param("user", json!("ops:1"));
    binary(&s)
        .run()
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("basic authentication cannot carry");
    assert!(device.requests().is_empty());
}

#[test]
fn a_pin_stored_by_another_writer_meanwhile_is_kept_and_the_run_exits_2() {
    let device = device().with_tls();
    let vault = FakeVault::start(&[json!({
        "uid": ADMIN_UID,
        "type": "login",
        "title": "Cisco Authentication Record",
        "fields": [
            {"type": "login", "value": [ADMIN]},
            {"type": "password", "value": [ADMIN_PW]}
        ],
        "custom": [
            {"type": "text", "label": "host_endpoint", "value": [device.https_url()]},
            {"type": "text", "label": "tls_certificate_sha256", "value": []},
            {"type": "text", "label": "trust_certificate_on_first_use", "value": ["true"]}
        ]
    })]);
    let s = over_tls(
        &device,
        &[("trust_certificate_on_first_use", json!("true"))],
    );
    let mut run = binary(&s);
    for (key, value) in vault.env() {
        run = run.env(&key, value);
    }
    // The administrator pins the certificate they checked while the run
    // reads the record to store the one it saw.
    let checked = "ab".repeat(32);
    let gate = vault.hold("get_secret", 1);
    let running = std::thread::spawn(move || run.run());
    vault.wait_for("get_secret", 1);
    vault.set_custom_field(ADMIN_UID, "tls_certificate_sha256", &checked);
    drop(gate);
    running
        .join()
        .expect("the run")
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("was given a pin since this run read the record");
    assert_eq!(
        vault.field(ADMIN_UID, "tls_certificate_sha256"),
        Some(checked)
    );
    assert_eq!(patches(&device), 0, "no change after a refused pin");
}
