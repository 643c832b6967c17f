//! Attack: what the hostile review found.

use super::*;

#[test]
fn a_make_room_deletion_applied_before_iam_went_down_is_never_nothing_changed() {
    let w = world_with(|aws| {
        aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
            .with_key("alice", OTHER_ID, OTHER_SECRET, true, None)
    });
    // The deletion is applied and its answer lost; the SDK's own retry of it
    // then finds IAM down (connection refused), so the last attempt looks
    // "never sent". The first attempt was applied all the same.
    let clean = [
        "GetUser",
        "ListAccessKeys",
        "GetAccessKeyLastUsed",
        "GetAccessKeyLastUsed",
        "DeleteAccessKey",
        "DeleteAccessKey",
    ]
    .map(String::from);
    w.aws()
        .arm("DeleteAccessKey", 1, FaultKind::DropAfterApply)
        .unwrap();
    w.aws().refuse_at(&clean, "DeleteAccessKey", 2).unwrap();
    let out = w.run("admin-record.json", &[]);
    assert_eq!(w.key_ids(), [STORED_ID], "the other key was deleted");
    assert_eq!(w.stored_id(), STORED_ID);
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has(OTHER_ID);
}

#[test]
fn a_lagging_read_back_is_no_proof_that_a_lost_save_can_never_land() {
    let w = world();
    // update_secret #1 is the lease; #2 stores the new key: it is held 3 s
    // (the client gives up after 1 s), then applied with the revision it
    // carried. The read-back that settles it (get_secret #3) is served by a
    // replica one write behind: the record without the lease, at revision 1.
    // Then the vault is down (the lease cannot be cleared).
    w.vault()
        .fault_at("update_secret", 2, Fault::LateApply(Duration::from_secs(3)));
    w.vault().fault_at("get_secret", 3, Fault::StaleRead);
    let clean = [
        "get_secret",
        "update_secret",
        "get_secret",
        "update_secret",
        "get_secret",
        "get_secret",
    ]
    .map(String::from);
    w.vault().refuse_at(&clean, "get_secret", 4).unwrap();
    let out = w.run_with("admin-record.json", &[], &[SHORT_REQUESTS]);
    std::thread::sleep(Duration::from_secs(3));
    // Nothing proved the held save could no longer land, and it did: the
    // record must hold a key that still works.
    let live = w.key_ids();
    assert!(
        live.contains(&w.stored_id()),
        "the vault holds {}, which IAM no longer has (live: {live:?})\n{}",
        w.stored_id(),
        out.output()
    );
    w.assert_vault_holds_a_live_key();
    out.assert_exit(4).assert_clean();
}

#[test]
fn a_create_whose_2xx_answer_cannot_be_read_is_never_nothing_changed() {
    let w = world();
    // IAM made the key; a proxy that rewrites answers replaced the body.
    w.aws()
        .arm("CreateAccessKey", 1, FaultKind::Garbled2xx)
        .unwrap();
    let out = w.run("admin-record.json", &[]);
    let appeared: Vec<String> = w
        .key_ids()
        .into_iter()
        .filter(|id| id != STORED_ID)
        .collect();
    assert_eq!(appeared.len(), 1, "{}", out.output());
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has(&appeared[0]);
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn trace_logging_of_every_dependency_prints_no_secret() {
    let w = world();
    // At trace level the AWS SDK, hyper and the Keeper SDK log too. run_with
    // scans every output for every secret the fakes issued (the new key's
    // and the assumed role's session included); the Gateway's KSM config
    // keys are scanned for here.
    let out = w.run_with("assume-role.json", &[], &[("KEEPER_ROTATOR_LOG", "trace")]);
    out.assert_exit(0);
    assert!(
        out.stderr.lines().count() > 100,
        "trace logging is on:\n{}",
        out.output()
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.vault().config_path()).unwrap()).unwrap();
    let keys: Vec<String> = ["clientId", "privateKey", "appKey"]
        .iter()
        .map(|k| config[k].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(out.find_leak(&keys), None);
}

#[test]
fn a_run_killed_after_its_create_leaves_an_orphan_the_next_run_deletes_to_make_room() {
    let w = world();
    // The first run is killed (SIGKILL) while IAM's answer to its create is
    // held: the key exists and its secret is lost with the process.
    let gate = w.aws().proxy().hold("CreateAccessKey", 1);
    let killed = w
        .runner("admin-record.json", &[], &[])
        .kill_after(Duration::from_secs(2))
        .run();
    assert_eq!(killed.code, None, "{}", killed.output());
    drop(gate);
    assert_eq!(w.key_ids().len(), 2);
    // Its lease stays until it expires; a second run meanwhile changes
    // nothing.
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("is in progress");
    // Once it has expired (here: rewritten as expired), the next run takes
    // over, deletes the orphan to make room and rotates.
    let lease = w.vault().field(USER_UID, "rotation_lease").unwrap();
    let run_id = lease.split_whitespace().next().unwrap();
    w.vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("{run_id} until 2020-01-01T00:00:00Z (host gw, pid 1)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("taking over an expired rotation lease");
    assert_eq!(w.key_ids(), [w.stored_id()]);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_key_another_record_stores_and_uses_is_never_deleted_to_make_room() {
    let yesterday =
        common::time::iso8601(std::time::SystemTime::now() - Duration::from_secs(86_400));
    // Two consumers of one IAM user, each with its own PAM User record and
    // its own key (the usual way to use IAM's two keys).
    let path = harness::inputs::scenario::fixtures_dir().join("vault/aws/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut second = records[0].clone();
    second["uid"] = "PamUserUid000000000002".into();
    second["title"] = "alice (IAM, reporting job)".into();
    for field in second["custom"].as_array_mut().unwrap() {
        if field["label"] == "aws_access_key_id" {
            field["value"] = serde_json::json!([OTHER_ID]);
        }
    }
    records.push(second);
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
        .with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some(yesterday.as_str()),
        )
    })
    .with_vault(FakeVault::start(&records));
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&format!("the other key, {OTHER_ID}, was used on"));
    assert!(
        w.key_ids().contains(&OTHER_ID.to_owned()),
        "the key record PamUserUid000000000002 stores (used yesterday) was deleted; exit {:?}\n{}",
        out.code,
        out.output()
    );
}
