//! Editing authorized_keys as its owner.

use super::*;

const OPTIONS: &str = "from=\"127.0.0.1,::1\",command=\"/bin/echo 'a, b'\",no-pty";

fn keys_setup(user: User) -> Setup {
    Setup::default()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("ops").password(ADMIN_PW))
        .sudoers("ops ALL=(ALL) NOPASSWD: ALL")
        .user(user)
}

fn edit_and_write(
    sshd: &Sshd,
    admin: &str,
    admin_pw: &str,
    owner: Owner,
    user: &str,
) -> (KeysFile, String, Result<(), KeysError>) {
    let path = format!("/home/{user}/.ssh/authorized_keys");
    let new_key = keys::generate(KeyType::Ed25519, "").unwrap();
    let new_line = keys::public_line(new_key.public_key(), "").unwrap();
    block_on(async {
        let session = login(sshd, admin, &password(admin_pw)).await;
        let read = remote::read_keys(
            &session,
            &KeysPath {
                owner,
                user,
                path: &path,
                admin_password: None,
            },
        )
        .await
        .unwrap();
        let mut file = AuthorizedKeys::parse(read.content());
        let current = file.entries().next().map(|(_, e)| e.blob.clone());
        let edit = file.add_tagged(&new_line, user, current.as_deref());
        assert!(matches!(edit, Edit::Added { .. }), "{edit:?}");
        let written = remote::write_keys(
            &session,
            &KeysPath {
                owner,
                user,
                path: &path,
                admin_password: None,
            },
            &read,
            &file.render(),
            "20260101T000000Z",
            "writing authorized_keys (test)",
        )
        .await;
        (read, new_line, written)
    })
}

#[test]
fn root_edits_authorized_keys_as_the_owner_keeping_options_and_other_lines() {
    let original = format!(
        "# managed by hand\n\n{OPTIONS} {}  laptop\ncert-authority ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ca\nsk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIJjZ yubikey",
        keys::public_line(
            keys::generate(KeyType::Ed25519, "").unwrap().public_key(),
            ""
        )
        .unwrap()
    );
    let Some(sshd) = Sshd::start(&keys_setup(User::new("alice").authorized_keys(&original))) else {
        return;
    };
    let (read, new_line, written) = edit_and_write(&sshd, "root", ROOT_PW, Owner::Root, "alice");
    written.unwrap();
    assert!(matches!(read, KeysFile::Present { .. }));
    let after = sshd.authorized_keys("alice").unwrap();
    let lines: Vec<&str> = after.lines().collect();
    let before: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), before.len() + 1);
    assert_eq!(lines[..3], before[..3]);
    assert_eq!(
        lines[3],
        format!("{OPTIONS} {new_line} {}", authorized_keys::tag("alice"))
    );
    assert_eq!(lines[4..], before[3..]);
    let (_, owner) = sshd.run_inside(
        None,
        "stat -c '%U %a' /home/alice/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(owner.trim(), "alice 600");
    let backups = std::fs::read_dir(sshd.home("alice").join(".ssh"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".bak")
        })
        .count();
    assert_eq!(backups, 1);
}

#[test]
fn a_missing_ssh_directory_is_created_700_by_the_owner_through_sudo() {
    let Some(sshd) = Sshd::start(&keys_setup(User::new("dave"))) else {
        return;
    };
    let (read, new_line, written) = edit_and_write(&sshd, "ops", ADMIN_PW, Owner::Sudo, "dave");
    written.unwrap();
    assert_eq!(read, KeysFile::Absent);
    assert_eq!(
        sshd.authorized_keys("dave").unwrap(),
        format!("{new_line} keeper-security-dave\n")
    );
    let (_, stat) = sshd.run_inside(
        None,
        "stat -c '%U %a' /home/dave/.ssh /home/dave/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(stat, "dave 700\ndave 600\n");
}

#[test]
fn a_symlinked_authorized_keys_is_refused() {
    let Some(sshd) = Sshd::start(&keys_setup(User::new("erin").authorized_keys(""))) else {
        return;
    };
    let (code, out) = sshd.run_inside(
        Some("erin"),
        "rm ~/.ssh/authorized_keys && ln -s /etc/passwd ~/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(code, 0, "{out}");
    let err = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        let at = KeysPath {
            owner: Owner::Root,
            user: "erin",
            path: "/home/erin/.ssh/authorized_keys",
            admin_password: None,
        };
        remote::read_keys(&session, &at).await
    })
    .unwrap_err();
    assert_eq!(err, KeysError::Symlink);
    assert!(err.to_string().contains("symlink"));
}

