//! rotate-aws-access-key end to end: the real binary against the IAM + STS
//! fake and the fake Keeper vault (through the unmodified KSM SDK). Every run
//! is scanned for every secret the fakes issued, including the new key's.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use harness::fakes::vault::Others;
use harness::faults::net::{HangUpServer, PrivateNetwork, RecordingProxy};
use harness::faults::{Armable, FaultKind};
use harness::runner::overlap;
use harness::{AwsFault, FakeAws, FakeVault, Fault, Outcome, Run, Scenario, TestWorld};

mod attack;
mod credential_sources;
mod every_holder;
mod existing_keys;
mod failures;
mod hostile_services;
mod plain_http;
mod redaction;
mod retirement;

const BIN: harness::Binary = harness::binary!("rotate-aws-access-key");
const USER_UID: &str = "PamUserUid000000000001";
const ADMIN_ID: &str = "AKIAADMINKEY00000001";
const ADMIN_SECRET: &str = "admin-secret-access-key-000000000000001";
const STORED_ID: &str = "AKIAEXISTING00000001";
const STORED_SECRET: &str = "existing-secret-access-key-0000000001";
const OTHER_ID: &str = "AKIAOTHERKEY00000002";
const OTHER_SECRET: &str = "other-secret-access-key-00000000000002";

/// The fakes and the records every test starts from; each test names the
/// input (a scenario file) it runs.
struct World(TestWorld<FakeAws>);

/// IAM user alice with the key the record stores.
fn world() -> World {
    world_with(|aws| {
        aws.with_key(
            "alice",
            STORED_ID,
            STORED_SECRET,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
    })
}

fn world_with(keys: impl FnOnce(FakeAws) -> FakeAws) -> World {
    let aws = FakeAws::start()
        .with_admin(ADMIN_ID, ADMIN_SECRET)
        .with_role(
            "arn:aws:iam::123456789012:role/keeper-rotation",
            Some("keeper-external-id-1"),
        )
        .with_user("alice");
    World::of(keys(aws))
}

impl World {
    /// The world of `aws` and the fixture vault.
    fn of(aws: FakeAws) -> Self {
        Self(
            TestWorld::new(BIN)
                .vault(FakeVault::from_fixture("vault/aws/records.json"))
                .service(aws)
                .secrets([ADMIN_SECRET, STORED_SECRET, OTHER_SECRET]),
        )
    }

    /// The same world with another fake vault.
    fn with_vault(self, vault: FakeVault) -> Self {
        Self(self.0.vault(vault))
    }

    fn aws(&self) -> &FakeAws {
        self.0.fake()
    }

    fn vault(&self) -> &FakeVault {
        self.0.fake_vault()
    }

    fn run(&self, scenario: &str, args: &[&str]) -> Outcome {
        self.run_with(scenario, args, &[])
    }

    /// Runs with extra environment variables, set after the fakes' own.
    /// Every output is scanned for the world's secrets, before and after
    /// the run (the new key's secret exists only after it).
    fn run_with(&self, scenario: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let scenario = Scenario::load(&format!("scenarios/aws-access-key/{scenario}"));
        self.run_scenario_with(&scenario, args, env)
    }

    fn run_scenario_with(
        &self,
        scenario: &Scenario,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Outcome {
        let run = with_args(self.0.runner_for(scenario), args, env);
        self.0.finish(run, Some(scenario))
    }

    /// The run, not yet started.
    fn runner(&self, scenario: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.runner_without(scenario, args, env, &[])
    }

    /// The run, without the fakes' variables named in `without`.
    fn runner_without(
        &self,
        scenario: &str,
        args: &[&str],
        env: &[(&str, &str)],
        without: &[&str],
    ) -> Run {
        let scenario = Scenario::load(&format!("scenarios/aws-access-key/{scenario}"));
        with_args(self.0.runner_without(&scenario, without), args, env)
    }

    fn key_ids(&self) -> Vec<String> {
        self.aws().keys("alice").into_iter().map(|k| k.id).collect()
    }

    fn stored_id(&self) -> String {
        self.vault().field(USER_UID, "aws_access_key_id").unwrap()
    }

    /// The secret the vault holds is the one IAM issued for the stored id.
    fn assert_vault_holds_a_live_key(&self) {
        let id = self.stored_id();
        let key = self
            .aws()
            .keys("alice")
            .into_iter()
            .find(|k| k.id == id)
            .unwrap();
        assert_eq!(
            self.vault()
                .field(USER_UID, "aws_secret_access_key")
                .as_deref(),
            Some(key.secret.as_str())
        );
    }

    fn deletions(&self) -> Vec<String> {
        self.aws()
            .calls()
            .into_iter()
            .filter(|c| c.action == "DeleteAccessKey")
            .map(|c| c.param("AccessKeyId").unwrap().to_owned())
            .collect()
    }
}

/// `run` with `args` and the variables `env`, set after the fakes' own.
fn with_args(run: Run, args: &[&str], env: &[(&str, &str)]) -> Run {
    let run = args.iter().fold(run, |run, arg| run.arg(*arg));
    env.iter()
        .fold(run, |run, (key, value)| run.env(key, *value))
}

/// One request may take 1 s before it counts as unanswered.
const SHORT_REQUESTS: (&str, &str) = ("KEEPER_ROTATOR_REQUEST_TIMEOUT", "1");
