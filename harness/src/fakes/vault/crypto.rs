//! The server side of the KSM wire encryption.
//!
//! - Transmission key: `ephemeralPub(65) || nonce(12) || AES-256-GCM(SHA-256(ECDH x), TK)`.
//! - Bodies: `nonce(12) || AES-256-GCM(TK, JSON)`, both ways.
//! - Signature: ECDSA P-256/SHA-256, DER, over `encryptedTK || body`, by the client key.
//! - Records: the record key wrapped with the app (or folder) key, the record JSON with the
//!   record key, both standard base64 with padding.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use p256::{PublicKey, SecretKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every key of one fake vault and of the one client it serves.
pub struct Keys {
    pub server: SecretKey,
    pub client: SecretKey,
    pub app_key: [u8; 32],
    pub client_id: String,
}

impl Keys {
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        let mut id = [0u8; 64];
        rng.fill_bytes(&mut id);
        Self {
            server: SecretKey::random(&mut rng),
            client: SecretKey::random(&mut rng),
            app_key: random_key(),
            client_id: STANDARD.encode(id),
        }
    }

    /// The server's public key as the config's `serverPublicKey`: url-safe
    /// base64 without padding of the uncompressed point.
    pub fn server_public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.server.public_key().to_encoded_point(false).as_bytes())
    }

    /// The client's private key as the config's `privateKey`: standard base64
    /// of PKCS#8 DER.
    pub fn client_private_key(&self) -> String {
        let der = self.client.to_pkcs8_der().expect("encode the client key");
        STANDARD.encode(der.as_bytes())
    }

    /// Unwraps the transmission key sent in the `TransmissionKey` header.
    pub fn transmission_key(&self, encrypted: &[u8]) -> Result<[u8; 32], String> {
        if encrypted.len() != 125 {
            return Err(format!(
                "transmission key is {} bytes, not 125",
                encrypted.len()
            ));
        }
        let ephemeral = PublicKey::from_sec1_bytes(&encrypted[..65])
            .map_err(|_| "the ephemeral key is not a P-256 point".to_owned())?;
        let shared =
            p256::ecdh::diffie_hellman(self.server.to_nonzero_scalar(), ephemeral.as_affine());
        let key: [u8; 32] = Sha256::digest(shared.raw_secret_bytes()).into();
        let plain = decrypt(&key, &encrypted[65..])?;
        plain
            .try_into()
            .map_err(|_| "the transmission key is not 32 bytes".to_owned())
    }

    /// Checks the `Authorization: Signature ...` over `encryptedTK || body`.
    pub fn verify(&self, encrypted_tk: &[u8], body: &[u8], signature_der: &[u8]) -> bool {
        let Ok(signature) = Signature::from_der(signature_der) else {
            return false;
        };
        let key = VerifyingKey::from(self.client.public_key());
        let mut message = Vec::with_capacity(encrypted_tk.len() + body.len());
        message.extend_from_slice(encrypted_tk);
        message.extend_from_slice(body);
        key.verify(&message, &signature).is_ok()
    }
}

pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// `nonce(12) || ciphertext || tag(16)`.
pub fn encrypt(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), plain)
        .expect("AES-GCM encryption");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out
}

pub fn decrypt(key: &[u8; 32], data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 12 + 16 {
        return Err("ciphertext too short".into());
    }
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(&data[..12]), &data[12..])
        .map_err(|_| "AES-GCM decryption failed".into())
}

/// Decodes base64 in either alphabet, with or without padding, as the
/// service does for `update_secret`'s `data` (Rust sends url-safe, unpadded).
pub fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    let standard: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .filter(|c| *c != '=')
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(standard)
        .ok()
}
