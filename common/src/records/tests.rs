use super::*;

fn records(json: &str, user: Option<&str>) -> Records {
    Records::parse(json.as_bytes(), user).unwrap()
}

#[test]
fn lookup_ignores_case_and_accepts_numbered_duplicates() {
    let r = records(
        r#"[{"uid":"a","title":"T","URL":"","url2":"https://two","note 3":"n"}]"#,
        None,
    );
    let rec = &r.all()[0];
    assert_eq!(rec.text("url").unwrap().as_deref(), Some("https://two"));
    assert_eq!(rec.text("Note").unwrap().as_deref(), Some("n"));
    assert_eq!(rec.text("url2").unwrap().as_deref(), Some("https://two"));
    assert!(rec.text("ur").unwrap().is_none());
}

#[test]
fn the_first_of_two_filled_fields_wins_in_record_order() {
    let r = records(r#"[{"uid":"a","title":"T","zeta":"1","zeta1":"2"}]"#, None);
    assert_eq!(r.all()[0].text("zeta").unwrap().as_deref(), Some("1"));
    let r = records(r#"[{"uid":"a","title":"T","zeta2":"2","Zeta":"1"}]"#, None);
    assert_eq!(r.all()[0].text("zeta").unwrap().as_deref(), Some("1"));
}

#[test]
fn the_user_record_is_never_among_the_others() {
    let r = records(
        r#"[{"uid":"u","title":"API Access Details","url":"x","password":"p1"},
            {"uid":"a","title":"API Access Details","url":"y","password":"p2"}]"#,
        Some("u"),
    );
    assert_eq!(r.user().unwrap().uid(), "u");
    let titled = r.titled("API Access Details");
    assert_eq!(titled.len(), 1);
    assert_eq!(titled[0].uid(), "a");
    assert_eq!(r.holding(&["url", "password"]).len(), 1);
}

#[test]
fn the_pam_configuration_and_resource_are_not_attached_records() {
    let mut r = records(
        r#"[{"uid":"C","title":"API","url":"x","password":"p1"},
            {"uid":"R","title":"API","url":"y","password":"p2"},
            {"uid":"A","title":"API","url":"z","password":"p3"}]"#,
        None,
    );
    r.set_pam_record_uids(Some("C"), Some(" R "));
    assert_eq!(r.others().count(), 3);
    let uids = |list: Vec<&Record>| list.iter().map(|r| r.uid().to_owned()).collect::<Vec<_>>();
    assert_eq!(uids(r.titled("API")), ["A"]);
    assert_eq!(uids(r.holding(&["url", "password"])), ["A"]);
}

#[test]
fn titles_match_exactly_first_then_ignoring_case() {
    let r = records(
        r#"[{"uid":"a","title":"api access details"},{"uid":"b","title":"API Access Details"}]"#,
        None,
    );
    assert_eq!(r.titled("API Access Details")[0].uid(), "b");
    assert_eq!(r.titled(" API ACCESS DETAILS ").len(), 2);
}

#[test]
fn single_item_lists_numbers_and_booleans_read_as_text() {
    let r = records(
        r#"[{"uid":"a","title":"T","l":["one"],"n":42,"b":true,"o":{"hostName":"h"},"m":["x","y"]}]"#,
        None,
    );
    let rec = &r.all()[0];
    assert_eq!(rec.text("l").unwrap().as_deref(), Some("one"));
    assert_eq!(rec.text("n").unwrap().as_deref(), Some("42"));
    assert_eq!(rec.flag("b").unwrap(), Some(true));
    let err = rec.text("o").unwrap_err().to_string();
    assert!(err.contains("'o' in record 'T' (uid a)"), "{err}");
    assert!(rec.text("m").is_err());
}

#[test]
fn secrets_are_untrimmed_and_text_is_trimmed() {
    let r = records(
        r#"[{"uid":"a","title":"T","password":" p w ","url":" u "}]"#,
        None,
    );
    let rec = &r.all()[0];
    assert_eq!(rec.secret("password").unwrap().unwrap().expose(), " p w ");
    assert_eq!(rec.text("url").unwrap().as_deref(), Some("u"));
}

#[test]
fn values_under_secret_keys_are_registered_for_redaction() {
    let _r = records(
        r#"[{"uid":"a","title":"T","client_secret":"cs-records-test","keyPair":{"privateKey":"pk-records-test"}}]"#,
        None,
    );
    let out = crate::secret::redact("cs-records-test and pk-records-test");
    assert_eq!(out, "[redacted] and [redacted]");
}

