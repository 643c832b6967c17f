//! The skeleton comparison: the first layer of what keeps a secret out of a
//! server-supplied field.
//!
//! # Why a skeleton
//!
//! Servers and their libraries echo a value in more escape families than any
//! list holds: shell backslash quoting (`printf %q`, Ruby `Shellwords`),
//! regex quoting (Python `re.escape`, PHP `preg_quote`), SQL's and YAML's
//! doubled quote, Unicode normalisation, and compositions of these. Almost
//! all of them only insert punctuation, double it or decompose a letter, and
//! none of them changes the letters and digits of the value. So both sides
//! are folded to a *skeleton*:
//!
//! - compatibility decomposition (NFKD), with combining marks dropped: `é`,
//!   `e` + U+0301 and a full-width `ｅ` all become `e`;
//! - full case folding (`ß` and `SS` alike);
//! - everything but letters and digits removed.
//!
//! A field is withheld when its skeleton (as written, and with its escapes
//! decoded once and twice, see `decode`) shares a run of [`TEXT_WINDOW`]
//! characters with the skeleton of a registered secret.
//!
//! Byte dumps change the letters, so their skeletons are registered as forms
//! of their own: hex of the UTF-8 bytes (plain, and prefixed per byte with
//! `0x` or `\x`), hex per character as Perl's `\x{..}` and per UTF-16 unit
//! as `\u....` (prefixed forms keep their `x` or `u` in the skeleton when
//! quoting on top stops them decoding), octal of the UTF-8 bytes, decimal of
//! the UTF-8 bytes, unsigned and signed, and of the UTF-16 units (see
//! below), and hex, base64 (both alphabets fold alike) and base32 of the
//! UTF-8, UTF-16LE and UTF-16BE forms. Base64 is registered at
//! each of the three byte alignments (the value inside `login:value`, say).
//! A field sharing a run of [`DUMP_WINDOW`] characters with one of these is
//! withheld too.
//!
//! # Why [`TEXT_WINDOW`] is 6, and only windows that alternate
//!
//! The skeleton drops the punctuation that makes a password unlike prose, so
//! a skeleton window of letters only can be an English word (`password` in
//! `dummy-password-1`), one of digits only a date or a count, and a word
//! followed by a number (`secret2026`, `key000`) is how identifiers, versions
//! and dates read: registering those would withhold ordinary messages
//! ("password too short", "2026-01-15", "key AKIAADMINKEY00000001") whenever
//! a secret happens to contain such a run. A window is registered only when
//! it switches between letters and digits at least twice (`k7pq2x`) and holds
//! at least [`MIN_DISTINCT`] distinct characters. Keeper-generated passwords
//! draw on letters, digits and symbols: their skeletons are about 60 % of
//! their length, a third of it digits, and about 70 % of their 6-character
//! skeleton windows qualify; a whole echo has many of them.
//!
//! Six characters of a case-folded letters-and-digits alphabet are 36^6, about
//! 2^31, values. A field of L skeleton characters checked against W
//! registered windows matches a random secret by chance with probability
//! about L·W/2^31: for a 200-character message and the ~60 windows of a
//! Gateway's four secrets, 6·10^-6. Measured on the corpus of real error
//! messages in `fixtures/error-messages/corpus.json` against thousands of
//! random Keeper-shaped passwords, no field was withheld (see
//! `docs/concepts/redaction.md`). Five characters would be 36 times as likely to
//! withhold by chance; seven would let a 10-character prefix of a typical
//! Keeper password through (its skeleton has about 6 characters). What a
//! field can still carry is a run of at most 5 skeleton characters, or a
//! run that switches between letters and digits at most once (a word and a
//! number), shorter than the exact-form layer's 12 characters: a fragment,
//! never a password.
//!
//! A secret whose skeleton is shorter than [`TEXT_WINDOW`] is registered
//! whole (when it has both letters and digits), and found as a run anywhere
//! in a field only when it has at least [`MIN_DISTINCT`] distinct
//! characters. One with fewer (`a1` of a password of mostly punctuation,
//! `!!a1!!`) would withhold every field holding `sha1`, `a1b2c3` or a
//! version `1.a1`: 2 or 3 characters of a 36-letter alphabet occur in most
//! messages of any length. Such a skeleton says no more about the secret
//! than a word does, so it withholds only a field whose whole skeleton is
//! it (the password escaped, alone in its field); an echo of it inside a
//! longer message is left to the exact-form layer, which matches a value
//! shorter than its window whole. Dumps use [`DUMP_WINDOW`] = 16
//! characters: their alphabets are smaller (hex 16, octal 8, base32 32 and
//! case-folded base64 36) and UTF-16 dumps of ASCII are half zeros, so 16
//! characters are what it takes for a chance match to stay below 2^-40 (hex
//! of UTF-8: 8 bytes; octal: 5 bytes; UTF-16 hex: 4 characters); dumps
//! shorter than that are not registered.
//!
//! # Decimal dumps, and why 16 digits
//!
//! Go's `%v` of a `[]byte` (`[107 55 36]`), Node's `Buffer` as JSON
//! (`{"type":"Buffer","data":[107,55,36]}`), Python's `list(b"..")` and
//! Java's `Arrays.toString(byte[])` (`[107, 55, 36]`, non-ASCII bytes
//! signed: `-61`) all fold to the bytes' decimal digits run together: the
//! separators are punctuation and the skeleton drops the minus, so Java's
//! `-61` is registered as 256 - 195. Their skeletons are digits only, the
//! one alphabet ordinary messages are full of (dates, times, account and
//! request ids, epoch milliseconds), so the run length matters most here.
//! [`DUMP_WINDOW`] = 16 digits hold 6 or 7 bytes of a secret (2 or 3
//! digits each); over a Keeper password's bytes (some 80 printable ASCII
//! values) that is about 40 bits, the same bound as the other dumps, and a
//! window must still have [`MIN_DISTINCT`] distinct digits, so a run of one
//! or two repeated digits (`1000000000000000`) never matches. The longest
//! digit runs of real messages are shorter or not random (an ISO timestamp
//! with milliseconds folds to 17 digits, an AWS account id is 12, a Meraki
//! id 18): the corpus `fixtures/error-messages/corpus.json` holds them and
//! stays readable (`harness/tests/skeleton.rs`). Twelve digits (4 or 5
//! bytes, some 30 bits) would make a chance match of a 200-character field
//! about 10^-5 per secret; sixteen make it about 10^-8.
//!
//! # What it costs
//!
//! Registration stores hashes of every window (a 32-character password adds
//! some 700). Checking a field computes its skeleton in three views and one
//! rolling hash per window length over each: linear in the field's length,
//! whatever the number of secrets.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use icu_normalizer::DecomposingNormalizerBorrowed;
use zeroize::Zeroizing;

