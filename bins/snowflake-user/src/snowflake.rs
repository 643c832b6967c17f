//! Snowflake's SQL API as this binary uses it: one statement per request
//! (`POST /api/v2/statements`, the key-pair JWT as a bearer token), an
//! answer that may come later (`202` with a `statementHandle`, polled at
//! `GET /api/v2/statements/{handle}`), and Snowflake's error answers
//! (`code`, `message`, `sqlState`) turned into one clear message. Nothing
//! of a body is shown but those fields, each through [`http::shown`]: a
//! compilation error may quote the statement, which may hold the password.

use std::time::Duration;

use common::error::{Error, Result};
use common::http::{self, Request, Response};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use zeroize::Zeroizing;

/// How long Snowflake may run one statement (seconds), the SQL API's
/// `timeout`.
const STATEMENT_TIMEOUT: u64 = 60;

/// Snowflake's code for "does not exist or not authorized".
pub const NO_SUCH_OBJECT: &str = "002003";

/// The SQL API of one account, signed in as the admin.
#[derive(Debug)]
pub struct SqlApi {
    pub(crate) api: http::Api,
}

/// How a statement ended.
#[derive(Debug)]
pub enum Ran {
    /// It ran: the result's body.
    Done(Value),
    /// Snowflake ran it and it failed: the message naming Snowflake's error.
    Failed { code: String, message: String },
}

impl SqlApi {
    fn statements(&self) -> Url {
        self.api.endpoint(&["api", "v2", "statements"])
    }

    /// A request carrying the token, its type, and `statement`.
    fn request(&self, method: Method, url: Url) -> Result<Request> {
        self.api
            .request(method, url)?
            .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
    }

    /// Runs a statement that changes nothing (`DESC USER`), retried as reads
    /// are, and waits for its result.
    pub(crate) fn read(&self, statement: &str, doing: &str) -> Result<Ran> {
        let request = self
            .request(Method::POST, self.statements())?
            .json_body(body(statement, self.api.client.deadline()));
        let target = request.target();
        let response = self.api.read(&request)?;
        self.ended(&target, &response, doing)
    }

    /// Sends a statement that changes the account once through `client`.
    /// `statement` may hold a secret: it is sent from zeroizing memory.
    pub(crate) fn send_change(
        &self,
        client: &http::Client,
        statement: &Zeroizing<String>,
    ) -> Result<(String, Response)> {
        let request = self
            .request(Method::POST, self.statements())?
            .json_body(body(statement, client.deadline()));
        let target = request.target();
        let response = self.api.send_change(client, &request, |s| {
            s == StatusCode::OK || s == StatusCode::ACCEPTED
        })?;
        Ok((target, response))
    }

    /// What an answer to a statement says: its result (`200`, or `202` and
    /// the result polled), Snowflake's failure of the statement (`422`), or
    /// the error for any other answer.
    pub(crate) fn ended(&self, target: &str, response: &Response, doing: &str) -> Result<Ran> {
        match response.status.as_u16() {
            200 => Ok(Ran::Done(json_of(target, response)?)),
            202 => self.wait(target, response, doing),
            422 => Ok(failed(response)),
            _ => Err(self.refused(target, response, doing)),
        }
    }

