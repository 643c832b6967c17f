//! Secrets: a value type that never prints itself, and the process-wide
//! redactor that scrubs every known secret from everything the binary writes.
//!
//! Every [`Secret`] registers its value with the redactor when it is made, so
//! even a secret that reaches an error message through a server's echo, a
//! dependency's error text or a panic is replaced by [`REDACTED`] before it
//! is written to stdout or stderr.
//!
//! # Two layers
//!
//! A server-supplied field (a REST API's `message`, a vault error, a remote
//! command's output line) first meets the skeleton comparison
//! ([`echoes_secret`], see the `skeleton` module): when its letters and
//! digits share a run with a secret's, whatever the punctuation, quoting,
//! normalisation or byte dump around them, it is withheld whole
//! ([`WITHHELD`]). Everything else, and every line any binary writes, goes
//! through the exact-form redactor described below.
//!
//! # Why the redactor decodes instead of listing encodings
//!
//! Servers echo a value in more encodings than can be listed: JSON with
//! `\"`, PHP's `\/`, Go's `\u003c`, .NET's upper-case `\u002B`, HTML entities,
//! RFC 3986 `%2A`/`%2a`, `+` for a space, and mixes of these (Go escapes only
//! `<>&`). Listing each secret's forms would need one form per combination.
//! Instead the redactor looks at every output line three ways: as written,
//! with every escape sequence decoded, and decoded twice (a JSON string inside
//! a URL, say). Each decoded character remembers which bytes of the line it
//! came from, so a match found in a decoded view redacts the original bytes.
//! Matching ignores case (a server may upper-case what it echoes) and treats a
//! space, `+` and a no-break space as the same character (form encoding).
//!
//! A few forms are not escapes and are registered as forms of their own:
//! UTF-8 bytes re-read as Latin-1 or Windows-1252 (mojibake), base64 of the
//! value at each of the three byte alignments (so base64 of `anything:value`
//! is found too), and base64 of `login:value` when the login is known (HTTP
//! Basic authentication).
//!
//! # Why any 12 characters of a secret are enough
//!
//! A server may echo a shortened value: the first characters (a truncated
//! prefix), or a window around a parse error. So the redactor matches every
//! 12-character substring of every form, not just prefixes: a substring is as
//! much of a leak as a prefix, and matching substrings costs the same (one
//! hash lookup per position and window length, independent of how many
//! secrets are registered). Twelve characters of a random secret never occur
//! by chance in a log line, while shorter windows would start to hit ordinary
//! words and identifiers. Forms shorter than 12 characters are matched whole.
//! A match is widened to the whole token it sits in (letters, digits, `-`,
//! `_`, `~`), so the few characters around a shortened echo go too.
//!
//! # Why a secret of fewer than 6 characters is matched only as a token
//!
//! A form shorter than [`TOKEN_ONLY_BELOW`] characters (an `oldPassword` of
//! `y`, or `Gat`, and base64 of such a value, `eQ`) occurs inside ordinary
//! words: matched anywhere, `y` would redact every word holding the letter
//! (`you`, `KEEPER_GATEWAY_CONFIG`, the binary's name once widened to its
//! token) and `Gat` would redact `Gateway`, so the messages an
//! administrator must act on would read `[redacted]`. Such a form is
//! matched only where it stands as a token of its own ([`whole_token`]):
//! no letter, digit, `-`, `_` or `~` right before or after it (an end of
//! the value that is itself punctuation needs no boundary), in every view
//! and every encoding. That is how an echo carries a value (quoted, after
//! `=`, between separators); a short value glued into a longer word is not
//! told apart from the word, and a value that short is guessed in a few
//! thousand tries anyway: its secrecy was never in the output. A record's
//! secret strings that short are registered the same way (`records`),
//! and the exact layer's tests hold that six characters (`abcdef` inside
//! `abcdefxyz`) are still matched anywhere. What this means for an
//! administrator is in `docs/concepts/redaction.md`; the harness's leak scan
//! applies the same rule, so a test still fails when such a value is shown
//! as a token.
//!
//! # Why it stays fast
//!
//! Registration stores 64-bit hashes of each form's windows, in a set per
//! window length; a value seen before is not registered again. Redacting a
//! line computes the hashes of every window of at most 12 characters starting
//! at each position of each view: O(line length), whatever the number of
//! secrets. Input parsing registers values through [`try_register`], which
//! refuses more than [`MAX_SECRETS`] values or [`MAX_SECRET_CHARS`]
//! characters, so a hostile input cannot make registration or memory grow
//! without bound.
//!
//! Registering is linear too: each form's windows are hashed and their
//! distinct characters counted rolling, one step per character. A PEM
//! private key's lines are pieces of its body, and so are most of their
//! forms: the body is registered first and each line adds only the
//! windows the body's forms lack (`Table::add_parts`). The skeletons and
//! byte dumps, most of the work for a long token (a 700-character JWT has
//! some 40 000 dump windows), are only needed to check a server-supplied
//! field: they are added when the first field is checked
//! ([`echoes_secret`]), so a run that shows none never computes them.

