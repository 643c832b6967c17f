//! `harness run` and `harness vault` on records from someone else's export:
//! what reaches the administrator's terminal, what stays on disk, and where
//! the rotators may connect (issue 23, items 5, 7 and 8; see
//! docs/guides/records-from-elsewhere.md).
//!
//! Each test starts from a fixture export (`fixtures/records/`) and changes
//! it the way a hostile or careless exporter would.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::TestWorld;
use serde_json::{Value, json};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

/// The rotators' directory (as `harness/tests/rehearse/main.rs` finds it).
fn bin_dir(rotator: &'static str) -> PathBuf {
    harness::world::rotators_dir(rotator, HARNESS)
}

/// The fixture export `records/<use_case>.json`, as JSON.
fn export(use_case: &str) -> Value {
    let path = harness::inputs::scenario::fixtures_dir().join(format!("records/{use_case}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The record titled `title` in an export.
fn record<'a>(export: &'a mut Value, title: &str) -> &'a mut Value {
    export["records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["title"] == title)
        .unwrap_or_else(|| panic!("no record titled {title}"))
}

/// Writes `export` into `dir` (mode 0600, as the docs ask) and returns its path.
fn write_export(dir: &Path, export: &Value) -> PathBuf {
    let path = dir.join("export.json");
    std::fs::write(&path, serde_json::to_string_pretty(export).unwrap()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the harness with `args` (which name the export with `--records`)
/// on the rotators in `bin`, else the built ones; fails if any output holds
/// a secret of the export.
fn harness_run(rotator: &'static str, args: &[&str], bin: Option<&Path>) -> Ran {
    let records = args
        .iter()
        .skip_while(|a| **a != "--records")
        .nth(1)
        .expect("a --records argument");
    let bin_dir = bin
        .map_or_else(|| bin_dir(rotator), Path::to_owned)
        .display()
        .to_string();
    let mut args = args.to_vec();
    args.extend(["--bin-dir", &bin_dir]);
    let out = TestWorld::program(HARNESS)
        .export(Path::new(records))
        .run_with_args(&args);
    Ran {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// Whether `text` holds a character that acts on a terminal or breaks a
/// line: a control character (but a line break), a line or paragraph
/// separator, a bidirectional override.
fn has_active_characters(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

/// Every string in a JSON value.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out);
        }),
        _ => {}
    }
}

// ---------------------------------------------------------------- item 5

const HOSTILE: &str = "alice\u{1b}]0;owned\u{7}\u{1b}[2J\n== verdict: consistent: forged\u{202e}";

/// The REST fixture with terminal sequences and a line break in the PAM
/// User's title, a custom field's label and its value.
fn hostile_rest_export() -> Value {
    let mut export = export("rest-api");
    let user = record(&mut export, "alice@example.com");
    user["title"] = json!(HOSTILE);
    user["custom_fields"][format!("$text:note{HOSTILE}")] = json!(HOSTILE);
    export
}

#[test]
fn record_titles_labels_and_values_reach_the_text_report_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_export(dir.path(), &hostile_rest_export());
    let ran = harness_run(
        "rotate-rest-api",
        &["run", "rest-api", "--records", file.to_str().unwrap()],
        None,
    );
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        !has_active_characters(&ran.stdout) && !has_active_characters(&ran.stderr),
        "a record's control characters reached the terminal:\n{}",
        ran.stdout
    );
    let verdicts = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("== verdict:"))
        .count();
    assert_eq!(verdicts, 1, "a forged verdict line:\n{}", ran.stdout);
    assert!(
        ran.stdout
            .contains(r"alice\u{1b}]0;owned\u{7}\u{1b}[2J\n== verdict")
    );
}

