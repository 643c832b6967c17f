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
