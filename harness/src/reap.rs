//! Every process a third-party script started, found and killed when its
//! run ends, however it detached.
//!
//! Why: a process group is not enough. A script can start `setsid sleep
//! 1000 &`, a grandchild in a session and group of its own that outlives
//! the group's SIGKILL, still holding the run's output pipes (a reader
//! would wait for it) and possibly still talking to the fakes. A cgroup
//! would hold it, but needs privileges and a delegated hierarchy the
//! harness cannot count on.
//!
//! How: every process of the run is started with [`MARKER_VAR`] set to a
//! value unique to the run, and a child inherits its parent's environment.
//! While the run goes on, the processes holding the marker are remembered
//! (with their start time, so a reused pid is never mistaken for one); when
//! it ends, every process that holds the marker now, or was remembered and
//! still is the same process, is killed with SIGKILL, until none is left.
//! The harness is made a child subreaper ([`become_subreaper`]), so an
//! orphaned grandchild is re-parented to it rather than to init, and is
//! reaped here instead of staying a zombie.
//!
//! Not covered, and said so in the docs: a process that clears or rewrites
//! its own environment before it forks (its children then lack the marker)
//! and that the remembering did not see, or a process of another user. The
//! harness does not sandbox a script.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The variable every process of a tracked run carries.
pub const MARKER_VAR: &str = "KEEPER_HARNESS_RUN";

/// A process: its pid and start time (a reused pid has another).
type Process = (i32, u64);

/// Processes seen holding each marker.
type Seen = Vec<(String, HashSet<Process>)>;

static SEEN: Mutex<Seen> = Mutex::new(Vec::new());

/// A fresh marker: unique to one run.
pub fn new_marker() -> String {
    use rand::Rng;
    let n: u128 = rand::thread_rng().r#gen();
    format!("{}-{n:032x}", std::process::id())
}

/// Makes this process the reaper of its orphaned descendants (Linux
/// `PR_SET_CHILD_SUBREAPER`); best effort.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// A process's start time (field 22 of `/proc/PID/stat`) and parent.
fn stat(pid: i32) -> Option<(u64, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields after
    // the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is the state (field 3), so field N is rest[N - 3].
    let parent = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, parent))
}

fn holds(pid: i32, marker: &str) -> bool {
    let wanted = format!("{MARKER_VAR}={marker}");
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
        environ
            .split(|b| *b == 0)
            .any(|entry| entry == wanted.as_bytes())
    })
}

/// Every process now holding `marker`, with its start time.
fn marked_now(marker: &str) -> Vec<(i32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me && holds(*pid, marker))
        .filter_map(|pid| stat(pid).map(|(start, _)| (pid, start)))
        .collect()
}

fn seen() -> std::sync::MutexGuard<'static, Seen> {
    SEEN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tracks `marker` before its run starts, so that a signal ending the
/// harness kills the run's processes however early it comes
/// ([`kill_every_tracked`]).
pub fn track(marker: &str) {
    let mut seen = seen();
    if !seen.iter().any(|(m, _)| m == marker) {
        seen.push((marker.to_owned(), HashSet::new()));
    }
}

/// Kills the processes of every run still tracked: a signal is ending the
/// harness ([`crate::teardown`]), and a script's `setsid` grandchild is in
/// no process group the harness registered.
pub fn kill_every_tracked() {
    let markers: Vec<String> = seen().iter().map(|(m, _)| m.clone()).collect();
    for marker in markers {
        kill_marked(&marker);
    }
}

/// Remembers the processes holding `marker` now (called while the run goes
/// on, so one that later rewrites its environment is still known).
pub fn remember_marked(marker: &str) {
    let now = marked_now(marker);
    let mut seen = seen();
    match seen.iter_mut().find(|(m, _)| m == marker) {
        Some((_, set)) => set.extend(now),
        None => seen.push((marker.to_owned(), now.into_iter().collect())),
    }
}

/// Kills (SIGKILL) every process that holds `marker`, or was seen holding
/// it and is still the same process, until none is left (a process may
/// fork while it is being killed); reaps those re-parented to the harness.
/// Gives up after a few seconds.
pub fn kill_marked(marker: &str) {
    // Kept tracked until the end: a signal ending the harness meanwhile
    // still finds the marker ([`kill_every_tracked`]).
    let remembered: HashSet<(i32, u64)> = seen()
        .iter()
        .find(|(m, _)| m == marker)
        .map(|(_, set)| set.clone())
        .unwrap_or_default();
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let until = Instant::now() + Duration::from_secs(5);
    let mut killed = remembered.clone();
    loop {
        let mut targets: Vec<(i32, u64)> = marked_now(marker);
        targets.extend(
            remembered
                .iter()
                .filter(|(pid, start)| stat(*pid).is_some_and(|(s, _)| s == *start))
                .copied(),
        );
        // A zombie holds nothing: only the living count.
        targets.retain(|(pid, _)| !is_zombie(*pid));
        for (pid, _) in &targets {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        killed.extend(targets.iter().copied());
        if !targets.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
        reap_orphans(me, marker, &killed);
        if targets.is_empty() {
            seen().retain(|(m, _)| m != marker);
            return;
        }
        // Given up with some alive: still tracked, for a later pass or a
        // signal ending the harness.
        if Instant::now() >= until {
            return;
        }
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            t.rfind(')')
                .and_then(|i| t[i + 1..].split_whitespace().next().map(str::to_owned))
        })
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Waits for (reaps) the zombies re-parented to the harness that belonged
/// to this run: marked, or remembered. Never another run's child: only
/// pids the run's marker names.
fn reap_orphans(me: i32, marker: &str, remembered: &HashSet<(i32, u64)>) {
    use nix::sys::wait::{WaitPidFlag, waitpid};
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for pid in dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
    {
        let Some((start, parent)) = stat(pid) else {
            continue;
        };
        if parent != me || !is_zombie(pid) {
            continue;
        }
        // A zombie's environ is gone: only one remembered or killed is known.
        if remembered.contains(&(pid, start)) || holds(pid, marker) {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_grandchild_holding_the_marker_is_killed() {
        let marker = new_marker();
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg("setsid sleep 997 & sleep 996")
            .env(MARKER_VAR, &marker)
            .spawn()
            .expect("spawn");
        // Polled, not slept: on a loaded machine the shell may take a while
        // to start both.
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while marked_now(&marker).len() < 2 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        remember_marked(&marker);
        assert!(marked_now(&marker).len() >= 2);
        let _ = child.kill();
        let _ = child.wait();
        kill_marked(&marker);
        let left = || -> Vec<_> {
            marked_now(&marker)
                .into_iter()
                .filter(|(pid, _)| !is_zombie(*pid))
                .collect()
        };
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while !left().is_empty() && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(left().is_empty(), "{:?}", left());
    }
}
