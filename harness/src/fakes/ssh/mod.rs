//! An in-process SSH server on 127.0.0.1 that `rotate-ssh-user` can rotate
//! against: a fake Linux machine behind a real SSH protocol stack (russh's
//! server, the same russh the binary's client uses).
//!
//! Why a fake when `harness::sshd` runs the real OpenSSH: the real server
//! needs root and a private mount namespace, and it cannot inject what a
//! rotator must survive: a host key that is not the pinned one, an answer
//! lost after the password was applied, a sudo that suddenly wants a
//! terminal, a connection that drops half-way through a command's output.
//! The fake runs anywhere (it backs `harness demo ssh-user` and the
//! conformance matrix), and it is not a proof of OS behaviour: the
//! acceptance tests against real sshd are.
//!
//! What it is:
//!
//! - **A host key made per fake** (Ed25519 unless told otherwise), with its
//!   OpenSSH line and SHA256 fingerprint for pinning
//!   ([`FakeSsh::host_key_line`], [`FakeSsh::host_key_fingerprint`]);
//!   [`FakeSsh::change_host_key`] makes it present another one (a rebuilt
//!   host, or a man in the middle).
//! - **Accounts** made from [`crate::sshd::User`] as the real harness makes
//!   them (password, `authorized_keys`, `authorized_keys2`, expired, minimum
//!   age), `root` always present, sudo rules per account ([`Sudo`]: none,
//!   NOPASSWD, with the password, `requiretty`, chpasswd only), and password
//!   changes refused as pwquality or pwhistory refuse them ([`Refusal`]).
//! - **Authentication** by password, public key (keys from the account's
//!   `AuthorizedKeysFile`s, `authorized_keys2` included) and
//!   keyboard-interactive (one `Password:` prompt), each on or off
//!   ([`Methods`]).
//! - **The binary's scripts**, recognised and emulated ([`shell`]): their
//!   effect on the machine and the answers of the real tools.
//! - **A record of everything**: every command line received
//!   ([`FakeSsh::commands`], to prove no secret is ever in one), every call
//!   with its fault and status ([`FakeSsh::calls`]), every script it did not
//!   know ([`FakeSsh::unknown_scripts`]).
//! - **Faults** through [`Armable`], one call name per script kind (the
//!   constant's name in kebab case: `root-chpasswd`, `write-keys`, ...) and
//!   per authentication method (`auth-password`, `auth-publickey`,
//!   `auth-keyboard-interactive`). What each kind means here:
//!
//! | kind | a command | an authentication |
//! |---|---|---|
//! | `500` | not run; `sh: 1: Cannot fork`, status 2 | the credential is refused |
//! | `429` | the exec request is refused (sshd's answer at `MaxSessions`) | disconnected (`MaxAuthTries`) |
//! | `refused` | the connection is closed when the call arrives, and the listener from the call before on | the same |
//! | `drop-before-apply` | stdin read whole, then the connection closed; not run | closed before checking |
//! | `drop-after-apply` | stdin read, run, then the connection closed with no answer | checked, then closed |
//! | `timeout-after-apply` | run, the answer held for the hold time, then closed | the same |
//! | `truncated-2xx` | run; a success's stdout cut in half (an empty one: after its exit status), then closed | passes unchanged |
//! | `late-save` | held unrun and unanswered for the hold time, then run and answered | held, then checked |
//! | `apply-then-500` | run, then answered `Cannot fork`, status 2 | passes unchanged |
//! | `garbled-2xx` | run; a success's stdout replaced by a login banner (a wrapper's) | passes unchanged |
//!
//!   [`FakeSsh::slow`] delays every answer, and the scripted replies (sudo
//!   wanting a password or a terminal, BAD PASSWORD, must wait longer, an
//!   expired password) come from the machine's state.
//!
//! Its rooms: this module is the handle a test holds (accounts, methods,
//! faults, what was received); `protocol.rs` the SSH side (russh's
//! callbacks, where each fault strikes); `machine.rs` the accounts and
//! files; [`shell`] the scripts recognised, and what they do.

