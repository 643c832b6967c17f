//! End-to-end suites shared by every binary of a kind, generated per binary
//! from what its rehearsal's use case already knows.
//!
//! | suite | for | a row |
//! |---|---|---|
//! | [`password`] | HTTP password rotators (a [`crate::rehearsal`] password use case) | `harness::password_suite!(meraki_user: "meraki-user");` in the binary's `tests/` |

pub mod password;
