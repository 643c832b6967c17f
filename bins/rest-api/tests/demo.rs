//! The README's quick start: `harness demo rest-api` rotates a password end
//! to end against the fakes and says so.

use std::path::Path;

#[test]
fn the_quick_start_demo_rotates_the_password_and_masks_every_secret() {
    let report = harness::demo::rest_api(Path::new(&harness::binary!("rotate-rest-api")))
        .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    assert!(
        report.text.contains("authorization: Bearer ********"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains("\"newPassword\":\"********\""),
        "{}",
        report.text
    );
    assert!(
        report
            .text
            .contains("is now the Gateway's newPassword: yes"),
        "{}",
        report.text
    );
}
