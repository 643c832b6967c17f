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

// --- the REST fake ----------------------------------------------------------------

const TOKEN: &str = "rest-api-token-1";
const CHANGE: &str = "POST /api/password";

fn rest() -> FakeRest {
    FakeRest::start(TOKEN).with_account("alice", "old-password")
}

fn change(http: &Http, fake: &FakeRest, password: &str) -> Result<Reply, reqwest::Error> {
    http.send(
        http.client
            .post(fake.url("/api/password"))
            .bearer_auth(TOKEN)
            .json_body(&json!({"userEmail": "alice", "newPassword": password})),
    )
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

#[test]
fn a_clean_request_is_forwarded_answered_with_connection_close_and_recorded() {
    let fake = rest();
    let http = Http::new();
    let reply = change(&http, &fake, "new-password-1").unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(reply.headers["connection"], "close");
    assert!(reply.text().contains("password changed"));
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
    change(&http, &fake, "new-password-2").unwrap();
    assert_eq!(
        exchanges(fake.proxy()),
        [
            exchange(CHANGE, 1, None, Some(201)),
            exchange(CHANGE, 2, None, Some(201))
        ]
    );
    assert_eq!(fake.call_sequence(), [CHANGE, CHANGE]);
    assert_eq!(fake.proxy().exchanges()[1].index, 2);
}

#[test]
fn drop_before_apply_closes_the_connection_unanswered_and_changes_nothing() {
    let fake = rest();
    fake.arm(CHANGE, 1, FaultKind::DropBeforeApply).unwrap();
    let http = Http::new();
    let error = change(&http, &fake, "new-password-1").unwrap_err();
    assert!(!error.is_connect() && !error.is_timeout(), "{error:?}");
    assert_eq!(fake.password_of("alice").as_deref(), Some("old-password"));
    assert!(
        fake.received().is_empty(),
        "the fake must not see the request"
    );
    assert_eq!(
        exchanges(fake.proxy()),
        [exchange(CHANGE, 1, Some(FaultKind::DropBeforeApply), None)]
    );
    // Only the armed occurrence is dropped.
    assert_eq!(change(&http, &fake, "new-password-2").unwrap().status, 201);
}

#[test]
fn drop_after_apply_changes_the_state_but_the_client_sees_a_closed_connection() {
    let fake = rest();
    fake.arm(CHANGE, 1, FaultKind::DropAfterApply).unwrap();
    let http = Http::new();
    let error = change(&http, &fake, "new-password-1").unwrap_err();
    assert!(!error.is_connect() && !error.is_timeout(), "{error:?}");
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
    assert_eq!(
        exchanges(fake.proxy()),
        [exchange(CHANGE, 1, Some(FaultKind::DropAfterApply), None)]
    );
}

#[test]
fn timeout_after_apply_fires_the_clients_timeout_after_the_state_changed() {
    let fake = rest();
    fake.set_hold(Duration::from_secs(2));
    fake.arm(CHANGE, 1, FaultKind::TimeoutAfterApply).unwrap();
    let http = Http::with_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let error = change(&http, &fake, "new-password-1").unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
}

#[test]
fn timeout_after_apply_never_answers_even_a_patient_client() {
    let fake = rest();
    fake.set_hold(Duration::from_millis(300));
    fake.arm(CHANGE, 1, FaultKind::TimeoutAfterApply).unwrap();
    let error = change(&Http::new(), &fake, "new-password-1").unwrap_err();
    assert!(!error.is_timeout(), "the hold ends by closing: {error:?}");
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
}

#[test]
fn truncated_2xx_sends_the_head_and_half_the_body_after_the_state_changed() {
    let fake = rest();
    fake.arm(CHANGE, 1, FaultKind::Truncated2xx).unwrap();
    let reply = change(&Http::new(), &fake, "new-password-1").unwrap();
    assert_eq!(reply.status, 201);
    let error = reply.body.unwrap_err();
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
    assert_eq!(
        exchanges(fake.proxy()),
        [exchange(
            CHANGE,
            1,
            Some(FaultKind::Truncated2xx),
            Some(201)
        )]
    );
}

#[test]
fn truncated_2xx_passes_an_error_answer_unchanged() {
    let fake = FakeRest::start("another-token").with_account("alice", "old-password");
    fake.arm(CHANGE, 1, FaultKind::Truncated2xx).unwrap();
    let reply = change(&Http::new(), &fake, "new-password-1").unwrap();
    assert_eq!(reply.status, 401);
    assert!(reply.text().contains("invalid_token"));
}

#[test]
fn a_late_save_is_applied_after_the_client_gave_up() {
    let fake = rest();
    fake.set_hold(Duration::from_millis(800));
    fake.arm(CHANGE, 1, FaultKind::LateSave).unwrap();
    let http = Http::with_timeout(Duration::from_millis(300));
    assert!(
        change(&http, &fake, "new-password-1")
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(fake.password_of("alice").as_deref(), Some("old-password"));
    assert!(eventually(Duration::from_secs(3), || {
        fake.password_of("alice").as_deref() == Some("new-password-1")
    }));
}

#[test]
fn refused_from_an_index_refuses_exactly_that_request_and_every_later_one() {
    let fake = rest();
    let http = Http::new();
    fake.refuse_from(2);
    assert!(!fake.proxy().is_down(), "request 1 has not arrived yet");
    assert_eq!(change(&http, &fake, "new-password-1").unwrap().status, 201);
    assert!(fake.proxy().is_down());
    for password in ["new-password-2", "new-password-3"] {
        let error = change(&http, &fake, password).unwrap_err();
        assert!(error.is_connect(), "{error:?}");
    }
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
    assert_eq!(fake.call_sequence(), [CHANGE]);
}

#[test]
fn refuse_at_finds_the_nth_call_in_a_clean_runs_sequence() {
    let clean = ["GET /api/status", CHANGE, "GET /api/status", CHANGE].map(String::from);
    let fake = rest();
    assert_eq!(fake.refuse_at(&clean, CHANGE, 2), Ok(4));
    assert_eq!(
        fake.refuse_at(&clean, CHANGE, 3),
        Err(FaultError::NotInSequence {
            call: CHANGE.into(),
            nth: 3
        })
    );
    let http = Http::new();
    let status = |fake: &FakeRest| {
        http.send(http.client.get(fake.url("/api/status")).bearer_auth(TOKEN))
            .unwrap()
            .status
    };
    status(&fake);
    change(&http, &fake, "new-password-1").unwrap();
    status(&fake);
    assert!(
        change(&http, &fake, "new-password-2")
            .unwrap_err()
            .is_connect()
    );
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
}

#[test]
fn refused_at_the_first_request_refuses_at_once() {
    let fake = rest();
    fake.arm_in(&[CHANGE.to_owned()], CHANGE, 1, FaultKind::Refused)
        .unwrap();
    assert!(fake.proxy().is_down());
    assert!(
        change(&Http::new(), &fake, "new-password-1")
            .unwrap_err()
            .is_connect()
    );
    assert!(fake.received().is_empty());
}

#[test]
fn apply_then_500_changes_the_state_and_answers_a_server_error() {
    let fake = rest();
    fake.arm(CHANGE, 1, FaultKind::ApplyThen500).unwrap();
    let reply = change(&Http::new(), &fake, "new-password-1").unwrap();
    assert_eq!(reply.status, 500);
    assert_eq!(fake.password_of("alice").as_deref(), Some("new-password-1"));
}

#[test]
fn rest_500_and_429_are_plain_answers_and_change_nothing() {
    let fake = rest();
    fake.arm(CHANGE, 1, FaultKind::Status500).unwrap();
    fake.arm(CHANGE, 2, FaultKind::Status429).unwrap();
    let http = Http::new();
    let first = change(&http, &fake, "new-password-1").unwrap();
    assert_eq!(
        (first.status, first.text().as_str()),
        (500, "Internal Server Error")
    );
    let second = change(&http, &fake, "new-password-1").unwrap();
    assert_eq!(second.status, 429);
    assert_eq!(second.headers["retry-after"], "1");
    assert_eq!(fake.password_of("alice").as_deref(), Some("old-password"));
    assert_eq!(change(&http, &fake, "new-password-1").unwrap().status, 201);
    assert_eq!(
        fake.received().len(),
        3,
        "the fake itself answered all three"
    );
}

#[test]
fn a_chunked_request_body_is_forwarded_and_the_answer_closes_the_connection() {
    let fake = rest();
    let address = fake.url("").trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let body = br#"{"userEmail": "alice", "newPassword": "chunked-password-1"}"#;
    let (first, second) = body.split_at(20);
    let mut request = format!(
        "POST /api/password HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        first.len()
    )
    .into_bytes();
    request.extend_from_slice(first);
    request.extend_from_slice(format!("\r\n{:x}\r\n", second.len()).as_bytes());
    request.extend_from_slice(second);
    request.extend_from_slice(b"\r\n0\r\n\r\n");
    stream.write_all(&request).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("connection: close") || answer.contains("Connection: close"));
    assert_eq!(
        fake.password_of("alice").as_deref(),
        Some("chunked-password-1")
    );
}

#[test]
fn a_gate_applies_the_request_and_holds_its_answer_until_released() {
    let fake = rest();
    let gate = fake.proxy().hold(CHANGE, 1);
    let url = fake.url("/api/password");
    let (done, finished) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let http = Http::new();
        let reply = http
            .send(
                http.client
                    .post(url)
                    .bearer_auth(TOKEN)
                    .json_body(&json!({"userEmail": "alice", "newPassword": "held-password-1"})),
            )
            .map(|r| r.status);
        done.send(()).unwrap();
        reply
    });
    fake.proxy().wait_for(CHANGE, 1);
    assert!(eventually(Duration::from_secs(2), || {
        fake.password_of("alice").as_deref() == Some("held-password-1")
    }));
    assert!(
        finished.recv_timeout(Duration::from_millis(300)).is_err(),
        "the answer must wait for the gate"
    );
    gate.release();
    assert_eq!(client.join().unwrap().unwrap(), 201);
}

