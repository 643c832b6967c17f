//! `templates/cisco-iosxe-user.csv` and `templates/cisco-iosxe-user.json`
//! create the records rotate-cisco-iosxe-user reads, with every field it
//! reads or writes.

const BIN: harness::Binary = harness::binary!("rotate-cisco-iosxe-user");

#[test]
fn the_template_creates_the_admin_record_and_the_user_record_with_every_field_read() {
    let problems = harness::inputs::template::problems(
        "cisco-iosxe-user",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Cisco Authentication Record",
                &[
                    "login",
                    "password",
                    "host_endpoint",
                    "tls_certificate_sha256",
                    "trust_certificate_on_first_use",
                ],
            ),
            (
                "IOS XE user (template)",
                &["login", "password", "iosxe_record_title", "iosxe_set_as"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
