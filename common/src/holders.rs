//! Before a credential is retired, every record that holds it gets the new
//! one.
//!
//! Why: the record the rotation stores in is rarely the only one holding a
//! credential. When an Entra application rotates its own secret, that secret
//! also sits in the attached admin record and in the PAM configuration's
//! `clientSecret`, which is the Gateway's own Azure credential. Retiring it
//! while the PAM configuration still holds it leaves the Gateway with a
//! secret Entra refuses, and a run that says "rotated".
//!
//! The rule, for every binary that retires a credential: every record of the
//! input that holds a value being retired (as the Gateway sent it, or, for
//! the records the binary names, such as the PAM configuration in a
//! self-rotation, as the vault holds it) is given the new value in that field
//! and saved, before anything is retired. The vault's copy is the one
//! written: the record is read fresh and the fields that hold an old value
//! are written, whatever they are called (a standard field by label or type,
//! or a custom one). A record that holds one and cannot be updated (not
//! shared with the Gateway's application, a save refused or unanswered, a
//! field still holding it after the save, an id whose secret the run does
//! not know) is named, and the caller keeps every old credential: exit 3.
//!
//! A record the vault does not show to the Gateway's application and whose
//! copy in the input holds no old value cannot be checked; it is logged,
//! never guessed about. A run that points at no holder reads nothing more.

use crate::driver::Run;
use crate::error::Error;
use crate::gateway::GatewayInput;
use crate::records::Record;
use crate::replace::{Failure, Step};
use crate::secret::Secret;
use crate::vault::Change;

/// A value being retired and the one that takes its place.
#[derive(Debug, Clone)]
pub struct Swap {
    pub old: Secret,
    pub new: Secret,
}

impl Swap {
    pub fn new(old: &Secret, new: &Secret) -> Self {
        Self {
            old: old.clone(),
            new: new.clone(),
        }
    }
}

/// A credential being retired, as records may hold it: its secret and, for
/// a credential with a public id (an access key id), its id. A record holds
/// it if a field holds either.
#[derive(Debug, Clone, Default)]
pub struct Retiring {
    /// The id and the new credential's id (plain text: ids are named in
    /// messages).
    pub id: Option<(String, String)>,
    /// The secret and the new credential's secret; `None` when this run does
    /// not know it: a record holding the id then cannot be updated (its
    /// secret field cannot be told from the others).
    pub secret: Option<Swap>,
}

impl Retiring {
    /// A credential known by its secret alone (an Entra client secret).
    pub fn secret(old: &Secret, new: &Secret) -> Self {
        Self {
            id: None,
            secret: Some(Swap::new(old, new)),
        }
    }

    /// The change a field called `label` that holds `old` gets, if `old` is
    /// this credential's id or secret.
    fn change_for(&self, old: &str, label: &str) -> Option<Change> {
        if let Some((id, new)) = &self.id
            && id == old
        {
            return Some(Change::text(label, new.as_str()));
        }
        self.secret
            .as_ref()
            .filter(|swap| swap.old.expose() == old)
            .map(|swap| Change::secret(label, &swap.new))
    }

    fn olds(&self) -> Vec<&str> {
        let id = self
            .id
            .as_ref()
            .filter(|(old, new)| old != new)
            .map(|(old, _)| old.as_str());
        let secret = self
            .secret
            .as_ref()
            .filter(|s| s.old.expose() != s.new.expose())
            .map(|s| s.old.expose());
        id.into_iter()
            .chain(secret)
            .filter(|old| !old.trim().is_empty())
            .collect()
    }
}

