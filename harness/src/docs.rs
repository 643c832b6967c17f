//! The documentation (`README.md` and `docs/`), checked against the code.
//!
//! Why: documentation that nothing checks drifts. Two things are checked:
//!
//! - each rotator's reference page, `docs/rotators/<binary>.md`, holds the
//!   exact `--help` text of its binary between two marker comments
//!   ([`help_block_problem`], run by each binary's `tests/docs.rs` through the
//!   real binary). When they differ, `scripts/docs-help` (or the test with
//!   `KEEPER_ROTATORS_BLESS=1`) rewrites the block from the binary;
//! - every relative link in `README.md` and under `docs/` resolves: the file
//!   exists and, for a link to a heading (`page.md#heading`), the heading does
//!   ([`broken_links`]);
//! - the pages an administrator reads (`README.md`, `docs/README.md`,
//!   `docs/guides/`, `docs/rotators/`, `docs/concepts/`) point nowhere outside
//!   the repository and tell no project history ([`history_and_outside_links`]):
//!   "issue 23" or "the build machines" mean nothing to a reader of a release,
//!   and a link out of the repository breaks in an archive or behind a proxy.

use std::path::{Component, Path, PathBuf};

/// Set to `1`, the help-block check rewrites the block instead of failing.
pub const BLESS_ENV: &str = "KEEPER_ROTATORS_BLESS";

/// The root of the workspace.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `docs/rotators/<binary>.md`.
pub fn rotator_page(binary: &str) -> PathBuf {
    root()
        .join("docs")
        .join("rotators")
        .join(format!("{binary}.md"))
}

/// The marker lines around a page's `--help` block.
pub fn help_markers(binary: &str) -> (String, String) {
    (
        format!("<!-- begin: `{binary} --help`, written by scripts/docs-help; do not edit -->"),
        format!("<!-- end: `{binary} --help` -->"),
    )
}

/// The block as it must stand between the markers: the help text, fenced.
fn help_block(help: &str) -> String {
    format!("```text\n{help}```\n")
}

/// The test every binary's `tests/docs.rs` makes: its reference page holds
/// its `--help` word for word (with [`BLESS_ENV`]` = 1`, the page is
/// rewritten instead). Panics naming the difference.
pub fn assert_reference_page(bin: crate::Binary) {
    let bless = std::env::var_os(BLESS_ENV).is_some_and(|v| v == "1");
    let help = crate::inputs::template::help(bin);
    if let Some(problem) = help_block_problem(bin.name(), &help, bless) {
        panic!("{problem}");
    }
}

/// Compares the `--help` block of `docs/rotators/<name>.md` with `help`, the
/// text the binary printed. `None` when they agree, or when `bless` is set and
/// the block was rewritten to agree; otherwise what is wrong and how to fix it.
pub fn help_block_problem(name: &str, help: &str, bless: bool) -> Option<String> {
    let page = rotator_page(name);
    let shown = page
        .strip_prefix(root())
        .unwrap_or(&page)
        .display()
        .to_string();
    let text = match std::fs::read_to_string(&page) {
        Ok(text) => text,
        Err(e) => {
            return Some(format!(
                "{shown}: cannot read the reference page of {name}: {e}"
            ));
        }
    };
    let (begin, end) = help_markers(name);
    let Some((before, inside, after)) = split_at_markers(&text, &begin, &end) else {
        return Some(format!(
            "{shown} has no `--help` block: it needs a line {begin:?}, then the help text, \
             then a line {end:?}. Add the two lines, then run scripts/docs-help."
        ));
    };
    let expected = help_block(help);
    if inside == expected {
        return None;
    }
    if bless {
        let rewritten = format!("{before}{expected}{after}");
        return match std::fs::write(&page, rewritten) {
            Ok(()) => None,
            Err(e) => Some(format!("{shown}: cannot rewrite the `--help` block: {e}")),
        };
    }
    Some(format!(
        "{shown} does not hold the exact `{name} --help` text ({}). \
         Regenerate the block with scripts/docs-help \
         (or run this test with {BLESS_ENV}=1), then review the page around it.",
        first_difference(inside, &expected)
    ))
}