use super::{Families, Identity, Unit, decode, mix, poly, term, windows_1252};

/// Skeleton characters of a secret a field may share before it is withheld.
pub const TEXT_WINDOW: usize = 6;

/// Skeleton characters of a byte dump of a secret a field may share before
/// it is withheld.
pub const DUMP_WINDOW: usize = 16;

/// Fewer distinct characters in a window say nothing about a secret.
pub const MIN_DISTINCT: usize = 4;

/// Values longer than this have no dumps registered: dumps are for
/// passwords and tokens, which are short.
const MAX_DUMP_SOURCE: usize = 1024;

const NFKD: DecomposingNormalizerBorrowed<'static> = DecomposingNormalizerBorrowed::new_nfkd();

type Map = HashMap<u64, usize, BuildHasherDefault<Identity>>;

/// The skeleton of `text`: see the module documentation.
pub fn skeleton(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    push_skeleton(text.chars(), &mut out);
    out
}

fn push_skeleton(chars: impl Iterator<Item = char> + Clone, out: &mut Vec<char>) {
    if chars.clone().all(|c| c.is_ascii()) {
        out.extend(
            chars
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase()),
        );
        return;
    }
    for c in NFKD.normalize_iter(chars) {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            }
        } else if c.is_alphanumeric() && !is_combining_mark(c) {
            out.extend(
                c.to_uppercase()
                    .flat_map(char::to_lowercase)
                    .filter(|f| f.is_alphanumeric() && !is_combining_mark(*f)),
            );
        }
    }
}

