//! Stamps the version every binary prints with `--version`
//! (`common::build_info::VERSION`): the package version, the git commit, and
//! the build date of a release build.
//!
//! Why it is built this way:
//! - The date is set only when asked for (`KEEPER_ROTATORS_BUILD_DATE`, or
//!   `SOURCE_DATE_EPOCH`), as `scripts/dist` does. A date taken from the clock
//!   on every build would change this crate's output daily and relink every
//!   binary for nothing in development.
//! - The commit comes from `KEEPER_ROTATORS_COMMIT` (what `scripts/dist` sets,
//!   with `-dirty` for uncommitted changes), else from `git`. The script
//!   reruns only when HEAD or the branch it points at moves, never on every
//!   build. Outside a git checkout, or without git, it says `unknown`, and
//!   the build still succeeds.

#![allow(
    clippy::print_stdout,
    reason = "a build script talks to cargo on stdout"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/build_info/stamp.rs"]
mod stamp;

const COMMIT: &str = "KEEPER_ROTATORS_COMMIT";
const DATE: &str = "KEEPER_ROTATORS_BUILD_DATE";
const EPOCH: &str = "SOURCE_DATE_EPOCH";

fn main() {
    for name in [COMMIT, DATE, EPOCH] {
        println!("cargo::rerun-if-env-changed={name}");
    }
    println!("cargo::rerun-if-changed=src/build_info/stamp.rs");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());

    let commit = match non_empty_env(COMMIT) {
        Some(commit) if stamp::is_commit(&commit) => commit,
        Some(commit) => fail(&format!(
            "{COMMIT}={commit:?} is not a commit: give 7 to 40 hex digits, optionally \
             followed by -dirty, or unset it to ask git"
        )),
        None => {
            watch_git_head(&manifest_dir);
            git(&manifest_dir, &["rev-parse", "--short=7", "HEAD"])
                .filter(|c| stamp::is_commit(c))
                .unwrap_or_else(|| "unknown".to_owned())
        }
    };

    let date = match (non_empty_env(DATE), non_empty_env(EPOCH)) {
        (Some(date), _) if stamp::is_date(&date) => Some(date),
        (Some(date), _) => fail(&format!(
            "{DATE}={date:?} is not a date: write it as YYYY-MM-DD (UTC), or unset it"
        )),
        (None, Some(epoch)) => match epoch.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => Some(stamp::date_from_epoch(seconds)),
            _ => fail(&format!(
                "{EPOCH}={epoch:?} is not a Unix time: give whole seconds since 1970, or unset it"
            )),
        },
        (None, None) => None,
    };

    let package = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let version = stamp::version(&package, &commit, date.as_deref());
    println!("cargo::rustc-env=KEEPER_ROTATORS_VERSION={version}");
    println!("cargo::rustc-env=KEEPER_ROTATORS_COMMIT={commit}");
    println!(
        "cargo::rustc-env=KEEPER_ROTATORS_BUILD_DATE={}",
        date.unwrap_or_default()
    );
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn fail(message: &str) -> ! {
    println!("cargo::error=common/build.rs: {message}");
    std::process::exit(1)
}

/// Runs git in `dir`; `None` when git is missing or this is no checkout.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Asks cargo to rerun this script when the commit can have changed: HEAD
/// itself (a checkout), the branch file it points at (a commit), and
/// packed-refs. Only files that exist are named: cargo reruns the script on
/// every build for a path that does not exist.
fn watch_git_head(dir: &Path) {
    let mut paths = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.push(branch);
    }
    for path in paths {
        if let Some(file) = git(dir, &["rev-parse", "--git-path", &path]) {
            let file = dir.join(file);
            if file.is_file() {
                println!("cargo::rerun-if-changed={}", file.display());
            }
        }
    }
}
