//! Escapes undone before matching: percent, backslash, HTML entities and
//! the like, each family only where it can occur, so the exact layer sees
//! the characters a server meant.

/// A byte read as Windows-1252 (Latin-1 but for 0x80-0x9F).
pub(super) fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9f => HIGH[usize::from(byte - 0x80)],
        other => char::from(other),
    }
}

/// One character of a view, and the bytes of the original text it stands for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Unit {
    pub(super) c: char,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Unit {
    /// Each character of `text` standing for itself.
    pub(super) fn chars(text: &str) -> Vec<Unit> {
        text.char_indices()
            .map(|(at, c)| Unit {
                c,
                start: at,
                end: at + c.len_utf8(),
            })
            .collect()
    }
}

/// Which kinds of escape [`decode`] decodes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Families {
    pub(super) backslash: bool,
    /// `\n`, `\r`, `\t`, `\b`, `\f` and `\xXX`: the escapes a literal
    /// backslash followed by a secret starting with a letter looks like.
    pub(super) letters: bool,
    pub(super) html: bool,
    pub(super) percent: bool,
}

impl Families {
    pub(super) const ALL: Self = Self {
        backslash: true,
        letters: true,
        html: true,
        percent: true,
    };
    pub(super) const EACH: [Self; 4] = [
        Self {
            backslash: true,
            letters: true,
            html: false,
            percent: false,
        },
        Self {
            backslash: true,
            letters: false,
            html: true,
            percent: true,
        },
        Self {
            backslash: false,
            letters: false,
            html: true,
            percent: false,
        },
        Self {
            backslash: false,
            letters: false,
            html: false,
            percent: true,
        },
    ];

    /// The families whose escapes `text` may hold.
    pub(super) fn present(text: &str) -> Self {
        Self {
            backslash: text.contains('\\'),
            letters: true,
            html: text.contains('&'),
            percent: text.contains('%'),
        }
    }

    /// Whether decoding `self` decodes exactly what decoding every family
    /// does, for a text holding the escapes of `present`: then its view is
    /// the all-families view again.
    pub(super) fn same_as_all(self, present: Self) -> bool {
        (!present.backslash || (self.backslash && self.letters))
            && (self.html || !present.html)
            && (self.percent || !present.percent)
    }

    pub(super) fn starts(self, c: char) -> bool {
        (self.backslash && c == '\\') || (self.html && c == '&') || (self.percent && c == '%')
    }
}

