//! `docs/rotators/rotate-snowflake-user.md`, the binary's reference page,
//! shows its `--help` word for word, so the page cannot drift from the
//! binary.

#[test]
fn the_reference_page_holds_the_exact_help_text() {
    harness::docs::assert_reference_page(harness::binary!("rotate-snowflake-user"));
}
