//! Trusting a server by its certificate's SHA-256 (a pin) instead of a
//! certificate authority.
//!
//! Why: a network device (a Cisco router's RESTCONF server) usually presents
//! a self-signed certificate that no CA vouches for. Turning verification
//! off, as Keeper's own script does, would send the admin's password to
//! whoever answers; pinning the one certificate the device presents keeps
//! the connection authenticated without a CA. Like the SSH host-key pins,
//! the pin is a record field, and it may be trusted on first use
//! ([`Client::certificate_of`] reads the certificate without sending a byte
//! of any request) and then stored.
//!
//! What the pinned verifier checks: the leaf certificate's DER is the pinned
//! one (SHA-256), and the handshake's signature is made by that
//! certificate's key (so a server that copied the certificate but lacks the
//! key is refused). It checks no name, chain or validity period: the pin
//! names the exact certificate. A mismatch is a refusal during the
//! handshake, before any byte of a request (and so any credential) is sent,
//! reported as [`Error::Config`] (exit 2) with the fingerprint seen.
//!
//! [`Client::certificate_of`]: super::Client::certificate_of

use std::sync::{Arc, Mutex, PoisonError};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

/// A certificate's SHA-256, as `openssl x509 -fingerprint -sha256` shows
/// it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CertPin([u8; 32]);

impl std::fmt::Debug for CertPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CertPin({self})")
    }
}

impl std::fmt::Display for CertPin {
    /// `AB:CD:...`: 32 upper-case hex pairs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&pairs.join(":"))
    }
}

impl CertPin {
    /// The pin of a certificate (its DER).
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Reads a pin: 64 hex digits, upper or lower case, with `:` or blanks
    /// between them allowed, optionally after `sha256` or a label ending in
    /// `=` (`sha256 Fingerprint=AB:CD:...`, as openssl prints it). `Err`
    /// says what is wrong, without repeating the text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let text = text.rsplit_once('=').map_or(text, |(_, tail)| tail).trim();
        let text = text
            .strip_prefix("sha256:")
            .or_else(|| text.strip_prefix("SHA256:"))
            .unwrap_or(text);
        let digits: Vec<u8> = text
            .bytes()
            .filter(|b| *b != b':' && !b.is_ascii_whitespace())
            .collect();
        if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!(
                "a certificate's SHA-256 is 64 hex digits (pairs may be separated by ':'), \
                 found {} characters that are not",
                text.chars().count()
            ));
        }
        let mut pin = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            pin[i] = hex(pair[0]) * 16 + hex(pair[1]);
        }
        Ok(Self(pin))
    }
}

/// The handshake was refused because the certificate is not the pinned one.
#[derive(Debug)]
pub struct PinMismatch {
    pub seen: CertPin,
    pub pinned: CertPin,
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server's certificate has the SHA-256 {}, not the pinned {}",
            self.seen, self.pinned
        )
    }
}

impl std::error::Error for PinMismatch {}

/// The handshake was ended on purpose once the certificate was read
/// ([`Client::certificate_of`](super::Client::certificate_of)).
#[derive(Debug)]
pub(super) struct OnlyLooking;

impl std::fmt::Display for OnlyLooking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the certificate was read and the connection closed, as asked")
    }
}

impl std::error::Error for OnlyLooking {}

/// What a verifier of this module accepts.
#[derive(Debug)]
pub(super) enum Check {
    /// Only the pinned certificate; any other one seen is put in the slot
    /// (read by the client, whatever the error chain around the refusal
    /// looks like by the time it arrives).
    Pinned(CertPin, Arc<Mutex<Option<CertPin>>>),
    /// Nothing: the certificate is recorded and the handshake ended.
    Record(Arc<Mutex<Option<CertPin>>>),
}

#[derive(Debug)]
pub(super) struct Verifier {
    check: Check,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let seen = CertPin::of(end_entity.as_ref());
        let refusal = |error: Arc<dyn std::error::Error + Send + Sync>| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                error,
            )))
        };
        match &self.check {
            Check::Pinned(pinned, _) if *pinned == seen => Ok(ServerCertVerified::assertion()),
            Check::Pinned(pinned, slot) => {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(seen);
                Err(refusal(Arc::new(PinMismatch {
                    seen,
                    pinned: *pinned,
                })))
            }
            Check::Record(slot) => {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(seen);
                Err(refusal(Arc::new(OnlyLooking)))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS configuration whose only trust is `check`.
pub(super) fn config(check: Check) -> std::result::Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Verifier {
        check,
        provider: Arc::clone(&provider),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_read_as_openssl_and_browsers_show_it() {
        let pin = CertPin::of(b"certificate");
        let shown = pin.to_string();
        for text in [
            shown.clone(),
            shown.to_lowercase(),
            shown.replace(':', ""),
            format!("sha256 Fingerprint={shown}"),
            format!("  {}  ", shown.replace(':', " ")),
        ] {
            assert_eq!(CertPin::parse(&text), Ok(pin), "{text}");
        }
        for bad in [
            "",
            "AB:CD",
            &shown[..shown.len() - 1],
            &shown.replace('A', "G"),
        ] {
            if bad != shown {
                assert!(CertPin::parse(bad).is_err(), "{bad}");
            }
        }
    }
}
