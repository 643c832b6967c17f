//! A test's world, built in one expression: the fake vault, one service's
//! fake, the Gateway's input, and runs of the real binary against them, every
//! output scanned for every secret of the world.
//!
//! ```ignore
//! let w = TestWorld::new(harness::binary!("rotate-aws-access-key"))
//!     .vault(FakeVault::from_fixture("vault/aws/records.json"))
//!     .service(FakeAws::start().with_admin(ADMIN_ID, ADMIN_SECRET))
//!     .records(Scenario::load("scenarios/aws-access-key/admin-record.json"));
//! w.run().assert_exit(0);
//! ```
//!
//! Why one builder: before it, each test file that drove a binary against the
//! fakes wrote the same preamble by hand (start the fakes, point the binary
//! at them with their environment, feed the scenario's line, list the secrets
//! to scan for, and scan again after the run for the ones the run created),
//! and each copy scanned for a different subset. Here the line comes from the
//! harness's one encoder ([`Scenario::encode`], through [`Run::scenario`]),
//! and the leak scan is not optional: [`TestWorld::run`] and
//! [`TestWorld::kill_when`] fail the test when any output holds any secret of
//! the world, taken both before the run (what the input, the records and the
//! fakes held) and after it (what the run made: a new key the fake issued, a
//! new value the vault now holds in a field named as a secret's). A leak's
//! text is never printed: the failure names which secret, by position, and
//! withholds the outputs, as [`Run::run`] does.
//!
//! What a world is judged by (which keys a fake holds, what a record says)
//! stays in the test: [`TestWorld::fake`] and [`TestWorld::fake_vault`] hand
//! out the fakes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::binary::Binary;
use crate::fakes::aws::FakeAws;
use crate::fakes::azure::FakeAzure;
use crate::fakes::okta::FakeOkta;
use crate::fakes::rest::FakeRest;
use crate::fakes::snowflake::FakeSnowflake;
use crate::fakes::ssh::FakeSsh;
use crate::fakes::vault::FakeVault;
use crate::inputs::scenario::Scenario;
use crate::runner::{Outcome, Run};

/// Values shorter than this are not scanned for: they would match by chance
/// (as in [`crate::inputs::scenario`]).
const MIN_SCANNED_LEN: usize = 6;

/// What a world needs from a service's fake: the environment that points the
/// binary at it, and every secret it knows now.
pub trait Fake {
    /// The environment that points the binary at the fake (none for a fake
    /// whose address is in the records).
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Every secret the fake knows now: those it was seeded with and those a
    /// run made it issue.
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
}

/// No service: a world of the vault and the input only.
impl Fake for () {}

impl Fake for FakeAws {
    fn env(&self) -> Vec<(String, String)> {
        FakeAws::env(self)
    }
    fn secrets(&self) -> Vec<String> {
        FakeAws::secrets(self)
    }
}

impl Fake for FakeAzure {
    fn env(&self) -> Vec<(String, String)> {
        FakeAzure::env(self)
    }
    fn secrets(&self) -> Vec<String> {
        self.issued()
    }
}

/// Addressed through the records (host, port, host key); its passwords and
/// keys are the records'.
impl Fake for FakeSsh {}

/// Addressed through the records (the Okta URL).
impl Fake for FakeOkta {}

/// Addressed through the records (the API URL).
impl Fake for FakeRest {}

/// Addressed through the records (`snowflake_url`); its keys are public
/// keys, and the private ones are the records'.
impl Fake for FakeSnowflake {}

/// What a world runs.
#[derive(Debug)]
enum Program {
    /// A rotator, cargo's build or the one in `KEEPER_ROTATORS_BIN_DIR`.
    Binary(Binary),
    /// A program at a fixed path (the harness's own CLI).
    Path(PathBuf),
}

/// The fakes, the input and the secrets of one test; see the module
/// documentation.
#[derive(Debug)]
pub struct TestWorld<S = ()> {
    program: Program,
    kill_after: Option<Duration>,
    vault: Option<FakeVault>,
    service: S,
    scenario: Option<Scenario>,
    secrets: Vec<String>,
    envs: Vec<(String, String)>,
}

