use super::*;
use common::error::Location;

use crate::authorized_keys;
use crate::keys::KeyType;
use crate::remote::{self, KeysFile, Owner};

#[test]
fn two_runs_in_the_same_second_name_their_backups_apart_and_in_time_order() {
    let second = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (a, b) = (backup_id(second), backup_id(second));
    assert_ne!(a, b, "one name for two runs");
    assert!(a.starts_with("20270115T080000Z-"), "{a}");
    let later = backup_id(second + Duration::from_millis(1));
    let next_second = backup_id(second + Duration::from_secs(1));
    assert!(later > a && later > b, "{later} sorts after {a} and {b}");
    assert!(next_second > later, "{next_second} sorts after {later}");
}

const ED: &str = include_str!("../../../../fixtures/keys/ed25519.openssh");
const ED_PUB: &str = include_str!("../../../../fixtures/keys/ed25519.openssh.pub");
const OTHER: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

fn blob(line: &str) -> &str {
    authorized_keys::blob_of(line).unwrap()
}

fn plan(content: &str, remove_previous: bool) -> KeyPlan {
    KeyPlan::decide(KeyFacts {
        user: "alice",
        location: Location::Params,
        current: keys::parse(ED).unwrap(),
        new_type: KeyType::Ed25519,
        path: "/home/alice/.ssh/authorized_keys".into(),
        owner: Owner::Root,
        read: KeysFile::Present {
            content: content.into(),
            sha256: remote::sha256_hex(content.as_bytes()),
            mode: "600".into(),
        },
        remove_previous,
    })
    .unwrap()
}

#[test]
fn a_blob_fingerprint_is_ssh_keygens() {
    let key = keys::parse(ED).unwrap();
    assert_eq!(
        blob_fingerprint(blob(ED_PUB)).unwrap(),
        keys::fingerprint(key.key.public_key())
    );
    assert_eq!(blob_fingerprint("not base64!"), None);
}

#[test]
fn the_first_rotation_retires_the_records_key_on_an_untagged_line() {
    let p = plan(&format!("{OTHER} laptop\n{ED_PUB}"), false);
    assert_eq!(p.before.len(), 2);
    assert!(p.current_in_file);
    assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
}

#[test]
fn the_records_key_under_a_rewritten_tag_comment_is_retired() {
    let content = format!(
        "{OTHER} laptop\n{} keeper-security-alice (imported by cfg-tool)\n",
        blob_line(ED_PUB)
    )
    .replace(
        "keeper-security-alice (imported",
        "managed-by-cfg-tool (imported",
    );
    let p = plan(&content, false);
    assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
}

#[test]
fn an_untagged_key_an_interrupted_rotation_meant_to_retire_is_retired_before_the_records() {
    // The record holds ED (stored by the interrupted run); OTHER, the
    // key it replaced, sits untagged: only the lease's plan names it.
    let mut p = plan(&format!("{OTHER} laptop\n{ED_PUB}"), false);
    let other = blob_fingerprint(blob(OTHER)).unwrap();
    assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
    p.also_retire(&[other.clone(), "SHA256:not-in-the-file".into()]);
    assert_eq!(p.retire, [other.clone(), p.current_fingerprint.clone()]);
    p.also_retire(std::slice::from_ref(&other));
    assert_eq!(p.retire.len(), 2, "a key is retired once");
}

#[test]
fn remove_previous_key_retires_the_records_untagged_key() {
    let p = plan(&format!("{OTHER} laptop\n{ED_PUB}"), true);
    assert_eq!(p.retire, std::slice::from_ref(&p.current_fingerprint));
}

#[test]
fn a_later_rotation_retires_the_tagged_line_the_records_key_last() {
    let content = format!(
        "{OTHER} keeper-security-alice\n{} keeper-security-alice\n{OTHER} laptop\n",
        blob_line(ED_PUB)
    );
    let p = plan(&content, false);
    let other = blob_fingerprint(blob(OTHER)).unwrap();
    assert_eq!(p.before, [other.clone(), p.current_fingerprint.clone()]);
    assert_eq!(p.retire, [other, p.current_fingerprint.clone()]);
}

#[test]
fn a_record_key_missing_from_the_file_is_never_retired() {
    let p = plan(&format!("{OTHER} laptop\n"), true);
    assert!(!p.current_in_file);
    assert!(p.retire.is_empty());
}

fn blob_line(public: &str) -> String {
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
