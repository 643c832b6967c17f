//! rotate-ssh-user end to end: the real binary, fed the Gateway's line,
//! against a real OpenSSH server in a private mount namespace
//! (`harness::sshd`, root only) and the fake Keeper vault (through the
//! unmodified KSM SDK). Each test is one scenario; where the machine cannot
//! run sshd, the test prints one `skipped: …` line and passes (under CI it
//! fails instead: see `harness::sshd`).
//!
//! The verdict is taken from the machine and the vault, never from what the
//! binary says about itself: the namespace's shadow entry and
//! `authorized_keys`, logins with the old and new credentials, and the
//! records the fake vault holds. Every run is scanned for every secret of
//! the scenario, the private keys' lines included, and, after the run, for
//! the new key the vault holds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken fixture or server"
)]

use std::sync::Arc;
use std::time::Duration;

use common::deadline::Deadline;
use common::secret::Secret;
use harness::sshd::{ChpasswdFault, Setup, Sshd, SudoPam, User};
use harness::{FakeVault, Outcome, Run, Scenario};
use rotate_ssh_user::keys;
use rotate_ssh_user::ssh::{self, Credential, HostKeyPins};
use rotate_ssh_user::target::HostPort;
use serde_json::{Value, json};

const BIN: harness::Binary = harness::binary!("rotate-ssh-user");

// The values the fixtures (fixtures/scenarios/ssh-user/*.json) hold.
const USER_UID: &str = "SshUserRecordUid000001";
const MACHINE_UID: &str = "SshMachineRecordUid001";
const ROOT_PW: &str = "R00t-Secret-pw-1";
const ADMIN_PW: &str = "Adm1n-Secret-pw-1";
const OLD_PW: &str = "Alice-Old-pw-42";
const NEW_PW: &str = "Alice-New-pw-77!";
const TAG: &str = "keeper-security-alice";

/// A private key from `fixtures/keys/`.
fn fixture_key(name: &str) -> String {
    std::fs::read_to_string(
        harness::inputs::scenario::fixtures_dir()
            .join("keys")
            .join(name),
    )
    .unwrap()
}

/// `type base64` of a private key's public half.
fn public_of(private: &str) -> String {
    keys::parse(private).unwrap().public_line().unwrap()
}

fn fingerprint_of(private: &str) -> String {
    keys::fingerprint(keys::parse(private).unwrap().key.public_key())
}

/// The lines of a private key worth scanning for (a leak would be a
/// fragment as likely as the whole).
fn key_lines(private: &str) -> Vec<String> {
    let mut lines: Vec<String> = private
        .lines()
        .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    lines.push(private.to_owned());
    lines
}

fn root_admin() -> Setup {
    Setup::default().user(User::new("root").password(ROOT_PW))
}

fn sudo_admin(rule: &str) -> Setup {
    Setup::default()
        .user(User::new("ops").password(ADMIN_PW))
        .sudoers(rule)
}

