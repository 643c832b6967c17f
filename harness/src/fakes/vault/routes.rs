//! The proxy a third-party script is given: it answers for real hosts.
//!
//! Why: a script often names its service's host in its own code or its
//! SDK's (`login.microsoftonline.com`, a hard-coded Graph URL) and honours
//! no endpoint variable, only the proxy variables and a CA bundle. This
//! proxy answers the `CONNECT` for such a host, completes TLS with a
//! certificate for it from the test CA, and hands the requests to the fake:
//! the script reaches the fake by the real name, unedited. Keeper's host in
//! the script's KSM configuration ([`super::KSM_HOST`]) is tunnelled to the
//! fake vault, which completes TLS itself. Any other host is refused and
//! recorded as an escape, as the vault's own proxy does for a binary.
//!
//! Why a listener of its own, not the vault's: the vault going down (a
//! `refused` fault) closes the vault's listener, and must not take a
//! script's way to the other fakes with it (a script that cannot reach
//! Entra ID when the vault is down would hide what it does then). A fake
//! that is down answers the `CONNECT` with `502 Bad Gateway`, as a real
//! proxy does. Every connection's task belongs to the proxy's task, and
//! ends with it when the vault is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::store::{Shared, lock};
use super::tls;
use crate::runtime;

/// How long a client has to complete the TLS handshake of a routed host.
const HANDSHAKE: Duration = Duration::from_secs(30);

/// Where the proxy sends a `CONNECT` it answers.
#[derive(Clone)]
pub struct Route {
    /// The fake's address.
    pub upstream: SocketAddr,
    /// `Some`: TLS is completed here with this host's certificate and the
    /// plain requests handed to `upstream` (a fake that speaks HTTP);
    /// `None`: the bytes go to `upstream` as they are (the fake vault,
    /// which completes TLS itself).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// The routed hosts, by lower-case name (port 443 only).
#[derive(Clone, Default)]
pub struct Routes(Arc<Mutex<HashMap<String, Route>>>);

impl Routes {
    pub fn insert(&self, host: &str, route: Route) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(host.to_ascii_lowercase(), route);
    }

    /// The route for a `CONNECT` target (`host:port`): a routed host on
    /// port 443, or a loopback address as it is.
    async fn find(&self, target: &str) -> Option<Route> {
        if tls::is_loopback_target(target) {
            let upstream = tokio::net::lookup_host(target).await.ok()?.next()?;
            return upstream.ip().is_loopback().then_some(Route {
                upstream,
                tls: None,
            });
        }
        let (host, port) = target.rsplit_once(':')?;
        if port != "443" {
            return None;
        }
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&host.to_ascii_lowercase())
            .cloned()
    }
}

/// The running proxy: stopped with its every connection when dropped
/// through [`ScriptProxy::stop`].
pub struct ScriptProxy {
    pub port: u16,
    pub routes: Routes,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptProxy {
    /// Listens on a free loopback port; records escapes in `shared`.
    pub fn start(routes: Routes, shared: Arc<Shared>) -> Result<Self, String> {
        let listener = runtime()
            .block_on(TcpListener::bind(("127.0.0.1", 0)))
            .map_err(|e| format!("cannot listen on 127.0.0.1 for the script proxy: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let served = routes.clone();
        let task = runtime().spawn(async move {
            // Dropped with this task: every connection ends with the proxy.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        connections.spawn(connection(stream, served.clone(), Arc::clone(&shared)));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(Self { port, routes, task })
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// One client: its `CONNECT` routed, or refused and recorded.
async fn connection(mut stream: TcpStream, routes: Routes, shared: Arc<Shared>) {
    let Ok(head) = tls::read_head(&mut stream).await else {
        return;
    };
    let (method, target) = tls::request_line(&head);
    let route = if method == "CONNECT" {
        routes.find(&target).await
    } else {
        None
    };
    // A plain-HTTP request for this machine (`GET http://127.0.0.1:…`, from
    // a client that ignores `NO_PROXY`) is not served, but went nowhere.
    let here = url::Url::parse(&target)
        .ok()
        .and_then(|url| Some(format!("{}:0", url.host_str()?)))
        .is_some_and(|host| tls::is_loopback_target(&host));
    match route {
        Some(route) => forward(stream, route).await,
        None if here => tls::refuse(&mut stream).await,
        None => {
            lock(&shared).escapes.push(tls::escape(&method, target));
            tls::refuse(&mut stream).await;
        }
    }
}

/// Connects to the route's fake first (one that is down is `502 Bad
/// Gateway`), answers the `CONNECT`, completes TLS when the route says so,
/// and copies bytes both ways until either side closes.
async fn forward(mut stream: TcpStream, route: Route) {
    let Ok(mut upstream) = TcpStream::connect(route.upstream).await else {
        let _ = stream
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        let _ = stream.shutdown().await;
        return;
    };
    let _ = upstream.set_nodelay(true);
    if tls::establish(&mut stream).await.is_err() {
        return;
    }
    match route.tls {
        None => {
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
        }
        Some(acceptor) => {
            let Ok(Ok(mut tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await
            else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
        }
    }
}
