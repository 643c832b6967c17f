//! Acceptance tests of rotate-ssh-user's building blocks against a real
//! OpenSSH server (harness::sshd: a private mount namespace, as root). Each
//! test is one scenario; where the machine cannot run sshd the test prints
//! one `skipped: …` line and passes (under CI it fails instead: see
//! `harness::sshd`).
//!
//! Every secret a test uses is registered with the redactor (`Secret::new`),
//! so `ssh::Session::exec` refuses any command line holding one, and every
//! error and output a test sees is checked for leaks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly when the server or a fixture is broken"
)]

use std::sync::Arc;
use std::time::Duration;

use common::deadline::Deadline;
use common::secret::Secret;
use harness::sshd::{ChpasswdFault, Setup, Sshd, User};
use rotate_ssh_user::authorized_keys::{self, AuthorizedKeys, Edit};
use rotate_ssh_user::keys::{self, Family, KeyType};
use rotate_ssh_user::remote::{
    self, KeysError, KeysFile, KeysPath, Owner, PasswordPath, Problem, SudoAccess,
};
use rotate_ssh_user::ssh::{self, Auth, Credential, HostKeyPins, Output, Session, SshError};
use rotate_ssh_user::target::HostPort;

mod authentication;
mod editing_authorized_keys;
mod passwords;
mod pinning;
mod secrets;

const ADMIN_PW: &str = "Adm1n-Secret-pw";
const OLD_PW: &str = "Alice-Old-pw-42";
const NEW_PW: &str = "Alice-New-pw-77!";
const ROOT_PW: &str = "R00t-Secret-pw";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn endpoint(sshd: &Sshd) -> HostPort {
    HostPort {
        host: "127.0.0.1".into(),
        port: sshd.port(),
    }
}

fn pins(sshd: &Sshd) -> HostKeyPins {
    HostKeyPins::parse(sshd.host_key()).expect("pin")
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn password(text: &str) -> Credential {
    Credential::Password(Secret::new(text))
}

/// Every secret of these tests; nothing a test prints or sees may hold one.
fn secrets() -> Vec<&'static str> {
    vec![ADMIN_PW, OLD_PW, NEW_PW, ROOT_PW]
}

fn assert_no_leak(text: &str) {
    for secret in secrets() {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}

async fn login(sshd: &Sshd, user: &str, credential: &Credential) -> Session {
    let mut session = ssh::connect(&endpoint(sshd), &pins(sshd), deadline())
        .await
        .expect("connect");
    session.login(user, credential).await.expect("login");
    session
}

fn can_login(sshd: &Sshd, user: &str, credential: &Credential) -> bool {
    block_on(ssh::probe(
        &endpoint(sshd),
        &pins(sshd),
        user,
        credential,
        deadline(),
    ))
    .expect("probe")
}

/// Runs a password change built by `remote::password_change`.
async fn change(
    session: &Session,
    path: PasswordPath,
    user: &str,
    hashed: Option<&Secret>,
    admin: Option<&Secret>,
    old: Option<&Secret>,
) -> Result<Output, SshError> {
    let new = Secret::new(NEW_PW);
    let change = remote::password_change(path, user, &new, hashed, admin, old).expect("change");
    session
        .exec(change.script, &change.args, &change.stdin, change.pty)
        .await
}

fn root_setup() -> Setup {
    Setup::default()
        .user(User::new("root").password(ROOT_PW))
        .user(User::new("alice").password(OLD_PW))
}

fn sudo_setup(rule: &str) -> Setup {
    Setup::default()
        .user(User::new("ops").password(ADMIN_PW))
        .user(User::new("alice").password(OLD_PW))
        .sudoers(rule)
}
