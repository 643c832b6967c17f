//! Secrets: a value type that never prints itself, and the process-wide
//! redactor that scrubs every known secret from everything the binary writes.
//!
//! Every [`Secret`] registers its value with the redactor when it is made, so
//! even a secret that reaches an error message through a server's echo, a
//! dependency's error text or a panic is replaced by [`REDACTED`] before it
//! is written to stdout or stderr. The redactor also knows the forms a value
//! takes on the wire (JSON-escaped and URL-encoded), because that is how a
//! server echoes it back.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// What a secret is replaced with in every output.
pub const REDACTED: &str = "[redacted]";

/// A password, token, key or client secret.
///
/// `Debug` and `Display` print [`REDACTED`]; the memory is zeroized on drop.
/// The value is reachable only through [`Secret::expose`], at the moment it is
/// sent.
pub struct Secret(SecretString);

impl Secret {
    /// Wraps `value` and registers it with the process-wide redactor.
    pub fn new(value: impl Into<String>) -> Self {
        let value: String = value.into();
        register(&value);
        Self(SecretString::from(value))
    }

    /// The secret value. Call it only where the value leaves the process
    /// (a request body, a header), never to format a message.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Self(SecretString::from(self.expose().to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The patterns the redactor looks for. Values are kept zeroizing so that
/// [`forget_all`] (called when a run ends) wipes them.
static PATTERNS: Mutex<Vec<Zeroizing<String>>> = Mutex::new(Vec::new());

/// Adds `value`, and the forms it takes when a server echoes it back, to
/// the patterns every output is scrubbed of. Empty values are ignored.
///
/// The forms are those of the encoders servers commonly use: inside a JSON
/// string as serde and Python write it, as PHP's `json_encode` writes it
/// (`\/`, `\u00e9`), as Gson writes it (`<>&='` as `\u003c`...), as .NET's
/// System.Text.Json writes it (`\u003C`, `\u0022`, `\u002B`...); HTML-escaped
/// (an error page); and URL-encoded (`+` or `%20` for a space).
pub fn register(value: &str) {
    if value.is_empty() {
        return;
    }
    let mut forms = vec![Zeroizing::new(value.to_owned())];
    if let Ok(json) = serde_json::to_string(value) {
        // Strip the surrounding quotes: a server echoes the escaped form.
        let inner = Zeroizing::new(json[1..json.len() - 1].to_owned());
        forms.push(inner);
    }
    if !value.is_ascii() {
        forms.push(Zeroizing::new(json_ascii_escaped(value)));
    }
    // PHP: non-ASCII as lowercase \u escapes, and '/' as '\/'.
    forms.push(Zeroizing::new(
        json_form(value, |c| !c.is_ascii(), false).replace('/', "\\/"),
    ));
    // Gson's HTML-safe default.
    forms.push(Zeroizing::new(json_form(
        value,
        |c| "<>&='".contains(c),
        false,
    )));
    // System.Text.Json's default encoder.
    forms.push(Zeroizing::new(json_form(
        value,
        |c| !c.is_ascii() || "<>&'+`\"".contains(c),
        true,
    )));
    forms.push(Zeroizing::new(html_escaped(value)));
    let url_encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    forms.push(Zeroizing::new(url_encoded));
    forms.push(Zeroizing::new(percent_encoded(value)));

    let mut patterns = PATTERNS.lock().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        if !form.is_empty() && !patterns.iter().any(|p| **p == *form) {
            patterns.push(form);
        }
    }
}

/// Returns `text` with every occurrence of every registered secret replaced
/// by [`REDACTED`]. Overlapping matches of different secrets are merged, so no
/// fragment of either survives.
pub fn redact(text: &str) -> String {
    let patterns = PATTERNS.lock().unwrap_or_else(PoisonError::into_inner);
    redact_with(text, patterns.iter().map(|p| p.as_str()))
}

