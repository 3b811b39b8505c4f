//! AD users from files admins export on Windows: `Get-ADUser | Export-Csv`, csvde CSV, and
//! ldifde/ldapsearch LDIF.
//!
//! Many admins cannot reach a DC from where hardmatch runs, so an export has to give the
//! same snapshot as a live read. Every row or record becomes a [`DirectoryEntry`] of raw
//! bytes and goes through the same conversion as live LDAP entries.
//!
//! CSV shapes understood (columns matched case-insensitively):
//! - `DistinguishedName` or `DN`; `ObjectGUID`/`objectGUID`; `mS-DS-ConsistencyGuid`;
//!   `UserPrincipalName`, `mail` (else `EmailAddress`), `proxyAddresses`, `SamAccountName`,
//!   `DisplayName`, `userAccountControl` (else `Enabled`), `SID` or `objectSid`,
//!   `ObjectClass`. Other columns are left alone.
//! - GUID values as a GUID string (what Export-Csv writes for ObjectGUID), csvde's
//!   `X'hex'`, Base64, or decimal bytes separated by spaces (`-join ' '`). PowerShell writes
//!   a byte-array attribute such as mS-DS-ConsistencyGuid as `System.Byte[]`, and a
//!   multi-valued one such as proxyAddresses as
//!   `Microsoft.ActiveDirectory.Management.ADPropertyValueCollection`; both are errors whose
//!   hint shows the calculated property to export instead.
//! - Multi-valued proxyAddresses joined with `;` (csvde's separator, and `-join ';'`).
//! - Comma-separated, or semicolon-separated when the header has no comma
//!   (`Export-Csv -UseCulture` in much of Europe).
//! - An optional `#TYPE …` first line; UTF-8 (with or without BOM), UTF-16LE/BE with BOM
//!   (Windows PowerShell 5.1 `-Encoding Unicode`), UTF-16LE without BOM.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hardmatch_core::ad::{AD_SNAPSHOT_FORMAT_VERSION, AdSnapshot, AdSnapshotSource, AdUser};
use hardmatch_core::anchor::ObjectGuid;

use crate::entry::{DirectoryEntry, user_from_entry};
use crate::error::AdError;
use crate::ldap::{now_rfc3339, sort_users};
use crate::reporter::{AdWarning, Reporter};
use crate::settings::AnchorChoice;

/// The kinds of export file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Export-Csv or csvde.
    Csv,
    /// ldifde or ldapsearch.
    Ldif,
}

impl ExportFormat {
    /// By file extension: `.csv`, `.ldif`/`.ldf`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Self::Csv),
            "ldif" | "ldf" => Some(Self::Ldif),
            _ => None,
        }
    }
}

/// Reads an export file into a snapshot; the format comes from the file extension.
pub fn read_export(
    path: &Path,
    anchor: &AnchorChoice,
    reporter: &dyn Reporter,
) -> Result<AdSnapshot, AdError> {
    let format = ExportFormat::from_path(path).ok_or_else(|| AdError::UnknownExportFormat {
        path: path.to_owned(),
    })?;
    let bytes = std::fs::read(path).map_err(|source| AdError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_export_bytes(&bytes, path, format, anchor, reporter)
}

/// Reads export content already in memory; `path` names it in messages.
pub fn read_export_bytes(
    bytes: &[u8],
    path: &Path,
    format: ExportFormat,
    anchor: &AnchorChoice,
    reporter: &dyn Reporter,
) -> Result<AdSnapshot, AdError> {
    let text = decode_text(bytes, path)?;
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
        return Err(AdError::EmptyExport {
            path: path.to_owned(),
        });
    }
    let (entries, kind) = match format {
        ExportFormat::Csv => (csv_entries(&text, path)?, csv_kind(&text)),
        ExportFormat::Ldif => (ldif_entries(&text, path)?, "ldif"),
    };
    let mut users: Vec<AdUser> = Vec::with_capacity(entries.len());
    for entry in entries {
        if !entry.looks_like_user() {
            let warning = AdWarning::SkippedNonUser {
                distinguished_name: entry.distinguished_name.clone(),
            };
            reporter.warning(&warning);
            continue;
        }
        let (user, warnings) = user_from_entry(&entry, anchor)?;
        for warning in &warnings {
            tracing::debug!("{warning}");
            reporter.warning(warning);
        }
        users.push(user);
    }
    sort_users(&mut users);
    Ok(AdSnapshot {
        format_version: AD_SNAPSHOT_FORMAT_VERSION,
        source: AdSnapshotSource {
            kind: kind.to_owned(),
            locations: vec![path.display().to_string()],
        },
        taken_at: now_rfc3339(),
        users,
    })
}

