//! The errors every rotator reports, and the exit code each one maps to.
//!
//! The Gateway trusts only the exit code, so the code must say what state the
//! account is in. [`Exit`] is the one table: every binary's summary line and
//! `--help`, the harness's reports and the docs' table
//! (docs/concepts/rotation-protocol.md, checked by a test) use its words.

use std::fmt;

/// The exit codes of every binary in this workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The credential was rotated (and stored, where the binary stores it).
    Rotated = 0,
    /// The rotation failed and nothing changed, or it was fully rolled back.
    Failed = 1,
    /// Bad input or configuration: nothing was attempted.
    BadInput = 2,
    /// The new credential works and is stored, but an old one could not be
    /// retired and is still valid.
    OldNotRetired = 3,
    /// Uncertain or inconsistent state: a person must check what the message
    /// names.
    NeedsAttention = 4,
}

impl Exit {
    /// Every code, in order.
    pub const ALL: [Self; 5] = [
        Self::Rotated,
        Self::Failed,
        Self::BadInput,
        Self::OldNotRetired,
        Self::NeedsAttention,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// The exit with this process exit code, if it is one of ours.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|e| i32::from(e.code()) == code)
    }

    /// The table `--help` ends with: one line per code.
    pub fn help_table() -> String {
        let mut table = String::from("Exit codes:");
        for exit in Self::ALL {
            table.push_str(&format!("\n  {} {}", exit.code(), exit.meaning()));
        }
        table
    }

    /// A few words an administrator reads on the summary line.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Failed => "failed, nothing changed",
            Self::BadInput => "bad input or configuration, nothing attempted",
            Self::OldNotRetired => "rotated and stored, but an old credential is still valid",
            Self::NeedsAttention => "uncertain state: the message says what to check",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}

/// Where a missing value was looked for: a key of the Gateway's input, a
/// field of one of its records, or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The Gateway's input object itself.
    Params,
    /// The process environment (an endpoint override, say).
    Environment,
    /// A record dictionary, named by title and uid.
    Record { title: String, uid: String },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Params => f.write_str("the Gateway's input"),
            Self::Environment => f.write_str("the environment"),
            Self::Record { title, uid } => write!(f, "record '{title}' (uid {uid})"),
        }
    }
}