fn alice() -> User {
    User::new("alice").password(OLD_PW)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// One machine, the Gateway's input for it, and the vault when the key is
/// rotated.
struct World {
    sshd: Sshd,
    scenario: Scenario,
    vault: Option<FakeVault>,
    secrets: Vec<String>,
}

impl World {
    /// `fixture` (`root-admin.json`, `sudo-admin.json`, `self.json`) pointed
    /// at this sshd and pinned to its host key.
    fn new(sshd: Sshd, fixture: &str) -> Self {
        let scenario = Scenario::load(&format!("scenarios/ssh-user/{fixture}"))
            .var("PORT", sshd.port().to_string())
            .var("HOST_KEY", sshd.host_key());
        Self {
            sshd,
            scenario,
            vault: None,
            secrets: vec![
                ROOT_PW.into(),
                ADMIN_PW.into(),
                OLD_PW.into(),
                NEW_PW.into(),
            ],
        }
    }

    /// The user record holds `private` (in the input and in the vault).
    fn key(mut self, private: &str) -> Self {
        self.scenario = self
            .scenario
            .record_field(USER_UID, "privatePEMKey", json!(private));
        self.secrets.extend(key_lines(private));
        self.vault = Some(vault_with_key(private));
        self
    }

    /// The vault, for runs that need it without a key.
    fn vault(mut self) -> Self {
        self.vault = Some(vault_with_key(""));
        self
    }

    /// Sets a user record field, in the input and in the vault.
    fn user_field(mut self, label: &str, value: &str) -> Self {
        self.scenario = self.scenario.record_field(USER_UID, label, json!(value));
        if let Some(vault) = &self.vault {
            vault.set_custom_field(USER_UID, label, value);
        }
        self
    }

    fn machine_field(mut self, label: &str, value: Value) -> Self {
        self.scenario = self.scenario.record_field(MACHINE_UID, label, value);
        self
    }

    fn runner(&self, args: &[&str]) -> Run {
        self.runner_for(&self.scenario, args)
    }

    /// A run of another input against this world (a second Gateway run).
    fn runner_for(&self, scenario: &Scenario, args: &[&str]) -> Run {
        let mut run = Run::new(BIN).scenario(scenario);
        for arg in args {
            run = run.arg(*arg);
        }
        if let Some(vault) = &self.vault {
            for (key, value) in vault.env() {
                run = run.env(&key, value);
            }
        }
        for secret in &self.secrets {
            run = run.secret(secret.clone());
        }
        run
    }

    /// Runs the binary; the new key (if the vault holds one) is scanned for
    /// after the run.
    fn run(&self, args: &[&str]) -> Outcome {
        self.checked(self.runner(args).run())
    }

    fn checked(&self, out: Outcome) -> Outcome {
        if let Some(stored) = self.stored_key() {
            assert_eq!(out.find_leak(&key_lines(&stored)), None, "{}", out.output());
        }
        out
    }

    /// The private key the vault's user record holds now.
    fn stored_key(&self) -> Option<String> {
        self.vault
            .as_ref()
            .and_then(|v| v.field(USER_UID, "privatePEMKey"))
            .filter(|k| !k.is_empty())
    }

    fn logs_in(&self, user: &str, credential: Credential) -> bool {
        let endpoint = HostPort {
            host: "127.0.0.1".into(),
            port: self.sshd.port(),
        };
        let pins = HostKeyPins::parse(self.sshd.host_key()).unwrap();
        block_on(ssh::probe(
            &endpoint,
            &pins,
            user,
            &credential,
            Deadline::after(Duration::from_secs(20)),
        ))
        .unwrap()
    }

    fn password_works(&self, user: &str, password: &str) -> bool {
        self.logs_in(user, Credential::Password(Secret::new(password)))
    }

    fn key_works(&self, user: &str, private: &str) -> bool {
        let key = keys::parse(private).unwrap().key;
        self.logs_in(user, Credential::Key(Arc::new(key)))
    }

    /// Whether `user`'s shadow entry holds `password`: crypt(3) of the
    /// host's libcrypt, through perl, so no failed login (and its PAM delay)
    /// is needed to show a password is refused.
    fn shadow_holds(&self, user: &str, password: &str) -> bool {
        use std::io::Write;
        let hash = self.sshd.shadow_hash(user).unwrap();
        let mut perl = std::process::Command::new("perl")
            .args([
                "-e",
                "my $p = <STDIN>; chomp $p; exit(crypt($p, $ARGV[0]) eq $ARGV[0] ? 0 : 1)",
                &hash,
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(perl.stdin.take().unwrap(), "{password}").unwrap();
        perl.wait().unwrap().success()
    }

    /// alice's password is `expected` (so not the other one): her shadow
    /// entry holds it, and it logs in.
    fn assert_password(&self, expected: &str) {
        let which = if expected == NEW_PW { "new" } else { "old" };
        assert!(
            self.shadow_holds("alice", expected),
            "alice's shadow entry should hold the {which} password"
        );
        assert!(
            self.password_works("alice", expected),
            "the {which} password should log in"
        );
    }

    fn authorized_keys(&self) -> String {
        self.sshd.authorized_keys("alice").unwrap_or_default()
    }
}

fn vault_with_key(private: &str) -> FakeVault {
    let path = harness::inputs::scenario::fixtures_dir().join("vault/ssh/records.json");
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.replace(
        "\"${PRIVATE_KEY}\"",
        &Value::String(private.into()).to_string(),
    );
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    FakeVault::start(&records)
}

/// A fresh Ed25519 key, as OpenSSH text.
fn new_ed25519() -> String {
    keys::encode(
        &keys::generate(keys::KeyType::Ed25519, "").unwrap(),
        keys::Family::OpenSsh,
    )
    .unwrap()
    .expose()
    .to_owned()
}

/// The lines of `text` holding a key with this public line's blob.
fn lines_with(text: &str, public: &str) -> Vec<String> {
    let blob = public.split_whitespace().nth(1).unwrap();
    text.lines()
        .filter(|l| l.split_whitespace().any(|w| w == blob))
        .map(str::to_owned)
        .collect()
}

// ------------------------------------------------------------ password paths

#[test]
fn root_changes_the_password_with_chpasswd_and_a_login_verifies_it() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("password changed with chpasswd as root (verified by a login)")
        .assert_stdout_has("SSH key not rotated (the user record has no privatePEMKey)")
        .assert_stderr_has("logged in as 'root' with a password (attached record 'web-1 root'");
    w.assert_password(NEW_PW);
}

#[test]
fn a_sudo_nopasswd_admin_changes_the_password_with_sudo_n() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("password changed with sudo -n chpasswd (verified by a login)");
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_asking_for_a_password_gets_the_admins_password_first() {
    let setup = sudo_admin("ops ALL=(root) /usr/sbin/chpasswd").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean().assert_stdout_has(
        "password changed with sudo -A chpasswd (the admin's password through an askpass helper) (verified by a login)",
    );
    w.assert_password(NEW_PW);
}

/// `listpw=always`: sudo asks a password to *list* rights, yet runs every
/// command without one. The admin password must not be sent: chpasswd
/// would read it as a `user:password` line.
fn sudo_that_asks_only_to_list() -> Setup {
    sudo_admin("Defaults:ops listpw=always\nops ALL=(ALL) NOPASSWD: ALL")
}

#[test]
fn sudo_that_asks_a_password_only_to_list_rights_never_gets_the_admins_password() {
    let Some(sshd) = Sshd::start(&sudo_that_asks_only_to_list().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("password changed with sudo -n chpasswd (verified by a login)");
    w.assert_password(NEW_PW);
    assert!(
        w.shadow_holds("ops", ADMIN_PW),
        "the admin's own password is untouched"
    );
}

#[test]
fn sudo_that_asks_a_password_only_to_list_rights_edits_the_keys_without_it() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup = sudo_that_asks_only_to_list().user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(ADMIN_PW),
        "the admin password reached the file"
    );
    assert!(keys.contains(&public_of(&w.stored_key().unwrap())));
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_asking_for_a_password_everywhere_edits_the_keys_with_it_after_sudo_n_was_refused() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup = sudo_admin("ops ALL=(ALL) ALL").user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated")
        .assert_stdout_has("sudo -A chpasswd (the admin's password through an askpass helper)");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(ADMIN_PW),
        "the admin password reached the file"
    );
    assert!(keys.contains(&public_of(&w.stored_key().unwrap())));
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", ADMIN_PW));
}

#[test]
fn a_sudo_timestamp_shared_across_sessions_never_turns_the_admins_password_into_input() {
    // timestamp_type=global: after one `sudo -S`, a later sudo would not
    // ask, and the password line would go to the script (the key file).
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup =
        sudo_admin("Defaults:ops timestamp_type=global, timestamp_timeout=5\nops ALL=(ALL) ALL")
            .user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(ADMIN_PW),
        "the admin password reached the file"
    );
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", ADMIN_PW));
}

#[test]
fn a_listpw_check_that_fails_for_another_reason_stops_before_the_admins_password_is_sent() {
    let setup = sudo_that_asks_only_to_list()
        .user(alice())
        .chpasswd(ChpasswdFault::Fail);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("checking whether it runs chpasswd without one failed")
        .assert_stderr_has("nothing was changed");
    w.assert_password(OLD_PW);
    assert!(w.shadow_holds("ops", ADMIN_PW));
}

// ------------------------------------ the admin's password and sudo's PAM

const ADMIN_UID: &str = "SshAdminRecordUid00001";
/// An admin password shaped like a `user:password` line: handed to
/// chpasswd, it would reset the admin's own password to what follows the
/// colon, and chpasswd would still exit 0.
const COLON_ADMIN_PW: &str = "ops:Colon-Adm1n-9";