/// Decodes by BOM (UTF-8, UTF-16LE, UTF-16BE), else UTF-16LE when every second byte of
/// the start is zero (a BOM-less Windows export), else strict UTF-8.
fn decode_text(bytes: &[u8], path: &Path) -> Result<String, AdError> {
    let (encoding, skip) = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, length)) => (encoding, length),
        None if looks_like_utf16le(bytes) => (encoding_rs::UTF_16LE, 0),
        None => (encoding_rs::UTF_8, 0),
    };
    let body = &bytes[skip..];
    if encoding == encoding_rs::UTF_8 {
        return std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|error| AdError::Encoding {
                path: path.to_owned(),
                encoding: "UTF-8",
                detail: format!("invalid byte at offset {}", skip + error.valid_up_to()),
            });
    }
    encoding
        .decode_without_bom_handling_and_without_replacement(body)
        .map(|text| text.into_owned())
        .ok_or_else(|| AdError::Encoding {
            path: path.to_owned(),
            encoding: encoding.name(),
            detail: "malformed UTF-16 (an odd number of bytes or a broken surrogate pair)"
                .to_owned(),
        })
}

fn looks_like_utf16le(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(64)];
    sample.len() >= 4
        && sample.chunks_exact(2).all(|pair| pair[1] == 0)
        && sample.chunks_exact(2).any(|pair| pair[0] != 0)
}

// --- CSV -----------------------------------------------------------------------------------

fn csv_kind(text: &str) -> &'static str {
    let first = text
        .lines()
        .find(|line| !line.starts_with("#TYPE"))
        .unwrap_or("");
    if first
        .split(',')
        .any(|name| name.trim_matches('"').eq_ignore_ascii_case("DN"))
    {
        "csvde"
    } else {
        "export-csv"
    }
}

/// Columns read, each with the names it may have, in order of preference.
const CSV_COLUMNS: [(&str, &[&str]); 9] = [
    ("objectGUID", &["ObjectGUID"]),
    ("mS-DS-ConsistencyGuid", &["mS-DS-ConsistencyGuid"]),
    ("userPrincipalName", &["UserPrincipalName"]),
    ("mail", &["mail", "EmailAddress"]),
    ("proxyAddresses", &["proxyAddresses"]),
    ("sAMAccountName", &["SamAccountName"]),
    ("displayName", &["DisplayName"]),
    ("objectSid", &["SID", "objectSid"]),
    ("objectClass", &["ObjectClass"]),
];

