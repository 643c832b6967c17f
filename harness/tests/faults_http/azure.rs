//! Azure: token and Graph.

use super::*;

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
