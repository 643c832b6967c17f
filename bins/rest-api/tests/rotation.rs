//! rotate-rest-api, driven through the real binary and the harness fakes,
//! for what only it does (what every HTTP password rotator does is
//! `suite.rs`). Every run is scanned for leaks of the scenario's secrets.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::time::Duration;

use harness::faults::net::{HangUpServer, PrivateNetwork, refused_port};
use harness::{FakeRest, Outcome, Reply, Run, Scenario};

const BIN: harness::Binary = harness::binary!("rotate-rest-api");
/// The token of the API record `ApiRecordUid0000000001` in the fixtures.
const TOKEN: &str = "api-token-0001-x7";
const ACCOUNT: &str = "alice@example.com";
const OLD: &str = "Old-Passw0rd-4f1c";
const NEW: &str = "New-Passw0rd-9d2e";

fn scenario(name: &str) -> Scenario {
    Scenario::load(&format!("scenarios/rest-api/{name}"))
}

fn fake() -> FakeRest {
    FakeRest::start(TOKEN).with_account(ACCOUNT, OLD)
}

fn rotate(name: &str, fake: &FakeRest) -> Outcome {
    Run::new(BIN)
        .scenario(&scenario(name).var("API_URL", fake.url("/v1/password")))
        .run()
}

// --- success and record selection ------------------------------------------

#[test]
fn default_request_posts_json_with_a_bearer_token_and_changes_the_password() {
    let fake = fake();
    let out = rotate("default.json", &fake);
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has("rotated the password of 'alice@example.com'")
        .assert_stdout_has("answered HTTP 201");
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
    let requests = fake.received();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/v1/password");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer api-token-0001-x7")
    );
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    assert_eq!(
        requests[0].json(),
        serde_json::json!({"userEmail": ACCOUNT, "newPassword": NEW})
    );
}

#[test]
fn the_docs_script_title_record_with_access_token_is_found() {
    let fake = fake();
    rotate("script-title.json", &fake).assert_exit(0);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
}

#[test]
fn api_record_title_on_the_user_record_picks_the_api_record() {
    let fake = fake();
    rotate("api-record-title.json", &fake)
        .assert_exit(0)
        .assert_stderr_has("record 'Payroll API'");
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
}

#[test]
fn api_record_title_naming_no_attached_record_exits_2_listing_the_attached_ones() {
    let fake = fake();
    rotate("api-record-title-missing.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("no attached record is titled 'Missing API'")
        .assert_stderr_has("'Payroll API' (uid ApiRecordUid0000000001)");
    assert!(fake.received().is_empty());
}

#[test]
fn the_single_record_with_url_and_password_is_used_when_no_title_matches() {
    let fake = fake();
    rotate("url-and-password-only.json", &fake).assert_exit(0);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
}

#[test]
fn the_user_record_is_never_taken_for_the_api_record() {
    let fake = fake();
    rotate("user-record-only.json", &fake)
        .assert_exit(2)
        .assert_stderr_has("no API record found");
    assert!(fake.received().is_empty());
}

#[test]
fn the_pam_resource_record_is_never_taken_for_the_api_record() {
    let fake = fake();
    rotate("resource-with-url-and-password.json", &fake)
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("no API record found");
    assert!(
        fake.received().is_empty(),
        "the resource's password was sent"
    );
}

#[test]
fn two_candidate_api_records_exit_2_naming_both_titles() {
    let fake = fake();
    rotate("two-candidates.json", &fake)
        .assert_exit(2)
        .assert_stderr_has("'API Access Details' (uid ApiRecordUid0000000001)")
        .assert_stderr_has("'Record with Access Token' (uid ApiRecordUid0000000002)")
        .assert_stderr_has("api_record_title");
    assert!(fake.received().is_empty());
}

// --- customisations ----------------------------------------------------------

#[test]
fn custom_method_header_and_template_send_hostile_passwords_intact() {
    let scenario = scenario("custom-request.json");
    let params = scenario.params();
    let new = params["newPassword"].as_str().unwrap().to_owned();
    let old = params["oldPassword"].as_str().unwrap().to_owned();
    let fake = FakeRest::start(TOKEN)
        .with_account(ACCOUNT, &old)
        .expect_token("X-API-Key", TOKEN)
        .body_pointers("/account/login", "/credentials/next")
        .success_status(200);
    Run::new(BIN)
        .scenario(&scenario.var("API_URL", fake.url("/v2/users/password")))
        .run()
        .assert_exit(0);
    let request = &fake.received()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.json(),
        serde_json::json!({
            "account": {"login": ACCOUNT, "ref": "UserRecordUid000000001"},
            "credentials": {"current": old, "next": new}
        })
    );
    assert_eq!(fake.password_of(ACCOUNT), Some(new));
}

