//! rotate-snowflake-user rotating a user's RSA key pair: the real binary
//! against the Snowflake fake (two key slots, key-pair sign-ins as any
//! user) and the fake Keeper vault (the user record holds the private key,
//! and gets the new one). The verdict is read from the fakes (the user's
//! slots, the record's key), never from the binary's words alone. Every run
//! is scanned for every secret of the world, the new private key included
//! (`TestWorld` reads it back from the vault after the run).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::runner::overlap;
use harness::{Armable, FakeSnowflake, FakeVault, Fault, FaultKind, Outcome, Scenario, TestWorld};
use rotate_snowflake_user::jwt::PrivateKey;
use serde_json::{Value, json};

const BIN: harness::Binary = harness::binary!("rotate-snowflake-user");
const ADMIN: &str = "KEEPER_ROTATOR";
const ADMIN_RECORD: &str = "SnowflakeAdminRecord01";
const USER: &str = "LOADER";
const USER_UID: &str = "PamUserUid000000000001";

type World = TestWorld<FakeSnowflake>;

/// The admin's key and the user's key (the one its record holds).
struct Keys {
    admin: PrivateKey,
    user: PrivateKey,
}

fn keys() -> Keys {
    Keys {
        admin: PrivateKey::generate().expect("a key"),
        user: PrivateKey::generate().expect("a key"),
    }
}

fn pem(key: &PrivateKey) -> String {
    key.to_pem().expect("a PEM").expose().to_owned()
}

/// The user record as the vault holds it: the key in `privatePEMKey`, or
/// in a `keyPair` field when `pair`.
fn user_record(key: &PrivateKey, pair: bool) -> Value {
    let key_field = if pair {
        json!({"type": "keyPair", "value": [{"publicKey": "", "privateKey": pem(key)}]})
    } else {
        json!({"type": "secret", "label": "privatePEMKey", "value": [pem(key)]})
    };
    json!({
        "uid": USER_UID,
        "type": "pamUser",
        "title": "loader (Snowflake)",
        "fields": [
            {"type": "login", "value": ["loader"]},
            {"type": "password", "value": ["Unused-Old-Passw0rd-1"]},
            key_field,
        ],
        "custom": [],
    })
}

/// A world whose user LOADER (a SERVICE user) has the record's key in
/// `RSA_PUBLIC_KEY` and `slot_2` in `RSA_PUBLIC_KEY_2`; `change` adjusts
/// the fake.
fn world_with(
    keys: &Keys,
    slot_2: Option<&str>,
    pair: bool,
    change: impl FnOnce(FakeSnowflake) -> FakeSnowflake,
) -> World {
    let fake = change(
        FakeSnowflake::start("myorg-myaccount")
            .with_admin(ADMIN, &keys.admin.public_key)
            .with_service_user(USER, [Some(&keys.user.public_key), slot_2]),
    );
    world_of(keys, fake, pair, user_record(&keys.user, pair), |s| s)
}

/// A world of `fake`, the vault holding `record`, the scenario adjusted by
/// `adjust`.
fn world_of(
    keys: &Keys,
    fake: FakeSnowflake,
    pair: bool,
    record: Value,
    adjust: impl FnOnce(Scenario) -> Scenario,
) -> World {
    let field = if pair { "keyPair" } else { "privatePEMKey" };
    let value = if pair {
        json!({"publicKey": "", "privateKey": pem(&keys.user)})
    } else {
        json!(pem(&keys.user))
    };
    let scenario = Scenario::load("scenarios/snowflake-user/key-pair.json")
        .var("SNOWFLAKE_URL", fake.url())
        .record_field(ADMIN_RECORD, "privatePEMKey", json!(pem(&keys.admin)))
        .record_field(USER_UID, field, value);
    let scenario = adjust(scenario);
    let locks = std::env::temp_dir().join(format!("snowflake-key-locks-{}", std::process::id()));
    std::fs::create_dir_all(&locks).expect("a lock directory");
    TestWorld::new(BIN)
        .vault(FakeVault::start(&[record]))
        .service(fake)
        .records(scenario)
        .env("KEEPER_ROTATOR_LOCK_DIR", locks.display().to_string())
}

