//! `templates/aws-access-key.csv` and `templates/aws-access-key.json` create the records
//! rotate-aws-access-key reads, with every field it reads or writes.

const BIN: harness::Binary = harness::binary!("rotate-aws-access-key");

#[test]
fn the_template_creates_the_user_record_and_an_admin_record_with_every_field_read_or_written() {
    let problems = harness::inputs::template::problems(
        "aws-access-key",
        &harness::inputs::template::help(BIN),
        &[
            (
                "AWS IAM user access key (template)",
                &[
                    "login",
                    "aws_access_key_id",
                    "aws_secret_access_key",
                    "CreateDate",
                    "Access_Key_ID_Removed_during_previous_rotation",
                    "delete_all_keys_before_rotating",
                    "aws_region",
                    "verify_successes",
                    "verify_interval_seconds",
                    "verify_timeout_seconds",
                ],
            ),
            (
                "AWS admin access key (optional)",
                &[
                    "aws_access_key_id",
                    "aws_secret_access_key",
                    "role_arn",
                    "external_id",
                ],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