/// The text before the begin marker's line (with it), between the marker
/// lines, and from the end marker on.
fn split_at_markers<'t>(
    text: &'t str,
    begin: &str,
    end: &str,
) -> Option<(&'t str, &'t str, &'t str)> {
    let start = text.find(&format!("{begin}\n"))? + begin.len() + 1;
    // From the begin line's own line break, so an empty block is found too.
    let stop = start + text[start - 1..].find(&format!("\n{end}"))?;
    Some((&text[..start], &text[start..stop], &text[stop..]))
}

/// Where two texts first differ, line by line, for the failure message.
fn first_difference(page: &str, binary: &str) -> String {
    let mut page_lines = page.lines();
    let mut binary_lines = binary.lines();
    let mut line = 0;
    loop {
        line += 1;
        match (page_lines.next(), binary_lines.next()) {
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return "they differ only in line endings".into(),
            (a, b) => {
                return format!(
                    "line {line} of the block: the page has {}, the binary prints {}",
                    a.map_or("nothing".into(), |a| format!("{a:?}")),
                    b.map_or("nothing".into(), |b| format!("{b:?}")),
                );
            }
        }
    }
}

/// The administrator's pages: `README.md`, `docs/README.md` and the `*.md`
/// under `docs/guides`, `docs/rotators` and `docs/concepts`.
pub fn admin_pages(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md"), root.join("docs/README.md")];
    for dir in ["guides", "rotators", "concepts"] {
        crate::layout::files_with_extension(&root.join("docs").join(dir), "md", &mut files);
    }
    files
}

