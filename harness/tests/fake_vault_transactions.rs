//! The fake vault's rotation transaction, driven by the SDK's own calls:
//! `update_secret` with transaction type rotation, then
//! `finalize_secret_update` or `rollback_secret_update`.
//!
//! The SDK runs in this process, so it is pointed at the fake with its own
//! `proxy_url` option instead of the environment. Certificate checks are
//! skipped here only: this test is about the protocol; the other vault tests
//! verify the fake's certificate through SSL_CERT_FILE.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use harness::FakeVault;
use keeper_secrets_manager_core::dto::payload::UpdateTransactionType;
use keeper_secrets_manager_core::{
    ClientOptionsBuilder, InMemoryKeyValueStorage, KvStoreType, SecretsManager,
};
use serde_json::json;

const USER: &str = "PamUserUid000000000001";

fn client(vault: &FakeVault) -> SecretsManager {
    let config = std::fs::read_to_string(vault.config_path()).unwrap();
    let storage = InMemoryKeyValueStorage::new(Some(config)).unwrap();
    let options = ClientOptionsBuilder::new(KvStoreType::InMemory(storage))
        .proxy_url(&format!("http://127.0.0.1:{}", vault.port()))
        .insecure_skip_verify(true)
        .build();
    SecretsManager::new(options).unwrap()
}

fn set_key_id(sm: &mut SecretsManager, value: &str) {
    let mut record = sm.get_secrets(vec![USER.into()]).unwrap().remove(0);
    let custom = record
        .record_dict
        .get_mut("custom")
        .unwrap()
        .as_array_mut()
        .unwrap();
    let field = custom
        .iter_mut()
        .find(|f| f["label"] == "aws_access_key_id")
        .unwrap();
    field["value"] = json!([value]);
    sm.update_secret_with_transaction(record, UpdateTransactionType::Rotation)
        .unwrap();
}

#[test]
fn a_finalized_rotation_keeps_the_new_value() {
    let vault = FakeVault::from_fixture("vault/records.json");
    let mut sm = client(&vault);
    set_key_id(&mut sm, "AKIATRANSACTION00001");
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIATRANSACTION00001")
    );
    sm.complete_transaction(USER, false).unwrap();
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIATRANSACTION00001")
    );
    assert_eq!(
        vault.endpoints(),
        ["get_secret", "update_secret", "finalize_secret_update"]
    );
}

#[test]
fn a_rolled_back_rotation_restores_the_old_value() {
    let vault = FakeVault::from_fixture("vault/records.json");
    let mut sm = client(&vault);
    set_key_id(&mut sm, "AKIATRANSACTION00002");
    sm.complete_transaction(USER, true).unwrap();
    assert_eq!(
        vault.field(USER, "aws_access_key_id").as_deref(),
        Some("AKIAOLDKEY0000000001")
    );
    assert_eq!(vault.revision(USER), Some(3));
}

#[test]
fn completing_without_an_open_transaction_is_refused() {
    let vault = FakeVault::from_fixture("vault/records.json");
    let mut sm = client(&vault);
    let error = sm
        .complete_transaction(USER, false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("no_transaction"), "{error}");
    assert_eq!(vault.revision(USER), Some(1));
}
