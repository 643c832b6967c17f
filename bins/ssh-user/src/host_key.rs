//! The machine's host-key pins: reading `SSH Host Key` from the machine
//! record, and storing a key trusted on first use.
//!
//! Why a room of its own: the pin decides whether anything at all is sent
//! (no pin, no trust on first use: exit 2 printing the server's key), and
//! storing a pin is a vault write that the change ledger must know about.
//! The pin rules themselves (what a line may hold, what matches) are
//! [`crate::ssh`]'s.

use common::driver::Run;
use common::error::{Error, Result};
use common::records::Record;
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

/// Stores a host key trusted on first use in the machine record
/// ([`common::store::store_pin`]).
pub(crate) fn store_pin(run: &Run, target: &Target, address: &str, seen: &SeenKey) -> Result<()> {
    let what = format!(
        "storing the host key {} of {address} in '{HOST_KEY_FIELD}' of {}",
        seen.fingerprint,
        target.location()
    );
    common::store::store_pin(run, &target.uid, HOST_KEY_FIELD, &seen.line, &what)?;
    tracing::info!("stored the host key {} as the pin", seen.fingerprint);
    Ok(())
}
