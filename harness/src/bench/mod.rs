//! `harness bench <use-case>`: the figures docs/development/performance.md keeps. Binary size,
//! start-up time, and for a full rotation against the fakes: wall time, CPU
//! time (user + system, the kernel's accounting of the child) and peak RSS,
//! each as min / median / max. A benchmark, not a test: it reports, it does
//! not judge.
//!
//! Each rotation runs under `harness __measure`, which starts the binary,
//! waits for it and writes what `getrusage(RUSAGE_CHILDREN)` says of that one
//! child: the figures are the binary's own, not the harness's or the fakes'
//! (which run in the harness process).

pub mod ssh;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::rehearsal::World;
use crate::rehearsal::world::RunOptions;

/// min / median / max of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        if n == 0 {
            return Self {
                min: 0.0,
                median: 0.0,
                max: 0.0,
            };
        }
        let median = if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2.0
        };
        Self {
            min: samples[0],
            median,
            max: samples[n - 1],
        }
    }

    fn json(self) -> Value {
        json!({"min": round(self.min), "median": round(self.median), "max": round(self.max)})
    }
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The figures of one binary.
#[derive(Debug)]
pub struct Figures {
    pub runs: usize,
    pub size_bytes: u64,
    /// `--version`, wall milliseconds.
    pub startup_ms: Spread,
    /// A rotation: wall milliseconds.
    pub wall_ms: Spread,
    /// A rotation: user + system CPU milliseconds.
    pub cpu_ms: Spread,
    /// A rotation: peak resident set, MiB.
    pub rss_mib: Spread,
}

impl Figures {
    pub fn report(&self, bin: &Path) -> String {
        let mut text = String::new();
        let line = |text: &mut String, what: &str, s: Spread, unit: &str| {
            let _ = writeln!(
                text,
                "  {what:<30} median {:>7.1} {unit}  (min {:.1}, max {:.1})",
                s.median, s.min, s.max
            );
        };
        let _ = writeln!(text, "{}  ({} runs)", bin.display(), self.runs);
        let _ = writeln!(
            text,
            "  {:<30} {:.2} MiB",
            "binary size",
            self.size_bytes as f64 / 1024.0 / 1024.0
        );
        line(
            &mut text,
            "start-up (--version), wall",
            self.startup_ms,
            "ms",
        );
        line(&mut text, "rotation, wall", self.wall_ms, "ms");
        line(&mut text, "rotation, CPU (user+sys)", self.cpu_ms, "ms");
        line(&mut text, "rotation, peak RSS", self.rss_mib, "MiB");
        text
    }

    pub fn json(&self, use_case: &str, bin: &Path) -> Value {
        json!({
            "use_case": use_case,
            "binary": bin.display().to_string(),
            "runs": self.runs,
            "size_bytes": self.size_bytes,
            "startup_ms": self.startup_ms.json(),
            "rotation_wall_ms": self.wall_ms.json(),
            "rotation_cpu_ms": self.cpu_ms.json(),
            "rotation_peak_rss_mib": self.rss_mib.json(),
        })
    }
}

/// What `harness __measure` writes of one child.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub wall: Duration,
    pub cpu: Duration,
    pub max_rss_kib: i64,
}

impl Usage {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_whitespace().map(str::parse::<i64>);
        let wall_us = parts.next()?.ok()?;
        let cpu_us = parts.next()?.ok()?;
        let max_rss_kib = parts.next()?.ok()?;
        Some(Self {
            wall: Duration::from_micros(u64::try_from(wall_us).ok()?),
            cpu: Duration::from_micros(u64::try_from(cpu_us).ok()?),
            max_rss_kib,
        })
    }
}

