//! The rehearsal's verdict can fail.

use super::*;

/// The ssh-user rehearsal world (as `harness demo ssh-user` starts it), and
/// a session on its fake machine as the fixture's admin, with the client
/// the binary uses.
fn rehearsal_session() -> (
    harness::rehearsal::World,
    tokio::runtime::Runtime,
    rotate_ssh_user::ssh::Session,
) {
    use common::deadline::Deadline;
    use common::secret::Secret;
    use rotate_ssh_user::ssh::{self, Credential, HostKeyPins};
    use rotate_ssh_user::target::HostPort;

    let case = harness::rehearsal::use_case("ssh-user").unwrap();
    let world =
        harness::rehearsal::World::start(&harness::rehearsal::Rehearsal::fixture(case).unwrap())
            .unwrap();
    let machine = world
        .dicts()
        .iter()
        .find(|d| d.contains_key("pamHostname"))
        .unwrap()
        .clone();
    let endpoint = HostPort {
        host: "127.0.0.1".into(),
        port: machine["pamHostname"]["port"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    };
    let pins = HostKeyPins::parse(machine["SSH Host Key"].as_str().unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let session = runtime.block_on(async {
        let mut session = ssh::connect(
            &endpoint,
            &pins,
            Deadline::after(std::time::Duration::from_secs(20)),
        )
        .await
        .unwrap();
        session
            .login(
                "ec2-user",
                &Credential::Password(Secret::new("Ec2-Admin-Secret-pw-1")),
            )
            .await
            .unwrap();
        session
    });
    (world, runtime, session)
}

fn exited_1() -> Outcome {
    Outcome {
        code: Some(1),
        stdout: "rotate-ssh-user: exit 1 (failed, nothing changed)\n".into(),
        stderr: String::new(),
        elapsed: std::time::Duration::ZERO,
        timed_out: false,
    }
}

#[test]
fn the_rehearsal_rejects_a_run_that_put_a_secret_in_a_command_line() {
    let (world, runtime, session) = rehearsal_session();
    assert_eq!(world.verdict(&exited_1(), false), Ok(()), "as seeded");
    let new_password = world.param("newPassword");
    runtime
        .block_on(session.exec(remote::HOME_OF, &[&new_password], b"", false))
        .unwrap();
    let why = world.verdict(&exited_1(), false).unwrap_err();
    assert!(why.contains("held a secret"), "{why}");
}

#[test]
fn the_rehearsal_rejects_a_key_nobody_holds_that_the_output_does_not_name() {
    let (world, runtime, session) = rehearsal_session();
    let at = remote::KeysPath {
        owner: remote::Owner::Sudo,
        user: "alice",
        path: "/home/alice/.ssh/authorized_keys",
        admin_password: None,
    };
    let stranger = include_str!("../../../../fixtures/keys/ecdsa384.openssh.pub");
    runtime.block_on(async {
        let read = remote::read_keys(&session, &at).await.unwrap();
        let content = format!("{}{stranger}", read.content());
        remote::write_keys(
            &session,
            &at,
            &read,
            &content,
            "20260101T000000Z",
            "a stranger",
        )
        .await
        .unwrap();
    });
    let why = world.verdict(&exited_1(), false).unwrap_err();
    assert!(why.contains("a key the vault does not hold"), "{why}");
}