/// The combining marks a normalising server adds after a base letter: the
/// generic combining blocks (Latin, Greek and Cyrillic diacritics).
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}'
        | '\u{0483}'..='\u{0489}'
        | '\u{1ab0}'..='\u{1aff}'
        | '\u{1dc0}'..='\u{1dff}'
        | '\u{20d0}'..='\u{20ff}'
        | '\u{3099}'..='\u{309a}'
        | '\u{fe20}'..='\u{fe2f}')
}

fn is_mixed(window: &[char]) -> bool {
    window.iter().any(|c| c.is_alphabetic()) && window.iter().any(|c| c.is_numeric())
}

/// Whether `window` switches between letters and digits at least twice: a
/// word followed by a number (`secret2026`, `key000`, `value0`, `password1`)
/// switches once, and is how identifiers, versions and dates read, not a
/// random secret.
fn alternates(window: &[char]) -> bool {
    window
        .windows(2)
        .filter(|pair| pair[0].is_numeric() != pair[1].is_numeric())
        .nth(1)
        .is_some()
}

/// Whether `window` has at least [`MIN_DISTINCT`] distinct characters.
/// Called for every window of every dump: it allocates nothing.
fn has_distinct(window: &[char]) -> bool {
    let mut seen = ['\0'; MIN_DISTINCT];
    let mut count = 0;
    for c in window {
        if !seen[..count].contains(c) {
            seen[count] = *c;
            count += 1;
            if count >= MIN_DISTINCT {
                break;
            }
        }
    }
    seen.fill('\0');
    std::hint::black_box(&seen);
    count >= MIN_DISTINCT
}

/// Calls `found(window, hash)` for every window of `length` characters of
/// `chars`, the hash rolled on from the previous window's.
fn each_window(chars: &[char], length: usize, mut found: impl FnMut(&[char], u64)) {
    if length == 0 || chars.len() < length {
        return;
    }
    let top = (1..length).fold(1u64, |p, _| p.wrapping_mul(super::BASE));
    let mut h = poly(chars[..length].iter().copied());
    for start in 0..=chars.len() - length {
        if start > 0 {
            let out = term(chars[start - 1]).wrapping_mul(top);
            h = h
                .wrapping_sub(out)
                .wrapping_mul(super::BASE)
                .wrapping_add(term(chars[start + length - 1]));
        }
        found(&chars[start..start + length], mix(h));
    }
}

/// The skeleton windows of registered secrets, each with the index of the
/// secret it came from.
#[derive(Default)]
pub struct Skeletons {
    /// Hashes of [`TEXT_WINDOW`]-character windows of secrets' skeletons.
    text: Map,
    /// Hashes of [`DUMP_WINDOW`]-character windows of dumps' skeletons.
    dump: Map,
    /// `short[n]`: hashes of whole skeletons of `n` < [`TEXT_WINDOW`]
    /// characters with at least [`MIN_DISTINCT`] distinct ones, found as a
    /// run anywhere in a field.
    short: [Map; TEXT_WINDOW],
    /// Hashes of whole skeletons shorter than [`TEXT_WINDOW`] with fewer
    /// than [`MIN_DISTINCT`] distinct characters (`a1` of `!!a1!!`): found
    /// only when a field's whole skeleton is one of them.
    whole: Map,
}

impl std::fmt::Debug for Skeletons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skeletons")
            .field("text", &self.text.len())
            .field("dump", &self.dump.len())
            .finish_non_exhaustive()
    }
}

impl Skeletons {
    /// Skeletons of `secrets`; [`Skeletons::find`] answers with an index
    /// into it.
    pub fn new(secrets: &[String]) -> Self {
        let mut set = Self::default();
        for (index, secret) in secrets.iter().enumerate() {
            if super::is_private_key(secret) {
                continue;
            }
            for part in super::secret_parts(secret) {
                set.add(&part, index);
            }
        }
        set
    }

    /// Registers the skeleton of `value` and of its dumps.
    pub fn add(&mut self, value: &str, index: usize) {
        self.add_with(value, index, true);
    }