impl TestWorld<()> {
    /// A world that runs `binary` (see [`binary!`](crate::binary!)), with no
    /// fakes and no input yet.
    pub fn new(binary: Binary) -> Self {
        Self::of(Program::Binary(binary))
    }

    /// A world that runs the program at `path` as it is, never one from
    /// `KEEPER_ROTATORS_BIN_DIR`: the harness's own CLI
    /// (`env!("CARGO_BIN_EXE_harness")`), run on an export (see
    /// [`TestWorld::export`]).
    pub fn program(path: impl Into<PathBuf>) -> Self {
        Self::of(Program::Path(path.into()))
    }

    fn of(program: Program) -> Self {
        Self {
            program,
            kill_after: None,
            vault: None,
            service: (),
            scenario: None,
            secrets: Vec::new(),
            envs: Vec::new(),
        }
    }
}

impl<S: Fake> TestWorld<S> {
    /// The fake vault the binary reads and writes its records in.
    pub fn vault(mut self, vault: FakeVault) -> Self {
        self.vault = Some(vault);
        self
    }

    /// The service's fake (IAM, Entra, Okta, a REST API, an SSH machine).
    pub fn service<T: Fake>(self, service: T) -> TestWorld<T> {
        self.map_service(|_| service)
    }

    /// The same world with its service's fake changed by `change` (a key
    /// added, a delay set) after the world was built.
    pub fn map_service<T: Fake>(self, change: impl FnOnce(S) -> T) -> TestWorld<T> {
        TestWorld {
            program: self.program,
            kill_after: self.kill_after,
            vault: self.vault,
            service: change(self.service),
            scenario: self.scenario,
            secrets: self.secrets,
            envs: self.envs,
        }
    }

    /// The Gateway's input: the records and parameters of `scenario`.
    pub fn records(mut self, scenario: Scenario) -> Self {
        self.scenario = Some(scenario);
        self
    }

    /// The same world with its input changed by `change` (a field set, a
    /// record added). Panics when the world has no input.
    pub fn map_records(mut self, change: impl FnOnce(Scenario) -> Scenario) -> Self {
        let scenario = self
            .scenario
            .take()
            .expect("this world has no input: add one with TestWorld::records");
        self.scenario = Some(change(scenario));
        self
    }

    /// More values no output may hold, beyond those the world finds itself.
    pub fn secrets<T: Into<String>>(mut self, secrets: impl IntoIterator<Item = T>) -> Self {
        self.secrets.extend(secrets.into_iter().map(Into::into));
        self
    }

    /// Every value of a field named as a secret's in the Commander export
    /// `file` (and in the scenario it may hold), a private key's lines too:
    /// what a rehearsal of it must never print.
    pub fn export(mut self, file: &Path) -> Self {
        self.secrets.extend(export_secrets(file));
        self
    }

    /// How long a run may take before it is killed (the runner's default
    /// otherwise; a rehearsal of a whole failure matrix takes longer).
    pub fn kill_after(mut self, limit: Duration) -> Self {
        self.kill_after = Some(limit);
        self
    }