/// ops, whose password is `COLON_ADMIN_PW`, may run chpasswd through sudo
/// after a password, and sudo's PAM stack is `pam`.
fn sudo_admin_with_pam(rule: &str, pam: SudoPam) -> Setup {
    Setup::default()
        .user(User::new("ops").password(COLON_ADMIN_PW))
        .sudoers(rule)
        .sudo_pam(pam)
}

impl World {
    /// The admin record's password is `password`.
    fn admin_password(mut self, password: &str) -> Self {
        self.scenario = self
            .scenario
            .clone()
            .record_field(ADMIN_UID, "password", json!(password));
        self.secrets.push(password.into());
        self
    }

    /// The admin record also holds `private` (which logs in first).
    fn admin_key(mut self, private: &str) -> Self {
        self.scenario =
            self.scenario
                .clone()
                .record_field(ADMIN_UID, "privatePEMKey", json!(private));
        self.secrets.extend(key_lines(private));
        self
    }
}

/// Asserts a password-only run through sudo whose PAM granted without a
/// prompt: alice has the new password, and the admin's own is untouched.
fn assert_admin_password_never_reached_chpasswd(w: &World, admin_password_now: &str) {
    let out = w.run(&[]);
    assert!(
        w.shadow_holds("ops", admin_password_now),
        "the admin's password line reached chpasswd and reset the admin's own password:\n{}",
        out.output()
    );
    out.assert_exit(0).assert_clean().assert_stdout_has(
        "password changed with sudo -A chpasswd (the admin's password through an askpass helper)",
    );
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_whose_pam_grants_by_group_without_asking_never_hands_the_admins_password_to_chpasswd() {
    let setup = sudo_admin_with_pam(
        "ops ALL=(root) /usr/sbin/chpasswd",
        SudoPam::GrantsGroup("ops".into()),
    )
    .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").admin_password(COLON_ADMIN_PW);
    assert_admin_password_never_reached_chpasswd(&w, COLON_ADMIN_PW);
}

#[test]
fn sudo_whose_pam_wheel_trusts_the_admin_never_hands_its_password_to_chpasswd() {
    let setup = sudo_admin_with_pam(
        "ops ALL=(root) /usr/sbin/chpasswd",
        SudoPam::WheelTrust("ops".into()),
    )
    .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").admin_password(COLON_ADMIN_PW);
    assert_admin_password_never_reached_chpasswd(&w, COLON_ADMIN_PW);
}

#[test]
fn sudo_granting_an_empty_password_field_nullok_never_hands_the_records_password_to_chpasswd() {
    let admin_key = fixture_key("ecdsa256.openssh");
    let setup = Setup::default()
        .user(
            User::new("ops")
                .password("Before-Emptied-1")
                .authorized_keys(&format!("{}\n", public_of(&admin_key))),
        )
        .sudoers("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::NullokEmptyPassword("ops".into()))
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json")
        .admin_password(COLON_ADMIN_PW)
        .admin_key(&admin_key);
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    let entry = w.sshd.shadow_entry("ops").unwrap();
    assert_eq!(
        entry.split(':').nth(1),
        Some(""),
        "the admin's password field is still empty (chpasswd never read the record's \
         'ops:…' password as a line)"
    );
}

#[test]
fn a_key_rotation_through_sudo_whose_pam_grants_without_asking_never_writes_the_admins_password() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let setup = sudo_admin_with_pam("ops ALL=(ALL) ALL", SudoPam::GrantsGroup("ops".into()))
        .user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json")
        .admin_password(COLON_ADMIN_PW)
        .key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated");
    let keys = w.authorized_keys();
    assert!(
        !keys.contains(COLON_ADMIN_PW),
        "the admin password reached the file"
    );
    assert_eq!(
        keys,
        format!("{} {TAG}\n", public_of(&w.stored_key().unwrap()))
    );
    let (_, leftovers) = w.sshd.run_inside(
        None,
        "grep -rlF -- 'Colon-Adm1n' /home /tmp 2>/dev/null; ls -d /tmp/keeper-askpass.* 2>/dev/null",
        b"",
    );
    assert_eq!(
        leftovers.trim(),
        "",
        "no file holds the admin password, and the askpass directory is gone"
    );
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", COLON_ADMIN_PW));
}

#[test]
fn a_stale_admin_password_is_offered_to_sudos_pam_once_and_the_users_new_password_never() {
    // The admin logs in by key; the record's password is out of date.
    let admin_key = fixture_key("ecdsa256.openssh");
    let setup = Setup::default()
        .user(
            User::new("ops")
                .password(ADMIN_PW)
                .authorized_keys(&format!("{}\n", public_of(&admin_key))),
        )
        .sudoers("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::RecordAttempts)
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let stale = "Stale-Admin-pw-3";
    let w = World::new(sshd, "sudo-admin.json")
        .admin_password(stale)
        .admin_key(&admin_key);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the password given was refused");
    assert_eq!(
        w.sshd.sudo_attempts(),
        [stale],
        "sudo's PAM stack got the stale password once, and nothing else (never a line of \
         chpasswd's input)"
    );
    w.assert_password(OLD_PW);
}

/// A password rotation through sudo with the admin's password, where the
/// admin's sessions get `env` (`SetEnv`) and `prepare` ran as root first;
/// returns where sudo was told the askpass helper is.
fn askpass_placed_with(env: &str, prepare: &str) -> Option<Vec<String>> {
    let setup = sudo_admin("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::RecordAskpass)
        .sshd_option(&format!("SetEnv {env}"))
        .user(alice());
    let sshd = Sshd::start(&setup)?;
    let (code, output) = sshd.run_inside(None, prepare, b"");
    assert_eq!(code, 0, "{output}");
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    Some(w.sshd.sudo_askpass())
}

fn assert_in_tmp(placed: &[String]) {
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert!(
        placed[0].starts_with("/tmp/keeper-askpass."),
        "the helper ran from {placed:?}, not from the sticky root-owned /tmp"
    );
}

#[test]
fn an_admin_owned_runtime_directory_anyone_may_write_is_passed_over_for_the_askpass_helper() {
    // Another user could rename the helper's directory there and put a
    // helper of theirs in its place, to be handed the admin's password.
    let Some(placed) = askpass_placed_with(
        "XDG_RUNTIME_DIR=/home/ops/run",
        "install -d -o ops -m 0777 /home/ops/run && chmod 0777 /home/ops/run",
    ) else {
        return;
    };
    assert_in_tmp(&placed);
}

#[test]
fn a_private_tmpdir_inside_a_directory_anyone_may_write_is_passed_over_for_the_askpass_helper() {
    // The directory is the admin's and 0700, but its parent lets anyone
    // rename it away and put another in its place.
    let Some(placed) = askpass_placed_with(
        "TMPDIR=/home/shared/ops",
        "install -d -m 0777 /home/shared && chmod 0777 /home/shared && \
         install -d -o ops -m 0700 /home/shared/ops",
    ) else {
        return;
    };
    assert_in_tmp(&placed);
}

#[test]
fn a_private_runtime_directory_of_the_admins_is_where_the_askpass_helper_runs() {
    // The other side: a directory only the admin may write, under parents
    // only root may write, is trusted (the first of the candidates).
    let Some(placed) = askpass_placed_with(
        "XDG_RUNTIME_DIR=/home/ops/run",
        "install -d -o ops -m 0700 /home/ops/run",
    ) else {
        return;
    };
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert!(
        placed[0].starts_with("/home/ops/run/keeper-askpass."),
        "{placed:?}"
    );
}

#[test]
fn a_sudo_pam_stack_that_prompts_twice_gets_the_admin_password_once_and_the_run_ends_at_once() {
    // The helper answers one prompt; the second finds nothing to read and
    // fails at once, so sudo gives up instead of waiting for the deadline.
    // A slow `rm` keeps the FIFO's name in place after its one read (the
    // writer removes it late, as on a loaded machine): the second prompt
    // must not wait on it.
    let setup = sudo_admin("ops ALL=(root) /usr/sbin/chpasswd")
        .sudo_pam(SudoPam::PromptsTwice)
        .slow_rm()
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    let out = w.run(&[]);
    out.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("asked for a password more than once");
    assert!(
        out.elapsed < Duration::from_secs(15),
        "the run waited {:?} for a second password",
        out.elapsed
    );
    w.assert_password(OLD_PW);
}

#[test]
fn sudo_requiring_a_terminal_changes_the_password_under_a_pty() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .sudoers("Defaults:ops requiretty")
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -n chpasswd under a terminal (requiretty)");
    w.assert_password(NEW_PW);
}

#[test]
fn sudo_requiring_a_terminal_and_a_password_gets_it_through_the_askpass_helper_under_a_pty() {
    let setup = sudo_admin_with_pam("ops ALL=(root) /usr/sbin/chpasswd", SudoPam::Default)
        .sudoers("Defaults:ops requiretty")
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").admin_password(COLON_ADMIN_PW);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("sudo -A chpasswd under a terminal (requiretty");
    w.assert_password(NEW_PW);
    assert!(w.shadow_holds("ops", COLON_ADMIN_PW));
}

#[test]
fn without_an_admin_the_user_changes_their_own_password_with_passwd() {
    let Some(sshd) = Sshd::start(&Setup::default().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "self.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("the user itself, with oldPassword (self-rotation)")
        .assert_stdout_has("password changed with passwd as the user (self-rotation) (verified");
    w.assert_password(NEW_PW);
}

#[test]
fn an_admin_password_the_machine_refuses_exits_1_naming_the_admin_record() {
    let setup = Setup::default()
        .user(User::new("ops").password(ADMIN_PW))
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let mut w = World::new(sshd, "sudo-admin.json");
    w.scenario = w.scenario.clone().record_field(
        "SshAdminRecordUid00001",
        "password",
        json!("Stale-Admin-pw-3"),
    );
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the server refused the credential for 'ops'")
        .assert_stderr_has("update the admin credential in attached record 'web-1 ops'");
    w.assert_password(OLD_PW);
}

#[test]
fn an_expired_password_stops_self_rotation_before_anything_is_sent_exit_1() {
    let Some(sshd) = Sshd::start(&Setup::default().user(alice().expired())) else {
        return;
    };
    let before = sshd.shadow_entry("alice");
    let w = World::new(sshd, "self.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the password of 'alice' has expired")
        .assert_stderr_has("reset it as an admin (attach an admin record)");
    assert_eq!(w.sshd.shadow_entry("alice"), before, "nothing changed");
}

#[test]
fn root_resets_an_expired_password() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice().expired())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
}

#[test]
fn a_password_policy_rejection_exits_1_and_changes_nothing() {
    let setup = root_admin().user(alice()).reject_passwords_with(
        "BAD PASSWORD: The password fails the dictionary check - it is based on a dictionary word",
    );
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let before = sshd.shadow_entry("alice");
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("changing the password failed")
        .assert_stderr_has("password policy (pwquality/cracklib) rejected the new password")
        .assert_stderr_has("The password of 'alice' is unchanged");
    assert_eq!(w.sshd.shadow_entry("alice"), before);
}

#[test]
fn chpasswd_killed_after_applying_is_reconciled_by_logging_in_with_the_new_password() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .user(alice())
        .chpasswd(ChpasswdFault::ApplyThenKill);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("the connection was lost")
        .assert_stdout_has("a login with the new password shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn a_sudo_chpasswd_that_fails_after_applying_is_checked_by_logging_in_exit_0() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .user(alice())
        .chpasswd(ChpasswdFault::ApplyThenFail);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("post-change hook failed")
        .assert_stdout_has("yet a login with the new password shows it was applied");
    w.assert_password(NEW_PW);
}

#[test]
fn a_sudo_chpasswd_that_fails_without_applying_is_checked_by_logging_in_exit_1() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .user(alice())
        .chpasswd(ChpasswdFault::Fail);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("injected failure")
        .assert_stderr_has("the old one still logs in");
    w.assert_password(OLD_PW);
}

#[test]
fn chpasswd_killed_after_applying_is_reconciled_by_roots_shadow_entry() {
    let setup = root_admin()
        .user(alice())
        .chpasswd(ChpasswdFault::ApplyThenKill);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("the user's shadow entry shows it was applied");
    w.assert_password(NEW_PW);
}

// ------------------------------------------------------------------- keys

#[test]
fn the_first_key_rotation_replaces_the_records_untagged_line_with_a_tagged_one_and_stores_the_key()
{
    let old = fixture_key("ed25519.openssh");
    let laptop = new_ed25519();
    let original = format!(
        "{} by hand\n{} laptop\n",
        public_of(&old),
        public_of(&laptop)
    );
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    let out = w.run(&[]);
    out.assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key rotated: new ssh-ed25519 key SHA256:")
        .assert_stdout_has("(OpenSSH) stored in record 'alice on web-1'")
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert!(new.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    let new_public = public_of(&new);
    assert_eq!(
        w.authorized_keys(),
        format!("{new_public} {TAG}\n{} laptop\n", public_of(&laptop)),
        "the record's line is replaced in place; every other line is kept byte for byte"
    );
    assert_eq!(
        w.vault.as_ref().unwrap().field(USER_UID, "Public Key"),
        Some(format!("{new_public} {TAG}"))
    );
    out.assert_stdout_has(&fingerprint_of(&new));
    assert!(w.key_works("alice", &new));
    assert!(
        !w.key_works("alice", &old),
        "the record's previous key is the credential rotated: it no longer logs in"
    );
    assert!(
        w.key_works("alice", &laptop),
        "other keys are never removed"
    );
    w.assert_password(NEW_PW);
    assert_eq!(
        w.vault.as_ref().unwrap().field(USER_UID, "rotation_lease"),
        Some(String::new()),
        "the lease is cleared"
    );
}

#[test]
fn the_records_key_under_a_tag_a_tool_rewrote_is_retired_not_left_valid_behind_exit_0() {
    let old = fixture_key("ed25519.openssh");
    let laptop = new_ed25519();
    let original = format!(
        "{} laptop\n{} managed-by-cfgtool\n",
        public_of(&laptop),
        public_of(&old)
    );
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert_eq!(
        w.authorized_keys(),
        format!("{} laptop\n{} {TAG}\n", public_of(&laptop), public_of(&new))
    );
    assert!(!w.key_works("alice", &old));
    assert!(w.key_works("alice", &new));
    w.assert_password(NEW_PW);
}

#[test]
fn a_later_key_rotation_replaces_the_tagged_line_and_the_old_key_is_refused() {
    let laptop = new_ed25519();
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n{} {TAG}\n", public_of(&laptop), public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert_eq!(
        w.authorized_keys(),
        format!("{} laptop\n{} {TAG}\n", public_of(&laptop), public_of(&new))
    );
    assert!(w.key_works("alice", &new));
    assert!(!w.key_works("alice", &old));
    assert!(
        w.key_works("alice", &laptop),
        "other keys are never removed"
    );
    w.assert_password(NEW_PW);
}

#[test]
fn remove_previous_key_removes_the_untagged_line_once_the_new_key_works() {
    let old = fixture_key("ed25519.openssh");
    let other = new_ed25519();
    let original = format!("{} laptop\n{} ci\n", public_of(&old), public_of(&other));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json")
        .key(&old)
        .user_field("Remove Previous Key", "true");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has(&format!("removed {}", fingerprint_of(&old)));
    let new = w.stored_key().unwrap();
    assert_eq!(
        w.authorized_keys(),
        format!("{} {TAG}\n{} ci\n", public_of(&new), public_of(&other))
    );
    assert!(!w.key_works("alice", &old));
}

#[test]
fn the_replaced_lines_options_are_copied_and_every_other_line_is_kept_byte_for_byte() {
    let old = fixture_key("ed25519.openssh");
    let options =
        r#"from="127.0.0.1,::1",no-agent-forwarding,command="/bin/echo \"forced, really\"""#;
    let original = format!(
        "# alice's keys\r\n\n{options} {} {TAG}\n{} laptop",
        public_of(&old),
        public_of(&new_ed25519())
    );
    let setup = sudo_admin("ops ALL=(ALL) NOPASSWD: ALL").user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[]).assert_exit(0).assert_clean();
    let new = w.stored_key().unwrap();
    let expected = original.replace(
        &format!("{} {TAG}", public_of(&old)),
        &format!("{} {TAG}", public_of(&new)),
    );
    assert_eq!(w.authorized_keys(), expected);
    assert!(w.key_works("alice", &new));
}