    /// Registers the skeleton of `value`, and of its dumps when `with_dumps`.
    pub(super) fn add_with(&mut self, value: &str, index: usize, with_dumps: bool) {
        if value.is_empty() {
            return;
        }
        let mut texts: Vec<Zeroizing<String>> = vec![Zeroizing::new(value.to_owned())];
        if !value.is_ascii() {
            texts.push(Zeroizing::new(value.bytes().map(char::from).collect()));
            texts.push(Zeroizing::new(value.bytes().map(windows_1252).collect()));
        }
        for text in &texts {
            let folded = Zeroizing::new(skeleton(text));
            self.add_text(&folded, index);
        }
        if with_dumps && value.len() <= MAX_DUMP_SOURCE {
            // Dumps that fold alike (the decimal ones of an ASCII value, its
            // hex per byte and per character) are registered once.
            let mut done: Vec<Zeroizing<Vec<char>>> = Vec::new();
            for dump in dumps(value) {
                let folded = Zeroizing::new(skeleton(&dump));
                if done.contains(&folded) {
                    continue;
                }
                let map = &mut self.dump;
                map.reserve(folded.len());
                each_window(&folded, DUMP_WINDOW, |window, hash| {
                    if has_distinct(window) {
                        map.entry(hash).or_insert(index);
                    }
                });
                done.push(folded);
            }
        }
    }

    fn add_text(&mut self, folded: &[char], index: usize) {
        if folded.len() < TEXT_WINDOW {
            if is_mixed(folded) {
                let map = if has_distinct(folded) {
                    &mut self.short[folded.len()]
                } else {
                    &mut self.whole
                };
                map.entry(mix(poly(folded.iter().copied())))
                    .or_insert(index);
            }
            return;
        }
        let map = &mut self.text;
        each_window(folded, TEXT_WINDOW, |window, hash| {
            if alternates(window) && has_distinct(window) {
                map.entry(hash).or_insert(index);
            }
        });
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
            && self.dump.is_empty()
            && self.whole.is_empty()
            && self.short.iter().all(Map::is_empty)
    }

    /// The index of a secret whose skeleton, or a dump's, `text` shares a
    /// run with: in `text` as written, or with its escapes decoded once or
    /// twice.
    pub fn find(&self, text: &str) -> Option<usize> {
        self.find_with(text, false)
    }

    /// [`Skeletons::find`] as a leak scanner must judge an output: a whole
    /// skeleton shorter than [`TEXT_WINDOW`] counts only where it stands
    /// alone, no ASCII letter or digit of the text next to either end of its
    /// run (combining marks skipped).
    ///
    /// A field a server wrote may be withheld on a weaker hint, and is: the
    /// redactor matches such a skeleton anywhere (see [`Skeletons::find`]).
    /// A scanner that did the same would call ordinary words a leak: the
    /// four skeleton characters `1fai` of a password `1F(ñ&Ω}]` read as
    /// Latin-1 (`1F(Ã±&Î©}]`) run through `exit 1 (failed`, the summary of
    /// every failed run. An echo of the secret stands between punctuation,
    /// spaces or mojibake. The exact-form layer has a like rule for its short
    /// forms (`TOKEN_ONLY_BELOW`), by the form's length rather than the
    /// skeleton's, with `-`, `_` and `~` joining too.
    pub fn find_standing_alone(&self, text: &str) -> Option<usize> {
        self.find_with(text, true)
    }

    fn find_with(&self, text: &str, alone: bool) -> Option<usize> {
        if self.is_empty() || text.is_empty() {
            return None;
        }
        let raw = Unit::chars(text);
        let mut folded = Vec::with_capacity(raw.len());
        let mut check = |view: &[Unit]| {
            folded.clear();
            push_skeleton(view.iter().map(|u| u.c), &mut folded);
            if alone {
                self.find_long_in(&folded)
                    .or_else(|| self.find_short_alone(view))
                    .or_else(|| self.find_whole_in(&folded))
            } else {
                self.find_in(&folded)
            }
        };
        if let Some(found) = check(&raw) {
            return Some(found);
        }
        let once = decode(&raw, Families::ALL)?;
        if let Some(found) = check(&once) {
            return Some(found);
        }
        let twice = decode(&once, Families::ALL)?;
        check(&twice)
    }