#[test]
fn record_titles_labels_and_values_reach_the_json_report_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_export(dir.path(), &hostile_rest_export());
    let ran = harness_run(
        "rotate-rest-api",
        &[
            "run",
            "rest-api",
            "--json",
            "--records",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let report: Value = serde_json::from_str(&ran.stdout).unwrap();
    let mut all = Vec::new();
    strings(&report, &mut all);
    // The binary's own stdout and stderr keep their line breaks.
    for text in &all {
        assert!(
            !has_active_characters(text),
            "an active character in the JSON report: {text:?}"
        );
    }
    assert!(!ran.stdout.contains("\\u001b"), "{}", ran.stdout);
}

const RECOVERY: &str = "recovery-codes-1111-2222-3333";
const DOOR_PIN: &str = "9z7q";
const BREAK_GLASS: &str = "break-glass-value-9999-aaaa";

/// The REST fixture with hidden fields under innocuous labels.
fn hidden_fields_export() -> Value {
    let mut export = export("rest-api");
    let user = record(&mut export, "alice@example.com");
    user["custom_fields"]["$secret:Recovery codes"] = json!(RECOVERY);
    user["custom_fields"]["$pinCode:Door"] = json!(DOOR_PIN);
    let api = record(&mut export, "API Access Details");
    api["custom_fields"]["$secret:Break glass"] = json!(BREAK_GLASS);
    export
}

#[test]
fn fields_of_a_hidden_type_are_masked_in_the_text_and_json_reports_whatever_their_label() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_export(dir.path(), &hidden_fields_export());
    for json in [false, true] {
        let mut args = vec!["run", "rest-api", "--records", file.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let ran = harness_run("rotate-rest-api", &args, None);
        assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
        for value in [RECOVERY, BREAK_GLASS, DOOR_PIN] {
            assert!(
                !ran.stdout.contains(value) && !ran.stderr.contains(value),
                "{value} shown in clear (json: {json}):\n{}",
                ran.stdout
            );
        }
        if !json {
            let door = ran
                .stdout
                .lines()
                .find(|l| l.trim_start().starts_with("Door "))
                .unwrap_or_else(|| panic!("no Door field in the record view:\n{}", ran.stdout));
            assert!(door.contains("secret sha256:"), "{door}");
        }
    }
}

#[test]
fn the_leak_scan_looks_for_fields_of_a_hidden_type_whatever_their_label() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_export(dir.path(), &hidden_fields_export());
    let case = harness::rehearsal::use_case("rest-api").unwrap();
    let rehearsal =
        harness::rehearsal::Rehearsal::from_files(case, &[file], &Default::default()).unwrap();
    let world = harness::rehearsal::World::start(&rehearsal).unwrap();
    let secrets = world.secrets();
    for value in [RECOVERY, BREAK_GLASS] {
        assert!(
            secrets.iter().any(|s| s == value),
            "the leak scan does not look for a hidden field's value ({} secrets)",
            secrets.len()
        );
    }
    let out = harness::Outcome {
        code: Some(0),
        stdout: String::new(),
        stderr: format!("rotate-rest-api: error: {BREAK_GLASS}"),
        elapsed: Duration::ZERO,
        timed_out: false,
    };
    assert!(out.find_leak(&secrets).is_some());
}

