//! A line-preserving editor of `authorized_keys`.
//!
//! Why not rewrite the file from parsed entries: the file belongs to the user
//! and to whatever else manages the machine (cloud agents add their keys,
//! administrators write `command="…"` and `from="…"` restrictions, comments,
//! `cert-authority` lines, `sk-*` security keys). Keeper's own rotator
//! stripped every `'` and rewrote the file, breaking `command=` options. Here
//! every line the rotation does not mean to touch comes out byte for byte as
//! it went in, line endings included; a missing final newline stays missing
//! unless a line is appended after it.
//!
//! Lines are matched by key blob (the record's current public key) and by
//! the tag comment `keeper-security-<user>` that marks the line the rotation
//! owns. A new tagged line copies the options of the line it replaces, so a
//! forced command or source restriction survives the rotation.

use std::fmt;

/// The comment that marks the line a rotation owns.
pub fn tag(user: &str) -> String {
    format!("keeper-security-{user}")
}

/// One parsed key line. Text fields borrow nothing: the editor keeps the raw
/// line as well, and only the raw line is ever written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The options field exactly as written (`from="a,b",no-pty`), if any.
    pub options: Option<String>,
    /// The key type, e.g. `ssh-ed25519` or `sk-ssh-ed25519@openssh.com`.
    pub key_type: String,
    /// The base64 key blob.
    pub blob: String,
    /// Everything after the blob, trimmed.
    pub comment: String,
}

impl Entry {
    /// Whether this entry carries the tag for `user`. Also accepts the tag
    /// with the user's punctuation removed (`keeper-security-ec2user` for
    /// `ec2-user`), the form Keeper's documentation shows.
    pub fn is_tagged_for(&self, user: &str) -> bool {
        let squeezed: String = user.chars().filter(char::is_ascii_alphanumeric).collect();
        self.comment
            .split_whitespace()
            .any(|word| word == tag(user) || word == tag(&squeezed))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    /// The line without its terminator.
    text: String,
    /// `"\n"`, `"\r\n"` or `""` (the last line of a file without a final
    /// newline).
    ending: &'static str,
    entry: Option<Entry>,
}

/// An `authorized_keys` file being edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKeys {
    lines: Vec<Line>,
}

/// What an edit did, with 1-based line numbers of the file as it was before
/// that edit, for the log and the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// A line was added at `line`; its options were copied from
    /// `options_from` when that is set.
    Added {
        line: usize,
        options_from: Option<usize>,
    },
    /// The key was already there (at `line`): nothing was added.
    AlreadyPresent { line: usize },
    /// These lines were removed.
    Removed { lines: Vec<usize> },
    /// Nothing matched: nothing was removed.
    NothingToRemove,
    /// The line to add was not `type blob [comment]`: nothing was added.
    NotAKey,
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added {
                line,
                options_from: Some(from),
            } => write!(f, "added line {line} (options copied from line {from})"),
            Self::Added {
                line,
                options_from: None,
            } => write!(f, "added line {line}"),
            Self::AlreadyPresent { line } => write!(f, "the key is already on line {line}"),
            Self::Removed { lines } => {
                let list: Vec<String> = lines.iter().map(ToString::to_string).collect();
                write!(f, "removed line(s) {}", list.join(", "))
            }
            Self::NothingToRemove => f.write_str("nothing to remove"),
            Self::NotAKey => f.write_str("not a public key line: nothing added"),
        }
    }
}

