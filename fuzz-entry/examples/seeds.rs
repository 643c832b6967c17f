//! Writes the fuzz campaign's seed corpus: every fixture of `fixtures/`,
//! as the Gateway's line and as readable JSON (params with `records` as an
//! array, the form `fuzz_entry::run` also accepts), into the directory given
//! (default `fuzz/seeds`). `scripts/fuzz` runs it before fuzzing.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a command-line tool over checked-in fixtures"
)]

use std::path::{Path, PathBuf};

use harness::Scenario;
use serde_json::Value;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::args()
        .nth(1)
        .map_or_else(|| root.join("fuzz/seeds"), PathBuf::from);
    std::fs::create_dir_all(&target).unwrap();
    let mut files = Vec::new();
    for dir in ["scenarios", "inputs"] {
        json_files(&root.join("fixtures").join(dir), &mut files);
    }
    files.sort();
    for path in &files {
        let scenario = Scenario::from_file(path)
            .unwrap()
            .var("API_URL", "http://127.0.0.1:9/v1/password")
            .var("OKTA_URL", "http://127.0.0.1:9")
            .var("MERAKI_URL", "http://127.0.0.1:9/api/v1")
            .var("IOSXE_URL", "http://127.0.0.1:9")
            .var("TENABLE_URL", "http://127.0.0.1:9")
            .var("PORT", "9")
            .var(
                "HOST_KEY",
                "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            );
        let rel = path.strip_prefix(root.join("fixtures")).unwrap();
        let name = rel.with_extension("").to_string_lossy().replace('/', "-");
        std::fs::write(target.join(format!("{name}.line")), scenario.encode()).unwrap();
        let mut params = scenario.params();
        if !params.contains_key("records") {
            params.insert("records".into(), Value::Array(scenario.records()));
        }
        let text = serde_json::to_string_pretty(&Value::Object(params)).unwrap();
        std::fs::write(target.join(format!("{name}.json")), text).unwrap();
    }
    println!(
        "{} seeds from {} fixtures in {}",
        files.len() * 2,
        files.len(),
        target.display()
    );
}
