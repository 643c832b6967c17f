//! rotate-ssh-user's building blocks: everything beneath the rotation flow.
//!
//! The flow itself (plan, apply, exit codes) is written on top of the shared
//! rotation driver; this crate holds what is specific to SSH, each piece in a
//! module small enough to test alone:
//!
//! | module | holds |
//! |---|---|
//! | [`target`] | the PAM Machine record: host, port, operating system |
//! | [`admin`] | which credential logs in (attached record, legacy fields, or self) |
//! | [`keys`] | reading, making and writing private keys in their format family |
//! | [`authorized_keys`] | a line-preserving editor of `authorized_keys` |
//! | [`ssh`] | the one wrapper around russh: pinning, authentication, exec |
//! | [`remote`] | the constant remote scripts and the classification of their output |

pub mod admin;
pub mod authorized_keys;
pub mod keys;
pub mod remote;
pub mod ssh;
pub mod target;
