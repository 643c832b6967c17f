//! `harness bench <use-case>`: the figures the README keeps. Start-up time,
//! end-to-end time of a full rotation against the fakes, peak memory and
//! binary size. A benchmark, not a test: it reports, it does not judge.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::rehearsal::World;
use crate::rehearsal::world::RunOptions;

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

/// Rotates `use_case`'s fixture (`fixtures/records/<name>.json`, as
/// `harness demo` does) `runs` times, each on fresh fakes (starting them is
/// not timed), and runs `--version` as often. Binaries that check a new
/// credential do it once (`verify_successes` = 1): the figure is the work of
/// the binary, not the propagation wait it would do against a real cloud.
pub fn use_case(use_case: &str, bin: &Path, runs: usize) -> Result<Figures, String> {
    let use_case = crate::rehearsal::use_case(use_case)?;
    let rehearsal = crate::rehearsal::Rehearsal::fixture(use_case)?;
    measure(bin, runs, || {
        let world = World::start(&rehearsal)?;
        world
            .vault
            .set_custom_field(world.user_uid(), "verify_successes", "1");
        Ok(world.run(bin, &RunOptions::default()))
    })
}

/// The figures `harness bench <use-case>` prints: one set per scenario the
/// use case measures, each named (`""` for a use case's only one).
/// `ssh-user` measures two (see [`crate::bench_ssh`]).
pub fn scenarios(name: &str, bin: &Path, runs: usize) -> Result<Vec<(String, Figures)>, String> {
    if name == "ssh-user" {
        return crate::bench_ssh::figures(bin, runs);
    }
    Ok(vec![(String::new(), use_case(name, bin, runs)?)])
}

/// Times `rotate` `runs` times, then `bin --version` as often.
pub(crate) fn measure(
    bin: &Path,
    runs: usize,
    rotate: impl Fn() -> Result<crate::runner::Outcome, String>,
) -> Result<Figures, String> {
    let runs = runs.max(1);
    let size_bytes = std::fs::metadata(bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    let mut rotations = Vec::with_capacity(runs);
    for _ in 0..runs {
        let outcome = rotate()?;
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
