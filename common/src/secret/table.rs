//! The exact layer: every registered secret in each form a server may echo
//! it in (escapes aside, which [`super::decode`] undoes), found by rolling
//! hashes over case-folded windows of [`WINDOW`] characters.

use super::*;

/// A hasher for keys that are hashes already.
#[derive(Default)]
pub(super) struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(super) type HashSet64 = HashSet<u64, BuildHasherDefault<Identity>>;

pub(super) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub(super) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over characters: the key a value is deduplicated by.
pub(super) fn step(hash: u64, c: char) -> u64 {
    (hash ^ u64::from(u32::from(c))).wrapping_mul(FNV_PRIME)
}

/// The base of the polynomial rolling hash of windows: moving a window one
/// character on costs one multiplication, whatever its length.
pub(super) const BASE: u64 = 0x9e37_79b9_7f4a_7c15;

pub(super) fn term(c: char) -> u64 {
    u64::from(u32::from(c)) + 1
}

/// The rolling hash of `window`: the sum of each character's term times
/// `BASE` to the power of its distance from the end.
pub(super) fn poly(window: impl Iterator<Item = char>) -> u64 {
    window.fold(0u64, |h, c| h.wrapping_mul(BASE).wrapping_add(term(c)))
}

/// Spreads a rolling hash over all bits, as the set's buckets need.
pub(super) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Calls `found(start, end)` (indexes into `chars`, end exclusive) for
/// every window of `length` characters whose hash is in `set`.
pub(super) fn rolling(
    chars: &[char],
    length: usize,
    set: &HashSet64,
    mut found: impl FnMut(usize, usize),
) {
    if length == 0 || chars.len() < length {
        return;
    }
    let top = (1..length).fold(1u64, |p, _| p.wrapping_mul(BASE));
    let mut h = poly(chars[..length].iter().copied());
    for start in 0..=chars.len() - length {
        if start > 0 {
            let out = term(chars[start - 1]).wrapping_mul(top);
            h = h
                .wrapping_sub(out)
                .wrapping_mul(BASE)
                .wrapping_add(term(chars[start + length - 1]));
        }
        if set.contains(&mix(h)) {
            found(start, start + length);
        }
    }
}

/// The characters matching compares for `c`: full case folding (upper case,
/// then lower case, so `ß` and `SS` fold alike), and space, `+` and no-break
/// space as one (form encoding turns a space into `+`). Pushes one or more
/// characters onto `out`.
pub(super) fn fold_into(c: char, out: &mut impl Extend<char>) {
    match c {
        ' ' | '+' | '\u{a0}' => out.extend(['+']),
        c if c.is_ascii() => out.extend([c.to_ascii_lowercase()]),
        c => out.extend(c.to_uppercase().flat_map(char::to_lowercase)),
    }
}

/// A view folded for matching: each folded character with the index of the
/// unit it came from.
pub(super) fn fold_view(view: &[Unit]) -> Vec<(char, usize)> {
    let mut folded = Vec::with_capacity(view.len());
    let mut one = Vec::with_capacity(4);
    for (index, unit) in view.iter().enumerate() {
        one.clear();
        fold_into(unit.c, &mut one);
        folded.extend(one.iter().map(|c| (*c, index)));
    }
    folded
}

/// The registered windows.
#[derive(Default)]
pub(super) struct Table {
    /// Hashes of the registered values, so none is registered twice.
    pub(super) values: HashSet64,
    pub(super) count: usize,
    pub(super) chars: usize,
    /// `windows[n]`: hashes of folded windows of `n` characters.
    pub(super) windows: [HashSet64; WINDOW + 1],
    /// The skeletons of the values and of their dumps, as of the last
    /// [`Table::skeletons`]: see `pending`.
    skeletons: Skeletons,
    /// Values whose skeletons (and dumps, when true) are yet to be added.
    /// Adding them costs more than all the rest of registration (a
    /// 700-character token has some 40 000 dump windows), and only a
    /// server-supplied field shown in a message needs them: they are added
    /// when [`Table::skeletons`] is first asked after they were registered,
    /// so a run that shows no such field never pays for them.
    pending: Vec<(Zeroizing<String>, bool)>,
    /// Values from input whose dumps are registered.
    pub(super) dumped: usize,
}

