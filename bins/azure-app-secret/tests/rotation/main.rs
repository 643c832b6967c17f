//! rotate-azure-app-secret end to end: the real binary against the token +
//! Graph fake and the fake Keeper vault. Every run is scanned for every
//! secret and token the fakes issued, the new secret included.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::faults::{Armable, FaultKind};
use harness::runner::overlap;
use harness::{AzureFault, FakeAzure, FakeVault, Fault, Outcome, Run, Scenario, TestWorld};

mod attack;
mod credentials_and_settings;
mod every_holder;
mod failures;
mod hostile_services;

const BIN: harness::Binary = harness::binary!("rotate-azure-app-secret");
const TENANT: &str = "72f988bf-0000-4000-8000-000000000001";
const ADMIN_APP: &str = "11111111-0000-4000-8000-00000000a001";
const ADMIN_OBJ: &str = "aaaaaaaa-0000-4000-8000-00000000a001";
const ADMIN_SECRET: &str = "admin~app~secret~value~0000000000000001";
const TARGET_APP: &str = "22222222-0000-4000-8000-00000000b001";
const TARGET_OBJ: &str = "bbbbbbbb-0000-4000-8000-00000000b001";
const USER_UID: &str = "AzureUserUid0000000001";

/// The fakes and the records every test starts from; each test names the
/// input (a scenario file) it runs.
struct World(TestWorld<FakeAzure>);

fn world() -> World {
    world_with(|azure| azure)
}

/// The admin app (may manage all apps) and the target app with two old
/// secrets, one from 2025 and one from 2026.
fn world_with(tweak: impl FnOnce(FakeAzure) -> FakeAzure) -> World {
    let azure = FakeAzure::start(TENANT)
        .with_app(ADMIN_OBJ, ADMIN_APP, "keeper-admin", true)
        .with_secret(
            ADMIN_APP,
            "admin-key-1",
            ADMIN_SECRET,
            "2026-06-01T00:00:00Z",
        )
        .with_app(TARGET_OBJ, TARGET_APP, "payroll-api", false)
        .with_secret(
            TARGET_APP,
            "old-key-2025",
            "target~old~secret~2025~0000000000000001",
            "2025-01-01T00:00:00Z",
        )
        .with_secret(
            TARGET_APP,
            "old-key-2026",
            "target~old~secret~2026~0000000000000002",
            "2026-01-01T00:00:00Z",
        );
    World::of(tweak(azure))
}

impl World {
    /// The world of `azure` and the fixture vault.
    fn of(azure: FakeAzure) -> Self {
        Self(
            TestWorld::new(BIN)
                .vault(FakeVault::from_fixture("vault/azure/records.json"))
                .service(azure),
        )
    }

    /// The same world with another fake vault.
    fn with_vault(self, vault: FakeVault) -> Self {
        Self(self.0.vault(vault))
    }

    fn azure(&self) -> &FakeAzure {
        self.0.fake()
    }

    fn vault(&self) -> &FakeVault {
        self.0.fake_vault()
    }

    /// Runs the scenario file `scenario`; every output is scanned for the
    /// world's secrets, before and after the run.
    fn run(&self, scenario: &str, args: &[&str]) -> Outcome {
        let scenario = Scenario::load(&format!("scenarios/azure-app-secret/{scenario}"));
        self.0
            .finish(self.runner_for(&scenario, args), Some(&scenario))
    }

    /// The run, not yet started.
    fn runner(&self, scenario: &str, args: &[&str]) -> Run {
        let scenario = Scenario::load(&format!("scenarios/azure-app-secret/{scenario}"));
        self.runner_for(&scenario, args)
    }

    fn runner_for(&self, scenario: &Scenario, args: &[&str]) -> Run {
        args.iter()
            .fold(self.0.runner_for(scenario), |run, arg| run.arg(*arg))
    }

    fn key_ids(&self, app: &str) -> Vec<String> {
        self.azure()
            .secrets(app)
            .into_iter()
            .map(|s| s.key_id)
            .collect()
    }

    /// The vault holds the text of the secret Graph made under the stored keyId.
    fn assert_vault_holds_a_live_secret(&self, uid: &str, app: &str) -> String {
        let key_id = self.vault().field(uid, "client_secret_id").unwrap();
        let secret = self
            .azure()
            .secrets(app)
            .into_iter()
            .find(|s| s.key_id == key_id)
            .unwrap();
        assert_eq!(
            self.vault().field(uid, "client_secret").as_deref(),
            Some(secret.text.as_str())
        );
        key_id
    }
}
