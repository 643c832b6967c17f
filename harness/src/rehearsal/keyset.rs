//! The verdict on a *key-set rotator*: a binary that adds a credential to a
//! set the service keeps (an IAM user's access keys, an application's
//! client secrets), stores the new one in the PAM User record itself, and
//! retires old ones.
//!
//! Why one verdict for all of them: the questions are the same for every
//! such service. Which credentials were in the set before the run and which
//! are now; which one the vault holds and whether it works; whether every
//! live credential the vault does not hold is one the output names (or one
//! the binary may leave alone); whether any record still holds a credential
//! that was retired; and whether the set's change matches the exit code.
//! Only the set and the words differ: those are a [`KeySetRotator`]
//! (`aws.rs`, `azure.rs`), which also seeds its fake.

use serde_json::Value;

use super::world::{Call, Service, named, proxied_calls};
use crate::fakes::vault::FakeVault;
use crate::faults::{Armable, FaultProxy, ProxiedRequest};
use crate::runner::Outcome;

/// One credential of the set, as the fake holds it now.
pub(super) struct Cred {
    /// Its id: an access key id, a secret's key id.
    pub id: String,
    /// Its secret (a secret access key, a client secret's text).
    pub secret: String,
    /// Whether it authenticates (an inactive AWS key does not).
    pub works: bool,
    /// How the end state lists it: `AKIA… (active)`.
    pub shown: String,
    /// Other names the output may call it by (a secret's display name).
    pub aliases: Vec<String>,
}

/// How the reports name a service's credentials and vault fields.
pub(super) struct Words {
    /// One credential: "key".
    pub noun: &'static str,
    /// Several: "keys".
    pub plural: &'static str,
    /// Its secret part: "secret" (a key's), "text" (a secret's).
    pub secret: &'static str,
    /// What became of a retired one: "deleted".
    pub retired: &'static str,
    /// The credential an exit 3 must not leave stored: "the old key".
    pub old: &'static str,
    /// The set, in a sentence: "IAM's keys".
    pub set: &'static str,
    /// The set, in a matrix cell: "IAM keys".
    pub short_set: &'static str,
    /// Who made the credentials: "IAM issued".
    pub issuer: &'static str,
    /// The PAM User's fields: the id, the secret, and a date beside them.
    pub id_field: &'static str,
    pub secret_field: &'static str,
    pub date_field: &'static str,
}

/// What differs between key-set rotators: the fake, its set, the words.
pub(super) trait KeySetRotator: Send + Sync + 'static {
    /// The fake the binary talks to.
    type Fake: Armable + Send + Sync + 'static;
    /// The name faults and reports use for it: `aws`, `azure`.
    const NAME: &'static str;
    const WORDS: Words;
    /// Whether credentials that were live before the run may stay live
    /// without the output naming them (Azure keeps `keep_previous_secrets`
    /// old secrets and leaves alone those the record never held; an AWS
    /// user's old key that stays must be named).
    const OLD_MAY_STAY: bool;

    fn fake(&self) -> &Self::Fake;
    fn proxy(&self) -> &FaultProxy;
    /// The set now.
    fn live(&self) -> Vec<Cred>;
    /// The set's owner, in a sentence: "IAM user 'bob'".
    fn owner(&self) -> String;
    /// The environment that points the binary at the fake.
    fn env(&self) -> Vec<(String, String)>;
    /// See [`Service::hosts`].
    fn hosts(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Every secret the fake knows.
    fn issued(&self) -> Vec<String>;
    /// A request, for the report (masked by the caller).
    fn describe(request: &ProxiedRequest) -> String;
}

/// A key-set rotator's fake, seeded, judged by [`KeySetRotator`]'s set.
pub(super) struct KeySet<K: KeySetRotator> {
    pub rotator: K,
    pub user_uid: String,
    /// The id the PAM User held before the run (empty: none).
    pub original_id: String,
    /// The set before the run: (id, the value a record holding it holds:
    /// the id itself for AWS, the secret's text for Azure).
    pub before: Vec<(String, String)>,
    /// How many old credentials a successful run keeps.
    pub keep: usize,
    /// What the fake was seeded with, one line each.
    pub seeded: Vec<String>,
    /// The records that may hold a credential of the set: (uid, title).
    pub holders: Vec<(String, String)>,
}

