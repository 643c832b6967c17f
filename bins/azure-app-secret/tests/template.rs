//! `templates/azure-app-secret.csv` and `templates/azure-app-secret.json` create the records
//! rotate-azure-app-secret reads, with every field it reads or writes.

const BIN: harness::Binary = harness::binary!("rotate-azure-app-secret");

#[test]
fn the_template_creates_the_user_record_and_an_admin_record_with_every_field_read_or_written() {
    let problems = harness::inputs::template::problems(
        "azure-app-secret",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Azure app client secret (template)",
                &[
                    "application_object_id",
                    "client_secret_id",
                    "client_secret",
                    "expires",
                    "secret_expiry_days",
                    "keep_previous_secrets",
                    "azure_cloud",
                    "verify_successes",
                    "verify_interval_seconds",
                    "verify_timeout_seconds",
                ],
            ),
            (
                "Azure admin application (optional)",
                &["application_client_id", "client_secret", "tenant_id"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
