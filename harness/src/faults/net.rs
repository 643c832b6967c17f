//! Network faults a fake built on a full HTTP server cannot produce: a port
//! nobody listens on, a server that reads the request and hangs up, an
//! address whose connections never complete, an HTTP proxy that records
//! who used it, and a private network in which a name can resolve to a host
//! that is not loopback ([`PrivateNetwork`]).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A loopback port with no listener: connecting is refused.
pub fn refused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}

/// Accepts connections, reads each request's head and body, then closes the
/// connection without answering: the request arrived, no response came.
#[derive(Debug)]
pub struct HangUpServer {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl HangUpServer {
    pub fn start() -> Self {
        Self::start_on(std::net::Ipv4Addr::LOCALHOST)
    }

    /// Listens on `ip` (which must be an address of this network namespace,
    /// such as [`PrivateNetwork::ELSEWHERE`]).
    pub fn start_on(ip: std::net::Ipv4Addr) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind a port");
        let port = listener.local_addr().expect("local address").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if read_request(stream) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Self { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many complete requests arrived.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP/1.1 request (head, then `Content-Length` bytes) and drops
/// the connection. Returns whether a whole request was read.
fn read_request(mut stream: TcpStream) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf) else {
            return false;
        };
        if n == 0 {
            return false;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return true;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A loopback address whose TCP connections never complete, as if the SYNs
/// were dropped by a firewall: a listener with a backlog of 0 whose one
/// queued connection is never accepted. Linux then drops every further SYN
/// (the accept queue is full), so a client's connect waits until its own
/// timeout. Deterministic, unlike a non-routable address, which depends on
/// the machine's routes.
#[derive(Debug)]
pub struct Blackhole {
    port: u16,
    _listener: std::net::TcpListener,
    _queued: TcpStream,
}

impl Blackhole {
    pub fn start() -> Self {
        let listener = crate::runtime().block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
            socket
                .bind("127.0.0.1:0".parse().expect("an address"))
                .expect("bind a loopback port");
            socket
                .listen(0)
                .expect("listen")
                .into_std()
                .expect("a std listener")
        });
        let port = listener.local_addr().expect("local address").port();
        let queued = TcpStream::connect(("127.0.0.1", port)).expect("fill the accept queue");
        Self {
            port,
            _listener: listener,
            _queued: queued,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Whether a connect to it is still pending after `wait` (the property
    /// the tests rely on).
    pub fn swallows_connects(&self, wait: Duration) -> bool {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        TcpStream::connect_timeout(&address, wait).is_err()
    }
}

/// An HTTP proxy that records every connection made to it and answers each
/// request with 502, without forwarding anything.
#[derive(Debug)]
pub struct RecordingProxy {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl RecordingProxy {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = std::io::Write::write_all(
                    &mut stream,
                    b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Self { port, connections }
    }

    /// `http://127.0.0.1:<port>`, for `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A network namespace of the test's own, for a host that is not loopback.
///
/// Why: the rule "plain http only to loopback" is about the addresses
/// actually connected to, and a name such as `api.localhost` can resolve
/// anywhere (glibc with `hosts: files dns` gives `*.localhost` no special
/// treatment). To show a binary never sends to such a host, the test needs
/// one that it could reach if the binary were wrong, and nothing may leave
/// the machine. So [`PrivateNetwork::enter`] moves the calling test thread
/// (and every thread and process it starts afterwards: the fakes' runtime,
/// the binary) into a new network namespace with only `lo` up, and gives
/// `lo` the extra address [`PrivateNetwork::ELSEWHERE`]: a non-loopback
/// address (10.200.0.1) whose listeners stand for another host on the
/// network. Addresses outside the namespace are unreachable from it.
/// [`PrivateNetwork::with_hosts`] runs the binary with its own `/etc/hosts`
/// (a private mount namespace, as `unshare --mount` gives it).
///
/// Needs root, and a process of its own (nextest's process-per-test mode)
/// whose harness runtime has not started yet; otherwise
/// [`PrivateNetwork::enter`] prints ONE line (`skipped: ...`) and returns
/// `None`, and the test returns early. The namespace ends with the process.
#[derive(Debug)]
pub struct PrivateNetwork {
    dir: tempfile::TempDir,
}

impl PrivateNetwork {
    /// The address that stands for another host on the network.
    pub const ELSEWHERE: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 200, 0, 1);

    pub fn enter() -> Option<Self> {
        match Self::try_enter() {
            Ok(network) => Some(network),
            Err(reason) => {
                #[allow(clippy::print_stdout, reason = "the one line a skipped test prints")]
                {
                    println!("skipped: {reason}");
                }
                None
            }
        }
    }

    fn try_enter() -> Result<Self, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("a private network namespace needs root".into());
        }
        // Under `cargo test` the other tests of the binary share the process
        // and the runtime, which this namespace would take from them.
        if std::env::var("NEXTEST_EXECUTION_MODE").as_deref() != Ok("process-per-test") {
            return Err(
                "a private network namespace needs a process of its own per test \
                        (run it with cargo nextest)"
                    .into(),
            );
        }
        if crate::runtime_started() {
            return Err(
                "the harness runtime started before the private network namespace \
                        (run this test in a process of its own, as nextest does)"
                    .into(),
            );
        }
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot make a private network namespace ({e})"))?;
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["addr", "add", "10.200.0.1/32", "dev", "lo"],
        ] {
            let status = std::process::Command::new("ip")
                .args(&args)
                .status()
                .expect("run ip");
            assert!(
                status.success(),
                "ip {args:?} failed in the private namespace"
            );
        }
        Ok(Self {
            dir: tempfile::tempdir().expect("a temp directory"),
        })
    }

    /// The wrapper for [`crate::Run::wrapped`] that runs the binary with an
    /// `/etc/hosts` of `localhost` plus `entries` (name, address).
    pub fn with_hosts(
        &self,
        entries: &[(&str, std::net::IpAddr)],
    ) -> (std::path::PathBuf, Vec<String>) {
        let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
        for (name, address) in entries {
            hosts.push_str(&format!("{address} {name}\n"));
        }
        let path = self.dir.path().join("hosts");
        std::fs::write(&path, hosts).expect("write the hosts file");
        let script = format!(
            "mount --bind '{}' /etc/hosts && exec \"$@\"",
            path.display()
        );
        (
            "unshare".into(),
            vec![
                "--mount".into(),
                "--propagation".into(),
                "private".into(),
                "sh".into(),
                "-c".into(),
                script,
                "sh".into(),
            ],
        )
    }
}
