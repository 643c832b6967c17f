//! How the old key is retired (the record's `retire_old_key`) and what the
//! record notes of the keys this binary deactivated
//! (`deactivated_access_key_ids`).
//!
//! Why apart: the grace period's rules (which keys are this binary's to
//! delete later, which were made Active again by someone and are theirs)
//! change for their own reasons, not with the rotation's steps.

use common::error::{Error, Result};
use common::replace::Retirement;
use common::vault::VaultRecord;

use crate::plan;
use crate::plan::DEACTIVATED_FIELD as DEACTIVATED;

/// The record field that chooses how the old key is retired.
pub(crate) const RETIRE: &str = "retire_old_key";

/// [`DEACTIVATED`]: key ids separated by commas. Anything else was not
/// written by this binary: refused before anything is sent, and not shown.
pub(crate) fn deactivated_ids(record: &VaultRecord) -> Result<Vec<String>> {
    let Some(text) = record.text(DEACTIVATED)? else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = text
        .split(',')
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    if ids
        .iter()
        .all(|id| id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Ok(ids);
    }
    Err(Error::invalid(
        DEACTIVATED,
        record.location(),
        "it is not a list of access key ids separated by commas (this binary writes it: the \
         keys it deactivated); correct it or clear it; nothing was changed"
            .to_owned(),
    ))
}

/// `retire_old_key`: `delete` (also when absent or empty) or `deactivate`,
/// in any case. Any other value is refused before anything is sent; it is
/// shown only when it is a short plain word (a secret pasted into the
/// wrong field is not).
pub(crate) fn retirement(record: &VaultRecord) -> Result<Retirement> {
    let Some(value) = record.text(RETIRE)? else {
        return Ok(Retirement::Revoke);
    };
    let given = value.trim();
    match given.to_ascii_lowercase().as_str() {
        "" | "delete" => Ok(Retirement::Revoke),
        "deactivate" => Ok(Retirement::Deactivate),
        _ => {
            // A lower-case word only: a password has capitals or digits.
            let shown = if given.len() <= 20 && given.chars().all(|c| c.is_ascii_lowercase()) {
                format!("'{given}'")
            } else {
                format!(
                    "a value of {} characters (not shown)",
                    given.chars().count()
                )
            };
            Err(Error::invalid(
                RETIRE,
                record.location(),
                format!(
                    "{shown} is not one of the values accepted: delete (the default: the old \
                     key is deleted) or deactivate (the old key is set Inactive and kept); \
                     nothing was changed"
                ),
            ))
        }
    }
}

/// [`DEACTIVATED`] after a run: the keys it listed before that this binary
/// had deactivated and that were not deleted now, then those it deactivated
/// (a completed interrupted rotation's keys already Inactive included: that
/// run deactivated them), oldest first, once each.
pub(crate) fn deactivated_now(
    before: &[String],
    plan: &plan::Plan,
    keys: &[plan::Key],
    deleted: &[String],
    deactivated: &[String],
) -> Vec<String> {
    // Listed and Inactive: a key listed Active was made active again by
    // someone, and is theirs now.
    let listed = |id: &String| keys.iter().any(|k| &k.id == id && !k.active);
    let already: Vec<String> = if plan.complete {
        plan.retire
            .iter()
            .filter(|id| keys.iter().any(|k| &k.id == *id && !k.active))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let mut ours: Vec<String> = Vec::new();
    for id in before
        .iter()
        .filter(|id| listed(id) && !deleted.contains(id))
        .chain(&already)
        .chain(deactivated)
    {
        if !ours.contains(id) {
            ours.push(id.clone());
        }
    }
    ours
}

/// The keys retired after the new one is stored and verified: the plan's,
/// except, when they are deactivated, those already Inactive (retired
/// already; they are deleted when a later rotation needs room).
pub(crate) fn retired_keys(plan: &plan::Plan, keys: &[plan::Key], how: Retirement) -> Vec<String> {
    plan.retire
        .iter()
        .filter(|id| how == Retirement::Revoke || keys.iter().any(|k| &k.id == *id && k.active))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, active: bool) -> plan::Key {
        plan::Key {
            id: id.into(),
            active,
            last_used: None,
            last_used_known: true,
        }
    }

    #[test]
    fn a_deactivated_key_made_active_again_is_no_longer_noted_as_deactivated_by_this_binary() {
        let keys = [key("MINE", false), key("THEIRS", true)];
        let plan = plan::Plan {
            make_room: None,
            retire: Vec::new(),
            complete: false,
        };
        let before = ["MINE".to_owned(), "THEIRS".to_owned(), "GONE".to_owned()];
        assert_eq!(deactivated_now(&before, &plan, &keys, &[], &[]), ["MINE"]);
    }
}
