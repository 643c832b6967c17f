//! `harness vault serve`: the fake vault as a standalone server.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_harness");

struct Server(Child);

/// A path with `tempfile::TempDir`'s `path()`.
struct Dir(std::path::PathBuf);

impl Dir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_writes_config_ca_and_env_and_rewrites_records_after_an_update() {
    let parent = tempfile::tempdir().unwrap();
    // A directory of its own, made private by the fake (it refuses one
    // others may enter).
    let dir = Dir(parent.path().join("vault"));
    let records = harness::inputs::scenario::fixtures_dir().join("vault/records.json");
    let (_server, port, env) = serve(&[records], &dir);

    assert!(
        env.contains(&format!("HTTPS_PROXY=http://127.0.0.1:{port}\n")),
        "{env}"
    );
    assert!(env.contains("NO_PROXY=\n"), "{env}");
    assert!(
        std::fs::read_to_string(dir.path().join("ca.pem"))
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("gateway-config.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "clientId",
        "privateKey",
        "appKey",
        "serverPublicKey",
        "hostname",
    ] {
        assert!(config.get(key).is_some(), "config lacks {key}");
    }

    let mut set = Command::new(BIN);
    set.args(["vault", "set", "PamUserUid000000000001"]);
    for line in env.lines() {
        let (key, value) = line.split_once('=').unwrap();
        set.env(key, value);
    }
    let mut child = set
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"[{"label": "aws_access_key_id", "value": "AKIASERVED0000000003"}]"#)
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("records.json")).unwrap())
            .unwrap();
    let user = saved
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uid"] == "PamUserUid000000000001")
        .unwrap();
    assert_eq!(user["revision"], 2);
    assert!(user.to_string().contains("AKIASERVED0000000003"));
}

/// Starts `harness vault serve` on `records` in a private `dir`: the
/// server, its port and the `env` lines it wrote.
fn serve(records: &[std::path::PathBuf], dir: &Dir) -> (Server, u16, String) {
    let mut child = Command::new(BIN)
        .args(["vault", "serve", "--records"])
        .args(records)
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let server = Server(child);
    let port = port
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no port printed: {port:?}"));
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    (server, port, env)
}

#[test]
fn serve_takes_the_commander_export_that_run_takes() {
    let parent = tempfile::tempdir().unwrap();
    let dir = Dir(parent.path().join("vault"));
    let export = harness::inputs::scenario::fixtures_dir().join("records/okta-user.json");
    let (_server, _, env) = serve(&[export], &dir);

    let mut get = Command::new(BIN);
    get.args([
        "vault",
        "get",
        "PamUserUid000000000001",
        "--field",
        "login",
        "--field",
        "okta_record_title",
    ]);
    for line in env.lines() {
        let (key, value) = line.split_once('=').unwrap();
        get.env(key, value);
    }
    let out = get.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("login: alice@example.com"), "{stdout}");
    assert!(
        stdout.contains("okta_record_title: Okta API Access Details"),
        "{stdout}"
    );
}

#[test]
fn serve_refuses_a_scenario_file_naming_what_it_takes() {
    let parent = tempfile::tempdir().unwrap();
    let dir = Dir(parent.path().join("vault"));
    let scenario = harness::inputs::scenario::fixtures_dir().join("scenarios/okta-user");
    let scenario = std::fs::read_dir(scenario)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let out = Command::new(BIN)
        .args(["vault", "serve", "--records"])
        .arg(&scenario)
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a scenario file is the Gateway's input"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
