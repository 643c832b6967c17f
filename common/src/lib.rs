//! The shared library of the keeper-rotators binaries.
//!
//! | module | holds |
//! |---|---|
//! | [`build_info`] | what `--version` prints: version, git commit, build date |
//! | [`gateway`] | the Gateway's input: one base64 line on stdin |
//! | [`records`] | the record dictionaries, looked up by label or type |
//! | [`secret`] | the redacting, zeroizing secret type and the output redactor |
//! | [`http`] | the HTTP policy: https, timeouts, retries, redacted bodies |
//! | [`deadline`] | the one deadline a run must finish by |
//! | [`time`] | ISO 8601 timestamps |
//! | [`error`] | the error enum and its exit codes |
//! | [`log`] | log lines on stderr, the summary line on stdout |
//! | [`vault`] | Keeper records through the official KSM SDK: read, set custom fields, save |
//! | [`verify`] | waiting until a new credential works K times in a row |
//! | [`replace`] | the credential-replacement sequence: make room, create, store, verify, retire, confirm |
//! | [`holders`] | before a credential is retired, every record holding it gets the new one |
//! | [`change`] | the ledger of what a run may have changed, and the planning phase |
//! | [`lease`] | one run at a time per record: the rotation lease |
//! | [`host_lock`] | one password rotation at a time per account on the gateway host |
//! | [`driver`] | the rotation driver: the `main` of every binary |
//! | [`cli`] | the panic hook and guard, logging set-up, async from sync code |

pub mod build_info;
pub mod change;
pub mod cli;
pub mod clock;
pub mod deadline;
pub mod driver;
pub mod dry_run;
pub mod error;
pub mod gateway;
pub mod holders;
pub mod host_lock;
pub mod http;
pub mod lease;
pub mod log;
pub mod records;
pub mod replace;
pub mod secret;
pub mod store;
pub mod summary;
pub mod time;
pub mod vault;
pub mod verify;

pub use error::{Error, Exit, Location, Result};
pub use secret::Secret;

/// The version every binary prints for `--version` (with the commit, and
/// the build date of a dist build).
pub const VERSION: &str = build_info::VERSION;
