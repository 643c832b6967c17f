//! The Gateway's input: one line of base64 on stdin, decoding to a JSON object
//! whose `records` key is itself base64 of a JSON array of record dictionaries.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use std::time::Duration;

use crate::deadline::{self, Deadline};
use crate::error::{Error, Location, Result};
use crate::records::{Records, kind};
use crate::secret::{self, Secret};

/// The most the binary reads. A real Gateway line is a few kilobytes; anything
/// past this is refused before it is decoded, so memory stays bounded.
pub const MAX_INPUT_BYTES: u64 = 2 * 1024 * 1024;

/// Standard base64, with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The decoded input of one run.
#[derive(Debug)]
pub struct GatewayInput {
    pub provider_record_uid: Option<String>,
    pub resource_record_uid: Option<String>,
    pub user_record_uid: Option<String>,
    pub user: Option<String>,
    pub new_password: Option<Secret>,
    pub old_password: Option<Secret>,
    pub records: Records,
    /// The line says it is for a dry run only ([`DRY_RUN_ONLY`]): `harness
    /// line` builds one from an export with a made-up `newPassword`.
    pub dry_run_only: bool,
}

/// The fewest characters a new password may have (see
/// [`GatewayInput::require_new_password`]).
pub const MIN_NEW_PASSWORD: usize = secret::TOKEN_ONLY_BELOW;

/// The param `harness line` adds to the lines it builds: their
/// `newPassword` is made up, so a run that is not `--dry-run` is refused
/// (it would set a password no record holds). The Gateway never sends it.
pub const DRY_RUN_ONLY: &str = "keeperRotatorsDryRunOnly";

impl GatewayInput {
    /// Reads the line from stdin (the Gateway's way) or from `file` (for
    /// manual runs), within the default deadline.
    pub fn read(file: Option<&Path>) -> Result<Self> {
        Self::read_within(
            file,
            &Deadline::after(Duration::from_secs(deadline::DEFAULT_SECONDS)),
        )
    }

    /// [`GatewayInput::read`], giving up (exit 2) once `deadline` passes.
    pub fn read_within(file: Option<&Path>, deadline: &Deadline) -> Result<Self> {
        let raw = match file {
            Some(path) => {
                let f = std::fs::File::open(path).map_err(|e| {
                    Error::Input(format!("cannot open --input {}: {e}", path.display()))
                })?;
                read_bounded(f, &format!("--input {}", path.display()))?
            }
            None => {
                let stdin = std::io::stdin();
                if std::io::IsTerminal::is_terminal(&stdin) {
                    return Err(Error::Input(
                        "stdin is a terminal; the Gateway pipes one base64 line into the program. \
                         For a manual run, pipe the line in or pass --input FILE"
                            .into(),
                    ));
                }
                read_bounded(stdin.lock(), "stdin")?
            }
        };
        Self::decode_within(&raw, deadline)
    }

    /// Decodes one Gateway line (surrounding and embedded ASCII white space,
    /// such as a trailing CR/LF or a wrapped line, is ignored), within the
    /// default deadline.
    pub fn decode(line: &[u8]) -> Result<Self> {
        Self::decode_within(
            line,
            &Deadline::after(Duration::from_secs(deadline::DEFAULT_SECONDS)),
        )
    }

