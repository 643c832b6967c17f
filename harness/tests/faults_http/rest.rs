//! The REST fake behind the fault proxy: every fault kind, gates, arming.

use super::*;

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
