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
