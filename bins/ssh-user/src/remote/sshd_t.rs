//! `sshd -T`: where the machine's sshd looks for a user's keys.
//!
//! A pure reading of the effective configuration, apart from the commands
//! that fetch it, so it is tested on text alone.

/// What `sshd -T` says about where keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SshdKeys {
    /// `AuthorizedKeysFile` entries with `%u`, `%h`, `%%` expanded, made
    /// absolute against the home directory.
    pub files: Vec<String>,
    /// `AuthorizedKeysCommand`, when set (keys may come from elsewhere).
    pub command: Option<String>,
}

/// Reads `sshd -T` output for `user` whose home is `home`.
pub fn parse_sshd_t(text: &str, user: &str, home: &str) -> SshdKeys {
    let mut keys = SshdKeys::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("authorizedkeysfile") => {
                keys.files = words
                    .filter(|w| *w != "none")
                    .map(|w| expand_path(w, user, home))
                    .collect();
            }
            Some("authorizedkeyscommand") => {
                let rest: Vec<&str> = words.collect();
                if !rest.is_empty() && rest != ["none"] {
                    keys.command = Some(rest.join(" "));
                }
            }
            _ => {}
        }
    }
    if keys.files.is_empty() {
        keys.files = default_keys_files(home);
    }
    keys
}

/// OpenSSH's default `AuthorizedKeysFile`.
pub fn default_keys_files(home: &str) -> Vec<String> {
    vec![
        format!("{}/.ssh/authorized_keys", home.trim_end_matches('/')),
        format!("{}/.ssh/authorized_keys2", home.trim_end_matches('/')),
    ]
}

fn expand_path(token: &str, user: &str, home: &str) -> String {
    let mut out = String::new();
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('%') => out.push('%'),
                Some('u') => out.push_str(user),
                Some('h') => out.push_str(home.trim_end_matches('/')),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    if out.starts_with('/') {
        out
    } else {
        format!("{}/{out}", home.trim_end_matches('/'))
    }
}