#[test]
fn a_missing_ssh_directory_is_created_by_the_user_through_sudo() {
    let setup = sudo_admin("ops ALL=(ALL) NOPASSWD: ALL").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let old = fixture_key("ed25519.openssh");
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    w.run(&[]).assert_exit(0).assert_clean();
    let new = w.stored_key().unwrap();
    assert_eq!(w.authorized_keys(), format!("{} {TAG}\n", public_of(&new)));
    let (_, stat) = w.sshd.run_inside(
        None,
        "stat -c '%U %a' /home/alice/.ssh /home/alice/.ssh/authorized_keys",
        b"",
    );
    assert_eq!(stat, "alice 700\nalice 600\n");
    assert!(w.key_works("alice", &new));
}

#[test]
fn a_symlinked_authorized_keys_is_refused_exit_2_and_nothing_changes() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let (code, text) = sshd.run_inside(
        Some("alice"),
        "cd ~/.ssh && mv authorized_keys real_keys && ln -s real_keys authorized_keys",
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("authorized_keys (or its directory) is a symlink: refused");
    assert_eq!(w.sshd.ssh_file("alice", "real_keys").unwrap(), original);
    assert_eq!(w.stored_key().unwrap(), old);
    w.assert_password(OLD_PW);
}

#[test]
fn a_symlinked_ssh_directory_is_refused_while_planning_exit_2_and_nothing_is_written() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} laptop\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let (code, text) = sshd.run_inside(
        Some("alice"),
        "cd ~ && mv .ssh real_ssh && ln -s real_ssh .ssh",
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json").key(&old);
    // Refused while planning: a dry run says so too.
    w.run(&["--dry-run"])
        .assert_exit(2)
        .assert_stderr_has("is a symlink: refused");
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("authorized_keys (or its directory) is a symlink: refused");
    let (_, listing) = w.sshd.run_inside(Some("alice"), "ls -A ~/real_ssh", b"");
    assert_eq!(listing.trim(), "authorized_keys", "no temp file, no backup");
    assert_eq!(w.stored_key().unwrap(), old);
    w.assert_password(OLD_PW);
}