fn csv_entries(text: &str, path: &Path) -> Result<Vec<DirectoryEntry>, AdError> {
    // PowerShell's type line comes before the header (unless -NoTypeInformation).
    let (body, line_offset) = match text.strip_prefix("#TYPE") {
        Some(rest) => (rest.split_once('\n').map_or("", |(_, after)| after), 1),
        None => (text, 0),
    };
    // Export-Csv -UseCulture writes `;` where the list separator is `;` (much of Europe).
    let header_line = body.lines().next().unwrap_or("");
    let delimiter = if !header_line.contains(',') && header_line.contains(';') {
        b';'
    } else {
        b','
    };
    // A one-column header split by tabs or pipes is a spreadsheet's save, not an export:
    // naming the separator beats reporting every column as missing.
    if !header_line.contains([',', ';']) {
        let separator = if header_line.contains('\t') {
            Some("tabs")
        } else if header_line.contains('|') {
            Some("`|`")
        } else {
            None
        };
        if let Some(separator) = separator {
            return Err(AdError::Separator {
                path: path.to_owned(),
                separator,
            });
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(body.as_bytes());
    let csv_error = |error: csv::Error| {
        let line = error.position().map_or(0, csv::Position::line) + line_offset;
        let detail = match error.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!(
                "a row has {len} fields where the header has {expected_len} (a stray quote or comma?)"
            ),
            _ => error.to_string(),
        };
        AdError::Csv {
            path: path.to_owned(),
            line,
            detail,
        }
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    // Two columns of one name make every later lookup a guess about which one was meant.
    for (second, name) in headers.iter().enumerate() {
        let name = name.trim();
        if let Some(first) = headers
            .iter()
            .take(second)
            .position(|earlier| earlier.trim().eq_ignore_ascii_case(name))
        {
            return Err(AdError::DuplicateColumn {
                path: path.to_owned(),
                column: name.to_owned(),
                first: first + 1,
                second: second + 1,
            });
        }
    }
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            headers
                .iter()
                .position(|header| header.trim().eq_ignore_ascii_case(name))
        })
    };
    let missing = |column: &str| AdError::MissingColumn {
        path: path.to_owned(),
        column: column.to_owned(),
    };
    let dn_column =
        find(&["DistinguishedName", "DN"]).ok_or_else(|| missing("DistinguishedName"))?;
    find(&["ObjectGUID"]).ok_or_else(|| missing("ObjectGUID"))?;
    let columns: Vec<(&str, usize)> = CSV_COLUMNS
        .iter()
        .filter_map(|(attribute, names)| find(names).map(|index| (*attribute, index)))
        .collect();
    let account_control = find(&["userAccountControl"]);
    let enabled = find(&["Enabled"]);
    let mut entries = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, csv::Position::line) + line_offset;
        let field = |index: usize| record.get(index).unwrap_or("").trim();
        let distinguished_name = field(dn_column);
        if distinguished_name.is_empty() {
            continue;
        }
        let mut entry = DirectoryEntry::new(distinguished_name);
        let value_error = |column: &str, detail: String| AdError::ExportValue {
            path: path.to_owned(),
            line,
            column: column.to_owned(),
            detail,
        };
        for &(attribute, index) in &columns {
            let value = field(index);
            if value.is_empty() {
                continue;
            }
            let header = headers.get(index).unwrap_or(attribute);
            match attribute {
                "objectGUID" | "mS-DS-ConsistencyGuid" => {
                    let bytes = csv_guid(value).map_err(|detail| value_error(header, detail))?;
                    entry.push(attribute, bytes);
                }
                "proxyAddresses" | "objectClass" => {
                    if value.starts_with("Microsoft.ActiveDirectory.Management.") {
                        return Err(value_error(
                            header,
                            format!("holds the type name `{value}` instead of the values"),
                        ));
                    }
                    for item in value
                        .split([';', '\n'])
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                    {
                        entry.push(attribute, item.as_bytes().to_vec());
                    }
                }
                "objectSid" => {
                    let bytes = csv_sid(value).map_err(|detail| value_error(header, detail))?;
                    entry.push(attribute, bytes);
                }
                _ => entry.push(attribute, value.as_bytes().to_vec()),
            }
        }
        match (account_control.map(field), enabled.map(field)) {
            (Some(flags), _) if !flags.is_empty() => {
                entry.push("userAccountControl", flags.as_bytes().to_vec())
            }
            (_, Some(state)) if state.eq_ignore_ascii_case("false") => {
                entry.push("userAccountControl", b"514".to_vec());
            }
            _ => {}
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// A GUID cell: GUID string, csvde `X'hex'`, Base64 or space-separated decimal bytes.
fn csv_guid(value: &str) -> Result<Vec<u8>, String> {
    if value.starts_with("System.Byte") {
        return Err(format!(
            "holds the type name `{value}` instead of the bytes"
        ));
    }
    let bytes = if let Some(hex) = value
        .strip_prefix("X'")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        decode_hex(hex).ok_or_else(|| format!("`{value}` is not X'hex'"))?
    } else if value.contains('-') {
        ObjectGuid::parse_canonical(value)
            .map_err(|error| format!("`{value}`: {error}"))?
            .ad_bytes()
            .to_vec()
    } else if value.contains(' ') {
        value
            .split_whitespace()
            .map(str::parse::<u8>)
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| format!("`{value}` is not a list of byte values"))?
    } else {
        BASE64
            .decode(value)
            .map_err(|_| format!("`{value}` is neither a GUID, X'hex', Base64 nor byte values"))?
    };
    if bytes.len() != 16 {
        return Err(format!("`{value}` is {} bytes, a GUID has 16", bytes.len()));
    }
    Ok(bytes)
}

