//! The admin's connection to the machine, for the synchronous rotation flow.
//!
//! Why a module: the rotation driver and the shared replacement sequence
//! ([`common::replace`]) are synchronous, russh is async. A `Conn` owns a
//! small runtime (one worker thread, so the SSH session keeps answering the
//! server while the flow waits on the vault) and the admin's session, and
//! reconnects and logs in again when the session was lost (a dropped
//! connection in the middle of a rotation must not stop the steps that
//! reconcile or undo it). Logins that only test a credential
//! ([`Conn::authenticate_as`]) never open a session, so a forced `command=`
//! or a login shell never runs.
//!
//! Why the only way to the machine: no caller holds the session. Each use
//! (a command, reading or writing `authorized_keys`, the lock, a test
//! login) is a method here, so every one passes the same rule: a lost
//! session is replaced, and the machine's lock taken again, before anything
//! runs on the new one.
//!
//! Why a spare connection: a test login's cost on a real machine is mostly
//! sshd starting and the key exchange, before any credential is tried. So
//! while the admin logs in, a second connection is opened for the user in the
//! background and asks the server which methods it offers (the `none`
//! method, which checks no password and counts as no failed login). Planning
//! reads the answer ([`Conn::user_methods`]); the first test login that
//! follows uses the same connection, already past its key exchange. A spare
//! that the server has closed meanwhile (`LoginGraceTime`) is never used: a
//! fresh connection is opened instead, so the spare only ever saves time.

use std::cell::RefCell;
use std::future::Future;

use common::deadline::Deadline;
use common::error::{Error, Result};

use crate::remote::{self, KeysError, KeysFile, KeysPath};
use crate::ssh::{
    self, Auth, Credential, Held, Hold, HostKeyPins, Output, SeenKey, Session, SshError,
};
use crate::target::HostPort;

/// A credential the admin logs in with, and how to name it in messages.
#[derive(Debug, Clone)]
pub struct Login {
    pub credential: Credential,
    /// "a key", "a password".
    pub what: &'static str,
}

/// The user's spare connection (see the module's documentation).
enum Spare {
    /// Connecting and asking for the offered methods, in the background.
    Pending(tokio::task::JoinHandle<std::result::Result<(Session, Auth), SshError>>),
    /// Connected, not logged in: ready for a test login.
    Ready(Box<Session>),
    /// Used up, closed, or never opened.
    Gone,
}

/// The admin's connection.
pub struct Conn {
    // Declared before the runtime: dropped while it still runs.
    /// The machine-side lock on rotating the user, while held.
    lock: Option<Held>,
    session: Option<Session>,
    /// The user the spare connection is for, and the spare.
    spare_user: String,
    spare: RefCell<Spare>,
    /// The `none` method's answer on the spare, until planning reads it.
    offered: RefCell<Option<std::result::Result<Auth, SshError>>>,
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

/// What [`Conn::lock`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locked {
    Held,
    /// Another run holds the lock.
    Busy,
    /// No lock could be taken (why); runs are not serialised.
    Unavailable(String),
}

/// What [`Conn::open`] needs: where the machine is, which host keys it may
/// show, and who logs in with what.
#[derive(Debug)]
pub struct ConnectOptions<'a> {
    pub endpoint: HostPort,
    /// `SSH Host Key`; `None` when the record has none.
    pub pins: Option<HostKeyPins>,
    /// Trust the key seen when there is no pin.
    pub trust_on_first_use: bool,
    pub deadline: Deadline,
    /// The admin's login.
    pub login: &'a str,
    /// The admin's credentials, tried in order.
    pub credentials: Vec<Login>,
    /// What to do when every credential is refused (ends the message).
    pub fix: &'a str,
    /// The user rotated: the spare connection logs in as them.
    pub user: &'a str,
}