#[test]
fn wait_for_within_says_when_a_call_never_came() {
    let fake = rest();
    assert!(
        !fake
            .proxy()
            .wait_for_within(CHANGE, 1, Duration::from_millis(50))
    );
}

#[test]
fn arming_refuses_what_could_never_apply() {
    let aws = FakeAws::start();
    assert!(matches!(
        aws.arm("CreateKey", 1, FaultKind::Status500),
        Err(FaultError::UnknownCall { .. })
    ));
    assert_eq!(
        aws.arm("CreateAccessKey", 0, FaultKind::Status500),
        Err(FaultError::ZeroOccurrence)
    );
    assert_eq!(
        aws.arm("CreateAccessKey", 1, FaultKind::Refused),
        Err(FaultError::RefusedNeedsIndex)
    );
    let fake = rest();
    change(&Http::new(), &fake, "new-password-1").unwrap();
    assert_eq!(
        fake.arm(CHANGE, 1, FaultKind::DropAfterApply),
        Err(FaultError::AlreadyPassed {
            call: CHANGE.into(),
            nth: 1
        })
    );
}

// --- AWS: Query actions signed with SigV4 ------------------------------------------

const ADMIN_KEY: &str = "AKIAADMIN00000000001";
const ADMIN_SECRET: &str = "admin-secret-access-key-value-01";

