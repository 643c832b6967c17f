//! `templates/snowflake-user.csv` and `templates/snowflake-user.json`
//! create the records rotate-snowflake-user reads, with every field it reads
//! or writes (but `privatePEMKey`, a hidden field only the JSON import can
//! create: the CSV's notes say to add it).

const BIN: harness::Binary = harness::binary!("rotate-snowflake-user");

#[test]
fn the_template_creates_the_admin_record_and_the_user_record_with_every_field_read() {
    let problems = harness::inputs::template::problems(
        "snowflake-user",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Snowflake Authentication Record",
                &["login", "snowflake_account_name", "snowflake_url"],
            ),
            (
                "Snowflake user (template)",
                &["login", "password", "snowflake_record_title"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let json = harness::inputs::template::json("snowflake-user").expect("the JSON template");
    let admin = json
        .iter()
        .find(|r| r.title == "Snowflake Authentication Record")
        .expect("the admin record");
    assert_eq!(
        admin
            .fields
            .iter()
            .find(|(label, _, _)| label == "privatePEMKey")
            .and_then(|(_, _, kind)| kind.as_deref()),
        Some("secret"),
        "the JSON template's admin record lacks a hidden privatePEMKey"
    );
}

#[test]
fn the_key_pair_template_creates_a_user_record_with_a_hidden_private_key() {
    let problems = harness::inputs::template::problems(
        "snowflake-user-key",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Snowflake Authentication Record",
                &["login", "snowflake_account_name", "snowflake_url"],
            ),
            (
                "Snowflake service user (template)",
                &["login", "snowflake_record_title", "verify_successes"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let json = harness::inputs::template::json("snowflake-user-key").expect("the JSON template");
    let user = json
        .iter()
        .find(|r| r.title == "Snowflake service user (template)")
        .expect("the user record");
    assert_eq!(
        user.fields
            .iter()
            .find(|(label, _, _)| label == "privatePEMKey")
            .and_then(|(_, _, kind)| kind.as_deref()),
        Some("secret"),
        "the JSON template's user record lacks a hidden privatePEMKey"
    );
}
