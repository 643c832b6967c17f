//! Host-key pins and the host-key algorithms a handshake offers.
//!
//! Kept apart from connecting because the pin rules (which lines a machine
//! record may hold, what matches, which algorithms each pin allows) are pure:
//! they are tested without a server, and the connection only asks them
//! "which algorithm rounds?" and "does this key match?".

use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PublicKey};

/// Accepted host keys, from the machine record's `SSH Host Key` field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostKeyPins {
    pub(super) keys: Vec<PublicKey>,
    pub(super) fingerprints: Vec<String>,
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
    pub(super) fn algorithm_rounds(&self) -> Vec<Vec<Algorithm>> {
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
    pub(super) fn of(key: &PublicKey) -> Self {
        Self {
            line: key_line(key),
            fingerprint: fingerprint_of(key),
        }
    }
}
