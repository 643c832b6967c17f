//! Rehearsals: an administrator's own records, run through the real binary
//! against the fakes, with or without faults (`harness run`, `harness demo`).
//!
//! Why: the people this project is for attach a binary to a record and then
//! trust it with a production credential. Before that, they should see what
//! it does with *their* record layout, and what state it leaves when a call
//! fails. The conformance suite (`harness/tests/conformance.rs`) answers the
//! second question for the project's fixtures; this module answers both for
//! any records, with the same worlds, the same call names and the same
//! verdicts, because the suite uses this module too: one definition of each
//! use case.
//!
//! The pieces:
//!
//! - [`crate::inputs::commander`] reads Keeper record files (Commander's export, `get
//!   --format json`, the vault's JSON, scenarios);
//! - [`input`]: the records in their roles (PAM configuration, resource,
//!   attached, user), and the Gateway's input built from them as the Gateway
//!   builds it;
//! - [`world`]: the fake vault and the use case's fakes, seeded from the
//!   records, and one run of the binary against them;
//! - the use cases ([`USE_CASES`]): how each seeds its fakes, names its
//!   calls, and judges the end state ([`Service`]);
//! - [`matrix`]: every call of a clean run failing in every way, one cell at
//!   a time (`--faults all`, and the conformance suite);
//! - [`report`]: what the administrator reads, as text or JSON.
//!
//! Adding a use case is one entry in [`USE_CASES`] and its [`Service`]: for
//! an HTTP password rotator (Okta, REST, Meraki, Tenable) a small description of its fake
//! (`password.rs`), for a key-set rotator (AWS, Azure) a description of its
//! credential set (`keyset.rs`); the SSH user's is its own (`ssh.rs`, on
//! [`crate::fakes::ssh`]).

mod aws;
mod azure;
pub mod grade;
pub mod input;
mod iosxe;
mod keyset;
pub mod matrix;
mod meraki;
mod okta;
mod password;
pub mod program;
pub mod report;
mod rest;
mod snowflake;
mod snowflake_key;
pub(crate) mod ssh;
mod tenable;
pub mod world;

pub use input::{Rehearsal, RoleFlags, Roles};
pub use matrix::{KINDS, Timing};
pub use password::PasswordFacts;
pub use program::{Program, Script};
pub use report::{MatrixReport, Options, Report, rehearse, rehearse_matrix};
pub use world::{Service, World};

/// One use case: its binary, its fixture, and how its world is seeded.
pub struct UseCase {
    /// The name on the command line: `aws-access-key`.
    pub name: &'static str,
    /// The binary: `rotate-aws-access-key`.
    pub binary: &'static str,
    /// A Commander export of a working setup (`fixtures/records/<name>.json`),
    /// embedded so `harness demo` works from any directory.
    pub fixture: &'static str,
    /// When several `pamUser` records are given, the one to rotate is the
    /// only one holding one of these fields (e.g. the Azure target's
    /// `application_object_id`, which its admin record lacks).
    pub user_markers: &'static [&'static str],
    /// Starts the use case's fakes from the records, and adjusts the
    /// Gateway's input where the fakes need it (an API record's url).
    pub start: Start,
    /// Characters the service cannot take in a password, which the binary
    /// refuses (exit 2) and an administrator leaves out of the record's
    /// password complexity: the rehearsal's made-up newPassword leaves
    /// them out too.
    pub password_refuses: &'static str,
}

/// Starts a use case's fakes (see [`UseCase::start`]).
pub type Start = fn(&Rehearsal, &mut world::Staging) -> Result<Box<dyn Service>, String>;

impl std::fmt::Debug for UseCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseCase")
            .field("name", &self.name)
            .field("binary", &self.binary)
            .finish_non_exhaustive()
    }
}

