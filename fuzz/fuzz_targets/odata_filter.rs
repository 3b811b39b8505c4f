//! The emulator's OData `$filter` parser, its evaluation, and the query-option rules that
//! decide between an answer and Graph's exact 400. Input: two flag bytes (eventual
//! consistency, beta) and the filter text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [flags, text @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let eventual = flags & 1 == 1;
    let beta = flags & 2 == 2;
    std::hint::black_box(hardmatch_emulator::fuzzing::filter_text(
        text, eventual, beta,
    ));
});
