//! The user's SSH private key: read it however it was pasted, learn its
//! algorithm, size and format family, make a new one like it, and write the
//! new one in the same family.
//!
//! Why the family matters: the vault's `privatePEMKey` is consumed by other
//! tools (Jenkins' trilead, older SSH.NET, `openssl rsa`) that reject
//! `OPENSSH PRIVATE KEY`. A rotation that silently turned a PKCS#1 key into
//! an OpenSSH one would break them, so the new key is written in the family
//! the old one was in: OpenSSH, PKCS#1 (RSA), SEC1 (ECDSA) or PKCS#8.
//!
//! | family | RSA | ECDSA P-256/384/521 | Ed25519 |
//! |---|---|---|---|
//! | OpenSSH (`OPENSSH PRIVATE KEY`) | yes | yes | yes |
//! | PKCS#1 (`RSA PRIVATE KEY`) | yes | impossible | impossible |
//! | SEC1 (`EC PRIVATE KEY`) | impossible | yes | impossible |
//! | PKCS#8 (`PRIVATE KEY`) | yes | yes | yes |
//!
//! When `Private Key Type` asks for an algorithm the old family cannot hold
//! (a PKCS#1 key rotated to Ed25519), the new key is written as PKCS#8, the
//! PEM family every algorithm has; [`Family::for_type`] says so.
//!
//! Why the normalisation: keys reach the vault pasted onto one line (newlines
//! turned into spaces), with CRLF, or with literal `\n`, and russh's parser
//! reads none of those. The base64 between the markers is re-wrapped first.
//! Encrypted keys are refused (Keeper's documented behaviour): the rotation
//! has no passphrase to decrypt or re-encrypt them with.
//!
//! Private keys are held only in `ssh_key::PrivateKey` (zeroized on drop),
//! `Zeroizing` buffers and [`Secret`]. The parser runs inside
//! [`common::cli::catch_panic`]: one legacy cipher path in russh is
//! `unimplemented!()`.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::deadline::Deadline;
use common::error::{Error, Location, Result};
use common::secret::{self, Secret};
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::KeypairData;
use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PrivateKey, PublicKey};
use zeroize::Zeroizing;

/// The user record's custom field that overrides the new key's algorithm.
pub const TYPE_FIELD: &str = "Private Key Type";
/// The user record's custom field that turns key rotation off (`FALSE`).
pub const ROTATE_FIELD: &str = "Private Key Rotate";
/// Size of an RSA key made from `Private Key Type = ssh-rsa`.
pub const RSA_BITS: u32 = 4096;
/// The smallest RSA key this module makes; a smaller old key is replaced by
/// one of this size (OpenSSH refuses RSA keys under 1024 bits, and the `rsa`
/// crate will not make keys under 2048).
pub const RSA_MIN_BITS: u32 = 2048;

/// How a private key is written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----`
    OpenSsh,
    /// `-----BEGIN RSA PRIVATE KEY-----` (RSA only)
    Pkcs1,
    /// `-----BEGIN EC PRIVATE KEY-----` (ECDSA only)
    Sec1,
    /// `-----BEGIN PRIVATE KEY-----`
    Pkcs8,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Self::OpenSsh => "OPENSSH PRIVATE KEY",
            Self::Pkcs1 => "RSA PRIVATE KEY",
            Self::Sec1 => "EC PRIVATE KEY",
            Self::Pkcs8 => "PRIVATE KEY",
        }
    }

    /// Whether a key of `kind` can be written in this family.
    pub fn holds(self, kind: KeyType) -> bool {
        match self {
            Self::OpenSsh | Self::Pkcs8 => true,
            Self::Pkcs1 => matches!(kind, KeyType::Rsa { .. }),
            Self::Sec1 => matches!(kind, KeyType::Ecdsa(_)),
        }
    }

    /// The family to write a new key of `kind` in: this one, or PKCS#8 when
    /// this one cannot hold that algorithm.
    pub fn for_type(self, kind: KeyType) -> Self {
        if self.holds(kind) { self } else { Self::Pkcs8 }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenSsh => "OpenSSH",
            Self::Pkcs1 => "PKCS#1",
            Self::Sec1 => "SEC1",
            Self::Pkcs8 => "PKCS#8",
        })
    }
}

/// An algorithm and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa { bits: u32 },
    Ecdsa(EcdsaCurve),
    Ed25519,
}