impl Table {
    pub(super) fn add(
        &mut self,
        value: &str,
        login: Option<&str>,
        capped: bool,
    ) -> Result<(), TooMany> {
        self.add_with(value, login, capped, true)
    }

    /// Adds the parts of a value ([`secret_parts`]): one value whole, or a
    /// PEM block's lines followed by their concatenation (the body).
    ///
    /// A PEM line is a piece of the body, and most of its forms are pieces
    /// of the body's: its value (the body's windows hold every window of
    /// it), and its base64 at each alignment but for the last character of
    /// the unaligned encoding (see [`Table::add_line`]). The body goes
    /// first, and each line then adds only what the body's forms do not
    /// hold: the windows registered are those of registering every part
    /// whole (a test compares the two), for half the work of a 1.7 kB key.
    pub(super) fn add_parts(
        &mut self,
        parts: &[String],
        capped: bool,
        skeleton: bool,
    ) -> Result<(), TooMany> {
        let Some((body, lines)) = parts.split_last() else {
            return Ok(());
        };
        // The body's base64 forms are what make most of a line's
        // redundant: without them (a body too long to have them, or one
        // with mojibake forms of its own), every part is added whole.
        if lines.is_empty()
            || body.len() > MAX_BASE64_SOURCE
            || !body.is_ascii()
            || lines.concat() != *body
        {
            for part in parts {
                self.add_with(part, None, capped, skeleton)?;
            }
            return Ok(());
        }
        self.add_with(body, None, capped, skeleton)?;
        for line in lines {
            self.add_line(line, capped, skeleton)?;
        }
        Ok(())
    }

