//! Issue #9's bad-input catalogue: one table row per bad input on every path into hardmatch
//! (anchor arguments and `convert -`, AD exports, AD and tenant snapshots, plan files, the
//! mapping CSV, `hardmatch.toml`, environment variables, flag combinations, LDAP faults and
//! Graph faults), each with the exact message and hint the user reads and the exit code.
//!
//! Every row also proves that nothing panicked and that no partial file was left: a command
//! that writes a file is run with `-o out.json` and the file must not exist afterwards (or,
//! where one existed before, must be unchanged), and the directory must hold no stray
//! temporary file.
//!
//! The faults are real: the emulator issues and checks real tokens, the HTML answers come from
//! a loopback HTTP server in this test, and the LDAP server that closes mid-page is a loopback
//! TCP relay in front of the Samba lab that cuts the connection after a number of bytes.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{EmulatorProcess, Lab, hardmatch};

/// A file a row starts with: fixed text or bytes, or bytes made from the good inputs.
#[derive(Clone, Copy)]
enum Content {
    Text(&'static str),
    Bytes(&'static [u8]),
    Made(fn(&Good) -> Vec<u8>),
}

/// What a row's command may write.
enum Output {
    /// Writes nothing.
    None,
    /// Would write this file, which does not exist before: it must not exist after.
    Fresh(&'static str),
    /// Would overwrite this file: its earlier content must survive.
    Existing(&'static str),
}

/// One bad input. `{…}` in arguments and in `stderr` stand for the scene's values
/// (`{emulator}`, `{proxy_403}`, `{lab_url}`, …).
struct Case {
    name: &'static str,
    arguments: &'static [&'static str],
    files: &'static [(&'static str, Content)],
    environment: &'static [(&'static str, &'static str)],
    stdin: &'static [u8],
    output: Output,
    stderr: &'static str,
    exit: i32,
}

impl Case {
    const fn new(name: &'static str, arguments: &'static [&'static str]) -> Self {
        Self {
            name,
            arguments,
            files: &[],
            environment: &[],
            stdin: b"",
            output: Output::None,
            stderr: "",
            exit: 1,
        }
    }
}

/// Good inputs that bad ones are made from.
struct Good {
    export_csv: Vec<u8>,
    export_ldif: Vec<u8>,
    ad_snapshot: Vec<u8>,
    tenant_snapshot: Vec<u8>,
    plan: Vec<u8>,
}

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|error| panic!("{}: {error}", full.display()))
}