#[test]
fn field_names_are_secrets_by_known_name_or_secret_word_unless_a_setting() {
    for secret in [
        "password",
        "Password",
        "oldPassword",
        "password2",
        "password 2",
        "client_secret",
        "clientSecret",
        "aws_secret_access_key",
        "accessSecretKey",
        "privateKey",
        "privatePEMKey",
        "private_key",
        "ssh_private_key",
        "keyPair",
        "apiKey",
        "api_key",
        "token",
        "access_token",
        "passphrase",
        "oneTimeCode",
        "pinCode",
        "secret",
        "secretText",
        "cookie",
        // Lookups ignore case, so whatever reads as `password` is one.
        "pasSword",
        "PassWord2",
        "Client_Secret",
        "clientSECRET",
        // A secret named for its rotation is still a secret.
        "passwordToRotate",
        "Secret to rotate",
        "API Token (rotate)",
    ] {
        assert!(names_a_secret(secret), "{secret} should be a secret");
    }
    for setting in [
        "client_secret_id",
        "clientSecretId",
        "keep_previous_secrets",
        "secret_expiry_days",
        "token_url",
        "tokenEndpoint",
        "passwordComplexity",
        "password_rotation_days",
        "secret_count",
        "api_record_title",
        "okta_record_title",
        "accessKeyId",
        "aws_access_key_id",
        "clientId",
        "application_client_id",
        "auth_header",
        "auth_scheme",
        "login",
        "url",
        "rotate_secret",
        "use_token",
        "max_tokens",
    ] {
        assert!(!names_a_secret(setting), "{setting} should not be a secret");
    }
}

#[test]
fn a_short_secret_string_is_redacted_where_it_stands_as_a_word() {
    let _r = records(
        r#"[{"uid":"a","title":"T","password":"4711","client_secret":["abcdef-long-enough"]}]"#,
        None,
    );
    assert_eq!(
        crate::secret::redact("pin '4711' refused; port 47110, id x-4711 kept"),
        "pin '[redacted]' refused; port 47110, id x-4711 kept"
    );
    assert_eq!(crate::secret::redact("abcdef-long-enough"), "[redacted]");
}

#[test]
fn numbers_flags_and_blank_strings_are_never_registered() {
    let _r = records(
        r#"[{"uid":"a","title":"T","secret":365000,"token":true,"pinCode":"  ",
             "login":"svc","password":" ","password_hash_locally":"yes",
             "Private Key Rotate":"FALSE"}]"#,
        None,
    );
    let text = "365000 true, a b + c; hash locally: yes; 'Private Key Rotate' is FALSE";
    assert_eq!(crate::secret::redact(text), text);
}

#[test]
fn settings_named_like_secrets_are_not_registered() {
    let _r = records(
        r#"[{"uid":"a","title":"T","client_secret_id":"key-id-000001",
             "keep_previous_secrets":"2","secret_expiry_days":"365"}]"#,
        None,
    );
    let text = "key-id-000001 keeps 2, expires 2027-01-23 after 365 days";
    assert_eq!(crate::secret::redact(text), text);
}

#[test]
fn a_private_key_is_a_secret_whatever_its_field_is_called() {
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----";
    let _r = records(
        &format!(
            r#"[{{"uid":"a","title":"T","privatePEMKey":"pem-field-value-1","notes":["{pem}"]}}]"#
        ),
        None,
    );
    assert_eq!(
        crate::secret::redact("pem-field-value-1 b3BlbnNzaC1rZXktdjEAAAAA"),
        "[redacted] [redacted]"
    );
}

