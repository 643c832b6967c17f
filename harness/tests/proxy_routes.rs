//! The script proxy answering for a real service's host: a `CONNECT` to a
//! routed host is served by a fake behind a certificate for that host from
//! the test CA; any other host is refused and recorded. This is how a
//! third-party script whose SDK names `login.microsoftonline.com` (and
//! trusts only a CA bundle and the proxy variables) reaches the fakes
//! unedited.
//!
//! Driven here with a plain socket and rustls, as an SDK drives a proxy.

#![allow(clippy::unwrap_used, reason = "a test fails loudly")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use harness::{FakeAzure, FakeVault};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

const TENANT: &str = "72f988bf-0000-4000-8000-000000000001";

/// Sends `CONNECT target` to the script proxy; the status line answered.
fn connect(vault: &FakeVault, target: &str) -> (TcpStream, String) {
    let port = vault.script_proxy().unwrap();
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        socket,
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(socket.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    // The rest of the head, up to the blank line.
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 2 {
        line.clear();
    }
    (socket, status.trim_end().to_owned())
}

/// `GET path` on `host` through the tunnel, trusting only the fakes' CA;
/// the whole answer as text.
fn get_through(vault: &FakeVault, host: &str, path: &str) -> String {
    let (socket, status) = connect(vault, &format!("{host}:443"));
    assert_eq!(status, "HTTP/1.1 200 Connection established");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(vault.ca_path()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // Read to the end of the head and its Content-Length (a server may keep
    // the connection open whatever the request asked).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= head_end + 4 + length {
                return text;
            }
        }
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A fake Entra ID and a vault whose proxy routes its real host to it.
fn routed_login() -> (FakeAzure, FakeVault) {
    let azure = FakeAzure::start(TENANT);
    let vault = FakeVault::start(&[]);
    vault
        .route("login.microsoftonline.com", &azure.url())
        .unwrap();
    (azure, vault)
}

#[test]
fn a_routed_host_is_served_by_its_fake_under_its_real_name_and_the_test_ca() {
    let (_azure, vault) = routed_login();
    let answer = get_through(
        &vault,
        "login.microsoftonline.com",
        &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let expected = format!(
        "\"token_endpoint\":\"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token\""
    );
    assert!(answer.contains(&expected), "{answer}");
    assert!(vault.escapes().is_empty(), "{:?}", vault.escapes());
}

#[test]
fn an_unknown_tenants_discovery_is_the_platforms_400_invalid_tenant() {
    let (_azure, vault) = routed_login();
    let answer = get_through(
        &vault,
        "login.microsoftonline.com",
        "/not-our-tenant/v2.0/.well-known/openid-configuration",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"error\":\"invalid_tenant\""), "{answer}");
}

#[test]
fn each_real_host_serves_its_own_endpoints_only() {
    let (azure, vault) = routed_login();
    vault.route("graph.microsoft.com", &azure.url()).unwrap();
    let discovery = format!("/{TENANT}/v2.0/.well-known/openid-configuration");
    let answer = get_through(&vault, "graph.microsoft.com", &discovery);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let answer = get_through(&vault, "login.microsoftonline.com", "/v1.0/applications/x");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

#[test]
fn a_host_that_is_not_routed_is_refused_and_recorded_as_an_escape() {
    let (_azure, vault) = routed_login();
    let (_, status) = connect(&vault, "graph.microsoft.com:443");
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    // The routed name on another port is not the route either.
    let (_, status) = connect(&vault, "login.microsoftonline.com:8443");
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    assert_eq!(
        vault.escapes(),
        ["graph.microsoft.com:443", "login.microsoftonline.com:8443"]
    );
}

#[test]
fn a_plain_http_request_for_this_machine_is_refused_but_is_no_escape() {
    let vault = FakeVault::start(&[]);
    let port = vault.script_proxy().unwrap();
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        socket,
        "GET http://127.0.0.1:9/x HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(socket).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    assert!(vault.escapes().is_empty(), "{:?}", vault.escapes());
}

#[test]
fn a_routed_host_whose_fake_is_down_is_answered_502_as_a_real_proxy_would() {
    let vault = FakeVault::start(&[]);
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    vault
        .route("graph.microsoft.com", &format!("http://127.0.0.1:{port}"))
        .unwrap();
    let (_, status) = connect(&vault, "graph.microsoft.com:443");
    assert!(status.starts_with("HTTP/1.1 502"), "{status}");
    assert!(vault.escapes().is_empty(), "{:?}", vault.escapes());
}

#[test]
fn the_vault_going_down_leaves_the_routes_to_the_other_fakes_up() {
    let (_azure, vault) = routed_login();
    // The vault's listener closes at once: down from its first request.
    harness::faults::Armable::refuse_from(&vault, 1);
    let answer = get_through(
        &vault,
        "login.microsoftonline.com",
        &format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // And Keeper's host, the vault itself, is a 502 now.
    let (_, status) = connect(&vault, &format!("{}:443", harness::fakes::vault::KSM_HOST));
    assert!(status.starts_with("HTTP/1.1 502"), "{status}");
}

#[test]
fn the_vault_is_not_a_proxy_for_a_real_host_even_when_a_script_proxy_routes_it() {
    // A binary's proxy is the vault's own listener: routes are the script
    // proxy's only, so a binary that ignored its endpoint variables is
    // still caught leaving the machine.
    let (_azure, vault) = routed_login();
    let mut socket = TcpStream::connect(("127.0.0.1", vault.port())).unwrap();
    write!(
        socket,
        "CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut status = String::new();
    BufReader::new(socket).read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    assert_eq!(vault.escapes(), ["login.microsoftonline.com:443"]);
}

#[test]
fn keepers_host_is_served_by_the_vault_itself_through_the_script_proxy() {
    let vault = FakeVault::start(&[]);
    // Not an API call (those are POSTs): the vault answers 404 with its
    // Date, as a web server would, over TLS for the KSM host's name.
    let answer = get_through(&vault, harness::fakes::vault::KSM_HOST, "/");
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("Date: "), "{answer}");
    assert!(vault.escapes().is_empty(), "{:?}", vault.escapes());
}
