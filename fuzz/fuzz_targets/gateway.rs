//! The Gateway's input path, from bytes to each binary's plan: see
//! `fuzz_entry::run` for what is checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_entry::run(data);
});
