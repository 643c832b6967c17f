//! `harness demo ssh-user` rotates alice's key and password on the fake
//! machine, on any machine (root or not), and says so.

use std::path::Path;

#[test]
fn the_demo_rotates_the_key_and_the_password_and_retires_the_old_key() {
    let report = harness::demo::ssh_user(Path::new(&harness::binary!("rotate-ssh-user")))
        .expect("the demo runs");
    assert!(report.ok, "{}", report.text);
    for expected in [
        "now has the new password (the Gateway's newPassword)",
        "(the vault's privatePEMKey)",
        "logs in as 'alice': yes",
        "none holds a secret",
    ] {
        assert!(
            report.text.contains(expected),
            "{expected}\n{}",
            report.text
        );
    }
    assert!(
        !report.text.contains("the record's key before the run"),
        "the old key is retired:\n{}",
        report.text
    );
}
