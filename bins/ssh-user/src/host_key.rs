//! The machine's host-key pins: reading `SSH Host Key` from the machine
//! record, and storing a key trusted on first use.
//!
//! Why a room of its own: the pin decides whether anything at all is sent
//! (no pin, no trust on first use: exit 2 printing the server's key), and
//! storing a pin is a vault write that the change ledger must know about.
//! The pin rules themselves (what a line may hold, what matches) are
//! [`crate::ssh`]'s.

use common::change;
use common::driver::Run;
use common::error::{Error, Result};
use common::records::Record;
use common::vault::Change;
use serde_json::Value;

use crate::ssh::{HostKeyPins, SeenKey};
use crate::target::Target;

/// The machine record's custom field holding the pinned host key(s).
pub const HOST_KEY_FIELD: &str = "SSH Host Key";
/// The machine record's opt-in to store the first key seen as the pin.
pub const TOFU_FIELD: &str = "trust_host_key_on_first_use";

/// `SSH Host Key` of the machine record: `None` when absent or empty.
pub(crate) fn host_key_pins(machine: &Record) -> Result<Option<HostKeyPins>> {
    let invalid = |problem: String| Error::invalid(HOST_KEY_FIELD, machine.location(), problem);
    let text = match machine.value(HOST_KEY_FIELD) {
        None => return Ok(None),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(items)) => {
            let mut lines = Vec::new();
            for item in items {
                match item {
                    Value::String(line) => lines.push(line.clone()),
                    Value::Null => {}
                    other => {
                        return Err(invalid(format!(
                            "holds {}, expected text",
                            common::records::kind(other)
                        )));
                    }
                }
            }
            lines.join("\n")
        }
        Some(other) => {
            return Err(invalid(format!(
                "holds {}, expected text",
                common::records::kind(other)
            )));
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    HostKeyPins::parse(&text).map(Some).map_err(invalid)
}

/// Stores a host key trusted on first use in the machine record. The write
/// is entered in the change ledger (a dry run can never reach it, and an
/// unanswered save is never reported as "nothing changed"); once the vault
/// confirms it, it is settled: a stored pin is not a change to the account,
/// which is what the exit code reports on.
pub(crate) fn store_pin(run: &Run, target: &Target, address: &str, seen: &SeenKey) -> Result<()> {
    let what = format!(
        "storing the host key {} of {address} in '{HOST_KEY_FIELD}' of {}",
        seen.fingerprint,
        target.location()
    );
    let sent = change::sent(&what)?;
    let saved = run.vault().and_then(|mut vault| {
        vault.update(&target.uid, &[Change::text(HOST_KEY_FIELD, &seen.line)])
    });
    match saved {
        Ok(()) => {
            sent.settle();
            tracing::info!("stored the host key {} as the pin", seen.fingerprint);
            Ok(())
        }
        Err(e @ Error::NoAnswer { .. }) => {
            sent.keep();
            Err(Error::NeedsAttention(format!(
                "{what}: {e}. Nothing else was changed; check the field and rotate again"
            )))
        }
        Err(e) => {
            sent.settle();
            Err(Error::Failed(format!(
                "{what} failed: {e}; nothing was changed"
            )))
        }
    }
}