    fn find_in(&self, folded: &[char]) -> Option<usize> {
        self.find_long_in(folded)
            .or_else(|| {
                self.short
                    .iter()
                    .enumerate()
                    .filter(|(_, map)| !map.is_empty())
                    .find_map(|(length, map)| rolling(folded, length, map))
            })
            .or_else(|| self.find_whole_in(folded))
    }

    /// The windows of secrets' and dumps' skeletons.
    fn find_long_in(&self, folded: &[char]) -> Option<usize> {
        rolling(folded, TEXT_WINDOW, &self.text)
            .or_else(|| rolling(folded, DUMP_WINDOW, &self.dump))
    }

    /// A whole skeleton of fewer than [`MIN_DISTINCT`] distinct characters:
    /// only when it is the field's whole skeleton.
    fn find_whole_in(&self, folded: &[char]) -> Option<usize> {
        if folded.len() < TEXT_WINDOW {
            self.whole.get(&mix(poly(folded.iter().copied()))).copied()
        } else {
            None
        }
    }

    /// The short whole skeletons, each only where its run in `view` has no
    /// letter or digit next to it (see [`Skeletons::find_standing_alone`]).
    fn find_short_alone(&self, view: &[Unit]) -> Option<usize> {
        if self.short.iter().all(Map::is_empty) {
            return None;
        }
        // The skeleton one character of `view` at a time, with the index of
        // the character each skeleton character came from.
        let mut folded = Vec::with_capacity(view.len());
        let mut origin = Vec::with_capacity(view.len());
        for (at, unit) in view.iter().enumerate() {
            push_skeleton(std::iter::once(unit.c), &mut folded);
            origin.resize(folded.len(), at);
        }
        // Only an ASCII letter or digit joins a run to a word: our own
        // messages are ASCII, while an echo of a secret may sit next to the
        // mojibake of a quote (`â€œ`, whose `œ` is a letter) or of a symbol.
        let joins = |at: usize| view[at].c.is_ascii_alphanumeric();
        let alone = |start: usize, end: usize| {
            let (first, last) = (origin[start], origin[end - 1]);
            // A run that starts or ends inside one character's expansion
            // (`ss` of `ß`) does not stand alone.
            let whole = (start == 0 || origin[start - 1] != first)
                && (end == folded.len() || origin[end] != last);
            // Combining marks belong to the letter before them, on either
            // side of the run.
            let before = (0..first).rev().find(|&at| !is_combining_mark(view[at].c));
            let after = (last + 1..view.len()).find(|&at| !is_combining_mark(view[at].c));
            whole && before.is_none_or(|at| !joins(at)) && after.is_none_or(|at| !joins(at))
        };
        self.short
            .iter()
            .enumerate()
            .filter(|(_, map)| !map.is_empty())
            .find_map(|(length, map)| {
                let mut found = None;
                let mut start = 0;
                each_window(&folded, length, |_, hash| {
                    if found.is_none()
                        && let Some(&index) = map.get(&hash)
                        && alone(start, start + length)
                    {
                        found = Some(index);
                    }
                    start += 1;
                });
                found
            })
    }
}

/// The first window of `length` characters of `chars` whose hash is in
/// `map`.
fn rolling(chars: &[char], length: usize, map: &Map) -> Option<usize> {
    if map.is_empty() {
        return None;
    }
    let mut first = None;
    each_window(chars, length, |_, hash| {
        if first.is_none() {
            first = map.get(&hash).copied();
        }
    });
    first
}

