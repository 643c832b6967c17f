//! What a run made that it did not mean to keep: a create whose answer was
//! lost (step 2) and a create the service applied twice (step 9). Both look
//! for credentials that appeared during the run, revoke those the run can
//! prove it made (nobody knows their secret), and name the others.

use super::{Credentials, Found, Sequence, Store};
use crate::change;
use crate::error::{Error, Result};

impl<C: Credentials, S: Store<C::New>> Sequence<'_, C, S> {
    /// Step 9: a newcomer this run can prove it made (its tag) is a second
    /// copy of the create, whose secret nobody knows: revoked. Others are
    /// left alone and named.
    pub(super) fn clean_up(&mut self, id: &str, listed: &[String]) -> Result<()> {
        let (noun, holder, location) = (self.noun, &self.holder, &self.location);
        let strangers: Vec<String> = listed
            .iter()
            .filter(|i| *i != id && !self.plan.before.contains(i))
            .cloned()
            .collect();
        if strangers.is_empty() {
            return Ok(());
        }
        let ours: Vec<String> = match self.cloud.find_created(&self.plan.before) {
            Ok(Found::Ours(found)) => found
                .into_iter()
                .filter(|f| strangers.contains(f))
                .collect(),
            _ => Vec::new(),
        };
        let mut failed = Vec::new();
        for orphan in &ours {
            match self.cloud.revoke(orphan) {
                Ok(()) => {
                    tracing::info!(
                        "revoked {noun} {orphan}: this run made it too (the create was applied \
                         twice) and its secret is known to nobody"
                    );
                    crate::summary::created(orphan);
                    crate::summary::retired(orphan);
                    self.removed.push(orphan.clone());
                }
                Err(e) => {
                    crate::summary::created(orphan);
                    crate::summary::left(orphan);
                    failed.push(format!("{orphan} ({e})"));
                }
            }
        }
        if !failed.is_empty() {
            return Err(Error::OldNotRetired(format!(
                "the new {noun} {id} is stored in {location} and works, but this run's create was \
                 applied twice and revoking the extra {noun}(s) failed: {}. Their secret is known \
                 to nobody: revoke them",
                failed.join("; ")
            )));
        }
        let others: Vec<&str> = strangers
            .iter()
            .filter(|s| !ours.contains(s))
            .map(String::as_str)
            .collect();
        if !others.is_empty() {
            self.note(format!(
                "{noun}(s) {} of {holder} appeared during this run and were left alone: this run \
                 cannot show it made them",
                others.join(", ")
            ));
        }
        Ok(())
    }

    /// A create whose answer was lost: find what it may have made.
    pub(super) fn lost_create(&mut self, cause: &str, mark: change::Mark) -> Error {
        let (noun, holder, location) = (self.noun, &self.holder, &self.location);
        let a = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let room_note = self.room_note();
        let lost = format!(
            "creating a new {noun} for {holder} got no answer that says whether it was made \
             ({cause})"
        );
        match self.cloud.find_created(&self.plan.before) {
            Ok(Found::Ours(ids)) if !ids.is_empty() => {
                for id in &ids {
                    crate::summary::created(id);
                    if let Err(e) = self.cloud.revoke(id) {
                        crate::summary::left(id);
                        return Error::NeedsAttention(format!(
                            "{lost}; {noun} {id} was created anyway and revoking it failed ({e}): \
                             revoke {noun} {id} of {holder} (its secret is known to nobody). The \
                             {noun} in {location} is unchanged.{room_note}"
                        ));
                    }
                    tracing::info!("revoked {noun} {id}, created although the answer was lost");
                    crate::summary::retired(id);
                }
                change::rollback_to(mark);
                self.unchanged(format!(
                    "{lost}; the {noun}(s) it made anyway ({}) were revoked",
                    ids.join(", ")
                ))
            }
            Ok(Found::Ours(_)) => Error::NeedsAttention(format!(
                "{lost}, and no new {noun} appeared in the listings since; one may still appear \
                 (listings lag). Check {holder} for {a} {noun} that {location} does not hold and \
                 revoke it. The {noun} in {location} is unchanged.{room_note}"
            )),
            Ok(Found::Nothing { hint }) => Error::NeedsAttention(format!(
                "{lost}, and no new {noun} appeared in the listings since; one may still appear \
                 (listings lag). Check {holder} for {a} {noun} {hint} and revoke it (its secret is \
                 known to nobody). The {noun} in {location} is unchanged.{room_note}"
            )),
            Ok(Found::Unproven(ids)) => {
                ids.iter().for_each(|id| crate::summary::left(id));
                Error::NeedsAttention(format!(
                    "{lost}; {noun}(s) {} appeared since, and nothing shows whether this run made \
                     them. Their secret is known to nobody if it did: unless someone else created \
                     them, revoke them. The {noun} in {location} is unchanged.{room_note}",
                    ids.join(", ")
                ))
            }
            Err(e) => Error::NeedsAttention(format!(
                "{lost}, and listing the {noun}s afterwards failed ({e}): check {holder} for a new \
                 {noun} that {location} does not hold and revoke it (its secret is known to \
                 nobody). The {noun} in {location} is unchanged.{room_note}"
            )),
        }
    }
}
