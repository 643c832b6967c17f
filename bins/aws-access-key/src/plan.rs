//! Which keys go, and when: pure decisions over the user's keys, tested on
//! their own.
//!
//! IAM allows two keys per user. With two, one must go before a new one can
//! be made: never the key the record stores (it is what consumers use), and
//! only one that can be shown unused: an Inactive one, or the other key when
//! the record's key is one of the two and the other was not used in the last
//! [`RECENT_DAYS`] days (two consumers of one IAM user often hold one key
//! each, in two records: "not this record's key" alone does not make a key
//! unused), or the key an interrupted rotation of this record meant to
//! delete (its lease recorded it, and the record holds the key that run
//! stored: [`common::lease`]). Otherwise only
//! `delete_all_keys_before_rotating` allows it. After
//! the new key is stored and verified, every other key goes, the record's key
//! last.
//!
//! With `retire_old_key = deactivate` the record asked for a grace period,
//! and a key is deleted only once it had it: room is made only with an
//! Inactive key this binary deactivated (the record lists them: someone
//! else's Inactive key may be kept on purpose), and never with an Active
//! one. A rotation that an interrupted run left with old keys to deactivate
//! is completed ([`Plan::complete`]): they are deactivated, and no key is
//! deleted or created in that run.

use std::fmt;

use common::lease::Retirement;
use std::time::{Duration, SystemTime};

/// A key used more recently than this may be another consumer's.
pub const RECENT_DAYS: u64 = 7;

/// What is known of one existing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub active: bool,
    /// ISO 8601 time of last use; `None` when never used or unknown.
    pub last_used: Option<String>,
    /// Whether `last_used` could be read (iam:GetAccessKeyLastUsed allowed).
    pub last_used_known: bool,
}

/// Why a key is deleted before the new one is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The record stores the other key, and this one was not used recently.
    NotStored,
    /// It is Inactive: nothing can be using it.
    Inactive,
    /// delete_all_keys_before_rotating: the least recently used goes first.
    DeleteAll,
    /// An interrupted rotation of this record stored the record's key and
    /// meant to delete this one once that key worked.
    Interrupted,
    /// It is Inactive, and a rotation of this record deactivated it
    /// (`retire_old_key = deactivate`): its grace period is over.
    Deactivated,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotStored => write!(
                f,
                "it is not the key the record stores and was not used in the last {RECENT_DAYS} \
                 days"
            ),
            Self::Inactive => f.write_str("it is Inactive"),
            Self::DeleteAll => f.write_str(
                "delete_all_keys_before_rotating is true and it is the least recently used",
            ),
            Self::Interrupted => f.write_str(
                "an interrupted rotation of this record stored the record's key to replace it \
                 and meant to delete it once that key worked",
            ),
            Self::Deactivated => f.write_str(
                "it is Inactive, deactivated by an earlier rotation of this record, and has had \
                 its grace period",
            ),
        }
    }
}

/// The plan for one rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Deleted before the new key is created, to make room.
    pub make_room: Option<(String, Reason)>,
    /// Deleted after the new key is stored and verified, in this order (the
    /// record's key last).
    pub retire: Vec<String>,
    /// Completes the rotation an interrupted run began instead (with
    /// `retire_old_key = deactivate`): the record's key, which that run
    /// stored, is checked, `retire` is deactivated, and no key is created.
    pub complete: bool,
}

/// Why no plan can be made without the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSafeChoice {
    pub keys: Vec<String>,
    pub stored: Option<String>,
    /// A key not in the record that was used recently: (id, last use).
    pub recent: Option<(String, String)>,
    /// With `retire_old_key = deactivate`: the Inactive keys left alone
    /// because no rotation of this record deactivated them; `None` in
    /// `delete` mode.
    pub not_deactivated_here: Option<Vec<String>>,
}