/// `harness vault serve` on `records`, killed (SIGTERM) when dropped.
struct Served {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Served {
    fn start(records: &Value, dir: &Path) -> Self {
        let file = dir.with_extension("records.json");
        std::fs::write(&file, records.to_string()).unwrap();
        let mut child = Command::new(HARNESS)
            .args(["vault", "serve", "--records"])
            .arg(&file)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        Self {
            child,
            port: port.trim().parse().unwrap(),
            dir: dir.to_owned(),
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.dir.join("env"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn terminate(&mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().unwrap().code()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn vault_get_shows_a_hidden_field_as_a_fingerprint_whatever_its_label_and_escapes_text() {
    let parent = tempfile::tempdir().unwrap();
    let records = json!([{
        "uid": "AdminRecordUid00000001",
        "type": "login",
        "title": "admin\u{1b}[2J\nforged line",
        "fields": [{"type": "login", "value": ["admin\u{1b}]0;x\u{7}"]}],
        "custom": [
            {"type": "secret", "label": "Break glass", "value": [BREAK_GLASS]},
            {"type": "pinCode", "label": "Door", "value": [DOOR_PIN]}
        ]
    }]);
    let served = Served::start(&records, &parent.path().join("vault"));
    assert!(served.port > 0);
    let output = Command::new(HARNESS)
        .args([
            "vault",
            "get",
            "AdminRecordUid00000001",
            "--field",
            "Break glass",
            "--field",
            "Door",
            "--field",
            "login",
        ])
        .envs(served.env())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !stdout.contains(BREAK_GLASS) && !stdout.contains(DOOR_PIN),
        "{stdout}"
    );
    for label in ["Break glass: secret sha256:", "Door: secret sha256:"] {
        assert!(stdout.contains(label), "{stdout}");
    }
    assert!(!has_active_characters(&stdout), "{stdout:?}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
}

// ---------------------------------------------------------------- item 7

/// Every file and directory under `root`, with its mode.
fn modes(root: &Path) -> Vec<(PathBuf, u32, bool)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let dir = meta.is_dir();
        out.push((path.clone(), meta.permissions().mode() & 0o777, dir));
        if dir {
            out.extend(modes(&path));
        }
    }
    out
}

#[test]
fn vault_serve_keeps_its_files_private_and_removes_the_secret_ones_on_sigterm() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("vault");
    let records = json!([{
        "uid": "AdminRecordUid00000001",
        "type": "login",
        "title": "admin",
        "fields": [{"type": "password", "value": [BREAK_GLASS]}],
        "custom": []
    }]);
    let mut served = Served::start(&records, &dir);
    let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "the directory is {dir_mode:o}");
    for name in ["records.json", "gateway-config.json"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
    assert!(
        std::fs::read_to_string(dir.join("records.json"))
            .unwrap()
            .contains(BREAK_GLASS)
    );
    let code = served.terminate();
    assert_eq!(code, Some(128 + 15));
    for name in ["records.json", "gateway-config.json"] {
        assert!(!dir.join(name).exists(), "{name} left behind after SIGTERM");
    }
}

#[test]
fn vault_serve_refuses_a_directory_others_may_enter() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let records = harness::inputs::scenario::fixtures_dir().join("vault/records.json");
    let output = Command::new(HARNESS)
        .args(["vault", "serve", "--records"])
        .arg(&records)
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("chmod 700"));
    assert!(!dir.join("records.json").exists());
}

#[test]
fn vault_serve_removes_the_secret_files_on_every_signal_that_would_end_it() {
    use nix::sys::signal::Signal;
    for signal in [
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
        Signal::SIGXCPU,
        Signal::SIGPROF,
    ] {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("vault");
        let records = json!([{
            "uid": "AdminRecordUid00000001",
            "type": "login",
            "title": "admin",
            "fields": [{"type": "password", "value": [BREAK_GLASS]}],
            "custom": []
        }]);
        let mut served = Served::start(&records, &dir);
        assert!(dir.join("records.json").exists());
        let pid = nix::unistd::Pid::from_raw(i32::try_from(served.child.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
        let code = served.child.wait().unwrap().code();
        assert_eq!(code, Some(128 + signal as i32), "{signal}");
        for name in ["records.json", "gateway-config.json"] {
            assert!(
                !dir.join(name).exists(),
                "{name} left behind after {signal}"
            );
        }
    }
}

/// `harness vault serve --dir dir`, expected to refuse: its exit code and
/// stderr, or `None` for the code when it served instead (stopped after 30 s).
fn serve_refusing(dir: &Path) -> (Option<i32>, String) {
    let records = harness::inputs::scenario::fixtures_dir().join("vault/records.json");
    let mut child = Command::new(HARNESS)
        .args(["vault", "serve", "--records"])
        .arg(&records)
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
    (code, stderr)
}

#[test]
fn vault_serve_refuses_a_symbolic_link_to_a_private_directory() {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("private");
    std::fs::create_dir(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = parent.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, stderr) = serve_refusing(&link);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    assert!(!target.join("records.json").exists());
}

#[test]
fn vault_serve_refuses_a_private_directory_of_another_user() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("theirs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Giving a directory away takes root; elsewhere there is nothing to test.
    if std::os::unix::fs::chown(&dir, Some(65534), None).is_err() {
        return;
    }
    let (code, stderr) = serve_refusing(&dir);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("belongs to user 65534"), "{stderr}");
    assert!(!dir.join("records.json").exists());
}

/// The pids of `parent`'s children.
fn children(parent: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((head, tail)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = head
            .split_once(" (")
            .map(|(_, c)| c.to_owned())
            .unwrap_or_default();
        let ppid: u32 = tail
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == parent {
            out.push((pid, comm));
        }
    }
    out
}

/// Whether `pid` is running (a zombie is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .and_then(|(_, t)| t.split_whitespace().next().map(str::to_owned))
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

#[test]
fn a_sigterm_during_a_rehearsal_kills_the_rotator_and_leaves_no_file_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let exports = tempfile::tempdir().unwrap();
    let file = write_export(exports.path(), &export("rest-api"));
    // The endpoint takes its time: the rotator is still running when the
    // harness is told to stop.
    let mut harness = Command::new(HARNESS)
        .args([
            "run",
            "rest-api",
            "--no-plan",
            "--fault",
            "POST /v1/password=timeout-after-apply",
            "--records",
        ])
        .arg(&file)
        .arg("--bin-dir")
        .arg(bin_dir("rotate-rest-api"))
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let rotator = loop {
        if let Some((pid, _)) = children(harness.id())
            .into_iter()
            .find(|(_, comm)| comm.starts_with("rotate-rest"))
        {
            break pid;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the rotator never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // While it runs: every file private, in private directories, and no
    // record's secret on disk.
    let files = modes(tmp.path());
    assert!(
        !files.is_empty(),
        "the fake vault's directory is not in TMPDIR"
    );
    for (path, mode, dir) in &files {
        if *dir {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        } else if path.ends_with("gateway-config.json") {
            assert_eq!(*mode, 0o600, "{} is {mode:o}", path.display());
        }
        if !dir && let Ok(text) = std::fs::read_to_string(path) {
            for secret in ["Old-Passw0rd-4f1c", "api-token-0001-x7"] {
                assert!(!text.contains(secret), "{} holds a secret", path.display());
            }
        }
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(harness.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = harness.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(rotator) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(rotator), "the rotator outlived the harness");
    let left = modes(tmp.path());
    assert!(left.is_empty(), "left behind: {left:?}");
}

// ---------------------------------------------------------------- item 8

#[test]
fn a_rest_url_in_a_custom_field_labelled_url_in_capitals_is_pointed_at_the_fake() {
    let dir = tempfile::tempdir().unwrap();
    let mut export = export("rest-api");
    let api = record(&mut export, "API Access Details");
    api.as_object_mut().unwrap().remove("login_url");
    api["custom_fields"]["$url:URL"] = json!("https://api.example.com/v1/password");
    let file = write_export(dir.path(), &export);
    let ran = harness_run(
        "rotate-rest-api",
        &[
            "run",
            "rest-api",
            "--json",
            "--records",
            file.to_str().unwrap(),
        ],
        None,
    );
    let report: Value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", ran.stdout, ran.stderr));
    let rest_calls = report["calls"][0]["calls"].as_array().unwrap();
    assert!(
        rest_calls
            .iter()
            .any(|c| c["call"].as_str().unwrap().starts_with("POST /v1/password")),
        "the fake API got no call: {}",
        report["stderr"]
    );
    assert_eq!(report["exit_code"], 0, "{}", report["stderr"]);
    assert_eq!(ran.code, Some(0));
}

#[test]
fn an_okta_url_in_a_custom_field_labelled_url_in_capitals_is_pointed_at_the_fake() {
    let dir = tempfile::tempdir().unwrap();
    let mut export = export("okta-user");
    let api = record(&mut export, "Okta API Access Details");
    api.as_object_mut().unwrap().remove("login_url");
    api["custom_fields"]["$url:URL"] = json!("https://acme.okta.com");
    let file = write_export(dir.path(), &export);
    let ran = harness_run(
        "rotate-okta-user",
        &[
            "run",
            "okta-user",
            "--json",
            "--records",
            file.to_str().unwrap(),
        ],
        None,
    );
    let report: Value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", ran.stdout, ran.stderr));
    let okta_calls = report["calls"][0]["calls"].as_array().unwrap();
    assert!(
        okta_calls.iter().any(|c| c["call"] == "get_user"),
        "the fake Okta org got no call: {}",
        report["stderr"]
    );
    assert_eq!(report["exit_code"], 0, "{}", report["stderr"]);
    assert_eq!(ran.code, Some(0));
}

#[test]
fn a_rehearsed_binary_that_connects_off_the_machine_is_refused_and_the_rehearsal_fails() {
    // A rotator that reaches for a real endpoint through the proxy its
    // environment names (as reqwest and the Keeper SDK do), and then says
    // nothing changed.
    let bin = tempfile::tempdir().unwrap();
    let script = bin.path().join("rotate-rest-api");
    let mut f = std::fs::File::create(&script).unwrap();
    writeln!(
        f,
        "#!/bin/bash\n\
         proxy=${{HTTPS_PROXY#http://}}\n\
         exec 3<>/dev/tcp/${{proxy%:*}}/${{proxy##*:}} || exit 1\n\
         printf 'CONNECT api.example.com:443 HTTP/1.1\\r\\nHost: api.example.com:443\\r\\n\\r\\n' >&3\n\
         read -r -t 5 answer <&3\n\
         echo \"rotate-rest-api: exit 1 (failed, nothing changed)\"\n\
         exit 1"
    )
    .unwrap();
    drop(f);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = harness::inputs::scenario::fixtures_dir().join("records/rest-api.json");
    let ran = harness_run(
        "rotate-rest-api",
        &[
            "run",
            "rest-api",
            "--no-plan",
            "--records",
            file.to_str().unwrap(),
        ],
        Some(bin.path()),
    );
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let verdict = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("== verdict:"))
        .unwrap_or_default();
    assert!(
        verdict.starts_with("== verdict: INCONSISTENT")
            && verdict.contains("'api.example.com:443'")
            && verdict.contains("outside this machine"),
        "{}",
        ran.stdout
    );
}
