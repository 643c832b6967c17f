//! Step 7, retire: revocations and deactivations alike, and the one rule
//! for a retirement whose answer was lost: settled on evidence, the
//! listing; exit 4 only when the listing cannot be read either.

use super::{Credentials, Failure, Retirement, Sequence, Store, settle_listing};
use crate::error::{Error, Result};

impl<C: Credentials, S: Store<C::New>> Sequence<'_, C, S> {
    /// Step 7: retire, the record's last; the first failure keeps the rest.
    /// A revocation and a deactivation follow one rule: a refusal keeps
    /// the credential (exit 3); an answer that was lost is settled on
    /// evidence, the listing ([`Sequence::settle_lost`]).
    pub(super) fn retire(&mut self, new: &C::New) -> Result<()> {
        let (noun, location, id) = (self.noun, self.location.clone(), C::id(new));
        let doing = self.cloud.retirement().doing();
        for (index, old) in self.retire.clone().iter().enumerate() {
            if old == id {
                continue;
            }
            tracing::info!("{doing} old {noun} {old}");
            let failure = match self.cloud.retire(old) {
                Ok(()) => {
                    self.revoked(old);
                    continue;
                }
                Err(Failure::Definite(e) | Failure::Config(e) | Failure::Superseded(e)) => {
                    format!("{doing} old {noun} {old} failed: {e}")
                }
                Err(Failure::Unknown(e)) => match self.settle_lost(old, &e, id, index)? {
                    None => {
                        self.settled.push(old.clone());
                        self.revoked(old);
                        continue;
                    }
                    Some(failure) => failure,
                },
            };
            let rest = &self.retire[index + 1..];
            let them = if rest.is_empty() { "it" } else { "them" };
            return Err(Error::OldNotRetired(format!(
                "{failure}. The new {noun} {id} is stored in {location} and works. Still valid: \
                 {old}{}. {} {them} once nothing uses {them}, or run the rotation again",
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(", {}", rest.join(", "))
                },
                match self.cloud.retirement() {
                    Retirement::Revoke => "Revoke",
                    Retirement::Deactivate => "Deactivate",
                },
            )));
        }
        Ok(())
    }

    /// A retirement of `old` whose answer was lost (`e`), settled on the
    /// listing, read until settled: `None` when `old` is no longer listed
    /// as valid (it was retired); the failure to report when it still is
    /// (exit 3); exit 4 when the listing cannot be read, the only case in
    /// which nothing can tell.
    fn settle_lost(
        &mut self,
        old: &str,
        e: &str,
        id: &str,
        index: usize,
    ) -> Result<Option<String>> {
        let (noun, holder, location) = (self.noun, self.holder.clone(), self.location.clone());
        let how = self.cloud.retirement();
        let doing = how.doing();
        let (attempts, pause) = self.cloud.settle();
        let listed = settle_listing(self.cloud, attempts, pause, |ids| {
            !ids.iter().any(|i| i == old)
        });
        match listed {
            Ok(ids) if !ids.iter().any(|i| i == old) => {
                tracing::info!(
                    "{doing} old {noun} {old} got no answer that says whether it was done ({e}); \
                     {holder} no longer lists it as valid: {}",
                    how.done()
                );
                Ok(None)
            }
            Ok(_) => Ok(Some(format!(
                "{doing} old {noun} {old} got no answer that says whether it was done ({e}), and \
                 {holder} still lists it as valid"
            ))),
            Err(listing) => {
                let rest = &self.retire[index + 1..];
                Err(Error::NeedsAttention(format!(
                    "{doing} old {noun} {old} got no answer that says whether it was done ({e}), \
                     and listing the {noun}s of {holder} to find out failed ({listing}), so \
                     {old} may be valid or not. The new {noun} {id} is stored in {location} and \
                     works. Check {old} of {holder}{}: {} it once nothing uses it, or run the \
                     rotation again",
                    if rest.is_empty() {
                        String::new()
                    } else {
                        format!("; still valid: {}", rest.join(", "))
                    },
                    match how {
                        Retirement::Revoke => "revoke",
                        Retirement::Deactivate => "deactivate or delete",
                    },
                )))
            }
        }
    }
}