/// Wipes every registered pattern. Called when a run ends.
pub fn forget_all() {
    PATTERNS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// The form of `value` inside a JSON string written with every non-ASCII
/// character as a `\uXXXX` escape (what Python's `json.dumps` does by default).
fn json_ascii_escaped(value: &str) -> String {
    let json = serde_json::to_string(value).unwrap_or_default();
    let inner = json
        .get(1..json.len().saturating_sub(1))
        .unwrap_or_default();
    let mut out = String::with_capacity(inner.len() * 2);
    for c in inner.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `value` inside a JSON string as an encoder writes it: the characters
/// `escape` picks as `\uXXXX` (upper or lower hex), `"` and `\` and control
/// characters as JSON requires, everything else as it is.
fn json_form(value: &str, escape: impl Fn(char) -> bool, upper: bool) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    let mut units = [0u16; 2];
    for c in value.chars() {
        if escape(c) || (c.is_control() && !"\n\r\t\u{8}\u{c}".contains(c)) {
            for unit in c.encode_utf16(&mut units) {
                if upper {
                    out.push_str(&format!("\\u{unit:04X}"));
                } else {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            continue;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as an HTML page shows escaped text.
fn html_escaped(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `value` percent-encoded as RFC 3986 does it: every byte but the
/// unreserved ones as `%XX`, a space as `%20`.
fn percent_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn redact_with<'a>(text: &str, patterns: impl Iterator<Item = &'a str>) -> String {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for pattern in patterns {
        let mut from = 0;
        while let Some(found) = text[from..].find(pattern) {
            let start = from + found;
            spans.push((start, start + pattern.len()));
            // Step one character on, so overlapping occurrences are found too.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut written = 0;
    let mut spans = spans.into_iter().peekable();
    while let Some((start, mut end)) = spans.next() {
        while let Some(&(next_start, next_end)) = spans.peek() {
            if next_start > end {
                break;
            }
            end = end.max(next_end);
            spans.next();
        }
        out.push_str(&text[written..start]);
        out.push_str(REDACTED);
        written = end;
    }
    out.push_str(&text[written..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact_only(text: &str, patterns: &[&str]) -> String {
        redact_with(text, patterns.iter().copied())
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2-debug-display");
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(secret.expose(), "hunter2-debug-display");
    }

    #[test]
    fn overlapping_secrets_leave_no_fragment() {
        let out = redact_only("x abcdefxyz y", &["abcdef", "defxyz"]);
        assert_eq!(out, "x [redacted] y");
    }

    #[test]
    fn every_occurrence_is_replaced() {
        let out = redact_only("aXa aXa", &["aXa"]);
        assert_eq!(out, "[redacted] [redacted]");
    }

    #[test]
    fn json_escaped_and_url_encoded_forms_are_redacted() {
        let value = "q\"uo\\te d&=é-registered";
        let _secret = Secret::new(value);
        let echoed = format!(
            "json {} ascii {} form {}",
            serde_json::to_string(value).unwrap(),
            r#""q\"uo\\te d&=\u00e9-registered""#,
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        );
        let out = redact(&echoed);
        assert!(!out.contains("registered"), "{out}");
    }

    #[test]
    fn the_escapings_other_servers_use_are_redacted() {
        let value = "php/gson=dotnet<&>'+\"é-xyzzy";
        let _secret = Secret::new(value);
        for echoed in [
            r#"php\/gson=dotnet<&>'+\"\u00e9-xyzzy"#,
            r#"php/gson\u003ddotnet\u003c\u0026\u003e\u0027+\"é-xyzzy"#,
            r#"php/gson=dotnet\u003C\u0026\u003E\u0027\u002B\u0022\u00E9-xyzzy"#,
            "php/gson=dotnet&lt;&amp;&gt;&#39;+&quot;é-xyzzy",
            "php%2Fgson%3Ddotnet%3C%26%3E%27%2B%22%C3%A9-xyzzy",
        ] {
            let out = redact(&format!("echo: {echoed}."));
            assert_eq!(out, "echo: [redacted].", "{echoed}");
        }
    }

    #[test]
    fn multibyte_text_around_a_secret_survives() {
        let out = redact_only("ééé🙂s3cr3t🙂", &["s3cr3t"]);
        assert_eq!(out, "ééé🙂[redacted]🙂");
    }
}
