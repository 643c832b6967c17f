//! The one module that talks to russh.
//!
//! Why one module: russh is 0.x and its minors break the API; everything the
//! rotation needs from SSH is here, behind types of this crate, so an upgrade
//! touches one file.
//!
//! What it enforces:
//!
//! - **Host key pinning.** Every anchor Keeper ships accepts any host key;
//!   with password authentication a man in the middle would learn the admin's
//!   password and the new one. Here the server's key must match a pin from
//!   the machine record (an OpenSSH public key line, a known_hosts line, or a
//!   `SHA256:` fingerprint; several lines allowed). The negotiated host-key
//!   algorithms are restricted to the pinned keys' algorithms, or a server
//!   offering Ed25519 first would give a false mismatch against an RSA pin.
//!   With only fingerprints the algorithm is unknown, so each algorithm
//!   family is tried in turn (handshakes only, nothing is sent). No pin:
//!   [`SshError::NoPin`] carries the server's key so the binary can print it.
//! - **Secrets only on stdin.** A remote command is always
//!   `/bin/sh -c '<script>' sh <args>` where the script is a `&'static str`
//!   (a constant of this program, never built from input) and the args are
//!   checked against every secret registered with the redactor: a command
//!   line holding one is refused before it is sent. Every command line sent
//!   is kept in [`command_log`] so tests can prove it.
//! - **Bounded, redacted output.** stdout and stderr are capped and pass
//!   through the redactor before anyone sees them.
//! - **Deadlines.** Connecting, authenticating and every exec are bounded by
//!   the run's deadline.
//!
//! Rooms: [`pins`] (host-key pins and algorithms), [`error`] (the error
//! type and its exit codes), [`connect`] (the handshake and [`Session`]),
//! [`login`] (the login methods), [`exec`] (running commands) and [`hold`]
//! (the lock: a command kept running).

use std::time::Duration;

mod connect;
mod error;
mod exec;
mod hold;
mod login;
mod pins;

pub use connect::{Credential, Session, connect, probe};
pub use error::{SshError, keyscan_command};
pub use exec::{Output, command_line, command_log, quote};
pub use hold::{Held, Hold};
pub use login::Auth;
pub use pins::{HostKeyPins, SeenKey, fingerprint_of, key_line};

/// The longest a TCP connect plus key exchange may take, within the deadline.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(20);
/// The most stdout (and, separately, stderr) kept from one command.
pub const MAX_OUTPUT: usize = 64 * 1024;

#[cfg(test)]
mod tests;