    /// An environment variable for every run, after the fakes' own.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.envs.push((key.to_owned(), value.into()));
        self
    }

    /// The service's fake.
    pub fn fake(&self) -> &S {
        &self.service
    }

    /// The fake vault. Panics when the world has none.
    pub fn fake_vault(&self) -> &FakeVault {
        self.vault
            .as_ref()
            .expect("this world has no fake vault: add one with TestWorld::vault")
    }

    /// Whether the world has a fake vault.
    pub fn has_vault(&self) -> bool {
        self.vault.is_some()
    }

    /// The Gateway's input. Panics when the world has none.
    pub fn scenario(&self) -> &Scenario {
        self.scenario
            .as_ref()
            .expect("this world has no input: add one with TestWorld::records")
    }

    /// Every value no output may hold now: those given, the input's (see
    /// [`Scenario::secrets`]), the fake's, and every value of a field named
    /// as a secret's in the input's records as the vault holds them now.
    pub fn all_secrets(&self) -> Vec<String> {
        self.secrets_with(self.scenario.as_ref())
    }

    /// [`TestWorld::all_secrets`] with `scenario` as the input.
    fn secrets_with(&self, scenario: Option<&Scenario>) -> Vec<String> {
        let mut found = self.secrets.clone();
        if let Some(scenario) = scenario {
            found.extend(scenario.secrets());
        }
        found.extend(self.service.secrets());
        if let (Some(vault), Some(scenario)) = (&self.vault, scenario) {
            let records: Vec<Value> = scenario
                .records()
                .iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str))
                .filter_map(|uid| vault.record(uid))
                .collect();
            vault_secrets(&records, &mut found);
        }
        found.retain(|s| s.chars().count() >= MIN_SCANNED_LEN);
        found.sort();
        found.dedup();
        found
    }

    /// The run as the Gateway makes it: the input's line on stdin, the
    /// environment pointing at the fakes, and the world's secrets as they
    /// are now to scan for. Prefer [`TestWorld::run`], which also scans for
    /// what the run made.
    pub fn runner(&self) -> Run {
        self.runner_with(self.scenario.as_ref(), &[])
    }

    fn runner_with(&self, scenario: Option<&Scenario>, without: &[&str]) -> Run {
        let mut run = match &self.program {
            Program::Binary(binary) => Run::new(binary),
            Program::Path(path) => Run::new(path),
        };
        if let Some(limit) = self.kill_after {
            run = run.kill_after(limit);
        }
        if let Some(scenario) = scenario {
            run = run.scenario(scenario);
        }
        let vault_env = self.vault.as_ref().map(FakeVault::env).unwrap_or_default();
        for (key, value) in vault_env
            .into_iter()
            .chain(self.service.env())
            .filter(|(key, _)| !without.contains(&key.as_str()))
            .chain(self.envs.iter().cloned())
        {
            run = run.env(&key, value);
        }
        for secret in self.secrets_with(scenario) {
            run = run.secret(secret);
        }
        run
    }

    /// Runs `run` (from [`TestWorld::runner`] or [`TestWorld::runner_for`],
    /// with arguments or variables added) and scans it as
    /// [`TestWorld::run`] does, for the secrets of `scenario` as the input.
    pub fn finish(&self, run: Run, scenario: Option<&Scenario>) -> Outcome {
        let out = run.run();
        self.scan_with(&out, scenario.or(self.scenario.as_ref()));
        out
    }

    /// The run of another input than the world's own (a world whose
    /// records serve several inputs); see [`TestWorld::runner`].
    pub fn runner_for(&self, scenario: &Scenario) -> Run {
        self.runner_with(Some(scenario), &[])
    }

    /// [`TestWorld::runner_for`] without the fakes' variables named in
    /// `without` (to see what the binary does when one is missing).
    pub fn runner_without(&self, scenario: &Scenario, without: &[&str]) -> Run {
        self.runner_with(Some(scenario), without)
    }

    /// Runs the binary once. Fails the test when any output holds any secret
    /// of the world, before the run or after it.
    pub fn run(&self) -> Outcome {
        let out = self.runner().run();
        self.scan(&out);
        out
    }

    /// [`TestWorld::run`] with `args` on the command line (`--dry-run`).
    pub fn run_with_args(&self, args: &[&str]) -> Outcome {
        let run = args.iter().fold(self.runner(), |run, arg| run.arg(*arg));
        self.finish(run, None)
    }

    /// Starts the binary, waits until `reached` returns, then kills it with
    /// SIGKILL (see [`Run::kill_when`]); scanned as [`TestWorld::run`] is.
    pub fn kill_when(&self, reached: impl FnOnce()) -> Outcome {
        let out = self.runner().kill_when(reached);
        self.scan(&out);
        out
    }

    /// Fails the test when `out` holds a secret the world holds now.
    pub fn scan(&self, out: &Outcome) {
        self.scan_with(out, self.scenario.as_ref());
    }

    fn scan_with(&self, out: &Outcome, scenario: Option<&Scenario>) {
        if let Some(leak) = out.find_leak(&self.secrets_with(scenario)) {
            panic!("LEAK: {leak}\n--- stdout\n(withheld)\n--- stderr\n(withheld)");
        }
    }

    /// A run killed mid-rotation, then a fresh one: the binary is started
    /// and killed (SIGKILL) once `reached` returns (the caller has armed the
    /// call it is to die in, e.g. a gate holding its answer); `release`
    /// then lets the fakes answer again (dropping the gate), the killed
    /// run's lease in record `uid` is expired, and the binary runs again.
    /// Fails the test unless the first run was killed and the second ended
    /// 0, 3 or 4 (a finished rotation, or one that names what is left);
    /// returns the second run's outcome for the test's verdict.
    pub fn killed_then_run_again(
        &self,
        uid: &str,
        reached: impl FnOnce(),
        release: impl FnOnce(),
    ) -> Outcome {
        let killed = self.kill_when(reached);
        assert_eq!(killed.code, None, "not killed: {}", killed.output());
        release();
        self.expire_lease(uid);
        let again = self.run();
        let code = again.code.expect("the second run exits");
        assert!(
            [0, 3, 4].contains(&code),
            "exit {code} after a run killed mid-rotation\n{}",
            again.output()
        );
        again
    }

    /// Moves the lease a killed run left in record `uid` into the past, as if
    /// its expiry had come; everything after its time is kept as it was.
    pub fn expire_lease(&self, uid: &str) {
        let vault = self.fake_vault();
        let lease = vault.field(uid, "rotation_lease").unwrap_or_default();
        let Some((run_id, rest)) = lease.split_once(" until ") else {
            return;
        };
        let after = rest.split_once(' ').map_or("", |(_, after)| after);
        vault.set_custom_field(
            uid,
            "rotation_lease",
            &format!("{run_id} until 2020-01-01T00:00:00Z {after}"),
        );
    }
}

