//! The test harness of keeper-rotators.
//!
//! The harness in wings: [`fakes`] (each service, in its real wire format),
//! [`faults`] (the one fault vocabulary, the fault proxy, network faults),
//! [`inputs`] (Commander exports, scenarios, record templates),
//! [`rehearsal`] (an administrator's records through the real binary, the
//! failure matrix) and [`bench`] (time, memory, size); around them what runs
//! a binary and judges its output.
//!
//! | module | holds |
//! |---|---|
//! | [`fakes`] | IAM + STS, Entra + Graph, Okta, a REST API, an SSH machine, the Keeper vault: stateful, on 127.0.0.1, failing as the real ones do; every HTTP fake in one frame ([`fakes::http::HttpFake`]) |
//! | [`faults`] | the fault vocabulary ([`faults::FaultKind`], one list: [`with_fault_kinds!`]), arming ([`faults::Armable`]), gates, the one engine that plans each request's fault (for the proxy and the fake vault), the fault-injecting proxy in front of every HTTP fake, network faults ([`faults::net`]) |
//! | [`inputs`] | Keeper records as Commander exports them ([`inputs::commander`]), the Gateway's input as a scenario file ([`inputs::scenario`]), the record templates ([`inputs::template`]) |
//! | [`rehearsal`] | an administrator's records run through the real binary against the fakes, with faults (`harness run`); the failure matrix the conformance suite runs |
//! | [`bench`] | start-up, end-to-end time, peak memory and size of a binary (`harness bench`; [`bench::ssh`] for ssh-user) |
//! | [`binary`] | which build a test runs: cargo's, or the one in `KEEPER_ROTATORS_BIN_DIR` |
//! | [`runner`] | runs a built binary on a scenario and scans every output for leaks; two runs at once |
//! | [`world`] | [`TestWorld`]: a test's fake vault, service fake and input in one builder, every run leak-scanned |
//! | [`encodings`] | the forms a secret takes when a server or library echoes it |
//! | [`suites`] | end-to-end suites shared by every binary of a kind: [`suites::password`] for HTTP password rotators, one row per binary ([`password_suite!`]) |
//! | [`sshd`] | a real OpenSSH server per test in a private mount namespace (root) |
//! | [`teardown`] | private files and child rotators removed on a signal or a panic |
//! | [`vault_cli`] | `harness vault serve/get/set`: the fake standalone, and `common::vault` as a command |
//! | [`demo`] | end-to-end demonstrations against the fakes (`harness demo`) |
//! | [`layout`] | `harness layout`: each crate's module graph, its cycles, the files over 800 lines |
//! | [`docs`] | `README.md` and `docs/` checked against the code: each rotator page's `--help` block, every relative link |
//! | [`summary`] | the binaries' JSON summary line checked against its published schema |

#![allow(
    clippy::expect_used,
    reason = "test infrastructure: a fake that cannot start must fail the test loudly"
)]

pub mod bench;
pub mod binary;
pub mod demo;
pub mod docs;
pub mod encodings;
pub mod fakes;
pub mod faults;
pub mod inputs;
pub mod layout;
pub mod leak;
pub mod reap;
pub mod rehearsal;
pub mod runner;
pub mod sshd;
pub mod suites;
pub mod summary;
pub mod teardown;
pub mod vault_cli;
pub mod world;

pub use binary::Binary;
pub use fakes::aws::{AwsFault, FakeAws};
pub use fakes::azure::{AzureFault, FakeAzure};
pub use fakes::iosxe::FakeIosXe;
pub use fakes::meraki::FakeMeraki;
pub use fakes::okta::{FakeOkta, OktaFault};
pub use fakes::rest::{FakeRest, Reply};
pub use fakes::snowflake::FakeSnowflake;
pub use fakes::ssh::FakeSsh;
pub use fakes::tenable::FakeTenable;
pub use fakes::vault::{FakeVault, Fault};
pub use faults::{Armable, FaultKind, FaultProxy, Gate};
pub use inputs::scenario::Scenario;
pub use runner::{LeakScanner, Outcome, Run, Running};
pub use world::TestWorld;

use std::sync::OnceLock;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// Whether [`runtime`] has started (its threads live in the network
/// namespace of the thread that started it).
pub(crate) fn runtime_started() -> bool {
    RUNTIME.get().is_some()
}

/// The runtime the fakes are started on. Tests stay plain synchronous
/// functions; the fakes serve from their own threads.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("start the harness runtime")
    })
}
