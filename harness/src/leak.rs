//! The leak scanner every test and rehearsal runs over a program's output:
//! its own encoders (`crate::encodings`), not the redactor's decoding, so a
//! form the redactor misses is still found.

use std::collections::HashMap;

use crate::encodings::{LEAK_WINDOW, leak_pieces};
use crate::inputs::scenario::leak_forms;

/// The longest secret whose skeleton a [`LeakScanner`] registers. Measured:
/// 7 of 100,000 random `SHA256:` fingerprints shared a six-character run
/// with the skeleton of `rotate-snowflake-user`'s 7.3 kB input line (two PEM
/// keys, base64 twice), none with the line left out; the conformance suite
/// prints some thousand fingerprints a run.
pub const MAX_SKELETON_SOURCE: usize = 1024;

/// Finds secrets in a text. A leak is any form of a secret (see
/// [`leak_forms`]), in any case, or any [`LEAK_WINDOW`] consecutive
/// characters of one: the exact-form redactor's promise; or a run of the
/// text's skeleton shared with a secret's skeleton or a dump's (see
/// `common::secret::Skeletons`): what withholds a server's field, except
/// that a secret's whole skeleton shorter than its window counts only where
/// it stands alone (`Skeletons::find_standing_alone`). Windows
/// are looked up in a set, so a scan is linear in the text whatever the
/// number of secrets.
///
/// A secret longer than [`MAX_SKELETON_SOURCE`] characters, or a private
/// key, has no skeleton registered: it is a container (the Gateway's input
/// line, a key's PEM body) whose exact forms are scanned, and whose parts
/// are secrets of their own. Its thousands of six-character windows would
/// otherwise match printed key fingerprints by chance.
#[derive(Debug)]
pub struct LeakScanner {
    windows: HashMap<String, usize>,
    whole: Vec<(String, usize)>,
    skeletons: common::secret::Skeletons,
}

impl LeakScanner {
    pub fn new(secrets: &[String]) -> Self {
        let mut windows: HashMap<String, usize> = HashMap::new();
        let mut whole: Vec<(String, usize)> = Vec::new();
        for (index, secret) in secrets.iter().enumerate() {
            for form in common::secret::secret_parts(secret)
                .iter()
                .flat_map(|part| leak_forms(part))
            {
                for piece in leak_pieces(&form) {
                    if piece.chars().count() == LEAK_WINDOW {
                        windows.entry(piece).or_insert(index);
                    } else {
                        whole.push((piece, index));
                    }
                }
            }
        }
        let mut skeletons = common::secret::Skeletons::default();
        for (index, secret) in secrets.iter().enumerate() {
            if secret.contains("-----BEGIN") || secret.chars().count() > MAX_SKELETON_SOURCE {
                continue;
            }
            for part in common::secret::secret_parts(secret) {
                skeletons.add(&part, index);
            }
        }
        Self {
            windows,
            whole,
            skeletons,
        }
    }

    /// The index of the first secret found in `text`.
    pub fn find(&self, text: &str) -> Option<usize> {
        let lower = text.to_lowercase();
        let chars: Vec<char> = lower.chars().collect();
        let mut key = String::with_capacity(LEAK_WINDOW * 4);
        for window in chars.windows(LEAK_WINDOW) {
            key.clear();
            key.extend(window);
            if let Some(index) = self.windows.get(&key) {
                return Some(*index);
            }
        }
        self.whole
            .iter()
            .find(|(piece, _)| occurs(&chars, piece))
            .map(|(_, index)| *index)
            .or_else(|| {
                text.lines()
                    .find_map(|line| self.skeletons.find_standing_alone(line))
            })
    }
}

/// Whether `piece` occurs in `chars`: anywhere, or, when it is shorter than
/// [`common::secret::TOKEN_ONLY_BELOW`] characters, only as a token of its
/// own, as the redactor matches it (a `y` inside `you` is no leak).
fn occurs(chars: &[char], piece: &str) -> bool {
    let piece: Vec<char> = piece.chars().collect();
    if piece.is_empty() || piece.len() > chars.len() {
        return false;
    }
    let short = piece.len() < common::secret::TOKEN_ONLY_BELOW;
    (0..=chars.len() - piece.len()).any(|start| {
        let end = start + piece.len();
        chars[start..end] == piece[..] && (!short || common::secret::whole_token(chars, start, end))
    })
}
