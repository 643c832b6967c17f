//! `harness demo cisco-iosxe-user` sets the secret end to end and says so.

use std::path::Path;

#[test]
fn the_demo_sets_the_secret_and_masks_every_secret() {
    let report = harness::demo::run(
        "cisco-iosxe-user",
        Path::new(&harness::binary!("rotate-cisco-iosxe-user")),
    )
    .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    assert!(
        report.text.contains("authorization: Basic ********"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains(r#""secret":"********""#),
        "{}",
        report.text
    );
}