impl Good {
    fn load() -> Self {
        let ad_snapshot = fixture("field-story/ad.json");
        let tenant_snapshot = fixture("field-story/tenant.json");
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("ad.json"), &ad_snapshot).unwrap();
        std::fs::write(directory.path().join("tenant.json"), &tenant_snapshot).unwrap();
        let output = hardmatch()
            .current_dir(directory.path())
            .args([
                "plan",
                "--ad-snapshot",
                "ad.json",
                "--tenant-snapshot",
                "tenant.json",
                "--all-safe",
                "-o",
                "plan.json",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        Self {
            export_csv: fixture("bad-inputs/users.csv"),
            export_ldif: fixture("bad-inputs/users.ldif"),
            ad_snapshot,
            tenant_snapshot,
            plan: std::fs::read(directory.path().join("plan.json")).unwrap(),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn json_with(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(bytes).unwrap();
    edit(&mut value);
    serde_json::to_vec_pretty(&value).unwrap()
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xfe];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

/// The first half of a file's lines: cut where a copy stopped, at the same place whatever
/// the length of the values in it (a plan's timestamps vary), so the error names a stable
/// line and column.
fn first_half(bytes: &[u8]) -> Vec<u8> {
    let lines = bytes.split_inclusive(|&byte| byte == b'\n').count();
    bytes
        .split_inclusive(|&byte| byte == b'\n')
        .take(lines / 2)
        .flatten()
        .copied()
        .collect()
}

const ZOE_GUID: &str = "9c5923e9-de52-33ea-88de-7ebc8633b9cc";
const SNAPSHOTS: [&str; 4] = [
    "--ad-snapshot",
    "ad.json",
    "--tenant-snapshot",
    "tenant.json",
];
const AD_SNAPSHOT_FILE: (&str, Content) =
    ("ad.json", Content::Made(|good| good.ad_snapshot.clone()));
const TENANT_SNAPSHOT_FILE: (&str, Content) = (
    "tenant.json",
    Content::Made(|good| good.tenant_snapshot.clone()),
);
const GOOD_SNAPSHOTS: &[(&str, Content)] = &[AD_SNAPSHOT_FILE, TENANT_SNAPSHOT_FILE];

/// Rows that need no server: files, arguments, configuration and environment.
fn offline_cases() -> Vec<Case> {
    vec![
        // --- Anchor and GUID arguments, and `convert -` ---
        Case {
            stderr: "error: cannot read `20e8847b-03bc-43c8-a93b-175bb48905` as an anchor: it looks like a GUID but is not `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hex digits\nhint: accepted forms are a GUID (20e8847b-03bc-43c8-a93b-175bb489058a, braces optional), an ImmutableID (e4ToILwDyEOpOxdbtIkFig==), 32 hex digits in AD byte order, an LDAP filter escape (\\7b\\84\\e8…), a connector-space DN (CN={…}), or a custom anchor's text\n",
            ..Case::new(
                "GUID two digits short",
                &["convert", "20e8847b-03bc-43c8-a93b-175bb48905"],
            )
        },
        Case {
            stderr: "error: cannot read `20e8847b-03bc-43c8-a93b-175bb489058a00` as an anchor: it looks like a GUID but is not `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hex digits\nhint: accepted forms are a GUID (20e8847b-03bc-43c8-a93b-175bb489058a, braces optional), an ImmutableID (e4ToILwDyEOpOxdbtIkFig==), 32 hex digits in AD byte order, an LDAP filter escape (\\7b\\84\\e8…), a connector-space DN (CN={…}), or a custom anchor's text\n",
            ..Case::new(
                "GUID two digits long",
                &["convert", "20e8847b-03bc-43c8-a93b-175bb489058a00"],
            )
        },
        Case {
            stderr: "error: stdin is not valid UTF-8 text\nhint: save the values as UTF-8 (PowerShell: Set-Content -Encoding UTF8) or UTF-16 with a byte-order mark, one per line\n",
            stdin: b"ObjectGUID\ncaf\xe9\n",
            ..Case::new("convert - with Latin-1 bytes on stdin", &["convert", "-"])
        },
        Case {
            stderr: "error: stdin is not valid UTF-16LE text\nhint: save the values as UTF-8 (PowerShell: Set-Content -Encoding UTF8) or UTF-16 with a byte-order mark, one per line\n",
            stdin: b"\xff\xfe2\x000\x00e",
            ..Case::new(
                "convert - with truncated UTF-16 on stdin",
                &["convert", "-"],
            )
        },
        Case {
            stderr: "error: `-` was given but stdin held no values\nhint: pipe one value per line, e.g. `hardmatch convert - < guids.csv`\n",
            ..Case::new("convert - with nothing on stdin", &["convert", "-"])
        },
        // --- AD exports ---
        Case {
            stderr: "error: `users.csv` is not a CSV file hardmatch can read: a row has 5 fields where the header has 8 (a stray quote or comma?) (line 2)\nhint: re-export with PowerShell's Export-Csv (it quotes every field) and do not edit the file in a spreadsheet that changes quoting\n",
            files: &[(
                "users.csv",
                Content::Made(|good| good.export_csv[..300].to_vec()),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "export cut off mid-row",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` is not valid UTF-16LE text: malformed UTF-16 (an odd number of bytes or a broken surrogate pair)\nhint: re-export with -Encoding UTF8 (or Unicode); Windows PowerShell 5.1 writes ASCII by default, which loses non-English names\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    let mut bytes = utf16le_with_bom(&text(&good.export_csv));
                    bytes.pop();
                    bytes
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "UTF-16 export cut off mid-character",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` is not valid UTF-8 text: invalid byte at offset 506\nhint: re-export with -Encoding UTF8 (or Unicode); Windows PowerShell 5.1 writes ASCII by default, which loses non-English names\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    // Appended in Latin-1 to a UTF-8 file, as a copy-paste between tools does.
                    let mut bytes = text(&good.export_csv)
                        .replace("Angstrom", "Ångström")
                        .into_bytes();
                    bytes.extend_from_slice(b"\"CN=Jos\xe9 M\xfcller,OU=Sales,DC=hardmatch,DC=test\",\"True\",\"2d8b0ce6-aa32-4f31-a6e8-88343e6244a6\",\"\",\"jose@contoso.com\",\"jose\",\"Jos\xe9\",\"M\xfcller\"\r\n");
                    bytes
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "mixed UTF-8 and Latin-1 export",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` is separated by tabs; hardmatch reads comma- or semicolon-separated CSV\nhint: export with commas (Export-Csv's default) or semicolons (Export-Csv -UseCulture); a spreadsheet's tab- or pipe-separated save is not read\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    text(&good.export_csv)
                        .replace("\",\"", "\"\t\"")
                        .into_bytes()
                }),
            )],
            output: Output::Existing("out.json"),
            ..Case::new(
                "tab-separated export",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` is separated by `|`; hardmatch reads comma- or semicolon-separated CSV\nhint: export with commas (Export-Csv's default) or semicolons (Export-Csv -UseCulture); a spreadsheet's tab- or pipe-separated save is not read\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    text(&good.export_csv)
                        .replace("\",\"", "\"|\"")
                        .into_bytes()
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "pipe-separated export",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` has the column `ObjectGUID` twice (columns 3 and 8)\nhint: keep one `ObjectGUID` column: hardmatch cannot tell which of the two holds the value (a hand-merged file, or a Select-Object naming the property twice?)\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    text(&good.export_csv)
                        .replace("\"Surname\"", "\"ObjectGUID\"")
                        .into_bytes()
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "export with a duplicate header",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` line 2, column `ObjectGUID`: `9c5923e9-de52-33ea-88de-7ebc8633b9`: it looks like a GUID but is not `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hex digits\nhint: the value was cut or edited: an objectGUID is 32 hex digits, written by Export-Csv as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (csvde: X'…', 16 bytes); export again rather than editing the file\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    text(&good.export_csv)
                        .replace(ZOE_GUID, "9c5923e9-de52-33ea-88de-7ebc8633b9")
                        .into_bytes()
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "export with an objectGUID one byte short",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` line 2, column `ObjectGUID`: `6SNZnFLe6jOI3n68hjO5` is 15 bytes, a GUID has 16\nhint: the value was cut or edited: an objectGUID is 32 hex digits, written by Export-Csv as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (csvde: X'…', 16 bytes); export again rather than editing the file\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    text(&good.export_csv)
                        .replace(ZOE_GUID, "6SNZnFLe6jOI3n68hjO5")
                        .into_bytes()
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "export with a Base64 objectGUID of 15 bytes",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` has no `ObjectGUID` column\nhint: export with the column included, e.g. Get-ADUser -Filter * -Properties * | Export-Csv -NoTypeInformation -Encoding UTF8 users.csv (see docs for `ObjectGUID`)\n",
            files: &[(
                "users.csv",
                Content::Made(|good| {
                    text(&good.export_csv)
                        .replace("\"ObjectGUID\"", "\"Guid\"")
                        .into_bytes()
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "export without an ObjectGUID column",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` is empty\nhint: the export wrote nothing; run it again and check its output, e.g. Get-ADUser -Filter * -Properties * | Export-Csv -NoTypeInformation -Encoding UTF8 users.csv\n",
            files: &[("users.csv", Content::Bytes(b""))],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "empty export",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.txt`: cannot tell the export format from the file name; expected .csv or .ldif\nhint: rename the file to end in .csv (Export-Csv, csvde) or .ldif (ldifde, ldapsearch)\n",
            files: &[("users.txt", Content::Made(|good| good.export_csv.clone()))],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "export with an unknown extension",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.txt",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: cannot read `users.csv`: No such file or directory (os error 2)\nhint: check the path and its permissions\n",
            output: Output::Fresh("out.json"),
            ..Case::new(
                "export that does not exist",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.csv` line 1, column `objectGUID`: `X'e923599c52deea3388de7ebc8633b9zz'` is not X'hex'\nhint: the value was cut or edited: an objectGUID is 32 hex digits, written by Export-Csv as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (csvde: X'…', 16 bytes); export again rather than editing the file\n",
            files: &[(
                "users.csv",
                Content::Text(
                    "DN,objectClass,objectGUID\r\n\"CN=Adele,DC=hardmatch,DC=test\",top;person;organizationalPerson;user,X'e923599c52deea3388de7ebc8633b9zz'\r\n",
                ),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "csvde export with a bad hex objectGUID",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.ldif` line 8: the value of `objectGUID::` is not valid Base64\nhint: export with ldifde -f users.ldif or ldapsearch -LLL; hand edits must keep `attr: value` / `attr:: base64` lines and one-space continuation lines\n",
            files: &[(
                "users.ldif",
                Content::Made(|good| {
                    let ldif = text(&good.export_ldif);
                    let cut = ldif.find("6SNZnFLe6jOI3n68").unwrap() + 10;
                    ldif.as_bytes()[..cut].to_vec()
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "LDIF cut off inside a Base64 objectGUID",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.ldif",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.ldif` line 9: `userPrincipalName zoe@contoso.com` is not `attribute: value`\nhint: export with ldifde -f users.ldif or ldapsearch -LLL; hand edits must keep `attr: value` / `attr:: base64` lines and one-space continuation lines\n",
            files: &[(
                "users.ldif",
                Content::Made(|good| {
                    text(&good.export_ldif)
                        .replace(
                            "userPrincipalName: zoe@contoso.com",
                            "userPrincipalName zoe@contoso.com",
                        )
                        .into_bytes()
                }),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "LDIF line without a colon",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.ldif",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `users.ldif` is not valid UTF-16LE text: malformed UTF-16 (an odd number of bytes or a broken surrogate pair)\nhint: re-export with -Encoding UTF8 (or Unicode); Windows PowerShell 5.1 writes ASCII by default, which loses non-English names\n",
            files: &[(
                "users.ldif",
                Content::Made(|good| utf16le_with_bom(&text(&good.export_ldif))[..501].to_vec()),
            )],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "UTF-16 LDIF cut off mid-character",
                &[
                    "snapshot",
                    "ad",
                    "--ad-export",
                    "users.ldif",
                    "-o",
                    "out.json",
                ],
            )
        },
        // --- AD and tenant snapshots ---
        Case {
            stderr: "error: `ad.json` is not an AD snapshot: EOF while parsing a value at line 32 column 0\nhint: `hardmatch snapshot ad -o FILE` writes an AD snapshot; a hand-edited file may have lost its shape\n",
            files: &[
                (
                    "ad.json",
                    Content::Made(|good| first_half(&good.ad_snapshot)),
                ),
                (
                    "tenant.json",
                    Content::Made(|good| good.tenant_snapshot.clone()),
                ),
            ],
            ..Case::new(
                "truncated AD snapshot",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: `ad.json` is an AD snapshot of format 2, newer than this hardmatch reads (1)\nhint: use the hardmatch version that wrote it, or a newer one\n",
            files: &[
                (
                    "ad.json",
                    Content::Made(|good| {
                        json_with(&good.ad_snapshot, |value| {
                            value["format_version"] = 2.into()
                        })
                    }),
                ),
                (
                    "tenant.json",
                    Content::Made(|good| good.tenant_snapshot.clone()),
                ),
            ],
            ..Case::new(
                "AD snapshot from a newer hardmatch",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: `tenant.json` is a tenant snapshot, not an AD snapshot\nhint: pass it with --tenant-snapshot\n",
            files: &[(
                "tenant.json",
                Content::Made(|good| good.tenant_snapshot.clone()),
            )],
            ..Case::new(
                "tenant snapshot given as the AD snapshot",
                &[
                    "status",
                    "--ad-snapshot",
                    "tenant.json",
                    "--tenant-snapshot",
                    "tenant.json",
                ],
            )
        },
        Case {
            stderr: "error: `tenant.json` is not a tenant snapshot: EOF while parsing an object at line 45 column 0\nhint: `hardmatch snapshot tenant -o FILE` writes a tenant snapshot; a hand-edited file may have lost its shape\n",
            files: &[
                ("ad.json", Content::Made(|good| good.ad_snapshot.clone())),
                (
                    "tenant.json",
                    Content::Made(|good| first_half(&good.tenant_snapshot)),
                ),
            ],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "truncated tenant snapshot",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--all-safe",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `tenant.json` is a tenant snapshot of format 2, newer than this hardmatch reads (1)\nhint: use the hardmatch version that wrote it, or a newer one\n",
            files: &[
                ("ad.json", Content::Made(|good| good.ad_snapshot.clone())),
                (
                    "tenant.json",
                    Content::Made(|good| {
                        json_with(&good.tenant_snapshot, |value| {
                            value["format_version"] = 2.into()
                        })
                    }),
                ),
            ],
            output: Output::Existing("out.json"),
            ..Case::new(
                "tenant snapshot from a newer hardmatch",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--all-safe",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `ad.json` is an AD snapshot, not a tenant snapshot\nhint: pass it with --ad-snapshot\n",
            files: &[("ad.json", Content::Made(|good| good.ad_snapshot.clone()))],
            ..Case::new(
                "AD snapshot given as the tenant snapshot",
                &[
                    "status",
                    "--ad-snapshot",
                    "ad.json",
                    "--tenant-snapshot",
                    "ad.json",
                ],
            )
        },
        // --- Plan files ---
        Case {
            stderr: "error: `plan.json` cannot be used: the plan file has format version 2; this hardmatch reads up to 1: upgrade hardmatch\nhint: read it with the hardmatch version that wrote it (or a newer one), or make a new plan with this one and review that\n",
            files: &[(
                "plan.json",
                Content::Made(|good| {
                    json_with(&good.plan, |value| value["format_version"] = 2.into())
                }),
            )],
            ..Case::new("plan from a newer format_version", &["show", "plan.json"])
        },
        Case {
            stderr: "error: `plan.json` cannot be used: the plan's actions do not match its fingerprint (expected `xxh3-fields:<hash>`, found `xxh3-fields:<hash>`): it was edited after it was generated; make a new plan\nhint: make a new plan with `hardmatch plan`; a plan is reviewed as written and never edited\n",
            files: &[(
                "plan.json",
                Content::Made(|good| {
                    json_with(&good.plan, |value| {
                        value["actions"][0]["value"] = "adele.vance@fabrikam.com".into();
                    })
                }),
            )],
            ..Case::new(
                "plan edited by hand (fingerprint mismatch)",
                &["show", "plan.json"],
            )
        },
        Case {
            stderr: "error: `plan.json` cannot be used: the plan's actions do not match its fingerprint (expected `xxh3-fields:<hash>`, found `xxh3-fields:<hash>`): it was edited after it was generated; make a new plan\nhint: make a new plan with `hardmatch plan`; a plan is reviewed as written and never edited\n",
            files: &[(
                "plan.json",
                Content::Made(|good| {
                    json_with(&good.plan, |value| {
                        value["actions"]
                            .as_array_mut()
                            .unwrap()
                            .retain(|action| action["kind"] != "purge_deleted");
                    })
                }),
            )],
            ..Case::new(
                "plan with an action removed by hand",
                &["show", "--powershell", "plan.json"],
            )
        },
        Case {
            stderr: "error: the plan was made for tenant 8b3c1d2e-4f5a-4b6c-9d7e-0f1a2b3c4d5e, but `tenant.json` is a snapshot of tenant 0f0f0f0f-1111-4222-8333-444444444444\nhint: rehearse with a snapshot of the plan's tenant (`hardmatch snapshot tenant`), or make a new plan from this snapshot with `hardmatch plan`\n",
            files: &[
                ("plan.json", Content::Made(|good| good.plan.clone())),
                AD_SNAPSHOT_FILE,
                (
                    "tenant.json",
                    Content::Made(|good| {
                        json_with(&good.tenant_snapshot, |value| {
                            value["tenant"]["id"] = "0f0f0f0f-1111-4222-8333-444444444444".into()
                        })
                    }),
                ),
            ],
            ..Case::new(
                "snapshot of another tenant than the plan's",
                &[
                    "rehearse",
                    "plan.json",
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                ],
            )
        },
        Case {
            stderr: "error: `plan.json` cannot be used: the plan file is not valid JSON: EOF while parsing a value at line 216 column 0\nhint: make a new plan with `hardmatch plan`; a plan is reviewed as written and never edited\n",
            files: &[("plan.json", Content::Made(|good| first_half(&good.plan)))],
            ..Case::new("truncated plan", &["show", "plan.json"])
        },
        Case {
            stderr: "error: `plan.json` cannot be used: the plan file has no `format_version`\nhint: make a new plan with `hardmatch plan`; a plan is reviewed as written and never edited\n",
            files: &[(
                "plan.json",
                Content::Made(|good| {
                    json_with(&good.plan, |value| {
                        value.as_object_mut().unwrap().remove("format_version");
                    })
                }),
            )],
            ..Case::new("plan without format_version", &["show", "plan.json"])
        },
        Case {
            stderr: "error: `users.csv` cannot be used: the plan file is not valid JSON: expected value at line 1 column 1\nhint: make a new plan with `hardmatch plan`; a plan is reviewed as written and never edited\n",
            files: &[("users.csv", Content::Made(|good| good.export_csv.clone()))],
            ..Case::new("an export given as the plan", &["show", "users.csv"])
        },
        // --- Mapping CSV ---
        Case {
            stderr: "error: line 1 of `pairs.csv` is not the header `ad,cloud`: \"nestor.wilke,44444444-dddd-4ddd-8ddd-444444444444\"\nhint: start the file with the line `ad,cloud`, then one pair per line\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                (
                    "pairs.csv",
                    Content::Text("nestor.wilke,44444444-dddd-4ddd-8ddd-444444444444\n"),
                ),
            ],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "mapping without its header",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--mapping",
                    "pairs.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: line 2 of `pairs.csv` is not `ad,cloud`: nestor.wilke;44444444-dddd-4ddd-8ddd-444444444444\nhint: each line pairs an AD user (sAMAccountName, UPN or objectGUID) with a cloud UPN or object id\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                (
                    "pairs.csv",
                    Content::Text("ad,cloud\nnestor.wilke;44444444-dddd-4ddd-8ddd-444444444444\n"),
                ),
            ],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "mapping separated by semicolons",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--mapping",
                    "pairs.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: the mapping file `pairs.csv` has no pairs\nhint: write a header line `ad,cloud`, then one pair per line\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                ("pairs.csv", Content::Text("ad,cloud\n")),
            ],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "mapping with a header only",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--mapping",
                    "pairs.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: no plan was made: no AD user matches `nobody`\nhint: check the users named with --user or in --mapping against `hardmatch status`\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                (
                    "pairs.csv",
                    Content::Text("ad,cloud\nnobody,nobody@contoso.com\n"),
                ),
            ],
            output: Output::Existing("out.json"),
            ..Case::new(
                "mapping naming an unknown AD user",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--mapping",
                    "pairs.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: cannot read the mapping file `pairs.csv`: No such file or directory (os error 2)\nhint: check the path; the mapping is a UTF-8 CSV with the header `ad,cloud`\n",
            files: GOOD_SNAPSHOTS,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "mapping that does not exist",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--mapping",
                    "pairs.csv",
                    "-o",
                    "out.json",
                ],
            )
        },
        // --- hardmatch.toml and profiles ---
        Case {
            stderr: "error: `hardmatch.toml` is not a valid hardmatch configuration (line 1, column 18): unclosed table, expected `]`\nhint: see the README's `hardmatch.toml` section for the profile keys\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                ("hardmatch.toml", Content::Text("[profiles.contoso\n")),
            ],
            ..Case::new(
                "configuration that is not TOML",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: `hardmatch.toml` is not a valid hardmatch configuration (line 2, column 1): unknown field `client_secret`, expected one of `tenant_id`, `client_id`, `client_secret_env`, `certificate`, `certificate_password_env`, `cloud`, `authority_url`, `graph_url`, `graph_ca_cert`, `ldap_url`, `base_dn`, `bind_dn`, `bind_method`, `bind_password_env`, `bind_password_file`, `ca_cert`, `ldap_filter`, `anchor`, `workspace`, `policy`\nhint: see the README's `hardmatch.toml` section for the profile keys\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                (
                    "hardmatch.toml",
                    Content::Text("[profiles.contoso]\nclient_secret = \"s3cret\"\n"),
                ),
            ],
            ..Case::new(
                "a secret written into a profile",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: `hardmatch.toml` is not a valid hardmatch configuration (line 2, column 33): invalid value: integer `-5`, expected u32\nhint: see the README's `hardmatch.toml` section for the profile keys\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                (
                    "hardmatch.toml",
                    Content::Text("[profiles.contoso]\npolicy = { deletion_threshold = -5 }\n"),
                ),
            ],
            ..Case::new(
                "negative deletion threshold in a profile",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: `hardmatch.toml` has several profiles and none was chosen\nhint: pass --profile NAME, set HARDMATCH_PROFILE, or set default_profile in the file\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                (
                    "hardmatch.toml",
                    Content::Text("[profiles.contoso]\n[profiles.fabrikam]\n"),
                ),
            ],
            ..Case::new(
                "several profiles, none chosen",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: `hardmatch.toml` has no profile `northwind`\nhint: profiles in that file: contoso, fabrikam\n",
            files: &[
                AD_SNAPSHOT_FILE,
                TENANT_SNAPSHOT_FILE,
                (
                    "hardmatch.toml",
                    Content::Text("[profiles.contoso]\n[profiles.fabrikam]\n"),
                ),
            ],
            ..Case::new(
                "unknown profile",
                &[
                    "status",
                    "--profile",
                    "northwind",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: cannot read the configuration file `customer.toml`: No such file or directory (os error 2)\nhint: check the path given with --config or HARDMATCH_CONFIG (without either, hardmatch reads ./hardmatch.toml when it exists)\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "--config naming a missing file",
                &[
                    "status",
                    "--config",
                    "customer.toml",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        // --- Environment variables ---
        Case {
            stderr: "error: profile `contoso` was requested but there is no hardmatch.toml\nhint: pass --config FILE or set HARDMATCH_CONFIG\n",
            files: GOOD_SNAPSHOTS,
            environment: &[("HARDMATCH_PROFILE", "contoso")],
            ..Case::new(
                "HARDMATCH_PROFILE without a configuration file",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: cannot read the configuration file `customer.toml`: No such file or directory (os error 2)\nhint: check the path given with --config or HARDMATCH_CONFIG (without either, hardmatch reads ./hardmatch.toml when it exists)\n",
            files: GOOD_SNAPSHOTS,
            environment: &[("HARDMATCH_CONFIG", "customer.toml")],
            ..Case::new(
                "HARDMATCH_CONFIG naming a missing file",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: the environment variable `CONTOSO_SECRET` named for the client secret is not set\nhint: export CONTOSO_SECRET=… before running hardmatch\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "--client-secret-env naming an unset variable",
                &[
                    "status",
                    "--ad-snapshot",
                    "ad.json",
                    "--tenant-id",
                    "contoso.onmicrosoft.com",
                    "--client-id",
                    "0f1e2d3c-4b5a-4697-8877-665544332211",
                    "--client-secret-env",
                    "CONTOSO_SECRET",
                ],
            )
        },
        Case {
            stderr: "error: the environment variable `BIND_PASSWORD` named for the bind password is not set\nhint: export BIND_PASSWORD=… before running hardmatch, or use --bind-password-file\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "--bind-password-env naming an unset variable",
                &[
                    "status",
                    "--ldap-url",
                    "ldaps://127.0.0.1:1",
                    "--base-dn",
                    "DC=hardmatch,DC=test",
                    "--bind-dn",
                    "svc@hardmatch.test",
                    "--bind-password-env",
                    "BIND_PASSWORD",
                    "--tenant-snapshot",
                    "tenant.json",
                ],
            )
        },
        Case {
            stderr: "error: the bind password file `bind-password` is empty\nhint: put the password on the file's first line\n",
            files: &[TENANT_SNAPSHOT_FILE, ("bind-password", Content::Text(""))],
            ..Case::new(
                "empty bind password file",
                &[
                    "status",
                    "--ldap-url",
                    "ldaps://127.0.0.1:1",
                    "--base-dn",
                    "DC=hardmatch,DC=test",
                    "--bind-dn",
                    "svc@hardmatch.test",
                    "--bind-password-file",
                    "bind-password",
                    "--tenant-snapshot",
                    "tenant.json",
                ],
            )
        },
        Case {
            stderr: "error: cannot read the bind password file `bind-password`: No such file or directory (os error 2)\nhint: check the path and that this account may read it (keep it mode 0600), or use --bind-password-env VAR\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "missing bind password file",
                &[
                    "status",
                    "--ldap-url",
                    "ldaps://127.0.0.1:1",
                    "--base-dn",
                    "DC=hardmatch,DC=test",
                    "--bind-dn",
                    "svc@hardmatch.test",
                    "--bind-password-file",
                    "bind-password",
                    "--tenant-snapshot",
                    "tenant.json",
                ],
            )
        },
        // --- Flag combinations ---
        Case {
            stderr: "error: the following required arguments were not provided:\n  <--user <USER>|--mapping <FILE>|--all-safe>\n\nUsage: hardmatch plan --output <FILE> --ad-snapshot <FILE> --tenant-snapshot <FILE> <--user <USER>|--mapping <FILE>|--all-safe>\n\nFor more information, try '--help'.\n",
            files: GOOD_SNAPSHOTS,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "plan without a selection",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: the argument '--user <USER>' cannot be used with '--all-safe'\n\nUsage: hardmatch plan --output <FILE> --ad-snapshot <FILE> --tenant-snapshot <FILE> <--user <USER>|--mapping <FILE>|--all-safe>\n\nFor more information, try '--help'.\n",
            files: GOOD_SNAPSHOTS,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "--user with --all-safe",
                &[
                    "plan",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                    "--user",
                    "nestor.wilke",
                    "--all-safe",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: the argument '--ad-snapshot <FILE>' cannot be used with '--ldap-url <URL>'\n\nUsage: hardmatch status --ad-snapshot <FILE> --tenant-snapshot <FILE>\n\nFor more information, try '--help'.\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "--ad-snapshot with --ldap-url",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    "--ldap-url",
                    "ldaps://127.0.0.1:1",
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: no base DN was given for the LDAP search\nhint: pass --base-dn, e.g. --base-dn DC=corp,DC=contoso,DC=com (or an OU to narrow the scope)\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "--ldap-url without --base-dn",
                &[
                    "status",
                    "--ldap-url",
                    "ldaps://127.0.0.1:1",
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: 2 LDAP URLs but 1 base DNs\nhint: give one --base-dn per --ldap-url, in the same order\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "two --ldap-url, one --base-dn",
                &[
                    "status",
                    "--ldap-url",
                    "ldaps://127.0.0.1:1",
                    "--ldap-url",
                    "ldaps://127.0.0.1:2",
                    "--base-dn",
                    "DC=hardmatch,DC=test",
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: --bind-method ntlm needs an account\nhint: pass --bind-dn DOMAIN\\user (or user@domain) and the password\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "--bind-method ntlm without an account",
                &[
                    "status",
                    "--ldap-url",
                    "ldaps://127.0.0.1:1",
                    "--base-dn",
                    "DC=hardmatch,DC=test",
                    "--bind-method",
                    "ntlm",
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: no AD source was given\nhint: pass --ldap-url URL --base-dn DN for a live directory, --ad-snapshot FILE, or --ad-export FILE (a Get-ADUser | Export-Csv, csvde or LDIF export)\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new("no AD source", &["status", SNAPSHOTS[2], SNAPSHOTS[3]])
        },
        Case {
            stderr: "error: no tenant source was given\nhint: pass --tenant-snapshot FILE, or sign in with --client-secret-env VAR, --certificate FILE, --device-code or --azure-cli (AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH in the environment also work)\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new("no tenant source", &["status", SNAPSHOTS[0], SNAPSHOTS[1]])
        },
        Case {
            stderr: "error: `http://dc1.hardmatch.test` is not an LDAP URL: it must start with ldaps:// or ldap://\nhint: write it as ldaps://dc1.corp.contoso.com or ldap://dc1.corp.contoso.com:389\n",
            files: GOOD_SNAPSHOTS,
            ..Case::new(
                "an http:// URL as --ldap-url",
                &[
                    "status",
                    "--ldap-url",
                    "http://dc1.hardmatch.test",
                    "--base-dn",
                    "DC=hardmatch,DC=test",
                    SNAPSHOTS[2],
                    SNAPSHOTS[3],
                ],
            )
        },
        Case {
            stderr: "error: invalid settings: unknown cloud `mars`; expected `global`, `usgov` or `china`\nhint: correct the value named above: it comes from a flag (see the command's --help), a HARDMATCH_* or AZURE_* environment variable, or the profile in hardmatch.toml\n",
            files: GOOD_SNAPSHOTS,
            environment: &[("CONTOSO_SECRET", "not-a-real-secret")],
            ..Case::new(
                "unknown national cloud",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    "--tenant-id",
                    "contoso.onmicrosoft.com",
                    "--client-id",
                    "0f1e2d3c-4b5a-4697-8877-665544332211",
                    "--client-secret-env",
                    "CONTOSO_SECRET",
                    "--cloud",
                    "mars",
                ],
            )
        },
        Case {
            stderr: "error: cannot read the CA certificate `emulator-ca.pem`: No such file or directory (os error 2)\nhint: pass --graph-ca-cert with a readable PEM file (the emulator prints its path as `ca-cert PATH`)\n",
            files: GOOD_SNAPSHOTS,
            environment: &[("CONTOSO_SECRET", "not-a-real-secret")],
            ..Case::new(
                "--graph-ca-cert naming a missing file",
                &[
                    "status",
                    SNAPSHOTS[0],
                    SNAPSHOTS[1],
                    "--tenant-id",
                    "contoso.onmicrosoft.com",
                    "--client-id",
                    "0f1e2d3c-4b5a-4697-8877-665544332211",
                    "--client-secret-env",
                    "CONTOSO_SECRET",
                    "--graph-ca-cert",
                    "emulator-ca.pem",
                ],
            )
        },
        Case {
            stderr: "error: this command changes or checks the live tenant; a snapshot cannot be written to\nhint: pass the sign-in flags instead of --tenant-snapshot (--tenant-id, --client-id, --client-secret-env or --certificate, or --device-code)\n",
            files: &[
                ("plan.json", Content::Made(|good| good.plan.clone())),
                TENANT_SNAPSHOT_FILE,
            ],
            ..Case::new(
                "verify against a tenant snapshot",
                &["verify", "plan.json", "--tenant-snapshot", "tenant.json"],
            )
        },
    ]
}

/// The values `{name}` placeholders stand for in one scene.
type Placeholders = Vec<(&'static str, String)>;

fn substitute(text: &str, placeholders: &Placeholders) -> String {
    placeholders
        .iter()
        .fold(text.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

/// Puts the placeholders back, and hides what differs between runs: request and trace ids.
fn normalise(stderr: &str, placeholders: &Placeholders) -> String {
    // Longest first, so that a URL is never replaced inside a longer one.
    let mut ordered: Vec<&(&str, String)> = placeholders
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    ordered.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
    let mut text = ordered
        .into_iter()
        .fold(stderr.to_owned(), |text, (name, value)| {
            text.replace(value.as_str(), &format!("{{{name}}}"))
        });
    for label in [
        "client-request-id ",
        "request-id ",
        "Trace ID: ",
        "Correlation ID: ",
    ] {
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(position) = rest.find(label) {
            let start = position + label.len();
            out.push_str(&rest[..start]);
            let id: String = rest[start..]
                .chars()
                .take_while(|character| character.is_ascii_hexdigit() || *character == '-')
                .collect();
            out.push_str(if id.len() == 36 { "<id>" } else { &id });
            rest = &rest[start + id.len()..];
        }
        out.push_str(rest);
        text = out;
    }
    // Graph reads run concurrently: which request meets a fault first may differ.
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(position) = rest.find("/v1.0/") {
        out.push_str(&rest[..position]);
        out.push_str("/v1.0/…");
        let after = &rest[position + "/v1.0/".len()..];
        rest = after.trim_start_matches(|character: char| !character.is_whitespace());
    }
    out.push_str(rest);
    text = out;
    // Plan fingerprints follow the planner's output, which other changes may alter.
    for prefix in ["fnv1a64:", "xxh3:", "xxh3-fields:"] {
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(position) = rest.find(prefix) {
            out.push_str(&rest[..position]);
            out.push_str(prefix);
            out.push_str("<hash>");
            let after = &rest[position + prefix.len()..];
            rest = after.trim_start_matches(|character: char| character.is_ascii_hexdigit());
        }
        out.push_str(rest);
        text = out;
    }
    if let Some(position) = text.find("Timestamp: ") {
        let end = text[position..]
            .find('Z')
            .map_or(text.len(), |end| position + end + 1);
        text.replace_range(position..end, "Timestamp: <time>");
    }
    text
}

/// Runs every row and reports all mismatches at once, each with what was seen.
fn check(cases: &[Case], good: &Good, placeholders: &Placeholders) {
    let mut failures = Vec::new();
    for case in cases {
        let directory = tempfile::tempdir().unwrap();
        let mut expected_files: Vec<String> = Vec::new();
        for (name, content) in case.files {
            let bytes = match content {
                Content::Text(text) => text.as_bytes().to_vec(),
                Content::Bytes(bytes) => bytes.to_vec(),
                Content::Made(make) => make(good),
            };
            std::fs::write(directory.path().join(name), bytes).unwrap();
            expected_files.push((*name).to_owned());
        }
        let earlier = b"an earlier file that a failed run must leave alone\n";
        if let Output::Existing(name) = case.output {
            std::fs::write(directory.path().join(name), earlier).unwrap();
            expected_files.push(name.to_owned());
        }
        let arguments: Vec<String> = case
            .arguments
            .iter()
            .map(|argument| substitute(argument, placeholders))
            .collect();
        let mut command = hardmatch();
        command
            .current_dir(directory.path())
            .env_remove("HARDMATCH_CONFIG")
            .env_remove("HARDMATCH_PROFILE")
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
            .env_remove("HARDMATCH_CERTIFICATE")
            .args(&arguments)
            .write_stdin(case.stdin);
        for (name, value) in case.environment {
            command.env(name, substitute(value, placeholders));
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let seen = normalise(&stderr, placeholders);
        let mut problems = Vec::new();
        if stderr.contains("panicked") || output.status.code() == Some(101) {
            problems.push("panicked".to_owned());
        }
        if output.status.code() != Some(case.exit) {
            problems.push(format!(
                "exit {:?}, expected {}",
                output.status.code(),
                case.exit
            ));
        }
        if seen != substitute(case.stderr, &Vec::new()) {
            problems.push("stderr differs".to_owned());
        }
        match case.output {
            Output::None => {}
            Output::Fresh(name) => {
                if directory.path().join(name).exists() {
                    problems.push(format!("`{name}` was written"));
                }
            }
            Output::Existing(name) => {
                if std::fs::read(directory.path().join(name)).unwrap() != earlier {
                    problems.push(format!("`{name}` was changed"));
                }
            }
        }
        let mut left: Vec<String> = std::fs::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        expected_files.sort();
        if left != expected_files {
            problems.push(format!(
                "the directory holds {left:?}, expected {expected_files:?}"
            ));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n  arguments: {arguments:?}\n  stdout: {:?}\n  stderr: {seen:?}",
                case.name,
                problems.join("; "),
                String::from_utf8_lossy(&output.stdout),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn offline_bad_inputs_fail_with_their_message_and_hint_and_leave_no_file() {
    let good = Good::load();
    let cases = offline_cases();
    check(&cases, &good, &Vec::new());
}

#[test]
fn the_catalogue_covers_at_least_forty_inputs_on_every_path() {
    let total = offline_cases().len() + graph_cases().len() + ldap_cases().len();
    assert!(total >= 40, "{total} rows");
    let paths = [
        (
            offline_cases()
                .iter()
                .any(|case| case.arguments[0] == "convert"),
            "anchors",
        ),
        (
            offline_cases()
                .iter()
                .any(|case| case.name.contains("export")),
            "exports",
        ),
        (
            offline_cases()
                .iter()
                .any(|case| case.name.contains("plan")),
            "plans",
        ),
        (
            offline_cases()
                .iter()
                .any(|case| case.name.contains("mapping")),
            "mapping",
        ),
        (
            offline_cases()
                .iter()
                .any(|case| !case.environment.is_empty()),
            "environment",
        ),
        (!graph_cases().is_empty(), "Graph"),
        (!ldap_cases().is_empty(), "LDAP"),
    ];
    for (covered, path) in paths {
        assert!(covered, "no row for {path}");
    }
}

// --- Graph faults -------------------------------------------------------------------------

const TENANT_ID: &str = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f";
const CLIENT_ID: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";
const READER_ID: &str = "11111111-2222-4333-8444-555555555555";
const NOBODY_ID: &str = "66666666-2222-4333-8444-555555555555";

/// The field-story tenant with two more apps: one lacking the role-reading permission, one
/// with no permission at all; `settings` merged in.
fn emulator_fixture(directory: &Path, name: &str, settings: Value) -> String {
    let mut fixture: Value =
        serde_json::from_slice(&fixture("field-story-lab/tenant.json")).unwrap();
    let apps = fixture["apps"].as_array_mut().unwrap();
    apps.push(serde_json::json!({
        "client_id": READER_ID,
        "display_name": "reader without role permissions",
        "client_secret": "reader-secret",
        "application_permissions": ["User.Read.All", "Organization.Read.All", "Domain.Read.All"]
    }));
    apps.push(serde_json::json!({
        "client_id": NOBODY_ID,
        "display_name": "app without permissions",
        "client_secret": "nobody-secret",
        "application_permissions": []
    }));
    fixture["settings"] = settings;
    let path = directory.join(name);
    std::fs::write(&path, serde_json::to_vec(&fixture).unwrap()).unwrap();
    path.display().to_string()
}

/// A loopback HTTP server answering every request with an HTML page and `status`, as a
/// corporate proxy's error or block page does. Runs until the test process ends.
fn html_server(status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_html(stream, status));
        }
    });
    url
}

fn answer_html(mut stream: TcpStream, status: u16) {
    // Keep-alive connections carry several requests: answer each until the client closes.
    let mut pending = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let Some(head_end) = pending.windows(4).position(|window| window == b"\r\n\r\n") else {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(count) => {
                    pending.extend_from_slice(&buffer[..count]);
                    continue;
                }
            }
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().unwrap_or(0));
        while pending.len() < head_end + 4 + length {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(count) => pending.extend_from_slice(&buffer[..count]),
            }
        }
        pending.drain(..head_end + 4 + length);
        let body = format!(
            "<!DOCTYPE html><html><head><title>{status} Proxy</title></head><body><h1>Access through the proxy was refused</h1></body></html>"
        );
        let response = format!(
            "HTTP/1.1 {status} Proxy\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn graph_cases() -> Vec<Case> {
    const SIGN_IN: [&str; 4] = ["--tenant-id", TENANT_ID, "--client-id", CLIENT_ID];
    vec![
        Case {
            stderr: "error: authentication failed: invalid_client (AADSTS7000215): AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '0f1e2d3c-4b5a-4697-8877-665544332211'.\nhint: the client secret is wrong: use the secret's value, not its id\n",
            environment: &[("TENANT_SECRET", "not-the-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "wrong client secret",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    SIGN_IN[2],
                    SIGN_IN[3],
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{emulator}",
                    "--graph-url",
                    "{emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: authentication failed: invalid_client (AADSTS7000215): AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '0f1e2d3c-4b5a-4697-8877-665544332211'.\nhint: the client secret is wrong: use the secret's value, not its id\n",
            // Rotating a secret revokes the old value: sign-in refuses it like any wrong one.
            environment: &[("TENANT_SECRET", "field-story-lab-secret-2025")],
            output: Output::Existing("out.json"),
            ..Case::new(
                "revoked (rotated) client secret",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    SIGN_IN[2],
                    SIGN_IN[3],
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{emulator}",
                    "--graph-url",
                    "{emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: authentication failed: unauthorized_client (AADSTS700016): AADSTS700016: Application with identifier '0f1e2d3c-4b5a-4697-8877-000000000000' was not found in the directory '5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.\nhint: no app with this client id in this tenant: check --client-id and --tenant-id\n",
            environment: &[("TENANT_SECRET", "field-story-lab-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "unknown client id",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    "--client-id",
                    "0f1e2d3c-4b5a-4697-8877-000000000000",
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{emulator}",
                    "--graph-url",
                    "{emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: authentication failed: invalid_request (AADSTS90002): AADSTS90002: Tenant '00000000-9a1b-4c2d-8e3f-4a5b6c7d8e9f' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.\nhint: the tenant was not found: check --tenant-id\n",
            environment: &[("TENANT_SECRET", "field-story-lab-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "unknown tenant",
                &[
                    "snapshot",
                    "tenant",
                    "--tenant-id",
                    "00000000-9a1b-4c2d-8e3f-4a5b6c7d8e9f",
                    SIGN_IN[2],
                    SIGN_IN[3],
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{emulator}",
                    "--graph-url",
                    "{emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: authentication failed: InvalidAuthenticationToken: Lifetime validation failed, the token is expired.\nhint: the token was refused: sign in again (for --azure-cli run `az login`)\n",
            environment: &[("TENANT_SECRET", "field-story-lab-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "expired access token",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    SIGN_IN[2],
                    SIGN_IN[3],
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{expiring_emulator}",
                    "--graph-url",
                    "{expiring_emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: permission denied to read role assignments: needs RoleManagement.Read.Directory (request-id <id>, client-request-id <id>)\nhint: grant the app registration the `RoleManagement.Read.Directory` permission with admin consent\n",
            environment: &[("TENANT_SECRET", "reader-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "403 for an app without RoleManagement.Read.Directory",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    "--client-id",
                    READER_ID,
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{emulator}",
                    "--graph-url",
                    "{emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: permission denied to read users: needs User.Read.All (request-id <id>, client-request-id <id>)\nhint: grant the app registration the `User.Read.All` permission with admin consent\n",
            files: &[("ad.json", Content::Made(|good| good.ad_snapshot.clone()))],
            environment: &[("TENANT_SECRET", "nobody-secret")],
            ..Case::new(
                "403 for an app without User.Read.All",
                &[
                    "status",
                    "--ad-snapshot",
                    "ad.json",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    "--client-id",
                    NOBODY_ID,
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{emulator}",
                    "--graph-url",
                    "{emulator}",
                ],
            )
        },
        Case {
            stderr: "error: received HTML instead of JSON (HTTP 403) from {proxy_403}/v1.0/… likely from a proxy (client-request-id <id>)\nhint: a proxy or captive portal answered instead of Microsoft Graph: check HTTPS_PROXY and the proxy's allow list for the Graph and login hosts\n",
            environment: &[("TENANT_SECRET", "field-story-lab-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "Graph behind a proxy answering an HTML block page (403)",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    SIGN_IN[2],
                    SIGN_IN[3],
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{emulator}",
                    "--graph-url",
                    "{proxy_403}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: received HTML instead of JSON (HTTP 200) from {proxy_200}/5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f/oauth2/v2.0/token, likely from a proxy (client-request-id <id>)\nhint: a proxy or captive portal answered instead of Microsoft Graph: check HTTPS_PROXY and the proxy's allow list for the Graph and login hosts\n",
            environment: &[("TENANT_SECRET", "field-story-lab-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "sign-in behind a captive portal answering HTML (200)",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    SIGN_IN[2],
                    SIGN_IN[3],
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{proxy_200}",
                    "--graph-url",
                    "{emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "ERROR failed to verify TLS certificate: invalid peer certificate: UnknownIssuer\nerror: the TLS certificate of {tls_emulator}/5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f/oauth2/v2.0/token is not trusted: invalid peer certificate: UnknownIssuer\nhint: pass --graph-ca-cert FILE with the PEM certificate of the CA that issued the server's certificate (the emulator prints its own as `ca-cert PATH`; a TLS-inspecting proxy needs the proxy's CA)\n",
            environment: &[("TENANT_SECRET", "field-story-lab-secret")],
            output: Output::Fresh("out.json"),
            ..Case::new(
                "HTTPS emulator without its CA",
                &[
                    "snapshot",
                    "tenant",
                    SIGN_IN[0],
                    SIGN_IN[1],
                    SIGN_IN[2],
                    SIGN_IN[3],
                    "--client-secret-env",
                    "TENANT_SECRET",
                    "--authority-url",
                    "{tls_emulator}",
                    "--graph-url",
                    "{tls_emulator}",
                    "-o",
                    "out.json",
                ],
            )
        },
    ]
}

#[test]
fn graph_faults_fail_with_their_message_and_hint_and_leave_no_file() {
    let good = Good::load();
    let directory = tempfile::tempdir().unwrap();
    let fixture = emulator_fixture(directory.path(), "tenant.json", serde_json::json!({}));
    let emulator = EmulatorProcess::start(&["--fixture", &fixture]);
    // Tokens issued already expired: the first Graph call meets the expired-token 401.
    let expiring_fixture = emulator_fixture(
        directory.path(),
        "expiring.json",
        serde_json::json!({ "access_token_lifetime_seconds": 0 }),
    );
    let expiring = EmulatorProcess::start(&["--fixture", &expiring_fixture]);
    let tls = EmulatorProcess::start(&["--fixture", &fixture, "--tls"]);
    let placeholders: Placeholders = vec![
        ("expiring_emulator", expiring.url.clone()),
        ("tls_emulator", tls.url.clone()),
        ("emulator", emulator.url.clone()),
        ("proxy_403", html_server(403)),
        ("proxy_200", html_server(200)),
    ];
    check(&graph_cases(), &good, &placeholders);
}

// --- LDAP faults --------------------------------------------------------------------------

/// A loopback TCP relay to `target` that forwards everything the client sends but cuts the
/// connection once `limit` bytes have come back from the server: a DC or a middlebox that
/// drops the connection in the middle of a paged search. Returns `ldaps://127.0.0.1:PORT`.
fn cutting_relay(target: String, limit: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ldaps://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&target) else {
                return;
            };
            let (mut client_reader, mut server_writer) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_reader, &mut server_writer);
            });
            let (mut server_reader, mut client_writer) = (server, client);
            let mut sent = 0;
            let mut buffer = [0u8; 4096];
            while sent < limit {
                match server_reader.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(count) => {
                        let count = count.min(limit - sent);
                        if client_writer.write_all(&buffer[..count]).is_err() {
                            break;
                        }
                        sent += count;
                    }
                }
            }
            let _ = client_writer.shutdown(Shutdown::Both);
            let _ = server_reader.shutdown(Shutdown::Both);
        }
    });
    url
}

fn ldap_cases() -> Vec<Case> {
    const BIND: [&str; 6] = [
        "--base-dn",
        "{lab_base}",
        "--bind-dn",
        "{lab_bind}",
        "--bind-password-env",
        "LAB_PASSWORD",
    ];
    const PASSWORD: &[(&str, &str)] = &[("LAB_PASSWORD", "{lab_password}")];
    vec![
        Case {
            stderr: " WARN socket receive error: peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof\nerror: the connection to `{relay}` closed in the middle of the search\nhint: nothing was written; run the command again. If it keeps happening, a firewall, load balancer or the DC's MaxConnIdleTime may be cutting long reads: read a narrower --base-dn, or ask for the idle limit to be raised\n",
            environment: PASSWORD,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "LDAP server that closes mid-page",
                &[
                    "snapshot",
                    "ad",
                    "--ldap-url",
                    "{relay}",
                    BIND[0],
                    BIND[1],
                    BIND[2],
                    BIND[3],
                    BIND[4],
                    BIND[5],
                    "--ca-cert",
                    "{lab_ca}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: the certificate of `{lab_url}` is not trusted: invalid peer certificate: UnknownIssuer\nhint: pass --ca-cert FILE with the PEM certificate of the CA that issued the domain controller's certificate\n",
            environment: PASSWORD,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "LDAPS without the lab's CA",
                &[
                    "snapshot",
                    "ad",
                    "--ldap-url",
                    "{lab_url}",
                    BIND[0],
                    BIND[1],
                    BIND[2],
                    BIND[3],
                    BIND[4],
                    BIND[5],
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `{lab_url}` rejected the credentials of `{lab_bind}` (wrong password)\nhint: check the bind DN/UPN and password (a UPN looks like svc-hardmatch@corp.contoso.com; with --bind-method ntlm the name is CORP\\svc-hardmatch)\n",
            environment: &[("LAB_PASSWORD", "not-the-password")],
            output: Output::Existing("out.json"),
            ..Case::new(
                "wrong bind password",
                &[
                    "snapshot",
                    "ad",
                    "--ldap-url",
                    "{lab_url}",
                    BIND[0],
                    BIND[1],
                    BIND[2],
                    BIND[3],
                    BIND[4],
                    BIND[5],
                    "--ca-cert",
                    "{lab_ca}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: `{lab_url}`: search failed with LDAP result 32 (noSuchObject): acl_read: Error retrieving instanceType for base. at ../../source4/dsdb/samdb/ldb_modules/acl_read.c:967\nhint: check --base-dn: the server has no such entry\n",
            environment: PASSWORD,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "base DN that does not exist",
                &[
                    "snapshot",
                    "ad",
                    "--ldap-url",
                    "{lab_url}",
                    "--base-dn",
                    "OU=Nowhere,{lab_base}",
                    BIND[2],
                    BIND[3],
                    BIND[4],
                    BIND[5],
                    "--ca-cert",
                    "{lab_ca}",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: the search filter for `{lab_url}` is not valid LDAP filter syntax\nhint: check --ldap-filter (or the profile's ldap_filter): every part in parentheses, balanced, e.g. (&(objectCategory=person)(objectClass=user)(department=Sales))\n",
            environment: PASSWORD,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "unbalanced LDAP filter",
                &[
                    "snapshot",
                    "ad",
                    "--ldap-url",
                    "{lab_url}",
                    BIND[0],
                    BIND[1],
                    BIND[2],
                    BIND[3],
                    BIND[4],
                    BIND[5],
                    "--ca-cert",
                    "{lab_ca}",
                    "--ldap-filter",
                    "(&(objectClass=user)",
                    "-o",
                    "out.json",
                ],
            )
        },
        Case {
            stderr: "error: cannot use CA certificate file `ca.pem`: no PEM certificate in it\nhint: pass a readable PEM file containing `-----BEGIN CERTIFICATE-----` blocks\n",
            files: &[("ca.pem", Content::Text("not a certificate\n"))],
            environment: PASSWORD,
            output: Output::Fresh("out.json"),
            ..Case::new(
                "--ca-cert that holds no certificate",
                &[
                    "snapshot",
                    "ad",
                    "--ldap-url",
                    "{lab_url}",
                    BIND[0],
                    BIND[1],
                    BIND[2],
                    BIND[3],
                    BIND[4],
                    BIND[5],
                    "--ca-cert",
                    "ca.pem",
                    "-o",
                    "out.json",
                ],
            )
        },
    ]
}

#[test]
fn ldap_faults_fail_with_their_message_and_hint_and_leave_no_file() {
    let Some(lab) = Lab::from_environment() else {
        return;
    };
    let good = Good::load();
    let target = lab
        .ldaps_url
        .trim_start_matches("ldaps://")
        .trim_end_matches('/')
        .to_owned();
    // 64 KiB back from the server: past the TLS handshake and the bind, inside the first
    // page of the search (a page of the lab's users is several hundred KiB).
    let relay = cutting_relay(target, 64 * 1024);
    let placeholders: Placeholders = vec![
        ("relay", relay),
        ("lab_url", lab.ldaps_url.clone()),
        ("lab_base", lab.base_dn.clone()),
        ("lab_bind", lab.bind_dn.clone()),
        ("lab_password", lab.password.clone()),
        ("lab_ca", lab.ca_cert.clone()),
    ];
    check(&ldap_cases(), &good, &placeholders);
}
