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

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::deadline::Deadline;
use common::secret::{self, Secret};
use russh::client::{self, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::{
    Algorithm, EcdsaCurve, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey,
    PublicKeyOrCertificate,
};
use russh::{ChannelMsg, MethodKind, Pty};
use zeroize::Zeroizing;

use crate::target::HostPort;

/// The longest a TCP connect plus key exchange may take, within the deadline.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(20);
/// The most stdout (and, separately, stderr) kept from one command.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// Accepted host keys, from the machine record's `SSH Host Key` field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostKeyPins {
    keys: Vec<PublicKey>,
    fingerprints: Vec<String>,
}

impl HostKeyPins {
    /// Reads one pin per non-empty line: an OpenSSH public key line
    /// (`ssh-ed25519 AAAA… comment`), a known_hosts line
    /// (`host1,host2 ssh-ed25519 AAAA…`, hashed hosts too), or a
    /// `SHA256:…` fingerprint. `@revoked` and `@cert-authority` lines are
    /// refused: this client pins keys, not authorities.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pins = Self::default();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = index + 1;
            if let Some(fp) = line.strip_prefix("SHA256:") {
                let fp = fp.trim_end_matches('=');
                if fp.is_empty()
                    || !fp
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
                {
                    return Err(format!("line {n}: a SHA256: fingerprint must be base64"));
                }
                pins.fingerprints.push(format!("SHA256:{fp}"));
                continue;
            }
            if line.starts_with('@') {
                return Err(format!(
                    "line {n}: '{}' lines are not supported; pin the host's own key",
                    line.split_whitespace().next().unwrap_or("@")
                ));
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            // A known_hosts line starts with the host patterns; a public key
            // line with the key type.
            let start = usize::from(!is_key_type(words[0]));
            let (Some(kind), Some(blob)) = (words.get(start), words.get(start + 1)) else {
                return Err(format!(
                    "line {n}: expected a public key line, a known_hosts line or SHA256:…"
                ));
            };
            let key = PublicKey::from_openssh(&format!("{kind} {blob}"))
                .map_err(|e| format!("line {n}: not a readable public key ({e})"))?;
            pins.keys.push(key);
        }
        if pins.is_empty() {
            return Err("holds no key or fingerprint".into());
        }
        Ok(pins)
    }

    /// A pin on exactly one key, e.g. a test server's.
    pub fn key(key: PublicKey) -> Self {
        Self {
            keys: vec![key],
            fingerprints: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.fingerprints.is_empty()
    }

    pub fn matches(&self, key: &PublicKey) -> bool {
        self.keys.iter().any(|k| k.key_data() == key.key_data())
            || self
                .fingerprints
                .iter()
                .any(|fp| *fp == fingerprint_of(key).trim_end_matches('='))
    }

    /// The host-key algorithm lists to try, in order: one list with every
    /// pinned key's algorithms; then, for fingerprint pins, one per family.
    fn algorithm_rounds(&self) -> Vec<Vec<Algorithm>> {
        let mut rounds = Vec::new();
        if !self.keys.is_empty() {
            let mut algs = Vec::new();
            for key in &self.keys {
                for alg in algorithms_for(&key.algorithm()) {
                    if !algs.contains(&alg) {
                        algs.push(alg);
                    }
                }
            }
            rounds.push(algs);
        }
        if !self.fingerprints.is_empty() {
            rounds.push(vec![Algorithm::Ed25519]);
            rounds.push(
                [
                    EcdsaCurve::NistP256,
                    EcdsaCurve::NistP384,
                    EcdsaCurve::NistP521,
                ]
                .into_iter()
                .map(|curve| Algorithm::Ecdsa { curve })
                .collect(),
            );
            rounds.push(rsa_algorithms());
        }
        if rounds.is_empty() {
            rounds.push(russh::Preferred::DEFAULT.key.to_vec());
        }
        rounds
    }
}