/// A SID cell: `S-1-5-…` text (Export-Csv) or csvde `X'hex'`, returned as binary.
fn csv_sid(value: &str) -> Result<Vec<u8>, String> {
    if let Some(hex) = value
        .strip_prefix("X'")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return decode_hex(hex).ok_or_else(|| format!("`{value}` is not X'hex'"));
    }
    let invalid = || format!("`{value}` is not a SID like S-1-5-21-…");
    let mut parts = value.strip_prefix("S-").ok_or_else(invalid)?.split('-');
    let revision: u8 = parts
        .next()
        .and_then(|part| part.parse().ok())
        .ok_or_else(invalid)?;
    let authority: u64 = parts
        .next()
        .and_then(|part| part.parse().ok())
        .ok_or_else(invalid)?;
    let sub_authorities = parts
        .map(|part| part.parse::<u32>().map_err(|_| invalid()))
        .collect::<Result<Vec<u32>, String>>()?;
    let count = u8::try_from(sub_authorities.len()).map_err(|_| invalid())?;
    let mut bytes = vec![revision, count];
    bytes.extend_from_slice(&authority.to_be_bytes()[2..]);
    for value in sub_authorities {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    Ok(bytes)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

// --- LDIF ----------------------------------------------------------------------------------

/// Parses LDIF content records (RFC 2849): `#` comments (folded too), one-space
/// continuation lines, `attr: value`, `attr:: base64`. Records without a DN (ldapsearch's
/// `search:`/`result:` trailer) are skipped; change records other than `add` are errors.
fn ldif_entries(text: &str, path: &Path) -> Result<Vec<DirectoryEntry>, AdError> {
    let error = |line: usize, detail: String| AdError::Ldif {
        path: path.to_owned(),
        line: line as u64,
        detail,
    };
    // Unfold into logical lines, remembering where each started.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let number = index + 1;
        if let Some(continuation) = line.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            match logical.last_mut() {
                Some((_, previous)) if !previous.is_empty() => previous.push_str(continuation),
                _ => {
                    return Err(error(
                        number,
                        "a continuation line (starting with a space) follows nothing".to_owned(),
                    ));
                }
            }
            continue;
        }
        in_comment = line.starts_with('#');
        if in_comment {
            continue;
        }
        logical.push((number, line.to_owned()));
    }
    let mut entries = Vec::new();
    let mut current: Option<DirectoryEntry> = None;
    let mut record_has_content = false;
    for (number, line) in logical {
        if line.is_empty() {
            if let Some(entry) = current.take() {
                entries.push(entry);
            }
            record_has_content = false;
            continue;
        }
        let (name, value) = ldif_value(&line).map_err(|detail| error(number, detail))?;
        if name.eq_ignore_ascii_case("version") && current.is_none() && !record_has_content {
            continue;
        }
        if name.eq_ignore_ascii_case("dn") {
            if current.is_some() {
                return Err(error(
                    number,
                    "a second `dn:` without a blank line before it".to_owned(),
                ));
            }
            let distinguished_name = String::from_utf8(value)
                .map_err(|_| error(number, "the DN is not UTF-8".to_owned()))?;
            current = Some(DirectoryEntry::new(distinguished_name));
            record_has_content = true;
            continue;
        }
        record_has_content = true;
        let Some(entry) = current.as_mut() else {
            // ldapsearch's trailer (`search: 2`, `result: 0 Success`) has no DN.
            continue;
        };
        if name.eq_ignore_ascii_case("changetype") {
            if value != b"add" {
                return Err(error(
                    number,
                    format!(
                        "`changetype: {}` is a change, not an export",
                        String::from_utf8_lossy(&value)
                    ),
                ));
            }
            continue;
        }
        entry.push(&name, value);
    }
    if let Some(entry) = current.take() {
        entries.push(entry);
    }
    Ok(entries)
}

