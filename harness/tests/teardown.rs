//! What a panicking harness leaves behind: no rotator running on its own
//! (see `harness::teardown`).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken fixture"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use harness::Run;

/// A child that writes its pid to `pid_file`, then sleeps 30 s.
fn sleeper(pid_file: &Path) -> Run {
    Run::new("/bin/sh")
        .arg("-c")
        .arg(format!("echo $$ > '{}'; exec sleep 30", pid_file.display()))
}

/// The pid in `pid_file`, once the child wrote it.
fn started(pid_file: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "the child never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` is running (a zombie is not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .and_then(|(_, t)| t.split_whitespace().next().map(str::to_owned))
        })
        .is_some_and(|state| state != "Z" && state != "X")
}

fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

#[test]
fn a_panic_in_the_thread_that_spawned_a_run_kills_the_child_still_running() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let running = sleeper(&pid_file).spawn();
    let pid = started(&pid_file);
    // The test's assertion fails while the run sleeps: the test process
    // would end now, without unwinding the run's thread.
    let panicked = std::panic::catch_unwind(|| panic!("an assertion failed"));
    assert!(panicked.is_err());
    assert!(
        gone_within(pid, Duration::from_secs(5)),
        "the child outlived the panic"
    );
    let out = running.wait();
    assert_eq!(out.code, None, "{}", out.output());
}

#[test]
fn a_panic_while_waiting_to_kill_a_run_kills_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sleeper(&pid_file).kill_when(|| {
            started(&pid_file);
            panic!("the call the run was to die in never came");
        })
    }));
    assert!(result.is_err());
    let pid = started(&pid_file);
    assert!(
        gone_within(pid, Duration::from_secs(5)),
        "the child outlived the panic"
    );
}