    /// Adds a line of a PEM body already registered: the same windows as
    /// [`Table::add_with`], without those the body's forms hold.
    fn add_line(&mut self, line: &str, capped: bool, skeleton: bool) -> Result<(), TooMany> {
        if line.len() < WINDOW || !line.is_ascii() || line.len() > MAX_BASE64_SOURCE {
            return self.add_with(line, None, capped, skeleton);
        }
        if !self.admit(line, None, capped)? {
            return Ok(());
        }
        // Every window of the line is one of the body's.
        self.add_form_from(line, usize::MAX);
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            // Unaligned, whole: the body's encoding at the alignment that
            // puts the line's first byte first in a group holds all of it
            // but the last character when the line's length is not a
            // multiple of 3 (its low bits are the next line's there).
            let whole = Zeroizing::new(engine.encode(line.as_bytes()));
            let last = if line.len().is_multiple_of(3) {
                usize::MAX
            } else {
                whole.len() - WINDOW
            };
            self.add_form_from(&whole, last);
            for skip in 0..3usize {
                // The middle of each alignment, without the characters that
                // depend on the bytes around the line: the same characters
                // as the body's encoding at the alignment that puts the
                // line's bytes where `skip` puts them.
                let mut bytes = Zeroizing::new(vec![0u8; skip]);
                bytes.extend_from_slice(line.as_bytes());
                let encoded = Zeroizing::new(engine.encode(&*bytes));
                let head = (4 * skip).div_ceil(3);
                let tail = usize::from(bytes.len() % 3 != 0);
                if let Some(middle) = encoded.get(head..encoded.len().saturating_sub(tail))
                    && middle.len() >= WINDOW
                {
                    self.add_form_from(middle, usize::MAX);
                }
            }
        }
        if line.len() <= MAX_EXPLICIT_SOURCE {
            let explicit = explicit_forms(line);
            for (at, form) in explicit.iter().enumerate() {
                if **form != *line && !explicit[..at].contains(form) {
                    self.add_form(form);
                }
            }
        }
        if skeleton {
            self.pending.push((Zeroizing::new(line.to_owned()), true));
        }
        Ok(())
    }

    /// Counts `value` (with `login`) as registered: `false` when it was
    /// already, [`TooMany`] when `capped` and the caps are reached.
    fn admit(&mut self, value: &str, login: Option<&str>, capped: bool) -> Result<bool, TooMany> {
        let key = value.chars().fold(FNV_OFFSET, step);
        let key = login.map_or(key, |l| l.chars().fold(step(key, '\0'), step));
        if self.values.contains(&key) {
            return Ok(false);
        }
        let length = value.chars().count();
        if capped && (self.count >= MAX_SECRETS || self.chars + length > MAX_SECRET_CHARS) {
            return Err(TooMany);
        }
        self.values.insert(key);
        self.count += 1;
        self.chars += length;
        Ok(true)
    }

    pub(super) fn add_with(
        &mut self,
        value: &str,
        login: Option<&str>,
        capped: bool,
        skeleton: bool,
    ) -> Result<(), TooMany> {
        if value.is_empty() || !self.admit(value, login, capped)? {
            return Ok(());
        }
        // Servers trim what they echo, and a shown field is trimmed: a
        // secret with white space at an end is a secret without it too.
        let trimmed = value.trim();
        if !trimmed.is_empty() && trimmed.len() < value.len() {
            self.add_with(trimmed, None, capped, skeleton)?;
        }
        let forms = forms(value, login);
        for (at, form) in forms.iter().enumerate() {
            // A form equal to an earlier one (the JSON form of a value
            // without quotes or backslashes is the value) adds nothing.
            if !forms[..at].contains(form) {
                self.add_form(form);
            }
        }
        // Dumps of values read from input only for the first ones: a
        // Gateway's records hold a handful, and the program's own secrets
        // (`register`, the passwords first) always have theirs.
        let with_dumps = !capped || self.dumped < MAX_DUMPED_INPUT;
        self.dumped += usize::from(capped && with_dumps);
        if skeleton {
            self.pending
                .push((Zeroizing::new(value.to_owned()), with_dumps));
        }
        Ok(())
    }

    pub(super) fn add_form(&mut self, form: &str) {
        self.add_form_from(form, 0);
    }

    /// Adds the windows of `form` that start at character `from` or later
    /// (none for `usize::MAX`): those before it are known to be registered
    /// already. A form shorter than [`WINDOW`] is added whole, and one with
    /// no window of [`MIN_DISTINCT`] characters has all its windows added
    /// (the form it is a piece of may have other windows, so it is no
    /// proof for these).
    fn add_form_from(&mut self, form: &str, from: usize) {
        let mut folded: Zeroizing<Vec<char>> = Zeroizing::new(Vec::with_capacity(form.len()));
        for c in form.chars() {
            fold_into(c, &mut *folded);
        }
        if folded.len() < WINDOW {
            let hash = mix(poly(folded.iter().copied()));
            self.windows[folded.len()].insert(hash);
            return;
        }
        // Windows with fewer than MIN_DISTINCT characters are registered
        // only when the whole form has no other.
        let any = has_informative_window(&folded);
        let from = if any { from } else { 0 };
        if from > folded.len() - WINDOW {
            return;
        }
        let set = &mut self.windows[WINDOW];
        set.reserve(folded.len() - WINDOW + 1 - from);
        each_window(&folded, |start, hash, distinct| {
            if start >= from && (!any || distinct >= MIN_DISTINCT) {
                set.insert(hash);
            }
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The skeletons of every value registered so far, the pending ones
    /// added first.
    pub(super) fn skeletons(&mut self) -> &Skeletons {
        for (value, with_dumps) in std::mem::take(&mut self.pending) {
            self.skeletons.add_with(&value, 0, with_dumps);
        }
        &self.skeletons
    }

    pub(super) fn redact(&self, text: &str) -> String {
        if self.is_empty() || text.is_empty() {
            return text.to_owned();
        }
        let raw = Unit::chars(text);
        let mut spans = Vec::new();
        self.scan(&raw, &mut spans);
        if let Some(once) = decode(&raw, Families::ALL) {
            self.scan(&once, &mut spans);
            if let Some(twice) = decode(&once, Families::ALL) {
                self.scan(&twice, &mut spans);
            }
            let present = Families::present(text);
            // One family at a time too: a secret holding a literal `%0a`
            // echoed with `\u` escapes must not have its `%0a` decoded.
            for family in Families::EACH {
                if family.same_as_all(present) {
                    continue;
                }
                if let Some(view) = decode(&raw, family) {
                    self.scan(&view, &mut spans);
                }
            }
        }
        if spans.is_empty() {
            return text.to_owned();
        }
        replace(text, spans)
    }

    /// Adds the byte spans of every registered window found in `view`.
    pub(super) fn scan(&self, view: &[Unit], spans: &mut Vec<(usize, usize)>) {
        let folded = fold_view(view);
        let chars: Vec<char> = folded.iter().map(|(c, _)| *c).collect();
        for (length, set) in self.windows.iter().enumerate() {
            if set.is_empty() {
                continue;
            }
            rolling(&chars, length, set, |start, end| {
                if length < TOKEN_ONLY_BELOW && !whole_token(&chars, start, end) {
                    return;
                }
                spans.push((view[folded[start].1].start, view[folded[end - 1].1].end));
            });
        }
    }
}

/// The characters a match is widened over, and which bound a token.
pub fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '~')
}