/// Each line of the administrator's pages ([`admin_pages`]) that links out of
/// the repository (a Markdown link or autolink with a scheme) or tells the
/// project's own history (an issue number, a review or its round, the
/// machines the project is built on), as `file:line: what`. URLs in code
/// spans and blocks are examples, not links, and are left alone.
pub fn history_and_outside_links(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for file in admin_pages(root) {
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let Ok(text) = std::fs::read_to_string(&file) else {
            found.push(format!("{shown}: cannot read"));
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for problem in line_problems(line) {
                found.push(format!("{shown}:{}: {problem}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

/// What [`history_and_outside_links`] finds in one line.
fn line_problems(line: &str) -> Vec<&'static str> {
    const HISTORY: [&str; 8] = [
        "issues specify",
        "the review",
        "build machine",
        "development machines",
        "this workplace",
        "last session",
        "previous session",
        "trust, round",
    ];
    let lower = line.to_lowercase();
    let mut problems = Vec::new();
    for scheme in ["](http:", "](https:", "](mailto:", "<http:", "<https:"] {
        if lower.contains(scheme) {
            problems.push("links outside the repository");
        }
    }
    if HISTORY.iter().any(|word| lower.contains(word)) {
        problems.push("project history");
    }
    // "issue 23", "issue #23", "round 3": every occurrence, not the first.
    for word in ["issue ", "issue #", "round "] {
        let numbered = lower.match_indices(word).any(|(at, _)| {
            lower[at + word.len()..]
                .trim_start_matches('#')
                .starts_with(|c: char| c.is_ascii_digit())
        });
        if numbered {
            problems.push("project history");
        }
    }
    problems
}

/// What [`broken_links`] looked at, and what it found.
#[derive(Debug, Default)]
pub struct LinkReport {
    pub files: usize,
    pub links: usize,
    pub broken: Vec<String>,
}

/// Checks every relative link of `README.md` and of each `*.md` under
/// `docs/`, below `root`: the target must exist, inside `root`, and a
/// `#fragment` into a Markdown file must name one of its headings (as GitHub
/// makes anchors of them). Links with a scheme (`https:`, `mailto:`) are not
/// followed.
pub fn broken_links(root: &Path) -> LinkReport {
    let mut files = vec![root.join("README.md")];
    crate::layout::files_with_extension(&root.join("docs"), "md", &mut files);
    let mut report = LinkReport::default();
    for file in &files {
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                report.broken.push(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        report.files += 1;
        for (line, target) in links(&text) {
            report.links += 1;
            if let Some(problem) = check_link(root, file, &text, target) {
                report
                    .broken
                    .push(format!("{shown}:{line}: ({target}) {problem}"));
            }
        }
    }
    report
}

/// Why the link `target` in `file` (whose text is `text`) does not resolve.
fn check_link(root: &Path, file: &Path, text: &str, target: &str) -> Option<String> {
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (target, None),
    };
    if path.starts_with('/') {
        return Some("is absolute: write it relative to this file".into());
    }
    let (resolved, heading_text) = if path.is_empty() {
        (file.to_path_buf(), Some(text.to_owned()))
    } else {
        let resolved = normalise(&file.parent().unwrap_or(root).join(path));
        if !resolved.starts_with(normalise(root)) {
            return Some("leaves the repository".into());
        }
        if !resolved.exists() {
            return Some("names no file or directory".into());
        }
        let is_markdown = resolved.extension().is_some_and(|e| e == "md");
        let headings = if is_markdown && fragment.is_some() {
            std::fs::read_to_string(&resolved).ok()
        } else {
            None
        };
        (resolved, headings)
    };
    let fragment = fragment?;
    let headings = heading_text?;
    if anchors(&headings).iter().any(|a| a == fragment) {
        None
    } else {
        Some(format!(
            "names no heading of {}",
            resolved
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ))
    }
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The Markdown text outside fenced code blocks, line by line (1-based).
fn prose_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fenced = false;
    text.lines().enumerate().filter_map(move |(i, line)| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return None;
        }
        (!fenced).then_some((i + 1, line))
    })
}

/// `line` without its inline code spans (`` `[a](b)` `` is not a link).
fn without_code(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
        }
    }
    out
}

/// The relative link targets of a Markdown text, with their line numbers:
/// inline links `[text](target)` and reference definitions `[name]: target`.
pub fn links(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    for (number, line) in prose_lines(text) {
        let prose = without_code(line);
        if let Some(rest) = prose.trim_start().strip_prefix('[')
            && let Some((_, target)) = rest.split_once("]:")
        {
            push_target(&mut found, number, line, target.trim());
        }
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            push_target(&mut found, number, line, rest[..end].trim());
            rest = &rest[end..];
        }
    }
    found
}

/// Keeps `target` (found in a copy of `line`) as a slice of `line` itself,
/// unless it has a scheme.
fn push_target<'t>(found: &mut Vec<(usize, &'t str)>, number: usize, line: &'t str, target: &str) {
    let target = target.split_whitespace().next().unwrap_or("");
    let target = target.trim_start_matches('<').trim_end_matches('>');
    let has_scheme = target.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if target.is_empty() || has_scheme {
        return;
    }
    if let Some(at) = line.find(target) {
        found.push((number, &line[at..at + target.len()]));
    }
}