fn aws() -> FakeAws {
    FakeAws::start()
        .with_admin(ADMIN_KEY, ADMIN_SECRET)
        .with_user("alice")
        .with_key(
            "alice",
            "AKIAOLDKEY0000000001",
            "old-secret-access-key-value-001",
            true,
            None,
        )
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn iam(http: &Http, fake: &FakeAws, action: &str, params: &[(&str, &str)]) -> Reply {
    iam_call(http, fake, action, params).unwrap()
}

/// Calls an IAM/STS action signed with the admin key, as the AWS SDK does.
fn iam_call(
    http: &Http,
    fake: &FakeAws,
    action: &str,
    params: &[(&str, &str)],
) -> Result<Reply, reqwest::Error> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action)
        .append_pair("Version", "2010-05-08");
    for (name, value) in params {
        form.append_pair(name, value);
    }
    let body = form.finish();
    let host = fake.url().trim_start_matches("http://").to_owned();
    let date = "20260101T000000Z";
    let service = if action == "GetCallerIdentity" {
        "sts"
    } else {
        "iam"
    };
    let scope = format!("20260101/us-east-1/{service}/aws4_request");
    let canonical = format!(
        "POST\n/\n\nhost:{host}\nx-amz-date:{date}\n\nhost;x-amz-date\n{}",
        hex(&Sha256::digest(body.as_bytes()))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{ADMIN_SECRET}").as_bytes(), "20260101");
    for part in ["us-east-1", service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &to_sign));
    http.send(
        http.client
            .post(fake.url())
            .header("x-amz-date", date)
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential={ADMIN_KEY}/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}"
                ),
            )
            .body(body),
    )
}

