//! `templates/okta-user.csv` and `templates/okta-user.json` create the records
//! rotate-okta-user reads, with every field it reads or writes.

const BIN: harness::Binary = harness::binary!("rotate-okta-user");

#[test]
fn the_template_creates_the_okta_api_record_and_the_user_record_with_every_field_read() {
    let problems = harness::inputs::template::problems(
        "okta-user",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Okta API Access Details",
                &["url", "password", "auth_scheme"],
            ),
            (
                "Okta user (template)",
                &[
                    "login",
                    "password",
                    "okta_record_title",
                    "okta_admin_reset",
                    "okta_strict",
                ],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
