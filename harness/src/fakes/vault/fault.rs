//! What the fake vault can do to one request instead of serving it
//! normally ([`Fault`]), and what its call log says of each request
//! ([`VaultCall`]).
//!
//! Why apart: the vocabulary of a vault's failures is what a test reads
//! first, and it is richer than [`FaultKind`](crate::faults::FaultKind)
//! (a stale revision, a concurrent edit, a replica one write behind); which
//! request gets which fault is the one engine's ([`crate::faults`]), and
//! what each does on the wire is `serve.rs`'s.

use std::time::Duration;

use crate::faults::Planned;

/// A fault the fake applies to one request instead of serving it normally.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 403 `{"error":"throttled","retry_after":...}`.
    Throttle { retry_after: f64 },
    /// 500 with a JSON error body.
    ServerError,
    /// For `update_secret`: the revision is refused as stale.
    StaleRevision,
    /// For `update_secret`: another writer sets custom field `label` first
    /// (bumping the revision), so this update is refused as stale.
    ConcurrentEdit { label: String, value: String },
    /// Read the request, then close the connection without answering.
    Drop,
    /// For `update_secret`: another writer sets custom field `label` (the
    /// revision goes up), then the connection closes without an answer and
    /// without applying this update.
    DropAfterOtherEdit { label: String, value: String },
    /// Serve the request (apply an update), then close without answering.
    DropAfterApply,
    /// Wait this long before serving the request. For `update_secret` this
    /// is [`Fault::LateApply`]: the update is applied after the wait with
    /// the revision it carried.
    Delay(Duration),
    /// Hold the request unanswered and unapplied this long, then serve it
    /// as sent: an `update_secret` is applied with the revision it carried,
    /// so if the record's revision moved meanwhile it is rejected as stale,
    /// as the real service rejects it. Then answer (the client has usually
    /// given up by then). Same as [`Fault::Delay`]; this is the name the
    /// fault vocabulary uses (`late-save`).
    LateApply(Duration),
    /// Serve the request at once (apply an update), hold the answer this
    /// long, then close the connection without it: a timeout after apply.
    ApplyThenHold(Duration),
    /// Serve the request (apply an update), then answer this status with a
    /// load balancer's JSON error instead of the service's answer.
    ApplyThenError(u16),
    /// Serve the request, then send a 200 with the full `Content-Length`
    /// but only the first half of the (encrypted) body, and close. An empty
    /// 200 (`update_secret`'s) is cut after its status line instead.
    Truncated,
    /// The vault goes down: this request is hung up on unapplied, the
    /// listener is closed (new connections are refused) and requests on
    /// open connections are hung up on. For the exact "refused before the
    /// request was sent", use [`Armable::refuse_from`](crate::faults::Armable::refuse_from).
    Refused,
    /// For `get_secret`: an answer without the required `folders` key.
    MissingFolders,
    /// A 200 whose body is not encrypted with the transmission key.
    Unencrypted,
    /// A 500 whose body is plain text, not JSON.
    NotJson,
    /// For `get_secret`: answered by a replica one write behind: each
    /// record as it was before its latest save, at the revision it had
    /// then (a record never saved is served as it is). What a read-back
    /// after a save must not take for proof of anything.
    StaleRead,
}

/// Held unapplied, then applied: pending until applied, for
/// [`Armable::wait_applied`](crate::faults::Armable::wait_applied).
impl Planned for Fault {
    fn is_late(&self) -> bool {
        matches!(self, Self::LateApply(_) | Self::Delay(_))
    }
}

/// One request the fake vault read, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultCall {
    /// The endpoint: `get_secret`, `update_secret`, ...
    pub endpoint: String,
    /// 1-based occurrence of the endpoint.
    pub nth: usize,
    /// The record uids the request named (`requestedRecords`, `recordUid`);
    /// empty when it could not be read or named none (all records).
    pub records: Vec<String>,
    /// The fault applied to it, by its short name.
    pub fault: Option<String>,
    /// The status sent; `None` when no answer reached the client.
    pub status: Option<u16>,
}

impl Fault {
    /// A short name for reports: the fault vocabulary's where one applies.
    pub fn name(&self) -> String {
        match self {
            Self::Throttle { .. } => "429".into(),
            Self::ServerError => "500".into(),
            Self::StaleRevision => "stale-revision".into(),
            Self::ConcurrentEdit { .. } => "concurrent-edit".into(),
            Self::Drop => "drop-before-apply".into(),
            Self::DropAfterOtherEdit { .. } => "drop-after-other-edit".into(),
            Self::DropAfterApply => "drop-after-apply".into(),
            Self::Delay(_) | Self::LateApply(_) => "late-save".into(),
            Self::ApplyThenHold(_) => "timeout-after-apply".into(),
            Self::ApplyThenError(status) => format!("apply-then-{status}"),
            Self::Truncated => "truncated-2xx".into(),
            Self::Refused => "refused".into(),
            Self::MissingFolders => "missing-folders".into(),
            Self::Unencrypted => "unencrypted".into(),
            Self::NotJson => "not-json".into(),
            Self::StaleRead => "stale-read".into(),
        }
    }
}
