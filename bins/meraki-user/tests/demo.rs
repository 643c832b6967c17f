//! `harness demo meraki-user` sets the password end to end and says so.

use std::path::Path;

#[test]
fn the_demo_sets_the_password_and_masks_every_secret() {
    let report = harness::demo::run(
        "meraki-user",
        Path::new(&harness::binary!("rotate-meraki-user")),
    )
    .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    assert!(
        report.text.contains("authorization: Bearer ********"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains(r#""password":"********""#),
        "{}",
        report.text
    );
}