fn listed_ids(reply: &Reply) -> Vec<String> {
    reply
        .text()
        .split("<AccessKeyId>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn aws_calls_are_named_by_their_query_action() {
    let fake = aws();
    let http = Http::new();
    assert_eq!(
        iam(&http, &fake, "GetUser", &[("UserName", "alice")]).status,
        200
    );
    assert_eq!(
        iam(&http, &fake, "ListAccessKeys", &[("UserName", "alice")]).status,
        200
    );
    assert_eq!(iam(&http, &fake, "GetCallerIdentity", &[]).status, 200);
    assert_eq!(
        fake.call_sequence(),
        ["GetUser", "ListAccessKeys", "GetCallerIdentity"]
    );
    assert_eq!(fake.known_calls().len(), 8);
}

#[test]
fn aws_500_is_service_failure_and_429_is_throttling_and_nothing_is_created() {
    let fake = aws();
    fake.arm("CreateAccessKey", 1, FaultKind::Status500)
        .unwrap();
    fake.arm("CreateAccessKey", 2, FaultKind::Status429)
        .unwrap();
    let http = Http::new();
    let failure = iam(&http, &fake, "CreateAccessKey", &[("UserName", "alice")]);
    assert_eq!(failure.status, 500);
    assert!(failure.text().contains("<Code>ServiceFailure</Code>"));
    assert!(failure.text().contains("<Type>Receiver</Type>"));
    let throttled = iam(&http, &fake, "CreateAccessKey", &[("UserName", "alice")]);
    assert_eq!(throttled.status, 400);
    assert!(throttled.text().contains("<Code>Throttling</Code>"));
    assert_eq!(fake.keys("alice").len(), 1);
    assert_eq!(
        iam(&http, &fake, "CreateAccessKey", &[("UserName", "alice")]).status,
        200
    );
    assert_eq!(fake.keys("alice").len(), 2);
}

#[test]
fn aws_apply_then_500_creates_the_key_and_answers_service_failure() {
    let fake = aws();
    fake.arm("CreateAccessKey", 1, FaultKind::ApplyThen500)
        .unwrap();
    let reply = iam(
        &Http::new(),
        &fake,
        "CreateAccessKey",
        &[("UserName", "alice")],
    );
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("ServiceFailure"));
    assert!(!reply.text().contains("SecretAccessKey"));
    assert_eq!(fake.keys("alice").len(), 2);
}

#[test]
fn aws_drop_after_apply_creates_a_key_whose_secret_nobody_saw() {
    let fake = aws();
    fake.arm("CreateAccessKey", 1, FaultKind::DropAfterApply)
        .unwrap();
    let error = iam_call(
        &Http::new(),
        &fake,
        "CreateAccessKey",
        &[("UserName", "alice")],
    )
    .unwrap_err();
    assert!(!error.is_connect() && !error.is_timeout(), "{error:?}");
    assert_eq!(fake.keys("alice").len(), 2);
    assert_eq!(
        exchanges(fake.proxy()),
        [exchange(
            "CreateAccessKey",
            1,
            Some(FaultKind::DropAfterApply),
            None
        )]
    );
}

