//! The conformance suite: the same failure matrix over every binary.
//!
//! For each binary, a clean run records the calls it makes to each service
//! (the cloud's API and the vault). Then, for every fault kind and every call
//! of that sequence, a fresh set of fakes is started, that one call fails in
//! that one way, and the binary runs once. The verdict is taken from the
//! fakes' real end state, never from what the binary says about itself:
//!
//! - the credential the vault holds works (for the password binaries: the
//!   account's password is the one the Gateway will store, which is
//!   `newPassword` on exit 0 and the old one otherwise, except after an
//!   exit 4, which may leave either);
//! - no credential is live that the vault does not hold and the output does
//!   not name;
//! - the exit code matches the state: 0 rotated and nothing old left, 1 and
//!   2 nothing changed at all, 3 the new credential stored and working;
//! - nothing secret is printed (the runner scans every output).
//!
//! All failing cells of a (binary, fault kind) pair are reported together.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "a test fails loudly, and prints the matrix it ran"
)]

use std::path::PathBuf;
use std::time::Duration;

use harness::faults::{Armable, FaultKind};
use harness::{Binary, FakeAws, FakeAzure, FakeOkta, FakeRest, FakeVault, Outcome, Run, Scenario};

/// A request counts as unanswered after this long.
const REQUEST_TIMEOUT: &str = "2";
/// How long `timeout-after-apply` and `late-save` hold a request: longer
/// than the request timeout, short enough for the suite.
const HOLD: Duration = Duration::from_secs(4);

/// A rotator of this workspace, from `KEEPER_ROTATORS_BIN_DIR` or the
/// target directory the harness was built into (the whole workspace is built
/// by `cargo nextest run --workspace`).
fn binary(name: &'static str) -> PathBuf {
    let harness = PathBuf::from(env!("CARGO_BIN_EXE_harness"));
    let built = harness.with_file_name(name).display().to_string();
    Binary::new(name, Box::leak(built.into_boxed_str()))
        .path()
        .to_owned()
}

/// One binary and its fakes.
trait Subject: Sized {
    const BINARY: &'static str;
    fn start() -> Self;
    /// The run, with the fakes' environment.
    fn runner(&self) -> Run;
    /// The services, by name, whose calls the matrix fails.
    fn services(&self) -> Vec<(&'static str, &dyn Armable)>;
    /// Checks the end state against the outcome.
    fn verdict(&self, out: &Outcome) -> Result<(), String>;
    /// Secrets issued during the run, scanned for after it.
    fn issued(&self) -> Vec<String> {
        Vec::new()
    }
}

fn common_env(run: Run) -> Run {
    run.env("KEEPER_ROTATOR_REQUEST_TIMEOUT", REQUEST_TIMEOUT)
        .kill_after(Duration::from_secs(170))
}

fn named(out: &Outcome, id: &str) -> bool {
    out.stderr.contains(id) || out.stdout.contains(id)
}

// --- AWS ---------------------------------------------------------------------

const AWS_USER_UID: &str = "PamUserUid000000000001";
const AWS_ADMIN_ID: &str = "AKIAADMINKEY00000001";
const AWS_ADMIN_SECRET: &str = "admin-secret-access-key-000000000000001";
const AWS_STORED_ID: &str = "AKIAEXISTING00000001";
const AWS_STORED_SECRET: &str = "existing-secret-access-key-0000000001";

struct Aws {
    aws: FakeAws,
    vault: FakeVault,
}

impl Subject for Aws {
    const BINARY: &'static str = "rotate-aws-access-key";

    fn start() -> Self {
        let aws = FakeAws::start()
            .with_admin(AWS_ADMIN_ID, AWS_ADMIN_SECRET)
            .with_user("alice")
            .with_key(
                "alice",
                AWS_STORED_ID,
                AWS_STORED_SECRET,
                true,
                Some("2026-11-01T00:00:00Z"),
            );
        Self {
            aws,
            vault: FakeVault::from_fixture("vault/aws/records.json"),
        }
    }

    fn runner(&self) -> Run {
        let scenario = Scenario::load("scenarios/aws-access-key/admin-record.json");
        let mut run = common_env(Run::new(binary(Self::BINARY)).scenario(&scenario));
        for (key, value) in self.vault.env().into_iter().chain(self.aws.env()) {
            run = run.env(&key, value);
        }
        run.secret(AWS_ADMIN_SECRET).secret(AWS_STORED_SECRET)
    }

