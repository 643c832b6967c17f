//! The forms a secret takes when a server or library echoes it, each written
//! the way a real encoder writes it.
//!
//! These are deliberately independent of the redactor in `common::secret`,
//! which decodes escapes instead of listing forms: the leak scanner and the
//! fakes that echo secrets must not share the redactor's assumptions, or a
//! gap in the redactor would be a gap in the tests too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

/// Characters random secrets are made of: printable ASCII with every
/// character an encoder treats specially, and non-ASCII (accented, CJK,
/// symbols, an emoji beyond the BMP).
const SECRET_CHARS: &[char] = &[
    'a', 'b', 'k', 'x', 'z', 'A', 'Q', 'Z', '0', '5', '9', ' ', '!', '"', '#', '$', '%', '&', '\'',
    '(', ')', '*', '+', ',', '-', '.', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '^',
    '_', '`', '{', '|', '}', '~', 'é', 'ü', 'ß', 'Ø', 'ñ', '€', '中', 'Ω', '🙂',
];

/// A random secret of 8 to 40 characters from [`SECRET_CHARS`]. It starts
/// with two letters or digits, as real passwords contain some: a "secret"
/// made of spaces and punctuation only would match ordinary text.
pub fn arb_secret() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9]{2}",
        proptest::collection::vec(proptest::sample::select(SECRET_CHARS), 6..38),
    )
        .prop_map(|(prefix, chars)| prefix + &chars.into_iter().collect::<String>())
}

/// Every form of `secret` an echo might contain, named by the encoder that
/// writes it. `login` adds HTTP Basic authentication's `login:secret`.
pub fn echo_forms(secret: &str, login: Option<&str>) -> Vec<(&'static str, String)> {
    let mut forms = vec![
        ("plain", secret.to_owned()),
        ("json", json(secret)),
        (
            "python json (ensure_ascii)",
            escape_non_ascii(&json(secret), false),
        ),
        ("go encoding/json", go_json(secret)),
        ("dotnet System.Text.Json", dotnet_json(secret)),
        (
            "php json_encode",
            escape_non_ascii(&json(secret).replace('/', "\\/"), false),
        ),
        ("every non-alnum as \\uxxxx", unicode_all(secret, false)),
        ("every non-alnum as \\uXXXX", unicode_all(secret, true)),
        ("python html.escape", html_python(secret)),
        ("go html.EscapeString", html_go(secret)),
        ("numeric html entities", html_numeric(secret)),
        ("rfc 3986 %XX", percent(secret, true, false)),
        ("rfc 3986 %xx", percent(secret, false, false)),
        ("form encoding", percent(secret, true, true)),
        ("upper case", secret.to_uppercase()),
        ("lower case", secret.to_lowercase()),
        (
            "utf-8 read as latin-1",
            secret.bytes().map(char::from).collect(),
        ),
        ("base64", STANDARD.encode(secret)),
    ];
    if let Some(login) = login {
        forms.push(("basic auth", STANDARD.encode(format!("{login}:{secret}"))));
    }
    forms.sort_by(|a, b| a.1.cmp(&b.1));
    forms.dedup_by(|a, b| a.1 == b.1);
    forms
}

/// A server's error body echoing `secret` in every form of [`echo_forms`],
/// as JSON with the usual error fields (`error`, `message`, `detail`,
/// `error_description`, and Okta's `errorSummary` and `errorCauses`).
pub fn echo_body(secret: &str, login: Option<&str>) -> String {
    let forms: Vec<String> = echo_forms(secret, login)
        .into_iter()
        .map(|(name, form)| format!("{name}: {form}"))
        .collect();
    let prefix: String = secret.chars().take(LEAK_WINDOW + 2).collect();
    let all = forms.join(" | ");
    serde_json::json!({
        "error": format!("invalid_password {}", forms[0]),
        "message": format!("the password '{prefix}...' was refused: {all}"),
        "detail": all,
        "error_description": all,
        "errorCode": "E0000001",
        "errorSummary": format!("Api validation failed: password {all}"),
        "errorCauses": forms.iter().map(|f| serde_json::json!({"errorSummary": f})).collect::<Vec<_>>(),
        "echo": {"newPassword": secret}
    })
    .to_string()
}