impl AuthorizedKeys {
    pub fn parse(text: &str) -> Self {
        let mut lines = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (raw, ending, next) = match rest.find('\n') {
                Some(at) => {
                    let raw = &rest[..at];
                    match raw.strip_suffix('\r') {
                        Some(stripped) => (stripped, "\r\n", &rest[at + 1..]),
                        None => (raw, "\n", &rest[at + 1..]),
                    }
                }
                None => (rest, "", ""),
            };
            lines.push(Line {
                text: raw.to_owned(),
                ending,
                entry: parse_line(raw),
            });
            rest = next;
        }
        Self { lines }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(&line.text);
            out.push_str(line.ending);
        }
        out
    }

    /// The key entries with their 1-based line numbers.
    pub fn entries(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.entry.as_ref().map(|e| (i + 1, e)))
    }

    /// The first line holding the key `blob` (base64), 1-based.
    pub fn find_blob(&self, blob: &str) -> Option<usize> {
        self.entries().find(|(_, e)| e.blob == blob).map(|(n, _)| n)
    }

    /// The lines tagged for `user`, 1-based.
    pub fn find_tagged(&self, user: &str) -> Vec<usize> {
        self.entries()
            .filter(|(_, e)| e.is_tagged_for(user))
            .map(|(n, _)| n)
            .collect()
    }

    /// Adds `public` (an OpenSSH line `type blob [comment]`; the comment is
    /// replaced by the tag) as the line tagged for `user`, keeping every
    /// other line. It goes right after the line it replaces — the line
    /// tagged for `user`, else the line holding `current_blob` — and copies
    /// that line's options; with neither, it is appended. A key already in
    /// the file is not added twice.
    pub fn add_tagged(&mut self, public: &str, user: &str, current_blob: Option<&str>) -> Edit {
        let mut words = public.split_whitespace();
        let (Some(key_type), Some(blob)) = (words.next(), words.next()) else {
            return Edit::NotAKey;
        };
        if let Some(line) = self.find_blob(blob) {
            return Edit::AlreadyPresent { line };
        }
        let template = self
            .find_tagged(user)
            .last()
            .copied()
            .or_else(|| current_blob.and_then(|b| self.find_blob(b)));
        let options = template
            .and_then(|n| self.lines[n - 1].entry.as_ref())
            .and_then(|e| e.options.clone());
        let mut text = String::new();
        if let Some(options) = &options {
            text.push_str(options);
            text.push(' ');
        }
        text.push_str(key_type);
        text.push(' ');
        text.push_str(blob);
        text.push(' ');
        text.push_str(&tag(user));
        let at = template.unwrap_or(self.lines.len());
        let ending = if at > 0 && self.lines[at - 1].ending == "\r\n" {
            "\r\n"
        } else {
            "\n"
        };
        if at > 0 && self.lines[at - 1].ending.is_empty() {
            // Appending after a last line without a newline: that line
            // gets its terminator, its text is unchanged.
            self.lines[at - 1].ending = ending;
        }
        let entry = parse_line(&text);
        self.lines.insert(
            at,
            Line {
                text,
                ending,
                entry,
            },
        );
        Edit::Added {
            line: at + 1,
            options_from: template.filter(|_| options.is_some()),
        }
    }

    /// Removes the lines tagged for `user` except the one holding `keep_blob`
    /// (the key just added).
    pub fn remove_tagged_except(&mut self, user: &str, keep_blob: &str) -> Edit {
        self.remove_where(|e| e.is_tagged_for(user) && e.blob != keep_blob)
    }

    /// Removes every line holding the key `blob`.
    pub fn remove_blob(&mut self, blob: &str) -> Edit {
        self.remove_where(|e| e.blob == blob)
    }

    fn remove_where(&mut self, matches: impl Fn(&Entry) -> bool) -> Edit {
        let mut removed = Vec::new();
        let mut index = 0;
        self.lines.retain(|line| {
            index += 1;
            let drop = line.entry.as_ref().is_some_and(&matches);
            if drop {
                removed.push(index);
            }
            !drop
        });
        if removed.is_empty() {
            Edit::NothingToRemove
        } else {
            Edit::Removed { lines: removed }
        }
    }
}

/// The base64 blob of an OpenSSH public key line, to match by.
pub fn blob_of(public: &str) -> Option<&str> {
    public.split_whitespace().nth(1)
}

/// Whether `word` names a key type (and so is not an option).
fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-")
        || word.starts_with("ecdsa-sha2-")
        || word.starts_with("sk-")
        || word.ends_with("@openssh.com")
}

/// Parses a line as sshd does: optional options (up to the first white
/// space outside double quotes, `\"` escaping a quote), key type, base64
/// blob, comment. Blank lines, comments and lines that are not keys give
/// `None`: they are kept verbatim and never matched.
fn parse_line(raw: &str) -> Option<Entry> {
    let line = raw.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (options, rest) = if is_key_type(first_word(line)) {
        (None, line)
    } else {
        let end = options_end(line)?;
        (
            Some(line[..end].to_owned()),
            line[end..].trim_start_matches([' ', '\t']),
        )
    };
    let key_type = first_word(rest);
    if !is_key_type(key_type) {
        return None;
    }
    let rest = rest[key_type.len()..].trim_start_matches([' ', '\t']);
    let blob = first_word(rest);
    if blob.is_empty()
        || !blob
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return None;
    }
    let comment = rest[blob.len()..].trim().to_owned();
    Some(Entry {
        options,
        key_type: key_type.to_owned(),
        blob: blob.to_owned(),
        comment,
    })
}

fn first_word(text: &str) -> &str {
    text.split([' ', '\t']).next().unwrap_or("")
}

/// Where the options field ends: the first space or tab outside quotes.
/// `None` when a quote is never closed (sshd rejects such a line too).
fn options_end(line: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