/// The values of the fields of vault records whose name (label, else type)
/// says secret ([`common::records::names_a_secret`]: `password`,
/// `client_secret`, `privatePEMKey`), the rule the input's records are
/// scanned by ([`Scenario::secrets`]), and of the fields whose type is
/// `password` or `secret` whatever their label (`Admin PW`), but for a
/// label that names an id (a PAM configuration's `clientId`): the binaries
/// name those ids. A private key is scanned for line
/// by line too: a command or message may carry one line of it.
fn vault_secrets(records: &[Value], found: &mut Vec<String>) {
    for field in records
        .iter()
        .flat_map(crate::rehearsal::world::vault_fields)
        .filter(|f| {
            let names_an_id = common::records::words(f.key())
                .last()
                .is_some_and(|w| w == "id");
            common::records::names_a_secret(f.key())
                || (matches!(f.kind.as_str(), "password" | "secret") && !names_an_id)
        })
    {
        let mut values = Vec::new();
        field.value.iter().for_each(|v| strings(v, &mut values));
        for value in values {
            if value.contains("-----BEGIN") {
                found.extend(private_key_lines(&value));
            } else {
                found.push(value);
            }
        }
    }
}

/// The directory of the rotator `rotator` for a rehearsal's `--bin-dir`:
/// where `KEEPER_ROTATORS_BIN_DIR` says, else next to `harness_exe` (cargo
/// builds the rotators and the harness into one directory).
pub fn rotators_dir(rotator: &'static str, harness_exe: &str) -> PathBuf {
    let built = Path::new(harness_exe)
        .with_file_name(rotator)
        .display()
        .to_string();
    let path = Binary::new(rotator, Box::leak(built.into_boxed_str())).path();
    path.parent().expect("a directory").to_owned()
}

/// Every value under a secret-named field in the export `file` (as the
/// Gateway would send it, and as the binaries redact it), each line of a
/// private key, and the secret-named parameters and fields of a scenario
/// the file holds. Panics when the file cannot be read as an export.
fn export_secrets(file: &Path) -> Vec<String> {
    let loaded = crate::inputs::commander::load(&[file.to_owned()])
        .unwrap_or_else(|e| panic!("{} is not an export: {e}", file.display()));
    let mut secrets: Vec<String> = loaded
        .records
        .iter()
        .flat_map(|r| r.all_fields().cloned().collect::<Vec<_>>())
        .filter(|f| {
            common::records::names_a_secret(f.key())
                || f.key().eq_ignore_ascii_case("privatePEMKey")
        })
        .filter_map(|f| f.text())
        .collect();
    // A private key's lines leak as surely as the whole key.
    let lines: Vec<String> = secrets
        .iter()
        .filter(|s| s.contains("-----BEGIN"))
        .flat_map(|s| private_key_lines(s))
        .collect();
    secrets.extend(lines);
    if let Some(scenario) = &loaded.scenario {
        for (key, value) in scenario
            .params
            .iter()
            .chain(scenario.dicts.iter().flat_map(|d| d.iter()))
        {
            if key.ends_with("Password") || common::records::names_a_secret(key) {
                secrets.extend(value.as_str().map(str::to_owned));
            }
        }
    }
    secrets
}