mod decode;
mod skeleton;
mod table;

#[allow(
    clippy::wildcard_imports,
    reason = "the rooms' own helpers, shared within secret"
)]
use decode::*;
pub use skeleton::{DUMP_WINDOW, Skeletons, TEXT_WINDOW, skeleton};
#[allow(
    clippy::wildcard_imports,
    reason = "the rooms' own helpers, shared within secret"
)]
use table::*;
pub use table::{is_token_char, whole_token};

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{LazyLock, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// What a secret is replaced with in every output.
pub const REDACTED: &str = "[redacted]";

/// What a server-supplied field that may echo a secret is shown as.
pub const WITHHELD: &str = "withheld: it may echo a secret";

/// Characters of a secret that are enough to redact the token they sit in.
pub const WINDOW: usize = 12;

/// Forms of fewer characters are matched only as a whole token (see the
/// module documentation).
pub const TOKEN_ONLY_BELOW: usize = 6;

/// Windows with fewer distinct characters say nothing about a secret
/// (`000000000000` of a token ending in zeros) and would redact identifiers
/// and dates; they are registered only when the whole form has no other.
/// The token widening still covers them next to a match.
pub const MIN_DISTINCT: usize = 4;

/// The most secret values [`try_register`] accepts in one run. A Gateway's
/// records hold a handful.
pub const MAX_SECRETS: usize = 4096;

/// The most characters of secret values [`try_register`] accepts in one run.
pub const MAX_SECRET_CHARS: usize = 256 * 1024;

/// Values read from input ([`try_register`]) whose byte dumps are
/// registered for the skeleton comparison; later ones have their skeleton
/// only.
const MAX_DUMPED_INPUT: usize = 256;

/// Values up to this many characters also have their escaped forms
/// registered as written (see `explicit_forms`).
const MAX_EXPLICIT_SOURCE: usize = 64;

/// Values longer than this are registered as written and as mojibake only:
/// base64 forms are for passwords and tokens, which are short.
const MAX_BASE64_SOURCE: usize = 4096;

/// A password, token, key or client secret.
///
/// `Debug` and `Display` print [`REDACTED`]; the memory is zeroized on drop.
/// The value is reachable only through [`Secret::expose`], at the moment it is
/// sent.
pub struct Secret(SecretString);

impl Secret {
    /// Wraps `value` and registers it with the process-wide redactor.
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        register(&value);
        Self(SecretString::from(value))
    }

    /// The secret value. Call it only where the value leaves the process
    /// (a request body, a header), never to format a message.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Self(SecretString::from(self.expose().to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Why [`try_register`] refused a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany;

impl fmt::Display for TooMany {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "too many secret values (more than {MAX_SECRETS} values or {} KiB)",
            MAX_SECRET_CHARS / 1024
        )
    }
}

impl std::error::Error for TooMany {}

/// The process-wide table every output is scrubbed with.
static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(|| Mutex::new(Table::default()));

fn table() -> std::sync::MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds `value` (and its forms, see the module documentation) to what every
/// output is scrubbed of. Empty values are ignored. Never refuses: use it for
/// values the program itself obtained; input uses [`try_register`].
pub fn register(value: &str) {
    let skeleton = !is_private_key(value);
    table()
        .add_parts(&secret_parts(value), false, skeleton)
        .ok();
}

