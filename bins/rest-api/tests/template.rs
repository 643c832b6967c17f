//! `templates/rest-api.csv` and `templates/rest-api.json` create the records
//! rotate-rest-api reads, with every field it reads or writes.

const BIN: harness::Binary = harness::binary!("rotate-rest-api");

#[test]
fn the_template_creates_the_api_record_and_the_user_record_with_every_field_read() {
    let problems = harness::inputs::template::problems(
        "rest-api",
        &harness::inputs::template::help(BIN),
        &[
            (
                "API Access Details",
                &[
                    "url",
                    "password",
                    "http_method",
                    "body_template",
                    "auth_header",
                    "auth_scheme",
                    "success_status",
                ],
            ),
            (
                "REST API user (template)",
                &["login", "password", "api_record_title"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
