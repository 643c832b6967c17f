//! `harness demo okta-user` changes the password end to end and says so.

use std::path::Path;

#[test]
fn the_demo_changes_the_password_and_masks_every_secret() {
    let report = harness::demo::okta_user(Path::new(&harness::binary!("rotate-okta-user")))
        .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    assert!(
        report.text.contains("authorization: SSWS ********"),
        "{}",
        report.text
    );
    assert!(
        report
            .text
            .contains(r#""newPassword":{"value":"********"}"#),
        "{}",
        report.text
    );
}
