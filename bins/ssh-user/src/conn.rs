//! The admin's connection to the machine, for the synchronous rotation flow.
//!
//! Why a module: the rotation driver and the shared replacement sequence
//! ([`common::replace`]) are synchronous, russh is async. A `Conn` owns a
//! small runtime (one worker thread, so the SSH session keeps answering the
//! server while the flow waits on the vault) and the admin's session, and
//! reconnects and logs in again when the session was lost (a dropped
//! connection in the middle of a rotation must not stop the steps that
//! reconcile or undo it). Logins that only test a credential
//! ([`Conn::authenticate_as`]) use a fresh connection each and never open a
//! session, so a forced `command=` or a login shell never runs.

use std::future::Future;

use common::deadline::Deadline;
use common::error::{Error, Result};

use crate::ssh::{self, Auth, Credential, HostKeyPins, Output, SeenKey, Session, SshError};
use crate::target::HostPort;

/// A credential the admin logs in with, and how to name it in messages.
#[derive(Debug, Clone)]
pub struct Login {
    pub credential: Credential,
    /// "a key", "a password".
    pub what: &'static str,
}

/// The admin's connection.
pub struct Conn {
    // Declared before the runtime: dropped while it still runs.
    session: Option<Session>,
    endpoint: HostPort,
    pins: HostKeyPins,
    deadline: Deadline,
    login: String,
    credentials: Vec<Login>,
    /// Which credential logged in last ("a key", "a password").
    used: &'static str,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("address", &self.endpoint.address())
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// What [`Conn::open`] found about the host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKey {
    /// The server's key matched a pin.
    Pinned(SeenKey),
    /// There was no pin and trust on first use is on: this key was trusted
    /// for this run, and is to be stored as the pin.
    TrustedOnFirstUse(SeenKey),
}

impl HostKey {
    pub fn seen(&self) -> &SeenKey {
        match self {
            Self::Pinned(seen) | Self::TrustedOnFirstUse(seen) => seen,
        }
    }
}

impl Conn {
    /// Connects, checks the host key, and logs in as `login` with the first
    /// of `credentials` the server accepts. No pin: with `trust_on_first_use`
    /// the key seen is trusted for this run ([`HostKey::TrustedOnFirstUse`]);
    /// without it, exit 2 printing the key, before anything is sent. A
    /// refused login is exit 1 ending with `fix` (what to correct).
    pub fn open(
        endpoint: HostPort,
        pins: Option<HostKeyPins>,
        trust_on_first_use: bool,
        deadline: Deadline,
        login: &str,
        credentials: Vec<Login>,
        fix: &str,
    ) -> Result<(Self, HostKey)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
        let mut conn = Self {
            session: None,
            endpoint,
            pins: pins.unwrap_or_default(),
            deadline,
            login: login.to_owned(),
            credentials,
            used: "",
            runtime,
        };
        let first = conn
            .runtime
            .block_on(ssh::connect(&conn.endpoint, &conn.pins, conn.deadline));
        let (session, host_key) = match first {
            Ok(session) => {
                let seen = session.host_key().clone();
                (session, HostKey::Pinned(seen))
            }
            Err(SshError::NoPin { seen, .. }) if trust_on_first_use => {
                tracing::warn!(
                    "the machine record has no 'SSH Host Key'; trusting the key {} ({}) on first \
                     use, as trust_host_key_on_first_use asks",
                    seen.line,
                    seen.fingerprint
                );
                conn.pins = HostKeyPins::parse(&seen.line).map_err(|e| {
                    Error::Failed(format!("the server's host key cannot be pinned: {e}"))
                })?;
                let session = conn
                    .runtime
                    .block_on(ssh::connect(&conn.endpoint, &conn.pins, conn.deadline))
                    .map_err(SshError::into_error)?;
                (session, HostKey::TrustedOnFirstUse(seen))
            }
            Err(e) => return Err(e.into_error()),
        };
        conn.session = Some(session);
        conn.log_in().map_err(|e| match e {
            SshError::AuthRejected { .. } => {
                Error::Failed(format!("{e}: {fix}; nothing was changed"))
            }
            other => other.into_error(),
        })?;
        Ok((conn, host_key))
    }

    pub fn address(&self) -> String {
        self.endpoint.address()
    }

    pub fn endpoint(&self) -> &HostPort {
        &self.endpoint
    }

    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Which credential the admin logged in with ("a key", "a password").
    pub fn used(&self) -> &'static str {
        self.used
    }

    /// Runs `future` on the connection's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The runtime and a logged-in session, reconnecting if it was lost.
    pub fn parts(&mut self) -> std::result::Result<(&tokio::runtime::Runtime, &Session), SshError> {
        if self.session.as_ref().is_none_or(Session::is_closed) {
            self.session = None;
            let session =
                self.runtime
                    .block_on(ssh::connect(&self.endpoint, &self.pins, self.deadline))?;
            tracing::info!("connected again to {}", self.endpoint.address());
            self.session = Some(session);
            self.log_in()?;
        }
        match &self.session {
            Some(session) => Ok((&self.runtime, session)),
            None => Err(SshError::Lost {
                stage: "connecting again",
                stdin_sent: false,
                output: String::new(),
            }),
        }
    }

    /// Runs a constant script as the admin (see [`Session::exec`]).
    pub fn exec(
        &mut self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> std::result::Result<Output, SshError> {
        let (runtime, session) = self.parts()?;
        let result = runtime.block_on(session.exec(script, args, stdin, pty));
        if matches!(result, Err(SshError::Lost { .. })) {
            // The next call connects again.
            self.session = None;
        }
        result
    }

    /// Tries `credential` for `user` on a fresh connection that only
    /// authenticates.
    pub fn authenticate_as(
        &self,
        user: &str,
        credential: &Credential,
    ) -> std::result::Result<Auth, SshError> {
        self.runtime.block_on(async {
            let mut session = ssh::connect(&self.endpoint, &self.pins, self.deadline).await?;
            let result = session.authenticate(user, credential).await;
            session.close().await;
            result
        })
    }

    /// Forgets the session (after it was lost): the next call connects
    /// again.
    pub fn forget_session(&mut self) {
        self.session = None;
    }

    /// Ends the admin's session politely.
    pub fn close(&mut self) {
        if let Some(session) = self.session.take() {
            self.runtime.block_on(session.close());
        }
    }

    fn log_in(&mut self) -> std::result::Result<(), SshError> {
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let mut methods = Vec::new();
        for login in &self.credentials {
            match self
                .runtime
                .block_on(session.authenticate(&self.login, &login.credential))?
            {
                Auth::Accepted => {
                    self.used = login.what;
                    return Ok(());
                }
                Auth::Rejected { methods: offered } => {
                    tracing::info!(
                        "{} refused {} for '{}'",
                        self.endpoint.address(),
                        login.what,
                        self.login
                    );
                    methods = offered;
                }
            }
        }
        Err(SshError::AuthRejected {
            user: self.login.clone(),
            methods,
        })
    }
}
