//! Binaries that lie or leak are caught.

use super::*;

/// A stand-in for a rotator: a shell script in a directory of its own.
fn impostor(name: &str, script: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn run_with(dir: &tempfile::TempDir, use_case: &str, extra: &[&str]) -> Ran {
    let file = fixture(&format!("records/{use_case}.json"));
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "run",
            use_case,
            "--records",
            &file,
            "--no-plan",
            "--bin-dir",
        ])
        .arg(dir.path())
        .args(extra)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_binary_claiming_a_rotation_it_did_not_make_is_caught() {
    let dir = impostor(
        "rotate-rest-api",
        "cat >/dev/null; echo 'rotated the password'; exit 0",
    );
    let ran = run_with(&dir, "rest-api", &["--json"]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let report = ran.json();
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["verdict"]["consistent"], false);
    assert!(
        report["verdict"]["detail"]
            .as_str()
            .unwrap()
            .contains("the old password"),
        "{}",
        report["verdict"]
    );
}

#[test]
fn a_binary_printing_its_input_is_caught_leaking_and_its_output_withheld() {
    let dir = impostor("rotate-rest-api", "cat; exit 1");
    let ran = run_with(&dir, "rest-api", &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("== leak scan: LEAK: secret #"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("--- stdout\n(withheld: a secret appeared in it)\n"),
        "{}",
        ran.stdout
    );
}
