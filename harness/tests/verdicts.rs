//! The verdicts of `harness::rehearsal` can fail: for each use case, an exit
//! code that contradicts the fakes' state is caught. No binary runs here: the
//! outcome is made up and the fakes are left as seeded (nothing rotated), or
//! changed by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::time::Duration;

use harness::Outcome;
use harness::rehearsal::{Rehearsal, World, use_case};

fn world(name: &str) -> World {
    World::start(&Rehearsal::fixture(use_case(name).unwrap()).unwrap()).unwrap()
}

fn exited(code: i32) -> Outcome {
    Outcome {
        code: Some(code),
        stdout: "summary\n".into(),
        stderr: String::new(),
        elapsed: Duration::ZERO,
        timed_out: false,
    }
}

fn assert_rejected(world: &World, code: i32, because: &str) {
    let why = world
        .verdict(&exited(code), false)
        .expect_err("the verdict must reject this outcome");
    assert!(why.contains(because), "{because} in {why}");
}

#[test]
fn exit_0_with_nothing_rotated_is_rejected_for_every_use_case() {
    for use_case in &harness::rehearsal::USE_CASES {
        let because = match use_case.name {
            "aws-access-key" => "exit 0 but the keys are AKIAEXISTING00000001",
            "azure-app-secret" => "exit 0 but the secrets are",
            "ssh-user" => "exit 0 but 'alice' has the old password",
            "snowflake-user-key" => "exit 0 but the slots hold",
            _ => "the old password",
        };
        assert_rejected(&world(use_case.name), 0, because);
    }
}

#[test]
fn exit_1_with_nothing_changed_is_accepted_for_every_use_case() {
    for use_case in &harness::rehearsal::USE_CASES {
        let world = world(use_case.name);
        assert_eq!(
            world.verdict(&exited(1), false),
            Ok(()),
            "{}",
            use_case.name
        );
    }
}

#[test]
fn exit_3_with_the_old_credential_still_stored_is_rejected() {
    assert_rejected(
        &world("aws-access-key"),
        3,
        "exit 3 but the vault still holds the old key",
    );
    assert_rejected(
        &world("azure-app-secret"),
        3,
        "exit 3 but the vault still holds an old secret",
    );
    assert_rejected(
        &world("ssh-user"),
        3,
        "exit 3 but the vault still holds the old key",
    );
    assert_rejected(
        &world("snowflake-user-key"),
        3,
        "exit 3 but the vault still holds the old key",
    );
}

#[test]
fn exit_3_after_every_old_credential_was_retired_is_rejected() {
    // The one place a binary runs here: a complete rotation, judged as if
    // it had exited 3 ("an old one kept"): the code would hide a rotation
    // that completed (a script's failure is read as 3 too).
    for (name, bin, because) in [
        (
            "aws-access-key",
            "rotate-aws-access-key",
            "exit 3 (an old key kept) but every old one was deleted",
        ),
        (
            "azure-app-secret",
            "rotate-azure-app-secret",
            "exit 3 (an old secret kept) but every old one was removed",
        ),
    ] {
        let world = world(name);
        let bin = harness::world::rotators_dir(bin, env!("CARGO_BIN_EXE_harness")).join(bin);
        let out = world.run(&bin, &harness::rehearsal::world::RunOptions::default());
        assert_eq!(out.code, Some(0), "{}", out.output());
        assert_eq!(world.verdict(&out, false), Ok(()));
        assert_rejected(&world, 3, because);
    }
}

#[test]
fn a_vault_holding_a_key_iam_does_not_know_is_rejected_whatever_the_exit() {
    let world = world("aws-access-key");
    world.vault.set_custom_field(
        world.user_uid(),
        "aws_access_key_id",
        "AKIANOSUCHKEY0000001",
    );
    for code in [0, 1, 4] {
        assert_rejected(&world, code, "which is not a live key with that secret");
    }
}

#[test]
fn a_dry_run_that_changed_the_vault_is_rejected() {
    let world = world("aws-access-key");
    assert_eq!(world.verdict(&exited(0), true), Ok(()));
    world
        .vault
        .set_custom_field(world.user_uid(), "CreateDate", "2030-01-01T00:00:00Z");
    let why = world.verdict(&exited(0), true).unwrap_err();
    assert!(why.contains("a dry run changed the vault record"), "{why}");
}

#[test]
fn a_dry_run_cannot_exit_3_or_4() {
    let world = world("rest-api");
    for code in [3, 4] {
        let why = world.verdict(&exited(code), true).unwrap_err();
        assert!(why.contains("a dry run exited"), "{why}");
    }
}