impl fmt::Display for NoSafeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(others) = &self.not_deactivated_here {
            return write!(
                f,
                "the user already has two access keys ({}) and IAM allows no third. With \
                 retire_old_key = deactivate, only an Inactive key that a rotation of this \
                 record deactivated (the record's {DEACTIVATED_FIELD}) is deleted to make room, \
                 never an Active one, and there is none{}; nothing was changed. Delete a \
                 key nothing needs in IAM, or set retire_old_key to delete (then a key shown to \
                 be unused is deleted to make room), and rotate again",
                self.keys.join(" and "),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {} Inactive but not deactivated by this binary (it is left alone: \
                         someone may keep it on purpose)",
                        if others.len() == 1 {
                            format!("{} is", others[0])
                        } else {
                            format!("{} are", others.join(" and "))
                        }
                    )
                }
            );
        }
        if let Some((id, used)) = &self.recent {
            return write!(
                f,
                "the user already has two active access keys ({}) and IAM allows no third. The \
                 record stores {}, but the other key, {id}, was used on {used}, within the last \
                 {RECENT_DAYS} days: another consumer (another record?) may use it. Either \
                 delete {id} in IAM if nothing needs it, or set the user record's custom field \
                 delete_all_keys_before_rotating to true (then {id} is deleted first, the \
                 record's key after the new key is stored and verified)",
                self.keys.join(" and "),
                self.stored.as_deref().unwrap_or("no key"),
            );
        }
        write!(
            f,
            "the user already has two active access keys ({}) and the record stores {}, so \
             neither can be shown to be unused, and IAM allows no third. Either delete the \
             unused key in IAM, or put the key in use in the record's aws_access_key_id (the \
             other one will then be deleted), or set the user record's custom field \
             delete_all_keys_before_rotating to true (the least recently used key is then \
             deleted first, the other after the new key is stored and verified)",
            self.keys.join(" and "),
            match &self.stored {
                Some(id) => format!("a different key ({id})"),
                None => "no key".into(),
            }
        )
    }
}

/// The record field listing the keys this binary deactivated, which a
/// later rotation may delete to make room.
pub const DEACTIVATED_FIELD: &str = "deactivated_access_key_ids";

/// Decides the deletions. `keys` are the user's keys now; `stored` the key id
/// in the record's `aws_access_key_id`; `now` the time to judge recent use by;
/// `interrupted` the keys an interrupted rotation that stored `stored` meant
/// to retire ([`common::lease::Interrupted::retirable`]) and how it meant to
/// retire them (its lease's [`common::lease::Progress::retirement`]);
/// `deactivating`, with `retire_old_key = deactivate`, the keys the record
/// says this binary deactivated, oldest first (`None`: `delete`).
///
/// The interrupted rotation is completed ([`Plan::complete`]) when it meant
/// to deactivate (whatever the record says now: those keys keep the grace
/// they were promised), or the record says `deactivate`, and the key it
/// stored is listed Active. Keys promised a deactivation are never deleted
/// to make room as the interrupted run's plan.
pub fn plan(
    keys: &[Key],
    stored: Option<&str>,
    delete_all: bool,
    now: SystemTime,
    interrupted: (&[String], Retirement),
    deactivating: Option<&[String]>,
) -> Result<Plan, NoSafeChoice> {
    let (interrupted, promised) = interrupted;
    let completing = promised == Retirement::Deactivate || deactivating.is_some();
    if let (true, Some(stored)) = (completing, stored)
        && keys.iter().any(|k| k.id == stored && k.active)
    {
        let left: Vec<String> = keys
            .iter()
            .filter(|k| k.id != stored && interrupted.contains(&k.id))
            .map(|k| k.id.clone())
            .collect();
        if !left.is_empty() {
            return Ok(Plan {
                make_room: None,
                retire: left,
                complete: true,
            });
        }
    }
    // A deactivation promised is a grace period, not a deletion.
    let interrupted = match promised {
        Retirement::Revoke => interrupted,
        Retirement::Deactivate => &[],
    };
    let make_room = match (keys.len() >= 2, deactivating) {
        (false, _) => None,
        (true, Some(deactivated)) => Some(room_when_deactivating(keys, stored, deactivated)?),
        (true, None) => Some(choose_room(keys, stored, delete_all, now, interrupted)?),
    };
    let room_id = make_room.as_ref().map(|(id, _)| id.as_str());
    let mut retire: Vec<String> = keys
        .iter()
        .map(|k| k.id.clone())
        .filter(|id| Some(id.as_str()) != room_id)
        .collect();
    // The record's key goes last: until the very end it is what consumers use.
    retire.sort_by_key(|id| Some(id.as_str()) == stored);
    Ok(Plan {
        make_room,
        retire,
        complete: false,
    })
}

