//! [`SshError`]: what went wrong on the way to the machine, and the exit
//! code each case leaves.
//!
//! One type for every SSH step, kept with its mapping to the project's exit
//! codes so that "was input sent?" is decided in one place: once a command
//! may have received the new password, no error may read "nothing changed".

use std::fmt;

use super::SeenKey;

/// What went wrong, in terms the flow can turn into an exit code. None of
/// these hold a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshError {
    /// No TCP connection or no completed handshake: nothing was sent.
    Connect { address: String, detail: String },
    /// The machine record has no pin. Nothing but the handshake happened.
    NoPin { address: String, seen: SeenKey },
    /// The server's key matches no pin.
    HostKeyChanged { address: String, seen: Vec<SeenKey> },
    /// The server refused the credential. `methods` are the methods it
    /// offers (`password`, `publickey`, ...).
    AuthRejected { user: String, methods: Vec<String> },
    /// Keyboard-interactive asked for more than a password.
    UnexpectedPrompts { user: String, prompts: Vec<String> },
    /// A command line would have held a secret; it was not sent.
    SecretInCommandLine,
    /// The server refused to open a session or run the command: nothing ran.
    ExecRefused { what: String },
    /// The connection or channel ended before the command reported an exit
    /// status. `stdin_sent`: whether the secret input had been sent (then the
    /// change may have happened).
    Lost {
        stage: &'static str,
        stdin_sent: bool,
        /// Output seen so far (redacted).
        output: String,
    },
    /// The deadline passed at `stage`.
    Timeout {
        stage: &'static str,
        stdin_sent: bool,
    },
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { address, detail } => {
                write!(f, "cannot connect to {address}: {detail}")
            }
            Self::NoPin { address, seen } => write!(
                f,
                "the machine record has no 'SSH Host Key': {address} presented {} ({}). Check \
                 it out of band ({} from the gateway, or the host's console output) and store \
                 that line in the machine record's custom field 'SSH Host Key'",
                seen.line,
                seen.fingerprint,
                keyscan_command(address)
            ),
            Self::HostKeyChanged { address, seen } => {
                let list: Vec<String> = seen
                    .iter()
                    .map(|s| format!("{} ({})", s.line, s.fingerprint))
                    .collect();
                write!(
                    f,
                    "host key changed: possible man-in-the-middle. {address} presented {} which \
                     matches no key in 'SSH Host Key'. If the host was rebuilt, check the new key \
                     out of band and update the field",
                    list.join(", ")
                )
            }
            Self::AuthRejected { user, methods } => write!(
                f,
                "the server refused the credential for '{user}' (it offers: {})",
                if methods.is_empty() {
                    "nothing more".to_owned()
                } else {
                    methods.join(", ")
                }
            ),
            Self::UnexpectedPrompts { user, prompts } => write!(
                f,
                "keyboard-interactive login for '{user}' asked for more than a password ({}); \
                 multi-factor logins cannot be automated",
                prompts.join(" | ")
            ),
            Self::SecretInCommandLine => f.write_str(
                "refused to send a command line holding a secret (a bug: secrets go on stdin)",
            ),
            Self::ExecRefused { what } => write!(f, "the server refused to {what}"),
            Self::Lost {
                stage,
                stdin_sent,
                output,
            } => {
                write!(f, "the connection was lost while {stage}")?;
                if *stdin_sent {
                    f.write_str(" after the input was sent (the change may have been applied)")?;
                }
                if !output.trim().is_empty() {
                    write!(f, "; output: {}", output.trim())?;
                }
                Ok(())
            }
            Self::Timeout { stage, stdin_sent } => {
                write!(f, "the deadline passed while {stage}")?;
                if *stdin_sent {
                    f.write_str(" after the input was sent (the change may have been applied)")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SshError {}

impl SshError {
    /// Whether the command's input (the secret or the new content) had been
    /// sent when this happened: then the change may have been applied.
    pub fn input_sent(&self) -> bool {
        match self {
            Self::Lost { stdin_sent, .. } | Self::Timeout { stdin_sent, .. } => *stdin_sent,
            _ => false,
        }
    }

    /// The error with the exit code its state calls for, when nothing
    /// reconciles it first: a missing or wrong pin and an unautomatable
    /// login are configuration (2, nothing sent); failures before any input
    /// was sent change nothing (1); a loss or timeout after the input was
    /// sent leaves the account uncertain (4) — the flow should reconcile
    /// (probe new, then old) before giving up with it.
    pub fn into_error(self) -> common::error::Error {
        use common::error::Error;
        let message = self.to_string();
        match self {
            Self::NoPin { .. }
            | Self::HostKeyChanged { .. }
            | Self::UnexpectedPrompts { .. }
            | Self::SecretInCommandLine => Error::Config(message),
            Self::Connect { address, detail } => Error::Unreachable {
                target: format!("SSH to {address}"),
                detail,
            },
            Self::AuthRejected { .. } | Self::ExecRefused { .. } => Error::Failed(message),
            Self::Lost { stdin_sent, .. } | Self::Timeout { stdin_sent, .. } => {
                if stdin_sent {
                    Error::NeedsAttention(message)
                } else {
                    Error::Failed(message)
                }
            }
        }
    }
}

/// The `ssh-keyscan` command that shows `address`'s host keys (`host:port`,
/// IPv6 in brackets).
pub fn keyscan_command(address: &str) -> String {
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port),
        _ => (address, "22"),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if port == "22" {
        format!("ssh-keyscan {host}")
    } else {
        format!("ssh-keyscan -p {port} {host}")
    }
}