#[test]
fn a_login_and_password_are_registered_as_basic_authentication_too() {
    use base64::Engine;
    let _r = records(
        r#"[{"uid":"a","title":"T","login":"svc-user","password":"pw-basic-1"}]"#,
        None,
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("svc-user:pw-basic-1");
    assert_eq!(
        crate::secret::redact(&format!("Basic {basic}")).trim_end_matches('='),
        "Basic [redacted]"
    );
}

#[test]
fn reading_records_past_the_deadline_is_bad_input() {
    let expired = Deadline::after(std::time::Duration::ZERO);
    let err =
        Records::parse_within(br#"[{"uid":"a","title":"T","x":"1"}]"#, None, &expired).unwrap_err();
    assert_eq!(err.exit().code(), 2);
    assert!(
        err.to_string()
            .contains("took longer than the run's deadline of 0 s"),
        "{err}"
    );
}

#[test]
fn too_many_secret_values_are_bad_input() {
    let values: Vec<String> = (0..crate::secret::MAX_SECRETS + 1)
        .map(|n| format!("\"value-{n:08}\""))
        .collect();
    let json = format!(
        r#"[{{"uid":"a","title":"T","token":[{}]}}]"#,
        values.join(",")
    );
    let err = Records::parse(json.as_bytes(), None).unwrap_err();
    assert_eq!(err.exit().code(), 2);
    assert!(err.to_string().contains("too many secret values"), "{err}");
}

#[test]
fn malformed_records_are_input_errors_naming_the_index() {
    for (json, expected) in [
        (
            r#"{"uid":"a"}"#,
            "'records' is an object, expected a JSON array",
        ),
        (
            r#""s3cret-value""#,
            "'records' is a string, expected a JSON array",
        ),
        (
            r#"[{"uid":"a"},"#,
            "not a JSON array of objects (the JSON ends early)",
        ),
        (r#"[{"uid":"a","title":"T"}, 5]"#, "records[1] is a number"),
        (r#"[{"title":"T"}]"#, "records[0] has no 'uid'"),
        (r#"[{"uid":7,"title":"T"}]"#, "records[0].uid is a number"),
    ] {
        let err = Records::parse(json.as_bytes(), None).unwrap_err();
        assert!(err.to_string().contains(expected), "{json}: {err}");
        assert_eq!(err.exit().code(), 2);
    }
}

fn cisco_admin<'a>(marker: &'a dyn Fn(&Record) -> bool) -> AdminRecord<'a> {
    AdminRecord {
        noun: "Meraki admin record",
        title_field: "meraki_record_title",
        titles: &["Cisco Authentication Record"],
        marked: "holding a network_id",
        marker,
        foreign: Some(&|r| r.has("host_endpoint") && !r.has("network_id")),
        attach: "a record titled 'Cisco Authentication Record'",
    }
}

#[test]
fn the_admin_record_is_found_by_title_before_marker_and_never_the_user_record() {
    let marker = |r: &Record| r.has("network_id");
    let r = records(
        r#"[{"uid":"u","title":"Cisco Authentication Record","network_id":"N_1"},
            {"uid":"m","title":"Other","network_id":"N_2"},
            {"uid":"t","title":" cisco authentication record ","password":"k"}]"#,
        Some("u"),
    );
    assert_eq!(cisco_admin(&marker).find(&r).unwrap().uid(), "t");
    let r = records(
        r#"[{"uid":"u","title":"Cisco Authentication Record","network_id":"N_1"},
            {"uid":"m","title":"Other","network_id":"N_2"}]"#,
        Some("u"),
    );
    assert_eq!(cisco_admin(&marker).find(&r).unwrap().uid(), "m");
}

#[test]
fn two_admin_candidates_are_never_guessed_between_and_the_message_names_the_field() {
    let marker = |r: &Record| r.has("network_id");
    let r = records(
        r#"[{"uid":"u","title":"user"},
            {"uid":"a","title":"One","network_id":"N_1"},
            {"uid":"b","title":"Two","network_id":"N_2"}]"#,
        Some("u"),
    );
    let error = cisco_admin(&marker).find(&r).unwrap_err();
    assert_eq!(error.exit(), crate::Exit::BadInput);
    let text = error.to_string();
    assert!(text.contains("holding a network_id"), "{text}");
    assert!(text.contains("meraki_record_title"), "{text}");
    let r = records(
        r#"[{"uid":"u","title":"user","meraki_record_title":"Gone"}]"#,
        Some("u"),
    );
    let text = cisco_admin(&marker).find(&r).unwrap_err().to_string();
    assert!(
        text.contains("no attached record is titled 'Gone'"),
        "{text}"
    );
}

#[test]
fn a_titled_record_that_is_another_binarys_is_passed_over() {
    let marker = |r: &Record| r.has("network_id");
    let r = records(
        r#"[{"uid":"u","title":"user"},
            {"uid":"x","title":"Cisco Authentication Record","host_endpoint":"10.0.0.1"},
            {"uid":"m","title":"Cisco Authentication Record","network_id":"N_1"}]"#,
        Some("u"),
    );
    assert_eq!(cisco_admin(&marker).find(&r).unwrap().uid(), "m");
    let r = records(
        r#"[{"uid":"u","title":"user"},
            {"uid":"x","title":"Cisco Authentication Record","host_endpoint":"10.0.0.1"}]"#,
        Some("u"),
    );
    let text = cisco_admin(&marker).find(&r).unwrap_err().to_string();
    assert!(text.contains("no Meraki admin record found"), "{text}");
}
