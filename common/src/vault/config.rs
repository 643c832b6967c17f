//! The Gateway's KSM config: where it is, which of its keys the SDK is given,
//! which of them are secrets.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The environment variable naming the Gateway's KSM config file.
pub const CONFIG_VAR: &str = "KEEPER_GATEWAY_CONFIG";
/// Where the Gateway keeps its KSM config.
pub const DEFAULT_CONFIG: &str = "/etc/keeper-gateway/gateway-config.json";

/// The config keys the SDK knows, less `clientKey` (a one-time binding token:
/// a bound Gateway never needs it, and with it the SDK may try to bind).
const KNOWN_KEYS: [&str; 10] = [
    "clientId",
    "privateKey",
    "appKey",
    "hostname",
    "serverPublicKeyId",
    "serverPublicKey",
    "appOwnerPublicKey",
    "url",
    "bat",
    "bindingKey",
];
/// The config values that are secrets (the others, such as `hostname` and
/// `serverPublicKeyId`, are public and would make the redactor hide ordinary
/// text).
const SECRET_KEYS: [&str; 5] = ["clientId", "privateKey", "appKey", "bat", "bindingKey"];
/// Without these the SDK would attempt a first-time binding.
const REQUIRED_KEYS: [&str; 3] = ["clientId", "privateKey", "appKey"];

/// The Gateway's KSM config, filtered to the keys the SDK knows.
pub struct VaultConfig {
    pub(super) json: Zeroizing<String>,
    pub(super) path: PathBuf,
}

impl std::fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultConfig")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl VaultConfig {
    /// The config path: `KEEPER_GATEWAY_CONFIG`, else the Gateway's default.
    pub fn path() -> PathBuf {
        std::env::var_os(CONFIG_VAR)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_CONFIG), PathBuf::from)
    }

    /// Reads the config at [`VaultConfig::path`].
    pub fn load_default() -> Result<Self> {
        Self::load(&Self::path())
    }

    /// Reads a config file holding JSON or base64 of JSON. The file is never
    /// written.
    pub fn load(path: &Path) -> Result<Self> {
        let shown = path.display();
        let raw = Zeroizing::new(std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Config(format!(
                    "the Gateway's KSM config {shown} does not exist; set {CONFIG_VAR} to its path"
                ))
            } else {
                Error::Config(format!("cannot read the Gateway's KSM config {shown}: {e}"))
            }
        })?);
        warn_if_shared(path);
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim();
        let parsed: Option<Value> = if text.starts_with('{') {
            serde_json::from_str(text).ok()
        } else {
            decode_base64(text).and_then(|bytes| serde_json::from_slice(&bytes).ok())
        };
        let Some(Value::Object(map)) = parsed else {
            return Err(Error::Config(format!(
                "the Gateway's KSM config {shown} is neither a JSON object nor base64 of one"
            )));
        };
        let mut kept = Map::new();
        for key in KNOWN_KEYS {
            if let Some(Value::String(value)) = map.get(key)
                && !value.trim().is_empty()
            {
                if SECRET_KEYS.contains(&key) {
                    crate::secret::register(value);
                }
                kept.insert(key.to_owned(), Value::String(value.clone()));
            }
        }
        let missing: Vec<&str> = REQUIRED_KEYS
            .into_iter()
            .filter(|k| !kept.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Config(format!(
                "the Gateway's KSM config {shown} lacks {}; it must be the config of a bound \
                 Gateway (refusing to run: the SDK would try to bind a new device)",
                missing.join(", ")
            )));
        }
        Ok(Self {
            json: Zeroizing::new(Value::Object(kept).to_string()),
            path: path.to_owned(),
        })
    }
}

/// The config holds the Gateway's private key: warn when anyone but its owner
/// can read it (the SDK's own file storage would refuse such a file).
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the Gateway's KSM config {} is readable or writable by group or others (mode \
                 {mode:03o}); it holds the Gateway's private key: chmod 600 it",
                path.display()
            );
        }
    }
}

fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
        .map(Zeroizing::new)
}
