//! `harness demo aws-access-key` rotates the key end to end and says so.

use std::path::Path;

#[test]
fn the_demo_rotates_the_key_and_stores_a_live_secret() {
    let report =
        harness::demo::aws_access_key(Path::new(&harness::binary!("rotate-aws-access-key")))
            .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    assert!(
        report
            .text
            .contains("the stored secret is the one IAM issued"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains("aws_secret_access_key ********"),
        "{}",
        report.text
    );
}