/// The byte dumps of `value` a server might print (see the module
/// documentation), before folding.
fn dumps(value: &str) -> Vec<Zeroizing<String>> {
    let utf8 = Zeroizing::new(value.as_bytes().to_vec());
    let mut le = Zeroizing::new(Vec::with_capacity(value.len() * 2));
    let mut be = Zeroizing::new(Vec::with_capacity(value.len() * 2));
    for unit in value.encode_utf16() {
        le.extend_from_slice(&unit.to_le_bytes());
        be.extend_from_slice(&unit.to_be_bytes());
    }
    // The prefixed forms are registered as such: quoting on top of
    // `\x{6b}` (`\\x\{6b\}`) stops it decoding, and its skeleton keeps
    // the `x`.
    let mut out = vec![
        digits(utf8.iter().map(|b| u32::from(*b)), "0x", 16, 2),
        digits(utf8.iter().map(|b| u32::from(*b)), "x", 16, 2),
        digits(value.chars().map(u32::from), "x", 16, 1),
        digits(value.encode_utf16().map(u32::from), "u", 16, 4),
        digits(utf8.iter().map(|b| u32::from(*b)), "", 8, 3),
        // Decimal: Go's `%v` of a []byte, Node's `Buffer` as JSON, Python's
        // `list(b"..")` (unsigned bytes); Java's `Arrays.toString(byte[])`
        // (signed: the skeleton drops the minus, leaving 256 - b); and
        // JavaScript's `charCodeAt` per UTF-16 unit. For ASCII all of them
        // are one skeleton.
        digits(utf8.iter().map(|b| u32::from(*b)), "", 10, 1),
        digits(
            utf8.iter()
                .map(|b| u32::from(i8::from_ne_bytes([*b]).unsigned_abs())),
            "",
            10,
            1,
        ),
        digits(value.encode_utf16().map(u32::from), "", 10, 1),
    ];
    for bytes in [&utf8, &le, &be] {
        out.push(digits(bytes.iter().map(|b| u32::from(*b)), "", 16, 2));
        out.push(base32(bytes));
        for skip in 0..3usize {
            let mut shifted = Zeroizing::new(vec![0u8; skip]);
            shifted.extend_from_slice(bytes);
            let encoded = Zeroizing::new(STANDARD_NO_PAD.encode(&*shifted));
            // The first characters depend on the bytes before the value and
            // the last on those after it: both are left out.
            let head = (4 * skip).div_ceil(3);
            let tail = usize::from(shifted.len() % 3 != 0);
            if let Some(middle) = encoded.get(head..encoded.len().saturating_sub(tail)) {
                out.push(Zeroizing::new(middle.to_owned()));
            }
        }
    }
    out
}

/// Each of `values` in base `radix` (lower case), at least `width` digits
/// long, after `prefix` and followed by a space.
fn digits(
    values: impl Iterator<Item = u32>,
    prefix: &str,
    radix: u32,
    width: usize,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    let mut buffer = [0u8; 32];
    for mut value in values {
        out.push_str(prefix);
        let mut used = 0;
        while value > 0 || used < width {
            buffer[used] = b"0123456789abcdef"[(value % radix) as usize];
            value /= radix;
            used += 1;
        }
        out.extend(buffer[..used].iter().rev().map(|b| char::from(*b)));
        out.push(' ');
    }
    buffer.fill(0);
    out
}

