//! Key-pair sign-in to Snowflake: the admin record's RSA private key, its
//! public key's fingerprint, and the JWT the SQL API takes as a bearer
//! token (`X-Snowflake-Authorization-Token-Type: KEYPAIR_JWT`).
//!
//! As Snowflake documents it: RS256; `iss` is
//! `<ACCOUNT>.<USER>.SHA256:<fingerprint>` and `sub` is `<ACCOUNT>.<USER>`,
//! the account identifier and the user name upper-cased, the account without
//! any region (`xy12345.us-east-1` signs as `XY12345`); the fingerprint is
//! base64 of the SHA-256 of the public key's DER (SubjectPublicKeyInfo),
//! the value `DESC USER` shows as `RSA_PUBLIC_KEY_FP`; `iat` now and `exp`
//! at most an hour later.

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::secret::Secret;
use zeroize::Zeroizing;

/// The longest a token may be valid: under Snowflake's hour. A run asks for
/// less ([`lifetime`]): the token is the admin's bearer credential, and it
/// should not outlive the run that made it by more than clock skew.
pub const LIFETIME_SECONDS: u64 = 59 * 60;

/// A token's lifetime for a run with `remaining` time left: that, plus a
/// minute for the clocks of the gateway and Snowflake to differ, at most
/// [`LIFETIME_SECONDS`].
pub fn lifetime(remaining: std::time::Duration) -> u64 {
    (remaining.as_secs() + 60).min(LIFETIME_SECONDS)
}

/// An RSA private key read from a record, and its public key's fingerprint.
pub struct PrivateKey {
    key: KeyPair,
    /// `SHA256:<base64>`, as `DESC USER` shows `RSA_PUBLIC_KEY_FP`.
    pub fingerprint: String,
    /// The public key, base64 of its DER (what `RSA_PUBLIC_KEY` is set to).
    pub public_key: String,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, what
    /// Snowflake's instructions produce) or PKCS#1 (`BEGIN RSA PRIVATE
    /// KEY`), or the base64 of either without its armor lines. An encrypted
    /// key is refused: no passphrase field is read. The error says what is
    /// wrong, never a piece of the key.
    pub fn from_pem(pem: &Secret) -> Result<Self, &'static str> {
        let text = pem.expose().trim();
        let (label, body) = match text.strip_prefix("-----BEGIN ") {
            Some(rest) => {
                let (label, rest) = rest
                    .split_once("-----")
                    .ok_or("its BEGIN line is not a PEM armor line")?;
                let end = format!("-----END {label}-----");
                let (body, _) = rest
                    .split_once(end.as_str())
                    .ok_or("it has no END line matching its BEGIN line")?;
                (label, body)
            }
            None => ("", text),
        };
        match label {
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "" => {}
            "ENCRYPTED PRIVATE KEY" => {
                return Err(
                    "it is encrypted; store the key unencrypted (openssl pkcs8 -topk8 \
                            -nocrypt) in the record, which the vault protects",
                );
            }
            _ => {
                return Err(
                    "it is not an RSA private key (PEM 'PRIVATE KEY' or 'RSA PRIVATE KEY')",
                );
            }
        }
        let compact: Zeroizing<String> =
            Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
        let der = Zeroizing::new(
            STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| "its body is not base64")?,
        );
        let key = match label {
            "RSA PRIVATE KEY" => KeyPair::from_der(&der),
            "PRIVATE KEY" => KeyPair::from_pkcs8(&der),
            _ => KeyPair::from_pkcs8(&der).or_else(|_| KeyPair::from_der(&der)),
        }
        .map_err(|_| "it is not an RSA private key of 2048 to 8192 bits")?;
        Self::new(key)
    }

    /// A new 2048-bit key.
    pub fn generate() -> Result<Self, &'static str> {
        let key = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| "the RSA key could not be generated")?;
        Self::new(key)
    }

    fn new(key: KeyPair) -> Result<Self, &'static str> {
        let der: PublicKeyX509Der<'static> = key
            .public_key()
            .as_der()
            .map_err(|_| "its public key cannot be encoded")?;
        Ok(Self {
            fingerprint: fingerprint(der.as_ref()),
            public_key: STANDARD.encode(der.as_ref()),
            key,
        })
    }

    /// The private key as PKCS#8 PEM, registered as a secret.
    pub fn to_pem(&self) -> Result<Secret, &'static str> {
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'static>>::as_der(&self.key)
            .map_err(|_| "the private key cannot be encoded")?;
        let body = Zeroizing::new(STANDARD.encode(der.as_ref()));
        // Sized once: a String that grows leaves copies of the key behind,
        // freed without being zeroed.
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(Secret::new(pem))
    }

    /// A key-pair JWT for `user` of `account`, issued at `now` (seconds
    /// since the epoch), registered as a secret.
    pub fn token(
        &self,
        account: &str,
        user: &str,
        now: u64,
        lifetime: u64,
    ) -> Result<Secret, &'static str> {
        let subject = format!("{}.{}", claim_account(account), user.to_uppercase());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": format!("{subject}.{}", self.fingerprint),
            "sub": subject,
            "iat": now,
            "exp": now + lifetime.min(LIFETIME_SECONDS),
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "the token could not be signed")?;
        let token = Zeroizing::new(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)));
        Ok(Secret::new(token.as_str()))
    }
}

