//! `README.md` and `docs/` stay navigable: every relative link resolves.

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let report = harness::docs::broken_links(&harness::docs::root());
    assert!(
        report.files > 20 && report.links > 50,
        "only {} files and {} links were checked: is docs/ missing?",
        report.files,
        report.links
    );
    assert!(
        report.broken.is_empty(),
        "{} of {} relative links in README.md and docs/ do not resolve:\n{}",
        report.broken.len(),
        report.links,
        report.broken.join("\n")
    );
}

/// The pages an administrator reads link nowhere outside the repository and
/// tell no project history (issue numbers, review rounds, build machines).
#[test]
fn the_administrators_pages_tell_no_history_and_link_nowhere_outside() {
    let root = harness::docs::root();
    assert!(
        harness::docs::admin_pages(&root).len() > 20,
        "too few pages found under {}",
        root.display()
    );
    let found = harness::docs::history_and_outside_links(&root);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The exit-code table of the docs prints each code as the binaries do
/// (`common::error::Exit`, the one table).
#[test]
fn the_docs_exit_code_table_uses_the_binaries_words() {
    let page = harness::docs::root().join("docs/concepts/rotation-protocol.md");
    let text = std::fs::read_to_string(&page).expect("rotation-protocol.md");
    for exit in common::error::Exit::ALL {
        let row = format!("| {} | {} |", exit.code(), exit.meaning());
        assert!(
            text.lines().any(|l| l.starts_with(&row)),
            "{} has no row starting {row}",
            page.display()
        );
    }
}
