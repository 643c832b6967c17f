//! The fault proxy in front of every HTTP fake, observed from a real HTTP
//! client (reqwest, as the rotators use): each fault kind does to the client
//! and to the fake's state what `harness::faults::FaultKind` says.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use harness::faults::{Armable, Exchange, FaultError, FaultKind, FaultProxy};
use harness::{FakeAws, FakeAzure, FakeOkta, FakeRest};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod aws;
mod azure;
mod okta;
mod rest;

// --- a blocking reqwest client --------------------------------------------------

/// What the client got: the status and headers, and the body or the error
/// reading it.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Result<Vec<u8>, reqwest::Error>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(self.body.as_ref().unwrap()).into_owned()
    }
}

struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Self {
        Self::with_timeout(Duration::from_secs(5))
    }

    fn with_timeout(timeout: Duration) -> Self {
        Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(timeout)
                .build()
                .unwrap(),
        }
    }

    fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
        self.runtime.block_on(async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await.map(|b| b.to_vec());
            Ok(Reply {
                status,
                headers,
                body,
            })
        })
    }
}

fn exchange(call: &str, nth: usize, fault: Option<FaultKind>, status: Option<u16>) -> Exchange {
    Exchange {
        index: 0,
        call: call.into(),
        nth,
        fault,
        status,
    }
}

/// The exchanges without their index, to compare with `exchange(...)`.
fn exchanges(proxy: &FaultProxy) -> Vec<Exchange> {
    proxy
        .exchanges()
        .into_iter()
        .map(|e| Exchange { index: 0, ..e })
        .collect()
}

/// A JSON body (the workspace's reqwest has no `json` feature).
trait JsonBody {
    fn json_body(self, value: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, value: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }
}

/// Polls `check` for up to `limit`.
fn eventually(limit: Duration, check: impl Fn() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}