/// `view` with the escapes of `families` decoded: JSON and similar
/// backslash escapes (`\"`, `\/`, `\uXXXX` in either case, surrogate pairs,
/// `\xXX`), HTML entities (named, decimal, hex), and runs of `%XX` (UTF-8
/// where valid, else Latin-1). `None` when there is nothing to decode.
pub(super) fn decode(view: &[Unit], families: Families) -> Option<Vec<Unit>> {
    if !view.iter().any(|u| families.starts(u.c)) {
        return None;
    }
    let mut out = Vec::with_capacity(view.len());
    let mut changed = false;
    let mut i = 0;
    while i < view.len() {
        let decoded = match view[i].c {
            c if !families.starts(c) => None,
            '\\' => backslash(view, i, families.letters),
            '&' => entity(view, i),
            '%' => {
                let (units, used) = percent_run(view, i);
                if used > 0 {
                    out.extend(units);
                    changed = true;
                    i += used;
                    continue;
                }
                None
            }
            _ => None,
        };
        match decoded {
            Some((c, used)) => {
                out.push(Unit {
                    c,
                    start: view[i].start,
                    end: view[i + used - 1].end,
                });
                changed = true;
                i += used;
            }
            None => {
                out.push(view[i]);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

pub(super) fn hex_value(view: &[Unit], from: usize, digits: usize) -> Option<u32> {
    let units = view.get(from..from + digits)?;
    units
        .iter()
        .try_fold(0u32, |acc, u| Some(acc * 16 + u.c.to_digit(16)?))
}

/// A backslash escape at `i`: the character and how many units it used.
pub(super) fn backslash(view: &[Unit], i: usize, letters: bool) -> Option<(char, usize)> {
    let next = view.get(i + 1)?.c;
    if !letters && matches!(next, 'x' | 'X' | 'n' | 'r' | 't' | 'b' | 'f') {
        return None;
    }
    if matches!(next, 'x' | 'u') && view.get(i + 2).map(|u| u.c) == Some('{') {
        // Perl's `\x{6b}`, and `\u{6b}` of Rust, Ruby and JavaScript.
        let close = (i + 4..view.len().min(i + 11)).find(|&j| view[j].c == '}')?;
        let value = hex_value(view, i + 3, close - i - 3)?;
        return Some((char::from_u32(value)?, close - i + 1));
    }
    match next {
        'u' | 'U' => {
            let unit = hex_value(view, i + 2, 4)?;
            if (0xD800..0xDC00).contains(&unit)
                && view.get(i + 6).map(|u| u.c) == Some('\\')
                && matches!(view.get(i + 7).map(|u| u.c), Some('u' | 'U'))
                && let Some(low) = hex_value(view, i + 8, 4)
                && (0xDC00..0xE000).contains(&low)
            {
                let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
                return Some((c, 12));
            }
            Some((char::from_u32(unit).unwrap_or('\u{fffd}'), 6))
        }
        'x' | 'X' => Some((char::from_u32(hex_value(view, i + 2, 2)?)?, 4)),
        // Any other punctuation: the quoting of shells (`printf %q`,
        // Shellwords) and of regular expressions (`re.escape`,
        // `preg_quote`) puts a backslash before it.
        c if c.is_ascii_punctuation() => Some((c, 2)),
        'n' => Some(('\n', 2)),
        'r' => Some(('\r', 2)),
        't' => Some(('\t', 2)),
        'b' => Some(('\u{8}', 2)),
        'f' => Some(('\u{c}', 2)),
        _ => None,
    }
}

/// An HTML entity at `i` (`&lt;`, `&#60;`, `&#x3C;`).
pub(super) fn entity(view: &[Unit], i: usize) -> Option<(char, usize)> {
    let end = (i + 2..view.len().min(i + 12)).find(|&j| view[j].c == ';')?;
    let name: String = view[i + 1..end].iter().map(|u| u.c).collect();
    let c = if let Some(number) = name.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        char::from_u32(value)?
    } else {
        named_entity(&name)?
    };
    Some((c, end - i + 1))
}

pub(super) fn named_entity(name: &str) -> Option<char> {
    const NAMED: [(&str, char); 33] = [
        ("lt", '<'),
        ("gt", '>'),
        ("amp", '&'),
        ("quot", '"'),
        ("apos", '\''),
        ("nbsp", '\u{a0}'),
        ("sol", '/'),
        ("bsol", '\\'),
        ("plus", '+'),
        ("equals", '='),
        ("num", '#'),
        ("excl", '!'),
        ("dollar", '$'),
        ("percnt", '%'),
        ("lpar", '('),
        ("rpar", ')'),
        ("ast", '*'),
        ("comma", ','),
        ("period", '.'),
        ("colon", ':'),
        ("semi", ';'),
        ("quest", '?'),
        ("commat", '@'),
        ("lsqb", '['),
        ("rsqb", ']'),
        ("lowbar", '_'),
        ("grave", '`'),
        ("lcub", '{'),
        ("rcub", '}'),
        ("verbar", '|'),
        ("vert", '|'),
        ("Hat", '^'),
        ("tilde", '~'),
    ];
    NAMED
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c)
}

/// A run of `%XX` at `i`, decoded as UTF-8 where the bytes are valid and as
/// Latin-1 where not. Returns the units and how many input units they used.
pub(super) fn percent_run(view: &[Unit], i: usize) -> (Vec<Unit>, usize) {
    let mut bytes: Vec<(u8, usize, usize)> = Vec::new();
    let mut j = i;
    while view.get(j).map(|u| u.c) == Some('%') {
        let Some(byte) = hex_value(view, j + 1, 2) else {
            break;
        };
        bytes.push((byte as u8, view[j].start, view[j + 2].end));
        j += 3;
    }
    let mut units = Vec::with_capacity(bytes.len());
    let mut k = 0;
    while k < bytes.len() {
        let lead = bytes[k].0;
        let width = match lead {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        if width > 1 && k + width <= bytes.len() {
            let chunk: Vec<u8> = bytes[k..k + width].iter().map(|b| b.0).collect();
            if let Some(c) = std::str::from_utf8(&chunk)
                .ok()
                .and_then(|s| s.chars().next())
            {
                units.push(Unit {
                    c,
                    start: bytes[k].1,
                    end: bytes[k + width - 1].2,
                });
                k += width;
                continue;
            }
        }
        units.push(Unit {
            c: char::from(lead),
            start: bytes[k].1,
            end: bytes[k].2,
        });
        k += 1;
    }
    (units, j - i)
}