#[test]
fn a_template_using_the_old_password_without_one_exits_2_before_sending() {
    let fake = fake();
    rotate("template-needs-old-password.json", &fake)
        .assert_exit(2)
        .assert_stderr_has("'oldPassword' is missing or empty in the Gateway's input")
        .assert_stderr_has("body_template of record 'API Access Details'");
    assert!(fake.received().is_empty());
}

#[test]
fn a_template_that_is_not_json_exits_2_naming_the_field() {
    let fake = fake();
    rotate("bad-template.json", &fake)
        .assert_exit(2)
        .assert_stderr_has("'body_template' in record 'API Access Details'")
        .assert_stderr_has("not valid JSON");
    assert!(fake.received().is_empty());
}

#[test]
fn a_2xx_that_success_status_does_not_list_exits_4() {
    let fake = fake();
    rotate("success-200-only.json", &fake)
        .assert_exit(4)
        .assert_stderr_has("HTTP 201")
        .assert_stderr_has("may or may not have changed");
    assert_eq!(fake.received().len(), 1);
}

#[test]
fn any_2xx_is_success_by_default() {
    let fake = fake();
    fake.then_reply(Reply::status(204));
    rotate("default.json", &fake)
        .assert_exit(0)
        .assert_stdout_has("HTTP 204");
}

#[test]
fn dry_run_sends_nothing_and_prints_the_plan() {
    let fake = fake();
    Run::new(BIN)
        .arg("--dry-run")
        .scenario(&scenario("default.json").var("API_URL", fake.url("/v1/password")))
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("dry run: would send POST http://127.0.0.1:")
        .assert_stdout_has("Bearer [redacted]")
        .assert_stdout_has("keys userEmail, newPassword");
    assert!(fake.received().is_empty());
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(OLD));
}

#[test]
fn a_dry_run_connects_to_the_change_endpoints_host_and_sends_it_nothing() {
    let fake = fake();
    let port = fake.proxy().port();
    Run::new(BIN)
        .arg("--dry-run")
        .scenario(&scenario("default.json").var("API_URL", fake.url("/v1/password")))
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!(
            "Checked: the Gateway's input; the API record; DNS and a TCP connection to \
             127.0.0.1:{port}. Not checked: the API token; that the change endpoint accepts \
             this password (no request is sent). Nothing was changed."
        ));
    assert!(fake.proxy().connections() >= 1, "no connection was made");
    assert!(fake.proxy().requests().is_empty());
    assert!(fake.received().is_empty());
}

/// A TLS server with a test CA's certificate for 127.0.0.1 (the IOS XE
/// fake's front, used here only for its handshake).
fn tls_server() -> (harness::FakeIosXe, tempfile::NamedTempFile) {
    let server = harness::FakeIosXe::start().with_tls();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), server.ca_pem()).unwrap();
    (server, ca)
}

