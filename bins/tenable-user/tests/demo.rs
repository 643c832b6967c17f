//! `harness demo tenable-user` changes the password end to end and says so.

use std::path::Path;

#[test]
fn the_demo_changes_the_password_and_masks_every_secret() {
    let report = harness::demo::run(
        "tenable-user",
        Path::new(&harness::binary!("rotate-tenable-user")),
    )
    .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    assert!(
        report
            .text
            .contains("x-apikeys: accessKey=********; secretKey=********;"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains(r#""password":"********""#),
        "{}",
        report.text
    );
}

/// A record that names a Security Center (`tenable_sc_host`) is rehearsed
/// against it: the rehearsal points that field at the fake, not
/// `tenable_url` (the binary refuses a record holding both).
#[test]
fn a_security_center_export_is_rehearsed_through_its_tenable_sc_host() {
    use harness::rehearsal::{Options, Rehearsal, RoleFlags, rehearse, use_case};
    let fixture = harness::inputs::scenario::fixtures_dir().join("records/tenable-user.json");
    let mut export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).expect("the fixture"))
            .expect("JSON");
    for record in export["records"].as_array_mut().expect("records") {
        if record["title"] == "Tenable Authentication Record" {
            record["custom_fields"]["$text:tenable_sc_host"] = "sc.example.com".into();
        }
        if record["$type"] == "pamUser" {
            record["login"] = "alice".into();
        }
    }
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("security-center.json");
    std::fs::write(&path, export.to_string()).expect("written");
    let rehearsal = Rehearsal::from_files(
        use_case("tenable-user").expect("the use case"),
        &[path],
        &RoleFlags::default(),
    )
    .expect("the rehearsal");
    let report = rehearse(
        &harness::rehearsal::Program::binary(Path::new(&harness::binary!("rotate-tenable-user"))),
        &rehearsal,
        &Options {
            plan: true,
            ..Options::default()
        },
    )
    .expect("rehearsed");
    let text = report.text();
    assert!(report.rotated(), "{text}");
    assert!(text.contains("the tenable_sc_host of"), "{text}");
    assert!(text.contains("POST /rest/token"), "{text}");
}