    /// Polls a statement Snowflake answered `202` until it ends or the run's
    /// deadline: every poll is a read, retried as reads are.
    fn wait(&self, target: &str, accepted: &Response, doing: &str) -> Result<Ran> {
        let handle = json_of(target, accepted)?
            .get("statementHandle")
            .and_then(Value::as_str)
            .filter(|h| is_handle(h))
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::Failed(format!(
                    "{target}: Snowflake answered 202 (still running) without a statement \
                     handle to follow"
                ))
            })?;
        let url = self.api.endpoint(&["api", "v2", "statements", &handle]);
        let mut pause = Duration::from_millis(100);
        loop {
            let deadline = *self.api.client.deadline();
            if !deadline.allows(pause) {
                return Err(Error::Deadline {
                    target: format!("{target} (statement {handle})"),
                    seconds: deadline.limit_secs(),
                    detail: "; Snowflake had not finished running it".into(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(1));
            let poll = self.request(Method::GET, url.clone())?;
            let response = self.api.read(&poll)?;
            match response.status.as_u16() {
                200 => return Ok(Ran::Done(json_of(target, &response)?)),
                202 => tracing::debug!("statement {handle} still running"),
                // The statement's own failure names its handle; a 422 that
                // does not (a handle Snowflake no longer knows) says nothing
                // of whether it ran.
                422 if names_handle(&response, &handle) => return Ok(failed(&response)),
                _ => return Err(self.refused(&poll.target(), &response, doing)),
            }
        }
    }

    /// A refused request as the error that says what to fix.
    pub(crate) fn refused(&self, target: &str, response: &Response, doing: &str) -> Error {
        let status = response.status.as_u16();
        let advice = match status {
            401 => format!(
                "; Snowflake did not take the key-pair token: check login, privatePEMKey (or \
                 keyPair) and snowflake_account_name in {}: the public key of that private key \
                 must be set on that user (DESC USER shows its RSA_PUBLIC_KEY_FP)",
                self.api.location
            ),
            403 => format!(
                "; the admin user of {} may not do this (its default role needs the OWNERSHIP \
                 of the user, or the global privilege to manage users)",
                self.api.location
            ),
            429 => "; Snowflake's rate limit".into(),
            _ => String::new(),
        };
        Error::Failed(format!(
            "{doing} failed: {target} answered HTTP {status} ({}){advice}",
            error_fields(response)
        ))
    }
}

/// The request's body: one statement, and Snowflake's timeout for it: what
/// is left of the run's time, at most [`STATEMENT_TIMEOUT`], so that
/// Snowflake gives up on the statement before the run reports on it.
/// Written straight into zeroizing memory sized for it (the statement may
/// hold a password; no copy is left behind in a JSON value or a grown
/// buffer).
fn body(statement: &str, deadline: &common::deadline::Deadline) -> Zeroizing<Vec<u8>> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        statement: &'a str,
        timeout: u64,
    }
    let timeout = deadline.remaining().as_secs().clamp(1, STATEMENT_TIMEOUT);
    // JSON escapes a character in at most 6 bytes (`\u001f`).
    let mut out = Zeroizing::new(Vec::with_capacity(6 * statement.len() + 64));
    if serde_json::to_writer(&mut *out, &Body { statement, timeout }).is_err() {
        out.clear();
    }
    out
}

fn json_of(target: &str, response: &Response) -> Result<Value> {
    response
        .json()
        .map_err(|e| Error::Failed(format!("{target}: the answer is not JSON ({e})")))
}

/// Snowflake's failure of a statement (`422`).
fn failed(response: &Response) -> Ran {
    let code = response
        .json::<Value>()
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(http::shown))
        .unwrap_or_default();
    Ran::Failed {
        code,
        message: error_fields(response),
    }
}

/// Snowflake's error fields: `code` and `message` (as every service's),
/// and `sqlState`.
pub(crate) fn error_fields(response: &Response) -> String {
    let mut fields = response.error_fields();
    if let Some(state) = response
        .json::<Value>()
        .ok()
        .and_then(|v| v.get("sqlState").and_then(Value::as_str).map(http::shown))
    {
        fields.push_str(&format!("; sqlState: {state}"));
    }
    fields
}

/// Whether an answer's body names the statement `handle`.
fn names_handle(response: &Response, handle: &str) -> bool {
    response
        .json::<Value>()
        .ok()
        .and_then(|v| {
            v.get("statementHandle")
                .and_then(Value::as_str)
                .map(|h| h == handle)
        })
        .unwrap_or(false)
}

/// A statement handle as Snowflake writes them (a UUID): it goes into the
/// next request's path.
fn is_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= 64
        && handle.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The rows of a `DESC USER` result as (property, value).
pub(crate) fn properties(result: &Value) -> Vec<(String, String)> {
    let column = |name: &str, default: usize| {
        result
            .pointer("/resultSetMetaData/rowType")
            .and_then(Value::as_array)
            .and_then(|cols| {
                cols.iter().position(|c| {
                    c.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
            .unwrap_or(default)
    };
    let (property, value) = (column("property", 0), column("value", 1));
    result
        .get("data")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .filter_map(|row| {
                    let cell = |i: usize| row.get(i).and_then(Value::as_str);
                    Some((
                        cell(property)?.to_owned(),
                        cell(value).unwrap_or("").to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_statement_handle_is_a_uuid_and_nothing_that_could_leave_its_path_segment() {
        assert!(is_handle("01b2c3d4-0000-1234-0000-00000000abcd"));
        for bad in ["", "../x", "a/b", "a?b", &"a".repeat(65)] {
            assert!(!is_handle(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_properties_of_desc_user_are_read_by_the_column_names() {
        let result = json!({
            "resultSetMetaData": {"rowType": [
                {"name": "default"}, {"name": "property"}, {"name": "value"}
            ]},
            "data": [["null", "TYPE", "PERSON"], ["null", "NAME", "BOB"]],
        });
        assert_eq!(
            properties(&result),
            vec![
                ("TYPE".into(), "PERSON".into()),
                ("NAME".into(), "BOB".into())
            ]
        );
    }
}
