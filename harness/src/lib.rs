//! The test harness of keeper-rotators.
//!
//! | module | holds |
//! |---|---|
//! | [`binary`] | which build a test runs: cargo's, or the one in `KEEPER_ROTATORS_BIN_DIR` |
//! | [`scenario`] | the Gateway's input as a JSON fixture, encoded as the Gateway does |
//! | [`encodings`] | the forms a secret takes when a server or library echoes it |
//! | [`runner`] | runs a built binary on a scenario and scans every output for leaks; two runs at once |
//! | [`fake_aws`] | a stateful IAM + STS fake speaking the Query protocol, checking SigV4, with lagging listings |
//! | [`fake_azure`] | the token endpoint and Graph application endpoints: secrets, policy, throttling, lagging reads |
//! | [`fake_okta`] | a stateful Okta users API: passwords, history, policy, rate limits |
//! | [`fake_rest`] | a stateful fake REST password endpoint |
//! | [`fake_ssh`] | an in-process SSH server faking a Linux machine: accounts, sudo, the binary's scripts emulated, faults per script and login |
//! | [`fake_vault`] | a fake Keeper Secrets Manager service speaking the SDK's encrypted protocol, failing as the real one does (late, held, truncated, refused saves) |
//! | [`template`] | the record templates in `templates/`, read back for the tests |
//! | [`vault_cli`] | `harness vault serve/get/set`: the fake standalone, and `common::vault` as a command |
//! | [`faults`] | the fault vocabulary ([`faults::FaultKind`]), arming ([`faults::Armable`]), gates, and the fault-injecting proxy in front of every HTTP fake |
//! | [`net`] | network faults: refused ports, servers that hang up |
//! | [`records`] | Keeper records as Commander exports them, turned into the vault's JSON and the Gateway's dictionaries |
//! | [`rehearsal`] | an administrator's records run through the real binary against the fakes, with faults (`harness run`); the failure matrix the conformance suite runs |
//! | [`sshd`] | a real OpenSSH server per test in a private mount namespace (root) |
//! | [`bench`] | start-up, end-to-end time, peak memory and size of a binary (`harness bench`) |
//! | [`bench::ssh`] | `harness bench ssh-user`: password-only and key-plus-password rotations against the real sshd (root), else the fake |
//! | [`demo`] | end-to-end demonstrations against the fakes (`harness demo`) |
//! | [`layout`] | `harness layout`: each crate's module graph, its cycles, the files over 800 lines |
//! | [`docs`] | `README.md` and `docs/` checked against the code: each rotator page's `--help` block, every relative link |

#![allow(
    clippy::expect_used,
    reason = "test infrastructure: a fake that cannot start must fail the test loudly"
)]

pub mod bench;
pub mod binary;
pub mod demo;
pub mod docs;
pub mod encodings;
pub mod fake_aws;
pub mod fake_azure;
pub mod fake_okta;
pub mod fake_rest;
pub mod fake_ssh;
pub mod fake_vault;
pub mod faults;
pub mod layout;
pub mod net;
pub mod records;
pub mod rehearsal;
pub mod runner;
pub mod scenario;
pub mod sshd;
pub mod teardown;
pub mod template;
pub mod vault_cli;

pub use binary::Binary;
pub use fake_aws::{AwsFault, FakeAws};
pub use fake_azure::{AzureFault, FakeAzure};
pub use fake_okta::{FakeOkta, OktaFault};
pub use fake_rest::{FakeRest, Reply};
pub use fake_ssh::FakeSsh;
pub use fake_vault::{FakeVault, Fault};
pub use faults::{Armable, FaultKind, FaultProxy, Gate};
pub use runner::{LeakScanner, Outcome, Run, Running};
pub use scenario::Scenario;

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

/// Starts a wiremock server on 127.0.0.1 that answers every request with
/// `responder`: the shared start of every stateful fake.
pub(crate) fn serve(responder: impl wiremock::Respond + 'static) -> wiremock::MockServer {
    runtime().block_on(async {
        let server = wiremock::MockServer::builder().start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(responder)
            .mount(&server)
            .await;
        server
    })
}

/// Starts a stateful fake as [`serve`] does, behind a [`FaultProxy`] that
/// names its requests with `classify`. The fake's address is the proxy's.
pub(crate) fn serve_proxied(
    responder: impl wiremock::Respond + 'static,
    classify: impl Fn(&faults::ProxiedRequest) -> String + Send + Sync + 'static,
) -> (wiremock::MockServer, FaultProxy) {
    let server = serve(responder);
    let proxy = FaultProxy::start(*server.address(), classify);
    (server, proxy)
}
