//! `hardmatch convert`: every form of an anchor, for the admin who has one and needs another.

use std::io::Read as _;

use anyhow::Context as _;
use hardmatch_core::anchor::{ACCEPTED_FORMS, ParsedAnchor, parse_anchor};
use serde::Serialize;

use crate::ExitStatus;
use crate::args::ConvertArgs;
use crate::error::Hinted;
use crate::printer::Printer;

/// Column headers that an export's pasted column may start with.
const HEADER_NAMES: &[&str] = &[
    "objectguid",
    "guid",
    "immutableid",
    "onpremisesimmutableid",
    "ms-ds-consistencyguid",
];

pub(crate) fn run(arguments: &ConvertArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut status = ExitStatus::Success;
    let mut first = true;
    for input in collect_inputs(&arguments.values)? {
        match parse_anchor(&input) {
            Ok(anchor) => {
                let rendered = Rendered::new(&input, &anchor);
                if arguments.json {
                    printer.data_line(&serde_json::to_string(&rendered)?)?;
                } else {
                    if !first {
                        printer.data_line("")?;
                    }
                    printer.data(&rendered.table())?;
                }
                first = false;
            }
            Err(error) => {
                status = ExitStatus::Failure;
                printer.item_error(
                    &format!("cannot read `{input}` as an anchor: {error}"),
                    &format!("accepted forms are {ACCEPTED_FORMS}"),
                );
            }
        }
    }
    Ok(status)
}

/// Expands `-` into the lines of stdin, dropping blanks, CSV quotes and a header line.
fn collect_inputs(values: &[String]) -> anyhow::Result<Vec<String>> {
    let mut inputs = Vec::new();
    for value in values {
        if value != "-" {
            inputs.push(value.clone());
            continue;
        }
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read values from stdin")?;
        let before = inputs.len();
        for line in stdin_text(&bytes)?.lines() {
            let value = line
                .trim()
                .trim_start_matches('\u{feff}')
                .trim_matches('"')
                .trim();
            let is_header = HEADER_NAMES
                .iter()
                .any(|name| value.eq_ignore_ascii_case(name));
            if !value.is_empty() && !is_header && !value.starts_with("#TYPE") {
                inputs.push(value.to_owned());
            }
        }
        // An empty pipe is a failed export upstream; succeeding silently would hide it.
        if inputs.len() == before {
            return Err(Hinted::new(
                "`-` was given but stdin held no values",
                "pipe one value per line, e.g. `hardmatch convert - < guids.csv`",
            )
            .into());
        }
    }
    Ok(inputs)
}

/// Stdin as text: UTF-8, or UTF-16 with a byte-order mark (what Windows PowerShell's `>`
/// writes), so that a column saved on Windows converts as it is.
fn stdin_text(bytes: &[u8]) -> anyhow::Result<String> {
    let utf16 = |big_endian: bool, body: &[u8]| {
        let units = body.chunks(2).map(|pair| match (pair, big_endian) {
            ([high, low], true) => Some(u16::from_be_bytes([*high, *low])),
            ([low, high], false) => Some(u16::from_le_bytes([*low, *high])),
            _ => None,
        });
        units
            .collect::<Option<Vec<u16>>>()
            .and_then(|units| String::from_utf16(&units).ok())
    };
    let decoded = match bytes {
        [0xff, 0xfe, body @ ..] => utf16(false, body).ok_or("UTF-16LE"),
        [0xfe, 0xff, body @ ..] => utf16(true, body).ok_or("UTF-16BE"),
        _ => String::from_utf8(bytes.to_vec()).map_err(|_| "UTF-8"),
    };
    decoded.map_err(|encoding| {
        Hinted::new(
            format!("stdin is not valid {encoding} text"),
            "save the values as UTF-8 (PowerShell: Set-Content -Encoding UTF8) or UTF-16 with a \
             byte-order mark, one per line",
        )
        .into()
    })
}

/// One converted value; the JSON keys are a stable interface.
#[derive(Serialize)]
struct Rendered<'input> {
    input: &'input str,
    kind: &'static str,
    guid: Option<String>,
    immutable_id: String,
    hex: Option<String>,
    ldap_filter: Option<String>,
    connector_space_dn: String,
}

impl<'input> Rendered<'input> {
    fn new(input: &'input str, anchor: &ParsedAnchor) -> Self {
        Self {
            input,
            kind: anchor.form.name(),
            guid: anchor.guid.map(|guid| guid.to_string()),
            immutable_id: anchor.immutable_id.to_string(),
            hex: anchor.guid.map(|guid| guid.ad_hex()),
            ldap_filter: anchor.guid.map(|guid| guid.ldap_filter_escape()),
            connector_space_dn: anchor.immutable_id.connector_space_dn(),
        }
    }

    fn table(&self) -> String {
        let not_a_guid = "(not a GUID: custom anchor)";
        let rows = [
            ("input", self.input),
            ("form", self.kind),
            ("GUID", self.guid.as_deref().unwrap_or(not_a_guid)),
            ("ImmutableID", &self.immutable_id),
            (
                "hex (AD byte order)",
                self.hex.as_deref().unwrap_or(not_a_guid),
            ),
            (
                "LDAP filter",
                self.ldap_filter.as_deref().unwrap_or(not_a_guid),
            ),
            ("connector-space DN", &self.connector_space_dn),
        ];
        rows.iter()
            .map(|(label, value)| format!("{label:<20} {value}\n"))
            .collect()
    }
}
