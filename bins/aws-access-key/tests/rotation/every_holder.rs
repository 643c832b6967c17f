//! Issue 23: every record holding the key being deleted.

use super::*;

const CONSUMER_UID: &str = "AwsConsumerUid00000001";

/// A consumer's record attached to the script, holding key `id` and its
/// secret under its own labels, in the input and in the vault.
fn with_consumer(id: &str, secret: &str) -> (Scenario, FakeVault) {
    let path = harness::inputs::scenario::fixtures_dir().join("vault/aws/records.json");
    let mut records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    records.push(serde_json::json!({
        "uid": CONSUMER_UID,
        "type": "login",
        "title": "reporting job",
        "fields": [],
        "custom": [
            {"type": "text", "label": "reporting_key_id", "value": [id]},
            {"type": "secret", "label": "reporting_secret", "value": [secret]}
        ]
    }));
    let path = harness::inputs::scenario::fixtures_dir()
        .join("scenarios/aws-access-key/admin-record.json");
    let mut scenario: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    scenario["records"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "uid": CONSUMER_UID,
            "title": "reporting job",
            "reporting_key_id": id,
            "reporting_secret": secret
        }));
    (
        Scenario::from_json(&scenario.to_string()).unwrap(),
        FakeVault::start(&records),
    )
}

#[test]
fn an_attached_record_holding_the_deleted_key_gets_the_new_key_before_it_is_deleted() {
    let (scenario, vault) = with_consumer(STORED_ID, STORED_SECRET);
    let w = world().with_vault(vault);
    let out = w.run_scenario_with(&scenario, &[], &[]);
    out.assert_exit(0).assert_clean();
    w.assert_vault_holds_a_live_key();
    assert_eq!(w.deletions(), [STORED_ID]);
    assert_eq!(
        w.vault().field(CONSUMER_UID, "reporting_key_id"),
        Some(w.stored_id()),
        "the consumer's record is left holding a deleted key\n{}",
        out.output()
    );
    assert_eq!(
        w.vault().field(CONSUMER_UID, "reporting_secret"),
        w.vault().field(USER_UID, "aws_secret_access_key")
    );
}

#[test]
fn a_key_an_attached_record_holds_is_never_deleted_to_make_room_and_exits_2() {
    // The other key was last used weeks ago: without the record holding it,
    // it would be deleted to make room.
    let (scenario, vault) = with_consumer(OTHER_ID, OTHER_SECRET);
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
        .with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-01-01T00:00:00Z"),
        )
    });
    let w = w.with_vault(vault);
    let out = w.run_scenario_with(&scenario, &[], &[]);
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&format!("key {OTHER_ID} would be deleted to make room"))
        .assert_stderr_has(&format!("record 'reporting job' (uid {CONSUMER_UID})"));
    assert!(w.deletions().is_empty(), "{}", out.output());
    assert_eq!(w.key_ids().len(), 2);
}

#[test]
fn a_record_holding_a_deleted_key_whose_secret_the_run_does_not_know_keeps_it_and_exits_3() {
    // The user's only key is not the record's: its secret is in no record
    // the run reads, so the consumer's record holding it cannot be given the
    // new key (which of its fields is the secret is not known).
    let (scenario, vault) = with_consumer(OTHER_ID, OTHER_SECRET);
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
    });
    let w = w.with_vault(vault);
    let out = w.run_scenario_with(&scenario, &[], &[]);
    out.assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "record 'reporting job' (uid {CONSUMER_UID}) holds the id of the access key being \
             retired"
        ));
    assert!(w.deletions().is_empty(), "{}", out.output());
    assert!(w.key_ids().contains(&OTHER_ID.to_owned()));
    w.assert_vault_holds_a_live_key();
}