#[test]
fn aws_listing_lag_shows_the_keys_as_they_were_while_other_reads_are_current() {
    let fake = aws();
    fake.listing_lag(Duration::from_millis(600));
    let http = Http::new();
    let list = |http: &Http| {
        listed_ids(&iam(
            http,
            &fake,
            "ListAccessKeys",
            &[("UserName", "alice")],
        ))
    };
    assert_eq!(
        list(&http),
        ["AKIAOLDKEY0000000001"],
        "setup keys were always there"
    );
    let created = iam(&http, &fake, "CreateAccessKey", &[("UserName", "alice")]);
    let new_id = listed_ids(&created).remove(0);
    assert_eq!(
        list(&http),
        ["AKIAOLDKEY0000000001"],
        "the new key is not listed yet"
    );
    let last_used = iam(
        &http,
        &fake,
        "GetAccessKeyLastUsed",
        &[("AccessKeyId", &new_id)],
    );
    assert_eq!(last_used.status, 200, "other reads see the new key at once");
    iam(
        &http,
        &fake,
        "DeleteAccessKey",
        &[
            ("UserName", "alice"),
            ("AccessKeyId", "AKIAOLDKEY0000000001"),
        ],
    );
    assert_eq!(list(&http), ["AKIAOLDKEY0000000001"], "nor the deletion");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(list(&http), std::slice::from_ref(&new_id));
    fake.listing_lag(Duration::ZERO);
    assert_eq!(list(&http), [new_id]);
}

// --- Azure: token and Graph ------------------------------------------------------

const TENANT: &str = "contoso-tenant";
const ADMIN_APP: &str = "11111111-aaaa-bbbb-cccc-000000000001";
const ADMIN_TEXT: &str = "admin~client~secret~value~0001";
const TARGET_OBJ: &str = "22222222-aaaa-bbbb-cccc-000000000002";
const TARGET_APP: &str = "33333333-aaaa-bbbb-cccc-000000000003";

fn azure() -> FakeAzure {
    FakeAzure::start(TENANT)
        .with_app("obj-admin", ADMIN_APP, "keeper-admin", true)
        .with_secret(ADMIN_APP, "key-admin", ADMIN_TEXT, "2025-01-01T00:00:00Z")
        .with_app(TARGET_OBJ, TARGET_APP, "payroll", false)
        .with_secret(
            TARGET_APP,
            "key-old",
            "target~old~secret~value~0001",
            "2025-01-01T00:00:00Z",
        )
}