/// One replacement of `authorized_keys` ([`Conn::write_keys`]).
#[derive(Debug, Clone, Copy)]
pub struct KeysWrite<'a> {
    pub at: &'a KeysPath<'a>,
    /// The file as this run last read or wrote it: the write is refused if
    /// the machine's copy differs.
    pub read: &'a KeysFile,
    pub content: &'a str,
    /// Names the backup.
    pub timestamp: &'a str,
    /// The change ledger's entry.
    pub what: &'a str,
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
    /// refused login is exit 1 ending with `fix` (what to correct). Once the
    /// host key is checked, the spare connection for `user` is opened in the
    /// background.
    pub fn open(options: ConnectOptions<'_>) -> Result<(Self, HostKey)> {
        let ConnectOptions {
            endpoint,
            pins,
            trust_on_first_use,
            deadline,
            login,
            credentials,
            fix,
            user,
        } = options;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
        let mut conn = Self {
            lock: None,
            session: None,
            spare_user: user.to_owned(),
            spare: RefCell::new(Spare::Gone),
            offered: RefCell::new(None),
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
        conn.open_spare();
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
    /// Private: callers go through the methods of [`Conn`], so every use
    /// of the machine passes the reconnect and relock rules here.
    fn session(&mut self) -> std::result::Result<(&tokio::runtime::Runtime, &Session), SshError> {
        if self.session.as_ref().is_none_or(Session::is_closed) {
            self.session = None;
            // The lock was a channel of the lost session: gone with it.
            let relock = self.lock.take().is_some();
            let session =
                self.runtime
                    .block_on(ssh::connect(&self.endpoint, &self.pins, self.deadline))?;
            tracing::info!("connected again to {}", self.endpoint.address());
            self.session = Some(session);
            self.log_in()?;
            if relock {
                let user = self.spare_user.clone();
                match self.lock(&user)? {
                    Locked::Held => {}
                    // Another run started meanwhile: whatever this one
                    // does next could cross it.
                    Locked::Busy => {
                        return Err(SshError::Lost {
                            stage: "taking the lock again after connecting again",
                            stdin_sent: false,
                            output: format!(
                                "another run took the lock on rotating '{user}' while this one \
                                 was disconnected"
                            ),
                        });
                    }
                    Locked::Unavailable(why) => tracing::warn!(
                        "the lock on rotating '{user}' could not be taken again ({why})"
                    ),
                }
            }
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

    /// Reads `authorized_keys` as its owner ([`remote::read_keys`]),
    /// connecting again first if the connection was lost. The outer error:
    /// no logged-in session could be had, so nothing was read.
    pub fn read_keys(
        &mut self,
        at: &KeysPath<'_>,
    ) -> std::result::Result<std::result::Result<KeysFile, KeysError>, SshError> {
        let (runtime, session) = self.session()?;
        Ok(runtime.block_on(remote::read_keys(session, at)))
    }

    /// Replaces `authorized_keys` ([`remote::write_keys`]), connecting
    /// again first if the connection was lost. The outer error: no
    /// logged-in session could be had, so nothing was sent.
    pub fn write_keys(
        &mut self,
        write: &KeysWrite<'_>,
    ) -> std::result::Result<std::result::Result<(), KeysError>, SshError> {
        let (runtime, session) = self.session()?;
        Ok(runtime.block_on(remote::write_keys(
            session,
            write.at,
            write.read,
            write.content,
            write.timestamp,
            write.what,
        )))
    }

    /// Runs a constant script as the admin (see [`Session::exec`]).
    pub fn exec(
        &mut self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> std::result::Result<Output, SshError> {
        let (runtime, session) = self.session()?;
        let result = runtime.block_on(session.exec(script, args, stdin, pty));
        if matches!(result, Err(SshError::Lost { .. })) {
            // The next call connects again.
            self.session = None;
        }
        result
    }

    /// Starts connecting the spare for the user in the background (the
    /// host key is checked against the same pins), replacing any spare left.
    pub fn open_spare(&self) {
        let (endpoint, pins, deadline) = (self.endpoint.clone(), self.pins.clone(), self.deadline);
        let user = self.spare_user.clone();
        let task = self.runtime.spawn(async move {
            let mut session = ssh::connect(&endpoint, &pins, deadline).await?;
            let offered = session.offered_methods(&user).await?;
            Ok((session, offered))
        });
        let old = self.spare.replace(Spare::Pending(task));
        self.discard(old);
    }

    /// The methods the server offers the user, as the spare's `none`
    /// request found them (asked on a fresh connection when there is no
    /// spare). `Accepted`: the user logs in with no credential at all.
    pub fn user_methods(&self) -> std::result::Result<Auth, SshError> {
        self.settle_spare();
        // The spare's answer; when it failed (MaxStartups, a reset), ask
        // once more on a fresh connection.
        let spare = self.offered.borrow_mut().take();
        if let Some(Ok(offered)) = spare {
            return Ok(offered);
        }
        let user = self.spare_user.clone();
        self.runtime.block_on(async {
            let mut session = ssh::connect(&self.endpoint, &self.pins, self.deadline).await?;
            let result = session.offered_methods(&user).await;
            session.close().await;
            result
        })
    }

    /// Waits for a pending spare: ready, or gone with its error kept for
    /// [`Conn::user_methods`].
    fn settle_spare(&self) {
        let task = match self.spare.replace(Spare::Gone) {
            Spare::Pending(task) => task,
            other => {
                *self.spare.borrow_mut() = other;
                return;
            }
        };
        let (spare, offered) = match self.runtime.block_on(task) {
            Ok(Ok((session, Auth::Accepted))) => {
                // Logged in with no credential: the spare is used up.
                self.runtime.block_on(session.close());
                (Spare::Gone, Ok(Auth::Accepted))
            }
            Ok(Ok((session, offered))) => (Spare::Ready(Box::new(session)), Ok(offered)),
            Ok(Err(e)) => (Spare::Gone, Err(e)),
            Err(e) => (
                Spare::Gone,
                Err(SshError::Lost {
                    stage: "connecting",
                    stdin_sent: false,
                    output: format!("the connection's task failed: {e}"),
                }),
            ),
        };
        *self.spare.borrow_mut() = spare;
        *self.offered.borrow_mut() = Some(offered);
    }

    /// The spare, if it is for `user` and still open.
    fn take_spare(&self, user: &str) -> Option<Session> {
        if user != self.spare_user {
            return None;
        }
        self.settle_spare();
        match self.spare.replace(Spare::Gone) {
            Spare::Ready(session) if !session.is_closed() => Some(*session),
            other => {
                self.discard(other);
                None
            }
        }
    }

    /// Closes or stops a spare that is no longer wanted.
    fn discard(&self, spare: Spare) {
        match spare {
            Spare::Pending(task) => task.abort(),
            Spare::Ready(session) => self.runtime.block_on(session.close()),
            Spare::Gone => {}
        }
    }

    /// Tries `credential` for `user` on a connection that only
    /// authenticates: the spare when it is ready (kept for the next attempt
    /// when the server refused), else a fresh one.
    pub fn authenticate_as(
        &self,
        user: &str,
        credential: &Credential,
    ) -> std::result::Result<Auth, SshError> {
        if let Some(mut session) = self.take_spare(user) {
            let result = self
                .runtime
                .block_on(session.authenticate(user, credential));
            if matches!(result, Ok(Auth::Rejected { .. })) && !session.is_closed() {
                *self.spare.borrow_mut() = Spare::Ready(Box::new(session));
            } else {
                self.runtime.block_on(session.close());
            }
            return result;
        }
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

    /// Takes the machine-side lock on rotating `user` ([`remote::LOCK`]) on
    /// the admin's session, and keeps it until [`Conn::close`] (or the
    /// connection ends).
    pub fn lock(&mut self, user: &str) -> std::result::Result<Locked, SshError> {
        let id = remote::lock_id(user);
        // Held past the run's end only when the run could not release it.
        let seconds = (self.deadline.remaining().as_secs() + 10).to_string();
        let (runtime, session) = self.session()?;
        let hold =
            runtime.block_on(session.hold(remote::LOCK, &[&id, &seconds], remote::LOCK_HELD))?;
        Ok(match hold {
            // The lock's channel may be the one session the server allows
            // per connection (MaxSessions 1): then every command after it
            // would be refused. Give the lock up rather than the rotation.
            Hold::Held(held) if !runtime.block_on(session.another_session_opens()) => {
                runtime.block_on(held.release_and_wait());
                Locked::Unavailable(
                    "the server allows one session per connection (MaxSessions 1), which the \
                     rotation itself needs"
                        .into(),
                )
            }
            Hold::Held(held) => {
                self.lock = Some(held);
                Locked::Held
            }
            Hold::Ended(out) if out.status == Some(75) => Locked::Busy,
            Hold::Ended(out) if out.stdout.contains("keeper-lock unavailable") => {
                Locked::Unavailable("the machine has no flock".into())
            }
            Hold::Ended(out) if out.stdout.contains("keeper-lock untrusted") => {
                let dir = out
                    .stdout
                    .lines()
                    .find_map(|l| l.strip_prefix("keeper-lock untrusted "))
                    .unwrap_or("the lock directory")
                    .trim()
                    .to_owned();
                Locked::Unavailable(format!(
                    "{dir} is not a directory of this admin's own with mode 700, so it is not \
                     trusted"
                ))
            }
            Hold::Ended(out) => Locked::Unavailable(remote::failure("taking the lock", &out)),
        })
    }

    /// Ends the admin's session and the spare politely.
    pub fn close(&mut self) {
        if let Some(lock) = self.lock.take() {
            self.runtime.block_on(lock.release());
        }
        let spare = self.spare.replace(Spare::Gone);
        self.discard(spare);
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
