//! Finding the record that holds a service's admin credential (the API
//! token, the API key) among the records attached to the rotation.
//!
//! Every HTTP rotator finds it the same way, so the rule lives once: the
//! record the user record names (its `<title_field>`), else one with a title
//! the docs give, else the single attached record that looks like one (a
//! binary-specific marker). Never the user record, the PAM configuration or
//! the resource ([`Records::attached`]): taking one of those for the admin
//! record would send its password to its url. Two candidates are never
//! guessed between: the message lists them and names the field that picks.

use super::{Record, Records, describe};
use crate::error::{Error, Result};

/// How one binary recognises its admin record.
pub struct AdminRecord<'a> {
    /// What it is called in messages: "Okta API record".
    pub noun: &'a str,
    /// The user record's custom field that names the title to use:
    /// `okta_record_title`.
    pub title_field: &'a str,
    /// The titles the docs give it, any of which is taken.
    pub titles: &'a [&'a str],
    /// When no title matches: what recognises one, in words for messages
    /// ("holding an Okta org url").
    pub marked: &'a str,
    /// ... and as a test.
    pub marker: &'a dyn Fn(&Record) -> bool,
    /// A record another binary's docs give the same title, recognised by
    /// what it holds (Keeper titles both its Cisco scripts' records "Cisco
    /// Authentication Record"): passed over among the titled records, so
    /// that neither binary takes the other's. `None`: every titled record
    /// counts.
    pub foreign: Option<&'a dyn Fn(&Record) -> bool>,
    /// What to attach, for the message when none is found: "a record titled
    /// 'X' with the org URL in url and the API token in password".
    pub attach: &'a str,
}

impl std::fmt::Debug for AdminRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminRecord")
            .field("noun", &self.noun)
            .field("title_field", &self.title_field)
            .finish_non_exhaustive()
    }
}

impl AdminRecord<'_> {
    /// The admin record among `records`' attached ones.
    pub fn find<'r>(&self, records: &'r Records) -> Result<&'r Record> {
        if let Some(user) = records.user()
            && let Some(title) = user.text(self.title_field)?
        {
            return match records.titled(&title).as_slice() {
                [one] => Ok(one),
                [] => Err(Error::Config(format!(
                    "no attached record is titled '{title}', the {} of {}; attached: {}",
                    self.title_field,
                    user.location(),
                    describe(records.attached())
                ))),
                several => Err(self.several(&format!("titled '{title}'"), several)),
            };
        }
        let titled: Vec<&Record> = self
            .titles
            .iter()
            .flat_map(|t| records.titled(t))
            .filter(|r| !self.foreign.is_some_and(|foreign| foreign(r)))
            .collect();
        match titled.as_slice() {
            [one] => return Ok(one),
            [] => {}
            several => {
                let titles = self.titles.join("' or '");
                return Err(self.several(&format!("titled '{titles}'"), several));
            }
        }
        let marked: Vec<&Record> = records.attached().filter(|r| (self.marker)(r)).collect();
        match marked.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::Config(format!(
                "no {} found: attach {}, or name it in the user record's custom field {}; \
                 attached: {}",
                self.noun,
                self.attach,
                self.title_field,
                describe(records.attached())
            ))),
            several => Err(self.several(self.marked, several)),
        }
    }

    fn several(&self, what: &str, records: &[&Record]) -> Error {
        Error::Config(format!(
            "several attached records are {what}: {}; set the user record's custom field {} to \
             the one to use",
            describe(records.iter().copied()),
            self.title_field
        ))
    }
}