/// RFC 4648 base32, without padding.
fn base32(bytes: &[u8]) -> Zeroizing<String> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 8 / 5 + 1));
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(secrets: &[&str]) -> Skeletons {
        Skeletons::new(&secrets.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn the_skeleton_keeps_letters_and_digits_folded_and_decomposed() {
        let text = "K7$Pq(2@x\u{e9}e\u{301}\u{ff21}\u{df}!";
        assert_eq!(
            skeleton(text).into_iter().collect::<String>(),
            "k7pq2xeeass"
        );
    }

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(*base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(*base32(b"f"), "MY");
    }

    #[test]
    fn six_mixed_skeleton_characters_are_enough_five_are_not() {
        let s = set(&["k7$Pq(2@xZ!m^R{9w.T+e;B>3u=H[a]Lf"]);
        // "k7$Pq(2@" folds to "k7pq2", five characters: not enough.
        assert_eq!(s.find("got 'k7$Pq(2@...'"), None);
        // "k7$Pq(2@x" folds to "k7pq2x".
        assert_eq!(s.find("got 'k7$Pq(2@x...'"), Some(0));
    }

    #[test]
    fn words_and_numbers_in_a_secret_are_not_registered_alone() {
        let s = set(&[
            "dummy-password-not-used-1",
            "2026-01-15-secret-a",
            "target~old~secret~2026~0000000000000002",
            "admin-secret-access-key-000000000000001",
        ]);
        assert_eq!(s.find("the password was not used on 2026-01-15"), None);
        assert_eq!(s.find("the old secret 2026-12-06 was kept"), None);
        assert_eq!(s.find("key AKIAADMINKEY00000001"), None);
        let s = set(&["x7-dummy-password-not-used-1"]);
        assert_eq!(s.find("X7-DUMMY"), Some(0));
    }

    #[test]
    fn a_scanner_counts_a_short_skeleton_only_where_it_stands_alone() {
        // "1F(ñ&Ω}]" read as Latin-1 is "1F(Ã±&Î©}]": skeleton "1fai".
        let s = set(&["1F(\u{f1}&\u{3a9}}]"]);
        assert_eq!(s.find("exit 1 (failed, nothing changed)"), Some(0));
        assert_eq!(
            s.find_standing_alone("exit 1 (failed, nothing changed)"),
            None
        );
        assert_eq!(
            s.find_standing_alone("got 1 F ( \u{f1} & \u{3a9} } ]"),
            Some(0)
        );
        assert_eq!(
            s.find_standing_alone("got '1F(\u{c3}\u{b1}&\u{ce}\u{a9}}]'"),
            Some(0)
        );
        assert_eq!(s.find_standing_alone("got x1F(\u{f1}&\u{3a9}"), None);
        assert_eq!(s.find_standing_alone("got 1F(\u{f1}&\u{3a9}x"), None);
        // A combining mark after the last letter still ends the run; one
        // before the first belongs to the letter it follows.
        assert_eq!(
            s.find_standing_alone("got 1F(n\u{303}&\u{3a9}\u{301})"),
            Some(0)
        );
        assert_eq!(
            s.find_standing_alone("cafe\u{301}1F(\u{f1}&\u{3a9}}]"),
            None
        );
        // Mojibake next to the run does not join it to a word: a quoted
        // echo, UTF-8 read as Windows-1252 ("â€œ" and "â€\u{9d}").
        let s = set(&["k7\u{20ac}p2"]);
        assert_eq!(
            s.find_standing_alone(
                "got \u{e2}\u{20ac}\u{153}k7\u{e2}\u{201a}\u{ac}p2\u{e2}\u{20ac}\u{9d}"
            ),
            Some(0)
        );
    }

    #[test]
    fn a_secret_shorter_than_the_window_is_matched_whole_when_it_mixes() {
        let s = set(&["a1b2", "old"]);
        assert_eq!(s.find("x A-1-B-2 y"), Some(0));
        assert_eq!(s.find("the old one is held"), None);
    }

    #[test]
    fn a_skeleton_of_fewer_than_four_distinct_characters_withholds_only_a_field_that_is_it() {
        // `!!a1!!` folds to `a1`: as a run it would withhold every field
        // holding `sha1`.
        let s = set(&["!!a1!!", "#1a1#"]);
        assert_eq!(s.find("sha1 checksum mismatch"), None);
        assert_eq!(s.find("schema v1a1 is not supported"), None);
        assert_eq!(s.find("'!!A1!!'"), Some(0));
        assert_eq!(s.find("\\#1A1\\#"), Some(1));
    }

    #[test]
    fn a_decimal_dump_is_found_from_16_digits_on() {
        // The first seven bytes, 107 55 36 80 113 40 50, are sixteen digits.
        let s = set(&["k7$Pq(2@xZ!m^R{9w"]);
        assert_eq!(s.find("data: [107 55 36 80 113 40 50 ...]"), Some(0));
        assert_eq!(s.find("data: [107 55 36 80 113 40 5...]"), None);
    }

    #[test]
    fn dumps_of_16_skeleton_characters_are_found() {
        let secret = "k7$Pq(2@xZ!m^R{9w";
        let s = set(&[secret]);
        let hex: String = secret.bytes().map(|b| format!("{b:02X} ")).collect();
        assert_eq!(s.find(&format!("bytes: {hex}")), Some(0));
        let octal: String = secret.bytes().map(|b| format!("\\{b:03o}")).collect();
        assert_eq!(s.find(&octal), Some(0));
        let utf16: String = secret.encode_utf16().map(|u| format!("{u:04x}")).collect();
        assert_eq!(s.find(&utf16), Some(0));
        assert_eq!(s.find(&base32(secret.as_bytes())), Some(0));
    }
}
