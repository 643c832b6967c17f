//! A test CA and a leaf certificate for 127.0.0.1, made at start, and the
//! CONNECT handshake the SDK's HTTPS proxy support sends first.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The TLS acceptor and the CA certificate clients must trust.
pub struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub ca_pem: String,
    /// The leaf certificate's DER (what a pin is the SHA-256 of).
    pub leaf_der: Vec<u8>,
    /// The test CA, kept to sign a certificate for a routed host.
    issuer: Issuer<'static, KeyPair>,
}

impl Tls {
    pub fn generate() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "keeper-rotators test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca, ca_key);
        let (acceptor, leaf_der) = leaf(
            &issuer,
            &["127.0.0.1", "localhost", super::KSM_HOST],
            "fake Keeper Secrets Manager",
        );
        Self {
            acceptor,
            ca_pem: ca_cert.pem(),
            leaf_der,
            issuer,
        }
    }

    /// An acceptor presenting a certificate for `host` from the test CA
    /// (a host the script proxy answers for: see `routes.rs`).
    pub fn acceptor_for(&self, host: &str) -> tokio_rustls::TlsAcceptor {
        leaf(&self.issuer, &[host], host).0
    }
}

/// A server certificate for `names` signed by `issuer`, and an acceptor
/// presenting it (HTTP/1.1 only, as the fakes speak).
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    names: &[&str],
    common_name: &str,
) -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    let leaf_key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut leaf = CertificateParams::new(names).expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, common_name);
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, issuer).expect("leaf certificate");
    let leaf_der = leaf_cert.der().to_vec();
    let chain = vec![CertificateDer::from(leaf_der.clone())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("TLS server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), leaf_der)
}

/// What a client asked of the fake as a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connect {
    /// TLS straight away: a client of the fake itself.
    Direct,
    /// `CONNECT` to a loopback address, answered: TLS follows on the same
    /// socket (the SDK reaches the fake through `HTTPS_PROXY`).
    Tunnel,
    /// `CONNECT` to any other host, or a plain-HTTP proxy request
    /// (`GET http://host/...`): answered 403 and closed. The target, as
    /// `host:port` or the request's URI.
    Refused(String),
}

/// Whether a `CONNECT` target (`host:port`, `[v6]:port`) is this machine.
pub fn is_loopback_target(target: &str) -> bool {
    let host = match target.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => target,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Reads the request head (up to the blank line) of a proxy request.
pub(super) async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
        if head.len() > 8192 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Answers a client's first bytes: TLS is left untouched; `CONNECT` to a
/// loopback address is answered so TLS can follow; any other proxy request
/// (a `CONNECT` elsewhere, `GET http://...`) is to be refused ([`refuse`]): the fake
/// is the only proxy a rehearsed binary is given, so nothing it sends
/// leaves the machine.
pub async fn accept_connect(stream: &mut TcpStream) -> std::io::Result<Connect> {
    let mut first = [0u8; 8];
    let n = stream.peek(&mut first).await?;
    if n == 0 || first[0] == 0x16 {
        return Ok(Connect::Direct);
    }
    let head = read_head(stream).await?;
    let (method, target) = request_line(&head);
    if method == "CONNECT" && is_loopback_target(&target) {
        establish(stream).await?;
        return Ok(Connect::Tunnel);
    }
    Ok(Connect::Refused(escape(&method, target)))
}

/// A proxy request's method and target (`host:port` or a URI, at most 300
/// characters: it is recorded and shown).
pub(super) fn request_line(head: &str) -> (String, String) {
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let target = words.next().unwrap_or_default().chars().take(300).collect();
    (method, target)
}

/// What a refused request is recorded as: its target, or what it was.
pub(super) fn escape(method: &str, target: String) -> String {
    if target.is_empty() {
        format!("a request the proxy could not read ({method})")
    } else {
        target
    }
}

const ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

/// Answers a `CONNECT`: the tunnel is open, TLS follows.
pub async fn establish(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(ESTABLISHED).await
}

/// Answers a refused proxy request (see [`Connect::Refused`]) with 403 and
/// closes the connection. The caller records the attempt first, so it is
/// known before the client can act on the answer.
pub async fn refuse(stream: &mut TcpStream) {
    let _ = stream
        .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await;
    let _ = stream.shutdown().await;
}
