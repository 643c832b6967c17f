//! The workspace's structure holds the kit's rules (`harness layout` prints
//! it): no module of any crate uses a module that uses it back, and no source
//! file is longer than 800 lines, except the files listed in
//! `fixtures/layout/long-files.txt`, none longer than listed.

use std::collections::BTreeMap;

use harness::layout::{self, MAX_LINES};

#[test]
fn no_crate_has_a_module_cycle() {
    let root = harness::docs::root();
    let crates = layout::crates(&root);
    assert!(crates.len() >= 7, "{crates:?}");
    let cycles: Vec<String> = crates
        .iter()
        .flat_map(|(name, src)| {
            layout::graph(src)
                .cycles()
                .into_iter()
                .map(move |c| format!("{name}: {}", c.join(" <-> ")))
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "modules that use each other (see `harness layout`):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn no_source_file_grows_past_the_limit_or_past_its_listed_length() {
    let root = harness::docs::root();
    let list = root.join("fixtures/layout/long-files.txt");
    let text = std::fs::read_to_string(&list).expect("the list of long files");
    let allowed: BTreeMap<&str, usize> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (lines, file) = l.trim().split_once(' ').expect("`LINES PATH`");
            (file.trim(), lines.parse().expect("a line count"))
        })
        .collect();
    let lengths: BTreeMap<String, usize> = layout::file_lengths(&root).into_iter().collect();
    assert!(lengths.len() > 50, "only {} files found", lengths.len());
    let mut problems = Vec::new();
    for (file, &lines) in &lengths {
        match allowed.get(file.as_str()) {
            None if lines > MAX_LINES => problems.push(format!(
                "{file} has {lines} lines, over {MAX_LINES}: split it by concern"
            )),
            Some(&max) if lines > max => problems.push(format!(
                "{file} has {lines} lines, more than the {max} it is allowed: split it, do not \
                 raise the limit"
            )),
            Some(_) if lines <= MAX_LINES => problems.push(format!(
                "{file} has {lines} lines now: remove it from {}",
                list.display()
            )),
            _ => {}
        }
    }
    for file in allowed.keys() {
        if !lengths.contains_key(*file) {
            problems.push(format!("{file} is listed but does not exist: remove it"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