    fn services(&self) -> Vec<(&'static str, &dyn Armable)> {
        vec![("aws", &self.aws), ("vault", &self.vault)]
    }

    fn issued(&self) -> Vec<String> {
        self.aws.secrets()
    }

    fn verdict(&self, out: &Outcome) -> Result<(), String> {
        let live = self.aws.keys("alice");
        let stored_id = self
            .vault
            .field(AWS_USER_UID, "aws_access_key_id")
            .unwrap_or_default();
        let stored_secret = self
            .vault
            .field(AWS_USER_UID, "aws_secret_access_key")
            .unwrap_or_default();
        let works = live
            .iter()
            .any(|k| k.id == stored_id && k.secret == stored_secret && k.active);
        if !works {
            return Err(format!(
                "the vault holds {stored_id}, which is not a live key with that secret (live: {})",
                ids(live.iter().map(|k| k.id.as_str()))
            ));
        }
        for key in &live {
            if key.id != stored_id && !named(out, &key.id) {
                return Err(format!(
                    "key {} is live, not in the vault, and not named in the output",
                    key.id
                ));
            }
        }
        match out.code {
            Some(0) if live.len() != 1 || stored_id == AWS_STORED_ID => Err(format!(
                "exit 0 but the keys are {} and the vault holds {stored_id}",
                ids(live.iter().map(|k| k.id.as_str()))
            )),
            Some(1 | 2) if stored_id != AWS_STORED_ID || live.len() != 1 => Err(format!(
                "exit 1/2 (nothing changed) but the keys are {} and the vault holds {stored_id}",
                ids(live.iter().map(|k| k.id.as_str()))
            )),
            Some(3) if stored_id == AWS_STORED_ID => {
                Err("exit 3 but the vault still holds the old key".into())
            }
            Some(0..=4) => Ok(()),
            other => Err(format!("exit {other:?}")),
        }
    }
}

// --- Azure -------------------------------------------------------------------

const AZ_TENANT: &str = "72f988bf-0000-4000-8000-000000000001";
const AZ_ADMIN_APP: &str = "11111111-0000-4000-8000-00000000a001";
const AZ_ADMIN_OBJ: &str = "aaaaaaaa-0000-4000-8000-00000000a001";
const AZ_ADMIN_SECRET: &str = "admin~app~secret~value~0000000000000001";
const AZ_TARGET_APP: &str = "22222222-0000-4000-8000-00000000b001";
const AZ_TARGET_OBJ: &str = "bbbbbbbb-0000-4000-8000-00000000b001";
const AZ_USER_UID: &str = "AzureUserUid0000000001";
const AZ_OLD: [&str; 2] = ["old-key-2025", "old-key-2026"];

struct Azure {
    azure: FakeAzure,
    vault: FakeVault,
}

impl Subject for Azure {
    const BINARY: &'static str = "rotate-azure-app-secret";

    fn start() -> Self {
        let azure = FakeAzure::start(AZ_TENANT)
            .with_app(AZ_ADMIN_OBJ, AZ_ADMIN_APP, "keeper-admin", true)
            .with_secret(
                AZ_ADMIN_APP,
                "admin-key-1",
                AZ_ADMIN_SECRET,
                "2026-06-01T00:00:00Z",
            )
            .with_app(AZ_TARGET_OBJ, AZ_TARGET_APP, "payroll-api", false)
            .with_secret(
                AZ_TARGET_APP,
                AZ_OLD[0],
                "target~old~secret~2025~0000000000000001",
                "2025-01-01T00:00:00Z",
            )
            .with_secret(
                AZ_TARGET_APP,
                AZ_OLD[1],
                "target~old~secret~2026~0000000000000002",
                "2026-01-01T00:00:00Z",
            );
        Self {
            azure,
            vault: FakeVault::from_fixture("vault/azure/records.json"),
        }
    }

    fn runner(&self) -> Run {
        let scenario = Scenario::load("scenarios/azure-app-secret/admin-record.json");
        let mut run = common_env(Run::new(binary(Self::BINARY)).scenario(&scenario));
        for (key, value) in self.vault.env().into_iter().chain(self.azure.env()) {
            run = run.env(&key, value);
        }
        for secret in self.azure.issued() {
            run = run.secret(secret);
        }
        run
    }

    fn services(&self) -> Vec<(&'static str, &dyn Armable)> {
        vec![("azure", &self.azure), ("vault", &self.vault)]
    }

    fn issued(&self) -> Vec<String> {
        self.azure.issued()
    }