/// With `retire_old_key = deactivate`: room is made only with an Inactive
/// key this binary deactivated (`deactivated`, oldest first), never the
/// record's.
fn room_when_deactivating(
    keys: &[Key],
    stored: Option<&str>,
    deactivated: &[String],
) -> Result<(String, Reason), NoSafeChoice> {
    let candidates: Vec<&Key> = keys
        .iter()
        .filter(|k| Some(k.id.as_str()) != stored && !k.active)
        .collect();
    deactivated
        .iter()
        .find(|id| candidates.iter().any(|k| &k.id == *id))
        .map(|id| (id.clone(), Reason::Deactivated))
        .ok_or_else(|| NoSafeChoice {
            keys: keys.iter().map(|k| k.id.clone()).collect(),
            stored: stored.map(str::to_owned),
            recent: None,
            not_deactivated_here: Some(candidates.iter().map(|k| k.id.clone()).collect()),
        })
}

/// Whether `key` was used within [`RECENT_DAYS`] of `now`. A use date that
/// cannot be read counts as recent.
fn used_recently(key: &Key, now: SystemTime) -> bool {
    if !key.last_used_known {
        return true;
    }
    let Some(used) = &key.last_used else {
        return false;
    };
    let Some(when) = common::time::parse_iso8601(used) else {
        return true;
    };
    let window = Duration::from_secs(RECENT_DAYS * 86_400);
    now.duration_since(when).map_or(true, |age| age < window)
}

fn choose_room(
    keys: &[Key],
    stored: Option<&str>,
    delete_all: bool,
    now: SystemTime,
    interrupted: &[String],
) -> Result<(String, Reason), NoSafeChoice> {
    let stored_present = stored.is_some_and(|s| keys.iter().any(|k| k.id == s));
    let candidates: Vec<&Key> = keys
        .iter()
        .filter(|k| Some(k.id.as_str()) != stored)
        .collect();
    let mut recent = None;
    if stored_present && let [only] = candidates.as_slice() {
        if !only.active || !used_recently(only, now) {
            return Ok((
                only.id.clone(),
                if only.active {
                    Reason::NotStored
                } else {
                    Reason::Inactive
                },
            ));
        }
        // Recently used, by the consumers of the key it was replaced with:
        // the interrupted run's plan, which this run completes.
        if interrupted.contains(&only.id) {
            return Ok((only.id.clone(), Reason::Interrupted));
        }
        recent = Some((only.id.clone(), only.last_used.clone().unwrap_or_default()));
    }
    if let Some(inactive) = least_recently_used(candidates.iter().copied().filter(|k| !k.active)) {
        return Ok((inactive.id.clone(), Reason::Inactive));
    }
    if delete_all && let Some(key) = least_recently_used(candidates.iter().copied()) {
        return Ok((key.id.clone(), Reason::DeleteAll));
    }
    Err(NoSafeChoice {
        keys: keys.iter().map(|k| k.id.clone()).collect(),
        stored: stored.map(str::to_owned),
        recent,
        not_deactivated_here: None,
    })
}