impl KeyType {
    /// Reads `Private Key Type`: `ssh-rsa` (4096 bits),
    /// `ecdsa-sha2-nistp256|384|521`, `ssh-ed25519` (and Keeper's documented
    /// typo `ssh-ed2551`), any case.
    pub fn from_field(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ssh-rsa" => Some(Self::Rsa { bits: RSA_BITS }),
            "ecdsa-sha2-nistp256" => Some(Self::Ecdsa(EcdsaCurve::NistP256)),
            "ecdsa-sha2-nistp384" => Some(Self::Ecdsa(EcdsaCurve::NistP384)),
            "ecdsa-sha2-nistp521" => Some(Self::Ecdsa(EcdsaCurve::NistP521)),
            "ssh-ed25519" | "ssh-ed2551" => Some(Self::Ed25519),
            _ => None,
        }
    }

    /// The type of an existing key (`None` for DSA, security keys and other
    /// algorithms this module does not make).
    pub fn of(key: &PrivateKey) -> Option<Self> {
        match key.key_data() {
            KeypairData::Rsa(rsa) => Some(Self::Rsa {
                bits: rsa.key_size(),
            }),
            KeypairData::Ecdsa(ec) => Some(Self::Ecdsa(ec.curve())),
            KeypairData::Ed25519(_) => Some(Self::Ed25519),
            _ => None,
        }
    }

    /// The OpenSSH name, e.g. `ecdsa-sha2-nistp384`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa { .. } => "ssh-rsa",
            Self::Ecdsa(EcdsaCurve::NistP256) => "ecdsa-sha2-nistp256",
            Self::Ecdsa(EcdsaCurve::NistP384) => "ecdsa-sha2-nistp384",
            Self::Ecdsa(EcdsaCurve::NistP521) => "ecdsa-sha2-nistp521",
            Self::Ed25519 => "ssh-ed25519",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "ssh-rsa ({bits} bits)"),
            other => f.write_str(other.name()),
        }
    }
}

/// A private key read from a record, with the family it was written in.
pub struct ParsedKey {
    pub key: PrivateKey,
    pub family: Family,
}

impl ParsedKey {
    pub fn kind(&self) -> Option<KeyType> {
        KeyType::of(&self.key)
    }

    /// The public key as an OpenSSH line without comment.
    pub fn public_line(&self) -> Result<String> {
        public_line(self.key.public_key(), "")
    }

    /// The key for russh's authentication.
    pub fn shared(&self) -> Arc<PrivateKey> {
        Arc::new(self.key.clone())
    }
}

impl fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("algorithm", &self.key.algorithm().as_str())
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// Why a key could not be read. Messages name no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    Encrypted,
    Unsupported(String),
    Malformed(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encrypted => f.write_str(
                "password-encrypted PEM is not supported: store the key without a passphrase \
                 (e.g. ssh-keygen -p -N '' -f KEY, or openssl pkey -in KEY -out KEY.plain)",
            ),
            Self::Unsupported(what) => write!(f, "{what}"),
            Self::Malformed(what) => write!(f, "not a readable private key: {what}"),
        }
    }
}

/// A PEM block, its body still base64 (whitespace removed).
struct Pem {
    label: String,
    body: Zeroizing<String>,
}

impl Pem {
    /// The block as PEM text: LF endings, 64-column body (70 for OpenSSH, as
    /// ssh-keygen writes it), trailing newline.
    fn text(&self) -> Zeroizing<String> {
        let width = if self.label == Family::OpenSsh.label() {
            70
        } else {
            64
        };
        wrap(&self.label, self.body.as_bytes(), width)
    }
}