    /// [`GatewayInput::decode`], giving up (exit 2) once `deadline` passes.
    pub fn decode_within(line: &[u8], deadline: &Deadline) -> Result<Self> {
        let compact: Zeroizing<Vec<u8>> = Zeroizing::new(
            line.iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
        );
        if compact.is_empty() {
            return Err(Error::Input(
                "no input: expected one line of base64 on stdin (or --input FILE)".into(),
            ));
        }
        let json = decode_base64(&compact, "the input line")?;
        let params: Map<String, Value> = match serde_json::from_slice::<Value>(&json) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(Error::Input(format!(
                    "the decoded line is {}, expected a JSON object",
                    kind(&other)
                )));
            }
            Err(e) => {
                return Err(Error::Input(format!(
                    "the decoded line is not JSON ({})",
                    crate::records::describe_json_error(&e)
                )));
            }
        };
        Self::from_params(params, deadline)
    }

    fn from_params(mut params: Map<String, Value>, deadline: &Deadline) -> Result<Self> {
        let provider_record_uid = take_string(&mut params, "providerRecordUid")?;
        let resource_record_uid = take_string(&mut params, "resourceRecordUid")?;
        let user_record_uid = take_string(&mut params, "userRecordUid")?;
        let user = take_string(&mut params, "user")?;
        let new_password = take_string(&mut params, "newPassword")?.map(Secret::new);
        let old_password = take_string(&mut params, "oldPassword")?.map(Secret::new);
        let dry_run_only = params.remove(DRY_RUN_ONLY) == Some(Value::Bool(true));
        let encoded = take_string(&mut params, "records")?
            .ok_or_else(|| Error::Input("'records' is missing".into()))?;
        let encoded = Zeroizing::new(encoded.into_bytes());
        let records_json = decode_base64(&encoded, "'records'")?;
        let mut records =
            Records::parse_within(&records_json, user_record_uid.as_deref(), deadline)?;
        records.set_pam_record_uids(
            provider_record_uid.as_deref(),
            resource_record_uid.as_deref(),
        );
        // The account's passwords also travel as base64 of `user:password`
        // (HTTP Basic authentication).
        if let Some(user) = user.as_deref().map(str::trim) {
            for password in [&new_password, &old_password].into_iter().flatten() {
                secret::register_with_login(user, password.expose());
            }
        }
        Ok(Self {
            provider_record_uid,
            resource_record_uid,
            user_record_uid,
            user: user.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()),
            new_password: new_password.filter(|p| !p.is_empty()),
            old_password: old_password.filter(|p| !p.is_empty()),
            records,
            dry_run_only,
        })
    }

    pub fn require_user(&self) -> Result<&str> {
        self.user
            .as_deref()
            .ok_or_else(|| Error::missing("user", Location::Params))
    }

    /// The new password of a password rotation. One of fewer than
    /// [`MIN_NEW_PASSWORD`] characters is refused (exit 2, nothing sent):
    /// the Gateway generated it from a password policy that is a mistake
    /// (no service worth rotating takes it), and the redactor would find so
    /// short a value only where it stands as a token
    /// ([`secret::TOKEN_ONLY_BELOW`]). The old password is never refused
    /// for its length: it is what the account has, and rotating it away is
    /// the fix.
    pub fn require_new_password(&self) -> Result<&Secret> {
        let password = self
            .new_password
            .as_ref()
            .ok_or_else(|| Error::missing("newPassword", Location::Params))?;
        let length = password.expose().chars().count();
        if length < MIN_NEW_PASSWORD {
            return Err(Error::invalid(
                "newPassword",
                Location::Params,
                format!(
                    "it has {length} character{}, fewer than {MIN_NEW_PASSWORD}: the Gateway \
                     generates it from the PAM User record's password complexity, which must \
                     ask for more (12 or more is advised); nothing was sent",
                    if length == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(password)
    }

    pub fn require_user_record_uid(&self) -> Result<&str> {
        self.user_record_uid
            .as_deref()
            .ok_or_else(|| Error::missing("userRecordUid", Location::Params))
    }
}

/// Refuses (exit 2, before anything is sent) a `user` that names no account:
/// empty, starting or ending with a blank, holding a control character (it
/// would match nothing, or someone else), or what the service's own `rule`
/// names. `login_is` ends the message: what the PAM User record's login must
/// hold ("the Okta user's full login").
pub fn check_account(
    user: &str,
    rule: impl Fn(&str) -> Option<&'static str>,
    login_is: &str,
) -> Result<()> {
    let problem = if user.trim().is_empty() {
        Some("it is empty")
    } else if user.trim() != user {
        Some("it starts or ends with a blank")
    } else if user
        .chars()
        .any(|c| c.is_control() || crate::log::is_line_separator(c))
    {
        Some("it holds a control character")
    } else {
        rule(user)
    };
    match problem {
        Some(problem) => Err(Error::Invalid {
            name: "user".into(),
            location: Location::Params,
            problem: format!(
                "{problem}; set the PAM User record's login to {login_is} (nothing was sent)"
            ),
        }),
        None => Ok(()),
    }
}

fn read_bounded(source: impl Read, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(8 * 1024));
    source
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Input(format!("cannot read {name}: {e}")))?;
    if buf.len() as u64 > MAX_INPUT_BYTES {
        return Err(Error::Input(format!(
            "{name} holds more than {} MiB; a Gateway line is a few kilobytes",
            MAX_INPUT_BYTES / 1024 / 1024
        )));
    }
    Ok(buf)
}

fn decode_base64(data: &[u8], what: &str) -> Result<Zeroizing<Vec<u8>>> {
    BASE64
        .decode(data)
        .map(Zeroizing::new)
        .map_err(|e| Error::Input(format!("{what} is not base64 ({})", describe_base64(&e))))
}

/// Describes a decoding error by position only: the offending byte could be
/// part of a secret.
fn describe_base64(error: &base64::DecodeError) -> String {
    match error {
        base64::DecodeError::InvalidByte(offset, _) => {
            format!("invalid character at offset {offset}")
        }
        base64::DecodeError::InvalidLength(len) => format!("invalid length {len}"),
        base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("invalid last character at offset {offset}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".into(),
    }
}

/// Removes `key` from the params: a string, or `None` when absent or null.
/// Any other type is an error that names the key but never shows the value.
fn take_string(params: &mut Map<String, Value>, key: &str) -> Result<Option<String>> {
    match params.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::Input(format!(
            "'{key}' is {}, expected a string",
            kind(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(params: &Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(params.to_string())
    }

    fn records_b64(records: &Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(records.to_string())
    }

    #[test]
    fn padded_unpadded_and_crlf_terminated_lines_all_decode() {
        let params = serde_json::json!({
            "user": "alice", "newPassword": "gateway-unit-new-pw", "userRecordUid": "u",
            "records": records_b64(&serde_json::json!([{"uid": "u", "title": "User"}])),
            "somethingNew": {"ignored": true}
        });
        let padded = line(&params);
        let unpadded = padded.trim_end_matches('=').to_owned();
        for text in [
            padded.clone(),
            unpadded,
            format!("{padded}\r\n"),
            format!("  {padded}\n\n"),
        ] {
            let input = GatewayInput::decode(text.as_bytes()).unwrap();
            assert_eq!(input.user.as_deref(), Some("alice"));
            assert_eq!(input.records.user().unwrap().title(), "User");
        }
    }

    #[test]
    fn wrong_types_name_the_key_and_not_the_value() {
        let params = serde_json::json!({"newPassword": 12345678, "records": records_b64(&serde_json::json!([]))});
        let err = GatewayInput::decode(line(&params).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("'newPassword' is a number"), "{err}");
        assert!(!err.contains("12345678"), "{err}");
    }

    #[test]
    fn missing_records_is_an_input_error() {
        let params = serde_json::json!({"user": "a"});
        let err = GatewayInput::decode(line(&params).as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Gateway's input is unusable: 'records' is missing"
        );
    }

    #[test]
    fn an_oversized_input_is_refused_before_decoding() {
        let big = vec![b'A'; (MAX_INPUT_BYTES + 10) as usize];
        let err = read_bounded(&big[..], "stdin").unwrap_err();
        assert!(err.to_string().contains("more than 2 MiB"), "{err}");
    }
}
