//! What a rehearsal or a test starts from: Keeper records as Commander
//! exports them ([`commander`]; named so, not `records`, to stay apart from
//! `common::records`, the binaries' view of the Gateway's dictionaries),
//! scenario files and the Gateway's line ([`scenario`]), and the record
//! templates of `templates/` ([`template`]).

pub mod commander;
pub mod scenario;
pub mod template;
