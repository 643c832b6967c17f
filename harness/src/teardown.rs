//! What the harness undoes however it ends: the rotator children it started
//! and the files it wrote that hold secrets.
//!
//! Why: `harness run` is run by administrators on records that hold real
//! secrets. A run ended by SIGTERM or Ctrl-C must not leave a rotator
//! running on its own (an orphan still rotating, whose outcome nobody
//! reads), nor a file of the export's secrets in `$TMPDIR`.
//!
//! How, without `unsafe` (forbidden in this workspace): [`install`] blocks
//! SIGTERM, SIGINT, SIGHUP and SIGQUIT in the main thread before any other
//! thread exists (threads inherit the mask), and one thread waits for them
//! with `sigwait`. Children are started in a process group of their own and
//! registered here while the registry is locked ([`spawn`]), so a signal
//! arriving during a spawn still finds the child. On a signal, that thread
//! kills every registered group, removes every registered path, and exits
//! with 128 + the signal's number. Normal exits and panics remove the same
//! files through their owners' `Drop`, and wait for their children.
//! (`std::process::Command` clears the signal mask in the child, so the
//! rotators receive signals normally.)
//!
//! Not covered: SIGKILL of the harness (nothing can run then). Its children
//! then run to their own deadline (`KEEPER_ROTATOR_TIMEOUT`, or the
//! harness's kill timeout which died with it), and the temporary directory
//! stays, holding only the fake vault's own made-up keys: records are never
//! written to disk during a rehearsal.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard};

use nix::sys::signal::{SigSet, Signal, killpg};
use nix::unistd::Pid;

struct Registry {
    /// Process groups of running children (each child leads its own).
    groups: Vec<u32>,
    /// Files and directories to remove on a signal.
    paths: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    paths: Vec::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The signals that end the harness with a clean-up.
fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        set.add(signal);
    }
    set
}

/// Blocks the ending signals in the calling thread and starts the thread
/// that handles them. Call it first in `main`, before any thread starts.
pub fn install() -> Result<(), String> {
    let set = signals();
    set.thread_block()
        .map_err(|e| format!("cannot block signals: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                if let Ok(signal) = set.wait() {
                    end(signal);
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

/// Kills every child group, removes every registered path, exits.
fn end(signal: Signal) -> ! {
    let registry = registry();
    kill_and_remove(&registry);
    std::process::exit(128 + signal as i32);
}

fn kill_and_remove(registry: &Registry) {
    for &group in &registry.groups {
        if let Ok(group) = i32::try_from(group) {
            let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        }
    }
    for path in &registry.paths {
        if path.is_dir() {
            let _ = std::fs::remove_dir_all(path);
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A running child, registered until dropped (after it was waited for).
#[derive(Debug)]
pub struct Registered {
    group: u32,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = registry();
        if let Some(at) = registry.groups.iter().position(|g| *g == self.group) {
            registry.groups.remove(at);
        }
    }
}

/// Spawns `command` as the leader of a process group of its own and
/// registers the group, under one lock: a signal arriving meanwhile waits
/// for the registration, then kills it.
pub fn spawn(command: &mut Command) -> io::Result<(Child, Registered)> {
    use std::os::unix::process::CommandExt;
    let mut registry = registry();
    let child = command.process_group(0).spawn()?;
    let group = child.id();
    registry.groups.push(group);
    Ok((child, Registered { group }))
}

/// A path removed on a signal, registered until dropped. Its owner removes
/// it on an ordinary exit.
#[derive(Debug)]
pub struct RemoveOnSignal {
    path: PathBuf,
}

impl Drop for RemoveOnSignal {
    fn drop(&mut self) {
        let mut registry = registry();
        if let Some(at) = registry.paths.iter().position(|p| *p == self.path) {
            registry.paths.remove(at);
        }
    }
}

/// Registers `path` (a file or a directory) for removal on a signal.
pub fn remove_on_signal(path: &Path) -> RemoveOnSignal {
    registry().paths.push(path.to_owned());
    RemoveOnSignal {
        path: path.to_owned(),
    }
}

/// A private temporary directory (mode 0700), removed when dropped and on
/// a signal.
#[derive(Debug)]
pub struct PrivateDir {
    // Field order: unregister after the directory is gone.
    dir: tempfile::TempDir,
    _registered: RemoveOnSignal,
}

impl PrivateDir {
    pub fn new() -> io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        let registered = remove_on_signal(dir.path());
        Ok(Self {
            dir,
            _registered: registered,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes `text` to `path` readable by its owner only (0600), replacing it
/// atomically through `path`.tmp, itself 0600 from its creation.
pub fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)
}