#[test]
fn an_old_key_also_in_authorized_keys2_is_still_accepted_exit_3_and_the_password_is_unchanged() {
    let old = fixture_key("ed25519.openssh");
    let user = alice()
        .authorized_keys(&format!("{} {TAG}\n", public_of(&old)))
        .authorized_keys2(&format!("{} copied by hand\n", public_of(&old)));
    let Some(sshd) = Sshd::start(&root_admin().user(user)) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has(&format!(
            "{} of user 'alice' on 127.0.0.1:{} were revoked but are still accepted",
            fingerprint_of(&old),
            w.sshd.port()
        ))
        .assert_stderr_has("sshd also reads /home/alice/.ssh/authorized_keys2")
        .assert_stderr_has("The password of 'alice' was not changed");
    let new = w.stored_key().unwrap();
    assert_ne!(new, old, "the new key is stored");
    assert_eq!(w.authorized_keys(), format!("{} {TAG}\n", public_of(&new)));
    assert!(w.key_works("alice", &new));
    w.assert_password(OLD_PW);
}

#[test]
fn a_password_refused_after_the_key_was_rotated_exits_3_with_the_key_stored() {
    let old = fixture_key("ed25519.openssh");
    let setup = root_admin()
        .user(alice().authorized_keys(&format!("{} {TAG}\n", public_of(&old))))
        .reject_passwords_with("BAD PASSWORD: it is too simplistic/systematic");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(3)
        .assert_clean()
        .assert_stderr_has("the password was not changed: changing the password failed")
        .assert_stderr_has("The password of 'alice' is still the old one")
        .assert_stderr_has("The SSH key was rotated: new ssh-ed25519 key");
    let new = w.stored_key().unwrap();
    assert!(w.key_works("alice", &new));
    assert!(!w.key_works("alice", &old));
    w.assert_password(OLD_PW);
}

