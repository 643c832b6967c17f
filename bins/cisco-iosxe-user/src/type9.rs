//! Cisco's type 9 secret (`$9$<salt>$<hash>`), made here so that the new
//! password never crosses the wire: the device is sent the hash, as
//! `username <name> secret 9 <hash>` would give it.
//!
//! The format, as Cisco describes it: scrypt with N = 2^14, r = 1, p = 1
//! and a 32-byte output, over a 14-character salt taken as its ASCII text,
//! both written in Cisco's base64 alphabet (`./0-9A-Za-z`, no padding). The
//! unit test below holds Cisco's own published example (password `cisco`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use common::error::{Error, Result};
use common::secret::Secret;
use zeroize::Zeroizing;

/// Cisco's base64 alphabet, in the order of the standard one.
const CISCO: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The salt's length in characters.
pub const SALT_CHARS: usize = 14;

/// The type 9 secret of `password` with a fresh random salt, registered for
/// redaction (a hash is what an offline guesser needs).
pub fn hash(password: &Secret) -> Result<Secret> {
    let mut random = [0u8; SALT_CHARS];
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut random)
        .map_err(|_| Error::Failed("no random bytes for the secret's salt".into()))?;
    let salt: String = random
        .iter()
        .map(|b| char::from(CISCO[usize::from(b % 64)]))
        .collect();
    with_salt(password, &salt).map(Secret::new)
}

/// The type 9 secret of `password` with `salt` (14 characters of Cisco's
/// alphabet).
pub fn with_salt(password: &Secret, salt: &str) -> Result<String> {
    let params = scrypt::Params::new(14, 1, 1)
        .map_err(|e| Error::Failed(format!("scrypt parameters: {e}")))?;
    let mut out = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(
        password.expose().as_bytes(),
        salt.as_bytes(),
        &params,
        out.as_mut(),
    )
    .map_err(|e| Error::Failed(format!("scrypt: {e}")))?;
    let encoded: String = STANDARD_NO_PAD
        .encode(out.as_ref())
        .bytes()
        .map(|b| {
            let at = STANDARD.iter().position(|s| *s == b).unwrap_or(0);
            char::from(CISCO[at])
        })
        .collect();
    Ok(format!("$9${salt}${encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_ciscos_own_example_for_the_password_cisco() {
        // `username cisco secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM`
        let hashed = with_salt(&Secret::new("cisco"), "nhEmQVczB7dqsO").unwrap();
        assert_eq!(
            hashed,
            "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM"
        );
    }

    #[test]
    fn every_hash_has_a_fresh_salt_of_ciscos_alphabet() {
        let password = Secret::new("New-IosXe-Passw0rd-2");
        let a = hash(&password).unwrap();
        let b = hash(&password).unwrap();
        assert_ne!(a.expose(), b.expose());
        let salt = &a.expose()[3..3 + SALT_CHARS];
        assert!(salt.bytes().all(|c| CISCO.contains(&c)), "{salt}");
        assert_eq!(a.expose().len(), 3 + SALT_CHARS + 1 + 43);
    }
}