mod machine;
mod protocol;
pub mod shell;

pub use machine::{ROOT, Refusal, Sudo, SudoRule, parse_keys};
pub use shell::{Command, Script, UNKNOWN};

use std::collections::HashMap;
use std::net::Shutdown;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use russh::keys::{Algorithm, HashAlg, PrivateKey, PublicKey};
use russh::server;
use russh::{MethodKind, MethodSet};
use tokio::sync::watch;

use crate::faults::{
    self, Armable, DEFAULT_HOLD, FaultError, FaultKind, Shutter, occurrences, wait_until,
};
use crate::runtime;
use crate::sshd::User;
use machine::{Machine, Node};

/// The authentication calls, one per method.
pub const AUTH_CALLS: [&str; 3] = [
    "auth-password",
    "auth-publickey",
    "auth-keyboard-interactive",
];

/// What a wrapper prints in place of a command's output (`garbled-2xx`).
const BANNER: &str = "\n*** Authorized use only. All activity may be monitored and reported. ***\n";

/// A transient failure that ran nothing (`500`, `apply-then-500`).
const CANNOT_FORK: &str = "sh: 1: Cannot fork\n";

/// Every call name the fake classifies: the scripts' (not `AS_OWNER`,
/// which is named by its inner script), then the authentication methods'.
pub fn known_calls() -> Vec<&'static str> {
    Script::ALL
        .into_iter()
        .filter(|s| *s != Script::AsOwner)
        .map(Script::call)
        .chain(AUTH_CALLS)
        .collect()
}

/// Which authentication methods the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods {
    pub password: bool,
    pub publickey: bool,
    pub keyboard_interactive: bool,
}

impl Default for Methods {
    /// Debian 12's sshd: password and publickey, no keyboard-interactive.
    fn default() -> Self {
        Self {
            password: true,
            publickey: true,
            keyboard_interactive: false,
        }
    }
}

impl Methods {
    fn set(self) -> MethodSet {
        let mut set = MethodSet::empty();
        if self.publickey {
            set.push(MethodKind::PublicKey);
        }
        if self.password {
            set.push(MethodKind::Password);
        }
        if self.keyboard_interactive {
            set.push(MethodKind::KeyboardInteractive);
        }
        set
    }
}

/// One call the fake received, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshCall {
    /// 1-based position among every call.
    pub index: usize,
    pub call: String,
    /// 1-based occurrence of `call`.
    pub nth: usize,
    /// Who made it: the logged-in user, or the user authenticating.
    pub user: String,
    pub fault: Option<FaultKind>,
    /// A command's exit status; an authentication's 0 (accepted) or 1
    /// (refused). `None` while pending and when no answer reached the
    /// client.
    pub status: Option<u32>,
    /// What was asked, without secrets: the script and its arguments (never
    /// secret: the binary refuses a command line holding one), the size of
    /// stdin; the method and user.
    pub detail: String,
}

/// A command line as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub user: String,
    pub line: String,
    pub pty: bool,
}

impl Received {
    /// Whether `secret` is in the command line: as sent, or in any word
    /// once the shell's quoting is undone (a quote in a password is sent as
    /// `'\''`, so the raw line alone would hide it).
    pub fn holds(&self, secret: &str) -> bool {
        !secret.is_empty()
            && (self.line.contains(secret)
                || Command::parse(&self.line).is_some_and(|c| {
                    c.script.contains(secret) || c.args.iter().any(|a| a.contains(secret))
                }))
    }
}

struct State {
    machine: Machine,
    methods: Methods,
    host_key: PrivateKey,
    calls: Vec<SshCall>,
    commands: Vec<Received>,
    unknown: Vec<String>,
    armed: HashMap<(String, usize), (FaultKind, Duration)>,
    refuse_from: Option<usize>,
    hold: Duration,
    slow: Duration,
    /// `late-save` calls read and not yet applied.
    late: usize,
    /// A clone of each open connection's socket, to cut it.
    connections: HashMap<u64, std::net::TcpStream>,
    next_connection: u64,
    /// `LOCK`s held: the lock's name, and the connection holding it.
    locks: HashMap<String, u64>,
}

