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
//!
//! The module in rooms, each of which changes for its own reason: the
//! handle a test holds, its start and its files (here); the fault
//! vocabulary and the call log's entries (`fault.rs`); the records and what
//! each endpoint does to them (`store.rs`); the wire, one TLS connection's
//! requests checked, answered and faulted (`serve.rs`); the SDK's
//! cryptography (`crypto.rs`); the CONNECT proxy and the test CA (`tls.rs`);
//! the proxy a third-party script is given, which answers for real hosts
//! (`routes.rs`).

mod crypto;
mod fault;
mod routes;
mod serve;
mod store;
pub(crate) mod tls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::faults::{self, Armable, Engine, FaultError, FaultKind, Gate};
use crate::runtime;
use crypto::{Keys, random_key};
pub use fault::{Fault, VaultCall};
use serve::serve_connection;
pub use store::Others;
use store::{Shared, State, StoredRecord, lock};

/// The endpoints the fake serves: the call names for arming.
pub const CALLS: [&str; 4] = [
    "get_secret",
    "update_secret",
    "finalize_secret_update",
    "rollback_secret_update",
];

/// The host a script's KSM configuration names, answered by the fake vault
/// through the [`FakeVault::script_proxy`] (its certificate names it). Not
/// Keeper's real host: `.invalid` never resolves (RFC 2606), so an SDK that
/// ignores the proxy variables fails here instead of sending the fake
/// vault's keys to Keeper.
pub const KSM_HOST: &str = "keeper.harness.invalid";

/// The proxy variables a rehearsed binary must not inherit: an
/// administrator's proxy would see the plain-http calls to the loopback
/// fakes (the AWS SDK honours them).
pub const PLAIN_PROXY_VARS: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// The fake, serving until dropped.
pub struct FakeVault {
    port: u16,
    shared: Arc<Shared>,
    dir: PathBuf,
    _temp: Option<crate::teardown::PrivateDir>,
    /// `records.json` and the config, removed on a signal (`vault serve`).
    _files: Vec<crate::teardown::RemoveOnSignal>,
    server: tokio::task::JoinHandle<()>,
    /// The test CA, for a routed host's certificate.
    tls: tls::Tls,
    /// The proxy a third-party script is given, once started
    /// ([`FakeVault::script_proxy`]).
    script_proxy: Mutex<Option<routes::ScriptProxy>>,
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
        if let Some(proxy) = self
            .script_proxy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            proxy.stop();
        }
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
        let acceptor = tls.acceptor.clone();
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
            tls,
            script_proxy: Mutex::new(None),
        })
    }

    /// The proxy a third-party script is given (`HTTPS_PROXY`), started
    /// on its first use on a port of its own: it answers `CONNECT` for the
    /// hosts routed to a fake ([`FakeVault::route`]) and for [`KSM_HOST`]
    /// (this vault), tunnels to loopback, and refuses and records any other
    /// host ([`FakeVault::escapes`]). Apart from the vault's own listener,
    /// so that the vault going down (a `refused` fault) takes down the
    /// vault only, not a script's way to the other fakes. Its port.
    pub fn script_proxy(&self) -> Result<u16, String> {
        let mut slot = self
            .script_proxy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(proxy) = slot.as_ref() {
            return Ok(proxy.port);
        }
        let routes = routes::Routes::default();
        routes.insert(
            KSM_HOST,
            routes::Route {
                upstream: std::net::SocketAddr::from(([127, 0, 0, 1], self.port)),
                tls: None,
            },
        );
        let proxy = routes::ScriptProxy::start(routes, Arc::clone(&self.shared))?;
        let port = proxy.port;
        *slot = Some(proxy);
        Ok(port)
    }

    /// Routes `host` (a real service's name, port 443) through the
    /// [`FakeVault::script_proxy`]: a `CONNECT` to it is answered, TLS
    /// completed with a certificate for `host` from the test CA (`ca.pem`),
    /// and the requests handed to `upstream`, a fake's plain-HTTP address
    /// (`http://127.0.0.1:PORT`). A script whose SDK names the host reaches
    /// the fake unedited.
    pub fn route(&self, host: &str, upstream: &str) -> Result<(), String> {
        let url = url::Url::parse(upstream).map_err(|e| format!("{upstream}: {e}"))?;
        let address = url
            .socket_addrs(|| None)
            .ok()
            .and_then(|a| a.into_iter().next())
            .ok_or_else(|| format!("{upstream} names no address"))?;
        self.script_proxy()?;
        let slot = self
            .script_proxy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(proxy) = slot.as_ref() {
            proxy.routes.insert(
                host,
                routes::Route {
                    upstream: address,
                    tls: Some(self.tls.acceptor_for(host)),
                },
            );
        }
        Ok(())
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

    /// Every connection a binary tried through this fake (its
    /// `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY`), or a script through the
    /// [`FakeVault::script_proxy`], to a host that is not a loopback address
    /// (nor, for a script, a routed one: [`FakeVault::route`]), as
    /// `host:port`, in order. Each was refused: a rehearsal never reaches a
    /// real service, and one that tried failed.
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
        state
            .find_mut(uid)
            .expect("record to edit")
            .edit_custom(label, value);
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
