//! `harness demo azure-app-secret` rotates the secret end to end and says so.

use std::path::Path;

#[test]
fn the_demo_rotates_the_secret_and_stores_a_live_one() {
    let report =
        harness::demo::azure_app_secret(Path::new(&harness::binary!("rotate-azure-app-secret")))
            .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    assert!(
        report
            .text
            .contains("the stored secret is the one Graph made"),
        "{}",
        report.text
    );
}