/// `harness __measure --usage FILE PROGRAM ARGS...`: runs PROGRAM with the
/// same stdin, stdout and stderr, writes `wall_us cpu_us max_rss_kib` of it to
/// FILE, and exits with its exit code.
pub fn measure_child(usage: &Path, program: &Path, args: &[String]) -> Result<i32, String> {
    let started = Instant::now();
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let wall = started.elapsed();
    let children = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map_err(|e| format!("getrusage: {e}"))?;
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() * 1_000_000 + t.tv_usec();
    let cpu_us = micros(children.user_time()) + micros(children.system_time());
    std::fs::write(
        usage,
        format!("{} {cpu_us} {}\n", wall.as_micros(), children.max_rss()),
    )
    .map_err(|e| format!("{}: {e}", usage.display()))?;
    Ok(status.code().unwrap_or(128))
}

/// The figures `harness bench <use-case>` prints: one set per scenario the
/// use case measures, each named (`""` for a use case's only one).
/// `ssh-user` measures two (see [`ssh`]).
pub fn scenarios(name: &str, bin: &Path, runs: usize) -> Result<Vec<(String, Figures)>, String> {
    if name == "ssh-user" {
        return ssh::figures(bin, runs);
    }
    Ok(vec![(String::new(), use_case(name, bin, runs)?)])
}

/// Rotates `use_case`'s fixture (`fixtures/records/<name>.json`, as
/// `harness demo` does) `runs` times, each on fresh fakes (starting them is
/// not timed), and runs `--version` as often. Binaries that check a new
/// credential do it once (`verify_successes` = 1): the figure is the work of
/// the binary, not the propagation wait it would do against a real cloud.
pub fn use_case(use_case: &str, bin: &Path, runs: usize) -> Result<Figures, String> {
    let use_case = crate::rehearsal::use_case(use_case)?;
    let rehearsal = crate::rehearsal::Rehearsal::fixture(use_case)?;
    measure(bin, runs, |options| {
        let world = World::start(&rehearsal)?;
        world
            .vault
            .set_custom_field(world.user_uid(), "verify_successes", "1");
        Ok(world.run(bin, options))
    })
}

/// Runs `rotate` `runs` times, each under the measuring wrapper (the
/// [`RunOptions`] it is given carry it), then `bin --version` as often.
pub(crate) fn measure(
    bin: &Path,
    runs: usize,
    rotate: impl Fn(&RunOptions) -> Result<crate::runner::Outcome, String>,
) -> Result<Figures, String> {
    let harness = std::env::current_exe().map_err(|e| format!("the harness's own path: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let usage_file = dir.path().join("usage");
    let runs = runs.max(1);
    let size_bytes = std::fs::metadata(bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    let options = RunOptions {
        wrapper: Some((
            harness,
            vec![
                "__measure".into(),
                "--usage".into(),
                usage_file.display().to_string(),
            ],
        )),
        ..RunOptions::default()
    };

    let mut usages = Vec::with_capacity(runs);
    for _ in 0..runs {
        let _ = std::fs::remove_file(&usage_file);
        let outcome = rotate(&options)?;
        if outcome.code != Some(0) {
            return Err(format!("a rotation failed:\n{}", outcome.output()));
        }
        let text = std::fs::read_to_string(&usage_file)
            .map_err(|e| format!("{}: {e}", usage_file.display()))?;
        usages.push(Usage::parse(&text).ok_or_else(|| format!("unreadable usage: {text}"))?);
    }

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
        startups.push(ms(started.elapsed()));
    }

    Ok(Figures {
        runs,
        size_bytes,
        startup_ms: Spread::of(startups),
        wall_ms: Spread::of(usages.iter().map(|u| ms(u.wall)).collect()),
        cpu_ms: Spread::of(usages.iter().map(|u| ms(u.cpu)).collect()),
        rss_mib: Spread::of(
            usages
                .iter()
                .map(|u| u.max_rss_kib as f64 / 1024.0)
                .collect(),
        ),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_is_min_median_max() {
        let s = Spread::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        let s = Spread::of(vec![4.0, 1.0, 2.0, 3.0]);
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn a_usage_line_reads_back() {
        let usage = Usage::parse("12345 6789 8192\n").expect("a usage line");
        assert_eq!(usage.wall, Duration::from_micros(12345));
        assert_eq!(usage.cpu, Duration::from_micros(6789));
        assert_eq!(usage.max_rss_kib, 8192);
        assert!(Usage::parse("x").is_none());
    }
}
