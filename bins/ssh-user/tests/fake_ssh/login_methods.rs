//! Login methods the server offers.

use super::*;

#[test]
fn a_server_offering_only_keyboard_interactive_takes_the_password_there() {
    let fake = root_machine().methods(Methods {
        password: false,
        publickey: true,
        keyboard_interactive: true,
    });
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("verified by a login");
    w.assert_password(NEW_PW);
    assert!(w.calls().contains(&"auth-keyboard-interactive".to_owned()));
}

#[test]
fn a_server_without_password_logins_refuses_a_password_admin_exit_1_naming_what_it_offers() {
    let fake = root_machine().methods(Methods {
        password: false,
        publickey: true,
        keyboard_interactive: false,
    });
    let w = World::new(fake, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the server refused the credential for 'root' (it offers: publickey)");
    w.assert_password(OLD_PW);
}
