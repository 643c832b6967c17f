//! `templates/meraki-user.csv` and `templates/meraki-user.json` create the
//! records rotate-meraki-user reads, with every field it reads or writes.

const BIN: harness::Binary = harness::binary!("rotate-meraki-user");

#[test]
fn the_template_creates_the_admin_record_and_the_user_record_with_every_field_read() {
    let problems = harness::inputs::template::problems(
        "meraki-user",
        &harness::inputs::template::help(BIN),
        &[
            ("Cisco Authentication Record", &["password", "network_id"]),
            (
                "Meraki user (template)",
                &["login", "password", "meraki_record_title"],
            ),
        ],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
