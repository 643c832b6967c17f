use super::*;

fn loc() -> Location {
    Location::Record {
        title: "API".into(),
        uid: "u".into(),
    }
}

#[test]
fn https_is_required_except_on_loopback() {
    assert!(require_https("https://api.example.com/x", "url", &loc()).is_ok());
    for ok in [
        "http://127.0.0.1:8080/x",
        "http://[::1]/x",
        "http://localhost/x",
    ] {
        assert!(require_https(ok, "url", &loc()).is_ok(), "{ok}");
    }
    let err = require_https("http://api.example.com/x?token=abc", "url", &loc()).unwrap_err();
    assert_eq!(err.exit().code(), 2);
    let text = err.to_string();
    assert!(text.contains("plain http"), "{text}");
    assert!(!text.contains("token=abc"), "{text}");
    assert!(require_https("ftp://h/x", "url", &loc()).is_err());
    assert!(require_https("not a url", "url", &loc()).is_err());
}

#[test]
fn a_name_that_says_loopback_must_resolve_to_loopback_addresses_only() {
    let v4 = |a, b, c, d| IpAddr::from([a, b, c, d]);
    let loopback = [
        v4(127, 0, 0, 1),
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ];
    assert_eq!(only_loopback("localhost", &loopback), Ok(()));
    assert_eq!(only_loopback("api.localhost.", &[v4(127, 0, 0, 2)]), Ok(()));
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    assert_eq!(only_loopback("api.localhost", &[mapped]), Ok(()));
    let refused =
        only_loopback("API.localhost", &[v4(127, 0, 0, 1), v4(10, 200, 0, 1)]).unwrap_err();
    assert_eq!(refused.address, v4(10, 200, 0, 1));
    assert_eq!(
        refused.to_string(),
        "'API.localhost' resolves to 10.200.0.1, which is not a loopback address \
         (check /etc/hosts and DNS)"
    );
    for elsewhere in [v4(0, 0, 0, 0), "::ffff:10.0.0.1".parse().unwrap()] {
        assert!(
            only_loopback("localhost", &[elsewhere]).is_err(),
            "{elsewhere}"
        );
    }
    // Other names are not this rule's: they are never sent plain http.
    assert_eq!(only_loopback("api.example.com", &[v4(10, 0, 0, 1)]), Ok(()));
    assert_eq!(
        only_loopback("localhost.example.com", &[v4(10, 0, 0, 1)]),
        Ok(())
    );
}

#[test]
fn plain_http_to_an_address_that_only_looks_local_is_refused() {
    for url in [
        "http://0.0.0.0:8080/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://10.200.0.1/x",
        "http://localhost.example.com/x",
    ] {
        let url = Url::parse(url).unwrap();
        assert!(check_transport(&url).is_err(), "{url}");
    }
}