struct Inner {
    state: Mutex<State>,
    /// Notified when a call is recorded or a late one applied.
    changed: Condvar,
    shutter: Shutter,
    stop: watch::Sender<bool>,
}

/// What a call is in for, decided as it is recorded.
struct Plan {
    index: usize,
    kind: Option<FaultKind>,
    hold: Duration,
    slow: Duration,
    /// The next call is the first refused one: close the listener now.
    close_after: bool,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a call; `None` when the server is already down (`refused`).
    fn record(&self, call: &str, user: &str, detail: String) -> Option<Plan> {
        if self.shutter.is_closed() {
            return None;
        }
        let mut state = self.state();
        let index = state.calls.len() + 1;
        let nth = occurrences(state.calls.iter().map(|c| c.call.as_str()), call) + 1;
        let (kind, hold) = match state.armed.remove(&(call.to_owned(), nth)) {
            Some((kind, hold)) => (Some(kind), hold),
            None => (None, Duration::ZERO),
        };
        state.calls.push(SshCall {
            index,
            call: call.to_owned(),
            nth,
            user: user.to_owned(),
            fault: kind,
            status: None,
            detail,
        });
        if kind == Some(FaultKind::LateSave) {
            state.late += 1;
        }
        let plan = Plan {
            index,
            kind,
            hold,
            slow: state.slow,
            close_after: state.refuse_from == Some(index + 1),
        };
        drop(state);
        self.changed.notify_all();
        Some(plan)
    }

    fn set_status(&self, index: usize, status: Option<u32>) {
        if let Some(call) = self.state().calls.get_mut(index - 1) {
            call.status = status;
        }
    }

    /// Cuts a connection: the client sees it closed, no answer.
    fn cut(&self, connection: u64) {
        if let Some(socket) = self.state().connections.remove(&connection) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    fn config(&self) -> Arc<server::Config> {
        let state = self.state();
        Arc::new(server::Config {
            server_id: russh::SshId::Standard("SSH-2.0-OpenSSH_9.2p1 fake".into()),
            methods: state.methods.set(),
            auth_rejection_time: Duration::ZERO,
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![state.host_key.clone()],
            inactivity_timeout: Some(Duration::from_secs(120)),
            ..server::Config::default()
        })
    }
}

/// Counts a `late-save` call as applied when dropped, whatever way it ends.
struct Late(Arc<Inner>);

impl Drop for Late {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.late = state.late.saturating_sub(1);
        drop(state);
        self.0.changed.notify_all();
    }
}

/// The fake SSH server, listening on 127.0.0.1 until dropped.
pub struct FakeSsh {
    inner: Arc<Inner>,
    port: u16,
}

impl std::fmt::Debug for FakeSsh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSsh")
            .field("port", &self.port)
            .field("host_key", &self.host_key_fingerprint())
            .finish_non_exhaustive()
    }
}

