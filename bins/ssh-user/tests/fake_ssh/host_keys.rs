//! Host keys: unpinned and changed.

use super::*;

#[test]
fn an_unpinned_host_is_refused_with_its_key_printed_and_nothing_sent() {
    let w = World::new(root_machine(), "root-admin.json").machine_field("SSH Host Key", json!(""));
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&w.fake().host_key_line())
        .assert_stderr_has(&w.fake().host_key_fingerprint())
        .assert_stderr_has(&format!("ssh-keyscan -p {} 127.0.0.1", w.fake().port()));
    assert_eq!(w.calls(), Vec::<String>::new(), "not even a login");
    w.assert_password(OLD_PW);
}

#[test]
fn a_host_key_that_changed_is_refused_before_any_login() {
    let w = World::new(root_machine(), "root-admin.json");
    w.fake().change_host_key();
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("host key changed: possible man-in-the-middle")
        .assert_stderr_has(&w.fake().host_key_fingerprint());
    assert_eq!(w.calls(), Vec::<String>::new(), "not even a login");
    w.assert_password(OLD_PW);
}
