//! What a dry run checked, and what it could not: the one sentence every
//! binary's dry-run summary carries, worded by one function.
//!
//! Why: a dry run that exits 0 is read as "the rotation will work". It can
//! only vouch for what it did: the input it read, the records it found, the
//! read-only calls it made. What only the change itself can show (that the
//! service takes this password, that the admin may write) stays unchecked,
//! and the administrator must be told so in the same line as the plan,
//! worded alike by every binary. Each binary lists both in
//! [`crate::driver::Rotator::checked`]; this renders them.

/// What a dry run checked and what it did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// What was read or reached, in the order the run did it: "the
    /// Gateway's input", "the API record", "DNS and TLS to host:443".
    pub checked: Vec<String>,
    /// What only a real run can show: "that the service accepts the new
    /// password".
    pub not_checked: Vec<String>,
}

/// The first item of every binary's list: the line the Gateway sent, its
/// parameters and the records it carries.
pub const INPUT: &str = "the Gateway's input";

impl Checked {
    /// Starts from [`INPUT`].
    pub fn input() -> Self {
        Self {
            checked: vec![INPUT.to_owned()],
            not_checked: Vec::new(),
        }
    }

    /// Adds something the dry run checked.
    pub fn did(mut self, what: impl Into<String>) -> Self {
        self.checked.push(what.into());
        self
    }

    /// Adds something it did not (only the change can show it).
    pub fn not(mut self, what: impl Into<String>) -> Self {
        self.not_checked.push(what.into());
        self
    }

    /// The two sentences: `Checked: a; b; c. Not checked: d; e.` Items are
    /// separated by semicolons: an item may hold "and" or a comma ("the API
    /// keys and the user, with a list of users").
    pub fn render(&self) -> String {
        let list = |items: &[String], none: &str| {
            if items.is_empty() {
                none.to_owned()
            } else {
                items.join("; ")
            }
        };
        format!(
            "Checked: {}. Not checked: {}.",
            list(&self.checked, "nothing"),
            list(&self.not_checked, "nothing else")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentence_names_what_was_checked_and_what_was_not() {
        let checked = Checked::input()
            .did("the API record")
            .did("DNS and TLS to api.example.com:443")
            .not("the API token")
            .not("that the service accepts the new password");
        assert_eq!(
            checked.render(),
            "Checked: the Gateway's input; the API record; DNS and TLS to api.example.com:443. \
             Not checked: the API token; that the service accepts the new password."
        );
        assert_eq!(
            Checked::input().render(),
            "Checked: the Gateway's input. Not checked: nothing else."
        );
    }
}