#[test]
fn a_dry_run_completes_the_tls_handshake_with_a_trusted_certificate_and_sends_nothing() {
    let (server, ca) = tls_server();
    let url = format!("{}/v1/password", server.https_url());
    let port = reqwest::Url::parse(&url).unwrap().port().unwrap();
    Run::new(BIN)
        .arg("--dry-run")
        .env("SSL_CERT_FILE", ca.path().display().to_string())
        .scenario(&scenario("default.json").var("API_URL", url))
        .run()
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("DNS and TLS to 127.0.0.1:{port}"));
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn a_dry_run_to_a_host_whose_certificate_is_not_trusted_exits_1() {
    let (server, _ca) = tls_server();
    let url = format!("{}/v1/password", server.https_url());
    Run::new(BIN)
        .arg("--dry-run")
        .scenario(&scenario("default.json").var("API_URL", url))
        .run()
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("DNS and TLS to 127.0.0.1:");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn a_dry_run_to_a_host_that_does_not_resolve_exits_1_naming_it() {
    let out = Run::new(BIN)
        .arg("--dry-run")
        .scenario(
            &scenario("default.json").var("API_URL", "https://no-such-host.invalid/v1/password"),
        )
        .run();
    out.assert_exit(1)
        .assert_clean()
        .assert_stdout_has("rotate-rest-api: exit 1 (failed, nothing changed)")
        .assert_stderr_has("rotate-rest-api: error:")
        .assert_stderr_has("DNS and TLS to no-such-host.invalid:443");
    assert_eq!(
        out.stderr.lines().filter(|l| l.contains("error")).count(),
        1,
        "{}",
        out.output()
    );
}

#[test]
fn a_dry_run_to_a_port_that_refuses_connections_exits_1() {
    let port = refused_port();
    Run::new(BIN)
        .arg("--dry-run")
        .scenario(
            &scenario("default.json")
                .var("API_URL", format!("http://127.0.0.1:{port}/v1/password")),
        )
        .run()
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has(&format!("DNS and a TCP connection to 127.0.0.1:{port}"));
}

// --- bad records ---------------------------------------------------------------

#[test]
fn a_missing_url_exits_2_naming_the_field_and_the_record() {
    let fake = fake();
    rotate("missing-url.json", &fake)
        .assert_exit(2)
        .assert_stderr_has(
            "'url' is missing or empty in record 'API Access Details' (uid ApiRecordUid0000000001)",
        );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_without_showing_the_query() {
    let fake = fake();
    let out = rotate("plain-http.json", &fake);
    out.assert_exit(2)
        .assert_stderr_has("uses plain http; use https");
    assert!(!out.stderr.contains("query-secret-123"), "{}", out.output());
}

#[test]
fn plain_http_to_a_localhost_name_that_resolves_elsewhere_never_sends_the_token() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    // A host on the network that would receive the token and the password
    // in cleartext, and the hosts file that maps api.localhost to it.
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let (program, args) = net.with_hosts(&[("api.localhost", PrivateNetwork::ELSEWHERE.into())]);
    let url = format!("http://api.localhost:{}/v1/password", elsewhere.port());
    let out = Run::new(BIN)
        .scenario(&scenario("default.json").var("API_URL", url))
        .wrapped(program, args)
        .run();
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has(
            "'api.localhost' resolves to 10.200.0.1, which is not a loopback address",
        )
        .assert_stderr_has("use https");
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
}

#[test]
fn every_connection_holds_a_localhost_name_to_loopback_addresses() {
    // The URL is https to an ordinary name, so it is not checked when read;
    // the proxy's name is resolved only when the connection is made, by the
    // client's resolver, which must refuse it.
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let (program, args) = net.with_hosts(&[("proxy.localhost", PrivateNetwork::ELSEWHERE.into())]);
    let proxy = format!("http://proxy.localhost:{}", elsewhere.port());
    let out = Run::new(BIN)
        .scenario(&scenario("default.json").var("API_URL", "https://api.example.test/v1/password"))
        .env("HTTPS_PROXY", proxy)
        .env("NO_PROXY", "")
        .wrapped(program, args)
        .run();
    out.assert_exit(2).assert_clean().assert_stderr_has(
        "'proxy.localhost' resolves to 10.200.0.1, which is not a loopback address",
    );
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
}

#[test]
fn plain_http_to_a_localhost_name_that_resolves_to_loopback_is_allowed() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let fake = fake();
    let (program, args) = net.with_hosts(&[("api.localhost", [127, 0, 0, 1].into())]);
    let url = fake
        .url("/v1/password")
        .replace("127.0.0.1", "api.localhost");
    Run::new(BIN)
        .scenario(&scenario("default.json").var("API_URL", url))
        .wrapped(program, args)
        .run()
        .assert_exit(0);
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
}