#[test]
fn a_vault_that_refuses_the_key_gets_the_new_line_removed_again_and_exits_1() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    // The first save is the lease; every save of the key is refused as stale.
    let vault = w.vault.as_ref().unwrap();
    vault.fault_on_after("update_secret", 1, harness::Fault::StaleRevision);
    vault.fault_on("update_secret", harness::Fault::StaleRevision, 2);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("storing the new SSH key")
        .assert_stderr_has("The new SSH key was revoked again; nothing was changed");
    assert_eq!(w.authorized_keys(), original);
    assert_eq!(w.stored_key().unwrap(), old);
    assert!(w.key_works("alice", &old));
    w.assert_password(OLD_PW);
}

#[test]
fn a_new_key_sshd_refuses_is_taken_back_leaving_the_file_byte_for_byte_and_no_backup_exit_1() {
    // The record's line allows logins from elsewhere only; the new line
    // copies its options, so sshd refuses the new key from 127.0.0.1. The
    // file has no final newline.
    let old = fixture_key("ed25519.openssh");
    let original = format!("from=\"10.9.9.9\" {} laptop", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("refused the new key");
    assert_eq!(w.authorized_keys(), original, "restored byte for byte");
    let (_, listing) = w.sshd.run_inside(Some("alice"), "ls -A ~/.ssh", b"");
    assert_eq!(listing.trim(), "authorized_keys", "no backup, no temp file");
    assert_eq!(w.stored_key().unwrap(), old);
    w.assert_password(OLD_PW);
}

#[test]
fn private_key_rotate_false_changes_the_password_only_without_the_vault() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let mut w = World::new(sshd, "root-admin.json")
        .key(&old)
        .user_field("Private Key Rotate", "FALSE");
    w.vault = None;
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("SSH key not rotated ('Private Key Rotate' is FALSE)");
    assert_eq!(w.authorized_keys(), original);
    w.assert_password(NEW_PW);
}

#[test]
fn an_encrypted_key_exits_2_before_connecting() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&fixture_key("enc.openssh"));
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("'privatePEMKey' in record 'alice on web-1' (uid SshUserRecordUid000001) is invalid: password-encrypted PEM is not supported");
    // One connection: the harness's own check that sshd listens.
    assert_eq!(
        w.sshd.log().matches("Connection from").count(),
        1,
        "{}",
        w.sshd.log()
    );
}

