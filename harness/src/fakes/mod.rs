//! The fakes: each service a rotator talks to, served on 127.0.0.1 in its
//! real wire format, stateful, and failing like the real service when asked
//! ([`crate::faults`]). The same binary works unchanged against them and
//! against the real services.
//!
//! Every HTTP fake is one service in the same frame ([`http::HttpFake`]):
//! listening, the fault proxy in front, the call log and teardown are the
//! frame's; each module keeps its service's routes and state.
//!
//! | fake | speaks |
//! |---|---|
//! | [`aws`] | IAM and STS (query API, SigV4 checked) |
//! | [`azure`] | the Entra token endpoint and Microsoft Graph |
//! | [`meraki`] | the Meraki Dashboard API's authorized users of a network |
//! | [`okta`] | Okta's users API and `/api/v1/authn` |
//! | [`rest`] | any REST API whose password a request changes |
//! | [`snowflake`] | Snowflake's SQL API (key-pair JWT checked, `DESC USER`, `ALTER USER … SET PASSWORD`) |
//! | [`ssh`] | an SSH server whose scripts act on a modelled Linux machine |
//! | [`tenable`] | Tenable.io's and Security Center's users (and Security Center's sign-in) |
//! | [`vault`] | Keeper Secrets Manager, encrypted as the SDK expects, behind its proxy |

pub mod aws;
pub mod azure;
pub mod http;
pub mod iosxe;
mod lag;
pub mod meraki;
pub mod okta;
pub mod rest;
pub mod snowflake;
pub mod ssh;
pub mod tenable;
pub mod vault;
