//! `harness line`: the Gateway's line from an administrator's export, for
//! a dry run on the Gateway host, never shown on a terminal or written
//! where others can read it.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn export() -> std::path::PathBuf {
    harness::inputs::scenario::fixtures_dir().join("records/rest-api.json")
}

#[test]
fn the_line_built_from_an_export_pipes_into_the_binarys_dry_run() {
    let built = Command::new(HARNESS)
        .args(["line", "rest-api", "--records"])
        .arg(export())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{stderr}");
    assert!(stderr.contains("use it with --dry-run only"), "{stderr}");
    let line = String::from_utf8(built.stdout).unwrap();
    assert_eq!(line.lines().count(), 1, "{line}");

    // The export's API host (api.example.com) is reached by the dry run's
    // probe, after the line is read: through a proxy that refuses, so the
    // probe fails the same way with or without a network, naming the host.
    let proxy = format!("http://127.0.0.1:{}", harness::faults::net::refused_port());
    let bin = harness::world::rotators_dir("rotate-rest-api", HARNESS).join("rotate-rest-api");
    let mut child = Command::new(bin)
        .arg("--dry-run")
        .env(
            "KEEPER_ROTATOR_LOCK_DIR",
            tempfile::tempdir().unwrap().path(),
        )
        .env("HTTPS_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("rotate-rest-api: exit 1 (failed, nothing changed)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("the dry run's DNS and TLS to api.example.com:443 failed"),
        "{stderr}"
    );

    // Its newPassword is made up: a real rotation with it is refused.
    let bin = harness::world::rotators_dir("rotate-rest-api", HARNESS).join("rotate-rest-api");
    let mut child = Command::new(bin)
        .env(
            "KEEPER_ROTATOR_LOCK_DIR",
            tempfile::tempdir().unwrap().path(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("built by 'harness line' for a dry run"),
        "{stderr}"
    );
}

#[test]
fn the_line_never_goes_to_a_file_a_shell_redirect_creates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.b64");
    let file = std::fs::File::create(&path).unwrap();
    let out = Command::new(HARNESS)
        .args(["line", "rest-api", "--records"])
        .arg(export())
        .stdout(Stdio::from(file))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--out FILE (mode 0600)"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
}

#[test]
fn the_line_is_written_to_a_new_file_only_its_owner_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.b64");
    let run = || {
        Command::new(HARNESS)
            .args(["line", "rest-api", "--records"])
            .arg(export())
            .arg("--out")
            .arg(&path)
            .output()
            .unwrap()
    };
    let first = run();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(first.stdout.is_empty());
    assert!(stderr.contains("mode 0600"), "{stderr}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let written = std::fs::read_to_string(&path).unwrap();

    // A second run never overwrites it.
    let second = run();
    assert_eq!(second.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("never overwritten"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}
