//! `harness bench <use-case>`: the figures the README keeps. Start-up time,
//! end-to-end time of a full rotation against the fakes, peak memory and
//! binary size. A benchmark, not a test: it reports, it does not judge.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::fake_rest::FakeRest;
use crate::runner::Run;
use crate::scenario::Scenario;

/// The figures of one binary.
#[derive(Debug)]
pub struct Figures {
    pub runs: usize,
    pub size_bytes: u64,
    pub startup_median: Duration,
    pub rotation_median: Duration,
    pub rotation_min: Duration,
    pub rotation_max: Duration,
    pub peak_rss_kib: i64,
}

impl Figures {
    pub fn report(&self, bin: &Path) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "{}", bin.display());
        let _ = writeln!(
            text,
            "  binary size                       {:.2} MiB",
            self.size_bytes as f64 / 1024.0 / 1024.0
        );
        let _ = writeln!(
            text,
            "  start-up (--version), median      {:.1} ms  ({} runs)",
            ms(self.startup_median),
            self.runs
        );
        let _ = writeln!(
            text,
            "  rotation end to end, median       {:.1} ms  (min {:.1}, max {:.1}; {} runs)",
            ms(self.rotation_median),
            ms(self.rotation_min),
            ms(self.rotation_max),
            self.runs
        );
        let _ = writeln!(
            text,
            "  peak RSS of a rotation            {:.1} MiB",
            self.peak_rss_kib as f64 / 1024.0
        );
        text
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Runs the REST rotation `runs` times against the fake API, and
/// `--version` as often.
pub fn rest_api(bin: &Path, runs: usize) -> Result<Figures, String> {
    let fake = FakeRest::start("demo-api-token-7f3a9c").with_account("alice@example.com", "old");
    let scenario = Scenario::from_json(crate::demo::REST_API_SCENARIO)?
        .var("API_URL", fake.url("/v1/password"));
    measure(bin, runs, || Run::new(bin).scenario(&scenario).run())
}

/// Runs the AWS rotation `runs` times against the IAM + STS fake and the
/// fake vault (each run rotates the key the previous one stored). The new
/// key is checked once (`verify_successes` = 1): the figure is the work of
/// the binary, not the propagation wait it would do against real IAM.
pub fn aws_access_key(bin: &Path, runs: usize) -> Result<Figures, String> {
    let world = crate::demo::AwsWorld::start()?;
    world
        .vault
        .set_custom_field("PamUserUid000000000001", "verify_successes", "1");
    measure(bin, runs, || world.run(bin))
}

/// Runs the Okta rotation `runs` times against the Okta fake (the fake
/// takes any password change: the old password is reset before each run).
pub fn okta_user(bin: &Path, runs: usize) -> Result<Figures, String> {
    let (okta, scenario) = crate::demo::okta_world()?;
    let old = scenario.params()["oldPassword"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    measure(bin, runs, || {
        okta.reset_password("alice@example.com", &old);
        Run::new(bin).scenario(&scenario).run()
    })
}

/// Runs the Azure rotation `runs` times against the Entra ID fake and the
/// fake vault (each run rotates the secret the previous one stored), checking
/// the new secret once, as for AWS.
pub fn azure_app_secret(bin: &Path, runs: usize) -> Result<Figures, String> {
    let world = crate::demo::AzureWorld::start()?;
    world
        .vault
        .set_custom_field("AzureUserUid0000000001", "verify_successes", "1");
    measure(bin, runs, || world.run(bin))
}

/// Times `rotate` `runs` times, then `bin --version` as often.
fn measure(
    bin: &Path,
    runs: usize,
    rotate: impl Fn() -> crate::runner::Outcome,
) -> Result<Figures, String> {
    let runs = runs.max(1);
    let size_bytes = std::fs::metadata(bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    let mut rotations = Vec::with_capacity(runs);
    for _ in 0..runs {
        let outcome = rotate();
        if outcome.code != Some(0) {
            return Err(format!("a rotation failed:\n{}", outcome.output()));
        }
        rotations.push(outcome.elapsed);
    }
    // Read before the --version runs: ru_maxrss is the largest child so far.
    let peak_rss_kib = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|usage| usage.max_rss())
        .map_err(|e| format!("getrusage: {e}"))?;

    let mut startups = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let status = std::process::Command::new(bin)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        if !status.success() {
            return Err(format!("{} --version failed", bin.display()));
        }
        startups.push(started.elapsed());
    }

    let rotation_min = rotations.iter().min().copied().unwrap_or_default();
    let rotation_max = rotations.iter().max().copied().unwrap_or_default();
    Ok(Figures {
        runs,
        size_bytes,
        startup_median: median(startups),
        rotation_median: median(rotations),
        rotation_min,
        rotation_max,
        peak_rss_kib,
    })
}
