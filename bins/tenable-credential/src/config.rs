//! From the Gateway's input to what the update needs, before any request:
//! the managed credential's name (the Gateway's `user`), the new password,
//! and the Tenable the admin record names.
//!
//! Why the admin record and the client come from `rotate_tenable_user`'s
//! library (`config::Service`, `tenable::Tenable`) rather than a module of
//! this binary: Keeper's three Tenable scripts share one record, titled
//! "Tenable Authentication Record", and one Tenable API in two flavours
//! (Tenable.io's `X-ApiKeys`, Security Center's `x-apikey` and answer
//! envelope). Read once, a fix to how the record is found, how a key is
//! checked, how a Security Center host becomes its URL or how Tenable's
//! errors are shown reaches both binaries; a copy would drift. The library
//! is small and pulls in nothing the binary does not already need, so the
//! dependency costs no size (see `docs/development/performance.md`).

use common::error::Result;
use common::gateway::GatewayInput;
use common::secret::Secret;
use rotate_tenable_user::config::Service;

/// Everything the update needs from the Gateway's input.
#[derive(Debug)]
pub struct Setup<'a> {
    /// The managed credential's name (the Gateway's `user`).
    pub name: &'a str,
    pub new_password: &'a Secret,
    pub service: Service<'a>,
}

impl<'a> Setup<'a> {
    pub fn from_input(input: &'a GatewayInput) -> Result<Self> {
        let name = input.require_user()?;
        check_name(name)?;
        let new_password = input.require_new_password()?;
        input.require_user_record_uid()?;
        let service = Service::from_input(input)?;
        Ok(Self {
            name,
            new_password,
            service,
        })
    }
}

/// Refuses a `user` that no credential name is: blanks at either end or a
/// control character would only match nothing, or another credential.
pub fn check_name(name: &str) -> Result<()> {
    common::gateway::check_account(
        name,
        |name| {
            (name.chars().count() > 256)
                .then_some("it is longer than a Tenable credential name (256 characters)")
        },
        "the name of the Tenable managed credential",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_no_credential_name_is_refused_before_any_request() {
        for bad in ["", " ", " a", "a ", "a\tb", "a\u{2029}b"] {
            assert_eq!(
                check_name(bad).unwrap_err().exit(),
                common::Exit::BadInput,
                "{bad:?}"
            );
        }
        for good in ["Windows scan account", "svc-nessus", "Ünïcode"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