fn wrap(label: &str, body: &[u8], width: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(
        body.len() + body.len() / width + 2 * label.len() + 40,
    ));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in body.chunks(width) {
        // base64 is ASCII.
        out.extend(line.iter().map(|&b| char::from(b)));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Finds the first PEM block in `text`, however it was pasted.
fn normalise(text: &str) -> Result<Pem, KeyError> {
    let mut clean = Zeroizing::new(text.replace("\\r\\n", "\n").replace("\\n", "\n"));
    if clean.contains('\r') {
        clean = Zeroizing::new(clean.replace('\r', "\n"));
    }
    if clean.trim_start().starts_with("PuTTY-User-Key-File-") {
        return Err(KeyError::Unsupported(
            "PuTTY key files are not supported: export the key in OpenSSH or PEM format \
             (puttygen KEY.ppk -O private-openssh -o KEY)"
                .into(),
        ));
    }
    let Some(begin) = clean.find("-----BEGIN ") else {
        return Err(KeyError::Malformed(
            "no '-----BEGIN ... PRIVATE KEY-----' line".into(),
        ));
    };
    let after_begin = &clean[begin + "-----BEGIN ".len()..];
    let Some(label_end) = after_begin.find("-----") else {
        return Err(KeyError::Malformed("the BEGIN line is cut off".into()));
    };
    let label: String = after_begin[..label_end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let rest = &after_begin[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let Some(end) = find_end(rest, &label) else {
        return Err(KeyError::Malformed(format!("no '{end_marker}' line")));
    };
    let inner = &rest[..end];
    if label.contains("ENCRYPTED") || inner.contains("Proc-Type:") || inner.contains("DEK-Info:") {
        return Err(KeyError::Encrypted);
    }
    if !label.ends_with("PRIVATE KEY") {
        return Err(KeyError::Malformed(format!(
            "'{label}' is not a private key"
        )));
    }
    let mut body = Zeroizing::new(String::with_capacity(inner.len()));
    for c in inner.chars().filter(|c| !c.is_whitespace()) {
        if !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')) {
            return Err(KeyError::Malformed(
                "the text between the BEGIN and END lines is not base64".into(),
            ));
        }
        body.push(c);
    }
    if body.is_empty() {
        return Err(KeyError::Malformed("the key body is empty".into()));
    }
    Ok(Pem { label, body })
}

/// The END marker for `label`, tolerating white space inside the label (a
/// one-line paste may have doubled spaces).
fn find_end(rest: &str, label: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = rest[from..].find("-----END ") {
        let start = from + at;
        let after = &rest[start + "-----END ".len()..];
        if let Some(close) = after.find("-----") {
            let found: String = after[..close]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if found == label {
                return Some(start);
            }
        }
        from = start + 1;
    }
    None
}

/// Reads a private key pasted in any of the ways the module doc lists.
pub fn parse(text: &str) -> Result<ParsedKey, KeyError> {
    let pem = normalise(text)?;
    let family = match pem.label.as_str() {
        "OPENSSH PRIVATE KEY" => Family::OpenSsh,
        "RSA PRIVATE KEY" => Family::Pkcs1,
        "EC PRIVATE KEY" => Family::Sec1,
        "PRIVATE KEY" => Family::Pkcs8,
        "DSA PRIVATE KEY" => {
            return Err(KeyError::Unsupported(
                "DSA keys are not supported (OpenSSH disabled them): set 'Private Key Type' \
                 and rotate from a supported key"
                    .into(),
            ));
        }
        other => {
            return Err(KeyError::Unsupported(format!(
                "'{other}' keys are not supported; use OpenSSH, PKCS#1, SEC1 or PKCS#8"
            )));
        }
    };
    let pem_text = pem.text();
    let decoded = common::cli::catch_panic(|| russh::keys::decode_secret_key(&pem_text, None))
        .map_err(|at| KeyError::Malformed(format!("the key parser crashed at {at}")))?;
    let key = match decoded {
        Ok(key) => key,
        Err(russh::keys::Error::KeyIsEncrypted) => return Err(KeyError::Encrypted),
        Err(e) => return Err(KeyError::Malformed(describe_error(&e))),
    };
    if key.is_encrypted() {
        return Err(KeyError::Encrypted);
    }
    if KeyType::of(&key).is_none() {
        return Err(KeyError::Unsupported(format!(
            "{} keys are not supported; set 'Private Key Type' to ssh-ed25519, ecdsa-sha2-nistp256 \
             or ssh-rsa",
            key.algorithm().as_str()
        )));
    }
    Ok(ParsedKey { key, family })
}

/// A russh key error in words that hold no key material.
fn describe_error(error: &russh::keys::Error) -> String {
    match error {
        russh::keys::Error::UnsupportedKeyType {
            key_type_string, ..
        } => format!("unsupported key type {key_type_string}"),
        russh::keys::Error::UnknownAlgorithm(oid) => format!("unknown key algorithm {oid}"),
        _ => "the key data is corrupt or truncated".into(),
    }
}

/// [`parse`] for a record field: a bad key is exit 2 naming the field.
pub fn parse_field(value: &Secret, field: &str, location: &Location) -> Result<ParsedKey> {
    parse(value.expose()).map_err(|e| Error::invalid(field, location.clone(), e.to_string()))
}

/// The type of the new key: `Private Key Type` when set, else the old
/// key's type (RSA at least [`RSA_MIN_BITS`]).
pub fn new_key_type(old: Option<KeyType>, type_field: Option<&str>) -> Option<KeyType> {
    if let Some(text) = type_field.map(str::trim).filter(|t| !t.is_empty()) {
        return KeyType::from_field(text);
    }
    old.map(|kind| match kind {
        KeyType::Rsa { bits } => KeyType::Rsa {
            bits: bits.max(RSA_MIN_BITS),
        },
        other => other,
    })
}

/// [`generate`] on a thread of its own, given at most half the time the
/// run has left (the rest is for storing, checking and cleaning up). Why:
/// the new key keeps the old one's size, and making an RSA key grows with
/// about the fourth power of its size (4096 bits: about a second; 8192:
/// tens of seconds; 16384: minutes), so an unusually large record key must
/// not carry the run past its deadline. Too slow: nothing was changed.
pub fn generate_within(kind: KeyType, comment: &str, deadline: Deadline) -> Result<PrivateKey> {
    let budget = deadline.remaining() / 2;
    let (tx, rx) = std::sync::mpsc::channel();
    let comment_owned = comment.to_owned();
    std::thread::Builder::new()
        .name("keygen".into())
        .spawn(move || {
            let _ = tx.send(generate(kind, &comment_owned));
        })
        .map_err(|e| Error::Failed(format!("cannot start making a new {kind} key: {e}")))?;
    rx.recv_timeout(budget).unwrap_or_else(|e| match e {
        std::sync::mpsc::RecvTimeoutError::Disconnected => Err(Error::Failed(format!(
            "making a new {kind} key failed (the key maker stopped); nothing was changed"
        ))),
        std::sync::mpsc::RecvTimeoutError::Timeout => Err(Error::Failed(format!(
            "making a new {kind} key took longer than half the time left ({} s), so nothing was \
             changed: set '{TYPE_FIELD}' to ssh-rsa (4096 bits) or ssh-ed25519, or raise \
             --timeout",
            budget.as_secs()
        ))),
    })
}

/// Makes a new key. RSA-4096 takes about a second; run it off the async
/// runtime.
pub fn generate(kind: KeyType, comment: &str) -> Result<PrivateKey> {
    let mut rng = russh::keys::key::safe_rng();
    let made = match kind {
        KeyType::Rsa { bits } => {
            let bits = usize::try_from(bits.max(RSA_MIN_BITS)).unwrap_or(4096);
            russh::keys::ssh_key::private::RsaKeypair::random(&mut rng, bits)
                .and_then(|pair| PrivateKey::new(KeypairData::Rsa(pair), comment))
        }
        KeyType::Ecdsa(curve) => PrivateKey::random(&mut rng, Algorithm::Ecdsa { curve }),
        KeyType::Ed25519 => PrivateKey::random(&mut rng, Algorithm::Ed25519),
    };
    let mut key = made.map_err(|e| Error::Failed(format!("cannot make a new {kind} key: {e}")))?;
    key.set_comment(comment);
    Ok(key)
}

/// Writes `key` in `family`: LF endings, trailing newline, never
/// encrypted. The text is a [`Secret`]; each of its base64 lines is also
/// registered with the redactor, so a fragment never prints either.
pub fn encode(key: &PrivateKey, family: Family) -> Result<Secret> {
    let kind = KeyType::of(key)
        .ok_or_else(|| Error::Failed("cannot write a key of an unsupported algorithm".into()))?;
    if !family.holds(kind) {
        return Err(Error::Failed(format!(
            "a {kind} key cannot be written as {family}"
        )));
    }
    let failed =
        |e: &dyn fmt::Display| Error::Failed(format!("cannot write the new key as {family}: {e}"));
    let text: Zeroizing<String> = match family {
        Family::OpenSsh => key.to_openssh(LineEnding::LF).map_err(|e| failed(&e))?,
        Family::Pkcs8 => {
            let der =
                Zeroizing::new(russh::keys::pkcs8::encode_pkcs8(key).map_err(|e| failed(&e))?);
            pem(family, &der)
        }
        Family::Pkcs1 => {
            let der =
                Zeroizing::new(russh::keys::pkcs8::encode_pkcs8(key).map_err(|e| failed(&e))?);
            let inner = der::pkcs8_private_key(&der)
                .ok_or_else(|| failed(&"the PKCS#8 structure was not as expected"))?;
            pem(family, inner)
        }
        Family::Sec1 => {
            let KeypairData::Ecdsa(pair) = key.key_data() else {
                return Err(failed(&"not an ECDSA key"));
            };
            let der = der::sec1(
                pair.curve(),
                pair.private_key_bytes(),
                pair.public_key_bytes(),
            );
            pem(family, &der)
        }
    };
    register_lines(&text);
    Ok(Secret::new(text.as_str()))
}

fn pem(family: Family, der: &[u8]) -> Zeroizing<String> {
    let mut body = Zeroizing::new(String::with_capacity(der.len() * 4 / 3 + 4));
    STANDARD.encode_string(der, &mut body);
    wrap(family.label(), body.as_bytes(), 64)
}

fn register_lines(text: &str) {
    for line in text
        .lines()
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
    {
        secret::register(line);
    }
}

/// The public key as one OpenSSH line: `type base64 [comment]`.
pub fn public_line(key: &PublicKey, comment: &str) -> Result<String> {
    let mut key = key.clone();
    key.set_comment(comment);
    key.to_openssh()
        .map_err(|e| Error::Failed(format!("cannot write the public key: {e}")))
}

/// The key's SHA-256 fingerprint, `SHA256:...`.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The fingerprint of the public half of a private key as a record holds
/// it, and whether the key is encrypted: an OpenSSH key keeps its public
/// half in the clear even when encrypted, so a record holding a key being
/// retired is recognised either way. `None` when it does not read as one.
pub fn held_fingerprint(text: &str) -> Option<(String, bool)> {
    if let Ok(parsed) = parse(text) {
        return Some((fingerprint(parsed.key.public_key()), false));
    }
    let pem = normalise(text).ok()?;
    if pem.label != "OPENSSH PRIVATE KEY" {
        return None;
    }
    let pem_text = pem.text();
    let key = common::cli::catch_panic(|| {
        russh::keys::ssh_key::PrivateKey::from_openssh(pem_text.as_bytes()).ok()
    })
    .ok()
    .flatten()?;
    Some((fingerprint(key.public_key()), key.is_encrypted()))
}

/// The minimal DER this module writes itself.
mod der {
    use russh::keys::EcdsaCurve;
    use zeroize::Zeroizing;

    /// Reads one TLV: (tag, content, rest).
    fn tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// The `privateKey` OCTET STRING of a PKCS#8 PrivateKeyInfo: for RSA,
    /// exactly the PKCS#1 RSAPrivateKey.
    pub fn pkcs8_private_key(der: &[u8]) -> Option<&[u8]> {
        let (tag, info, _) = tlv(der)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, _version, rest) = tlv(info)?;
        if tag != 0x02 {
            return None;
        }
        let (tag, _algorithm, rest) = tlv(rest)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, key, _) = tlv(rest)?;
        (tag == 0x04).then_some(key)
    }

    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap_or(0));
        } else if len < 0x100 {
            out.push(0x81);
            out.push(u8::try_from(len).unwrap_or(0));
        } else {
            out.push(0x82);
            out.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
        }
    }

    fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
        out.push(tag);
        push_len(out, content.len());
        out.extend_from_slice(content);
    }

    /// RFC 5915 ECPrivateKey with the named curve and the public key, as
    /// `openssl ec` writes it.
    pub fn sec1(curve: EcdsaCurve, private: &[u8], public: &[u8]) -> Zeroizing<Vec<u8>> {
        let oid: &[u8] = match curve {
            EcdsaCurve::NistP256 => &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            EcdsaCurve::NistP384 => &[0x2b, 0x81, 0x04, 0x00, 0x22],
            EcdsaCurve::NistP521 => &[0x2b, 0x81, 0x04, 0x00, 0x23],
        };
        let mut inner = Zeroizing::new(Vec::with_capacity(private.len() + public.len() + 32));
        push_tlv(&mut inner, 0x02, &[0x01]);
        push_tlv(&mut inner, 0x04, private);
        let mut params = Vec::new();
        push_tlv(&mut params, 0x06, oid);
        push_tlv(&mut inner, 0xa0, &params);
        let mut bits = Vec::with_capacity(public.len() + 1);
        bits.push(0x00);
        bits.extend_from_slice(public);
        let mut bitstring = Vec::new();
        push_tlv(&mut bitstring, 0x03, &bits);
        push_tlv(&mut inner, 0xa1, &bitstring);
        let mut out = Zeroizing::new(Vec::with_capacity(inner.len() + 4));
        push_tlv(&mut out, 0x30, &inner);
        out
    }
}

#[cfg(test)]
mod tests;