/// Whether `chars[start..end]` stands as a token of its own: an end that is
/// a token character has no token character next to it (an end that is
/// punctuation bounds itself). See `TOKEN_ONLY_BELOW` for why short forms
/// must.
pub fn whole_token(chars: &[char], start: usize, end: usize) -> bool {
    let open = !is_token_char(chars[start]) || start == 0 || !is_token_char(chars[start - 1]);
    let close = !is_token_char(chars[end - 1]) || end == chars.len() || !is_token_char(chars[end]);
    open && close
}

/// Calls `found(start, hash, distinct)` for every window of [`WINDOW`]
/// characters of `chars`: where it starts, its hash (`mix(poly(window))`, as [`rolling`] finds it) and
/// how many distinct characters it holds, both rolled on from the previous
/// window's, so a form of n characters costs O(n) whatever the window.
pub(super) fn each_window(chars: &[char], mut found: impl FnMut(usize, u64, usize)) {
    let top = (1..WINDOW).fold(1u64, |p, _| p.wrapping_mul(BASE));
    let mut counts = Counts::default();
    let mut h = 0u64;
    for (i, &c) in chars.iter().enumerate() {
        if i >= WINDOW {
            let out = chars[i - WINDOW];
            h = h.wrapping_sub(term(out).wrapping_mul(top));
            counts.remove(out);
        }
        h = h.wrapping_mul(BASE).wrapping_add(term(c));
        counts.add(c);
        if i + 1 >= WINDOW {
            found(i + 1 - WINDOW, mix(h), counts.len);
        }
    }
}

/// Whether some window of [`WINDOW`] characters of `chars` holds
/// [`MIN_DISTINCT`] distinct ones: the first window, as a rule.
fn has_informative_window(chars: &[char]) -> bool {
    let mut counts = Counts::default();
    for (i, &c) in chars.iter().enumerate() {
        if i >= WINDOW {
            counts.remove(chars[i - WINDOW]);
        }
        counts.add(c);
        if i + 1 >= WINDOW && counts.len >= MIN_DISTINCT {
            return true;
        }
    }
    false
}

/// The distinct characters of a window and how often each occurs.
struct Counts {
    seen: [(char, u8); WINDOW],
    len: usize,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            seen: [('\0', 0); WINDOW],
            len: 0,
        }
    }
}

impl Counts {
    fn add(&mut self, c: char) {
        if let Some(entry) = self.seen[..self.len].iter_mut().find(|e| e.0 == c) {
            entry.1 += 1;
        } else {
            self.seen[self.len] = (c, 1);
            self.len += 1;
        }
    }

