//! Where the binary will connect: the machine record it picks and every
//! field it could read a host from, pointed at the fake machine, and the
//! guard that refuses a rehearsal still naming a real host.
//!
//! Why a room of its own: rotate-ssh-user connects directly, past the proxy
//! that keeps the HTTP binaries on this machine, so these few functions are
//! the only thing between a rehearsal and a real server. They are read and
//! tested on their own.

use serde_json::{Map, Value};

use super::{text, title};
use crate::rehearsal::world::lookup_keys;

/// The field the binary reads the machine's host from
/// (`bins/ssh-user/src/target.rs`).
pub(super) const HOSTNAME_FIELD: &str = "pamHostname";

/// The machine record as the binary selects it
/// (`bins/ssh-user/src/target.rs`, `machine_record`): the record other than
/// the user's whose uid is `resourceRecordUid`, else the only other record
/// holding a non-blank `pamHostname` (through the shared lookup). `None`:
/// the binary refuses (no machine, or several).
pub(super) fn selected_machine(
    params: &Map<String, Value>,
    dicts: &[Map<String, Value>],
) -> Option<String> {
    let param = |name: &str| params.get(name).and_then(Value::as_str).map(str::to_owned);
    let user_uid = param("userRecordUid");
    let others: Vec<&Map<String, Value>> = dicts
        .iter()
        .filter(|d| d.get("uid").and_then(Value::as_str) != user_uid.as_deref())
        .collect();
    let uid_of = |d: &Map<String, Value>| d.get("uid").and_then(Value::as_str).map(str::to_owned);
    if let Some(resource) = param("resourceRecordUid")
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        && let Some(found) = others
            .iter()
            .find(|d| uid_of(d).as_deref() == Some(&resource))
    {
        return uid_of(found);
    }
    let with: Vec<&&Map<String, Value>> = others
        .iter()
        .filter(|d| {
            lookup_keys(d, HOSTNAME_FIELD)
                .iter()
                .any(|k| d.get(k).is_some_and(|v| !common::records::is_blank(v)))
        })
        .collect();
    match with.as_slice() {
        [one] => uid_of(one),
        _ => None,
    }
}

/// Points every non-blank field of `dict` the binary could read its host
/// from at `host`. Blank ones stay: the binary passes over them, and
/// filling one would make a record the binary ignores a machine.
pub(super) fn repoint_hosts(dict: &mut Map<String, Value>, host: &Value) {
    for key in lookup_keys(dict, HOSTNAME_FIELD) {
        if dict
            .get(&key)
            .is_some_and(|v| !common::records::is_blank(v))
        {
            dict.insert(key, host.clone());
        }
    }
}

/// Whether a `pamHostname` value names this machine only: `127.0.0.1` or
/// `::1`, in each shape the binary reads (an object's `hostName`/`host`, a
/// `host:port` text, a list of one). Anything else is not.
fn names_loopback(value: &Value) -> bool {
    let loopback = |host: &str| {
        let host = host.trim();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.split_once(']'))
            .map_or_else(
                || match host.matches(':').count() {
                    1 => host.split_once(':').map_or(host, |(h, _)| h),
                    _ => host,
                },
                |(h, _)| h,
            );
        matches!(host.trim(), "127.0.0.1" | "::1")
    };
    match value {
        Value::String(text) => loopback(text),
        Value::Object(map) => {
            let hosts: Vec<&Value> = map
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("hostName") || k.as_str() == "host")
                .map(|(_, v)| v)
                .collect();
            !hosts.is_empty() && hosts.iter().all(|v| v.as_str().is_some_and(loopback))
        }
        Value::Array(items) => {
            let present: Vec<&Value> = items
                .iter()
                .filter(|v| !common::records::is_blank(v))
                .collect();
            present.len() == 1 && names_loopback(present[0])
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Refuses the rehearsal when any record the binary is given still names
/// a host that is not this machine in a field it could read its host from:
/// the SSH client connects directly (no proxy the fake vault could refuse
/// it at), so this is the one place that keeps a rehearsal off a real host.
pub(crate) fn contained_hosts(dicts: &[Map<String, Value>]) -> Result<(), String> {
    for dict in dicts {
        for key in lookup_keys(dict, HOSTNAME_FIELD) {
            let Some(value) = dict.get(&key) else {
                continue;
            };
            if common::records::is_blank(value) || names_loopback(value) {
                continue;
            }
            return Err(format!(
                "refusing to rehearse: the field '{}' of '{}' (uid {}) would still send \
                 rotate-ssh-user to {}, not to the fake machine on 127.0.0.1, and the harness \
                 could not point it there. Nothing was run. Give the records a resourceRecordUid \
                 naming the machine record (or --resource), or remove the host from the other \
                 records",
                common::log::escape_controls(&key),
                common::log::escape_controls(&title(dict)),
                common::log::escape_controls(&text(dict, "uid").unwrap_or_default()),
                common::log::escape_controls(&value.to_string()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn machine(host: Value) -> Map<String, Value> {
        let Value::Object(map) = json!({"uid": "m", "title": "web-1", "PAMHOSTNAME": host}) else {
            unreachable!("an object")
        };
        map
    }

    #[test]
    fn a_staged_record_still_naming_a_host_off_this_machine_refuses_the_rehearsal() {
        for host in [
            json!({"hostName": "198.51.100.1", "port": "22"}),
            json!({"hostName": "127.0.0.1", "host": "198.51.100.1"}),
            json!("198.51.100.1:22"),
            json!("localhost"),
            json!("127.0.0.2"),
            json!(["127.0.0.1", "198.51.100.1"]),
            json!(22),
        ] {
            let refused = contained_hosts(&[machine(host.clone())]);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains("'web-1'") && e.contains("Nothing was run")),
                "{host}: {refused:?}"
            );
        }
    }

    #[test]
    fn loopback_hosts_in_every_shape_the_binary_reads_and_blank_ones_pass_the_guard() {
        for host in [
            json!({"hostName": "127.0.0.1", "port": "2222"}),
            json!("127.0.0.1:2222"),
            json!("[::1]:2222"),
            json!("::1"),
            json!([{"hostName": "::1"}]),
            json!(""),
            Value::Null,
        ] {
            assert_eq!(contained_hosts(&[machine(host.clone())]), Ok(()), "{host}");
        }
    }
}