/// The anchors GitHub makes of a Markdown text's headings: lower case,
/// punctuation dropped (but `-` and `_`), spaces as `-`, and `-1`, `-2`...
/// after repeated ones.
pub fn anchors(text: &str) -> Vec<String> {
    let mut made: Vec<String> = Vec::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|&c| c.is_alphanumeric() || c == '-' || c == '_' || c == ' ')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let repeats = made
            .iter()
            .filter(|a| {
                **a == slug
                    || a.strip_prefix(&slug)
                        .is_some_and(|n| n.starts_with('-') && n[1..].parse::<u32>().is_ok())
            })
            .count();
        made.push(if repeats == 0 {
            slug
        } else {
            format!("{slug}-{repeats}")
        });
    }
    made
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_line_telling_history_or_linking_outside_is_found_and_plain_prose_is_not() {
        for line in [
            "see [Keeper](https://docs.keeper.io/x)",
            "<https://example.com>",
            "an issue with it, then issue 23 fixed it",
            "issue #7",
            "as Trust, round 3 asked",
            "found by the review of the lock",
            "on the build machines",
        ] {
            assert!(!line_problems(line).is_empty(), "not found: {line}");
        }
        for line in [
            "an issue of the Gateway",
            "`https://api.example.com` in a code span",
            "rounds the time to 3 s",
            "run `scripts/test`",
        ] {
            assert!(
                line_problems(line).is_empty(),
                "found in plain prose: {line}"
            );
        }
    }
    use super::*;

    #[test]
    fn anchors_are_made_as_github_makes_them() {
        let text = "# The vault (`common::vault`)\n## Exit codes\n```\n# not a heading\n```\n## Exit codes\n### 1. Export the records\n";
        assert_eq!(
            anchors(text),
            [
                "the-vault-commonvault",
                "exit-codes",
                "exit-codes-1",
                "1-export-the-records"
            ]
        );
    }

    #[test]
    fn links_in_code_and_with_a_scheme_are_not_followed() {
        let text = "see [a](a.md#x) and `[b](b.md)`, [c](https://c.example) and [d](<d.md>)\n```\n[e](e.md)\n```\n[f]: f.md\n";
        let targets: Vec<&str> = links(text).into_iter().map(|(_, t)| t).collect();
        assert_eq!(targets, ["a.md#x", "d.md", "f.md"]);
    }

    #[test]
    fn a_missing_file_a_missing_heading_and_a_link_out_of_the_repository_are_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("docs/guides")).expect("docs dir");
        std::fs::write(
            root.join("README.md"),
            "# Top\n[ok](docs/guides/a.md#first-run) [gone](docs/nope.md) [here](#top) [bad](#nowhere)\n",
        )
        .expect("README");
        std::fs::write(
            root.join("docs/guides/a.md"),
            "# First run\n[up](../../README.md#top) [heading](../../README.md#bottom) [out](../../../x.md)\n",
        )
        .expect("page");
        let report = broken_links(&root);
        assert_eq!((report.files, report.links), (2, 7));
        let broken = report.broken.join("\n");
        assert_eq!(report.broken.len(), 4, "{broken}");
        for expected in [
            "README.md:2: (docs/nope.md) names no file",
            "README.md:2: (#nowhere) names no heading of README.md",
            "a.md:2: (../../README.md#bottom) names no heading of README.md",
            "a.md:2: (../../../x.md) leaves the repository",
        ] {
            assert!(broken.contains(expected), "{expected:?} not in:\n{broken}");
        }
    }

    #[test]
    fn the_help_block_is_found_between_its_markers_even_when_empty() {
        let (begin, end) = help_markers("rotate-x");
        let empty = format!("intro\n{begin}\n{end}\nrest\n");
        assert_eq!(
            split_at_markers(&empty, &begin, &end),
            Some((
                format!("intro\n{begin}\n").as_str(),
                "",
                format!("{end}\nrest\n").as_str()
            ))
        );
        let full = format!("{begin}\n```text\nUsage\n```\n{end}\n");
        assert_eq!(
            split_at_markers(&full, &begin, &end).map(|(_, inside, _)| inside),
            Some("```text\nUsage\n```\n")
        );
    }

    #[test]
    fn a_help_block_that_differs_names_the_first_differing_line() {
        let difference = first_difference(
            "```text\nUsage: x\nold\n```\n",
            &help_block("Usage: x\nnew\n"),
        );
        assert_eq!(
            difference,
            "line 3 of the block: the page has \"old\", the binary prints \"new\""
        );
    }
}
