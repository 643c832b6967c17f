//! A fake Keeper Secrets Manager service that the unmodified SDK talks to.
//!
//! It speaks the real wire protocol: an HTTPS server on 127.0.0.1 reached
//! through `HTTPS_PROXY` (CONNECT), with its own P-256 key (published as
//! `serverPublicKey` in the config it writes), transmission keys unwrapped
//! with ECDH, request signatures checked against the client's key, bodies
//! encrypted with AES-GCM both ways, and records, record keys and shared-folder
//! keys encrypted as the service stores them. It implements `get_secret`,
//! `update_secret` (with revision checks), `finalize_secret_update` and
//! `rollback_secret_update`, and answers errors with the service's plain JSON
//! bodies.
//!
//! Faults can be queued: throttling, 500s, stale revisions, dropped
//! connections (before or after applying an update), slow answers, and
//! malformed answers that the SDK cannot parse. They can also be armed on
//! the nth occurrence of an endpoint ([`FakeVault::fault_at`], or any
//! [`FaultKind`] through [`Armable`]), and they include the ways the real
//! service fails that matter most to a rotator that stores a new credential:
//! a save applied late with the revision it carried ([`Fault::LateApply`]),
//! a save applied whose answer never comes ([`Fault::ApplyThenHold`]) or is
//! a load balancer's error ([`Fault::ApplyThenError`]), a half answer
//! ([`Fault::Truncated`]), a read served by a replica one write behind
//! ([`Fault::StaleRead`]), and the service going down ([`Fault::Refused`],
//! [`Armable::refuse_from`]). A [`Gate`] can hold one answer (the save is
//! applied) while a test runs something else against the same record.
//!
//! Which request gets which fault, the call log, gates, refusal and the
//! late saves pending are the one transport-fault engine's
//! ([`crate::faults`]), as for every HTTP fake's proxy: this module only
//! says what each [`Fault`] does on the vault's wire.

mod crypto;
mod tls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::faults::http::{self, Message};
use crate::faults::{self, Armable, Engine, FaultError, FaultKind, Gate, Planned, wait_open};
use crate::runtime;
use crypto::{Keys, decode_lenient, decrypt, encrypt, random_key};

/// The endpoints the fake serves: the call names for arming.
pub const CALLS: [&str; 4] = [
    "get_secret",
    "update_secret",
    "finalize_secret_update",
    "rollback_secret_update",
];

/// A fault the fake applies to one request instead of serving it normally.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 403 `{"error":"throttled","retry_after":...}`.
    Throttle { retry_after: f64 },
    /// 500 with a JSON error body.
    ServerError,
    /// For `update_secret`: the revision is refused as stale.
    StaleRevision,
    /// For `update_secret`: another writer sets custom field `label` first
    /// (bumping the revision), so this update is refused as stale.
    ConcurrentEdit { label: String, value: String },
    /// Read the request, then close the connection without answering.
    Drop,
    /// For `update_secret`: another writer sets custom field `label` (the
    /// revision goes up), then the connection closes without an answer and
    /// without applying this update.
    DropAfterOtherEdit { label: String, value: String },
    /// Serve the request (apply an update), then close without answering.
    DropAfterApply,
    /// Wait this long before serving the request. For `update_secret` this
    /// is [`Fault::LateApply`]: the update is applied after the wait with
    /// the revision it carried.
    Delay(Duration),
    /// Hold the request unanswered and unapplied this long, then serve it
    /// as sent: an `update_secret` is applied with the revision it carried,
    /// so if the record's revision moved meanwhile it is rejected as stale,
    /// as the real service rejects it. Then answer (the client has usually
    /// given up by then). Same as [`Fault::Delay`]; this is the name the
    /// fault vocabulary uses (`late-save`).
    LateApply(Duration),
    /// Serve the request at once (apply an update), hold the answer this
    /// long, then close the connection without it: a timeout after apply.
    ApplyThenHold(Duration),
    /// Serve the request (apply an update), then answer this status with a
    /// load balancer's JSON error instead of the service's answer.
    ApplyThenError(u16),
    /// Serve the request, then send a 200 with the full `Content-Length`
    /// but only the first half of the (encrypted) body, and close. An empty
    /// 200 (`update_secret`'s) is cut after its status line instead.
    Truncated,
    /// The vault goes down: this request is hung up on unapplied, the
    /// listener is closed (new connections are refused) and requests on
    /// open connections are hung up on. For the exact "refused before the
    /// request was sent", use [`Armable::refuse_from`].
    Refused,
    /// For `get_secret`: an answer without the required `folders` key.
    MissingFolders,
    /// A 200 whose body is not encrypted with the transmission key.
    Unencrypted,
    /// A 500 whose body is plain text, not JSON.
    NotJson,
    /// For `get_secret`: answered by a replica one write behind: each
    /// record as it was before its latest save, at the revision it had
    /// then (a record never saved is served as it is). What a read-back
    /// after a save must not take for proof of anything.
    StaleRead,
}