/// Every algorithm in every format family it can be written in: the new key
/// has the old one's algorithm, size and family, the record gets it, the
/// machine takes it. One sshd, one user per key.
#[test]
fn keys_of_every_algorithm_and_family_are_rotated_into_the_same_family() {
    let cases = [
        ("rsa2048.openssh", "OPENSSH PRIVATE KEY"),
        ("rsa2048.pkcs1", "RSA PRIVATE KEY"),
        ("rsa2048.pkcs8", "PRIVATE KEY"),
        ("ecdsa256.openssh", "OPENSSH PRIVATE KEY"),
        ("ecdsa384.sec1", "EC PRIVATE KEY"),
        ("ecdsa521.pkcs8", "PRIVATE KEY"),
        ("ed25519.openssh", "OPENSSH PRIVATE KEY"),
        ("ed25519.pkcs8", "PRIVATE KEY"),
    ];
    let user_of = |case: &str| format!("u-{}", case.replace('.', "-"));
    let mut setup = root_admin();
    for (case, _) in cases {
        let public = public_of(&fixture_key(case));
        setup = setup.user(
            User::new(&user_of(case))
                .password(OLD_PW)
                .authorized_keys(&format!("{public} old\n")),
        );
    }
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let mut w = World::new(sshd, "root-admin.json");
    let mut failures = Vec::new();
    for (case, label) in cases {
        let user = user_of(case);
        let old = fixture_key(case);
        w.scenario =
            w.scenario
                .param("user", json!(user))
                .record_field(USER_UID, "login", json!(user));
        w = w.key(&old);
        let out = w.run(&[]);
        let Some(new) = w.stored_key().filter(|_| out.code == Some(0)) else {
            failures.push(format!("{case}: {}", out.output()));
            continue;
        };
        let (was, now) = (keys::parse(&old).unwrap(), keys::parse(&new).unwrap());
        let tagged = format!("keeper-security-{user}");
        let file = w.sshd.authorized_keys(&user).unwrap_or_default();
        for (ok, what) in [
            (
                new.starts_with(&format!("-----BEGIN {label}-----\n")),
                "the family",
            ),
            (now.kind() == was.kind(), "the algorithm and size"),
            (fingerprint_of(&new) != fingerprint_of(&old), "a new key"),
            (
                lines_with(&file, &public_of(&new)) == [format!("{} {tagged}", public_of(&new))],
                "the tagged line",
            ),
            (w.key_works(&user, &new), "a login with the new key"),
        ] {
            if !ok {
                failures.push(format!("{case}: not {what}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------- pinning

#[test]
fn without_a_pin_nothing_is_sent_and_exit_2_prints_the_servers_key() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").machine_field("SSH Host Key", json!(""));
    let fingerprint = {
        let key = russh::keys::PublicKey::from_openssh(w.sshd.host_key()).unwrap();
        ssh::fingerprint_of(&key)
    };
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has(&format!(
            "the machine record has no 'SSH Host Key': 127.0.0.1:{} presented {} ({fingerprint})",
            w.sshd.port(),
            w.sshd.host_key()
        ))
        .assert_stderr_has(&format!("ssh-keyscan -p {} 127.0.0.1", w.sshd.port()));
    let log = w.sshd.log();
    assert!(
        !log.contains("Accepted") && !log.contains("Failed"),
        "no credential was sent: {log}"
    );
    w.assert_password(OLD_PW);
}

#[test]
fn a_host_key_that_matches_no_pin_exits_2_host_key_changed() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let other = public_of(&new_ed25519());
    let w = World::new(sshd, "root-admin.json").machine_field("SSH Host Key", json!(other));
    w.run(&[])
        .assert_exit(2)
        .assert_clean()
        .assert_stderr_has("host key changed: possible man-in-the-middle");
    let log = w.sshd.log();
    assert!(
        !log.contains("Accepted") && !log.contains("Failed"),
        "{log}"
    );
}

#[test]
fn trust_on_first_use_stores_the_servers_key_in_the_machine_record() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json")
        .machine_field("SSH Host Key", json!(""))
        .machine_field("trust_host_key_on_first_use", json!("true"))
        .vault();
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("trusting the key")
        .assert_stderr_has("stored the host key");
    assert_eq!(
        w.vault.as_ref().unwrap().field(MACHINE_UID, "SSH Host Key"),
        Some(w.sshd.host_key().to_owned())
    );
    w.assert_password(NEW_PW);
}

// ------------------------------------------------------------- whole runs

#[test]
fn a_dry_run_logs_in_proves_the_password_path_and_changes_nothing() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let setup = sudo_admin("ops ALL=(ALL) NOPASSWD: ALL").user(alice().authorized_keys(&original));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let before = sshd.shadow_entry("alice");
    let w = World::new(sshd, "sudo-admin.json").key(&old);
    let revision = w.vault.as_ref().unwrap().revision(USER_UID);
    w.run(&["--dry-run"])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("dry run: machine 'web-1' at 127.0.0.1:")
        .assert_stdout_has("Logged in as 'ops' with a password")
        .assert_stdout_has("Would make a new ssh-ed25519 key (OpenSSH)")
        .assert_stdout_has(&format!("then remove {}", fingerprint_of(&old)))
        .assert_stdout_has(
            "with sudo -n chpasswd, then check it with a login. Nothing was changed.",
        );
    assert_eq!(w.sshd.shadow_entry("alice"), before);
    assert_eq!(w.authorized_keys(), original);
    assert_eq!(w.vault.as_ref().unwrap().revision(USER_UID), revision);
}

#[test]
fn two_overlapping_runs_the_second_finds_the_lease_and_changes_nothing() {
    let old = fixture_key("ed25519.openssh");
    let original = format!("{} {TAG}\n", public_of(&old));
    let Some(sshd) = Sshd::start(&root_admin().user(alice().authorized_keys(&original))) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json").key(&old);
    let vault = w.vault.as_ref().unwrap();
    // A is held after storing its key (save 1 is its lease).
    let gate = vault.hold("update_secret", 2);
    let second = w
        .scenario
        .clone()
        .param("newPassword", json!("Second-New-pw-99?"));
    let (a, b) = harness::runner::overlap(
        w.runner(&[]),
        w.runner_for(&second, &[]),
        || vault.wait_for("update_secret", 2),
        |_| gate.release(),
    );
    let (a, b) = (w.checked(a), w.checked(b));
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of record 'alice on web-1'")
        .assert_stderr_has("is in progress");
    a.assert_exit(0).assert_clean();
    let new = w.stored_key().unwrap();
    assert_eq!(w.authorized_keys(), format!("{} {TAG}\n", public_of(&new)));
    w.assert_password(NEW_PW);
}

#[test]
fn two_overlapping_password_only_runs_the_second_finds_the_machines_lock_and_changes_nothing() {
    // A's chpasswd takes 3 s: B starts once A holds the lock.
    let setup = root_admin().user(alice()).chpasswd(ChpasswdFault::Sleep(3));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let mut w = World::new(sshd, "root-admin.json");
    let second_pw = "Second-New-pw-99?";
    w.secrets.push(second_pw.into());
    let second = w.scenario.clone().param("newPassword", json!(second_pw));
    let lock = w.sshd.dir().join("run/keeper-rotators").join(format!(
        "keeper-rotate-{}.lock",
        rotate_ssh_user::remote::lock_id("alice")
    ));
    let (a, b) = harness::runner::overlap(
        w.runner(&[]),
        w.runner_for(&second, &[]),
        || {
            let started = std::time::Instant::now();
            while !lock.exists() && started.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(10));
            }
        },
        |_| {},
    );
    b.assert_exit(1)
        .assert_clean()
        .assert_stderr_has("another rotation of 'alice' is running on")
        .assert_stderr_has("nothing was changed");
    a.assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    assert!(!w.shadow_holds("alice", second_pw));
}

#[test]
fn a_lock_another_user_prepared_cannot_stop_a_rotation() {
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd").user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    // alice makes the directory the admin's lock would live in, and holds
    // the lock file in it.
    let (_, uid) = sshd.run_inside(None, "id -u ops", b"");
    let dir = format!("/tmp/keeper-rotators-{}", uid.trim());
    let lock = format!(
        "{dir}/keeper-rotate-{}.lock",
        rotate_ssh_user::remote::lock_id("alice")
    );
    let (code, text) = sshd.run_inside(
        Some("alice"),
        &format!(
            "mkdir -m 755 {dir} && setsid flock -n {lock} sleep 20 </dev/null >/dev/null 2>&1 &"
        ),
        b"",
    );
    assert_eq!(code, 0, "{text}");
    std::thread::sleep(Duration::from_millis(300));
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean().assert_stderr_has(
        "is not a directory of this admin's own with mode 700, so it is not trusted",
    );
    w.assert_password(NEW_PW);
}