    fn remove(&mut self, c: char) {
        if let Some(at) = self.seen[..self.len].iter().position(|e| e.0 == c) {
            self.seen[at].1 -= 1;
            if self.seen[at].1 == 0 {
                self.len -= 1;
                self.seen.swap(at, self.len);
            }
        }
    }
}

impl Drop for Counts {
    fn drop(&mut self) {
        // The characters of a secret's window.
        self.seen.iter_mut().for_each(|e| *e = ('\0', 0));
        std::hint::black_box(&self.seen);
    }
}

/// Replaces each span, widened to its token and merged with its neighbours.
pub(super) fn replace(text: &str, mut spans: Vec<(usize, usize)>) -> String {
    let token = is_token_char;
    for span in &mut spans {
        while let Some(c) = text[..span.0].chars().next_back().filter(|c| token(*c)) {
            span.0 -= c.len_utf8();
        }
        while let Some(c) = text[span.1..].chars().next().filter(|c| token(*c)) {
            span.1 += c.len_utf8();
        }
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

/// The forms a value is registered in besides escapes (which [`decode`]
/// undoes): mojibake, base64 at each alignment, and base64 of `login:value`.
pub(super) fn forms(value: &str, login: Option<&str>) -> Vec<Zeroizing<String>> {
    let mut forms = vec![Zeroizing::new(value.to_owned())];
    if !value.is_ascii() {
        forms.push(Zeroizing::new(value.bytes().map(char::from).collect()));
        forms.push(Zeroizing::new(value.bytes().map(windows_1252).collect()));
    }
    if value.len() <= MAX_BASE64_SOURCE {
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            // The value encoded on its own, whole (matched whole when short).
            forms.push(Zeroizing::new(engine.encode(value.as_bytes())));
            for skip in 0..3usize {
                // `skip` bytes before the value: the first characters of the
                // encoding then depend on those bytes, and the last one on
                // what follows the value; both are left out.
                let mut bytes = Zeroizing::new(vec![0u8; skip]);
                bytes.extend_from_slice(value.as_bytes());
                let encoded = Zeroizing::new(engine.encode(&*bytes));
                let head = (4 * skip).div_ceil(3);
                let tail = usize::from(bytes.len() % 3 != 0);
                if let Some(middle) = encoded.get(head..encoded.len().saturating_sub(tail))
                    && middle.len() >= WINDOW
                {
                    forms.push(Zeroizing::new(middle.to_owned()));
                }
            }
        }
    }
    if value.chars().count() <= MAX_EXPLICIT_SOURCE {
        forms.extend(explicit_forms(value));
    }
    if let Some(login) = login {
        let pair = Zeroizing::new(format!("{login}:{value}"));
        forms.push(Zeroizing::new(STANDARD_NO_PAD.encode(pair.as_bytes())));
    }
    forms
}

/// The common escaped forms of `value`, written out. Decoding finds these
/// too, except where the text next to the echo makes the escapes ambiguous
/// (a literal `%` right before a value starting with two hex digits reads as
/// `%XX`); matched as written, they need no decoding. Case does not matter
/// (matching folds it), so one hex case is enough.
pub(super) fn explicit_forms(value: &str) -> Vec<Zeroizing<String>> {
    let mut percent = Zeroizing::new(String::new());
    let mut form = Zeroizing::new(String::new());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            percent.push(char::from(b));
            form.push(char::from(b));
        } else {
            percent.push_str(&format!("%{b:02X}"));
            if b == b' ' {
                form.push('+');
            } else {
                form.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut unicode = Zeroizing::new(String::new());
    let mut html = Zeroizing::new(String::new());
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            unicode.push(c);
            html.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                unicode.push_str(&format!("\\u{unit:04x}"));
            }
            html.push_str(&format!("&#{};", u32::from(c)));
        }
    }
    let json = Zeroizing::new(serde_json::to_string(value).unwrap_or_default());
    let json = Zeroizing::new(
        json.get(1..json.len().saturating_sub(1))
            .unwrap_or_default()
            .to_owned(),
    );
    vec![percent, form, unicode, html, json]
}