/// Held unapplied, then applied: pending until applied, for
/// [`Armable::wait_applied`].
impl Planned for Fault {
    fn is_late(&self) -> bool {
        matches!(self, Self::LateApply(_) | Self::Delay(_))
    }
}

/// One request the fake vault read, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultCall {
    /// The endpoint: `get_secret`, `update_secret`, ...
    pub endpoint: String,
    /// 1-based occurrence of the endpoint.
    pub nth: usize,
    /// The record uids the request named (`requestedRecords`, `recordUid`);
    /// empty when it could not be read or named none (all records).
    pub records: Vec<String>,
    /// The fault applied to it, by its short name.
    pub fault: Option<String>,
    /// The status sent; `None` when no answer reached the client.
    pub status: Option<u16>,
}

impl Fault {
    /// A short name for reports: the fault vocabulary's where one applies.
    pub fn name(&self) -> String {
        match self {
            Self::Throttle { .. } => "429".into(),
            Self::ServerError => "500".into(),
            Self::StaleRevision => "stale-revision".into(),
            Self::ConcurrentEdit { .. } => "concurrent-edit".into(),
            Self::Drop => "drop-before-apply".into(),
            Self::DropAfterOtherEdit { .. } => "drop-after-other-edit".into(),
            Self::DropAfterApply => "drop-after-apply".into(),
            Self::Delay(_) | Self::LateApply(_) => "late-save".into(),
            Self::ApplyThenHold(_) => "timeout-after-apply".into(),
            Self::ApplyThenError(status) => format!("apply-then-{status}"),
            Self::Truncated => "truncated-2xx".into(),
            Self::Refused => "refused".into(),
            Self::MissingFolders => "missing-folders".into(),
            Self::Unencrypted => "unencrypted".into(),
            Self::NotJson => "not-json".into(),
            Self::StaleRead => "stale-read".into(),
        }
    }
}

/// One stored record.
#[derive(Debug, Clone)]
struct StoredRecord {
    key: [u8; 32],
    data: Value,
    revision: i64,
    folder: Option<String>,
    /// The state before an open rotation transaction.
    before_transaction: Option<(Value, i64)>,
    /// The data and revision before the latest write, for
    /// [`Fault::StaleRead`].
    previous: Option<(Value, i64)>,
}

impl StoredRecord {
    /// Remembers the current state before a write changes it.
    fn remember(&mut self) {
        self.previous = Some((self.data.clone(), self.revision));
    }
}

struct State {
    keys: Keys,
    records: Vec<(String, StoredRecord)>,
    folder_keys: HashMap<String, [u8; 32]>,
    /// The record uids each request named, by its 1-based index (the rest
    /// of each call is the engine's record).
    named: HashMap<usize, Vec<String>>,
    /// Every HTTP request and response as seen inside TLS.
    wire: Vec<u8>,
    records_file: Option<PathBuf>,
    /// Every connection through this proxy to a host that is not this
    /// machine, refused: `host:port` (see [`FakeVault::escapes`]).
    escapes: Vec<String>,
    /// How far this vault's clock (its answers' `Date`) is ahead of the
    /// machine's, in seconds; negative: behind.
    clock_offset: i64,
    /// Requests that were not API calls (a `HEAD /` reading the clock).
    other_requests: Vec<String>,
    /// How such requests are answered.
    others: Others,
}

/// How the fake answers a request that is not an API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Others {
    /// 404 with this vault's `Date` (see [`FakeVault::set_clock_offset`]).
    Answer,
    /// 404 with this `Date` header text (`None`: no `Date` at all).
    Date(Option<String>),
    /// The connection is closed without an answer.
    HangUp,
    /// No answer, ever (the connection stays open).
    Hold,
}

impl State {
    /// This vault's time, as its answers' `Date` give it.
    fn date(&self) -> String {
        let now = std::time::SystemTime::now();
        let shift = Duration::from_secs(self.clock_offset.unsigned_abs());
        let at = if self.clock_offset >= 0 {
            now + shift
        } else {
            now - shift
        };
        httpdate::fmt_http_date(at)
    }
}

/// The proxy variables a rehearsed binary must not inherit: an
/// administrator's proxy would see the plain-http calls to the loopback
/// fakes (the AWS SDK honours them).
pub const PLAIN_PROXY_VARS: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// What the server tasks share with the handle.
struct Shared {
    state: Mutex<State>,
    /// The calls, what is armed or queued on them, gates, refusal, late
    /// saves: the one transport-fault engine ([`crate::faults`]).
    engine: Engine<Fault>,
}

