//! The AD export readers (Export-Csv, csvde, LDIF) on any bytes, under every anchor choice.
//! The bytes go in raw so that the encoding detection (BOMs, BOM-less UTF-16) is fuzzed too.
//!
//! Input: one flag byte (bit 0: LDIF instead of CSV; bits 1–2: the anchor choice), then the
//! file. A plain prefix rather than `arbitrary` keeps each seed a real export file.
#![no_main]

use std::path::Path;

use hardmatch_ad::{AnchorChoice, ExportFormat, NoReporter, read_export_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [flags, bytes @ ..] = data else {
        return;
    };
    let anchor = match (flags >> 1) & 3 {
        0 => AnchorChoice::Auto,
        1 => AnchorChoice::ObjectGuid,
        2 => AnchorChoice::ConsistencyGuid,
        _ => AnchorChoice::Attribute("employeeID".to_owned()),
    };
    let (format, path) = if flags & 1 == 1 {
        (ExportFormat::Ldif, Path::new("users.ldif"))
    } else {
        (ExportFormat::Csv, Path::new("users.csv"))
    };
    match read_export_bytes(bytes, path, format, &anchor, &NoReporter) {
        Ok(snapshot) => {
            // What the reader returns is what `snapshot ad` writes; it must serialise.
            assert!(serde_json::to_vec(&snapshot).is_ok());
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