/// A PEM private key's body is base64 of structured data that shares runs
/// with the public key a rotator prints (OpenSSH embeds it): its skeleton is
/// not registered, only its exact forms.
fn is_private_key(value: &str) -> bool {
    value.contains("-----BEGIN")
}

/// What of a value is secret. A PEM block's armor lines
/// (`-----BEGIN OPENSSH PRIVATE KEY-----`) are public text, and "private
/// key" is ordinary English that messages use: registering them would redact
/// it everywhere. Its base64 lines are the secret: each one, and all of them
/// run together (a key pasted on one line). Any other value is secret whole.
pub fn secret_parts(value: &str) -> Vec<String> {
    if !value.contains("-----BEGIN") {
        return vec![value.to_owned()];
    }
    let body: Vec<&str> = value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
        .collect();
    if body.is_empty() {
        return vec![value.to_owned()];
    }
    let mut parts: Vec<String> = body.iter().map(|l| (*l).to_owned()).collect();
    parts.push(body.concat());
    parts
}

/// Like [`register`], but refuses once [`MAX_SECRETS`] values or
/// [`MAX_SECRET_CHARS`] characters are registered. For values read from
/// input, whose number the input decides.
pub fn try_register(value: &str) -> Result<(), TooMany> {
    let skeleton = !is_private_key(value);
    table().add_parts(&secret_parts(value), true, skeleton)
}

/// Registers `value` and base64 of `login:value`, the form HTTP Basic
/// authentication sends.
pub fn register_with_login(login: &str, value: &str) {
    table().add(value, Some(login), false).ok();
}

/// Returns `text` with every registered secret, in any form, replaced by
/// [`REDACTED`].
pub fn redact(text: &str) -> String {
    table().redact(text)
}

/// Whether `text` shares a run of its skeleton with a registered secret's
/// (see the `skeleton` module): a server-supplied field for which this holds
/// is shown as [`WITHHELD`], never in part.
pub fn echoes_secret(text: &str) -> bool {
    table().skeletons().find(text).is_some()
}

/// `text` (a server's or a remote command's output) with each line that
/// [`echoes_secret`] replaced by `(a line withheld: it may echo a secret)`,
/// then redacted.
pub fn withhold_lines(text: &str) -> String {
    let kept: Vec<String> = text
        .split_inclusive('\n')
        .map(|line| {
            if echoes_secret(line) {
                let end = &line[line.trim_end_matches(['\r', '\n']).len()..];
                format!("(a line {WITHHELD}){end}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    redact(&kept.concat())
}

/// Wipes every registered pattern. Called when a run ends.
pub fn forget_all() {
    *table() = Table::default();
}

/// The redactor, taken without waiting: for the panic hook, which runs
/// before the panicking thread unwinds. A panic inside the redactor (or
/// anything else holding its lock) still holds the lock when the hook runs,
/// and waiting for it there would never end.
pub struct Held(std::sync::MutexGuard<'static, Table>);

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Held(..)")
    }
}

impl Held {
    /// [`redact`], with the lock already held.
    pub fn redact(&self, text: &str) -> String {
        self.0.redact(text)
    }

    /// [`forget_all`], with the lock already held, and held until the
    /// process ends: a thread waiting to redact would otherwise get the
    /// emptied table and print what it meant to redact.
    pub fn forget_all(mut self) {
        *self.0 = Table::default();
        std::mem::forget(self);
    }
}

/// The redactor when its lock can be taken within `patience`, trying
/// without blocking (another thread holding it briefly lets go; the
/// panicking thread itself never does). `None`: nothing may then be
/// printed but fixed text.
pub fn try_hold(patience: std::time::Duration) -> Option<Held> {
    let started = std::time::Instant::now();
    loop {
        match TABLE.try_lock() {
            Ok(guard) => return Some(Held(guard)),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                return Some(Held(poisoned.into_inner()));
            }
            Err(std::sync::TryLockError::WouldBlock) if started.elapsed() < patience => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(std::sync::TryLockError::WouldBlock) => return None,
        }
    }
}

/// Tests only: runs `f` while this thread holds the redactor's lock, as
/// code inside the redactor does.
#[cfg(test)]
pub(crate) fn hold_while_for_test<T>(f: impl FnOnce() -> T) -> T {
    let _held = table();
    f()
}

#[cfg(test)]
mod tests;
