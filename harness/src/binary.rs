//! Which build of a binary a test runs: cargo's own, or the one in
//! `KEEPER_ROTATORS_BIN_DIR`.
//!
//! Why: what ships is not what `cargo test` builds. `scripts/dist` builds with
//! zig against glibc 2.17, in release, through `cargo auditable`. The same
//! integration tests must be able to check those files, so every test names
//! its binary through [`binary!`](crate::binary!) instead of
//! `env!("CARGO_BIN_EXE_…")`:
//!
//! ```ignore
//! const BIN: harness::Binary = harness::binary!("rotate-rest-api");
//! ```
//!
//! With `KEEPER_ROTATORS_BIN_DIR` unset (or empty) that is cargo's build.
//! With it set, it is `$KEEPER_ROTATORS_BIN_DIR/<name>`, and a missing file
//! fails the test: silently falling back to cargo's build would report the
//! shipped binaries as tested when they were not.
//!
//! `KEEPER_ROTATORS_RUNNER` runs the binaries of another architecture: its
//! words are put before the binary's path by [`crate::runner::Run`], which
//! starts every rotator run of the tests and of the rehearsal
//! (`KEEPER_ROTATORS_RUNNER=qemu-aarch64`). The path stays the binary's own:
//! a test that starts it some other way (a `Command` of its own, `--help`)
//! fails with "Exec format error" rather than pass on another binary.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The environment variable naming a directory of built binaries to test
/// instead of cargo's (`scripts/test --bin-dir DIR` sets it).
pub const BIN_DIR_ENV: &str = "KEEPER_ROTATORS_BIN_DIR";

/// The environment variable holding a command to put before each binary
/// (a cross runner such as `qemu-aarch64`); see the module documentation.
pub const RUNNER_ENV: &str = "KEEPER_ROTATORS_RUNNER";

/// The words of [`RUNNER_ENV`] (none when unset or blank), split on
/// whitespace. A value that is not UTF-8 is an error, never ignored: ignoring
/// it would run the binary without the runner the caller asked for.
pub fn runner_words() -> Result<Vec<String>, String> {
    match std::env::var_os(RUNNER_ENV) {
        None => Ok(Vec::new()),
        Some(value) => value
            .to_str()
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .ok_or_else(|| format!("{RUNNER_ENV} is not UTF-8")),
    }
}

/// A binary under test: its name, and where cargo built it for this test.
/// Resolved on first use; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    name: &'static str,
    cargo_built: &'static str,
}

/// `harness::binary!("rotate-rest-api")`: the binary a test runs, cargo's
/// build unless `KEEPER_ROTATORS_BIN_DIR` names another directory.
#[macro_export]
macro_rules! binary {
    ($name:literal) => {
        $crate::Binary::new($name, env!(concat!("CARGO_BIN_EXE_", $name)))
    };
}

impl Binary {
    /// Prefer [`binary!`](crate::binary!), which fills in cargo's path.
    pub const fn new(name: &'static str, cargo_built: &'static str) -> Self {
        Self { name, cargo_built }
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    /// The file to run. Panics, naming the directory and the variable, when
    /// `KEEPER_ROTATORS_BIN_DIR` is set and the binary is not in it.
    pub fn path(self) -> &'static Path {
        static RESOLVED: OnceLock<Mutex<HashMap<&'static str, &'static Path>>> = OnceLock::new();
        let mut resolved = RESOLVED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        resolved.entry(self.name).or_insert_with(|| {
            let dir = std::env::var_os(BIN_DIR_ENV);
            match resolve(self.name, self.cargo_built, dir.as_deref()) {
                // One small leak per binary name and process: the path must
                // outlive every test that borrows it.
                Ok(path) => Box::leak(path.into_boxed_path()),
                Err(message) => panic!("{message}"),
            }
        })
    }
}

impl AsRef<Path> for Binary {
    fn as_ref(&self) -> &Path {
        self.path()
    }
}

impl AsRef<OsStr> for Binary {
    fn as_ref(&self) -> &OsStr {
        self.path().as_os_str()
    }
}

/// Where `name` is: in `bin_dir` when one is given (and non-empty), else
/// where cargo built it.
pub fn resolve(name: &str, cargo_built: &str, bin_dir: Option<&OsStr>) -> Result<PathBuf, String> {
    let Some(dir) = bin_dir.filter(|d| !d.is_empty()).map(OsString::from) else {
        return Ok(PathBuf::from(cargo_built));
    };
    let path = PathBuf::from(dir).join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{BIN_DIR_ENV} is set, but {} does not exist: build the binaries there first \
             (scripts/dist), or unset {BIN_DIR_ENV} to test cargo's build",
            path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_bin_dir_the_test_runs_cargos_build() {
        let path = resolve("rotate-x", "/target/debug/rotate-x", None).expect("resolves");
        assert_eq!(path, Path::new("/target/debug/rotate-x"));
        let path =
            resolve("rotate-x", "/target/debug/rotate-x", Some(OsStr::new(""))).expect("resolves");
        assert_eq!(path, Path::new("/target/debug/rotate-x"));
    }

    #[test]
    fn a_bin_dir_holding_the_binary_replaces_cargos_build() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("rotate-x"), b"").expect("write");
        let path = resolve(
            "rotate-x",
            "/target/debug/rotate-x",
            Some(dir.path().as_os_str()),
        )
        .expect("resolves");
        assert_eq!(path, dir.path().join("rotate-x"));
    }

    #[test]
    fn a_bin_dir_without_the_binary_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = resolve(
            "rotate-x",
            "/target/debug/rotate-x",
            Some(dir.path().as_os_str()),
        )
        .expect_err("a missing binary must not fall back to cargo's");
        assert!(error.contains("KEEPER_ROTATORS_BIN_DIR is set"), "{error}");
        assert!(error.contains("rotate-x does not exist"), "{error}");
    }
}
