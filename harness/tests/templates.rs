//! The record templates (`templates/<use-case>.csv` for the vault's CSV import,
//! `templates/<use-case>.json` for Commander's JSON import): what every one of
//! them must hold. What each binary reads is checked next to the binary
//! (`bins/*/tests/template.rs`).

use harness::inputs::template::{self, TemplateRecord};

/// Every use case the harness knows has its templates.
fn use_cases() -> impl Iterator<Item = &'static str> {
    harness::rehearsal::USE_CASES.iter().map(|u| u.name)
}

/// Use cases whose script is a consumer update, attached beside a built-in
/// rotation (it pushes the rotated password to a copy elsewhere).
const CONSUMER_UPDATES: [&str; 1] = ["tenable-credential"];

fn both(use_case: &str) -> (Vec<TemplateRecord>, Vec<TemplateRecord>) {
    let csv = template::csv(use_case).unwrap_or_else(|e| panic!("{e}"));
    let json = template::json(use_case).unwrap_or_else(|e| panic!("{e}"));
    (csv, json)
}

/// Fields only a typed import can create: the CSV import makes Login records
/// with text custom fields, so these live in the JSON only.
fn typed_only(label: &str) -> bool {
    label == "privatePEMKey"
}

#[test]
fn the_csv_and_the_json_describe_the_same_records_and_fields() {
    for use_case in use_cases() {
        let (csv, json) = both(use_case);
        for row in &csv {
            let record = json
                .iter()
                .find(|r| r.title == row.title)
                .unwrap_or_else(|| {
                    panic!("{use_case}.json lacks the CSV's record {:?}", row.title)
                });
            let json_labels: Vec<&str> = record
                .labels()
                .into_iter()
                .filter(|l| !typed_only(l))
                .collect();
            assert_eq!(
                row.labels(),
                json_labels,
                "{use_case}: fields of {:?}",
                row.title
            );
            for (label, value, _) in &row.fields {
                assert_eq!(
                    record.field(label),
                    Some(value.as_str()),
                    "{use_case}: {:?}.{label}",
                    row.title
                );
            }
            assert_eq!(
                (&row.login, &row.password, &row.url, &row.shared_folder),
                (
                    &record.login,
                    &record.password,
                    &record.url,
                    &record.shared_folder
                ),
                "{use_case}: standard fields of {:?}",
                row.title
            );
        }
        // The JSON may add records the CSV import cannot make (a PAM Machine).
        for record in &json {
            let pam_resource = record
                .record_type
                .as_deref()
                .is_some_and(|t| t != "pamUser" && t != "login");
            assert!(
                pam_resource || csv.iter().any(|r| r.title == record.title),
                "{use_case}.csv lacks the JSON's record {:?}",
                record.title
            );
        }
    }
}

#[test]
fn each_json_template_creates_exactly_one_pam_user_to_rotate_with_noop_set() {
    for use_case in use_cases() {
        let (_, json) = both(use_case);
        let rotated: Vec<&TemplateRecord> = json
            .iter()
            .filter(|r| r.title.ends_with("(template)"))
            .collect();
        assert_eq!(
            rotated.len(),
            1,
            "{use_case}: one record titled '... (template)'"
        );
        let user = rotated[0];
        assert_eq!(user.record_type.as_deref(), Some("pamUser"), "{use_case}");
        assert!(
            !user.login.is_empty(),
            "{use_case}: the PAM User needs a login"
        );
        // The seeds' "Run PAM scripts only" records carry NOOP = True; a
        // consumer update runs beside the record's built-in rotation, which
        // NOOP would turn off.
        let noop = (!CONSUMER_UPDATES.contains(&use_case)).then_some("True");
        assert_eq!(user.field("NOOP"), noop, "{use_case}");
    }
}

#[test]
fn every_record_lands_in_the_same_shared_folder() {
    for use_case in use_cases() {
        let (csv, json) = both(use_case);
        for record in csv.iter().chain(&json) {
            assert_eq!(
                record.shared_folder, "Keeper Rotators",
                "{use_case}: {:?}",
                record.title
            );
        }
    }
}

#[test]
fn secret_fields_are_hidden_and_empty_and_passwords_are_placeholders() {
    for use_case in use_cases() {
        let (csv, json) = both(use_case);
        for record in &json {
            for (label, value, kind) in &record.fields {
                let secret_like = ["aws_secret_access_key", "client_secret", "privatePEMKey"]
                    .contains(&label.as_str());
                if secret_like {
                    assert_eq!(
                        kind.as_deref(),
                        Some("secret"),
                        "{use_case}: {label} must be hidden"
                    );
                }
                if kind.as_deref() == Some("secret") {
                    assert!(
                        value.is_empty(),
                        "{use_case}: {label} must be empty in a template"
                    );
                }
            }
        }
        for record in csv.iter().chain(&json) {
            assert!(
                record.password.is_empty()
                    || record.password.starts_with("replace-with-")
                    || record.password == "unused-but-required",
                "{use_case}: {:?} has a password that is not an obvious placeholder",
                record.title
            );
        }
    }
}