fn ids(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Whether a stored record (`fields` and `custom`) has a value equal to
/// `text`, without surrounding spaces.
fn holds_text(record: &Value, text: &str) -> bool {
    let text = text.trim();
    ["fields", "custom"].iter().any(|section| {
        record
            .get(section)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|field| field.get("value").and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .any(|value| value.trim() == text)
    })
}

impl<K: KeySetRotator> KeySet<K> {
    /// The id and secret the PAM User holds now.
    fn stored(&self, vault: &FakeVault) -> (String, String) {
        (
            vault
                .field(&self.user_uid, K::WORDS.id_field)
                .unwrap_or_default()
                .trim()
                .to_owned(),
            vault
                .field(&self.user_uid, K::WORDS.secret_field)
                .unwrap_or_default(),
        )
    }

    fn live_ids(&self) -> Vec<String> {
        self.rotator.live().into_iter().map(|c| c.id).collect()
    }

    fn before_ids(&self) -> Vec<String> {
        self.before.iter().map(|(id, _)| id.clone()).collect()
    }

    /// Whether the credential the vault holds is in the set and works.
    fn works(&self, vault: &FakeVault) -> bool {
        let (id, secret) = self.stored(vault);
        self.rotator
            .live()
            .iter()
            .any(|c| c.id == id && c.secret == secret && c.works)
    }

    /// `id`, or "no key" when empty.
    fn or_none(id: &str) -> String {
        if id.is_empty() {
            format!("no {}", K::WORDS.noun)
        } else {
            id.to_owned()
        }
    }
}

impl<K: KeySetRotator> Service for KeySet<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn calls(&self) -> Vec<Call> {
        proxied_calls(self.rotator.proxy(), K::describe)
    }

    fn armable(&self) -> &dyn Armable {
        self.rotator.fake()
    }

    fn env(&self) -> Vec<(String, String)> {
        self.rotator.env()
    }

    fn hosts(&self) -> Vec<(String, String)> {
        self.rotator.hosts()
    }

    fn working(&self) -> Vec<String> {
        self.rotator
            .live()
            .into_iter()
            .filter(|c| c.works)
            .map(|c| c.id)
            .collect()
    }

    fn issued(&self) -> Vec<String> {
        self.rotator.issued()
    }

    fn seeded(&self) -> Vec<String> {
        self.seeded.clone()
    }

    /// As the conformance suite: the vault holds a live credential with
    /// its secret (unless the record held none and still holds none); every
    /// other live one is named in the output (or was there before, where
    /// the binary may leave those); no record is left holding one that was
    /// retired; exit 0 leaves the new one and the newest `keep` old ones, 1
    /// and 2 leave the set and the record as they were, 3 has a new one
    /// stored.
    fn verdict(&self, vault: &FakeVault, out: &Outcome) -> Result<(), String> {
        let w = &K::WORDS;
        let every = self.rotator.live();
        // A credential that does not authenticate (an Inactive AWS key, kept
        // by `retire_old_key = deactivate`) is retired: not live.
        let live: Vec<&Cred> = every.iter().filter(|c| c.works).collect();
        let live_ids = || ids(&live.iter().map(|c| c.id.clone()).collect::<Vec<_>>());
        let (stored_id, _) = self.stored(vault);
        let before = self.before_ids();
        if !(self.works(vault) || (stored_id.is_empty() && self.original_id.is_empty())) {
            return Err(format!(
                "the vault holds {}, which is not a live {} with that {} (live: {})",
                Self::or_none(&stored_id),
                w.noun,
                w.secret,
                live_ids()
            ));
        }
        for cred in &live {
            let accounted = cred.id == stored_id
                || (K::OLD_MAY_STAY && before.contains(&cred.id))
                || named(out, &cred.id)
                || cred.aliases.iter().any(|a| named(out, a));
            if !accounted {
                return Err(format!(
                    "{} {} is live, not in the vault, and not named in the output",
                    w.noun, cred.id
                ));
            }
        }
        // No record may be left holding a credential that was retired,
        // whatever the exit code: the binary gives each holder the new one
        // before it retires anything, or keeps the old one.
        for (id, held_as) in &self.before {
            if live.iter().any(|c| &c.id == id) {
                continue;
            }
            for (uid, title) in &self.holders {
                if vault.record(uid).is_some_and(|r| holds_text(&r, held_as)) {
                    return Err(format!(
                        "the record '{title}' ({uid}) still holds {} {id}, which was {}",
                        w.noun, w.retired
                    ));
                }
            }
        }
        let old = stored_id == self.original_id || before.contains(&stored_id);
        let unchanged = stored_id == self.original_id
            && sorted(every.iter().map(|c| c.id.clone()).collect()) == sorted(before.clone())
            && every.iter().all(|c| c.works);
        let expected = 1 + self.keep.min(before.len());
        match out.code {
            Some(0) if live.len() != expected || old => Err(format!(
                "exit 0 but the {} are {} and the vault holds {stored_id}",
                w.plural,
                live_ids()
            )),
            Some(1 | 2) if !unchanged => Err(format!(
                "exit 1/2 (nothing changed) but the {} are {} and the vault holds {stored_id}",
                w.plural,
                live_ids()
            )),
            Some(3) if old => Err(format!("exit 3 but the vault still holds {}", w.old)),
            // Exit 3 says a credential was kept that should not be: with
            // every old one retired and nothing live but the stored one, the
            // rotation completed, and the code hides it. (A second copy the
            // run made and could not remove is such a credential too.)
            Some(3)
                if !before.is_empty()
                    && !live.iter().any(|c| before.contains(&c.id))
                    && live.iter().all(|c| c.id == stored_id) =>
            {
                Err(format!(
                    "exit 3 (an old {} kept) but every old one was {}: the {} are {}",
                    w.noun,
                    w.retired,
                    w.plural,
                    live_ids()
                ))
            }
            Some(0..=4) => Ok(()),
            other => Err(format!("exit {other:?}")),
        }
    }

    /// Lost: the vault holds no live credential (unless it held none and
    /// still holds none), or a live one is in no record, was not there
    /// before, and the output does not name it.
    fn lost(&self, vault: &FakeVault, out: &Outcome) -> Option<String> {
        let w = &K::WORDS;
        let live: Vec<Cred> = self
            .rotator
            .live()
            .into_iter()
            .filter(|c| c.works)
            .collect();
        let (stored_id, _) = self.stored(vault);
        if !(self.works(vault) || (stored_id.is_empty() && self.original_id.is_empty())) {
            return Some(format!(
                "the vault holds {}, which is not a live {} with that {}",
                Self::or_none(&stored_id),
                w.noun,
                w.secret
            ));
        }
        let before = self.before_ids();
        live.iter()
            .find(|cred| {
                !(cred.id == stored_id
                    || before.contains(&cred.id)
                    || named(out, &cred.id)
                    || cred.aliases.iter().any(|a| named(out, a)))
            })
            .map(|cred| {
                format!(
                    "{} {} is live, in no record, and not named in the output",
                    w.noun, cred.id
                )
            })
    }

    fn unchanged(&self, _vault: &FakeVault) -> Result<(), String> {
        let live = sorted(self.live_ids());
        let before = self.before_ids();
        if let Some(off) = self.rotator.live().iter().find(|c| !c.works) {
            return Err(format!(
                "{} changed: {} no longer works",
                K::WORDS.set,
                off.shown
            ));
        }
        if live == sorted(before.clone()) {
            Ok(())
        } else {
            Err(format!(
                "{} changed: {} before, {} now",
                K::WORDS.set,
                ids(&before),
                ids(&live)
            ))
        }
    }

    fn end_state(&self, vault: &FakeVault) -> Vec<String> {
        let w = &K::WORDS;
        let (stored_id, _) = self.stored(vault);
        let shown = if stored_id.is_empty() {
            "(empty)".to_owned()
        } else {
            stored_id
        };
        let listed: Vec<String> = self.rotator.live().into_iter().map(|c| c.shown).collect();
        vec![
            format!(
                "{} has the {}: {}",
                self.rotator.owner(),
                w.plural,
                ids(&listed)
            ),
            format!(
                "the vault record now holds {} {shown}, {} ********, {} {}",
                w.id_field,
                w.secret_field,
                w.date_field,
                vault
                    .field(&self.user_uid, w.date_field)
                    .unwrap_or_else(|| "(empty)".into())
            ),
            format!(
                "the stored secret is the one {} for {shown}: {}",
                w.issuer,
                if self.works(vault) { "yes" } else { "no" }
            ),
        ]
    }

    fn state_line(&self, vault: &FakeVault) -> String {
        let (stored_id, _) = self.stored(vault);
        format!(
            "{} {}; vault holds {} ({})",
            K::WORDS.short_set,
            ids(&self.live_ids()),
            Self::or_none(&stored_id),
            if self.works(vault) {
                "works"
            } else {
                "does not work"
            }
        )
    }
}
