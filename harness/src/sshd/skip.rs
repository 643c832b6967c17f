//! Whether this machine can run the real-OpenSSH tests, and whether a test
//! that cannot may skip.
//!
//! Why apart: the skip policy is a rule of the project (CI cannot pass with
//! every real-OpenSSH test skipped; see `mod.rs`), tested on its own, and
//! independent of how the server is started.

use std::path::Path;
use std::process::{Command, Stdio};

/// Why this machine cannot run the real-sshd tests, if it cannot.
pub fn unavailable() -> Option<&'static str> {
    if !is_root() {
        return Some("needs root for a private mount namespace");
    }
    if !Path::new("/usr/sbin/sshd").exists() {
        return Some("needs /usr/sbin/sshd (scripts/setup installs openssh-server)");
    }
    if !Path::new("/usr/bin/sudo").exists() {
        return Some("needs sudo (scripts/setup installs it)");
    }
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(Stdio::null())
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        return Some("unshare --mount failed (no CAP_SYS_ADMIN?)");
    }
    None
}

/// Where a skip is refused, in words for the failure message.
pub const SKIP_SWITCHES: &str = "CI is set, or KEEPER_ROTATORS_REQUIRE_SSHD=1";

/// Whether a test that needs the real sshd must fail rather than skip:
/// under CI (`CI` set and not `false` or `0`) or when
/// `KEEPER_ROTATORS_REQUIRE_SSHD=1`.
pub fn skip_forbidden() -> bool {
    skip_forbidden_by(
        std::env::var("CI").ok().as_deref(),
        std::env::var("KEEPER_ROTATORS_REQUIRE_SSHD")
            .ok()
            .as_deref(),
    )
}

fn skip_forbidden_by(ci: Option<&str>, require: Option<&str>) -> bool {
    let set = |v: Option<&str>| {
        v.is_some_and(|v| {
            let v = v.trim();
            !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
        })
    };
    set(ci) || set(require)
}

fn is_root() -> bool {
    // The effective uid, without unsafe code: /proc/self/status.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::skip_forbidden_by;

    #[test]
    fn a_skip_is_refused_under_ci_or_when_required() {
        assert!(skip_forbidden_by(Some("true"), None));
        assert!(skip_forbidden_by(Some("1"), None));
        assert!(skip_forbidden_by(None, Some("1")));
        assert!(skip_forbidden_by(Some("false"), Some("yes")));
    }

    #[test]
    fn a_skip_is_allowed_outside_ci() {
        assert!(!skip_forbidden_by(None, None));
        assert!(!skip_forbidden_by(Some("false"), None));
        assert!(!skip_forbidden_by(Some("0"), Some("")));
        assert!(!skip_forbidden_by(Some(" "), Some("FALSE")));
    }
}