/// The fake with the admin, and LOADER with the record's key in
/// `RSA_PUBLIC_KEY` and nothing in `RSA_PUBLIC_KEY_2`.
fn fake(keys: &Keys) -> FakeSnowflake {
    FakeSnowflake::start("myorg-myaccount")
        .with_admin(ADMIN, &keys.admin.public_key)
        .with_service_user(USER, [Some(&keys.user.public_key), None])
}

fn world(keys: &Keys) -> World {
    world_with(keys, None, false, |f| f)
}

/// The fingerprint of the key the record holds now.
fn stored(w: &World) -> String {
    let record = w.fake_vault().record(USER_UID).expect("the user record");
    let field = record["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["label"] == "privatePEMKey" || f["type"] == "keyPair")
        .expect("a key field");
    let private = field["value"][0]
        .get("privateKey")
        .unwrap_or(&field["value"][0])
        .as_str()
        .expect("a private key")
        .to_owned();
    PrivateKey::from_pem(&common::secret::Secret::new(private))
        .expect("a key")
        .fingerprint
}

fn slots(w: &World) -> [Option<String>; 2] {
    w.fake().fingerprints(USER)
}

/// The statements that changed the user's keys.
fn key_changes(w: &World) -> Vec<String> {
    w.fake()
        .proxy()
        .call_sequence()
        .into_iter()
        .filter(|c| c == "set_key" || c == "unset_key")
        .collect()
}

fn run(w: &World) -> Outcome {
    w.run()
}

#[test]
fn the_key_moves_from_the_first_slot_to_the_second_and_back() {
    let keys = keys();
    let w = world(&keys);
    let old = keys.user.fingerprint.clone();
    run(&w)
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("set in RSA_PUBLIC_KEY_2 of Snowflake user 'loader'")
        .assert_stdout_has(&format!("removed {old}"));
    let first = stored(&w);
    assert_ne!(first, old);
    assert_eq!(slots(&w), [None, Some(first.clone())]);

    run(&w)
        .assert_exit(0)
        .assert_stdout_has("set in RSA_PUBLIC_KEY of Snowflake user 'loader'")
        .assert_stdout_has(&format!("removed {first}"));
    let second = stored(&w);
    assert_eq!(slots(&w), [Some(second), None]);
    assert_eq!(
        w.fake_vault().field(USER_UID, "password").as_deref(),
        Some("Unused-Old-Passw0rd-1"),
        "the binary writes no password"
    );
}

#[test]
fn a_key_pair_field_gets_the_new_private_and_public_key() {
    let keys = keys();
    let w = world_with(&keys, None, true, |f| f);
    run(&w).assert_exit(0).assert_clean();
    let new = stored(&w);
    assert_eq!(slots(&w), [None, Some(new)]);
    let record = w.fake_vault().record(USER_UID).expect("the record");
    let pair = record["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["type"] == "keyPair")
        .expect("the keyPair field");
    let public = pair["value"][0]["publicKey"]
        .as_str()
        .expect("a public key");
    let body: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"), "{public}");
    assert_eq!(
        w.fake().user(USER).expect("the user").keys[1].as_deref(),
        Some(body.as_str())
    );
}

#[test]
fn both_slots_taken_by_a_key_no_record_holds_is_refused_before_any_change() {
    let keys = keys();
    let other = PrivateKey::generate().expect("a key");
    let w = world_with(&keys, Some(&other.public_key), false, |f| f);
    run(&w)
        .assert_exit(2)
        .assert_stderr_has("both key slots of the Snowflake user 'loader' are taken")
        .assert_stderr_has(&format!("RSA_PUBLIC_KEY_2 holds {}", other.fingerprint))
        .assert_stderr_has("It is not unset");
    assert!(key_changes(&w).is_empty(), "{:?}", key_changes(&w));
    assert_eq!(stored(&w), keys.user.fingerprint);
}

#[test]
fn a_record_whose_key_is_in_neither_slot_is_refused_before_any_change() {
    let keys = keys();
    let other = PrivateKey::generate().expect("a key");
    let w = world(&keys);
    w.fake().set_key(USER, 0, Some(&other.public_key));
    run(&w).assert_exit(2).assert_stderr_has(&format!(
        "({}) is in neither key slot of the Snowflake user 'loader'",
        keys.user.fingerprint
    ));
    assert!(key_changes(&w).is_empty());
}

#[test]
fn a_user_with_a_password_too_is_refused_before_any_change() {
    let keys = keys();
    let w = world_with(&keys, None, false, |f| {
        f.with_password(USER, "Some-Passw0rd-Of-Loader")
    });
    run(&w)
        .assert_exit(2)
        .assert_stderr_has("has a password as well as a key pair")
        .assert_stderr_has("UNSET PASSWORD");
    assert!(key_changes(&w).is_empty());
}

#[test]
fn a_new_key_that_fails_the_sign_in_is_unset_again_and_nothing_changed() {
    let keys = keys();
    let w = world_with(&keys, None, false, |f| f.refusing_sign_ins_of(USER));
    run(&w)
        .assert_exit(1)
        .assert_stderr_has("did not accept the new RSA key")
        .assert_stderr_has("it was revoked again; nothing was changed");
    assert_eq!(key_changes(&w), ["set_key", "unset_key"]);
    assert_eq!(slots(&w), [Some(keys.user.fingerprint.clone()), None]);
    assert_eq!(stored(&w), keys.user.fingerprint);
}

/// The vault refuses the save for good (its revision check fails on every
/// attempt; the first update_secret is the lease).
fn refuse_the_store(vault: &FakeVault) {
    vault.fault_on_after("update_secret", 1, Fault::StaleRevision);
    vault.fault_on("update_secret", Fault::StaleRevision, 2);
}

#[test]
fn a_store_that_fails_gets_the_new_key_unset_and_nothing_changed() {
    let keys = keys();
    let w = world(&keys);
    refuse_the_store(w.fake_vault());
    run(&w)
        .assert_exit(1)
        .assert_stderr_has("storing the new RSA key")
        .assert_stderr_has("The new RSA key was revoked again; nothing was changed");
    assert_eq!(key_changes(&w), ["set_key", "unset_key"]);
    assert_eq!(slots(&w), [Some(keys.user.fingerprint.clone()), None]);
    assert_eq!(stored(&w), keys.user.fingerprint);
}

#[test]
fn an_unknown_store_outcome_keeps_both_keys_and_names_them() {
    let keys = keys();
    let w = world(&keys);
    // update_secret #1 is the lease; #2 stores the key: the vault goes down.
    w.fake_vault().fault_at("update_secret", 2, Fault::Refused);
    let out = run(&w);
    out.assert_exit(4)
        .assert_stderr_has("has an unknown outcome")
        .assert_stderr_has(&keys.user.fingerprint);
    let [first, second] = slots(&w);
    let new = second.expect("the new key is kept");
    assert_eq!(first.as_deref(), Some(keys.user.fingerprint.as_str()));
    out.assert_stderr_has(&new);
}

#[test]
fn a_lost_answer_to_the_set_is_settled_by_desc_user() {
    let keys = keys();
    let w = world(&keys);
    w.fake()
        .proxy()
        .arm("set_key", 1, FaultKind::DropAfterApply)
        .expect("armed");
    run(&w)
        .assert_exit(0)
        .assert_stderr_has("DESC USER shows this run's key there");
    let new = stored(&w);
    assert_eq!(slots(&w), [None, Some(new)]);
    assert_eq!(
        key_changes(&w),
        ["set_key", "unset_key"],
        "the SET was not sent again"
    );
}

#[test]
fn an_unsure_snowflake_answer_to_the_set_that_did_not_apply_is_never_nothing_changed() {
    let keys = keys();
    let w = world(&keys);
    w.fake()
        .proxy()
        .arm("set_key", 1, FaultKind::DropBeforeApply)
        .expect("armed");
    run(&w)
        .assert_exit(4)
        .assert_stderr_has("with the fingerprint SHA256:")
        .assert_stderr_has("in RSA_PUBLIC_KEY_2");
    assert_eq!(slots(&w), [Some(keys.user.fingerprint.clone()), None]);
    assert_eq!(stored(&w), keys.user.fingerprint);
}

#[test]
fn a_lost_answer_to_the_unset_is_settled_by_desc_user() {
    let keys = keys();
    let w = world(&keys);
    w.fake()
        .proxy()
        .arm("unset_key", 1, FaultKind::ApplyThen500)
        .expect("armed");
    run(&w)
        .assert_exit(0)
        .assert_stderr_has("DESC USER shows")
        .assert_stderr_has(&format!("{} gone", keys.user.fingerprint));
    let new = stored(&w);
    assert_eq!(slots(&w), [None, Some(new)]);
}

#[test]
fn an_unset_that_did_not_apply_leaves_the_old_key_named_and_exits_3() {
    let keys = keys();
    let w = world(&keys);
    w.fake()
        .proxy()
        .arm("unset_key", 1, FaultKind::DropBeforeApply)
        .expect("armed");
    let out = run(&w);
    out.assert_exit(3).assert_stderr_has(&format!(
        "DESC USER still shows {} in RSA_PUBLIC_KEY",
        keys.user.fingerprint
    ));
    let new = stored(&w);
    assert_eq!(slots(&w), [Some(keys.user.fingerprint.clone()), Some(new)]);
}

#[test]
fn a_second_run_while_the_first_holds_the_user_changes_nothing_and_exits_1() {
    let keys = keys();
    let w = world(&keys);
    let gate = w.fake().proxy().hold("set_key", 1);
    let (first, second) = overlap(
        w.runner(),
        w.runner(),
        || w.fake().proxy().wait_for("set_key", 1),
        |_| drop(gate),
    );
    w.scan(&first);
    w.scan(&second);
    second
        .assert_exit(1)
        .assert_stderr_has("nothing was changed");
    first.assert_exit(0);
    assert_eq!(key_changes(&w), ["set_key", "unset_key"]);
    let new = stored(&w);
    assert_eq!(slots(&w), [None, Some(new)]);
}

#[test]
fn a_run_killed_after_storing_its_key_is_completed_by_the_next_one_making_room() {
    let keys = keys();
    let w = world(&keys);
    // The first run is killed once its key is stored, before it unsets the
    // old one (DESC USER #1 plans, #2 checks the free slot before the SET,
    // #3 checks the new key is still in its slot before the unset): both slots are taken, and
    // the lease records that the old key goes.
    let gate = w.fake().proxy().hold("desc_user", 3);
    let killed = w.kill_when(|| w.fake().proxy().wait_for("desc_user", 3));
    assert_eq!(killed.code, None, "not killed: {}", killed.output());
    drop(gate);
    let stored_then = stored(&w);
    assert_eq!(
        slots(&w),
        [
            Some(keys.user.fingerprint.clone()),
            Some(stored_then.clone())
        ]
    );
    w.expire_lease(USER_UID);
    run(&w)
        .assert_exit(0)
        .assert_stderr_has(&format!(
            "revoking RSA key {} to make room",
            keys.user.fingerprint
        ))
        .assert_stdout_has(&format!("removed {}, {stored_then}", keys.user.fingerprint));
    let new = stored(&w);
    assert_eq!(slots(&w), [Some(new), None]);
}

#[test]
fn a_dry_run_shows_the_slots_and_the_slot_it_would_use_and_changes_nothing() {
    let keys = keys();
    let w = world(&keys);
    w.run_with_args(&["--dry-run"])
        .assert_exit(0)
        .assert_stdout_has(&format!(
            "Its key slots: RSA_PUBLIC_KEY {}, RSA_PUBLIC_KEY_2 empty",
            keys.user.fingerprint
        ))
        .assert_stdout_has("set it in RSA_PUBLIC_KEY_2")
        .assert_stdout_has("a sign-in as the user with a new key");
    assert!(key_changes(&w).is_empty());
    assert_eq!(
        w.fake().proxy().call_sequence(),
        ["desc_user"],
        "a dry run reads only"
    );
    assert_eq!(stored(&w), keys.user.fingerprint);
}

#[test]
fn the_record_s_key_in_both_slots_is_refused_before_any_change() {
    let keys = keys();
    let w = world_with(&keys, Some(&keys.user.public_key), false, |f| f);
    run(&w)
        .assert_exit(2)
        .assert_stderr_has("is in both key slots of the Snowflake user 'loader'");
    assert!(key_changes(&w).is_empty());
}

#[test]
fn a_key_set_in_the_free_slot_after_planning_is_not_overwritten() {
    let keys = keys();
    let other = PrivateKey::generate().expect("a key");
    let w = world(&keys);
    // The plan's DESC USER is answered with the second slot empty; before
    // the answer arrives, someone sets a key there.
    let gate = w.fake().proxy().hold("desc_user", 1);
    let (out, ()) = std::thread::scope(|scope| {
        let running = scope.spawn(|| run(&w));
        w.fake().proxy().wait_for("desc_user", 1);
        // Arrived is not yet run: wait until the fake has answered it.
        while w.fake().statements_run() < 1 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        w.fake().set_key(USER, 1, Some(&other.public_key));
        drop(gate);
        (running.join().expect("the run"), ())
    });
    out.assert_exit(1)
        .assert_stderr_has(&format!(
            "RSA_PUBLIC_KEY_2 of 'loader' holds {}",
            other.fingerprint
        ))
        .assert_stderr_has("it was not overwritten");
    assert!(key_changes(&w).is_empty());
    assert_eq!(
        slots(&w),
        [
            Some(keys.user.fingerprint.clone()),
            Some(other.fingerprint.clone())
        ]
    );
}

#[test]
fn the_admin_s_own_key_as_the_user_s_key_is_refused_before_any_change() {
    // The PAM User is the admin user, and its record holds the admin
    // record's key: unsetting it would sign the admin out for good.
    let key = PrivateKey::generate().expect("a key");
    let keys = Keys {
        admin: PrivateKey::from_pem(&key.to_pem().expect("a PEM")).expect("a key"),
        user: key,
    };
    let fake = FakeSnowflake::start("myorg-myaccount").with_admin(USER, &keys.user.public_key);
    let w = world_of(&keys, fake, false, user_record(&keys.user, false), |s| {
        s.record_field(ADMIN_RECORD, "login", json!("loader"))
    });
    run(&w)
        .assert_exit(2)
        .assert_stderr_has(&format!("would unset {}", keys.user.fingerprint))
        .assert_stderr_has("Use a separate admin user")
        .assert_stderr_has("Nothing was changed");
    assert!(key_changes(&w).is_empty(), "{:?}", key_changes(&w));
    assert_eq!(slots(&w), [Some(keys.user.fingerprint.clone()), None]);
    assert_eq!(stored(&w), keys.user.fingerprint);
}

#[test]
fn a_new_key_overwritten_after_the_sign_ins_keeps_the_old_key_and_exits_4() {
    let keys = keys();
    let other = PrivateKey::generate().expect("a key");
    let w = world(&keys);
    // The new key is proven and being stored (update_secret #1 is the
    // lease, #2 the key); meanwhile another run or a person sets another key
    // in the new key's slot.
    let gate = w.fake_vault().hold("update_secret", 2);
    let out = std::thread::scope(|scope| {
        let running = scope.spawn(|| run(&w));
        w.fake_vault().wait_for("update_secret", 2);
        w.fake().set_key(USER, 1, Some(&other.public_key));
        drop(gate);
        running.join().expect("the run")
    });
    w.scan(&out);
    // The record holds a key the user no longer has: needs attention, and
    // never "works".
    out.assert_exit(4)
        .assert_stderr_has("no longer shows the new key in RSA_PUBLIC_KEY_2")
        .assert_stderr_has(&other.fingerprint)
        .assert_stderr_has(&keys.user.fingerprint);
    let error = out
        .stderr
        .lines()
        .find(|l| l.contains("error:"))
        .unwrap_or_default();
    assert!(!error.contains("works"), "{}", out.output());
    assert_eq!(key_changes(&w), ["set_key"], "the old key was not unset");
    assert_eq!(
        slots(&w),
        [
            Some(keys.user.fingerprint.clone()),
            Some(other.fingerprint.clone())
        ]
    );
}

/// Kills a run once its key is stored and before it unsets the old one:
/// both slots are taken, and the lease records that the old key goes.
/// Returns the key stored then.
fn kill_after_storing(w: &World, keys: &Keys) -> String {
    let gate = w.fake().proxy().hold("desc_user", 3);
    let killed = w.kill_when(|| w.fake().proxy().wait_for("desc_user", 3));
    assert_eq!(killed.code, None, "not killed: {}", killed.output());
    drop(gate);
    let stored_then = stored(w);
    assert_eq!(
        slots(w),
        [
            Some(keys.user.fingerprint.clone()),
            Some(stored_then.clone())
        ]
    );
    w.expire_lease(USER_UID);
    stored_then
}

#[test]
fn an_unsure_answer_to_the_unset_making_room_is_never_nothing_changed() {
    let keys = keys();
    let w = world(&keys);
    let stored_then = kill_after_storing(&w, &keys);
    w.fake().answering_next_unset("000630");
    let out = run(&w);
    w.scan(&out);
    out.assert_exit(4)
        .assert_stderr_has("to make room got no answer that says whether it was done")
        .assert_stderr_has(&keys.user.fingerprint);
    assert_eq!(
        slots(&w),
        [
            Some(keys.user.fingerprint.clone()),
            Some(stored_then.clone())
        ]
    );
    assert_eq!(stored(&w), stored_then);
}

#[test]
fn a_set_acknowledged_but_never_applied_is_not_called_revoked() {
    let keys = keys();
    let fake = FakeSnowflake::start("myorg-myaccount")
        .with_admin(ADMIN, &keys.admin.public_key)
        .with_service_user(USER, [Some(&keys.user.public_key), None])
        .ignoring_key_sets();
    let mut record = user_record(&keys.user, false);
    record["custom"] = json!([
        {"type": "text", "label": "verify_timeout_seconds", "value": ["1"]}
    ]);
    let w = world_of(&keys, fake, false, record, |s| s);
    let out = run(&w);
    w.scan(&out);
    out.assert_exit(4).assert_stderr_has("may still be applied");
    assert!(
        !out.stderr.contains("nothing was changed"),
        "{}",
        out.stderr
    );
    assert_eq!(slots(&w), [Some(keys.user.fingerprint.clone()), None]);
    assert_eq!(stored(&w), keys.user.fingerprint);
}

#[test]
fn a_private_pem_key_that_is_not_text_is_refused_naming_the_field() {
    let keys = keys();
    let w = world_of(
        &keys,
        fake(&keys),
        false,
        user_record(&keys.user, false),
        |s| s.record_field(USER_UID, "privatePEMKey", json!({"not": "a key"})),
    );
    run(&w)
        .assert_exit(2)
        .assert_stderr_has("privatePEMKey")
        .assert_stderr_has(USER_UID);
    assert!(w.fake().proxy().call_sequence().is_empty());
}

/// The whole input is read before the host lock and the record's lease: a
/// bad admin key is bad input, with nothing taken, sent or written.
#[test]
fn an_admin_key_that_is_no_key_exits_2_before_the_vault_or_snowflake_is_asked() {
    let keys = keys();
    let w = world_of(
        &keys,
        fake(&keys),
        false,
        user_record(&keys.user, false),
        |s| {
            s.record_field(
                ADMIN_RECORD,
                "privatePEMKey",
                json!("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"),
            )
        },
    );
    run(&w)
        .assert_exit(2)
        .assert_stderr_has("privatePEMKey")
        .assert_stderr_has(ADMIN_RECORD);
    assert!(w.fake().proxy().call_sequence().is_empty());
    assert!(
        w.fake_vault().endpoints().is_empty(),
        "{:?}",
        w.fake_vault().endpoints()
    );
}

#[test]
fn the_key_path_does_not_check_the_new_password_it_never_sends() {
    let keys = keys();
    let w = world_of(
        &keys,
        fake(&keys),
        false,
        user_record(&keys.user, false),
        |s| s.param("newPassword", json!("N3w-".repeat(80))),
    );
    run(&w).assert_exit(0).assert_clean();
    assert_eq!(slots(&w), [None, Some(stored(&w))]);
}
