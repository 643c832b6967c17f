//! `templates/snowflake-user.csv` and `templates/snowflake-user.json`
//! create the records rotate-snowflake-user reads, with every field it reads
//! or writes.

const BIN: harness::Binary = harness::binary!("rotate-snowflake-user");

#[test]
fn the_template_creates_the_admin_record_and_the_user_record_with_every_field_read() {
    let problems = harness::inputs::template::problems(
        "snowflake-user",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Snowflake Authentication Record",
                &["login", "privatePEMKey", "snowflake_account_name"],
            ),
            (
                "Snowflake user (template)",
                &["login", "password", "snowflake_record_title"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