/// Gives every record of the run's input that holds a credential of
/// `retiring` the new id and secret in its place (see the module
/// documentation).
///
/// Which records are read from the vault: those whose copy in the input
/// holds an old value, and those in `also`: records the binary knows may
/// hold one although the input does not show it (in a self-rotation, the
/// record the admin credentials came from and the PAM configuration, which
/// the Gateway may send with its uid and title only). `except` is the record
/// the replacement sequence stores in: it saves and re-reads that one
/// itself. `noun` is what the values are, for messages ("client secret").
///
/// Returns the records updated. The error names every record that still
/// holds an old value; `Unknown` when a save's outcome is unknown.
pub fn hand_over(
    run: &Run,
    except: &str,
    also: &[&str],
    retiring: &[Retiring],
    noun: &str,
) -> Step<Vec<String>> {
    hand_over_skipping(run, except, &[], also, retiring, noun)
}

/// [`hand_over`], leaving the records in `skip` as they are although they
/// hold a value being retired: records the binary knows use that value for
/// something the retirement does not touch (an SSH key authorized for
/// another account than the one whose key is rotated; giving them the new
/// key would lock them out).
pub fn hand_over_skipping(
    run: &Run,
    except: &str,
    skip: &[&str],
    also: &[&str],
    retiring: &[Retiring],
    noun: &str,
) -> Step<Vec<String>> {
    let olds: Vec<&str> = retiring.iter().flat_map(Retiring::olds).collect();
    if olds.is_empty() {
        return Ok(Vec::new());
    }
    // Ids whose secret this run does not know: a record holding one cannot
    // be given the new credential.
    let blind: Vec<&str> = retiring
        .iter()
        .filter(|r| r.secret.is_none())
        .filter_map(|r| r.id.as_ref().map(|(old, _)| old.as_str()))
        .collect();
    // The records the input shows holding an old value, and those the
    // binary names: the vault's copy of each is read (one read per record,
    // and none when nothing points at a holder).
    let mut uids: Vec<String> = Vec::new();
    let shown = shown_in_input(&run.input, except, &olds);
    let candidates = shown.iter().map(|r| r.uid()).chain(also.iter().copied());
    for uid in candidates {
        let uid = uid.trim();
        if !uid.is_empty()
            && uid != except
            && !skip.contains(&uid)
            && !uids.iter().any(|u| u == uid)
        {
            uids.push(uid.to_owned());
        }
    }

    let mut updated = Vec::new();
    let mut failed = Vec::new();
    let mut unknown = false;
    for uid in &uids {
        let input_copy = run.input.records.all().iter().find(|r| r.uid() == uid);
        let in_input: Vec<&str> = input_copy
            .map(|record| {
                record
                    .keys()
                    .filter(|key| record.values(key).any(|v| holds(v, &olds)))
                    .collect()
            })
            .unwrap_or_default();
        let named =
            input_copy.map_or_else(|| format!("record {uid}"), |r| r.location().to_string());
        let record = match run.vault().and_then(|mut vault| vault.fetch(uid)) {
            Ok(record) => record,
            Err(Error::Config(why)) if in_input.is_empty() => {
                tracing::info!(
                    "{named} could not be read from the vault ({why}); its copy in the input \
                     holds no {noun} being retired"
                );
                continue;
            }
            Err(e) if in_input.is_empty() => {
                unknown |= matches!(e, Error::NoAnswer { .. });
                failed.push(format!(
                    "{named} could not be read to check whether it holds the {noun} being \
                     retired ({e})"
                ));
                continue;
            }
            Err(e) => {
                unknown |= matches!(e, Error::NoAnswer { .. });
                failed.push(format!(
                    "{named} holds the {noun} being retired (in {}) and could not be updated: \
                     {e}",
                    in_input.join(", ")
                ));
                continue;
            }
        };
        let location = record.location().to_string();
        let unknown_secret = record.fields_holding(&blind);
        if !unknown_secret.is_empty() {
            failed.push(format!(
                "{location} holds the id of the {noun} being retired (in {}) whose secret this run \
                 does not know, so its fields cannot be updated",
                unknown_secret.join(", ")
            ));
            continue;
        }
        let mut changes: Vec<Change> = Vec::new();
        // A field the write would not reach: one without a name, or one
        // whose name first finds another field (a duplicate label). Writing
        // there would change the wrong field and leave the old value.
        let mut out_of_reach: Vec<String> = Vec::new();
        for credential in retiring {
            for old in credential.olds() {
                for name in record.fields_holding(&[old]) {
                    let reached = !name.is_empty()
                        && record
                            .text(&name)
                            .ok()
                            .flatten()
                            .is_some_and(|now| now.trim() == old.trim());
                    if !reached {
                        out_of_reach.push(if name.is_empty() {
                            "a field without a label or type".to_owned()
                        } else {
                            format!("a second field called {name}")
                        });
                    } else if !changes.iter().any(|c| c.label.eq_ignore_ascii_case(&name)) {
                        changes.extend(credential.change_for(old, &name));
                    }
                }
            }
        }
        if !out_of_reach.is_empty() {
            failed.push(format!(
                "{location} holds the {noun} being retired in {}, which cannot be written in \
                 place",
                out_of_reach.join(", ")
            ));
            continue;
        }
        if changes.is_empty() {
            // The input's copy showed an old value and the vault's copy holds
            // neither it nor the new one: the record changed since the input
            // was made (a re-paste, another run). Whatever it holds now
            // cannot be shown to survive the retirement: keep the old one.
            let news: Vec<&str> = retiring
                .iter()
                .flat_map(|r| {
                    r.id.iter()
                        .map(|(_, new)| new.as_str())
                        .chain(r.secret.iter().map(|s| s.new.expose()))
                })
                .collect();
            if !in_input.is_empty() && record.fields_holding(&news).is_empty() {
                failed.push(format!(
                    "{location}'s copy in the Gateway's input holds the {noun} being retired (in \
                     {}), but its copy in the vault no longer does, nor the new one: it changed \
                     since, and what it holds now is not known to survive",
                    in_input.join(", ")
                ));
            }
            continue;
        }
        let fields = changes
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match run
            .vault()
            .and_then(|mut vault| vault.update_checked(uid, &changes, |_| Ok(())))
        {
            Ok(saved) => {
                let left = saved.fields_holding(&olds);
                if left.is_empty() {
                    tracing::info!(
                        "stored the new {noun} in {location} too ({fields} held the one being \
                         retired)"
                    );
                    updated.push(location);
                } else {
                    failed.push(format!(
                        "{location} still holds the {noun} being retired in {} after the new one \
                         was stored in {fields}",
                        left.join(", ")
                    ));
                }
            }
            Err(e) => {
                unknown |= matches!(e, Error::NoAnswer { .. });
                failed.push(format!(
                    "{location} holds the {noun} being retired (in {fields}) and storing the new \
                     one there failed ({e})"
                ));
            }
        }
    }
    if failed.is_empty() {
        return Ok(updated);
    }
    let text = format!(
        "{}. A record still holding it would stop working once it is retired: store the new \
         {noun} there (it is in the record being rotated), then retire the old one or run the \
         rotation again",
        failed.join("; ")
    );
    Err(if unknown {
        Failure::Unknown(text)
    } else {
        Failure::Definite(text)
    })
}

/// The records of `input` other than `except` whose copy in the input holds
/// one of `values` (compared without surrounding spaces). A credential one
/// of them holds cannot be revoked before a new one exists (to make room)
/// without breaking that record.
pub fn shown_in_input<'i>(
    input: &'i GatewayInput,
    except: &str,
    values: &[&str],
) -> Vec<&'i Record> {
    input
        .records
        .all()
        .iter()
        .filter(|record| record.uid() != except)
        .filter(|record| {
            record
                .keys()
                .any(|key| record.values(key).any(|v| holds(v, values)))
        })
        .collect()
}

/// Whether an input value (text, or a list of texts) equals one of `olds`,
/// without surrounding spaces.
fn holds(value: &serde_json::Value, olds: &[&str]) -> bool {
    let equal = |text: &str| {
        let text = text.trim();
        !text.is_empty() && olds.iter().any(|old| old.trim() == text)
    };
    match value {
        serde_json::Value::String(text) => equal(text),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .any(equal),
        _ => false,
    }
}