fn ldif_value(line: &str) -> Result<(String, Vec<u8>), String> {
    let (name, rest) = line
        .split_once(':')
        .ok_or_else(|| format!("`{}` is not `attribute: value`", shorten(line)))?;
    if name.is_empty() || name.contains(' ') {
        return Err(format!("`{}` is not `attribute: value`", shorten(line)));
    }
    if let Some(encoded) = rest.strip_prefix(':') {
        let compact: String = encoded
            .chars()
            .filter(|character| !character.is_whitespace())
            .collect();
        let bytes = BASE64
            .decode(compact.as_bytes())
            .map_err(|_| format!("the value of `{name}::` is not valid Base64"))?;
        return Ok((name.to_owned(), bytes));
    }
    if rest.starts_with('<') {
        return Err(format!(
            "`{name}:<` refers to a file by URL; export the value inline"
        ));
    }
    Ok((
        name.to_owned(),
        rest.trim_start_matches(' ').as_bytes().to_vec(),
    ))
}

fn shorten(line: &str) -> String {
    line.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::NoReporter;

    fn read(bytes: &[u8], format: ExportFormat) -> Result<AdSnapshot, AdError> {
        read_export_bytes(
            bytes,
            Path::new("users.x"),
            format,
            &AnchorChoice::Auto,
            &NoReporter,
        )
    }

    const POWERSHELL_CSV: &str = "#TYPE Microsoft.ActiveDirectory.Management.ADUser\r\n\
\"DistinguishedName\",\"Enabled\",\"ObjectGUID\",\"mS-DS-ConsistencyGuid\",\"proxyAddresses\",\"SID\",\"UserPrincipalName\",\"GivenName\",\"Surname\"\r\n\
\"CN=Zoë Ångström,OU=Sales,DC=hardmatch,DC=test\",\"True\",\"9c5923e9-de52-33ea-88de-7ebc8633b9cc\",\"\",\"SMTP:zoe@contoso.com;smtp:z@contoso.com\",\"S-1-5-21-1-2-3-1105\",\"zoe@contoso.com\",\"Zoë\",\"Ångström\"\r\n\
\"CN=Debra \"\"Deb\"\" Berger,OU=Leavers,DC=hardmatch,DC=test\",\"False\",\"2d8b0ce6-aa32-4f31-a6e8-88343e6244a5\",\"e6 0c 8b 2d 32 aa 31 4f a6 e8 88 34 3e 62 44 a5\",\"\",\"S-1-5-21-1-2-3-1106\",\"debra@contoso.com\",\"Debra\",\"Berger\"\r\n";

    #[test]
    fn powershell_csv_with_type_line() {
        let snapshot = read(POWERSHELL_CSV.as_bytes(), ExportFormat::Csv);
        // The decimal-bytes ConsistencyGuid above is hex-looking on purpose: not decimal.
        let error = snapshot.unwrap_err();
        assert!(error.to_string().contains("line 3"), "{error}");
        let fixed = POWERSHELL_CSV.replace(
            "e6 0c 8b 2d 32 aa 31 4f a6 e8 88 34 3e 62 44 a5",
            "230 12 139 45 50 170 49 79 166 232 136 52 62 98 68 165",
        );
        let snapshot = read(fixed.as_bytes(), ExportFormat::Csv).unwrap();
        assert_eq!(snapshot.source.kind, "export-csv");
        let [debra, zoe] = snapshot.users.as_slice() else {
            panic!("two users expected: {:?}", snapshot.users)
        };
        assert_eq!(zoe.immutable_id.as_str(), "6SNZnFLe6jOI3n68hjO5zA==");
        assert_eq!(
            zoe.proxy_addresses,
            ["SMTP:zoe@contoso.com", "smtp:z@contoso.com"]
        );
        // Columns no rule reads (GivenName, Surname) are left alone; the DN keeps its
        // non-ASCII letters.
        assert_eq!(
            zoe.distinguished_name,
            "CN=Zoë Ångström,OU=Sales,DC=hardmatch,DC=test"
        );
        assert_eq!(zoe.object_sid.as_deref(), Some("S-1-5-21-1-2-3-1105"));
        assert!(zoe.enabled);
        assert_eq!(
            debra.distinguished_name,
            "CN=Debra \"Deb\" Berger,OU=Leavers,DC=hardmatch,DC=test"
        );
        assert!(!debra.enabled);
        assert_eq!(debra.immutable_id.as_str(), "5gyLLTKqMU+m6Ig0PmJEpQ==");
    }

    #[test]
    fn utf16_exports_from_windows_powershell_are_read() {
        let fixed = POWERSHELL_CSV.replace("e6 0c 8b 2d 32 aa 31 4f a6 e8 88 34 3e 62 44 a5", "");
        let utf8 = read(fixed.as_bytes(), ExportFormat::Csv).unwrap();
        let mut with_bom = vec![0xff, 0xfe];
        let mut without_bom = Vec::new();
        for unit in fixed.encode_utf16() {
            with_bom.extend_from_slice(&unit.to_le_bytes());
            without_bom.extend_from_slice(&unit.to_le_bytes());
        }
        for bytes in [with_bom, without_bom] {
            let utf16 = read(&bytes, ExportFormat::Csv).unwrap();
            assert_eq!(utf16.users, utf8.users);
        }
    }

    #[test]
    fn wrong_encoding_and_broken_quoting_are_named() {
        let latin1 =
            b"DistinguishedName,ObjectGUID\r\nCN=Jos\xe9,9c5923e9-de52-33ea-88de-7ebc8633b9cc\r\n";
        let error = read(latin1, ExportFormat::Csv).unwrap_err();
        assert!(matches!(error, AdError::Encoding { .. }), "{error}");
        assert!(error.hint().unwrap().contains("-Encoding UTF8"));
        let broken = "\"DistinguishedName\",\"ObjectGUID\"\r\n\"CN=a,DC=x\",\"9c5923e9-de52-33ea-88de-7ebc8633b9cc\",\"extra\r\n";
        let error = read(broken.as_bytes(), ExportFormat::Csv).unwrap_err();
        assert!(matches!(error, AdError::Csv { .. }), "{error}");
    }

    #[test]
    fn powershell_type_names_instead_of_values_get_a_hint() {
        let csv = "DistinguishedName,ObjectGUID,mS-DS-ConsistencyGuid,proxyAddresses\r\n\
CN=a,9c5923e9-de52-33ea-88de-7ebc8633b9cc,,Microsoft.ActiveDirectory.Management.ADPropertyValueCollection\r\n";
        let error = read(csv.as_bytes(), ExportFormat::Csv).unwrap_err();
        assert!(
            error.hint().unwrap().contains("-join ';'"),
            "{:?}",
            error.hint()
        );
        let csv = "DistinguishedName,ObjectGUID,mS-DS-ConsistencyGuid\r\nCN=a,9c5923e9-de52-33ea-88de-7ebc8633b9cc,System.Byte[]\r\n";
        let error = read(csv.as_bytes(), ExportFormat::Csv).unwrap_err();
        assert!(
            error.hint().unwrap().contains("[guid]"),
            "{:?}",
            error.hint()
        );
    }

    #[test]
    fn duplicate_columns_other_separators_and_empty_files_are_named() {
        let duplicate = "DistinguishedName,ObjectGUID,objectguid\r\nCN=a,9c5923e9-de52-33ea-88de-7ebc8633b9cc,x\r\n";
        let error = read(duplicate.as_bytes(), ExportFormat::Csv).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`users.x` has the column `objectguid` twice (columns 2 and 3)"
        );
        let tabs =
            "DistinguishedName\tObjectGUID\r\nCN=a\t9c5923e9-de52-33ea-88de-7ebc8633b9cc\r\n";
        let error = read(tabs.as_bytes(), ExportFormat::Csv).unwrap_err();
        assert!(
            matches!(
                error,
                AdError::Separator {
                    separator: "tabs",
                    ..
                }
            ),
            "{error}"
        );
        let pipes = "DistinguishedName|ObjectGUID\r\n";
        let error = read(pipes.as_bytes(), ExportFormat::Csv).unwrap_err();
        assert!(
            matches!(
                error,
                AdError::Separator {
                    separator: "`|`",
                    ..
                }
            ),
            "{error}"
        );
        for empty in [&b""[..], b"\xef\xbb\xbf\r\n", b"\xff\xfe"] {
            let error = read(empty, ExportFormat::Csv).unwrap_err();
            assert!(matches!(error, AdError::EmptyExport { .. }), "{error}");
            let error = read(empty, ExportFormat::Ldif).unwrap_err();
            assert!(matches!(error, AdError::EmptyExport { .. }), "{error}");
        }
    }

    #[test]
    fn semicolon_separated_exports_from_european_locales() {
        let csv = "\"DistinguishedName\";\"ObjectGUID\";\"proxyAddresses\"\r\n\
\"CN=Jos\u{e9},DC=hardmatch,DC=test\";\"9c5923e9-de52-33ea-88de-7ebc8633b9cc\";\"SMTP:j@contoso.com;smtp:k@contoso.com\"\r\n";
        let snapshot = read(csv.as_bytes(), ExportFormat::Csv).unwrap();
        assert_eq!(snapshot.users[0].proxy_addresses.len(), 2);
        assert_eq!(
            snapshot.users[0].distinguished_name,
            "CN=Jos\u{e9},DC=hardmatch,DC=test"
        );
    }

    #[test]
    fn csvde_hex_values() {
        let csv = "DN,objectClass,objectGUID,objectSid,proxyAddresses,userAccountControl\r\n\
\"CN=Adele,DC=hardmatch,DC=test\",top;person;organizationalPerson;user,X'e923599c52deea3388de7ebc8633b9cc',X'010500000000000515000000010000000200000003000000e9030000',SMTP:a@contoso.com;smtp:b@contoso.com,512\r\n\
\"CN=PC1,DC=hardmatch,DC=test\",top;person;organizationalPerson;user;computer,X'e923599c52deea3388de7ebc8633b9cd',,,4096\r\n";
        let snapshot = read(csv.as_bytes(), ExportFormat::Csv).unwrap();
        assert_eq!(snapshot.source.kind, "csvde");
        assert_eq!(snapshot.users.len(), 1);
        let user = &snapshot.users[0];
        assert_eq!(user.immutable_id.as_str(), "6SNZnFLe6jOI3n68hjO5zA==");
        assert_eq!(user.object_sid.as_deref(), Some("S-1-5-21-1-2-3-1001"));
        assert_eq!(user.proxy_addresses.len(), 2);
    }

    #[test]
    fn ldif_with_comments_folding_and_base64() {
        let ldif = "version: 1\n\
# extended LDIF\n\
#  folded comment\n\
\n\
dn:: Q049Wm/DqyDDhW5nc3Ryw7ZtLE9VPVNhbGVzLERDPWhhcmRtYXRjaCxEQz10ZXN0\n\
objectGUID:: 6SNZnFLe6jOI3n68hjO5zA==\n\
mS-DS-ConsistencyGuid: 0123456789abcdef\n\
proxyAddresses: SMTP:zoe.angstrom@conto\n so.com\n\
proxyAddresses: smtp:z@contoso.com\n\
userAccountControl: 512\n\
\n\
# refldaps://hardmatch.test/CN=Configuration,DC=hardmatch,DC=test\n\
\n\
# search result\n\
search: 2\n\
result: 0 Success\n";
        let snapshot = read(ldif.as_bytes(), ExportFormat::Ldif).unwrap();
        let [zoe] = snapshot.users.as_slice() else {
            panic!("one user expected: {:?}", snapshot.users)
        };
        assert_eq!(
            zoe.distinguished_name,
            "CN=Zoë Ångström,OU=Sales,DC=hardmatch,DC=test"
        );
        assert_eq!(zoe.proxy_addresses[0], "SMTP:zoe.angstrom@contoso.com");
        assert_eq!(zoe.immutable_id.as_str(), "MDEyMzQ1Njc4OWFiY2RlZg==");
    }

    #[test]
    fn ldif_errors_name_the_line() {
        let error = read(b"dn: CN=a\nobjectGUID:: not base64!\n", ExportFormat::Ldif).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`users.x` line 2: the value of `objectGUID::` is not valid Base64"
        );
        let error = read(b"dn: CN=a\nchangetype: modify\n", ExportFormat::Ldif).unwrap_err();
        assert!(error.to_string().contains("line 2"));
    }
}
