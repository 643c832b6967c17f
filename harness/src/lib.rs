//! The test harness of keeper-rotators.
//!
//! | module | holds |
//! |---|---|
//! | [`scenario`] | the Gateway's input as a JSON fixture, encoded as the Gateway does |
//! | [`encodings`] | the forms a secret takes when a server or library echoes it |
//! | [`runner`] | runs a built binary on a scenario and scans every output for leaks |
//! | [`fake_aws`] | a stateful IAM + STS fake speaking the Query protocol, checking SigV4 |
//! | [`fake_azure`] | the token endpoint and Graph application endpoints: secrets, policy, throttling |
//! | [`fake_okta`] | a stateful Okta users API: passwords, history, policy, rate limits |
//! | [`fake_rest`] | a stateful fake REST password endpoint |
//! | [`fake_vault`] | a fake Keeper Secrets Manager service speaking the SDK's encrypted protocol |
//! | [`vault_cli`] | `harness vault serve/get/set`: the fake standalone, and `common::vault` as a command |
//! | [`net`] | network faults: refused ports, servers that hang up |
//! | [`bench`] | start-up, end-to-end time, peak memory and size of a binary (`harness bench`) |
//! | [`demo`] | end-to-end demonstrations against the fakes (`harness demo`) |

#![allow(
    clippy::expect_used,
    reason = "test infrastructure: a fake that cannot start must fail the test loudly"
)]

pub mod bench;
pub mod demo;
pub mod encodings;
pub mod fake_aws;
pub mod fake_azure;
pub mod fake_okta;
pub mod fake_rest;
pub mod fake_vault;
pub mod net;
pub mod runner;
pub mod scenario;
pub mod vault_cli;

pub use fake_aws::{AwsFault, FakeAws};
pub use fake_azure::{AzureFault, FakeAzure};
pub use fake_okta::{FakeOkta, OktaFault};
pub use fake_rest::{FakeRest, Reply};
pub use fake_vault::{FakeVault, Fault};
pub use runner::{LeakScanner, Outcome, Run};
pub use scenario::Scenario;

use std::sync::OnceLock;

/// The runtime the fakes are started on. Tests stay plain synchronous
/// functions; the fakes serve from their own threads.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
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