/// Plain http is for a loopback peer only, and "loopback" is decided on
/// the host the URL parser gives (the WHATWG rules reqwest connects
/// by), never on the text: odd spellings of 127.0.0.1 are the address
/// they parse to, percent-encoding and a final dot are undone first, and
/// userinfo is not the host.
#[test]
fn odd_spellings_of_a_host_are_judged_by_the_address_they_parse_to() {
    let table: [(&str, Option<&str>); 30] = [
        // Loopback, however written: the parser gives 127.0.0.1 / ::1.
        ("http://127.1/x", Some("127.0.0.1")),
        ("http://0x7f.1/x", Some("127.0.0.1")),
        ("http://2130706433/x", Some("127.0.0.1")),
        ("http://0x7f000001/x", Some("127.0.0.1")),
        ("http://0177.0.0.1/x", Some("127.0.0.1")),
        ("http://127.0.0.1./x", Some("127.0.0.1")),
        ("http://127%2e0%2e0%2e1/x", Some("127.0.0.1")),
        ("http://%31%32%37.0.0.1/x", Some("127.0.0.1")),
        ("http://127.255.255.254/x", Some("127.255.255.254")),
        ("http://[0:0:0:0:0:0:0:1]/x", Some("[::1]")),
        ("http://LOCALHOST/x", Some("localhost")),
        ("http://localhost./x", Some("localhost.")),
        ("http://localhost%2e/x", Some("localhost.")),
        ("http://evil.example@127.0.0.1/x", Some("127.0.0.1")),
        ("http://127.0.0.1\\@evil.example/x", Some("127.0.0.1")),
        // Not loopback: refused for plain http.
        ("http://0/x", None),
        ("http://0.0.0.0/x", None),
        ("http://[::]/x", None),
        ("http://[::ffff:127.0.0.1]/x", None),
        ("http://[::ffff:7f00:1]/x", None),
        ("http://[::127.0.0.1]/x", None),
        ("http://127.0.0.1@evil.example/x", None),
        ("http://127.0.0.1:80@evil.example/x", None),
        ("http://127.0.0.1.evil.example/x", None),
        ("http://127.0.0.1%2eevil.example/x", None),
        ("http://localhost.evil.example/x", None),
        ("http://localhost%2eevil.example/x", None),
        ("http://evil.example%23@127.0.0.1/x", Some("127.0.0.1")),
        ("http://128.0.0.1/x", None),
        ("http://0x80.1/x", None),
    ];
    for (text, loopback) in table {
        let Ok(url) = Url::parse(text) else {
            assert!(loopback.is_none(), "{text} does not parse");
            continue;
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        match loopback {
            Some(expected) => {
                assert_eq!(host, expected, "{text}");
                assert!(check_transport(&url).is_ok(), "{text} ({host}) was refused");
            }
            None => assert!(
                check_transport(&url).is_err(),
                "{text} ({host}) passed as loopback"
            ),
        }
    }
    // The same hosts over https are allowed (any host may be), and a
    // loopback one still never goes through the proxy; a name that says
    // loopback but is something else does not pass by its spelling.
    for text in ["https://127.1/x", "https://localhost%2e/x"] {
        let url = Url::parse(text).unwrap();
        assert!(names_loopback(&url), "{text}");
    }
    for text in [
        "https://127.0.0.1.evil.example/x",
        "https://localhost%2eevil.example/x",
        "https://[::ffff:127.0.0.1]/x",
    ] {
        let url = Url::parse(text).unwrap();
        assert!(!names_loopback(&url), "{text}");
    }
}

#[test]
fn targets_hide_credentials_in_the_url() {
    let url = Url::parse("https://user:pw@h.example/p/a?key=abc#f").unwrap();
    let req = Request::new(Method::POST, url);
    assert_eq!(req.target(), "POST https://h.example/p/a");
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
    assert_eq!(
        retry_after(StatusCode::TOO_MANY_REQUESTS, &headers),
        Some(Duration::from_secs(3))
    );
    let later = std::time::SystemTime::now() + Duration::from_secs(120);
    headers.insert(
        RETRY_AFTER,
        HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
    );
    let wait = retry_after(StatusCode::TOO_MANY_REQUESTS, &headers).unwrap();
    assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
}

#[test]
fn okta_rate_limit_reset_is_read_when_there_is_no_retry_after() {
    let mut headers = HeaderMap::new();
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30;
    headers.insert(
        "x-rate-limit-reset",
        HeaderValue::from_str(&reset.to_string()).unwrap(),
    );
    let wait = retry_after(StatusCode::TOO_MANY_REQUESTS, &headers).unwrap();
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[test]
fn okta_rate_limit_reset_on_an_answer_that_is_not_the_rate_limit_is_no_wait() {
    // Okta sends the header on every answer; a 500's retry must not wait
    // for the end of the rate-limit window.
    let mut headers = HeaderMap::new();
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30;
    headers.insert(
        "x-rate-limit-reset",
        HeaderValue::from_str(&reset.to_string()).unwrap(),
    );
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::REQUEST_TIMEOUT,
    ] {
        assert_eq!(retry_after(status, &headers), None, "{status}");
    }
    headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
    assert_eq!(
        retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers),
        Some(Duration::from_secs(2))
    );
}