fn token(http: &Http, fake: &FakeAzure) -> Reply {
    http.send(
        http.client
            .post(format!("{}/{TENANT}/oauth2/v2.0/token", fake.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("client_id", ADMIN_APP)
                    .append_pair("client_secret", ADMIN_TEXT)
                    .append_pair("grant_type", "client_credentials")
                    .append_pair("scope", "https://graph.microsoft.com/.default")
                    .finish(),
            ),
    )
    .unwrap()
}

fn graph(http: &Http, fake: &FakeAzure, action: &str, body: Option<Value>) -> Reply {
    let access: Value = serde_json::from_str(&token(http, fake).text()).unwrap();
    let bearer = access["access_token"].as_str().unwrap();
    let base = format!("{}/v1.0/applications/{TARGET_OBJ}", fake.url());
    let request = match body {
        None => http.client.get(base),
        Some(body) => http
            .client
            .post(format!("{base}/{action}"))
            .json_body(&body),
    };
    http.send(request.bearer_auth(bearer)).unwrap()
}

fn key_ids(reply: &Reply) -> Vec<String> {
    let app: Value = serde_json::from_str(&reply.text()).unwrap();
    app["passwordCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["keyId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn azure_calls_are_named_as_the_fault_switches_and_errors_are_graphs() {
    let fake = azure();
    fake.arm("addPassword", 1, FaultKind::Status429).unwrap();
    fake.arm("get", 1, FaultKind::Status500).unwrap();
    let http = Http::new();
    let throttled = graph(
        &http,
        &fake,
        "addPassword",
        Some(json!({"passwordCredential": {}})),
    );
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.headers["retry-after"], "1");
    let error: Value = serde_json::from_str(&throttled.text()).unwrap();
    assert_eq!(error["error"]["code"], "TooManyRequests");
    let failed = graph(&http, &fake, "get", None);
    assert_eq!(failed.status, 500);
    assert!(failed.text().contains("InternalServerError"));
    assert_eq!(fake.secrets(TARGET_APP).len(), 1);
    assert_eq!(
        fake.call_sequence(),
        ["token", "addPassword", "token", "get"]
    );
}

#[test]
fn azure_truncated_2xx_without_a_body_cuts_the_head() {
    let fake = azure();
    fake.arm("removePassword", 1, FaultKind::Truncated2xx)
        .unwrap();
    let http = Http::new();
    let access: Value = serde_json::from_str(&token(&http, &fake).text()).unwrap();
    let error = http
        .send(
            http.client
                .post(format!(
                    "{}/v1.0/applications/{TARGET_OBJ}/removePassword",
                    fake.url()
                ))
                .bearer_auth(access["access_token"].as_str().unwrap())
                .json_body(&json!({"keyId": "key-old"})),
        )
        .unwrap_err();
    assert!(!error.is_connect() && !error.is_timeout(), "{error:?}");
    assert!(
        fake.secrets(TARGET_APP).is_empty(),
        "the removal was applied"
    );
}

#[test]
fn azure_listing_lag_shows_the_secrets_as_they_were() {
    let fake = azure();
    fake.listing_lag(Duration::from_millis(600));
    let http = Http::new();
    assert_eq!(key_ids(&graph(&http, &fake, "get", None)), ["key-old"]);
    let added = graph(
        &http,
        &fake,
        "addPassword",
        Some(json!({"passwordCredential": {"displayName": "rotated"}})),
    );
    let added: Value = serde_json::from_str(&added.text()).unwrap();
    let new_key = added["keyId"].as_str().unwrap().to_owned();
    assert_eq!(key_ids(&graph(&http, &fake, "get", None)), ["key-old"]);
    assert_eq!(
        fake.secrets(TARGET_APP).len(),
        2,
        "the change itself is current"
    );
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        key_ids(&graph(&http, &fake, "get", None)),
        ["key-old".to_owned(), new_key]
    );
}

// --- Okta -------------------------------------------------------------------------

#[test]
fn okta_calls_are_named_by_method_and_path_and_errors_are_oktas() {
    let fake = FakeOkta::start("okta-api-token-1").with_user(
        "alice@example.com",
        "ACTIVE",
        "Old-Passw0rd",
    );
    fake.arm("change_password", 1, FaultKind::Status429)
        .unwrap();
    fake.arm("change_password", 2, FaultKind::Status500)
        .unwrap();
    let http = Http::new();
    let auth = "SSWS okta-api-token-1";
    let user = http
        .send(
            http.client
                .get(format!("{}/api/v1/users/alice%40example.com", fake.url()))
                .header("authorization", auth),
        )
        .unwrap();
    assert_eq!(user.status, 200);
    let id = serde_json::from_str::<Value>(&user.text()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = |http: &Http| {
        http.send(
            http.client
                .post(format!(
                    "{}/api/v1/users/{id}/credentials/change_password",
                    fake.url()
                ))
                .header("authorization", auth)
                .json_body(&json!({"oldPassword": {"value": "Old-Passw0rd"}, "newPassword": {"value": "New-Passw0rd-1"}})),
        )
        .unwrap()
    };
    let limited = change(&http);
    assert_eq!(limited.status, 429);
    assert!(limited.text().contains("E0000047"));
    assert!(limited.headers.contains_key("x-rate-limit-reset"));
    let failed = change(&http);
    assert_eq!(failed.status, 500);
    assert!(failed.text().contains("E0000009"));
    assert_eq!(
        fake.password_of("alice@example.com").as_deref(),
        Some("Old-Passw0rd")
    );
    assert_eq!(change(&http).status, 200);
    let set = http
        .send(
            http.client
                .post(format!("{}/api/v1/users/{id}", fake.url()))
                .header("authorization", auth)
                .json_body(&json!({"credentials": {"password": {"value": "Admin-Set-Passw0rd"}}})),
        )
        .unwrap();
    assert_eq!(set.status, 200);
    assert_eq!(
        fake.call_sequence(),
        [
            "get_user",
            "change_password",
            "change_password",
            "change_password",
            "set_password"
        ]
    );
}