#[test]
fn a_change_between_read_and_write_is_detected_and_nothing_is_written() {
    let Some(sshd) = Sshd::start(&keys_setup(
        User::new("fred").authorized_keys("ssh-rsa AAAAB3NzaC1yc2E= first\n"),
    )) else {
        return;
    };
    let path = "/home/fred/.ssh/authorized_keys";
    let err = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        let read = remote::read_keys(
            &session,
            &KeysPath {
                owner: Owner::Root,
                user: "fred",
                path,
                admin_password: None,
            },
        )
        .await
        .unwrap();
        // Someone else edits the file in between.
        let (code, _) = sshd.run_inside(
            Some("fred"),
            "echo 'ssh-rsa AAAAB3NzaC1yc2E= concurrent' >> ~/.ssh/authorized_keys",
            b"",
        );
        assert_eq!(code, 0);
        remote::write_keys(
            &session,
            &KeysPath {
                owner: Owner::Root,
                user: "fred",
                path,
                admin_password: None,
            },
            &read,
            "ssh-ed25519 AAAA mine\n",
            "20260101T000000Z",
            "writing authorized_keys (test)",
        )
        .await
    })
    .unwrap_err();
    assert_eq!(err, KeysError::Changed);
    assert!(
        sshd.authorized_keys("fred")
            .unwrap()
            .ends_with("concurrent\n")
    );
}

#[test]
fn the_user_edits_their_own_authorized_keys_and_the_new_key_logs_in() {
    let old = keys::generate(KeyType::Ed25519, "").unwrap();
    let old_line = keys::public_line(old.public_key(), "old").unwrap();
    let Some(sshd) = Sshd::start(
        &root_setup().user(User::new("gina").authorized_keys(&format!("{old_line}\n"))),
    ) else {
        return;
    };
    let new = keys::generate(KeyType::Ecdsa(russh::keys::EcdsaCurve::NistP256), "").unwrap();
    let new_line = keys::public_line(new.public_key(), "").unwrap();
    let old_credential = Credential::Key(Arc::new(old));
    block_on(async {
        let session = login(&sshd, "gina", &old_credential).await;
        let path = "/home/gina/.ssh/authorized_keys";
        let read = remote::read_keys(
            &session,
            &KeysPath {
                owner: Owner::SelfUser,
                user: "gina",
                path,
                admin_password: None,
            },
        )
        .await
        .unwrap();
        let mut file = AuthorizedKeys::parse(read.content());
        file.add_tagged(&new_line, "gina", authorized_keys::blob_of(&old_line));
        remote::write_keys(
            &session,
            &KeysPath {
                owner: Owner::SelfUser,
                user: "gina",
                path,
                admin_password: None,
            },
            &read,
            &file.render(),
            "20260101T000000Z",
            "writing authorized_keys (test)",
        )
        .await
        .unwrap();
    });
    assert!(can_login(&sshd, "gina", &Credential::Key(Arc::new(new))));
    assert!(
        can_login(&sshd, "gina", &old_credential),
        "adding a line keeps the other lines"
    );
}

#[test]
fn sshd_t_as_root_names_both_key_files() {
    let Some(sshd) = Sshd::start(&root_setup()) else {
        return;
    };
    let keys = block_on(async {
        let session = login(&sshd, "root", &password(ROOT_PW)).await;
        let out = session
            .exec(
                remote::SSHD_T,
                &["alice", "gateway", "127.0.0.1"],
                b"",
                false,
            )
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        remote::parse_sshd_t(&out.stdout, "alice", "/home/alice")
    });
    assert_eq!(
        keys.files,
        vec![
            "/home/alice/.ssh/authorized_keys",
            "/home/alice/.ssh/authorized_keys2"
        ]
    );
    assert_eq!(keys.command, None);
}
