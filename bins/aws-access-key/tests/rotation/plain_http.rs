//! Plain http only to loopback addresses.

use super::*;

#[test]
fn an_endpoint_override_whose_localhost_name_resolves_elsewhere_is_refused_before_any_call() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let w = world();
    let endpoint = format!("http://iam.localhost:{}", elsewhere.port());
    let (program, args) = net.with_hosts(&[("iam.localhost", PrivateNetwork::ELSEWHERE.into())]);
    let out = w
        .runner("admin-record.json", &[], &[("AWS_ENDPOINT_URL", &endpoint)])
        .wrapped(program, args)
        .run();
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("'AWS_ENDPOINT_URL' in the environment is invalid")
        .assert_stderr_has(
            "'iam.localhost' resolves to 10.200.0.1, which is not a loopback address",
        );
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_loopback_endpoint_is_never_reached_through_http_proxy() {
    // The proxy would see the signed requests and CreateAccessKey's answer,
    // the new secret included, in cleartext.
    let w = world();
    let proxy = RecordingProxy::start();
    w.run_with("admin-record.json", &[], &[("HTTP_PROXY", &proxy.url())])
        .assert_exit(0);
    assert_eq!(proxy.connections(), 0);
    w.assert_vault_holds_a_live_key();
}

#[test]
fn a_plain_http_sso_endpoint_override_to_a_remote_host_exits_2_naming_the_variable() {
    for variable in ["AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC"] {
        let w = world();
        let out = w.run_with(
            "admin-record.json",
            &[],
            &[(variable, "http://sso.example.com/")],
        );
        out.assert_exit(2)
            .assert_clean()
            .assert_stderr_has(&format!("'{variable}' in the environment is invalid"))
            .assert_stderr_has("uses plain http; use https");
        assert!(w.aws().calls().is_empty(), "{variable}: {}", out.output());
    }
}

/// Runs admin-record.json with `config` as the AWS config file and no
/// endpoint variable: the config file alone says where IAM is.
fn run_with_aws_config(w: &World, net: Option<&PrivateNetwork>, config: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config");
    std::fs::write(&file, config).unwrap();
    let mut run = w.runner_without(
        "admin-record.json",
        &[],
        &[("AWS_CONFIG_FILE", file.to_str().unwrap())],
        &["AWS_ENDPOINT_URL"],
    );
    if let Some(net) = net {
        let (program, args) = net.with_hosts(&[]);
        run = run.wrapped(program, args);
    }
    run.run()
}

#[test]
fn a_plain_http_endpoint_url_in_the_aws_config_profile_is_refused_before_any_call() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let w = world();
    let out = run_with_aws_config(
        &w,
        Some(&net),
        &format!(
            "[default]\nendpoint_url = http://10.200.0.1:{}\n",
            elsewhere.port()
        ),
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("endpoint_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_endpoint_url_in_a_services_section_of_the_aws_config_is_refused_before_any_call() {
    let Some(net) = PrivateNetwork::enter() else {
        return;
    };
    let elsewhere = HangUpServer::start_on(PrivateNetwork::ELSEWHERE);
    let w = world();
    let out = run_with_aws_config(
        &w,
        Some(&net),
        &format!(
            "[default]\nservices = local\n\n[services local]\niam =\n  endpoint_url = http://10.200.0.1:{}\n",
            elsewhere.port()
        ),
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("the IAM endpoint set by endpoint_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert_eq!(elsewhere.requests(), 0, "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_sso_endpoint_url_in_a_services_section_of_the_aws_config_is_refused_before_any_call()
 {
    let w = world();
    let out = run_with_aws_config(
        &w,
        None,
        "[default]\nservices = local\n\n[services local]\nsso-oidc =\n  endpoint_url = http://oidc.example.com/\n",
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("the SSO OIDC endpoint set by endpoint_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert!(w.aws().calls().is_empty(), "{}", out.output());
    assert_eq!(w.key_ids(), [STORED_ID]);
}

#[test]
fn a_plain_http_sso_start_url_in_the_aws_config_is_refused_before_any_call() {
    let w = world();
    let out = run_with_aws_config(
        &w,
        None,
        "[sso-session corp]\nsso_start_url = http://corp.awsapps.example.com/start\n\
         sso_region = us-east-1\n",
    );
    out.assert_exit(2)
        .assert_clean()
        .assert_stderr_has("sso_start_url in the AWS config file")
        .assert_stderr_has("uses plain http; use https");
    assert!(w.aws().calls().is_empty(), "{}", out.output());
}

#[test]
fn a_loopback_endpoint_url_in_the_aws_config_profile_is_followed() {
    let w = world();
    let out = run_with_aws_config(
        &w,
        None,
        &format!("[default]\nendpoint_url = {}\n", w.aws().url()),
    );
    out.assert_exit(0);
    assert_eq!(w.key_ids(), [w.stored_id()]);
}
