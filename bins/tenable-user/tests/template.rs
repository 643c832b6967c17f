//! `templates/tenable-user.csv` and `templates/tenable-user.json` create
//! the records rotate-tenable-user reads, with every field it reads or
//! writes.

const BIN: harness::Binary = harness::binary!("rotate-tenable-user");

#[test]
fn the_template_creates_the_admin_record_and_the_user_record_with_every_field_read() {
    let problems = harness::inputs::template::problems(
        "tenable-user",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Tenable Authentication Record",
                &["tenable_access_key", "tenable_secret_key", "tenable_url"],
            ),
            (
                "Tenable user (template)",
                &["login", "password", "tenable_record_title"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
