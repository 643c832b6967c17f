use super::*;
use keeper_secrets_manager_core::Record as SdkRecord;
use serde_json::{Value, json};

fn record(dict: Value) -> VaultRecord {
    let Value::Object(map) = dict else {
        panic!("a record is an object")
    };
    VaultRecord {
        inner: SdkRecord {
            uid: "u1".into(),
            title: "t".into(),
            record_dict: map.into_iter().collect(),
            ..SdkRecord::default()
        },
    }
}

fn values(record: &VaultRecord, section: &str) -> Vec<Value> {
    record.inner.record_dict[section]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].clone())
        .collect()
}

#[test]
fn the_fields_holding_a_credential_are_named_by_label_else_by_type_in_both_sections() {
    let record = record(json!({
        "fields": [{"type": "login", "value": ["alice"]},
                   {"type": "secret", "label": "clientSecret", "value": [" old "]},
                   {"type": "password", "value": ["old"]}],
        "custom": [{"type": "secret", "label": "client_secret", "value": ["old"]},
                   {"type": "text", "label": "other", "value": ["older"]},
                   {"type": "text", "label": "list", "value": ["x", "old"]},
                   {"value": ["old"]}]
    }));
    assert_eq!(
        record.fields_holding(&["old"]),
        ["clientSecret", "password", "client_secret", "list", ""]
    );
    assert!(record.fields_holding(&["  "]).is_empty());
    assert!(record.fields_holding(&["new"]).is_empty());
}

#[test]
fn a_field_is_written_where_it_is_read_by_label_else_by_type() {
    let mut by_label = record(json!({
        "fields": [{"type": "login", "value": ["alice"]},
                   {"type": "secret", "label": "privatePEMKey", "value": ["old"]}],
        "custom": []
    }));
    by_label.set_custom(&Change::text("privatePEMKey", "new"));
    assert_eq!(
        values(&by_label, "fields"),
        [json!(["alice"]), json!(["new"])]
    );
    assert_eq!(
        by_label.text("privatePEMKey").unwrap().as_deref(),
        Some("new")
    );
    assert!(values(&by_label, "custom").is_empty());

    let mut by_type = record(json!({
        "fields": [{"type": "privatePEMKey", "value": ["old"]}],
        "custom": [{"type": "text", "label": "other", "value": ["x"]}]
    }));
    by_type.set_custom(&Change::text("privatePEMKey", "new"));
    assert_eq!(values(&by_type, "fields"), [json!(["new"])]);
    assert_eq!(values(&by_type, "custom"), [json!(["x"])]);

    // Standard fields come before custom ones, as when reading; a missing
    // field is added as a custom one.
    let mut both = record(json!({
        "fields": [{"type": "Public Key", "value": ["typed"]}],
        "custom": [{"type": "text", "label": "Public Key", "value": ["labelled"]}]
    }));
    both.set_custom(&Change::text("Public Key", "new"));
    assert_eq!(values(&both, "fields"), [json!(["new"])]);
    both.set_custom(&Change::text("absent", "added"));
    assert_eq!(
        values(&both, "custom"),
        [json!(["labelled"]), json!(["added"])]
    );
}

#[test]
fn a_vault_error_shows_its_two_fields_and_never_a_body() {
    let e = KSMRError::HTTPError("Error: out_of_sync, message=revision\nmismatch".into());
    assert_eq!(sdk_error(&e), "out_of_sync: revision mismatch");
    let body = KSMRError::DeserializationError("Invalid JSON response: <html>hello".into());
    let shown = sdk_error(&body);
    assert!(!shown.contains("hello"), "{shown}");
    assert!(shown.contains("not shown"), "{shown}");
}

#[test]
fn only_the_secret_config_values_are_redacted() {
    let dir = std::env::temp_dir().join(format!("vault-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        r#"{"hostname": "keeper.example", "clientId": "client-id-secret-1", "privateKey": "private-key-secret-1",
            "appKey": "app-key-secret-1", "serverPublicKeyId": "10"}"#,
    )
    .unwrap();
    VaultConfig::load(&path).unwrap();
    let shown = crate::secret::redact(
        "keeper.example 10 client-id-secret-1 private-key-secret-1 app-key-secret-1",
    );
    assert_eq!(shown, "keeper.example 10 [redacted] [redacted] [redacted]");
    std::fs::remove_dir_all(&dir).unwrap();
}