#[test]
fn server_supplied_waits_past_the_end_of_time_do_not_overflow() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-rate-limit-reset",
        HeaderValue::from_static("18446744073709551615"),
    );
    assert_eq!(
        retry_after(StatusCode::TOO_MANY_REQUESTS, &headers),
        Some(Duration::MAX)
    );
    headers.insert(
        RETRY_AFTER,
        HeaderValue::from_static("99999999999999999999999"),
    );
    assert_eq!(
        retry_after(StatusCode::TOO_MANY_REQUESTS, &headers),
        Some(Duration::MAX)
    );
    assert_eq!(describe_wait(Duration::MAX), "longer than any deadline");
    assert_eq!(describe_wait(Duration::from_millis(2100)), "3 s");
}

#[test]
fn backoff_grows_and_is_capped() {
    assert!(backoff(1) < Duration::from_millis(250));
    assert!(backoff(30) <= Duration::from_secs(8));
}

fn response(status: u16, body: &str) -> Response {
    Response {
        status: StatusCode::from_u16(status).unwrap(),
        headers: HeaderMap::new(),
        body: Zeroizing::new(body.as_bytes().to_vec()),
        earlier_attempt_maybe_applied: false,
    }
}

#[test]
fn shown_fields_are_redacted_before_they_are_capped() {
    let secret = Secret::new("shown-secret-value-xyz");
    let mut text = "a".repeat(FIELD_CHARS - 5);
    text.push(' ');
    text.push_str(secret.expose());
    text.push_str("\n tail");
    let out = shown(&text);
    assert!(!out.contains("shown-sec"), "{out}");
    assert!(out.ends_with("..."), "{out}");
    assert!(!out.contains('\n'));
}

#[test]
fn an_error_chain_echoing_a_secret_in_a_form_the_exact_layer_does_not_know_is_withheld() {
    let secret = Secret::new("Chain7Secret-k4q9Zx");
    // Full-width letters and digits: what a server that normalises text
    // differently sends back. The exact layer alone leaves it.
    let echo: String = secret
        .expose()
        .chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect();
    let chain =
        format!("client error (Connect): tunnel error: the proxy answered 'rejected user {echo}'");
    assert!(
        secret::redact(&chain).contains(&echo),
        "the exact layer knew it"
    );
    let failure = Failure {
        maybe_sent: false,
        detail: chain,
        not_loopback: false,
    };
    assert_eq!(failure.shown(), secret::WITHHELD);
    // An ordinary chain is shown, on one line.
    let failure = Failure {
        maybe_sent: true,
        detail: "error sending request: connection reset by peer\n(os error 104)".into(),
        not_loopback: false,
    };
    assert_eq!(
        failure.shown(),
        "error sending request: connection reset by peer (os error 104)"
    );
}

#[test]
fn a_proxy_urls_user_and_password_are_secrets_once_the_proxy_is_read() {
    use base64::Engine as _;
    let env = |name: &str| match name {
        "HTTPS_PROXY" => {
            Some("http://proxy-admin:Pr0xy%40Pass-5521@proxy.internal:3128".to_owned())
        }
        // No scheme: reqwest reads it as http.
        "all_proxy" => Some("relay-user:Z9q-relay-k33@relay.internal:8080".to_owned()),
        _ => None,
    };
    let echoes = [
        "proxy http://proxy-admin:Pr0xy%40Pass-5521@proxy.internal:3128 refused".to_owned(),
        "password Pr0xy@Pass-5521".to_owned(),
        format!(
            "Proxy-Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode("proxy-admin:Pr0xy@Pass-5521")
        ),
        "tunnel to relay-user:Z9q-relay-k33@relay.internal:8080 failed".to_owned(),
    ];
    for echo in &echoes {
        assert!(!secret::echoes_secret(echo), "registered before: {echo}");
    }
    register_proxy_credentials_from(env);
    for echo in &echoes {
        let redacted = secret::redact(echo);
        assert!(!redacted.contains("Pass-5521"), "{redacted}");
        assert!(!redacted.contains("Pr0xy"), "{redacted}");
        assert!(!redacted.contains("relay-k33"), "{redacted}");
        assert!(!redacted.contains("proxy-admin:"), "{redacted}");
        assert!(!shown(echo).contains("5521"), "{}", shown(echo));
    }
    // The proxy's host stays readable.
    assert!(secret::redact("proxy.internal:3128").contains("proxy.internal"));
}