/// The fake, serving until dropped.
pub struct FakeVault {
    port: u16,
    shared: Arc<Shared>,
    dir: PathBuf,
    _temp: Option<crate::teardown::PrivateDir>,
    /// `records.json` and the config, removed on a signal (`vault serve`).
    _files: Vec<crate::teardown::RemoveOnSignal>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeVault")
            .field("port", &self.port)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeVault {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeVault {
    /// Starts a fake holding `records` (Keeper record objects with their
    /// uid: `{"uid", "type", "title", "fields": [...], "custom": [...]}`, and
    /// optionally `"folder"` to serve it inside a shared folder), writing its
    /// files into a new private temporary directory (0700, removed when the
    /// fake is dropped and on a signal). The records stay in memory: no
    /// `records.json` is written.
    pub fn start(records: &[Value]) -> Self {
        let temp = crate::teardown::PrivateDir::new().expect("temporary directory");
        let dir = temp.path().to_owned();
        let mut vault = Self::start_with(&dir, records, 0, false).expect("start the fake vault");
        vault._temp = Some(temp);
        vault
    }

    /// Loads `fixtures/<name>` (a JSON array of records) and starts on it.
    pub fn from_fixture(name: &str) -> Self {
        let path = crate::inputs::scenario::fixtures_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let records: Vec<Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not a JSON array: {e}", path.display()));
        Self::start(&records)
    }

    /// Starts on `port` (0 for any) and writes `gateway-config.json`,
    /// `ca.pem`, `env` and `records.json` into `dir` (`harness vault
    /// serve`). `dir` is created 0700 when absent, and refused when others
    /// may enter it, is another user's or is a symbolic link; the config
    /// and `records.json` are 0600, rewritten atomically, and removed on a
    /// signal that ends the harness (see `crate::teardown`): registered for
    /// removal before they are first written.
    pub fn start_in(dir: &Path, records: &[Value], port: u16) -> Result<Self, String> {
        private_dir(dir)?;
        let files = [
            "gateway-config.json",
            "gateway-config.json.tmp",
            "records.json",
            "records.json.tmp",
        ]
        .iter()
        .map(|name| crate::teardown::remove_on_signal(&dir.join(name)))
        .collect();
        let mut vault = Self::start_with(dir, records, port, true)?;
        vault._files = files;
        Ok(vault)
    }

    fn start_with(
        dir: &Path,
        records: &[Value],
        port: u16,
        records_file: bool,
    ) -> Result<Self, String> {
        let keys = Keys::generate();
        let tls = tls::Tls::generate();
        let mut stored = Vec::new();
        let mut folder_keys = HashMap::new();
        for (index, record) in records.iter().enumerate() {
            let uid = record
                .get("uid")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("record {index} has no uid"))?
                .to_owned();
            let folder = record
                .get("folder")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(folder) = &folder {
                folder_keys.entry(folder.clone()).or_insert_with(random_key);
            }
            let mut data = record.clone();
            if let Value::Object(map) = &mut data {
                map.remove("uid");
                map.remove("folder");
            }
            stored.push((
                uid,
                StoredRecord {
                    key: random_key(),
                    data,
                    revision: 1,
                    folder,
                    before_transaction: None,
                    previous: None,
                },
            ));
        }

        let listener = runtime()
            .block_on(TcpListener::bind(("127.0.0.1", port)))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();

        let config = json!({
            "hostname": "127.0.0.1",
            "clientId": keys.client_id,
            "privateKey": keys.client_private_key(),
            "appKey": STANDARD.encode(keys.app_key),
            "serverPublicKeyId": "10",
            "serverPublicKey": keys.server_public_key(),
        });
        let config_path = dir.join("gateway-config.json");
        // As a Gateway keeps it: readable by its owner only, from creation.
        crate::teardown::write_private(
            &config_path,
            &serde_json::to_string_pretty(&config).unwrap_or_default(),
        )
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let ca_path = dir.join("ca.pem");
        write(&ca_path, &tls.ca_pem)?;
        let env = format!(
            "KEEPER_GATEWAY_CONFIG={}\nHTTPS_PROXY=http://127.0.0.1:{port}\nSSL_CERT_FILE={}\nNO_PROXY=\n",
            config_path.display(),
            ca_path.display()
        );
        write(&dir.join("env"), &env)?;

        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                keys,
                records: stored,
                folder_keys,
                named: HashMap::new(),
                wire: Vec::new(),
                records_file: records_file.then(|| dir.join("records.json")),
                escapes: Vec::new(),
                clock_offset: 0,
                other_requests: Vec::new(),
                others: Others::Answer,
            }),
            engine: Engine::new(),
        });
        lock(&shared).write_records_file();
        let acceptor = tls.acceptor;
        let served = Arc::clone(&shared);
        let server = runtime().spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = served.engine.shutter().wait_close() => break,
                };
                let Ok((mut stream, _)) = accepted else {
                    continue;
                };
                // As a real server: answers go out at once, not held back
                // for an acknowledgement (Nagle's algorithm).
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let shared = Arc::clone(&served);
                tokio::spawn(async move {
                    match tls::accept_connect(&mut stream).await {
                        Ok(tls::Connect::Direct | tls::Connect::Tunnel) => {}
                        Ok(tls::Connect::Refused(target)) => {
                            lock(&shared).escapes.push(target);
                            tls::refuse(&mut stream).await;
                            return;
                        }
                        Err(_) => return,
                    }
                    if let Ok(tls_stream) = acceptor.accept(stream).await {
                        serve_connection(tls_stream, shared).await;
                    }
                });
            }
            drop(listener);
            served.engine.shutter().mark_closed();
        });
        Ok(Self {
            port,
            shared,
            dir: dir.to_owned(),
            _temp: None,
            _files: Vec::new(),
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("gateway-config.json")
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The environment that makes a binary (and the SDK in it) use this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "KEEPER_GATEWAY_CONFIG".into(),
                self.config_path().display().to_string(),
            ),
            (
                "HTTPS_PROXY".into(),
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("SSL_CERT_FILE".into(), self.ca_path().display().to_string()),
            ("NO_PROXY".into(), String::new()),
        ]
    }

    /// [`FakeVault::env`], with `HTTPS_PROXY` in both cases pointing at the
    /// fake, which refuses and records any connection to a host that is
    /// not this machine ([`FakeVault::escapes`]): a rehearsal fails closed.
    /// An administrator's own `https_proxy` and `no_proxy` are overridden;
    /// the plain-HTTP proxy variables are to be removed
    /// ([`PLAIN_PROXY_VARS`]): the rotators send plain http only to
    /// loopback fakes.
    pub fn contained_env(&self) -> Vec<(String, String)> {
        let proxy = format!("http://127.0.0.1:{}", self.port);
        let mut env = self.env();
        env.retain(|(k, _)| k != "NO_PROXY" && k != "HTTPS_PROXY");
        env.push(("HTTPS_PROXY".into(), proxy.clone()));
        env.push(("https_proxy".into(), proxy));
        env.push(("NO_PROXY".into(), String::new()));
        env.push(("no_proxy".into(), String::new()));
        env
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }

    /// Every connection the binary tried through this fake (its
    /// `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY`) to a host that is not a
    /// loopback address, as `host:port`, in order. Each was refused: a
    /// rehearsal never reaches a real service, and one that tried failed.
    pub fn escapes(&self) -> Vec<String> {
        self.state().escapes.clone()
    }

    /// The decrypted record as stored now.
    pub fn record(&self, uid: &str) -> Option<Value> {
        self.state().find(uid).map(|r| r.data.clone())
    }

    /// A custom or standard field's first value, by label then type.
    pub fn field(&self, uid: &str, name: &str) -> Option<String> {
        let record = self.record(uid)?;
        for section in ["fields", "custom"] {
            for key in ["label", "type"] {
                let found = record
                    .get(section)
                    .and_then(Value::as_array)
                    .and_then(|fields| {
                        fields
                            .iter()
                            .find(|f| f.get(key).and_then(Value::as_str) == Some(name))
                    });
                if let Some(value) = found
                    .and_then(|f| f.get("value"))
                    .and_then(Value::as_array)
                    .and_then(|v| v.first())
                {
                    return value.as_str().map(str::to_owned);
                }
            }
        }
        None
    }

    /// A field's `type` in the stored record (custom fields by label).
    pub fn custom_field_type(&self, uid: &str, label: &str) -> Option<String> {
        let record = self.record(uid)?;
        record
            .get("custom")?
            .as_array()?
            .iter()
            .find(|f| f.get("label").and_then(Value::as_str) == Some(label))?
            .get("type")?
            .as_str()
            .map(str::to_owned)
    }

    pub fn revision(&self, uid: &str) -> Option<i64> {
        self.state().find(uid).map(|r| r.revision)
    }

    /// Sets a custom field as another writer would (the revision goes up).
    pub fn set_custom_field(&self, uid: &str, label: &str, value: &str) {
        let mut state = self.state();
        let record = state.find_mut(uid).expect("record to edit");
        record.remember();
        set_custom(&mut record.data, label, value);
        record.revision += 1;
    }

    /// Queues `fault` for the next `count` requests to any endpoint.
    pub fn fault(&self, fault: Fault, count: usize) -> &Self {
        for _ in 0..count {
            self.shared.engine.enqueue(None, 0, fault.clone());
        }
        self
    }

    /// Queues `fault` for the next `count` requests to `endpoint`
    /// (`get_secret`, `update_secret`, ...).
    pub fn fault_on(&self, endpoint: &str, fault: Fault, count: usize) -> &Self {
        for _ in 0..count {
            self.shared.engine.enqueue(Some(endpoint), 0, fault.clone());
        }
        self
    }

    /// Lets `skip` requests to `endpoint` through, then applies `fault` to
    /// the next one.
    pub fn fault_on_after(&self, endpoint: &str, skip: usize, fault: Fault) -> &Self {
        self.shared.engine.enqueue(Some(endpoint), skip, fault);
        self
    }

    /// Applies `fault` to the nth (1-based) request to `endpoint`, counted
    /// from the start (before any queued fault).
    pub fn fault_at(&self, endpoint: &str, nth: usize, fault: Fault) -> &Self {
        self.shared.engine.arm_unchecked(endpoint, nth, fault);
        self
    }

    /// Serves the nth request to `endpoint` at once (an update is applied)
    /// but holds its answer until the gate is released or dropped.
    pub fn hold(&self, endpoint: &str, nth: usize) -> Gate {
        self.shared.engine.hold(endpoint, nth)
    }

    /// Blocks until the nth request to `endpoint` has arrived (it may still
    /// be in flight). Fails the test after
    /// [`WAIT_FOR_LIMIT`](crate::faults::WAIT_FOR_LIMIT).
    pub fn wait_for(&self, endpoint: &str, nth: usize) {
        self.shared.engine.wait_for(endpoint, nth);
    }

    /// Whether the vault is down (`refused`).
    pub fn is_down(&self) -> bool {
        self.shared.engine.is_down()
    }

    /// The endpoints called so far, in order.
    pub fn endpoints(&self) -> Vec<String> {
        self.shared.engine.call_sequence()
    }

    /// Sets this vault's clock `seconds` ahead of the machine's (negative:
    /// behind): every answer's `Date` says so.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.state().clock_offset = seconds;
    }

    /// From now on, answers a request that is not an API call this way (a
    /// proxy that lets only the API through hangs up, say).
    pub fn answer_other_requests(&self, how: Others) {
        self.state().others = how;
    }

    /// The requests that were not API calls, as `METHOD path` (a rotator
    /// reading the vault's clock sends `HEAD /`). They are not in
    /// [`FakeVault::calls`] and no fault applies to them.
    pub fn other_requests(&self) -> Vec<String> {
        self.state().other_requests.clone()
    }

    /// Every request so far: endpoint, records named, fault, status.
    pub fn calls(&self) -> Vec<VaultCall> {
        let exchanges = self.shared.engine.exchanges();
        let state = self.state();
        exchanges
            .into_iter()
            .map(|e| VaultCall {
                records: state.named.get(&e.index).cloned().unwrap_or_default(),
                endpoint: e.call,
                nth: e.nth,
                fault: e.fault.as_ref().map(Fault::name),
                status: e.status,
            })
            .collect()
    }

    /// Every HTTP request and response exchanged, as seen inside TLS.
    pub fn wire(&self) -> Vec<u8> {
        self.state().wire.clone()
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Creates `dir` 0700, or accepts it when it exists, is a directory (not a
/// symbolic link to one), belongs to the current user and only that user
/// may enter it: the files written there hold the records' secrets. A link
/// or another user's directory, even 0700, is someone else's to redirect,
/// read or replace.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Ok(link) = std::fs::symlink_metadata(dir) {
        if link.file_type().is_symlink() {
            return Err(format!(
                "{} is a symbolic link; the fake vault writes the records' secrets in its \
                 directory: give the directory itself",
                dir.display()
            ));
        }
        if !link.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        let me = nix::unistd::geteuid().as_raw();
        if link.uid() != me {
            return Err(format!(
                "{} belongs to user {}, not to the current user ({me}); the fake vault writes \
                 the records' secrets there: give a directory of your own",
                dir.display(),
                link.uid()
            ));
        }
    }
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} may be entered by other users (mode {:o}); the fake vault writes the records' \
             secrets there: give a new directory, or chmod 700 it",
            dir.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn set_custom(data: &mut Value, label: &str, value: &str) {
    let Value::Object(map) = data else { return };
    let custom = map.entry("custom").or_insert_with(|| json!([]));
    let Value::Array(fields) = custom else { return };
    match fields
        .iter_mut()
        .find(|f| f.get("label").and_then(Value::as_str) == Some(label))
    {
        Some(field) => field["value"] = json!([value]),
        None => fields.push(json!({"type": "text", "label": label, "value": [value]})),
    }
}

