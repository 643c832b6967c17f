//! A single run's report as text, for people.
//!
//! Why apart from the data: the report is built once as data
//! ([`super::Report`]), masked and escaped there; this module only lays it
//! out, so it holds no secret that the JSON form would not.

use std::fmt::Write as _;

use serde_json::Value;

use super::{Report, esc};
use crate::rehearsal::exit_text;

impl Report {
    /// The report as text, for people.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "== rehearsal of {} ({}): {}",
            self.use_case, self.binary, self.description
        );
        for source in &self.sources {
            let _ = writeln!(
                t,
                "   read {}: {} ({} records)",
                esc(&source.path.display().to_string()),
                source.shape,
                source.records
            );
        }
        let _ = writeln!(t, "== roles");
        let role = |t: &mut String, what: &str, r: &crate::rehearsal::input::Role| {
            let _ = writeln!(
                t,
                "   {what:<18} '{}' ({}, uid {}): {}",
                r.title, r.kind, r.uid, r.why
            );
        };
        role(&mut t, "PAM configuration", &self.roles.config);
        match &self.roles.resource {
            Some(r) => role(&mut t, "resource", r),
            None => {
                let _ = writeln!(t, "   {:<18} none", "resource");
            }
        }
        if self.roles.attached.is_empty() {
            let _ = writeln!(t, "   {:<18} none", "attached");
        }
        for r in &self.roles.attached {
            role(&mut t, "attached", r);
        }
        role(&mut t, "PAM User", &self.roles.user);
        for r in &self.roles.not_sent {
            role(&mut t, "not sent", r);
        }
        if !self.notes.is_empty() {
            let _ = writeln!(t, "== notes");
            for note in &self.notes {
                let _ = writeln!(t, "   - {note}");
            }
        }
        let _ = writeln!(
            t,
            "== the Gateway's input (base64 on stdin; decoded here, secrets masked)"
        );
        if let Value::Object(input) = &self.input {
            for (key, value) in input {
                if key == "records" {
                    continue;
                }
                let _ = writeln!(t, "   {key}: {}", plain(value));
            }
            let _ = writeln!(t, "   records:");
            for record in input
                .get("records")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let _ = writeln!(t, "     {record}");
            }
        }
        let _ = writeln!(t, "== the fakes, seeded from the records");
        for seeded in &self.seeded {
            for line in &seeded.lines {
                let _ = writeln!(t, "   {}: {line}", seeded.service);
            }
        }
        if let Some(plan) = &self.plan {
            let _ = writeln!(
                t,
                "== plan (the binary with --dry-run, on a copy of the fakes): exit {}",
                dry_exit_text(plan.exit_code)
            );
            let _ = writeln!(t, "   {}", plan.summary);
            if plan.exit_code != Some(0) {
                for line in &plan.message {
                    let _ = writeln!(t, "   {line}");
                }
            }
        }
        if !self.faults.is_empty() {
            let _ = writeln!(t, "== faults armed ({})", self.timing);
            for fault in &self.faults {
                let _ = writeln!(t, "   {fault}");
            }
        }
        let _ = writeln!(
            t,
            "== running {}{} with the Gateway's line on stdin",
            self.binary,
            if self.dry_run { " --dry-run" } else { "" }
        );
        let _ = writeln!(
            t,
            "--- stdout\n{}--- stderr\n{}---",
            ensure_newline(&self.stdout),
            ensure_newline(&self.stderr)
        );
        let _ = writeln!(
            t,
            "== exit code: {}",
            if self.dry_run {
                dry_exit_text(self.exit_code)
            } else {
                exit_text(self.exit_code)
            }
        );
        if !self.message.is_empty() && self.exit_code != Some(0) {
            let _ = writeln!(t, "== what the binary told you");
            for line in &self.message {
                let _ = writeln!(t, "   {line}");
            }
        }
        let _ = writeln!(t, "== every call the fakes received (secrets masked)");
        for service in &self.calls {
            if service.calls.is_empty() {
                let _ = writeln!(t, "   {}: no calls", service.service);
                continue;
            }
            let _ = writeln!(t, "   {}:", service.service);
            for call in &service.calls {
                let status = match (call.status, &call.fault) {
                    (Some(s), Some(f)) => format!("{s} ({f})"),
                    (Some(s), None) => s.to_string(),
                    (None, Some(f)) => format!("no answer ({f})"),
                    (None, None) => "no answer".into(),
                };
                // One line of detail goes on the call's line; more, below it.
                let detail: Vec<&str> = call.detail.lines().collect();
                let inline = match detail.as_slice() {
                    [one] if !one.is_empty() => format!(": {one}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    t,
                    "     {:>2}. {}#{} -> {status}{inline}",
                    call.index, call.call, call.nth
                );
                if detail.len() > 1 {
                    for line in detail {
                        let _ = writeln!(t, "         {line}");
                    }
                }
            }
        }
        let _ = writeln!(
            t,
            "== the records before and after (* changed; secrets as fingerprints)"
        );
        for record in &self.records {
            let _ = writeln!(t, "   '{}' (uid {})", record.title, record.uid);
            if let Some(note) = &record.note {
                let _ = writeln!(t, "     ({note})");
            }
            let width = record
                .fields
                .iter()
                .map(|f| f.name.chars().count())
                .max()
                .unwrap_or(0);
            for field in &record.fields {
                let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
                if field.changed {
                    let _ = writeln!(
                        t,
                        "   * {:<width$}  {} -> {}",
                        field.name,
                        shown(&field.before),
                        shown(&field.after)
                    );
                } else {
                    let _ = writeln!(t, "     {:<width$}  {}", field.name, shown(&field.after));
                }
            }
        }
        let _ = writeln!(t, "== end state");
        for line in &self.end_state {
            let _ = writeln!(t, "   {line}");
        }
        let _ = writeln!(
            t,
            "== verdict: {}{}",
            if self.verdict.consistent {
                "consistent: "
            } else {
                "INCONSISTENT: "
            },
            self.verdict.detail
        );
        match &self.leak_scan.found {
            None => {
                let _ = writeln!(
                    t,
                    "== leak scan: none of the {} secrets (input, fakes, vault) appeared in stdout or stderr",
                    self.leak_scan.secrets
                );
            }
            Some(found) => {
                let _ = writeln!(t, "== leak scan: LEAK: {found}");
            }
        }
        t
    }
}

/// A dry run's exit: 0 is a plan, not a rotation.
fn dry_exit_text(code: Option<i32>) -> String {
    match code {
        Some(0) => "0 (a plan; nothing was changed)".into(),
        other => exit_text(other),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn ensure_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}
