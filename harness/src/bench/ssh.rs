//! `harness bench ssh-user`: rotate-ssh-user's figures for a password-only
//! rotation and for a key (Ed25519) plus password rotation.
//!
//! Why the real sshd: an SSH rotation's time is mostly key exchanges,
//! logins and remote processes (sudo, chpasswd, the `authorized_keys`
//! writer), which only a real OpenSSH on a real system costs honestly. So
//! as root each scenario runs against its own sshd on 127.0.0.1
//! (`harness::sshd`, a private mount namespace), started before timing;
//! elsewhere against the fake SSH server, and the heading says which.
//!
//! Against the real sshd the runs of a scenario follow each other like the
//! Gateway's rotations: each one's old password is the previous one's new,
//! and the key the vault holds is the one rotated next. Both sshds stay up
//! until both scenarios are measured. Each run is measured alone by the
//! benchmark's wrapper (see [`super`]), so the figures are the
//! binary's, never an sshd's or a set-up helper's.

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Figures, measure};
use crate::fakes::vault::FakeVault;
use crate::rehearsal::world::{RunOptions, World, gateway_line};
use crate::rehearsal::{Rehearsal, input, ssh};
use crate::runner::{Outcome, Run};
use crate::sshd::{Setup, Sshd, User};

/// Both scenarios' figures, named with the server they ran against.
pub fn figures(bin: &Path, runs: usize) -> Result<Vec<(String, Figures)>, String> {
    let case = crate::rehearsal::use_case("ssh-user")?;
    let with_key = Rehearsal::fixture(case)?;
    let password_only = without_key(with_key.clone());
    match crate::sshd::unavailable() {
        None => real(
            bin,
            runs,
            [
                ("password only", password_only),
                ("key (ed25519) and password", with_key),
            ],
        ),
        Some(reason) => {
            let mut all = Vec::new();
            for (name, rehearsal) in [
                ("password only", password_only),
                ("key (ed25519) and password", with_key),
            ] {
                let figures = measure(bin, runs, |options| {
                    Ok(World::start(&rehearsal)?.run(bin, options))
                })?;
                all.push((
                    format!(
                        "{name}, against the fake SSH server (harness::fakes::ssh; the real sshd \
                         {reason})"
                    ),
                    figures,
                ));
            }
            Ok(all)
        }
    }
}

/// The fixture with no key in the PAM User: the binary changes the password
/// only, and never opens the vault.
fn without_key(mut rehearsal: Rehearsal) -> Rehearsal {
    let uid = rehearsal.roles.user.uid.clone();
    for dict in &mut rehearsal.dicts {
        if dict.get("uid").and_then(Value::as_str) == Some(uid.as_str()) {
            dict.remove(ssh::KEY_FIELD);
        }
    }
    for record in rehearsal.records.iter_mut().filter(|r| r.uid == uid) {
        for field in record.fields.iter_mut().chain(record.custom.iter_mut()) {
            if field.key() == ssh::KEY_FIELD {
                field.value.clear();
            }
        }
    }
    rehearsal
}

/// One scenario on the real sshd: the machine, the vault, and what the
/// next run starts from.
struct Real {
    name: &'static str,
    rehearsal: Rehearsal,
    sshd: Sshd,
    vault: FakeVault,
    /// The password the user has now, and the key the vault holds.
    chain: RefCell<(String, Option<String>)>,
}