impl State {
    fn find(&self, uid: &str) -> Option<&StoredRecord> {
        self.records.iter().find(|(u, _)| u == uid).map(|(_, r)| r)
    }

    fn find_mut(&mut self, uid: &str) -> Option<&mut StoredRecord> {
        self.records
            .iter_mut()
            .find(|(u, _)| u == uid)
            .map(|(_, r)| r)
    }

    /// Rewrites `records.json` atomically with the decrypted records.
    fn write_records_file(&self) {
        let Some(path) = &self.records_file else {
            return;
        };
        let records: Vec<Value> = self
            .records
            .iter()
            .map(|(uid, r)| {
                let mut data = r.data.clone();
                if let Value::Object(map) = &mut data {
                    map.insert("uid".into(), json!(uid));
                    map.insert("revision".into(), json!(r.revision));
                }
                data
            })
            .collect();
        let _ = crate::teardown::write_private(
            path,
            &serde_json::to_string_pretty(&records).unwrap_or_default(),
        );
    }

    fn encrypted_record(&self, uid: &str, record: &StoredRecord, wrap_key: &[u8; 32]) -> Value {
        let data = serde_json::to_vec(&record.data).unwrap_or_default();
        json!({
            "recordUid": uid,
            "recordKey": STANDARD.encode(encrypt(wrap_key, &record.key)),
            "data": STANDARD.encode(encrypt(&record.key, &data)),
            "revision": record.revision,
            "isEditable": true,
            "files": null,
        })
    }

