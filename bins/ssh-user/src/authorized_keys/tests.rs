use proptest::prelude::*;

use super::*;

const OLD: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOLDoldOLDoldOLDoldOLDoldOLDoldOLDoldOLDold";
const NEW: &str = "AAAAC3NzaC1lZDI1NTE5AAAAINEWnewNEWnewNEWnewNEWnewNEWnewNEWnewNEWnew";
const NEWER: &str = "AAAAC3NzaC1lZDI1NTE5AAAAINEWERnewerNEWERnewerNEWERnewerNEWERnewerNE";

fn new_line(blob: &str) -> String {
    format!("ssh-ed25519 {blob} whatever-comment")
}

#[test]
fn parses_keys_with_and_without_options_and_ignores_the_rest() {
    let file = AuthorizedKeys::parse(concat!(
        "# managed by cloud-init\n",
        "\n",
        "   \n",
        "ssh-rsa AAAAB3NzaC1yc2E= awsdemo\n",
        "from=\"10.0.0.1,10.0.0.2\",command=\"echo 'a, b'\" ssh-ed25519 AAAAC3Nz  me@host  \n",
        "cert-authority,principals=\"ops\" ecdsa-sha2-nistp256 AAAAE2Vj ca\n",
        "sk-ssh-ed25519@openssh.com AAAAGnNr yubikey\n",
        "not a key at all\n",
        "command=\"unterminated ssh-ed25519 AAAA\n",
        "\tssh-ed25519 AAAAindented\n",
    ));
    let entries: Vec<(usize, &Entry)> = file.entries().collect();
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0].0, 4);
    assert_eq!(entries[0].1.comment, "awsdemo");
    assert_eq!(entries[0].1.options, None);
    assert_eq!(
        entries[1].1.options.as_deref(),
        Some("from=\"10.0.0.1,10.0.0.2\",command=\"echo 'a, b'\"")
    );
    assert_eq!(entries[1].1.comment, "me@host");
    assert_eq!(
        entries[2].1.options.as_deref(),
        Some("cert-authority,principals=\"ops\"")
    );
    assert_eq!(entries[3].1.key_type, "sk-ssh-ed25519@openssh.com");
    assert_eq!(
        (entries[4].0, entries[4].1.blob.as_str()),
        (10, "AAAAindented")
    );
}

#[test]
fn an_escaped_quote_inside_options_does_not_end_them() {
    let file = AuthorizedKeys::parse("command=\"echo \\\"hi there\\\"\" ssh-ed25519 AAAA c\n");
    let (_, entry) = file.entries().next().unwrap();
    assert_eq!(
        entry.options.as_deref(),
        Some("command=\"echo \\\"hi there\\\"\"")
    );
    assert_eq!(entry.blob, "AAAA");
}

#[test]
fn rendering_an_unedited_file_gives_it_back_byte_for_byte() {
    for text in [
        "",
        "\n",
        "ssh-rsa AAAA x",
        "ssh-rsa AAAA x\r\n# c\r\n\r\n",
        "# only\n\n\n",
        "junk\tline\nssh-ed25519 AAAA\n",
    ] {
        assert_eq!(AuthorizedKeys::parse(text).render(), text);
    }
}

#[test]
fn first_rotation_keeps_the_untagged_line_and_adds_a_tagged_one_after_it() {
    let mut file = AuthorizedKeys::parse(&format!(
        "# top\nssh-ed25519 {OLD} awsdemo\nssh-rsa AAAAother cloud-agent\n"
    ));
    let edit = file.add_tagged(&new_line(NEW), "ec2-user", Some(OLD));
    assert_eq!(
        edit,
        Edit::Added {
            line: 3,
            options_from: None
        }
    );
    assert_eq!(
        file.render(),
        format!(
            "# top\nssh-ed25519 {OLD} awsdemo\nssh-ed25519 {NEW} keeper-security-ec2-user\nssh-rsa AAAAother cloud-agent\n"
        )
    );
    assert_eq!(file.find_tagged("ec2-user"), vec![3]);
}

#[test]
fn second_rotation_adds_next_to_the_tagged_line_then_removes_it() {
    let mut file = AuthorizedKeys::parse(&format!(
        "ssh-ed25519 {OLD} awsdemo\nssh-ed25519 {NEW} keeper-security-alice\n"
    ));
    assert_eq!(
        file.add_tagged(&new_line(NEWER), "alice", Some(NEW)),
        Edit::Added {
            line: 3,
            options_from: None
        }
    );
    assert_eq!(
        file.remove_tagged_except("alice", NEWER),
        Edit::Removed { lines: vec![2] }
    );
    assert_eq!(
        file.render(),
        format!("ssh-ed25519 {OLD} awsdemo\nssh-ed25519 {NEWER} keeper-security-alice\n")
    );
}

