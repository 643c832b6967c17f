//! `harness demo tenable-credential` updates the credential end to end and
//! says so.

use std::path::Path;

#[test]
fn the_demo_updates_the_credential_and_masks_every_secret() {
    let report = harness::demo::run(
        "tenable-credential",
        Path::new(&harness::binary!("rotate-tenable-credential")),
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