/// Every use case the harness can rehearse.
pub static USE_CASES: [UseCase; 11] = [
    UseCase {
        name: "rest-api",
        binary: "rotate-rest-api",
        fixture: include_str!("../../../fixtures/records/rest-api.json"),
        user_markers: &[],
        start: password::start::<rest::Rest>,
        password_refuses: "",
    },
    UseCase {
        name: "aws-access-key",
        binary: "rotate-aws-access-key",
        fixture: include_str!("../../../fixtures/records/aws-access-key.json"),
        user_markers: &["aws_access_key_id"],
        start: aws::start,
        password_refuses: "",
    },
    UseCase {
        name: "azure-app-secret",
        binary: "rotate-azure-app-secret",
        fixture: include_str!("../../../fixtures/records/azure-app-secret.json"),
        user_markers: &["application_object_id"],
        start: azure::start,
        password_refuses: "",
    },
    UseCase {
        name: "okta-user",
        binary: "rotate-okta-user",
        fixture: include_str!("../../../fixtures/records/okta-user.json"),
        user_markers: &[],
        start: password::start::<okta::Okta>,
        password_refuses: "",
    },
    UseCase {
        name: "meraki-user",
        binary: "rotate-meraki-user",
        fixture: include_str!("../../../fixtures/records/meraki-user.json"),
        user_markers: &[],
        start: password::start::<meraki::Meraki>,
        password_refuses: "\\",
    },
    UseCase {
        name: "cisco-iosxe-user",
        binary: "rotate-cisco-iosxe-user",
        fixture: include_str!("../../../fixtures/records/cisco-iosxe-user.json"),
        user_markers: &[],
        start: password::start::<iosxe::IosXe>,
        password_refuses: "",
    },
    UseCase {
        name: "tenable-user",
        binary: "rotate-tenable-user",
        fixture: include_str!("../../../fixtures/records/tenable-user.json"),
        user_markers: &[],
        start: password::start::<tenable::Tenable>,
        password_refuses: "",
    },
    UseCase {
        name: "tenable-credential",
        binary: "rotate-tenable-credential",
        fixture: include_str!("../../../fixtures/records/tenable-credential.json"),
        user_markers: &[],
        start: password::start::<tenable::TenableCredential>,
        password_refuses: "",
    },
    UseCase {
        name: "snowflake-user",
        binary: "rotate-snowflake-user",
        fixture: include_str!("../../../fixtures/records/snowflake-user.json"),
        user_markers: &[],
        start: password::start::<snowflake::Snowflake>,
        password_refuses: "",
    },
    UseCase {
        name: "snowflake-user-key",
        binary: "rotate-snowflake-user",
        fixture: include_str!("../../../fixtures/records/snowflake-user-key.json"),
        user_markers: &[],
        start: snowflake_key::start,
        password_refuses: "",
    },
    UseCase {
        name: "ssh-user",
        binary: "rotate-ssh-user",
        fixture: include_str!("../../../fixtures/records/ssh-user.json"),
        user_markers: &["privatePEMKey", "Private Key Rotate"],
        start: ssh::start,
        password_refuses: "",
    },
];

/// The use case called `name`.
pub fn use_case(name: &str) -> Result<&'static UseCase, String> {
    USE_CASES.iter().find(|u| u.name == name).ok_or_else(|| {
        format!(
            "no use case called '{name}'; the use cases are {}",
            USE_CASES
                .iter()
                .map(|u| u.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// What an exit code means, in the words of the binaries' own table
/// ([`common::error::Exit`]).
pub fn exit_meaning(code: Option<i32>) -> &'static str {
    match code {
        Some(code) => common::error::Exit::from_code(code).map_or(
            "not an exit code the rotators use",
            common::error::Exit::meaning,
        ),
        None => "no exit code: the binary was killed",
    }
}

/// `0 (rotated)`, or `none (…)` for a killed run.
pub fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("{code} ({})", exit_meaning(Some(code))),
        None => format!("none ({})", exit_meaning(None)),
    }
}
