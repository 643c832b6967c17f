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
//! | [`cli`] | the common flags and the run loop every binary shares |

pub mod build_info;
pub mod cli;
pub mod deadline;
pub mod error;
pub mod gateway;
pub mod http;
pub mod log;
pub mod records;
pub mod secret;
pub mod time;
pub mod vault;
pub mod verify;

pub use error::{Error, Exit, Location, Result};
pub use secret::Secret;