/// Everything a rotator can fail with. Messages say what failed, where, and
/// what to do; they never contain a secret (and the output layer redacts every
/// known secret again before anything is printed).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Gateway's input could not be read or decoded.
    #[error("the Gateway's input is unusable: {0}")]
    Input(String),

    /// A required value is missing or empty.
    #[error("'{name}' is missing or empty in {location}{hint}")]
    Missing {
        name: String,
        location: Location,
        /// Extra advice, starting with "; " when present.
        hint: String,
    },

    /// A value is present but unusable (wrong type, bad URL, bad template...).
    #[error("'{name}' in {location} is invalid: {problem}")]
    Invalid {
        name: String,
        location: Location,
        problem: String,
    },

    /// Configuration outside the records (environment, flags) is unusable, or
    /// the records do not describe one unambiguous target.
    #[error("{0}")]
    Config(String),

    /// The rotation failed; nothing changed.
    #[error("{0}")]
    Failed(String),

    /// No usable answer came back, and the request either never left (a
    /// connect error) or was safe to repeat and every attempt failed: nothing
    /// changed.
    #[error("{target} failed: {detail}")]
    Unreachable { target: String, detail: String },

    /// A server answered with a status the rotator does not accept.
    #[error("{target} answered HTTP {status}{snippet}")]
    Status {
        target: String,
        status: u16,
        /// What the answer says, starting with ": ": the service's known
        /// error fields (never the body as it is), and advice.
        snippet: String,
    },

    /// A request was sent but no answer says whether it took effect: a
    /// timeout, a dropped connection, or, after a change, a 5xx, a 3xx or an
    /// unexpected 2xx (see `http::Client::send_change`).
    #[error("{target}: the request was sent but {detail}")]
    NoAnswer { target: String, detail: String },

    /// The run's deadline passed before a request could be completed; the
    /// request that was in flight, if any, is reported by `NoAnswer` instead.
    #[error("{target}: gave up after the run's deadline of {seconds} s{detail}")]
    Deadline {
        target: String,
        seconds: u64,
        detail: String,
    },

    /// The new credential is in place but an old one is still valid.
    #[error("{0}")]
    OldNotRetired(String),

    /// Uncertain or inconsistent state; the message says what to check.
    #[error("{0}")]
    NeedsAttention(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Self::Input(_) | Self::Missing { .. } | Self::Invalid { .. } | Self::Config(_) => {
                Exit::BadInput
            }
            Self::Failed(_)
            | Self::Unreachable { .. }
            | Self::Status { .. }
            | Self::Deadline { .. } => Exit::Failed,
            Self::OldNotRetired(_) => Exit::OldNotRetired,
            Self::NoAnswer { .. } | Self::NeedsAttention(_) => Exit::NeedsAttention,
        }
    }

    /// A change sent once whose outcome no answer settles
    /// ([`Error::NoAnswer`]: lost, timed out, a 5xx) as the message the
    /// administrator acts on: "`{target}`: the request was sent but
    /// `{detail}`, so `{what}` may or may not have changed. `{next}`", exit
    /// 4. `next` says what to check and what to do. Any other error is
    /// returned as it is.
    pub fn unsure_change(self, what: &str, next: &str) -> Self {
        match self {
            Self::NoAnswer { target, detail } => Self::NeedsAttention(format!(
                "{target}: the request was sent but {detail}, so {what} may or may not have \
                 changed. {next}"
            )),
            other => other,
        }
    }

    pub fn missing(name: impl Into<String>, location: Location) -> Self {
        Self::Missing {
            name: name.into(),
            location,
            hint: String::new(),
        }
    }

    pub fn invalid(
        name: impl Into<String>,
        location: Location,
        problem: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            name: name.into(),
            location,
            problem: problem.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_has_the_documented_exit_code() {
        let record = Location::Record {
            title: "API".into(),
            uid: "u1".into(),
        };
        let cases = [
            (Error::Input("x".into()), 2),
            (Error::missing("url", record.clone()), 2),
            (Error::invalid("url", record, "x"), 2),
            (Error::Config("x".into()), 2),
            (Error::Failed("x".into()), 1),
            (
                Error::Status {
                    target: "t".into(),
                    status: 500,
                    snippet: String::new(),
                },
                1,
            ),
            (
                Error::NoAnswer {
                    target: "t".into(),
                    detail: "x".into(),
                },
                4,
            ),
            (Error::OldNotRetired("x".into()), 3),
            (Error::NeedsAttention("x".into()), 4),
        ];
        for (error, code) in cases {
            assert_eq!(error.exit().code(), code, "{error}");
        }
    }

    #[test]
    fn an_unsure_change_is_exit_4_naming_what_may_have_changed_and_what_to_do() {
        let lost = Error::NoAnswer {
            target: "PUT https://api.example.com/users/1".into(),
            detail: "no answer before the timeout".into(),
        };
        let error = lost.unsure_change("the password of 'bob'", "Sign in as 'bob' to check.");
        assert_eq!(error.exit(), Exit::NeedsAttention);
        assert_eq!(
            error.to_string(),
            "PUT https://api.example.com/users/1: the request was sent but no answer before the \
             timeout, so the password of 'bob' may or may not have changed. Sign in as 'bob' to \
             check."
        );
        let refused = Error::Failed("refused".into()).unsure_change("x", "y");
        assert_eq!(refused.to_string(), "refused");
    }

    #[test]
    fn a_missing_field_names_the_field_and_the_record() {
        let error = Error::missing(
            "url",
            Location::Record {
                title: "API Access Details".into(),
                uid: "AbC123".into(),
            },
        );
        assert_eq!(
            error.to_string(),
            "'url' is missing or empty in record 'API Access Details' (uid AbC123)"
        );
    }
}
