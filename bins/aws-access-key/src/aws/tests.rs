use super::*;

#[test]
fn the_secrets_of_every_profile_of_an_aws_file_are_found() {
    let text = "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s1 \n\
                [profile x]\nAWS_SESSION_TOKEN=t1\nregion = us-east-1\naws_session_token =\n";
    assert_eq!(profile_secrets(text), ["s1", "t1"]);
}

#[test]
fn a_leading_tilde_component_is_expanded_as_the_sdk_expands_it() {
    let home = Some(std::ffi::OsStr::new("/home/gw"));
    let expand = |path: &str, home| {
        expand_home(std::path::Path::new(path), home)
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(expand("~/.aws/config", home), "/home/gw/.aws/config");
    assert_eq!(expand("~", home), "/home/gw");
    assert_eq!(expand("~other/config", home), "~other/config");
    assert_eq!(expand("/etc/aws/~/config", home), "/etc/aws/~/config");
    assert_eq!(expand("~/config", None), "~/config");
}

#[test]
fn the_tokens_and_client_secret_of_an_sso_cache_file_are_found() {
    let text = r#"{"startUrl": "https://d-1.awsapps.com/start", "accessToken": "at1",
        "refreshToken": "rt1", "clientSecret": "cs1", "clientId": "id1",
        "expiresAt": "2026-12-06T12:00:00Z"}"#;
    let found: Vec<String> = sso_cache_secrets(text)
        .iter()
        .map(|v| v.as_str().to_owned())
        .collect();
    assert_eq!(found, ["at1", "rt1", "cs1"]);
    assert!(sso_cache_secrets("not json").is_empty());
}

#[test]
fn a_bearer_or_raw_token_header_is_a_credential_a_sigv4_signature_is_not() {
    assert_eq!(header_credential("Bearer tok1"), Some("tok1"));
    assert_eq!(header_credential(" tok2 "), Some("tok2"));
    assert_eq!(
        header_credential("AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ab"),
        None
    );
}