    fn get_secret(&self, request: &Value, omit_folders: bool, stale: bool) -> Value {
        let wanted: Option<Vec<&str>> = request
            .get("requestedRecords")
            .and_then(Value::as_array)
            .map(|uids| uids.iter().filter_map(Value::as_str).collect());
        let selected = |uid: &str| wanted.as_ref().is_none_or(|w| w.contains(&uid));
        let mut records = Vec::new();
        let mut folders: HashMap<&str, Vec<Value>> = HashMap::new();
        for (uid, record) in &self.records {
            if !selected(uid) {
                continue;
            }
            let lagging;
            let shown = match (&record.previous, stale) {
                (Some((data, revision)), true) => {
                    lagging = StoredRecord {
                        data: data.clone(),
                        revision: *revision,
                        ..record.clone()
                    };
                    &lagging
                }
                _ => record,
            };
            match &record.folder {
                None => records.push(self.encrypted_record(uid, shown, &self.keys.app_key)),
                Some(folder) => {
                    let key = &self.folder_keys[folder];
                    folders
                        .entry(folder)
                        .or_default()
                        .push(self.encrypted_record(uid, shown, key));
                }
            }
        }
        let folders: Vec<Value> = folders
            .into_iter()
            .map(|(uid, records)| {
                json!({
                    "folderUid": uid,
                    "folderKey": STANDARD.encode(encrypt(&self.keys.app_key, &self.folder_keys[uid])),
                    "records": records,
                })
            })
            .collect();
        let mut answer = json!({"records": records, "folders": folders, "warnings": null});
        if omit_folders && let Value::Object(map) = &mut answer {
            map.remove("folders");
        }
        answer
    }