fn real(
    bin: &Path,
    runs: usize,
    scenarios: [(&'static str, Rehearsal); 2],
) -> Result<Vec<(String, Figures)>, String> {
    let mut machines = Vec::new();
    for (name, rehearsal) in scenarios {
        machines.push(start_real(name, rehearsal)?);
    }
    let mut all = Vec::new();
    for machine in &machines {
        let figures = measure(bin, runs, |options| Ok(rotate_real(bin, machine, options)))?;
        let name = format!(
            "{}, against the real sshd on 127.0.0.1 (harness::sshd: {})",
            machine.name,
            sshd_version()
        );
        all.push((name, figures));
    }
    Ok(all)
}

/// `OpenSSH_9.2`, as `sshd -V` names itself (before the OpenSSL version).
fn sshd_version() -> String {
    std::process::Command::new("/usr/sbin/sshd")
        .arg("-V")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or_default()
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "OpenSSH".into())
}

/// An sshd with the rehearsal's user (its password, and its key in
/// `authorized_keys` as a rehearsal seeds it) and admin (sudo NOPASSWD for
/// chpasswd and `/bin/sh` as the user), and a vault with its records.
fn start_real(name: &'static str, rehearsal: Rehearsal) -> Result<Real, String> {
    let login = rehearsal.param("user");
    let old = rehearsal.param("oldPassword");
    let machine_uid = rehearsal.roles.resource.as_ref().map(|r| r.uid.clone());
    let (_, admin, admin_password, _) = ssh::admin(&rehearsal, machine_uid.as_deref())
        .ok_or("the ssh-user fixture has no admin record")?;
    let key = rehearsal
        .user_record()
        .and_then(|r| r.text(ssh::KEY_FIELD))
        .filter(|k| !k.trim().is_empty());
    let mut user = User::new(&login).password(&old);
    if let Some(key) = &key {
        let public = ssh::public_of(key).ok_or("the fixture's key is unreadable")?;
        user = user.authorized_keys(&ssh::seeded_authorized_keys(&login, &public));
    }
    let setup = Setup::default()
        .user(User::new(&admin).password(&admin_password.unwrap_or_default()))
        .sudoers(&format!("{admin} ALL=(root) NOPASSWD: /usr/sbin/chpasswd"))
        .sudoers(&format!("{admin} ALL=({login}) NOPASSWD: /bin/sh"))
        .user(user);
    let sshd = Sshd::start(&setup).ok_or("sshd could not start")?;
    let vault = FakeVault::start(
        &rehearsal
            .records
            .iter()
            .map(crate::inputs::commander::KeeperRecord::vault_json)
            .collect::<Vec<_>>(),
    );
    Ok(Real {
        name,
        rehearsal,
        sshd,
        vault,
        chain: RefCell::new((old, key)),
    })
}

/// One rotation on the real sshd, continuing from the previous one.
fn rotate_real(bin: &Path, machine: &Real, options: &RunOptions) -> Outcome {
    let rehearsal = &machine.rehearsal;
    let (old, key) = machine.chain.borrow().clone();
    let new = input::new_password();
    let mut params = rehearsal.params.clone();
    params.insert("oldPassword".into(), json!(old));
    params.insert("newPassword".into(), json!(new));
    let machine_uid = rehearsal.roles.resource.as_ref().map(|r| r.uid.as_str());
    let user_uid = rehearsal.roles.user.uid.as_str();
    let mut dicts = rehearsal.dicts.clone();
    for dict in &mut dicts {
        let uid = dict.get("uid").and_then(Value::as_str).map(str::to_owned);
        if uid.as_deref() == machine_uid {
            dict.insert(
                "pamHostname".into(),
                json!({"hostName": "127.0.0.1", "port": machine.sshd.port().to_string()}),
            );
            dict.insert("SSH Host Key".into(), json!(machine.sshd.host_key()));
        }
        if uid.as_deref() == Some(user_uid) {
            dict.insert("password".into(), json!(old));
            if let Some(key) = &key {
                dict.insert(ssh::KEY_FIELD.into(), json!(key));
            }
        }
    }
    let mut line = gateway_line(&params, &dicts).into_bytes();
    line.push(b'\n');
    let mut run = Run::new(bin)
        .stdin(line)
        .kill_after(Duration::from_secs(120));
    if let Some((program, args)) = &options.wrapper {
        run = run.wrapped(program, args.clone());
    }
    for (name, value) in machine.vault.env() {
        run = run.env(&name, value);
    }
    let out = run.run();
    if out.code == Some(0) {
        let stored = machine
            .vault
            .field(user_uid, ssh::KEY_FIELD)
            .filter(|_| key.is_some());
        *machine.chain.borrow_mut() = (new, stored);
    }
    out
}
