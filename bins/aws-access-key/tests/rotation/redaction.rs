//! Every credential obtained is redacted, whatever source it came from.

use super::*;

#[test]
fn a_403_that_echoes_the_assumed_role_session_token_never_prints_it() {
    let w = world();
    w.aws()
        .fault("GetUser", AwsFault::invalid_token_echoing_it(), 1);
    // run_with scans for every secret the fake issued: the session's secret
    // access key and token included.
    let out = w.run("assume-role.json", &[]);
    // The message echoes a registered secret: the first layer withholds it
    // whole (an unregistered token would be printed, and fail assert_clean).
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("InvalidClientTokenId: withheld: it may echo a secret");
    assert_eq!(w.key_ids(), [STORED_ID]);
}

/// A session token of the default chain, in the fake's format.
const CHAIN_TOKEN: &str = "FwoGZXIvYXdzEDefaultChainSessionToken0000000000000000000001";

fn assert_token_not_shown(out: &Outcome) {
    assert_eq!(
        out.find_leak(&[CHAIN_TOKEN.to_owned()]),
        None,
        "{}",
        out.output()
    );
}

#[test]
fn a_403_that_echoes_the_session_token_of_the_environment_never_prints_it() {
    let w = world();
    w.aws()
        .fault("GetUser", AwsFault::invalid_token_echoing_it(), 1);
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", ADMIN_ID),
            ("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET),
            ("AWS_SESSION_TOKEN", CHAIN_TOKEN),
        ],
    );
    out.assert_exit(1).assert_stderr_has("InvalidClientTokenId");
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_the_shared_credentials_file_never_prints_it() {
    let w = world();
    w.aws()
        .fault("GetUser", AwsFault::invalid_token_echoing_it(), 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(
        &file,
        format!(
            "[default]\naws_access_key_id = {ADMIN_ID}\naws_secret_access_key = {ADMIN_SECRET}\n\
             aws_session_token = {CHAIN_TOKEN}\n"
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[("AWS_SHARED_CREDENTIALS_FILE", file.to_str().unwrap())],
    );
    out.assert_exit(1).assert_stderr_has("InvalidClientTokenId");
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_a_source_profile_never_prints_it() {
    // The profile assumes a role with the keys of its source profile, whose
    // session token goes to STS and never comes out of the credential chain.
    let w = world();
    w.aws()
        .fault("AssumeRole", AwsFault::invalid_token_echoing_it(), 3);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/keeper-rotation\n\
         source_profile = base\nexternal_id = keeper-external-id-1\n",
    )
    .unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[base]\naws_access_key_id = {ADMIN_ID}\naws_secret_access_key = {ADMIN_SECRET}\n\
             aws_session_token = {CHAIN_TOKEN}\n"
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_PROFILE", "admin"),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ],
    );
    out.assert_exit(1);
    assert!(
        w.aws().actions().contains(&"AssumeRole".to_owned()),
        "{}",
        out.output()
    );
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_a_credential_process_source_profile_never_prints_it() {
    // The profile assumes a role with the keys its source profile's
    // credential_process prints: the process's session token goes to STS
    // and appears in no file and in no result of the credential chain.
    let w = world();
    w.aws()
        .fault("AssumeRole", AwsFault::invalid_token_echoing_it(), 3);
    let dir = tempfile::tempdir().unwrap();
    let process = dir.path().join("credentials.sh");
    std::fs::write(
        &process,
        format!(
            "#!/bin/sh\nprintf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"{ADMIN_ID}\", \
             \"SecretAccessKey\": \"{ADMIN_SECRET}\", \"SessionToken\": \"{CHAIN_TOKEN}\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&process, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile base]\ncredential_process = {}\n\n\
             [profile admin]\nrole_arn = arn:aws:iam::123456789012:role/keeper-rotation\n\
             source_profile = base\nexternal_id = keeper-external-id-1\n",
            process.display()
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("AWS_PROFILE", "admin"),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ],
    );
    out.assert_exit(1);
    assert!(
        w.aws().actions().contains(&"AssumeRole".to_owned()),
        "{}",
        out.output()
    );
    assert_token_not_shown(&out);
}

#[test]
fn a_403_that_echoes_the_session_token_of_a_source_profile_in_files_named_with_a_tilde_never_prints_it()
 {
    // AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE as `~/...`: the SDK
    // expands `~` to HOME and reads them, so their secrets must be
    // registered from the same paths.
    let w = world();
    w.aws()
        .fault("AssumeRole", AwsFault::invalid_token_echoing_it(), 3);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("gateway-aws")).unwrap();
    std::fs::write(
        home.path().join("gateway-aws/config"),
        "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/keeper-rotation\n\
         source_profile = base\nexternal_id = keeper-external-id-1\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("gateway-aws/credentials"),
        format!(
            "[base]\naws_access_key_id = {ADMIN_ID}\naws_secret_access_key = {ADMIN_SECRET}\n\
             aws_session_token = {CHAIN_TOKEN}\n"
        ),
    )
    .unwrap();
    let out = w.run_with(
        "default-chain.json",
        &[],
        &[
            ("HOME", home.path().to_str().unwrap()),
            ("AWS_PROFILE", "admin"),
            ("AWS_CONFIG_FILE", "~/gateway-aws/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "~/gateway-aws/credentials"),
        ],
    );
    out.assert_exit(1);
    assert!(
        w.aws().actions().contains(&"AssumeRole".to_owned()),
        "{}",
        out.output()
    );
    assert_token_not_shown(&out);
}