    fn verdict(&self, out: &Outcome) -> Result<(), String> {
        let live = self.azure.secrets(AZ_TARGET_APP);
        let stored_id = self
            .vault
            .field(AZ_USER_UID, "client_secret_id")
            .unwrap_or_default();
        let stored_text = self
            .vault
            .field(AZ_USER_UID, "client_secret")
            .unwrap_or_default();
        let live_ids = || ids(live.iter().map(|s| s.key_id.as_str()));
        if !live
            .iter()
            .any(|s| s.key_id == stored_id && s.text == stored_text)
        {
            return Err(format!(
                "the vault holds {stored_id}, which is not a live secret with that text (live: {})",
                live_ids()
            ));
        }
        for secret in &live {
            if secret.key_id != stored_id
                && !AZ_OLD.contains(&secret.key_id.as_str())
                && !named(out, &secret.key_id)
                && !named(out, &secret.display_name)
            {
                return Err(format!(
                    "secret {} is live, not in the vault, and not named in the output",
                    secret.key_id
                ));
            }
        }
        let unchanged = stored_id == AZ_OLD[1]
            && live.len() == 2
            && live.iter().all(|s| AZ_OLD.contains(&s.key_id.as_str()));
        match out.code {
            Some(0) if live.len() != 1 || AZ_OLD.contains(&stored_id.as_str()) => Err(format!(
                "exit 0 but the secrets are {} and the vault holds {stored_id}",
                live_ids()
            )),
            Some(1 | 2) if !unchanged => Err(format!(
                "exit 1/2 (nothing changed) but the secrets are {} and the vault holds {stored_id}",
                live_ids()
            )),
            Some(3) if AZ_OLD.contains(&stored_id.as_str()) => {
                Err("exit 3 but the vault still holds an old secret".into())
            }
            Some(0..=4) => Ok(()),
            other => Err(format!("exit {other:?}")),
        }
    }
}

// --- Okta and REST: the Gateway stores newPassword on exit 0 ---------------------

/// The account's password must be the one the Gateway keeps.
fn password_verdict(out: &Outcome, now: Option<&str>, old: &str, new: &str) -> Result<(), String> {
    let now = now.unwrap_or_default();
    let which = if now == old {
        "the old password"
    } else if now == new {
        "the new password"
    } else {
        "a password nobody has"
    };
    match out.code {
        Some(0) if now == new => Ok(()),
        Some(1 | 2) if now == old => Ok(()),
        Some(4) if now == old || now == new => Ok(()),
        other => Err(format!("exit {other:?} but the account has {which}")),
    }
}

const OKTA_TOKEN: &str = "00okta-api-token-value-0000000000000001";
const OKTA_LOGIN: &str = "alice@example.com";
const OKTA_OLD: &str = "Old-Okta-Passw0rd-1";
const OKTA_NEW: &str = "New-Okta-Passw0rd-2";

struct Okta {
    okta: FakeOkta,
}

impl Subject for Okta {
    const BINARY: &'static str = "rotate-okta-user";

    fn start() -> Self {
        Self {
            okta: FakeOkta::start(OKTA_TOKEN).with_user(OKTA_LOGIN, "ACTIVE", OKTA_OLD),
        }
    }

    fn runner(&self) -> Run {
        let scenario =
            Scenario::load("scenarios/okta-user/default.json").var("OKTA_URL", self.okta.url());
        common_env(Run::new(binary(Self::BINARY)).scenario(&scenario))
    }

    fn services(&self) -> Vec<(&'static str, &dyn Armable)> {
        vec![("okta", &self.okta)]
    }

    fn verdict(&self, out: &Outcome) -> Result<(), String> {
        password_verdict(
            out,
            self.okta.password_of(OKTA_LOGIN).as_deref(),
            OKTA_OLD,
            OKTA_NEW,
        )
    }
}

const REST_TOKEN: &str = "api-token-0001-x7";
const REST_ACCOUNT: &str = "alice@example.com";
const REST_OLD: &str = "Old-Passw0rd-4f1c";
const REST_NEW: &str = "New-Passw0rd-9d2e";

struct Rest {
    rest: FakeRest,
}

impl Subject for Rest {
    const BINARY: &'static str = "rotate-rest-api";

    fn start() -> Self {
        Self {
            rest: FakeRest::start(REST_TOKEN).with_account(REST_ACCOUNT, REST_OLD),
        }
    }