/// `SHA256:` and base64 of the SHA-256 of a public key's DER.
pub fn fingerprint(spki_der: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, spki_der);
    format!("SHA256:{}", STANDARD.encode(hash.as_ref()))
}

/// The account as the claims name it: upper-cased, without the region and
/// cloud a locator may carry (`xy12345.us-east-1.aws` is `XY12345`).
pub fn claim_account(account: &str) -> String {
    account.split('.').next().unwrap_or_default().to_uppercase()
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known answer: an RSA 2048 public key (SPKI DER, base64) made with
    /// `openssl genpkey`, and its fingerprint computed apart from this code:
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary |
    /// base64`.
    #[test]
    fn the_fingerprint_of_a_known_public_key_is_the_one_openssl_computes() {
        let spki = concat!(
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzXdBwjVj2/oPNDbE/dPZ",
            "dHSx4m6IV5JpeQCFx8PUcwsU4EzG0slmBKhe0glrUhwSXNuLjjQIPkgjN4RR+D5z",
            "iXYuxx5UtIkf1ZGnL9xchxrKxlyJN7cZoG3ez1hcxhx5azN9klSw7j5zCQbX6CBS",
            "7S+8jpxKvpB0ne131LLKGOCb9Wlkd990zYcBLviIt3Izl3ZMYlR+vRZ+bR6p4Pmg",
            "fIN4XsyXCuUlLzMa73apyKW9y2gYweECrCKt3HaL+j1Bljv/3r5h1C1g1D/peN/2",
            "EAHQLduT3PsQjCdCN/jf/ZePtoXJoX5R1biefmHVK4+/VzG5dGqmfSKOeY+ft9HD",
            "LwIDAQAB",
        );
        let der = STANDARD.decode(spki).expect("base64");
        assert_eq!(
            fingerprint(&der),
            "SHA256:nZV3opCkZtMo6Hn+mKMgOga/A60u6tVvMBQ9H4vtWdM="
        );
    }

    #[test]
    fn the_claims_name_the_account_without_its_region_and_the_user_upper_cased() {
        let key = PrivateKey::generate().expect("a key");
        let token = key
            .token(
                "xy12345.us-east-1",
                "svc.Admin",
                1_700_000_000,
                LIFETIME_SECONDS,
            )
            .expect("t");
        let claims = token.expose().split('.').nth(1).expect("claims");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("b64")).expect("json");
        // The user name keeps its dot: the claims split on the last dots.
        assert_eq!(claims["sub"], "XY12345.SVC.ADMIN");
        assert_eq!(
            claims["iss"],
            format!("XY12345.SVC.ADMIN.{}", key.fingerprint)
        );
        assert_eq!(claims["exp"], 1_700_000_000 + LIFETIME_SECONDS);
        assert_eq!(lifetime(std::time::Duration::from_secs(30)), 90);
        assert_eq!(
            lifetime(std::time::Duration::from_secs(86_400)),
            LIFETIME_SECONDS
        );
    }

    #[test]
    fn a_key_reads_back_from_its_pem_with_the_same_fingerprint() {
        let key = PrivateKey::generate().expect("a key");
        let again = PrivateKey::from_pem(&key.to_pem().expect("pem")).expect("read");
        assert_eq!(again.fingerprint, key.fingerprint);
        assert!(key.fingerprint.starts_with("SHA256:"));
    }

    #[test]
    fn what_is_no_usable_private_key_is_refused() {
        for bad in [
            "not a key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ] {
            assert!(PrivateKey::from_pem(&Secret::new(bad)).is_err(), "{bad:?}");
        }
    }
}
