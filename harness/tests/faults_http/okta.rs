//! Okta.

use super::*;

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