#[test]
fn shown_fields_lose_line_breaks_of_every_kind() {
    assert_eq!(shown("a\nb\rc\u{2028}d\u{85}e\u{1b}[31m"), "a b c d e [31m");
}

#[test]
fn error_fields_show_the_common_keys_one_level_deep() {
    let r = response(
        400,
        r#"{"error":{"code":"E1","message":"bad"},"detail":"x","other":"hidden-value"}"#,
    );
    assert_eq!(
        r.error_fields(),
        "error.code: E1; error.message: bad; detail: x"
    );
    let r = response(400, r#"{"errors":[{"message":"m1"},"m2"],"code":7}"#);
    assert_eq!(
        r.error_fields(),
        "code: 7; errors[0].message: m1; errors[1]: m2"
    );
}

#[test]
fn bodies_without_known_error_fields_are_never_shown() {
    assert_eq!(
        response(500, "<html>stack trace hidden-value</html>").error_fields(),
        "a body of 37 bytes (not shown)"
    );
    assert_eq!(
        response(500, r#"{"trace":"hidden-value"}"#).error_fields(),
        "a JSON body of 24 bytes with no known error field (not shown)"
    );
    assert_eq!(response(500, " \n").error_fields(), "an empty body");
}

#[test]
fn a_body_that_is_not_utf8_is_read_as_latin1() {
    assert_eq!(body_text(b"p\xe4ss"), "päss");
    assert_eq!(body_text("päss".as_bytes()), "päss");
}

#[test]
fn a_change_with_less_time_left_than_it_needs_is_not_sent() {
    crate::change::set_phase(crate::change::Phase::Applying);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/change")).unwrap();
    let client = Client::new(
        Policy::default(),
        Deadline::after(Duration::from_millis(900)),
    )
    .unwrap();
    let request = Request::new(Method::POST, url);
    let error = crate::cli::block_on(client.send(&request, Replay::Unsafe))
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, Error::Deadline { .. }), "{error}");
    assert!(error.to_string().contains("so it was not sent"), "{error}");
    // Nothing reached the server, and nothing is left outstanding: exit 1.
    assert!(listener.accept().is_err(), "the change was sent");
    assert!(crate::change::outstanding().is_empty());
}

#[test]
fn a_header_template_joins_its_secrets_into_one_sensitive_value() {
    let url = Url::parse("https://api.example.com/x").unwrap();
    let access = Secret::new("tmpl-access-0123456789".to_owned());
    let secret = Secret::new("tmpl-secret-9876543210".to_owned());
    let request = Request::new(Method::GET, url.clone())
        .secret_header_template(
            "X-ApiKeys",
            "accessKey={}; secretKey={};",
            &[&access, &secret],
        )
        .unwrap();
    let value = request.headers.get("x-apikeys").unwrap();
    assert_eq!(
        value.to_str().unwrap(),
        "accessKey=tmpl-access-0123456789; secretKey=tmpl-secret-9876543210;"
    );
    assert!(value.is_sensitive());
    let too_few = Request::new(Method::GET, url.clone()).secret_header_template(
        "X-ApiKeys",
        "a={}; b={}",
        &[&access],
    );
    assert!(too_few.is_err());
    let broken = Secret::new("line\nbreak".to_owned());
    let refused =
        Request::new(Method::GET, url).secret_header_template("X-ApiKeys", "k={}", &[&broken]);
    assert_eq!(refused.unwrap_err().exit(), crate::Exit::BadInput);
}