#[test]
fn the_new_line_copies_the_options_of_the_line_it_replaces() {
    let options = "from=\"10.0.0.0/8,192.168.1.1\",command=\"/usr/bin/rsync --server, -x\",no-pty";
    let mut file = AuthorizedKeys::parse(&format!("{options} ssh-ed25519 {OLD} laptop\n"));
    let edit = file.add_tagged(&new_line(NEW), "bob", Some(OLD));
    assert_eq!(
        edit,
        Edit::Added {
            line: 2,
            options_from: Some(1)
        }
    );
    assert_eq!(
        file.render(),
        format!(
            "{options} ssh-ed25519 {OLD} laptop\n{options} ssh-ed25519 {NEW} keeper-security-bob\n"
        )
    );
}

#[test]
fn the_tagged_line_is_the_template_over_the_current_key() {
    let mut file = AuthorizedKeys::parse(&format!(
        "no-pty ssh-ed25519 {OLD} old\nrestrict ssh-ed25519 {NEW} keeper-security-bob\n"
    ));
    let edit = file.add_tagged(&new_line(NEWER), "bob", Some(OLD));
    assert_eq!(
        edit,
        Edit::Added {
            line: 3,
            options_from: Some(2)
        }
    );
    assert!(file.render().ends_with(&format!(
        "restrict ssh-ed25519 {NEWER} keeper-security-bob\n"
    )));
}

#[test]
fn without_a_template_the_line_is_appended_and_a_missing_final_newline_is_added_before_it() {
    let mut file = AuthorizedKeys::parse("ssh-rsa AAAAx someone");
    file.add_tagged(&new_line(NEW), "carol", None);
    assert_eq!(
        file.render(),
        format!("ssh-rsa AAAAx someone\nssh-ed25519 {NEW} keeper-security-carol\n")
    );
    let mut empty = AuthorizedKeys::parse("");
    assert_eq!(
        empty.add_tagged(&new_line(NEW), "carol", Some(OLD)),
        Edit::Added {
            line: 1,
            options_from: None
        }
    );
    assert_eq!(
        empty.render(),
        format!("ssh-ed25519 {NEW} keeper-security-carol\n")
    );
}

#[test]
fn a_missing_final_newline_stays_missing_when_the_new_line_goes_elsewhere() {
    let text = format!("ssh-ed25519 {OLD} a\n# last, no newline");
    let mut file = AuthorizedKeys::parse(&text);
    file.add_tagged(&new_line(NEW), "dan", Some(OLD));
    assert!(file.render().ends_with("\n# last, no newline"));
}

#[test]
fn crlf_files_get_crlf_lines() {
    let mut file = AuthorizedKeys::parse(&format!("ssh-ed25519 {OLD} a\r\n"));
    file.add_tagged(&new_line(NEW), "erin", Some(OLD));
    assert_eq!(
        file.render(),
        format!("ssh-ed25519 {OLD} a\r\nssh-ed25519 {NEW} keeper-security-erin\r\n")
    );
}

#[test]
fn a_key_already_present_is_not_added_twice() {
    let mut file = AuthorizedKeys::parse(&format!("ssh-ed25519 {NEW} keeper-security-f\n"));
    assert_eq!(
        file.add_tagged(&new_line(NEW), "f", None),
        Edit::AlreadyPresent { line: 1 }
    );
    assert_eq!(file.entries().count(), 1);
}

#[test]
fn a_malformed_public_line_adds_nothing() {
    let mut file = AuthorizedKeys::parse("# x\n");
    assert_eq!(file.add_tagged("ssh-ed25519", "g", None), Edit::NotAKey);
    assert_eq!(file.render(), "# x\n");
}

#[test]
fn the_tag_matches_a_whole_word_and_keepers_squeezed_form() {
    let file = AuthorizedKeys::parse(&format!(
        "ssh-ed25519 {OLD} keeper-security-ec2user\nssh-ed25519 {NEW} keeper-security-ec2-user-other\nssh-ed25519 {NEWER} note keeper-security-ec2-user\n"
    ));
    assert_eq!(file.find_tagged("ec2-user"), vec![1, 3]);
    assert_eq!(file.find_tagged("ec2"), Vec::<usize>::new());
}

#[test]
fn remove_blob_removes_every_line_with_that_key_and_reports_none_when_absent() {
    let mut file = AuthorizedKeys::parse(&format!(
        "ssh-ed25519 {OLD} a\n# keep\nno-pty ssh-ed25519 {OLD} b\n"
    ));
    assert_eq!(file.remove_blob(OLD), Edit::Removed { lines: vec![1, 3] });
    assert_eq!(file.render(), "# keep\n");
    assert_eq!(file.remove_blob(OLD), Edit::NothingToRemove);
    assert_eq!(
        Edit::Removed { lines: vec![1, 3] }.to_string(),
        "removed line(s) 1, 3"
    );
}

