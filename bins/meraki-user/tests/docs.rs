//! `docs/rotators/rotate-meraki-user.md`, the binary's reference page, shows
//! its `--help` word for word, so the page cannot drift from the binary.

const BIN: harness::Binary = harness::binary!("rotate-meraki-user");

#[test]
fn the_reference_page_holds_the_exact_help_text() {
    let bless = std::env::var_os(harness::docs::BLESS_ENV).is_some_and(|v| v == "1");
    let help = harness::inputs::template::help(BIN);
    if let Some(problem) = harness::docs::help_block_problem(BIN.name(), &help, bless) {
        panic!("{problem}");
    }
}