    fn runner(&self) -> Run {
        let scenario = Scenario::load("scenarios/rest-api/default.json")
            .var("API_URL", self.rest.url("/v1/password"));
        common_env(Run::new(binary(Self::BINARY)).scenario(&scenario))
    }

    fn services(&self) -> Vec<(&'static str, &dyn Armable)> {
        vec![("rest", &self.rest)]
    }

    fn verdict(&self, out: &Outcome) -> Result<(), String> {
        password_verdict(
            out,
            self.rest.password_of(REST_ACCOUNT).as_deref(),
            REST_OLD,
            REST_NEW,
        )
    }
}

// --- the matrix ------------------------------------------------------------------

fn ids<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = ids.collect();
    if all.is_empty() {
        "none".into()
    } else {
        all.join(", ")
    }
}

/// One cell's call: (service, call, nth).
type Cell = (String, String, usize);
/// A service's clean call sequence: (service, calls).
type Sequence = (String, Vec<String>);

/// The calls of a clean run, per service.
fn clean_calls<S: Subject>() -> (Vec<Cell>, Vec<Sequence>) {
    let world = S::start();
    let out = world.runner().run();
    assert_eq!(out.code, Some(0), "the clean run failed:\n{}", out.output());
    assert_eq!(out.find_leak(&world.issued()), None);
    world.verdict(&out).unwrap();
    let mut cells = Vec::new();
    let mut sequences = Vec::new();
    for (service, fake) in world.services() {
        let sequence = fake.call_sequence();
        let mut seen: Vec<&String> = Vec::new();
        for call in &sequence {
            seen.push(call);
            let nth = seen.iter().filter(|c| **c == call).count();
            cells.push((service.to_owned(), call.clone(), nth));
        }
        sequences.push((service.to_owned(), sequence));
    }
    (cells, sequences)
}

/// Runs every call of `S`'s clean run failing with `kind`; fails listing
/// every cell whose end state contradicts the outcome.
fn matrix<S: Subject>(kind: FaultKind) {
    let (cells, sequences) = clean_calls::<S>();
    let mut failures = Vec::new();
    for (service, call, nth) in &cells {
        let world = S::start();
        let clean = &sequences
            .iter()
            .find(|(s, _)| s == service)
            .unwrap_or_else(|| unreachable!())
            .1;
        let services = world.services();
        let fake = services
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, f)| *f)
            .unwrap_or_else(|| unreachable!());
        fake.set_hold(HOLD);
        if let Err(e) = fake.arm_in(clean, call, *nth, kind) {
            failures.push(format!("{service} {call}#{nth} {kind}: cannot arm: {e}"));
            continue;
        }
        let out = world.runner().run();
        let cell = format!("{service} {call}#{nth} {kind}");
        if let Some(leak) = out.find_leak(&world.issued()) {
            failures.push(format!("{cell}: LEAK {leak}"));
            continue;
        }
        if out.stdout.lines().count() != 1 {
            failures.push(format!("{cell}: stdout is not one line\n{}", out.output()));
            continue;
        }
        match world.verdict(&out) {
            Ok(()) => eprintln!("ok   {cell}: exit {:?}", out.code),
            Err(why) => failures.push(format!("{cell}: {why}\n{}", out.output())),
        }
    }
    eprintln!(
        "{}: {} cells of {kind}, {} failed",
        S::BINARY,
        cells.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n\n")
    );
}

macro_rules! conformance {
    ($($module:ident: $subject:ty;)*) => {$(
        mod $module {
            use super::*;

            #[test]
            fn status_500() { matrix::<$subject>(FaultKind::Status500) }
            #[test]
            fn status_429() { matrix::<$subject>(FaultKind::Status429) }
            #[test]
            fn refused() { matrix::<$subject>(FaultKind::Refused) }
            #[test]
            fn drop_before_apply() { matrix::<$subject>(FaultKind::DropBeforeApply) }
            #[test]
            fn timeout_after_apply() { matrix::<$subject>(FaultKind::TimeoutAfterApply) }
            #[test]
            fn drop_after_apply() { matrix::<$subject>(FaultKind::DropAfterApply) }
            #[test]
            fn truncated_2xx() { matrix::<$subject>(FaultKind::Truncated2xx) }
            #[test]
            fn late_save() { matrix::<$subject>(FaultKind::LateSave) }
            #[test]
            fn garbled_2xx() { matrix::<$subject>(FaultKind::Garbled2xx) }
        }
    )*};
}

conformance! {
    aws_access_key: Aws;
    azure_app_secret: Azure;
    okta_user: Okta;
    rest_api: Rest;
}