/// Never used first, then the oldest last use (ISO 8601 sorts as text).
fn least_recently_used<'k>(keys: impl Iterator<Item = &'k Key>) -> Option<&'k Key> {
    keys.min_by(|a, b| a.last_used.cmp(&b.last_used))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-27T00:00:00Z.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_737_600)
    }

    fn plan(keys: &[Key], stored: Option<&str>, delete_all: bool) -> Result<Plan, NoSafeChoice> {
        super::plan(
            keys,
            stored,
            delete_all,
            now(),
            (&[], Retirement::Revoke),
            None,
        )
    }

    fn key(id: &str, active: bool, last_used: Option<&str>) -> Key {
        Key {
            id: id.into(),
            active,
            last_used: last_used.map(str::to_owned),
            last_used_known: true,
        }
    }

    #[test]
    fn an_active_key_whose_last_use_cannot_be_read_counts_as_recently_used() {
        // iam:GetAccessKeyLastUsed denied: "never used" is not known.
        let unknown = Key {
            last_used_known: false,
            ..key("AKIAOTHER0000000001", true, None)
        };
        let keys = [key("AKIASTORED000000001", true, None), unknown];
        assert!(
            plan(&keys, Some("AKIASTORED000000001"), false).is_err(),
            "no key may be deleted to make room"
        );
    }

    #[test]
    fn no_or_one_key_needs_no_room_and_retires_the_old_key() {
        assert_eq!(
            plan(&[], None, false).unwrap(),
            Plan {
                make_room: None,
                retire: vec![],
                complete: false,
            }
        );
        let one = [key("A", true, None)];
        assert_eq!(plan(&one, Some("A"), false).unwrap().retire, ["A"]);
    }

    #[test]
    fn two_keys_delete_the_one_the_record_does_not_store_first() {
        let keys = [
            key("A", true, Some("2026-01-01T00:00:00Z")),
            key("B", true, None),
        ];
        let plan = plan(&keys, Some("B"), false).unwrap();
        assert_eq!(plan.make_room, Some(("A".into(), Reason::NotStored)));
        assert_eq!(plan.retire, ["B"]);
    }

    #[test]
    fn two_unknown_keys_delete_an_inactive_one() {
        let keys = [
            key("A", true, None),
            key("B", false, Some("2026-01-01T00:00:00Z")),
        ];
        let plan = plan(&keys, None, false).unwrap();
        assert_eq!(plan.make_room, Some(("B".into(), Reason::Inactive)));
        assert_eq!(plan.retire, ["A"]);
    }

    #[test]
    fn two_active_unknown_keys_need_the_administrator() {
        let keys = [key("A", true, None), key("B", true, None)];
        let err = plan(&keys, Some("C"), false).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("A and B"), "{text}");
        assert!(text.contains("a different key (C)"), "{text}");
        assert!(text.contains("delete_all_keys_before_rotating"), "{text}");
    }

    #[test]
    fn delete_all_deletes_the_never_used_then_the_least_recently_used_first() {
        let keys = [
            key("A", true, Some("2026-05-01T00:00:00Z")),
            key("B", true, Some("2026-01-01T00:00:00Z")),
        ];
        let plan1 = plan(&keys, None, true).unwrap();
        assert_eq!(plan1.make_room, Some(("B".into(), Reason::DeleteAll)));
        let keys = [
            key("A", true, Some("2026-05-01T00:00:00Z")),
            key("B", true, None),
        ];
        assert_eq!(plan(&keys, None, true).unwrap().make_room.unwrap().0, "B");
    }

    #[test]
    fn delete_all_never_deletes_the_stored_key_before_the_new_one_is_safe() {
        let keys = [
            key("A", true, None),
            key("B", true, Some("2026-01-01T00:00:00Z")),
        ];
        let plan = plan(&keys, Some("A"), true).unwrap();
        assert_eq!(plan.make_room, Some(("B".into(), Reason::NotStored)));
        assert_eq!(plan.retire, ["A"]);
    }

    #[test]
    fn a_recently_used_key_the_record_does_not_store_is_not_taken_for_unused() {
        let keys = [
            key("A", true, Some("2026-11-01T00:00:00Z")),
            key("B", true, Some("2026-11-26T00:00:00Z")),
        ];
        let err = plan(&keys, Some("A"), false).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("B, was used on 2026-11-26T00:00:00Z"),
            "{text}"
        );
        assert!(text.contains("delete_all_keys_before_rotating"), "{text}");
        // Used eight days ago: no longer recent.
        let keys = [
            key("A", true, Some("2026-11-01T00:00:00Z")),
            key("B", true, Some("2026-11-19T00:00:00Z")),
        ];
        assert_eq!(
            plan(&keys, Some("A"), false).unwrap().make_room,
            Some(("B".into(), Reason::NotStored))
        );
        // Recently used but Inactive: nothing can be using it now.
        let keys = [
            key("A", true, None),
            key("B", false, Some("2026-11-26T00:00:00Z")),
        ];
        assert_eq!(
            plan(&keys, Some("A"), false).unwrap().make_room,
            Some(("B".into(), Reason::Inactive))
        );
        // delete_all still allows it.
        let keys = [
            key("A", true, Some("2026-11-01T00:00:00Z")),
            key("B", true, Some("2026-11-26T00:00:00Z")),
        ];
        assert!(plan(&keys, Some("A"), true).is_ok());
    }

    #[test]
    fn a_recently_used_key_an_interrupted_rotation_meant_to_delete_makes_room() {
        let keys = [
            key("OLD", true, Some("2026-11-26T00:00:00Z")),
            key("NEW", true, None),
        ];
        let interrupted = ["OLD".to_owned()];
        let plan = super::plan(
            &keys,
            Some("NEW"),
            false,
            now(),
            (&interrupted, Retirement::Revoke),
            None,
        )
        .unwrap();
        assert_eq!(plan.make_room, Some(("OLD".into(), Reason::Interrupted)));
        assert_eq!(plan.retire, ["NEW"]);
        // A key off that list keeps the protection of recent use.
        let other = ["ELSE".to_owned()];
        assert!(
            super::plan(
                &keys,
                Some("NEW"),
                false,
                now(),
                (&other, Retirement::Revoke),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn the_stored_key_is_retired_last() {
        let keys = [key("A", true, None)];
        assert_eq!(plan(&keys, Some("A"), false).unwrap().retire, ["A"]);
        let keys = [key("S", true, None), key("X", false, None)];
        let plan = plan(&keys, Some("S"), false).unwrap();
        assert_eq!(plan.make_room.unwrap().0, "X");
    }

    fn deactivating(
        keys: &[Key],
        stored: &str,
        interrupted: &[&str],
        deactivated: &[&str],
    ) -> Result<Plan, NoSafeChoice> {
        let interrupted: Vec<String> = interrupted.iter().map(|s| s.to_string()).collect();
        let deactivated: Vec<String> = deactivated.iter().map(|s| s.to_string()).collect();
        super::plan(
            keys,
            Some(stored),
            true,
            now(),
            (&interrupted, Retirement::Deactivate),
            Some(&deactivated),
        )
    }

    #[test]
    fn deactivating_makes_room_only_with_a_key_this_binary_deactivated() {
        let keys = [key("A", true, None), key("X", false, None)];
        assert_eq!(
            deactivating(&keys, "A", &[], &["X"]).unwrap().make_room,
            Some(("X".into(), Reason::Deactivated))
        );
        let err = deactivating(&keys, "A", &[], &["GONE"]).unwrap_err();
        assert_eq!(err.not_deactivated_here, Some(vec!["X".to_owned()]));
        // Never an Active key, whatever delete_all or its last use says.
        let keys = [key("A", true, None), key("B", true, None)];
        assert!(deactivating(&keys, "A", &[], &["B"]).is_err());
    }

    #[test]
    fn deactivating_completes_an_interrupted_rotation_instead_of_deleting() {
        let keys = [
            key("OLD", true, Some("2026-11-26T00:00:00Z")),
            key("NEW", true, None),
        ];
        let plan = deactivating(&keys, "NEW", &["OLD"], &[]).unwrap();
        assert_eq!(
            plan,
            Plan {
                make_room: None,
                retire: vec!["OLD".into()],
                complete: true
            }
        );
    }

    #[test]
    fn an_interrupted_rotation_is_completed_only_when_the_key_it_stored_is_active() {
        let keys = [key("OLD", true, None), key("NEW", false, None)];
        let plan = deactivating(&keys, "NEW", &["OLD"], &[]);
        assert!(!plan.is_ok_and(|p| p.complete));
    }

    #[test]
    fn a_promised_deactivation_is_completed_even_when_the_record_now_says_delete() {
        let keys = [
            key("OLD", true, Some("2026-11-26T00:00:00Z")),
            key("NEW", true, None),
        ];
        let interrupted = ["OLD".to_owned()];
        let plan = super::plan(
            &keys,
            Some("NEW"),
            false,
            now(),
            (&interrupted, Retirement::Deactivate),
            None,
        )
        .unwrap();
        assert_eq!(
            plan,
            Plan {
                make_room: None,
                retire: vec!["OLD".into()],
                complete: true
            }
        );
    }

    #[test]
    fn a_key_promised_a_deactivation_is_never_deleted_to_make_room_as_the_interrupted_plan() {
        // The key the interrupted run stored is Inactive now: nothing to
        // complete, and OLD was promised a grace period, not a deletion.
        let keys = [
            key("OLD", true, Some("2026-11-26T00:00:00Z")),
            key("NEW", false, None),
        ];
        let interrupted = ["OLD".to_owned()];
        let plan = super::plan(
            &keys,
            Some("NEW"),
            false,
            now(),
            (&interrupted, Retirement::Deactivate),
            None,
        );
        assert!(
            !plan
                .as_ref()
                .is_ok_and(|p| p.make_room.as_ref().is_some_and(|(id, _)| id == "OLD")),
            "{plan:?}"
        );
    }
}