/// The inside of a JSON string, as serde_json writes it.
pub fn json(secret: &str) -> String {
    let quoted = serde_json::Value::String(secret.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Every non-ASCII character of `text` as `\uXXXX` (surrogate pairs beyond
/// the BMP).
fn escape_non_ascii(text: &str, upper: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            push_u(&mut out, c, upper);
        }
    }
    out
}

fn push_u(out: &mut String, c: char, upper: bool) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        if upper {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
}

/// Go's `json.Marshal`: `<`, `>`, `&`, U+2028 and U+2029 as lower-case `\u`.
fn go_json(secret: &str) -> String {
    let mut out = String::new();
    for c in json(secret).chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => push_u(&mut out, c, false),
            c => out.push(c),
        }
    }
    out
}

/// .NET's default `JavaScriptEncoder`: HTML-sensitive characters, `+`, `'`,
/// the backtick and everything non-ASCII as upper-case `\u`.
fn dotnet_json(secret: &str) -> String {
    let mut out = String::new();
    for c in secret.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' | '&' | '\'' | '+' | '<' | '>' | '`' => push_u(&mut out, c, true),
            c if !c.is_ascii() || c.is_control() => push_u(&mut out, c, true),
            c => out.push(c),
        }
    }
    out
}

fn unicode_all(secret: &str, upper: bool) -> String {
    let mut out = String::new();
    for c in secret.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            push_u(&mut out, c, upper);
        }
    }
    out
}

/// Python's `html.escape`.
fn html_python(secret: &str) -> String {
    secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// Go's `html.EscapeString`.
fn html_go(secret: &str) -> String {
    secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn html_numeric(secret: &str) -> String {
    secret
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("&#{};", u32::from(c))
            }
        })
        .collect()
}

/// Percent-encoding of everything but RFC 3986's unreserved characters;
/// `form` writes a space as `+` (application/x-www-form-urlencoded).
fn percent(secret: &str, upper: bool, form: bool) -> String {
    secret
        .bytes()
        .map(|b| match b {
            b' ' if form => "+".to_owned(),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => char::from(b).to_string(),
            b if upper => format!("%{b:02X}"),
            b => format!("%{b:02x}"),
        })
        .collect()
}

/// Keeper's generator draws on these symbols besides letters and digits.
const KEEPER_SYMBOLS: &[char] = &[
    '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '[', ']', '{', '}', '<', '>', '=', '+', '.',
    ';', ':', '?', '~', '-', '_', '/', ',',
];

/// Accented letters a person adds to a password; with them a normalising
/// server (NFD) changes what it echoes.
const ACCENTED: &[char] = &['é', 'ü', 'ñ', 'Å', 'ç', 'ø', 'ß'];

