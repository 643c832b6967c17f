//! Connecting: the TCP connection, the handshake and the host-key check.
//!
//! The [`Session`] type lives here with the handshake that makes one; the
//! login methods, commands and the lock add their own `impl Session` blocks
//! in their modules, so each concern reads on its own while `Session` stays
//! the one way to a connected machine.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::deadline::Deadline;
use russh::client::{self, Handle};
use russh::keys::{Algorithm, PrivateKey, PublicKey, PublicKeyOrCertificate};

use super::{Auth, HANDSHAKE_LIMIT, HostKeyPins, SeenKey, SshError};
use crate::target::HostPort;
use common::secret::Secret;

/// A credential to log in with.
#[derive(Debug, Clone)]
pub enum Credential {
    Password(Secret),
    Key(Arc<PrivateKey>),
}

/// russh's callbacks: only the host key check.
pub(super) struct Client {
    pins: HostKeyPins,
    seen: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_public_key else {
            // No certificate algorithms are advertised; a server that sends
            // one anyway is refused.
            return Ok(false);
        };
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(key.clone());
        Ok(!self.pins.is_empty() && self.pins.matches(key))
    }
}

/// An authenticated (or about to be) SSH connection.
pub struct Session {
    pub(super) handle: Handle<Client>,
    pub(super) address: String,
    pub(super) deadline: Deadline,
    pub(super) host_key: SeenKey,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("address", &self.address)
            .field("host_key", &self.host_key.fingerprint)
            .finish_non_exhaustive()
    }
}

fn config(algorithms: Vec<Algorithm>) -> Arc<client::Config> {
    Arc::new(client::Config {
        preferred: russh::Preferred {
            key: algorithms.into(),
            ..russh::Preferred::DEFAULT
        },
        nodelay: true,
        inactivity_timeout: Some(Duration::from_secs(120)),
        ..client::Config::default()
    })
}

/// Connects and checks the host key against `pins`. With no pins it still
/// completes the handshake far enough to learn the server's key, then
/// returns [`SshError::NoPin`]; nothing else is sent.
pub async fn connect(
    endpoint: &HostPort,
    pins: &HostKeyPins,
    deadline: Deadline,
) -> Result<Session, SshError> {
    let address = endpoint.address();
    let mut seen_keys: Vec<SeenKey> = Vec::new();
    let mut last_error = None;
    for algorithms in pins.algorithm_rounds() {
        let seen = Arc::new(Mutex::new(None));
        let handler = Client {
            pins: pins.clone(),
            seen: Arc::clone(&seen),
        };
        let limit = deadline.remaining().min(HANDSHAKE_LIMIT);
        let attempt = tokio::time::timeout(
            limit,
            client::connect(
                config(algorithms),
                (endpoint.host.as_str(), endpoint.port),
                handler,
            ),
        )
        .await;
        let key = seen.lock().unwrap_or_else(PoisonError::into_inner).take();
        match attempt {
            Ok(Ok(handle)) => {
                let host_key = key.as_ref().map(SeenKey::of).unwrap_or(SeenKey {
                    line: String::new(),
                    fingerprint: String::new(),
                });
                return Ok(Session {
                    handle,
                    address,
                    deadline,
                    host_key,
                });
            }
            Ok(Err(error)) => {
                if let Some(key) = key {
                    if pins.is_empty() {
                        return Err(SshError::NoPin {
                            address,
                            seen: SeenKey::of(&key),
                        });
                    }
                    let seen = SeenKey::of(&key);
                    if !seen_keys.contains(&seen) {
                        seen_keys.push(seen);
                    }
                    continue;
                }
                last_error = Some(describe(&error));
                // A failed negotiation (no common host-key algorithm in this
                // round) is worth another round; a refused TCP connection
                // is not.
                if matches!(error, russh::Error::IO(_)) {
                    break;
                }
            }
            Err(_) => {
                return Err(SshError::Connect {
                    address,
                    detail: format!(
                        "no SSH handshake within {} s (is the port right, and a firewall open?)",
                        limit.as_secs()
                    ),
                });
            }
        }
    }
    if !seen_keys.is_empty() {
        return Err(SshError::HostKeyChanged {
            address,
            seen: seen_keys,
        });
    }
    Err(SshError::Connect {
        address,
        detail: last_error.unwrap_or_else(|| "the handshake failed".into()),
    })
}

pub(super) fn describe(error: &russh::Error) -> String {
    match error {
        russh::Error::IO(e) => e.to_string(),
        russh::Error::NoCommonAlgo { kind, .. } => {
            format!("no common {kind:?} algorithm with the server")
        }
        other => other.to_string(),
    }
}

impl Session {
    /// The server's host key (the pinned one).
    pub fn host_key(&self) -> &SeenKey {
        &self.host_key
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether the connection has ended (the server closed it, or it was
    /// lost): a new one is needed.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Opens a session channel. A refusal is tried again twice, 50 ms
    /// apart: with `MaxSessions 1` the server frees the previous command's
    /// session a moment after that command ended. Nothing runs on a channel
    /// that did not open, so trying again is safe.
    pub(super) async fn open_session(&self) -> Result<russh::Channel<client::Msg>, SshError> {
        let mut attempt = 0;
        loop {
            match self.handle.channel_open_session().await {
                Ok(channel) => return Ok(channel),
                Err(russh::Error::ChannelOpenFailure(_)) if attempt < 2 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    return Err(SshError::ExecRefused {
                        what: format!("open a session ({})", describe(&e)),
                    });
                }
            }
        }
    }

    /// Whether the server opens one more session channel on this
    /// connection (opened and closed at once; nothing runs).
    pub async fn another_session_opens(&self) -> bool {
        let limit = self.deadline.remaining().min(HANDSHAKE_LIMIT);
        match tokio::time::timeout(limit, self.handle.channel_open_session()).await {
            Ok(Ok(channel)) => {
                let _ = channel.close().await;
                true
            }
            _ => false,
        }
    }

    /// Ends the connection politely.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// Connects, authenticates, and disconnects without opening a session: a
/// forced `command=` or a login shell never runs. `Ok(true)` when the
/// credential was accepted.
pub async fn probe(
    endpoint: &HostPort,
    pins: &HostKeyPins,
    user: &str,
    credential: &Credential,
    deadline: Deadline,
) -> Result<bool, SshError> {
    let mut session = connect(endpoint, pins, deadline).await?;
    let result = session.authenticate(user, credential).await;
    session.close().await;
    Ok(matches!(result?, Auth::Accepted))
}