fn rsa_algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
        Algorithm::Rsa {
            hash: Some(HashAlg::Sha256),
        },
    ]
}

fn algorithms_for(alg: &Algorithm) -> Vec<Algorithm> {
    if matches!(alg, Algorithm::Rsa { .. }) {
        rsa_algorithms()
    } else {
        vec![alg.clone()]
    }
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-sha2-") || word.starts_with("sk-")
}

/// `SHA256:…` as ssh-keygen prints it.
pub fn fingerprint_of(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// `type base64` of a public key, no comment.
pub fn key_line(key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    key.to_openssh().unwrap_or_default()
}

/// A server's host key, for messages and for trust-on-first-use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenKey {
    /// `type base64`
    pub line: String,
    /// `SHA256:…`
    pub fingerprint: String,
}

impl SeenKey {
    fn of(key: &PublicKey) -> Self {
        Self {
            line: key_line(key),
            fingerprint: fingerprint_of(key),
        }
    }
}

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

/// A credential to log in with.
#[derive(Debug, Clone)]
pub enum Credential {
    Password(Secret),
    Key(Arc<PrivateKey>),
}

/// russh's callbacks: only the host key check.
struct Client {
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
    handle: Handle<Client>,
    address: String,
    deadline: Deadline,
    host_key: SeenKey,
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

fn describe(error: &russh::Error) -> String {
    match error {
        russh::Error::IO(e) => e.to_string(),
        russh::Error::NoCommonAlgo { kind, .. } => {
            format!("no common {kind:?} algorithm with the server")
        }
        other => other.to_string(),
    }
}

/// What an authentication attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Accepted,
    /// Refused; the methods the server still offers.
    Rejected {
        methods: Vec<String>,
    },
}