impl Drop for FakeSsh {
    fn drop(&mut self) {
        self.inner.stop.send_replace(true);
        let connections: Vec<std::net::TcpStream> = self
            .inner
            .state()
            .connections
            .drain()
            .map(|(_, s)| s)
            .collect();
        for socket in connections {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

fn new_host_key(algorithm: Algorithm) -> PrivateKey {
    let mut rng = russh::keys::key::safe_rng();
    match algorithm {
        Algorithm::Rsa { .. } => russh::keys::ssh_key::private::RsaKeypair::random(&mut rng, 2048)
            .and_then(|pair| {
                PrivateKey::new(russh::keys::ssh_key::private::KeypairData::Rsa(pair), "")
            }),
        other => PrivateKey::random(&mut rng, other),
    }
    .expect("make a host key for the fake SSH server")
}

impl FakeSsh {
    /// Starts a fake machine (root only, no password) with an Ed25519
    /// host key of its own, on a free 127.0.0.1 port.
    pub fn start() -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for fake SSH");
        listener
            .set_nonblocking(true)
            .expect("make the fake SSH listener non-blocking");
        let port = listener.local_addr().expect("fake SSH address").port();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                machine: Machine::default(),
                methods: Methods::default(),
                host_key: new_host_key(Algorithm::Ed25519),
                calls: Vec::new(),
                commands: Vec::new(),
                unknown: Vec::new(),
                armed: HashMap::new(),
                refuse_from: None,
                hold: DEFAULT_HOLD,
                slow: Duration::ZERO,
                late: 0,
                connections: HashMap::new(),
                next_connection: 0,
                locks: HashMap::new(),
            }),
            changed: Condvar::new(),
            shutter: Shutter::new(),
            stop: watch::channel(false).0,
        });
        runtime().spawn(protocol::accept_loop(listener, Arc::clone(&inner)));
        Self { inner, port }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state()
    }

    /// Adds (or replaces) an account, made as `harness::sshd` makes one.
    pub fn user(self, user: User) -> Self {
        self.state().machine.add(&user);
        self
    }

    /// Sets an account's sudo rights.
    pub fn sudo(self, user: &str, sudo: Sudo) -> Self {
        if let Some(account) = self.state().machine.accounts.get_mut(user) {
            account.sudo = sudo;
        }
        self
    }

    /// Which authentication methods are offered (from the next connection).
    pub fn methods(self, methods: Methods) -> Self {
        self.state().methods = methods;
        self
    }

    /// Every password change is refused this way.
    pub fn refuse_passwords(self, refusal: Refusal) -> Self {
        self.state().machine.refusal = Some(refusal);
        self
    }

    /// Replaces a user's `authorized_keys` with a symlink to a file of
    /// root's (as an attacker who controls the home would).
    pub fn symlink_authorized_keys(self, user: &str) -> Self {
        {
            let mut state = self.state();
            let machine = &mut state.machine;
            let home = machine
                .accounts
                .get(user)
                .map(|a| a.home.clone())
                .unwrap_or_default();
            machine.fs.insert(
                format!("{home}/.ssh"),
                Node::Dir {
                    owner: user.to_owned(),
                    mode: 0o700,
                },
            );
            machine.fs.insert(
                format!("{home}/.ssh/authorized_keys"),
                Node::Symlink {
                    target: "/etc/passwd".into(),
                },
            );
        }
        self
    }

    /// Makes a new host key of `algorithm` (Ed25519, ECDSA, or RSA 2048):
    /// from the next connection on, the server presents it.
    pub fn host_key_algorithm(self, algorithm: Algorithm) -> Self {
        self.state().host_key = new_host_key(algorithm);
        self
    }

    /// Presents another host key of the same algorithm from the next
    /// connection on: the pinned one no longer matches.
    pub fn change_host_key(&self) {
        let mut state = self.state();
        let algorithm = state.host_key.algorithm();
        state.host_key = new_host_key(algorithm);
    }

    /// Delays every answer (commands and authentications) by `delay`.
    pub fn slow(&self, delay: Duration) {
        self.state().slow = delay;
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's host key.
    pub fn host_key(&self) -> PublicKey {
        self.state().host_key.public_key().clone()
    }

    /// `ssh-ed25519 AAAA…`: what to put in the machine record's pin.
    pub fn host_key_line(&self) -> String {
        let mut key = self.host_key();
        key.set_comment("");
        key.to_openssh().unwrap_or_default()
    }

    /// `SHA256:…` as ssh-keygen prints it.
    pub fn host_key_fingerprint(&self) -> String {
        self.host_key().fingerprint(HashAlg::Sha256).to_string()
    }

    /// Whether `password` is `user`'s password now.
    pub fn password_is(&self, user: &str, password: &str) -> bool {
        self.state().machine.password_is(user, password)
    }

    /// The user's shadow password field (changes with every change).
    pub fn shadow_field(&self, user: &str) -> Option<String> {
        self.state()
            .machine
            .accounts
            .get(user)
            .map(|a| a.shadow.clone())
    }

    /// Whether sshd would accept `key` for `user` (from any of its
    /// `AuthorizedKeysFile`s).
    pub fn accepts_key(&self, user: &str, key: &PublicKey) -> bool {
        self.state().machine.accepts_key(user, key)
    }

    /// Every key sshd would accept for `user`, with the file it is in.
    pub fn authorized(&self, user: &str) -> Vec<(String, PublicKey)> {
        self.state().machine.authorized(user)
    }

    /// A file's content (symlinks followed), if it is a file.
    pub fn file(&self, path: &str) -> Option<String> {
        match self.state().machine.resolve(path) {
            Some((_, Node::File { content, .. })) => {
                Some(String::from_utf8_lossy(content).into_owned())
            }
            _ => None,
        }
    }

    /// A file's mode, e.g. `0o600`.
    pub fn mode(&self, path: &str) -> Option<u32> {
        match self.state().machine.fs.get(path) {
            Some(Node::File { mode, .. } | Node::Dir { mode, .. }) => Some(*mode),
            _ => None,
        }
    }

    /// Every path under `dir` (backups, temp files), sorted.
    pub fn paths_under(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.state()
            .machine
            .fs
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// `~user/.ssh/authorized_keys`, if it is a file.
    pub fn authorized_keys(&self, user: &str) -> Option<String> {
        let home = self.state().machine.accounts.get(user)?.home.clone();
        self.file(&format!("{home}/.ssh/authorized_keys"))
    }

    /// Every command line received, in order.
    pub fn commands(&self) -> Vec<Received> {
        self.state().commands.clone()
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<SshCall> {
        self.state().calls.clone()
    }

    /// The command lines whose script the fake did not recognise.
    pub fn unknown_scripts(&self) -> Vec<String> {
        self.state().unknown.clone()
    }

    /// Whether the server is down (`refused`).
    pub fn is_down(&self) -> bool {
        self.inner.shutter.is_closed()
    }

    /// Blocks until the nth `call` has arrived or `timeout` passed.
    pub fn wait_for_within(&self, call: &str, nth: usize, timeout: Duration) -> bool {
        wait_until(&self.inner.state, &self.inner.changed, timeout, |s| {
            occurrences(s.calls.iter().map(|c| c.call.as_str()), call) >= nth
        })
    }
}

impl Armable for FakeSsh {
    fn known_calls(&self) -> Vec<String> {
        known_calls().into_iter().map(str::to_owned).collect()
    }

    fn arm(&self, call: &str, nth: usize, kind: FaultKind) -> Result<(), FaultError> {
        faults::check_call(call, &known_calls())?;
        if kind == FaultKind::Refused {
            return Err(FaultError::RefusedNeedsIndex);
        }
        if nth == 0 {
            return Err(FaultError::ZeroOccurrence);
        }
        let mut state = self.state();
        if occurrences(state.calls.iter().map(|c| c.call.as_str()), call) >= nth {
            return Err(FaultError::AlreadyPassed {
                call: call.to_owned(),
                nth,
            });
        }
        let hold = state.hold;
        state.armed.insert((call.to_owned(), nth), (kind, hold));
        Ok(())
    }

    fn refuse_from(&self, index: usize) {
        let now = {
            let mut state = self.state();
            state.refuse_from = Some(index);
            state.calls.len() + 1 >= index
        };
        if now {
            self.inner.shutter.close_blocking();
        }
    }

    fn call_sequence(&self) -> Vec<String> {
        self.state().calls.iter().map(|c| c.call.clone()).collect()
    }

    fn set_hold(&self, hold: Duration) {
        self.state().hold = hold;
    }

    fn wait_applied(&self, limit: Duration) -> bool {
        wait_until(&self.inner.state, &self.inner.changed, limit, |s| {
            s.late == 0
        })
    }
}