#[test]
fn blob_of_reads_the_second_word() {
    assert_eq!(blob_of("ssh-ed25519 AAAA c"), Some("AAAA"));
    assert_eq!(blob_of("ssh-ed25519"), None);
}

/// Lines of every kind a real file holds.
fn any_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ \t]{0,3}".prop_map(|s| s),
        "# [ -~]{0,30}".prop_map(|s| s),
        ("[A-Za-z0-9+/]{4,40}", "[ -~]{0,20}").prop_map(|(b, c)| format!("ssh-rsa AAAA{b} {c}")),
        ("[A-Za-z0-9+/]{4,40}", "[a-z0-9@.-]{0,12}").prop_map(|(b, c)| format!(
            "from=\"10.0.0.1,10.0.0.2\",command=\"echo 'x, y'\" ssh-ed25519 AAAA{b} {c}"
        )),
        "[A-Za-z0-9+/]{4,20}"
            .prop_map(|b| format!("cert-authority ecdsa-sha2-nistp256 AAAA{b} ca")),
        "[A-Za-z0-9+/]{4,20}".prop_map(|b| format!("sk-ssh-ed25519@openssh.com AAAA{b}")),
        "[A-Za-z0-9+/]{4,20}".prop_map(|b| format!("ssh-ed25519 AAAA{b} keeper-security-prop")),
        "[ -~]{0,40}".prop_map(|s| s),
    ]
}

fn file_text() -> impl Strategy<Value = (Vec<String>, Vec<bool>, bool)> {
    prop::collection::vec(any_line(), 0..12).prop_flat_map(|lines| {
        let n = lines.len();
        (
            Just(lines),
            prop::collection::vec(any::<bool>(), n),
            any::<bool>(),
        )
    })
}

fn assemble(lines: &[String], crlf: &[bool], final_newline: bool) -> String {
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        text.push_str(line);
        let last = i + 1 == lines.len();
        if !last || final_newline {
            text.push_str(if crlf[i] { "\r\n" } else { "\n" });
        }
    }
    text
}

/// The file's lines without terminators.
fn split(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
        .collect();
    if text.ends_with('\n') || text.is_empty() {
        v.pop();
    }
    v
}

/// Whether `small` appears in `big` in order (a subsequence).
fn is_subsequence(small: &[String], big: &[String]) -> bool {
    let mut it = big.iter();
    small.iter().all(|s| it.any(|b| b == s))
}

proptest! {
    #[test]
    fn parsing_and_rendering_is_the_identity((lines, crlf, nl) in file_text()) {
        let text = assemble(&lines, &crlf, nl);
        prop_assert_eq!(AuthorizedKeys::parse(&text).render(), text);
    }

    #[test]
    fn adding_keeps_every_other_line_byte_for_byte((lines, crlf, nl) in file_text(), with_current in any::<bool>()) {
        let text = assemble(&lines, &crlf, nl);
        let mut file = AuthorizedKeys::parse(&text);
        let current = file.entries().next().map(|(_, e)| e.blob.clone());
        let edit = file.add_tagged(&new_line(NEW), "prop", current.as_deref().filter(|_| with_current));
        let out = file.render();
        let before = split(&text);
        let after = split(&out);
        prop_assert_eq!(after.len(), before.len() + 1, "{:?}", edit);
        let Edit::Added { line, .. } = edit else { return Err(TestCaseError::fail("not added")); };
        let mut without = after.clone();
        let added = without.remove(line - 1);
        prop_assert_eq!(&without, &before);
        let expected = format!("ssh-ed25519 {NEW} keeper-security-prop");
        prop_assert!(added.ends_with(&expected));
        // Untouched lines keep their terminators too: only the line right
        // before the new one may gain "\n" (a last line without one).
        let untouched: usize = text.split_inclusive('\n').take(line.saturating_sub(2)).map(str::len).sum();
        prop_assert_eq!(&out[..untouched], &text[..untouched]);
        let tail_before: String = text.split_inclusive('\n').skip(line - 1).collect();
        prop_assert!(out.ends_with(&tail_before));
    }

    #[test]
    fn removing_keeps_every_other_line_in_order((lines, crlf, nl) in file_text()) {
        let text = assemble(&lines, &crlf, nl);
        let mut file = AuthorizedKeys::parse(&text);
        let tagged = file.find_tagged("prop").len();
        let edit = file.remove_tagged_except("prop", "none");
        let before = split(&text);
        let after = split(&file.render());
        prop_assert_eq!(after.len(), before.len() - tagged, "{:?}", edit);
        prop_assert!(is_subsequence(&after, &before));
        prop_assert!(after.iter().all(|l| !AuthorizedKeys::parse(l).entries().any(|(_, e)| e.is_tagged_for("prop"))));
    }
}