#[test]
fn a_get_method_is_refused() {
    let fake = fake();
    rotate("bad-method.json", &fake)
        .assert_exit(2)
        .assert_stderr_has("'GET' is not POST, PUT or PATCH");
}

#[test]
fn a_missing_user_exits_2_naming_it() {
    let fake = fake();
    rotate("missing-user.json", &fake)
        .assert_exit(2)
        .assert_stderr_has("'user' is missing or empty in the Gateway's input");
}

// --- API failures ----------------------------------------------------------------

#[test]
fn a_403_exits_1() {
    let fake = fake();
    fake.then_reply(Reply::status(403).body(r#"{"error":"forbidden"}"#));
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_stderr_has("answered HTTP 403: error: forbidden;");
}

#[test]
fn a_404_exits_1_pointing_at_the_url() {
    let fake = FakeRest::start(TOKEN); // no such account
    rotate("default.json", &fake)
        .assert_exit(1)
        .assert_stderr_has("answered HTTP 404")
        .assert_stderr_has("check the url");
}

#[test]
fn a_500_exits_4_showing_only_the_known_error_fields() {
    let fake = fake();
    fake.then_reply(Reply::status(500).body(format!(
        r#"{{"error":"internal","echo":{{"token":"{TOKEN}","new":"{NEW}","old":"{OLD}"}}}}"#
    )));
    let out = rotate("default.json", &fake);
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has("HTTP 500 (error: internal)")
        .assert_stderr_has("may or may not have changed");
    assert!(!out.stderr.contains("echo"), "{}", out.output());
}

#[test]
fn a_refused_connection_exits_1_after_retrying() {
    let url = format!("http://127.0.0.1:{}/v1/password", refused_port());
    let out = Run::new(BIN)
        .scenario(&scenario("default.json").var("API_URL", url))
        .run();
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("Connection refused")
        .assert_stderr_has("attempt 4 of 4")
        .assert_stdout_has("exit 1 (failed, nothing changed)");
}

// --- attack: what the hostile review found -----------------------------------------

#[test]
fn a_password_echoed_in_other_escapings_is_still_redacted() {
    let fake = fake();
    let new = "New/Passw0rd=9d2e<&>'";
    // PHP's json_encode escapes '/'; Gson (Java) escapes < > & = ' as
    // \u003c...; an HTML error page escapes < > & ' as entities.
    let php = new.replace('/', "\\/");
    let gson = new
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('=', "\\u003d")
        .replace('\'', "\\u0027");
    let html = new
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;");
    fake.then_reply(Reply::status(400).body(format!(
        r#"{{"error":"rejected","php":"{php}","gson":"{gson}","html":"<p>{html}</p>"}}"#
    )));
    let out = Run::new(BIN)
        .scenario(
            &scenario("default.json")
                .var("API_URL", fake.url("/v1/password"))
                .param("newPassword", serde_json::json!(new)),
        )
        .run();
    out.assert_exit(1).assert_stderr_has("answered HTTP 400");
    assert!(
        !out.stderr.contains("Passw0rd") && !out.stdout.contains("Passw0rd"),
        "the new password was printed:\n{}",
        out.output()
    );
}

// --- output integrity ----------------------------------------------------------

#[test]
fn a_user_with_a_line_break_cannot_forge_a_summary_or_log_line() {
    let user = "alice@example.com\nrotate-rest-api: exit 0 (rotated)\r\u{1b}[2K";
    let fake = FakeRest::start(TOKEN).with_account(user, OLD);
    let scenario = scenario("default.json")
        .var("API_URL", fake.url("/v1/password"))
        .param("user", serde_json::json!(user));
    let out = Run::new(BIN).scenario(&scenario).run();
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has(r"'alice@example.com\nrotate-rest-api: exit 0 (rotated)\r\u{1b}[2K'");
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.output());
    assert!(
        !out.stdout.contains(['\r', '\u{1b}']) && !out.stderr.contains(['\r', '\u{1b}']),
        "{}",
        out.output()
    );
}

#[test]
fn a_user_with_a_line_break_in_an_error_stays_on_one_line() {
    let user = "nobody\nrotate-rest-api: exit 0 (rotated)";
    let fake = FakeRest::start(TOKEN);
    let scenario = scenario("default.json")
        .var("API_URL", fake.url("/v1/password"))
        .param("user", serde_json::json!(user));
    let out = Run::new(BIN).scenario(&scenario).run();
    out.assert_exit(1).assert_clean();
    assert!(
        out.stderr
            .lines()
            .all(|l| !l.starts_with("rotate-rest-api: exit")),
        "{}",
        out.output()
    );
}

// --- what an answer after the change means (issue 10, items 6 to 9) -------------

#[test]
fn a_503_then_401_is_not_resent_and_exits_4() {
    let fake = fake();
    fake.then_reply(Reply::status(503).header("Retry-After", "1"));
    fake.then_reply(Reply::status(401));
    let out = rotate("default.json", &fake);
    out.assert_exit(4)
        .assert_clean()
        .assert_stderr_has("HTTP 503")
        .assert_stderr_has("may or may not have changed");
    assert_eq!(fake.received().len(), 1, "a change must not be resent");
}

#[test]
fn a_5xx_or_3xx_after_the_change_exits_4_and_is_not_resent() {
    for status in [500, 502, 504, 303, 307] {
        let fake = fake();
        fake.then_reply(Reply::status(status).header("Location", "https://elsewhere.example/"));
        let out = rotate("default.json", &fake);
        out.assert_exit(4)
            .assert_clean()
            .assert_stderr_has(&format!("HTTP {status}"))
            .assert_stderr_has("may or may not have changed");
        assert_eq!(fake.received().len(), 1, "HTTP {status}");
    }
}

#[test]
fn a_429_asking_to_wait_past_the_deadline_exits_1_at_once() {
    let fake = fake();
    fake.then_reply(Reply::status(429).header("Retry-After", "3600"));
    let out = Run::new(BIN)
        .arg("--timeout")
        .arg("10")
        .scenario(&scenario("default.json").var("API_URL", fake.url("/v1/password")))
        .run();
    out.assert_exit(1)
        .assert_stderr_has("asked to wait 3600 s")
        .assert_stderr_has("deadline of 10 s");
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
    assert_eq!(fake.received().len(), 1);
}

#[test]
fn a_rate_limit_reset_at_the_end_of_time_exits_1_without_a_panic() {
    let fake = fake();
    fake.then_reply(Reply::status(429).header("X-Rate-Limit-Reset", "18446744073709551615"));
    let out = rotate("default.json", &fake);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("HTTP 429 and asked to wait");
    assert_eq!(fake.received().len(), 1);
}

#[test]
fn a_connect_that_never_completes_exits_1_saying_nothing_was_sent() {
    let blackhole = harness::faults::net::Blackhole::start();
    assert!(blackhole.swallows_connects(Duration::from_millis(300)));
    let out = Run::new(BIN)
        .arg("--timeout")
        .arg("3")
        .scenario(&scenario("default.json").var("API_URL", blackhole.url("/v1/password")))
        .run();
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the connection was not established")
        .assert_stderr_has("(nothing was sent)")
        .assert_stdout_has("exit 1 (failed, nothing changed)");
    assert!(out.elapsed < Duration::from_secs(8), "{}", out.output());
}

#[test]
fn a_loopback_target_is_never_reached_through_http_proxy() {
    let proxy = harness::faults::net::RecordingProxy::start();
    let fake = fake();
    let out = Run::new(BIN)
        .env("HTTP_PROXY", proxy.url())
        .env("http_proxy", proxy.url())
        .env("ALL_PROXY", proxy.url())
        .env("NO_PROXY", "")
        .env("no_proxy", "")
        .scenario(&scenario("default.json").var("API_URL", fake.url("/v1/password")))
        .run();
    out.assert_exit(0);
    assert_eq!(proxy.connections(), 0, "{}", out.output());
    assert_eq!(fake.password_of(ACCOUNT).as_deref(), Some(NEW));
}