    fn update_secret(&mut self, request: &Value, stale: bool) -> Reply {
        let uid = request
            .get("recordUid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let revision = request.get("revision").and_then(Value::as_i64);
        let rotation = request.get("transactionType").and_then(Value::as_str) == Some("rotation");
        let Some(record) = self.find_mut(uid) else {
            return error(404, "record_not_found", &format!("Record {uid} not found"));
        };
        if stale || revision != Some(record.revision) {
            return error(
                400,
                "out_of_sync",
                "The record has been changed since it was loaded; reload it and try again",
            );
        }
        let Some(encrypted) = request
            .get("data")
            .and_then(Value::as_str)
            .and_then(decode_lenient)
        else {
            return error(400, "invalid_data", "data is not base64");
        };
        let Ok(plain) = decrypt(&record.key, &encrypted) else {
            return error(
                400,
                "invalid_data",
                "data does not decrypt with the record key",
            );
        };
        let Ok(data @ Value::Object(_)) = serde_json::from_slice::<Value>(&plain) else {
            return error(400, "invalid_data", "data is not a JSON object");
        };
        if rotation {
            record.before_transaction = Some((record.data.clone(), record.revision));
        }
        record.remember();
        record.data = data;
        record.revision += 1;
        self.write_records_file();
        Reply::Empty
    }

    fn complete(&mut self, request: &Value, rollback: bool) -> Reply {
        let uid = request
            .get("recordUid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(record) = self.find_mut(uid) else {
            return error(404, "record_not_found", &format!("Record {uid} not found"));
        };
        let Some((data, _)) = record.before_transaction.take() else {
            return error(
                400,
                "no_transaction",
                "No rotation transaction is open for this record",
            );
        };
        if rollback {
            record.remember();
            record.data = data;
            record.revision += 1;
        }
        self.write_records_file();
        Reply::Empty
    }
}

/// What to send back.
enum Reply {
    /// 200 with an empty body.
    Empty,
    /// 200 with a JSON body encrypted with the transmission key.
    Encrypted(Value),
    /// Any status with a plain body.
    Plain(u16, String),
    /// Close the connection without answering.
    Hangup,
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::Plain(
        status,
        json!({
            "path": "https://127.0.0.1/api/rest/sm/v1, POST",
            "additional_info": "",
            "location": "default exception manager - api validation exception",
            "error": code,
            "message": message,
        })
        .to_string(),
    )
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: Arc<Shared>) {
    loop {
        // Going down closes idle keep-alive connections too, so the client's
        // next request needs a new connection, and that is refused.
        let request = tokio::select! {
            request = http::read_request(&mut stream) => request.ok().flatten(),
            () = shared.engine.shutter().wait_close() => None,
        };
        let Some(request) = request else {
            let _ = stream.shutdown().await;
            return;
        };
        let method = request.start[0].as_str();
        let path = request.start[1].as_str();
        if method != "POST" {
            // Not an API call (every SDK call is a POST): answered like a
            // web server, with the vault's `Date`, outside the call log.
            if shared.engine.is_down() {
                return;
            }
            let date = {
                let mut state = lock(&shared);
                state.other_requests.push(format!("{method} {path}"));
                match &state.others {
                    Others::Answer => Ok(Some(state.date())),
                    Others::Date(date) => Ok(date.clone()),
                    other => Err(other.clone()),
                }
            };
            let date = match date {
                Ok(date) => date,
                Err(Others::Hold) => {
                    std::future::pending::<()>().await;
                    return;
                }
                Err(_) => {
                    let _ = stream.shutdown().await;
                    return;
                }
            };
            let date = date.map(|d| format!("Date: {d}\r\n")).unwrap_or_default();
            let answer = format!("HTTP/1.1 404 Not Found\r\n{date}Content-Length: 0\r\n\r\n");
            if stream.write_all(answer.as_bytes()).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            continue;
        }
        let endpoint = path.rsplit('/').next().unwrap_or_default();
        let Some(mut plan) = shared.engine.plan(endpoint) else {
            return;
        };
        lock(&shared).wire.extend_from_slice(&request.bytes());
        if plan.close_after {
            shared.engine.shutter().close().await;
        }
        match &plan.fault {
            Some(Fault::Delay(delay) | Fault::LateApply(delay)) => {
                tokio::time::sleep(*delay).await;
            }
            Some(Fault::Refused) => {
                shared.engine.shutter().close().await;
                return;
            }
            _ => {}
        }
        let (mut reply, tk) = handle(
            &shared,
            &request,
            plan.index,
            &plan.call,
            plan.fault.as_ref(),
        );
        plan.settle();
        match &plan.fault {
            Some(Fault::DropAfterApply) => return,
            Some(Fault::ApplyThenHold(hold)) => {
                tokio::time::sleep(*hold).await;
                return;
            }
            Some(Fault::ApplyThenError(status)) => reply = load_balancer_error(*status),
            _ => {}
        }
        if let Some(gate) = plan.gate {
            wait_open(gate).await;
        }
        let (status, body) = match reply {
            Reply::Hangup => return,
            Reply::Empty => (200, Vec::new()),
            Reply::Encrypted(json) => {
                let plain = serde_json::to_vec(&json).unwrap_or_default();
                (200, tk.map_or(plain.clone(), |tk| encrypt(&tk, &plain)))
            }
            Reply::Plain(status, text) => (status, text.into_bytes()),
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Internal Server Error",
        };
        let content_type = if status == 200 {
            "application/octet-stream"
        } else {
            "application/json"
        };
        let closing = if plan.close_after {
            "Connection: close\r\n"
        } else {
            ""
        };
        let date = lock(&shared).date();
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\nDate: {date}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{closing}\r\n",
            body.len()
        )
        .into_bytes();
        let truncated = matches!(plan.fault, Some(Fault::Truncated)) && status == 200;
        if truncated {
            response = http::cut(&response, &body);
        } else {
            response.extend_from_slice(&body);
        }
        lock(&shared).wire.extend_from_slice(&response);
        // Recorded before the client can see it, so whoever saw the answer
        // finds it recorded; taken back if it could not be sent.
        shared.engine.set_status(plan.index, Some(status));
        let sent = stream.write_all(&response).await.is_ok() && stream.flush().await.is_ok();
        if !sent {
            shared.engine.set_status(plan.index, None);
        }
        if !sent || truncated || plan.close_after {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// A load balancer's answer in front of a server that did the work but
/// whose answer the balancer lost.
fn load_balancer_error(status: u16) -> Reply {
    Reply::Plain(
        status,
        json!({
            "error": "upstream_error",
            "message": format!("The load balancer lost the server's answer (HTTP {status}); the request may have been applied."),
        })
        .to_string(),
    )
}

/// Decrypts and dispatches one request. Returns the reply and the
/// transmission key to encrypt it with.
fn handle(
    shared: &Shared,
    request: &Message,
    index: usize,
    endpoint: &str,
    fault: Option<&Fault>,
) -> (Reply, Option<[u8; 32]>) {
    match fault {
        Some(Fault::Throttle { retry_after }) => {
            let body = json!({"error": "throttled", "retry_after": retry_after});
            return (Reply::Plain(403, body.to_string()), None);
        }
        Some(Fault::ServerError) => {
            return (
                error(500, "internal_error", "The server had an internal error"),
                None,
            );
        }
        Some(Fault::NotJson) => {
            return (Reply::Plain(500, "upstream exploded".into()), None);
        }
        Some(Fault::Drop) => return (Reply::Hangup, None),
        _ => {}
    }
    let mut state = lock(shared);
    let decoded = (|| {
        let encrypted_tk = STANDARD.decode(request.header("TransmissionKey")?).ok()?;
        let signature = request
            .header("Authorization")?
            .strip_prefix("Signature ")
            .and_then(|s| STANDARD.decode(s).ok())?;
        Some((encrypted_tk, signature))
    })();
    let Some((encrypted_tk, signature)) = decoded else {
        return (
            error(
                403,
                "access_denied",
                "Missing transmission key or signature",
            ),
            None,
        );
    };
    let Ok(tk) = state.keys.transmission_key(&encrypted_tk) else {
        return (
            error(
                403,
                "access_denied",
                "Unable to decrypt the transmission key",
            ),
            None,
        );
    };
    if !state.keys.verify(&encrypted_tk, &request.body, &signature) {
        return (error(403, "access_denied", "Signature is invalid"), None);
    }
    let Ok(plain) = decrypt(&tk, &request.body) else {
        return (
            error(400, "invalid_payload", "Unable to decrypt the payload"),
            None,
        );
    };
    let Ok(payload) = serde_json::from_slice::<Value>(&plain) else {
        return (
            error(400, "invalid_payload", "The payload is not JSON"),
            None,
        );
    };
    if payload.get("clientId").and_then(Value::as_str) != Some(state.keys.client_id.as_str()) {
        return (error(403, "access_denied", "Unknown client id"), None);
    }
    let named: Vec<String> = match (payload.get("requestedRecords"), payload.get("recordUid")) {
        (Some(Value::Array(uids)), _) => uids
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Some(Value::String(uid))) => vec![uid.clone()],
        _ => Vec::new(),
    };
    state.named.insert(index, named);
    let reply = match endpoint {
        "get_secret" => {
            let answer = state.get_secret(
                &payload,
                matches!(fault, Some(Fault::MissingFolders)),
                matches!(fault, Some(Fault::StaleRead)),
            );
            if matches!(fault, Some(Fault::Unencrypted)) {
                return (Reply::Encrypted(answer), None);
            }
            Reply::Encrypted(answer)
        }
        "update_secret" => {
            if let Some(Fault::DropAfterOtherEdit { label, value }) = fault {
                let uid = payload
                    .get("recordUid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if let Some(record) = state.find_mut(uid) {
                    record.remember();
                    set_custom(&mut record.data, label, value);
                    record.revision += 1;
                }
                return (Reply::Hangup, None);
            }
            if let Some(Fault::ConcurrentEdit { label, value }) = fault {
                let uid = payload
                    .get("recordUid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if let Some(record) = state.find_mut(uid) {
                    record.remember();
                    set_custom(&mut record.data, label, value);
                    record.revision += 1;
                }
            }
            state.update_secret(&payload, matches!(fault, Some(Fault::StaleRevision)))
        }
        "finalize_secret_update" => state.complete(&payload, false),
        "rollback_secret_update" => state.complete(&payload, true),
        other => error(404, "not_found", &format!("Unknown endpoint {other}")),
    };
    (reply, Some(tk))
}

impl Armable for FakeVault {
    fn known_calls(&self) -> Vec<String> {
        CALLS.map(str::to_owned).to_vec()
    }

    /// Maps each kind to its [`Fault`]: `500` [`Fault::ServerError`], `429`
    /// [`Fault::Throttle`] (403 `throttled`, `retry_after` 1 s),
    /// `drop-before-apply` [`Fault::Drop`], `drop-after-apply`
    /// [`Fault::DropAfterApply`], `timeout-after-apply`
    /// [`Fault::ApplyThenHold`] and `late-save` [`Fault::LateApply`] (for
    /// the hold time), `truncated-2xx` [`Fault::Truncated`],
    /// `apply-then-500` [`Fault::ApplyThenError`] 500, `garbled-2xx`
    /// [`Fault::Unencrypted`].
    fn arm(&self, call: &str, nth: usize, kind: FaultKind) -> Result<(), FaultError> {
        faults::check_call(call, &CALLS)?;
        self.shared.engine.arm_with(call, nth, |hold| {
            Ok(match kind {
                FaultKind::Status500 => Fault::ServerError,
                FaultKind::Status429 => Fault::Throttle { retry_after: 1.0 },
                FaultKind::Refused => return Err(FaultError::RefusedNeedsIndex),
                FaultKind::DropBeforeApply => Fault::Drop,
                FaultKind::DropAfterApply => Fault::DropAfterApply,
                FaultKind::TimeoutAfterApply => Fault::ApplyThenHold(hold),
                FaultKind::Truncated2xx => Fault::Truncated,
                FaultKind::LateSave => Fault::LateApply(hold),
                FaultKind::ApplyThen500 => Fault::ApplyThenError(500),
                FaultKind::Garbled2xx => Fault::Unencrypted,
            })
        })
    }

    fn refuse_from(&self, index: usize) {
        self.shared.engine.refuse_from(index);
    }

    fn call_sequence(&self) -> Vec<String> {
        self.endpoints()
    }

    fn set_hold(&self, hold: Duration) {
        self.shared.engine.set_hold(hold);
    }

    fn wait_applied(&self, limit: Duration) -> bool {
        self.shared.engine.wait_applied(limit)
    }
}