fn method_names(methods: &russh::MethodSet) -> Vec<String> {
    methods
        .iter()
        .map(|m| <&'static str>::from(m).to_owned())
        .collect()
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

    /// Tries `credential` for `user`. A password is tried with the
    /// `password` method, then, if the server offers it,
    /// `keyboard-interactive` answering the password prompt. A key signs
    /// with the best RSA hash the server supports.
    pub async fn authenticate(
        &mut self,
        user: &str,
        credential: &Credential,
    ) -> Result<Auth, SshError> {
        let limit = self.deadline.remaining();
        let attempt = tokio::time::timeout(limit, self.authenticate_inner(user, credential)).await;
        self.judge(attempt)
    }

    /// The `none` method for `user`: the methods the server offers, without
    /// trying a credential (what an SSH client asks first). Costs the server
    /// no password check and counts as no failed login; accepted only for an
    /// account without a password that the server lets in without one.
    pub async fn offered_methods(&mut self, user: &str) -> Result<Auth, SshError> {
        let limit = self.deadline.remaining();
        let attempt = tokio::time::timeout(limit, async {
            match self.handle.authenticate_none(user).await {
                Ok(russh::client::AuthResult::Success) => Ok(Auth::Accepted),
                Ok(russh::client::AuthResult::Failure {
                    remaining_methods, ..
                }) => Ok(Auth::Rejected {
                    methods: method_names(&remaining_methods),
                }),
                Err(e) => Err(SshError::Lost {
                    stage: "authenticating",
                    stdin_sent: false,
                    output: describe(&e),
                }),
            }
        })
        .await;
        self.judge(attempt)
    }

    /// An authentication attempt's result as this program reads it.
    fn judge(
        &self,
        attempt: Result<Result<Auth, SshError>, tokio::time::error::Elapsed>,
    ) -> Result<Auth, SshError> {
        match attempt {
            // russh answers a connection that ended before the server did
            // as a refusal offering nothing more. A cut is not a refusal: a
            // verification login it ended proves nothing about the password
            // or key tried.
            Ok(Ok(Auth::Rejected { methods })) if methods.is_empty() && self.is_closed() => {
                Err(SshError::Lost {
                    stage: "authenticating",
                    stdin_sent: false,
                    output: "the server closed the connection without answering".into(),
                })
            }
            Ok(result) => result,
            Err(_) => Err(SshError::Timeout {
                stage: "authenticating",
                stdin_sent: false,
            }),
        }
    }

    async fn authenticate_inner(
        &mut self,
        user: &str,
        credential: &Credential,
    ) -> Result<Auth, SshError> {
        let lost = |e: russh::Error| SshError::Lost {
            stage: "authenticating",
            stdin_sent: false,
            output: describe(&e),
        };
        match credential {
            Credential::Key(key) => {
                let hash = match self.handle.best_supported_rsa_hash().await {
                    Ok(Some(hash)) => hash,
                    Ok(None) | Err(_) => Some(HashAlg::Sha512),
                };
                let key = PrivateKeyWithHashAlg::new(Arc::clone(key), hash);
                let result = self
                    .handle
                    .authenticate_publickey(user, key)
                    .await
                    .map_err(lost)?;
                Ok(match result {
                    russh::client::AuthResult::Success => Auth::Accepted,
                    russh::client::AuthResult::Failure {
                        remaining_methods, ..
                    } => Auth::Rejected {
                        methods: method_names(&remaining_methods),
                    },
                })
            }
            Credential::Password(password) => {
                let result = self
                    .handle
                    .authenticate_password(user, password.expose())
                    .await
                    .map_err(lost)?;
                let remaining = match result {
                    russh::client::AuthResult::Success => return Ok(Auth::Accepted),
                    russh::client::AuthResult::Failure {
                        remaining_methods, ..
                    } => remaining_methods,
                };
                if !remaining.contains(&MethodKind::KeyboardInteractive) {
                    return Ok(Auth::Rejected {
                        methods: method_names(&remaining),
                    });
                }
                self.keyboard_interactive(user, password).await
            }
        }
    }

    async fn keyboard_interactive(
        &mut self,
        user: &str,
        password: &Secret,
    ) -> Result<Auth, SshError> {
        let lost = |e: russh::Error| SshError::Lost {
            stage: "authenticating",
            stdin_sent: false,
            output: describe(&e),
        };
        let mut reply = self
            .handle
            .authenticate_keyboard_interactive_start(user, None)
            .await
            .map_err(lost)?;
        let mut answered = false;
        // A PAM conversation has a handful of rounds at most.
        for _ in 0..6 {
            match reply {
                KeyboardInteractiveAuthResponse::Success => return Ok(Auth::Accepted),
                KeyboardInteractiveAuthResponse::Failure {
                    remaining_methods, ..
                } => {
                    return Ok(Auth::Rejected {
                        methods: method_names(&remaining_methods),
                    });
                }
                KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                    let secret_prompts = prompts.iter().filter(|p| !p.echo).count();
                    if secret_prompts > 1 || (secret_prompts == 1 && answered) {
                        return Err(SshError::UnexpectedPrompts {
                            user: user.to_owned(),
                            prompts: prompts
                                .iter()
                                .map(|p| secret::withhold_lines(p.prompt.trim()))
                                .collect(),
                        });
                    }
                    if prompts.iter().any(|p| p.echo) {
                        return Err(SshError::UnexpectedPrompts {
                            user: user.to_owned(),
                            prompts: prompts
                                .iter()
                                .map(|p| secret::withhold_lines(p.prompt.trim()))
                                .collect(),
                        });
                    }
                    let responses: Vec<String> = prompts
                        .iter()
                        .map(|_| password.expose().to_owned())
                        .collect();
                    answered |= secret_prompts == 1;
                    let responses = Zeroizing::new(responses);
                    reply = self
                        .handle
                        .authenticate_keyboard_interactive_respond(responses.to_vec())
                        .await
                        .map_err(lost)?;
                }
            }
        }
        Ok(Auth::Rejected {
            methods: Vec::new(),
        })
    }

    /// [`Session::authenticate`], an error when refused.
    pub async fn login(&mut self, user: &str, credential: &Credential) -> Result<(), SshError> {
        match self.authenticate(user, credential).await? {
            Auth::Accepted => Ok(()),
            Auth::Rejected { methods } => Err(SshError::AuthRejected {
                user: user.to_owned(),
                methods,
            }),
        }
    }

    /// Runs `/bin/sh -c '<script>' sh <args>`, writes `stdin` to the
    /// channel, closes it, and collects the exit status and output.
    ///
    /// `script` is `&'static str`: a constant of this program, so no secret
    /// can be formatted into it. `args` are checked against every registered
    /// secret, and the command is refused if one appears. With `pty`, a
    /// terminal with echo off is requested (for sudo's `requiretty`); its
    /// stdout and stderr arrive merged on stdout.
    pub async fn exec(
        &self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> Result<Output, SshError> {
        self.collect(script, args, stdin, pty)
            .await
            .map(Collector::finish)
    }

    /// [`Session::exec`], also returning stdout exactly as it arrived, not
    /// redacted: for reading a file that must come back byte for byte
    /// (`authorized_keys`: its public keys may contain a fragment that
    /// equals a registered secret's, such as a line of an OpenSSH private
    /// key, which embeds its public key). Never print the raw bytes.
    pub async fn exec_raw(
        &self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> Result<(Output, Zeroizing<Vec<u8>>), SshError> {
        let collected = self.collect(script, args, stdin, pty).await?;
        let raw = Zeroizing::new(collected.stdout.clone());
        Ok((collected.finish(), raw))
    }

    async fn collect(
        &self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> Result<Collector, SshError> {
        let line = command_line(script, args);
        if secret::redact(&line) != line {
            return Err(SshError::SecretInCommandLine);
        }
        let limit = self.deadline.remaining();
        let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let run = self.exec_inner(&line, stdin, pty, Arc::clone(&sent));
        match tokio::time::timeout(limit, run).await {
            Ok(result) => result,
            Err(_) => Err(SshError::Timeout {
                stage: "running a remote command",
                stdin_sent: sent.load(std::sync::atomic::Ordering::SeqCst),
            }),
        }
    }

    async fn exec_inner(
        &self,
        line: &str,
        stdin: &[u8],
        pty: bool,
        sent: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<Collector, SshError> {
        let mut channel = self.open_session().await?;
        if pty {
            channel
                .request_pty(
                    true,
                    "dumb",
                    200,
                    24,
                    0,
                    0,
                    &[(Pty::ECHO, 0), (Pty::ECHONL, 0), (Pty::ICANON, 1)],
                )
                .await
                .map_err(|e| SshError::ExecRefused {
                    what: format!("allocate a terminal ({})", describe(&e)),
                })?;
            match channel.wait().await {
                Some(ChannelMsg::Success) => {}
                _ => {
                    return Err(SshError::ExecRefused {
                        what: "allocate a terminal (PermitTTY no, or a forced command?)".into(),
                    });
                }
            }
        }
        log_command(line);
        channel
            .exec(true, line.as_bytes())
            .await
            .map_err(|e| SshError::ExecRefused {
                what: format!("run a command ({})", describe(&e)),
            })?;
        let mut output = Collector::default();
        // Wait for the exec reply before sending any input.
        loop {
            match channel.wait().await {
                Some(ChannelMsg::Success) => break,
                Some(ChannelMsg::Failure) => {
                    return Err(SshError::ExecRefused {
                        what: "run a command".into(),
                    });
                }
                Some(msg) => {
                    if output.take(msg) {
                        return Ok(output);
                    }
                }
                None => {
                    return Err(SshError::Lost {
                        stage: "starting a remote command",
                        stdin_sent: false,
                        output: output.text(),
                    });
                }
            }
        }
        if !stdin.is_empty() {
            sent.store(true, std::sync::atomic::Ordering::SeqCst);
            let lost = |e: russh::Error, output: &Collector| SshError::Lost {
                stage: "sending input to a remote command",
                stdin_sent: true,
                output: format!("{}{}", output.text(), describe(&e)),
            };
            if let Err(e) = channel.data_bytes(stdin.to_vec()).await {
                return Err(lost(e, &output));
            }
        }
        if !pty {
            // With a terminal, EOF means nothing to the remote side; the
            // scripts read exactly the lines they need.
            let _ = channel.eof().await;
        }
        loop {
            match channel.wait().await {
                Some(msg) => {
                    if output.take(msg) {
                        return Ok(output);
                    }
                }
                None => {
                    if output.status.is_some() {
                        return Ok(output);
                    }
                    return Err(SshError::Lost {
                        stage: "waiting for a remote command",
                        stdin_sent: sent.load(std::sync::atomic::Ordering::SeqCst),
                        output: output.text(),
                    });
                }
            }
        }
    }

    /// Starts `/bin/sh -c '<script>' sh <args>` and leaves it running with
    /// its stdin open, once its stdout has printed the line `ready`: a
    /// lock on the machine held for as long as this run keeps the channel
    /// ([`Held::release`], or the connection ending). A command that ends
    /// first is [`Hold::Ended`] with its output.
    pub async fn hold(
        &self,
        script: &'static str,
        args: &[&str],
        ready: &str,
    ) -> Result<Hold, SshError> {
        let line = command_line(script, args);
        if secret::redact(&line) != line {
            return Err(SshError::SecretInCommandLine);
        }
        let limit = self.deadline.remaining().min(HANDSHAKE_LIMIT);
        let start = async {
            let channel = self.open_session().await?;
            log_command(&line);
            channel
                .exec(true, line.as_bytes())
                .await
                .map_err(|e| SshError::ExecRefused {
                    what: format!("run a command ({})", describe(&e)),
                })?;
            Ok::<_, SshError>(channel)
        };
        let wait = async {
            let mut channel = start.await?;
            let mut output = Collector::default();
            loop {
                match channel.wait().await {
                    Some(ChannelMsg::Success) => {}
                    Some(ChannelMsg::Failure) => {
                        return Err(SshError::ExecRefused {
                            what: "run a command".into(),
                        });
                    }
                    Some(msg) => {
                        if output.take(msg) {
                            return Ok(Hold::Ended(output.finish()));
                        }
                        if String::from_utf8_lossy(&output.stdout)
                            .lines()
                            .any(|l| l.trim() == ready)
                        {
                            return Ok(Hold::Held(Held { channel }));
                        }
                    }
                    None => return Ok(Hold::Ended(output.finish())),
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(result) => result,
            Err(_) => Err(SshError::Timeout {
                stage: "taking a lock on the machine",
                stdin_sent: false,
            }),
        }
    }

    /// Opens a session channel. A refusal is tried again twice, 50 ms
    /// apart: with `MaxSessions 1` the server frees the previous command's
    /// session a moment after that command ended. Nothing runs on a channel
    /// that did not open, so trying again is safe.
    async fn open_session(&self) -> Result<russh::Channel<client::Msg>, SshError> {
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

/// What [`Session::hold`] found.
#[derive(Debug)]
pub enum Hold {
    /// Running, and ready: kept until released.
    Held(Held),
    /// The command ended before it was ready.
    Ended(Output),
}

/// A command kept running by its open stdin.
pub struct Held {
    channel: russh::Channel<client::Msg>,
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held").finish_non_exhaustive()
    }
}

impl Held {
    /// Ends the command: its stdin reaches EOF, and the channel closes. The
    /// session's end would do the same; this is the polite form.
    pub async fn release(self) {
        let _ = self.channel.eof().await;
        let _ = self.channel.close().await;
    }

    /// [`Held::release`], then waits (briefly) until the server has closed
    /// the channel, so the session it held is free for the next command.
    pub async fn release_and_wait(mut self) {
        let _ = self.channel.eof().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match self.channel.wait().await {
                    Some(ChannelMsg::Close) | None => break,
                    Some(_) => {}
                }
            }
        })
        .await;
        let _ = self.channel.close().await;
    }
}

/// A command's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit status; `None` when the command was killed by a signal.
    pub status: Option<u32>,
    /// The signal that killed it, if one did.
    pub signal: Option<String>,
    /// stdout, redacted, at most [`MAX_OUTPUT`] bytes of it.
    pub stdout: String,
    /// stderr, redacted (empty with a terminal: it arrives on stdout).
    pub stderr: String,
    /// Whether output was cut at [`MAX_OUTPUT`].
    pub truncated: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// stdout and stderr together, for classification and messages.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

#[derive(Default)]
struct Collector {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
    status: Option<u32>,
    signal: Option<String>,
    eof: bool,
}

impl Collector {
    /// Takes one message; true when the command is over.
    fn take(&mut self, msg: ChannelMsg) -> bool {
        match msg {
            ChannelMsg::Data { data } => self.push(false, &data),
            ChannelMsg::ExtendedData { data, .. } => self.push(true, &data),
            ChannelMsg::ExitStatus { exit_status } => self.status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                self.signal = Some(format!("{signal_name:?}"));
            }
            ChannelMsg::Eof => self.eof = true,
            ChannelMsg::Close => return true,
            _ => {}
        }
        false
    }

    fn push(&mut self, err: bool, data: &[u8]) {
        let buf = if err {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        let room = MAX_OUTPUT.saturating_sub(buf.len());
        if data.len() > room {
            self.truncated = true;
        }
        buf.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn text(&self) -> String {
        secret::withhold_lines(&format!(
            "{}{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        ))
    }

    fn finish(self) -> Output {
        Output {
            status: self.status,
            signal: self.signal,
            stdout: secret::redact(&String::from_utf8_lossy(&self.stdout)),
            stderr: secret::redact(&String::from_utf8_lossy(&self.stderr)),
            truncated: self.truncated,
        }
    }
}

/// `/bin/sh -c '<script>' sh 'arg1' …`, each part single-quoted.
pub fn command_line(script: &'static str, args: &[&str]) -> String {
    let mut line = String::from("/bin/sh -c ");
    line.push_str(&quote(script));
    line.push_str(" sh");
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

/// Single-quotes `text` for a POSIX shell.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

static COMMAND_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
const COMMAND_LOG_LIMIT: usize = 256;

fn log_command(line: &str) {
    let mut log = COMMAND_LOG.lock().unwrap_or_else(PoisonError::into_inner);
    if log.len() == COMMAND_LOG_LIMIT {
        log.remove(0);
    }
    log.push(line.to_owned());
}

/// Every command line sent by this process (the last 256), for audits and
/// tests: proof that no secret ever went into one.
pub fn command_log() -> Vec<String> {
    COMMAND_LOG
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    fn ed_key() -> PublicKey {
        PublicKey::from_openssh(ED).unwrap()
    }

    #[test]
    fn pins_parse_a_key_line_a_known_hosts_line_and_a_fingerprint() {
        let fp = fingerprint_of(&ed_key());
        let text = format!(
            "# pins\n{ED} root@host\n\n[10.0.0.1]:2222,web {ED}\n|1|abc=|def= {ED}\n{fp}\n"
        );
        let pins = HostKeyPins::parse(&text).unwrap();
        assert_eq!(pins.keys.len(), 3);
        assert_eq!(pins.fingerprints, vec![fp.trim_end_matches('=').to_owned()]);
        assert!(pins.matches(&ed_key()));
    }

    #[test]
    fn a_fingerprint_pin_matches_with_or_without_padding() {
        let fp = fingerprint_of(&ed_key());
        for text in [fp.clone(), format!("{fp}=")] {
            assert!(
                HostKeyPins::parse(&text).unwrap().matches(&ed_key()),
                "{text}"
            );
        }
        let other = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!HostKeyPins::parse(other).unwrap().matches(&ed_key()));
    }

    #[test]
    fn bad_pins_are_refused_with_the_line_number() {
        for (text, expected) in [
            ("", "holds no key"),
            ("# only a comment", "holds no key"),
            ("SHA256:not base64!", "line 1"),
            ("@cert-authority * ssh-ed25519 AAAA", "not supported"),
            ("\nssh-ed25519", "line 2"),
            ("ssh-ed25519 AAAAnotakey", "not a readable public key"),
        ] {
            let err = HostKeyPins::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_key_pin_restricts_host_key_algorithms_to_its_own() {
        let pins = HostKeyPins::key(ed_key());
        assert_eq!(pins.algorithm_rounds(), vec![vec![Algorithm::Ed25519]]);
        let fp = HostKeyPins::parse(&fingerprint_of(&ed_key())).unwrap();
        let rounds = fp.algorithm_rounds();
        assert_eq!(rounds.len(), 3);
        assert_eq!(rounds[0], vec![Algorithm::Ed25519]);
        assert!(rounds[2].iter().all(|a| matches!(a, Algorithm::Rsa { .. })));
    }

    #[test]
    fn each_error_maps_to_the_exit_code_of_the_state_it_leaves() {
        let seen = SeenKey {
            line: ED.into(),
            fingerprint: "SHA256:x".into(),
        };
        let cases = [
            (
                SshError::NoPin {
                    address: "h:22".into(),
                    seen: seen.clone(),
                },
                2,
            ),
            (
                SshError::HostKeyChanged {
                    address: "h:22".into(),
                    seen: vec![seen],
                },
                2,
            ),
            (SshError::SecretInCommandLine, 2),
            (
                SshError::UnexpectedPrompts {
                    user: "u".into(),
                    prompts: vec![],
                },
                2,
            ),
            (
                SshError::Connect {
                    address: "h:22".into(),
                    detail: "refused".into(),
                },
                1,
            ),
            (
                SshError::AuthRejected {
                    user: "u".into(),
                    methods: vec![],
                },
                1,
            ),
            (
                SshError::ExecRefused {
                    what: "run a command".into(),
                },
                1,
            ),
            (
                SshError::Lost {
                    stage: "x",
                    stdin_sent: false,
                    output: String::new(),
                },
                1,
            ),
            (
                SshError::Lost {
                    stage: "x",
                    stdin_sent: true,
                    output: String::new(),
                },
                4,
            ),
            (
                SshError::Timeout {
                    stage: "x",
                    stdin_sent: false,
                },
                1,
            ),
            (
                SshError::Timeout {
                    stage: "x",
                    stdin_sent: true,
                },
                4,
            ),
        ];
        for (error, code) in cases {
            let text = error.to_string();
            assert_eq!(error.into_error().exit().code(), code, "{text}");
        }
    }

    #[test]
    fn the_keyscan_hint_names_the_port_and_an_ipv6_host_without_brackets() {
        assert_eq!(keyscan_command("web.example:22"), "ssh-keyscan web.example");
        assert_eq!(
            keyscan_command("127.0.0.1:2222"),
            "ssh-keyscan -p 2222 127.0.0.1"
        );
        assert_eq!(
            keyscan_command("[2001:db8::1]:2200"),
            "ssh-keyscan -p 2200 2001:db8::1"
        );
    }

    #[test]
    fn command_lines_quote_every_part() {
        assert_eq!(
            command_line("echo \"$1\"", &["it's", "a b"]),
            "/bin/sh -c 'echo \"$1\"' sh 'it'\\''s' 'a b'"
        );
    }
}
