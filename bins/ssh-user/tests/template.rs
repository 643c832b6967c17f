//! `templates/ssh-user.csv` and `templates/ssh-user.json` create the records
//! rotate-ssh-user reads, with every field it reads or writes.

const BIN: harness::Binary = harness::binary!("rotate-ssh-user");

#[test]
fn the_template_creates_the_user_and_admin_records_with_every_field_read_or_written() {
    let problems = harness::inputs::template::problems(
        "ssh-user",
        &harness::inputs::template::help(BIN),
        &[
            (
                "Linux user (template)",
                &[
                    "login",
                    "Private Key Type",
                    "Private Key Rotate",
                    "Remove Previous Key",
                    "ssh_admin_record_title",
                    "password_hash_locally",
                    "Public Key",
                ],
            ),
            ("Linux admin (optional)", &["login"]),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The typed fields only Commander's JSON import can create: the user's
/// private key and the PAM Machine record.
#[test]
fn the_json_template_also_creates_the_private_key_and_the_machine_record() {
    let help = harness::inputs::template::help(BIN);
    let records = harness::inputs::template::json("ssh-user").unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    for (title, fields) in [
        ("Linux user (template)", &["privatePEMKey"][..]),
        ("Linux admin (optional)", &["privatePEMKey"][..]),
        (
            "Linux machine",
            &[
                "pamHostname",
                "operatingSystem",
                "SSH Host Key",
                "trust_host_key_on_first_use",
            ][..],
        ),
    ] {
        let Some(record) = records.iter().find(|r| r.title == title) else {
            problems.push(format!("ssh-user.json has no record titled {title:?}"));
            continue;
        };
        for field in fields {
            if record.field(field).is_none() {
                problems.push(format!("ssh-user.json: {title:?} lacks {field}"));
            }
            if !help.contains(field) {
                problems.push(format!("--help no longer names {field}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