#[test]
fn an_admin_owned_runtime_directory_anyone_may_write_is_passed_over_for_the_lock() {
    // Another user could rename the lock's directory there, or put their own
    // in its place and hold the lock: the askpass helper's rule applies.
    let setup = sudo_admin("ops ALL=(root) NOPASSWD: /usr/sbin/chpasswd")
        .sshd_option("SetEnv XDG_RUNTIME_DIR=/home/ops/run")
        .user(alice());
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let (code, output) = sshd.run_inside(
        None,
        "install -d -o ops -m 0777 /home/ops/run && chmod 0777 /home/ops/run",
        b"",
    );
    assert_eq!(code, 0, "{output}");
    let w = World::new(sshd, "sudo-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    w.assert_password(NEW_PW);
    let (_, uid) = w.sshd.run_inside(None, "id -u ops", b"");
    let (_, found) = w.sshd.run_inside(
        None,
        &format!(
            "ls -d /home/ops/run/keeper-rotators /tmp/keeper-rotators-{} 2>/dev/null",
            uid.trim()
        ),
        b"",
    );
    assert_eq!(
        found.trim(),
        format!("/tmp/keeper-rotators-{}", uid.trim()),
        "the lock's directory"
    );
}

#[test]
fn root_rotates_with_the_lock_in_a_directory_only_root_can_write() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[]).assert_exit(0).assert_clean();
    let (_, mode) = w
        .sshd
        .run_inside(None, "stat -c '%a %U' /run/keeper-rotators", b"");
    assert_eq!(mode.trim(), "700 root");
    w.assert_password(NEW_PW);
}

#[test]
fn a_server_allowing_one_session_per_connection_rotates_without_the_lock() {
    let setup = root_admin().user(alice()).sshd_option("MaxSessions 1");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stderr_has("MaxSessions 1");
    w.assert_password(NEW_PW);
}

#[test]
fn root_proves_the_change_by_the_shadow_entry_when_the_user_may_not_log_in_with_a_password() {
    let setup = root_admin().user(alice()).sshd_option("DenyUsers alice");
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(0)
        .assert_clean()
        .assert_stdout_has("verified on the machine by its password check (unix_chkpwd)");
    assert!(w.shadow_holds("alice", NEW_PW));
}

#[test]
fn root_does_not_take_a_shadow_entry_changed_to_another_password_for_the_new_one_exit_4() {
    // Logins refused for alice, and a hook sets yet another password after
    // chpasswd: the entry changed, but not to newPassword.
    let setup = root_admin()
        .user(alice())
        .sshd_option("DenyUsers alice")
        .chpasswd(ChpasswdFault::ApplyThenOverwrite);
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(4)
        .assert_clean()
        .assert_stderr_has("something else set another password");
    assert!(w.shadow_holds("alice", harness::sshd::OVERWRITTEN));
    assert!(!w.shadow_holds("alice", NEW_PW));
}

#[test]
fn an_empty_password_field_never_passes_for_the_new_password_exit_1() {
    // No password at all, and a chpasswd that changes nothing: the check
    // login is refused (PermitEmptyPasswords no), and the machine's own
    // check must not accept any password for the empty field.
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let (code, text) = sshd.run_inside(
        None,
        "passwd -d alice >/dev/null && mount --bind /bin/true /usr/sbin/chpasswd",
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json");
    w.run(&[])
        .assert_exit(1)
        .assert_clean()
        .assert_stderr_has("the user's shadow entry is unchanged");
    assert_eq!(
        w.sshd.shadow_hash("alice").unwrap_or_default(),
        "",
        "still no password"
    );
}

#[test]
fn a_chpasswd_that_reports_success_without_changing_anything_is_caught_exit_1() {
    let Some(sshd) = Sshd::start(&root_admin().user(alice())) else {
        return;
    };
    let (code, text) = sshd.run_inside(None, "mount --bind /bin/true /usr/sbin/chpasswd", b"");
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "root-admin.json");
    w.run(&[]).assert_exit(1).assert_clean().assert_stderr_has(
        "the password command reported success, but a login with the new password was \
             refused and the user's shadow entry is unchanged",
    );
    w.assert_password(OLD_PW);
}

/// Every command line the machine received, recorded by a login shell that
/// logs `$*` before it runs bash, and every process's argv on the host while
/// the run is in flight: none holds a secret, in any form.
#[test]
fn no_secret_appears_in_any_command_line_or_process() {
    let old = fixture_key("ed25519.openssh");
    let setup = sudo_admin("ops ALL=(ALL) ALL")
        .user(alice().authorized_keys(&format!("{} {TAG}\n", public_of(&old))))
        .chpasswd(ChpasswdFault::Sleep(1));
    let Some(sshd) = Sshd::start(&setup) else {
        return;
    };
    let log = sshd.dir().join("commands.log");
    let shell = sshd.dir().join("logshell");
    std::fs::write(&log, "").unwrap();
    std::fs::write(
        &shell,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexec /bin/bash \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    let (code, text) = sshd.run_inside(
        None,
        &format!(
            "chmod 666 {log} && chmod 755 {shell} && usermod -s {shell} ops && usermod -s {shell} alice",
            log = log.display(),
            shell = shell.display()
        ),
        b"",
    );
    assert_eq!(code, 0, "{text}");
    let w = World::new(sshd, "sudo-admin.json")
        .key(&old)
        .user_field("password_hash_locally", "true");

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let snapshots = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seen = String::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(out) = std::process::Command::new("ps")
                    .args(["-eo", "args"])
                    .output()
                {
                    seen.push_str(&String::from_utf8_lossy(&out.stdout));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            seen
        })
    };
    let out = w.run(&[]);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let processes = snapshots.join().unwrap();
    out.assert_exit(0).assert_clean().assert_stdout_has(
        "sudo -A chpasswd (the admin's password through an askpass helper), sent as a SHA-512-crypt hash made here",
    );

    let commands = std::fs::read_to_string(&log).unwrap();
    assert!(
        commands.lines().count() >= 6
            && commands.contains("/usr/sbin/chpasswd")
            && commands.contains("keeper-ak written"),
        "the log shell saw the run's commands:\n{commands}"
    );
    assert!(
        processes.contains("chpasswd -e"),
        "the snapshots caught the change in flight"
    );
    let mut secrets = w.scenario.secrets();
    secrets.extend(w.secrets.iter().cloned());
    secrets.extend(key_lines(&w.stored_key().unwrap()));
    for (name, text) in [("command lines", &commands), ("processes", &processes)] {
        for secret in &secrets {
            for form in harness::inputs::scenario::leak_forms(secret) {
                assert!(
                    !text.contains(&form),
                    "a secret ({} characters) appeared in the {name}",
                    secret.chars().count()
                );
            }
        }
    }
}
