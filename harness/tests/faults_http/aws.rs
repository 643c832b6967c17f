//! AWS: Query actions signed with SigV4.

use super::*;

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

#[test]
fn aws_update_access_key_takes_active_or_inactive_and_refuses_any_other_status() {
    let fake = aws();
    let http = Http::new();
    let key = "AKIAOLDKEY0000000001";
    for status in [Some("inactive"), Some("Disabled"), None] {
        let mut params = vec![("UserName", "alice"), ("AccessKeyId", key)];
        params.extend(status.map(|s| ("Status", s)));
        let refused = iam(&http, &fake, "UpdateAccessKey", &params);
        assert_eq!(refused.status, 400, "{status:?}");
        assert!(
            refused.text().contains("<Code>ValidationError</Code>"),
            "{}",
            refused.text()
        );
        assert!(fake.keys("alice")[0].active, "{status:?} changed the key");
    }
    let set = |status| {
        iam(
            &http,
            &fake,
            "UpdateAccessKey",
            &[
                ("UserName", "alice"),
                ("AccessKeyId", key),
                ("Status", status),
            ],
        )
        .status
    };
    assert_eq!(set("Inactive"), 200);
    assert!(!fake.keys("alice")[0].active);
    assert_eq!(set("Inactive"), 200, "setting a status twice is no error");
    let gone = iam(
        &http,
        &fake,
        "UpdateAccessKey",
        &[
            ("UserName", "alice"),
            ("AccessKeyId", "AKIANOSUCHKEY0000001"),
            ("Status", "Inactive"),
        ],
    );
    assert_eq!(gone.status, 404);
    assert!(gone.text().contains("<Code>NoSuchEntity</Code>"));
}