/// The lines of a PEM or OpenSSH private key long enough to be looked for
/// (16 characters or more, not the armour), and the whole key: a key's
/// lines leak as surely as the whole key.
pub fn private_key_lines(private: &str) -> Vec<String> {
    let mut lines: Vec<String> = private
        .lines()
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    lines.push(private.to_owned());
    lines
}

/// Every string in a JSON value (a key pair's halves, a list's items).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UID: &str = "WorldUserRecordUid0001";
    const HELD: &str = "held-in-the-vault-only-0001";

    /// A world whose binary is a shell script printing `printed`, with one
    /// vault record that holds `HELD` in a field named `client_secret`.
    fn world_printing(dir: &std::path::Path, printed: &str) -> TestWorld {
        let script = dir.join("rotate-printer");
        std::fs::write(&script, format!("#!/bin/sh\necho '{printed}'\n")).expect("write");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let path: &'static str = Box::leak(script.display().to_string().into_boxed_str());
        let vault = FakeVault::start(&[json!({
            "uid": UID,
            "type": "login",
            "title": "a record",
            "fields": [{"type": "login", "value": ["alice"]}],
            "custom": [{"type": "secret", "label": "client_secret", "value": [HELD]}],
        })]);
        let input = Scenario::from_json(
            &json!({"params": {"userRecordUid": UID, "user": "alice"},
                    "records": [{"uid": UID, "login": "alice"}]})
            .to_string(),
        )
        .expect("a scenario");
        TestWorld::new(Binary::new("rotate-printer", path))
            .vault(vault)
            .records(input)
    }

    fn leak_message(run: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let panic = std::panic::catch_unwind(run).expect_err("the leak must fail the test");
        panic.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn a_run_printing_nothing_secret_passes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = world_printing(dir.path(), "rotated").run();
        assert_eq!(out.code, Some(0));
    }

    #[test]
    fn a_run_printing_a_value_the_vault_holds_in_a_secret_field_fails_without_showing_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let w = world_printing(dir.path(), HELD);
        let message = leak_message(std::panic::AssertUnwindSafe(|| {
            w.run();
        }));
        assert!(message.starts_with("LEAK: "), "{message}");
        assert!(!message.contains(HELD), "{message}");
    }

    #[test]
    fn a_value_the_vault_holds_only_after_the_run_is_scanned_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let w = world_printing(dir.path(), "made-by-the-run-0000002");
        let out = w.run();
        // The run stored what it printed: the world now knows it as a secret.
        w.fake_vault()
            .set_custom_field(UID, "client_secret", "made-by-the-run-0000002");
        let message = leak_message(std::panic::AssertUnwindSafe(|| w.scan(&out)));
        assert!(message.starts_with("LEAK: "), "{message}");
    }

    #[test]
    fn a_secret_given_to_the_world_is_scanned_for() {
        let dir = tempfile::tempdir().expect("temp dir");
        let w = world_printing(dir.path(), "given-to-the-world-0003")
            .secrets(["given-to-the-world-0003"]);
        let message = leak_message(std::panic::AssertUnwindSafe(|| {
            w.run();
        }));
        assert!(message.starts_with("LEAK: "), "{message}");
    }

    #[test]
    fn a_run_on_an_export_printing_one_of_its_passwords_fails() {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("harness-printer");
        std::fs::write(&script, "#!/bin/sh\necho 'token api-token-0001-x7'\n").expect("write");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let export = crate::inputs::scenario::fixtures_dir().join("records/rest-api.json");
        let w = TestWorld::program(&script).export(&export);
        let message = leak_message(std::panic::AssertUnwindSafe(|| {
            w.run();
        }));
        assert!(message.starts_with("LEAK: "), "{message}");
    }
}
