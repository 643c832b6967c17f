//! The fake vault's wire: one TLS connection's requests read, decrypted,
//! checked (transmission key, signature, client id) and answered, with the
//! [`Fault`] the engine planned for each applied as the vault's wire shows
//! it (a hang-up, a late save, a half answer, a load balancer's error).
//!
//! Why apart: the protocol and the faults are the part that changes when
//! the SDK or the fault vocabulary does; the records (`store.rs`) do not.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::crypto::{decrypt, encrypt};
use super::fault::Fault;
use super::store::{Others, Reply, Shared, error, lock};
use crate::faults::http::{self, Message};
use crate::faults::wait_open;

pub(super) async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    shared: Arc<Shared>,
) {
    loop {
        // Going down closes idle keep-alive connections too, so the client's
        // next request needs a new connection, and that is refused.
        let request = tokio::select! {
            request = http::read_request(&mut stream) => request.ok().flatten(),
            () = shared.engine.shutter().wait_close() => None,
        };
        let Some(request) = request else {
            let _ = stream.shutdown().await;
            return;
        };
        let method = request.start[0].as_str();
        let path = request.start[1].as_str();
        if method != "POST" {
            // Not an API call (every SDK call is a POST): answered like a
            // web server, with the vault's `Date`, outside the call log.
            if shared.engine.is_down() {
                return;
            }
            let date = {
                let mut state = lock(&shared);
                state.other_requests.push(format!("{method} {path}"));
                match &state.others {
                    Others::Answer => Ok(Some(state.date())),
                    Others::Date(date) => Ok(date.clone()),
                    other => Err(other.clone()),
                }
            };
            let date = match date {
                Ok(date) => date,
                Err(Others::Hold) => {
                    std::future::pending::<()>().await;
                    return;
                }
                Err(_) => {
                    let _ = stream.shutdown().await;
                    return;
                }
            };
            let date = date.map(|d| format!("Date: {d}\r\n")).unwrap_or_default();
            let answer = format!("HTTP/1.1 404 Not Found\r\n{date}Content-Length: 0\r\n\r\n");
            if stream.write_all(answer.as_bytes()).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            continue;
        }
        let endpoint = path.rsplit('/').next().unwrap_or_default();
        let Some(mut plan) = shared.engine.plan(endpoint) else {
            return;
        };
        lock(&shared).wire.extend_from_slice(&request.bytes());
        if plan.close_after {
            shared.engine.shutter().close().await;
        }
        match &plan.fault {
            Some(Fault::Delay(delay) | Fault::LateApply(delay)) => {
                tokio::time::sleep(*delay).await;
            }
            Some(Fault::Refused) => {
                shared.engine.shutter().close().await;
                return;
            }
            _ => {}
        }
        let (mut reply, tk) = handle(
            &shared,
            &request,
            plan.index,
            &plan.call,
            plan.fault.as_ref(),
        );
        plan.settle();
        match &plan.fault {
            Some(Fault::DropAfterApply) => return,
            Some(Fault::ApplyThenHold(hold)) => {
                tokio::time::sleep(*hold).await;
                return;
            }
            Some(Fault::ApplyThenError(status)) => reply = load_balancer_error(*status),
            _ => {}
        }
        if let Some(gate) = plan.gate {
            wait_open(gate).await;
        }
        let (status, body) = match reply {
            Reply::Hangup => return,
            Reply::Empty => (200, Vec::new()),
            Reply::Encrypted(json) => {
                let plain = serde_json::to_vec(&json).unwrap_or_default();
                (200, tk.map_or(plain.clone(), |tk| encrypt(&tk, &plain)))
            }
            Reply::Plain(status, text) => (status, text.into_bytes()),
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Internal Server Error",
        };
        let content_type = if status == 200 {
            "application/octet-stream"
        } else {
            "application/json"
        };
        let closing = if plan.close_after {
            "Connection: close\r\n"
        } else {
            ""
        };
        let date = lock(&shared).date();
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\nDate: {date}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{closing}\r\n",
            body.len()
        )
        .into_bytes();
        let truncated = matches!(plan.fault, Some(Fault::Truncated)) && status == 200;
        if truncated {
            response = http::cut(&response, &body);
        } else {
            response.extend_from_slice(&body);
        }
        lock(&shared).wire.extend_from_slice(&response);
        // Recorded before the client can see it, so whoever saw the answer
        // finds it recorded; taken back if it could not be sent.
        shared.engine.set_status(plan.index, Some(status));
        let sent = stream.write_all(&response).await.is_ok() && stream.flush().await.is_ok();
        if !sent {
            shared.engine.set_status(plan.index, None);
        }
        if !sent || truncated || plan.close_after {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// A load balancer's answer in front of a server that did the work but
/// whose answer the balancer lost.
fn load_balancer_error(status: u16) -> Reply {
    Reply::Plain(
        status,
        json!({
            "error": "upstream_error",
            "message": format!("The load balancer lost the server's answer (HTTP {status}); the request may have been applied."),
        })
        .to_string(),
    )
}

/// Decrypts and dispatches one request. Returns the reply and the
/// transmission key to encrypt it with.
fn handle(
    shared: &Shared,
    request: &Message,
    index: usize,
    endpoint: &str,
    fault: Option<&Fault>,
) -> (Reply, Option<[u8; 32]>) {
    match fault {
        Some(Fault::Throttle { retry_after }) => {
            let body = json!({"error": "throttled", "retry_after": retry_after});
            return (Reply::Plain(403, body.to_string()), None);
        }
        Some(Fault::ServerError) => {
            return (
                error(500, "internal_error", "The server had an internal error"),
                None,
            );
        }
        Some(Fault::NotJson) => {
            return (Reply::Plain(500, "upstream exploded".into()), None);
        }
        Some(Fault::Drop) => return (Reply::Hangup, None),
        _ => {}
    }
    let mut state = lock(shared);
    let decoded = (|| {
        let encrypted_tk = STANDARD.decode(request.header("TransmissionKey")?).ok()?;
        let signature = request
            .header("Authorization")?
            .strip_prefix("Signature ")
            .and_then(|s| STANDARD.decode(s).ok())?;
        Some((encrypted_tk, signature))
    })();
    let Some((encrypted_tk, signature)) = decoded else {
        return (
            error(
                403,
                "access_denied",
                "Missing transmission key or signature",
            ),
            None,
        );
    };
    let Ok(tk) = state.keys.transmission_key(&encrypted_tk) else {
        return (
            error(
                403,
                "access_denied",
                "Unable to decrypt the transmission key",
            ),
            None,
        );
    };
    if !state.keys.verify(&encrypted_tk, &request.body, &signature) {
        return (error(403, "access_denied", "Signature is invalid"), None);
    }
    let Ok(plain) = decrypt(&tk, &request.body) else {
        return (
            error(400, "invalid_payload", "Unable to decrypt the payload"),
            None,
        );
    };
    let Ok(payload) = serde_json::from_slice::<Value>(&plain) else {
        return (
            error(400, "invalid_payload", "The payload is not JSON"),
            None,
        );
    };
    if payload.get("clientId").and_then(Value::as_str) != Some(state.keys.client_id.as_str()) {
        return (error(403, "access_denied", "Unknown client id"), None);
    }
    let named: Vec<String> = match (payload.get("requestedRecords"), payload.get("recordUid")) {
        (Some(Value::Array(uids)), _) => uids
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        (_, Some(Value::String(uid))) => vec![uid.clone()],
        _ => Vec::new(),
    };
    state.named.insert(index, named);
    let reply = match endpoint {
        "get_secret" => {
            let answer = state.get_secret(
                &payload,
                matches!(fault, Some(Fault::MissingFolders)),
                matches!(fault, Some(Fault::StaleRead)),
            );
            if matches!(fault, Some(Fault::Unencrypted)) {
                return (Reply::Encrypted(answer), None);
            }
            Reply::Encrypted(answer)
        }
        "update_secret" => {
            if let Some(
                Fault::DropAfterOtherEdit { label, value } | Fault::ConcurrentEdit { label, value },
            ) = fault
            {
                let uid = payload
                    .get("recordUid")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if let Some(record) = state.find_mut(uid) {
                    record.edit_custom(label, value);
                }
                if matches!(fault, Some(Fault::DropAfterOtherEdit { .. })) {
                    return (Reply::Hangup, None);
                }
            }
            state.update_secret(&payload, matches!(fault, Some(Fault::StaleRevision)))
        }
        "finalize_secret_update" => state.complete(&payload, false),
        "rollback_secret_update" => state.complete(&payload, true),
        other => error(404, "not_found", &format!("Unknown endpoint {other}")),
    };
    (reply, Some(tk))
}
