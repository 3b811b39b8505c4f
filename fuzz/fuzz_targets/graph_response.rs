//! Decoding Graph and sign-in answers: typed pages and objects, `$batch`, token responses,
//! and error classification with the message and hint the user sees, for any status,
//! content type, `Retry-After` and body.
//!
//! Input: the status (2 bytes, big-endian), a content-type byte, a `Retry-After` byte, then
//! the body. A plain prefix rather than `arbitrary` keeps each seed a real answer body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [high, low, content_type, retry_after, body @ ..] = data else {
        return;
    };
    let status = u16::from_be_bytes([*high, *low]);
    let content_type = match content_type % 4 {
        0 => None,
        1 => Some("application/json; odata.metadata=minimal"),
        2 => Some("text/html; charset=utf-8"),
        _ => Some("text/plain"),
    };
    // Seconds, fractional seconds (which Graph sends), an HTTP date, or the body's first line.
    let first_line = std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.lines().next());
    let retry_after = match retry_after % 5 {
        0 => None,
        1 => Some("5"),
        2 => Some("0.5"),
        3 => Some("Wed, 21 Oct 2015 07:28:00 GMT"),
        _ => first_line,
    };
    if let Some(text) = retry_after {
        let _ = hardmatch_graph::parse_retry_after(text);
    }
    let decoded = hardmatch_graph::fuzzing::response(status, content_type, retry_after, body);
    // Every error the user can see names the problem and the next step.
    assert!(!decoded.error.is_empty());
    assert!(!decoded.hint.is_empty(), "{decoded:?}");
});
