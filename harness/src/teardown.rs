//! What the harness undoes however it ends: the rotator children it started
//! and the files it wrote that hold secrets.
//!
//! Why: `harness run` is run by administrators on records that hold real
//! secrets. A run ended by SIGTERM or Ctrl-C must not leave a rotator
//! running on its own (an orphan still rotating, whose outcome nobody
//! reads), nor a file of the export's secrets in `$TMPDIR`.
//!
//! How, without `unsafe` (forbidden in this workspace): [`install`] blocks
//! every signal whose default action ends the process and that arrives from
//! outside (see [`signals`]) in the main thread before any other thread
//! exists (threads inherit the mask), and one thread waits for them with
//! `sigwait`. Children are started in a process group of their own and
//! registered here while the registry is locked ([`spawn`]), so a signal
//! arriving during a spawn still finds the child. On a signal, that thread
//! kills every registered group, removes every registered path, and exits
//! with 128 + the signal's number. Normal exits remove the same files
//! through their owners' `Drop`, and wait for their children.
//!
//! A panic: a child's [`Registered`] handle kills its group when it is
//! dropped before the child was waited for (the unwinding of the thread
//! that holds it), and a panic hook ([`spawn`] installs it) kills the
//! groups of every child started on behalf of the panicking thread,
//! including those a [`crate::runner::Run::spawn`] thread is still waiting
//! for: when a test's thread panics, the test process ends without
//! unwinding the other threads, so their handles are never dropped.
//!
//! A file the fake vault rewrites ([`write_private`]) is written under the
//! registry's lock, the lock the signal thread holds from its clean-up to
//! the exit: a rewrite either ends before the clean-up removes the file, or
//! never starts.
//! (`std::process::Command` clears the signal mask in the child, so the
//! rotators receive signals normally.)
//!
//! The processes a third-party script started are killed too, by the
//! marker in their environment ([`crate::reap`]): a `setsid` grandchild is
//! in no group registered here.
//!
//! Not covered: SIGKILL of the harness (nothing can run then). Its children
//! then run to their own deadline (`KEEPER_ROTATOR_TIMEOUT`, or the
//! harness's kill timeout which died with it), and the temporary directory
//! stays, holding only the fake vault's own made-up keys: records are never
//! written to disk during a rehearsal.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, Once};
use std::thread::ThreadId;

use nix::sys::signal::{SigSet, Signal, killpg};
use nix::unistd::Pid;

struct Registry {
    /// Process groups of running children (each child leads its own), with
    /// the thread they were started for.
    groups: Vec<(u32, ThreadId)>,
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

/// The signals that end the harness with a clean-up: every one whose
/// default action ends the process and that is sent from outside (`kill`,
/// a terminal, a timer, a resource limit). Left out: SIGKILL and SIGSTOP
/// (they cannot be caught), the signals of a fault in the thread itself
/// (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT: blocking them
/// is undefined or useless), and SIGPIPE, which Rust's runtime ignores
/// before `main` (so its action here is not to end the process): a write
/// to a rotator that already exited fails with EPIPE instead, and blocking
/// it would keep it pending for `sigwait` and end the harness on such a
/// write.
fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
        Signal::SIGVTALRM,
        Signal::SIGPROF,
        Signal::SIGXCPU,
        Signal::SIGXFSZ,
        Signal::SIGIO,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Signal::SIGPWR,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Signal::SIGSTKFLT,
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

/// Every process first (a script's detached ones, in groups of their own,
/// by their marker), then the files: a process still writing into a
/// directory would make its removal fail.
fn kill_and_remove(registry: &Registry) {
    for &(group, _) in &registry.groups {
        kill_group(group);
    }
    crate::reap::kill_every_tracked();
    for path in &registry.paths {
        if path.is_dir() {
            let _ = std::fs::remove_dir_all(path);
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn kill_group(group: u32) {
    if let Ok(group) = i32::try_from(group) {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    }
}

/// A running child, registered until dropped. Dropped before
/// [`Registered::reaped`] (a panic unwinding the thread that waits for the
/// child), it kills the child's group: the child was not waited for, so
/// its id is still its own and names no other group.
#[derive(Debug)]
pub struct Registered {
    group: u32,
    live: bool,
}

impl Registered {
    /// Unregisters the child once it was waited for (its group is left
    /// alone: its id may be reused from now on).
    pub fn reaped(mut self) {
        self.live = false;
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut registry = registry();
        if self.live {
            kill_group(self.group);
        }
        if let Some(at) = registry.groups.iter().position(|(g, _)| *g == self.group) {
            registry.groups.remove(at);
        }
    }
}

/// Spawns `command` as the leader of a process group of its own and
/// registers the group for the calling thread, under one lock: a signal
/// arriving meanwhile waits for the registration, then kills it.
pub fn spawn(command: &mut Command) -> io::Result<(Child, Registered)> {
    spawn_for(command, std::thread::current().id())
}

/// [`spawn`], the child started on behalf of the thread `owner` (the one
/// that called [`crate::runner::Run::spawn`]): a panic of `owner` kills it.
pub fn spawn_for(command: &mut Command, owner: ThreadId) -> io::Result<(Child, Registered)> {
    use std::os::unix::process::CommandExt;
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            kill_children_of(std::thread::current().id());
            previous(info);
        }));
    });
    let mut registry = registry();
    let child = command.process_group(0).spawn()?;
    let group = child.id();
    registry.groups.push((group, owner));
    Ok((child, Registered { group, live: true }))
}

/// Kills the group of every running child started on behalf of `owner`
/// (the panic hook). The registry is tried, not waited for: the panicking
/// thread may hold it already.
fn kill_children_of(owner: ThreadId) {
    for _ in 0..100 {
        match REGISTRY.try_lock() {
            Ok(registry) => {
                for &(group, _) in registry.groups.iter().filter(|(_, o)| *o == owner) {
                    kill_group(group);
                }
                return;
            }
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                for &(group, _) in poisoned
                    .get_ref()
                    .groups
                    .iter()
                    .filter(|(_, o)| *o == owner)
                {
                    kill_group(group);
                }
                return;
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
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
/// atomically through `path`.tmp, itself 0600 from its creation. Under the
/// registry's lock: a clean-up on a signal holds it until the process has
/// exited, so the file is never written after the clean-up removed it.
pub fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _teardown = registry();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_file_is_not_written_while_a_clean_up_holds_the_registry() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("records.json");
        // What `end` holds from its clean-up to the exit.
        let clean_up = registry();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || write_private(&path, "{}"))
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!path.exists(), "written during the clean-up");
        assert!(!dir.path().join("records.json.tmp").exists());
        drop(clean_up);
        writer.join().expect("writer").expect("written");
        assert!(path.exists());
    }
}
