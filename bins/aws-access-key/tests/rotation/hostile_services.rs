//! Hostile services: late, lost, repeated and overlapping.

use super::*;

#[test]
fn a_vault_save_that_lands_after_the_client_gave_up_never_overwrites_the_settled_one() {
    let w = world();
    // update_secret #1 is the lease, #2 stores the new key: hold it 3 s,
    // then apply it with the revision it carried.
    w.vault()
        .fault_at("update_secret", 2, Fault::LateApply(Duration::from_secs(3)));
    let out = w.run_with("admin-record.json", &[], &[SHORT_REQUESTS]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stderr_has("saving again at the same revision");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_vault_save_applied_behind_a_load_balancer_error_counts_as_saved() {
    let w = world();
    w.vault()
        .fault_at("update_secret", 2, Fault::ApplyThenError(502));
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("was saved after all");
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_second_run_while_the_first_holds_the_record_changes_nothing_and_exits_1() {
    let w = world();
    let gate = w.aws().proxy().hold("CreateAccessKey", 1);
    let (first, second) = overlap(
        w.runner("admin-record.json", &[], &[]),
        w.runner("admin-record.json", &[], &[]),
        || w.aws().proxy().wait_for("CreateAccessKey", 1),
        |_| gate.release(),
    );
    second
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of record 'alice (IAM)'")
        .assert_stderr_has("is in progress");
    first.assert_exit(0).assert_clean();
    assert_eq!(w.aws().proxy().count("CreateAccessKey"), 1);
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
    assert_eq!(
        w.vault().field(USER_UID, "rotation_lease").as_deref(),
        Some(""),
        "the lease is cleared at the end"
    );
    for out in [&first, &second] {
        assert_eq!(out.find_leak(&w.aws().secrets()), None, "{}", out.output());
    }
}

#[test]
fn a_live_lease_of_another_run_stops_the_run_before_any_aws_call() {
    let w = world();
    let until = common::time::iso8601(std::time::SystemTime::now() + Duration::from_secs(600));
    w.vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("(host gw-2, pid 42)")
        .assert_stderr_has("nothing was changed");
    assert!(w.aws().calls().is_empty(), "{:?}", w.aws().actions());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn an_expired_lease_of_a_crashed_run_is_taken_over() {
    let w = world();
    w.vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        "0123456789abcdef until 2020-01-01T00:00:00Z (host gw-2, pid 42)",
    );
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("taking over an expired rotation lease");
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_lease_still_live_by_the_vaults_clock_is_not_taken_over_by_a_machine_whose_clock_runs_ahead() {
    // This machine's clock is 20 minutes ahead of the vault's: by it, the
    // other run's lease ended 18 minutes ago; by the vault's, it has two
    // minutes to go.
    let w = world();
    w.vault().set_clock_offset(-1200);
    let until = common::time::iso8601(std::time::SystemTime::now() - Duration::from_secs(1080));
    w.vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("another rotation of record 'alice (IAM)'")
        .assert_stderr_has("nothing was changed");
    assert!(w.aws().calls().is_empty(), "{:?}", w.aws().actions());
    assert_eq!(w.vault().other_requests(), ["HEAD /"]);
}

#[test]
fn a_lease_expired_by_the_vaults_clock_is_taken_over_by_a_machine_whose_clock_runs_behind() {
    // This machine's clock is 20 minutes behind the vault's: by it, the
    // crashed run's lease has ten minutes to go; by the vault's, it ended
    // ten minutes ago.
    let w = world();
    w.vault().set_clock_offset(1200);
    let until = common::time::iso8601(std::time::SystemTime::now() + Duration::from_secs(600));
    w.vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("taking over an expired rotation lease");
    w.assert_vault_holds_a_live_key();
}

/// A live lease (by this machine's clock) of another run, and a vault whose
/// clock is answered `how`: the run must judge by this machine's clock,
/// leave the lease alone, and say why it could not use the vault's.
fn a_live_lease_judged_by_this_machines_clock(how: Others, why: &str) {
    let w = world();
    w.vault().set_clock_offset(1200);
    w.vault().answer_other_requests(how);
    // Live by this machine's clock (and expired by the vault's, which
    // cannot be read or is not believed).
    let until = common::time::iso8601(std::time::SystemTime::now() + Duration::from_secs(600));
    w.vault().set_custom_field(
        USER_UID,
        "rotation_lease",
        &format!("0123456789abcdef until {until} (host gw-2, pid 42)"),
    );
    let started = std::time::Instant::now();
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_stderr_has("another rotation of record 'alice (IAM)'")
        .assert_stderr_has("cannot read the vault's clock")
        .assert_stderr_has(why);
    // The probe is waited for at most 5 s, whatever the host does.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(w.vault().other_requests(), ["HEAD /"]);
    assert!(w.aws().calls().is_empty(), "{:?}", w.aws().actions());
}

#[test]
fn a_vault_host_that_hangs_up_on_the_clock_read_leaves_the_lease_to_this_machines_clock() {
    a_live_lease_judged_by_this_machines_clock(
        Others::HangUp,
        "the exchange with 127.0.0.1 failed",
    );
}

#[test]
fn a_vault_host_that_never_answers_the_clock_read_is_waited_for_5_seconds_at_most() {
    a_live_lease_judged_by_this_machines_clock(Others::Hold, "did not answer within 5 s");
}

#[test]
fn an_answer_without_a_date_leaves_the_lease_to_this_machines_clock() {
    a_live_lease_judged_by_this_machines_clock(Others::Date(None), "without a Date");
}

#[test]
fn a_date_that_does_not_read_as_one_leaves_the_lease_to_this_machines_clock() {
    a_live_lease_judged_by_this_machines_clock(
        Others::Date(Some("yesterday at noon".into())),
        "does not read as one",
    );
}

#[test]
fn a_vault_date_in_1970_is_not_believed_and_cannot_take_over_a_live_lease() {
    a_live_lease_judged_by_this_machines_clock(
        Others::Date(Some("Thu, 01 Jan 1970 00:00:00 GMT".into())),
        "not believed",
    );
}

#[test]
fn a_vault_date_in_the_year_9999_is_not_believed_and_cannot_expire_a_live_lease() {
    a_live_lease_judged_by_this_machines_clock(
        Others::Date(Some("Fri, 31 Dec 9999 23:59:59 GMT".into())),
        "not believed",
    );
}

#[test]
fn a_stored_key_id_with_stray_whitespace_is_still_the_records_key() {
    let w = world_with(|aws| {
        aws.with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-01-01T00:00:00Z"),
        )
        .with_key(
            "alice",
            OTHER_ID,
            OTHER_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
    });
    w.vault()
        .set_custom_field(USER_UID, "aws_access_key_id", &format!(" {STORED_ID} \t"));
    w.vault()
        .set_custom_field(USER_UID, "delete_all_keys_before_rotating", "true");
    w.aws()
        .fault("CreateAccessKey", AwsFault::access_denied(), 1);
    let out = w.run("admin-record.json", &[]);
    // The other key made room; the create was refused: never exit 1 after a
    // deletion, and the record's key survives.
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has(&format!("{OTHER_ID} had been revoked to make room"));
    assert_eq!(w.deletions(), [OTHER_ID]);
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_make_room_deletion_whose_answer_was_lost_counts_as_done() {
    let w = world_with(|aws| {
        aws.with_key("alice", STORED_ID, STORED_SECRET, true, None)
            .with_key("alice", OTHER_ID, OTHER_SECRET, true, None)
    });
    w.aws()
        .arm("DeleteAccessKey", 1, FaultKind::DropAfterApply)
        .unwrap();
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_clean();
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_failed_confirmation_after_a_completed_rotation_exits_0_with_a_warning() {
    let w = world();
    // ListAccessKeys #1 plans; #2.. confirm.
    for nth in 2..=8 {
        w.aws()
            .arm("ListAccessKeys", nth, FaultKind::Status500)
            .unwrap();
    }
    w.run("admin-record.json", &[])
        .assert_exit(0)
        .assert_stderr_has("was not confirmed");
    assert_eq!(w.key_ids().len(), 1);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_create_refused_before_it_was_sent_changes_nothing_and_exits_1() {
    let w = world();
    let clean = [
        "GetUser",
        "ListAccessKeys",
        "GetAccessKeyLastUsed",
        "CreateAccessKey",
    ]
    .map(String::from);
    w.aws().refuse_at(&clean, "CreateAccessKey", 1).unwrap();
    w.run("admin-record.json", &[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("nothing was changed");
    assert_eq!(w.key_ids(), [STORED_ID]);
    assert_eq!(w.stored_id(), STORED_ID);
}

#[test]
fn a_create_whose_answer_was_lost_names_the_key_that_appeared_and_exits_4() {
    let w = world();
    w.aws()
        .arm("CreateAccessKey", 1, FaultKind::DropAfterApply)
        .unwrap();
    let out = w.run("admin-record.json", &[]);
    out.assert_exit(4).assert_clean();
    let appeared = w.key_ids().into_iter().find(|id| id != STORED_ID).unwrap();
    out.assert_stderr_has(&format!("access key(s) {appeared} appeared since"));
    assert_eq!(w.stored_id(), STORED_ID);
    assert_eq!(w.aws().proxy().count("CreateAccessKey"), 1, "never resent");
}

#[test]
fn a_rotation_makes_six_vault_round_trips() {
    let w = world();
    w.run("admin-record.json", &[]).assert_exit(0);
    // Take the lease (read, save); store the new key (read for the current
    // revision, save); read the record again before retiring; note the
    // removed key and clear the lease in one save from that read.
    assert_eq!(
        w.vault().endpoints(),
        [
            "get_secret",
            "update_secret",
            "get_secret",
            "update_secret",
            "get_secret",
            "update_secret"
        ]
    );
    assert_eq!(
        w.vault().field(USER_UID, "rotation_lease").as_deref(),
        Some("")
    );
    assert_eq!(
        w.vault()
            .field(USER_UID, "Access_Key_ID_Removed_during_previous_rotation")
            .as_deref(),
        Some(STORED_ID)
    );
}