/// A Keeper-shaped password: 20 to 42 characters of upper- and lower-case
/// letters, digits and Keeper's symbols in about Keeper's proportions, and,
/// with `accented`, a few accented letters. Like Keeper's generator, which
/// requires every class, it always holds letters and digits side by side: a
/// run letter, digit, letter, digit somewhere in the middle.
pub fn arb_keeper_password(accented: bool) -> impl Strategy<Value = String> {
    let class = if accented { 0..5u8 } else { 0..4u8 };
    (
        proptest::collection::vec((class, any::<u32>()), 16..38),
        "[a-m][0-4][N-Z][5-9]",
    )
        .prop_map(|(picks, digits)| {
            let mut out: String = picks
                .into_iter()
                .map(|(class, n)| {
                    let n = n as usize;
                    match class {
                        0 => char::from(b'a' + (n % 26) as u8),
                        1 => char::from(b'A' + (n % 26) as u8),
                        2 => char::from(b'0' + (n % 10) as u8),
                        3 => KEEPER_SYMBOLS[n % KEEPER_SYMBOLS.len()],
                        _ => ACCENTED[n % ACCENTED.len()],
                    }
                })
                .collect();
            let middle = out
                .char_indices()
                .nth(out.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            out.insert_str(middle, &digits);
            out
        })
}

/// The escape families of issue 23, each written the way its library
/// writes it; names as in [`echo_forms`].
pub const FAMILIES: &[&str] = &[
    "bash printf %q",
    "ruby Shellwords.escape",
    "python re.escape",
    "php preg_quote",
    "sql/yaml doubled quote",
    "unicode nfd",
    "json",
    "upper case",
];

/// `text` through the escape family `name` (one of [`FAMILIES`]).
pub fn escape(name: &str, text: &str) -> String {
    match name {
        "bash printf %q" => backslash_unless(text, |c| {
            c.is_ascii_alphanumeric() || ",._+:@%/-".contains(c) || !c.is_ascii()
        }),
        "ruby Shellwords.escape" => backslash_unless(text, |c| {
            c.is_ascii_alphanumeric() || "_-.,:+/@".contains(c) || !c.is_ascii()
        }),
        "python re.escape" => backslash_if(text, |c| "()[]{}?*+-|^$\\.&~# \t\n\r".contains(c)),
        "php preg_quote" => backslash_if(text, |c| ".\\+*?[^]$(){}=!<>|:-#/".contains(c)),
        "sql/yaml doubled quote" => text.replace('\'', "''"),
        "unicode nfd" => icu_normalizer::DecomposingNormalizerBorrowed::new_nfd()
            .normalize(text)
            .into_owned(),
        "json" => json(text),
        "upper case" => text.to_uppercase(),
        other => panic!("no escape family {other}"),
    }
}

fn backslash_if(text: &str, special: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if special(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn backslash_unless(text: &str, plain: impl Fn(char) -> bool) -> String {
    backslash_if(text, |c| !plain(c))
}

/// The byte dumps of issue 23, each as a tool prints it.
pub fn dumps(secret: &str) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::STANDARD as B64;
    let utf16le: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut out = vec![
        (
            "hex bytes, spaced",
            secret.bytes().map(|b| format!("{b:02x} ")).collect(),
        ),
        (
            "hex bytes, upper case",
            secret.bytes().map(|b| format!("{b:02X}")).collect(),
        ),
        (
            "C array 0x..",
            secret.bytes().map(|b| format!("0x{b:02x}, ")).collect(),
        ),
        (
            "octal escapes",
            secret.bytes().map(|b| format!("\\{b:03o}")).collect(),
        ),
        (
            "od -b",
            secret.bytes().map(|b| format!("{b:03o} ")).collect(),
        ),
        (
            "perl \\x{..}",
            secret
                .chars()
                .map(|c| format!("\\x{{{:x}}}", u32::from(c)))
                .collect(),
        ),
        (
            "utf-16 hex",
            secret.encode_utf16().map(|u| format!("{u:04X}")).collect(),
        ),
        ("utf-16le base64", B64.encode(&utf16le)),
        ("base64", B64.encode(secret)),
        ("base32", base32(secret.as_bytes())),
    ];
    out.extend(decimal_dumps(secret));
    out
}

/// The decimal byte dumps of issue 23's review, each as its language
/// prints a byte array.
pub fn decimal_dumps(secret: &str) -> Vec<(&'static str, String)> {
    let unsigned: Vec<String> = secret.bytes().map(|b| b.to_string()).collect();
    let signed: Vec<String> = secret
        .bytes()
        .map(|b| i8::from_ne_bytes([b]).to_string())
        .collect();
    vec![
        ("go %v of a []byte", format!("[{}]", unsigned.join(" "))),
        (
            "node Buffer as JSON",
            format!("{{\"type\":\"Buffer\",\"data\":[{}]}}", unsigned.join(",")),
        ),
        (
            "java Arrays.toString(byte[])",
            format!("[{}]", signed.join(", ")),
        ),
        ("python list(bytes)", format!("[{}]", unsigned.join(", "))),
    ]
}

/// RFC 4648 base32 with padding, written independently of the redactor's.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let n = block.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(char::from(ALPHABET[((n >> (35 - 5 * i)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The characters of a secret that are enough to count as a leak: the
/// redactor promises to remove any 12 consecutive characters of a secret.
pub const LEAK_WINDOW: usize = 12;

/// Fewer distinct characters in a window are no evidence of a leak.
const MIN_DISTINCT: usize = 4;

/// Most windows checked per form; longer forms are sampled with a stride, so
/// any leaked run of `LEAK_WINDOW + stride - 1` characters is still found.
const MAX_WINDOWS: usize = 512;

/// The lower-cased pieces of `form` whose presence in an output is a leak:
/// the whole form when shorter than [`LEAK_WINDOW`], else its windows.
pub fn leak_pieces(form: &str) -> Vec<String> {
    let chars: Vec<char> = form.to_lowercase().chars().collect();
    if chars.len() <= LEAK_WINDOW {
        return vec![chars.into_iter().collect()];
    }
    let count = chars.len() - LEAK_WINDOW + 1;
    let stride = count.div_ceil(MAX_WINDOWS).max(1);
    let mut windows: Vec<&[char]> = (0..count)
        .step_by(stride)
        .map(|i| &chars[i..i + LEAK_WINDOW])
        .collect();
    windows.push(&chars[count - 1..]);
    // As the redactor: a window of three or fewer distinct characters
    // (`000000000000`) is no evidence of a leak unless the secret has nothing
    // else.
    let informative = |w: &&[char]| {
        let mut seen: Vec<char> = w.to_vec();
        seen.sort_unstable();
        seen.dedup();
        seen.len() >= MIN_DISTINCT
    };
    if windows.iter().any(informative) {
        windows.retain(informative);
    }
    let mut pieces: Vec<String> = windows.into_iter().map(|w| w.iter().collect()).collect();
    pieces.sort();
    pieces.dedup();
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(forms: &'a [(&str, String)], name: &str) -> &'a str {
        &forms.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn each_encoder_writes_what_its_library_writes() {
        let forms = echo_forms("a<b>&\"c' d/e+é", Some("al"));
        assert_eq!(
            form(&forms, "go encoding/json"),
            r#"a\u003cb\u003e\u0026\"c' d/e+é"#
        );
        assert_eq!(
            form(&forms, "dotnet System.Text.Json"),
            r"a\u003Cb\u003E\u0026\u0022c\u0027 d/e\u002B\u00E9"
        );
        assert_eq!(form(&forms, "php json_encode"), r#"a<b>&\"c' d\/e+\u00e9"#);
        assert_eq!(
            form(&forms, "python html.escape"),
            "a&lt;b&gt;&amp;&quot;c&#x27; d/e+é"
        );
        assert_eq!(
            form(&forms, "form encoding"),
            "a%3Cb%3E%26%22c%27+d%2Fe%2B%C3%A9"
        );
        assert_eq!(
            form(&forms, "rfc 3986 %xx"),
            "a%3cb%3e%26%22c%27%20d%2fe%2b%c3%a9"
        );
        assert_eq!(
            form(&forms, "basic auth"),
            STANDARD.encode("al:a<b>&\"c' d/e+é")
        );
    }

    #[test]
    fn long_forms_are_checked_by_windows_short_ones_whole() {
        assert_eq!(leak_pieces("Short-1"), ["short-1"]);
        let pieces = leak_pieces("0123456789abcdef");
        assert!(pieces.contains(&"0123456789ab".to_owned()));
        assert!(pieces.contains(&"456789abcdef".to_owned()));
        assert_eq!(pieces.len(), 5);
    }
}
