//! LDIF (RFC 2849) for loading generated users into the Samba lab with `ldapadd`.
//!
//! Only attributes a client may write are emitted: objectGUID, objectSid and whenChanged
//! are the server's, so the lab assigns its own. Values that are not plain ASCII, or that
//! start with a character LDIF reserves, are written as `attr:: base64`; binary GUIDs
//! always are.

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// userAccountControl NORMAL_ACCOUNT | PASSWD_NOTREQD: an enabled account without a
/// password, which AD accepts at creation without a password policy check. Passwords
/// would cost a hash per user and nothing here signs in.
pub const ENABLED_ACCOUNT_CONTROL: u32 = 0x220;
/// The same with ACCOUNTDISABLE.
pub const DISABLED_ACCOUNT_CONTROL: u32 = 0x222;

/// Writes `name: value`, or `name:: base64` when the value is not a SAFE-STRING.
pub fn write_text(out: &mut impl Write, name: &str, value: &str) -> io::Result<()> {
    if is_safe_string(value) {
        writeln!(out, "{name}: {value}")
    } else {
        writeln!(out, "{name}:: {}", BASE64.encode(value.as_bytes()))
    }
}

/// Writes a binary value, always Base64.
pub fn write_binary(out: &mut impl Write, name: &str, value: &[u8]) -> io::Result<()> {
    writeln!(out, "{name}:: {}", BASE64.encode(value))
}

/// RFC 2849 SAFE-STRING, restricted to printable ASCII: no leading space, colon or `<`,
/// and no trailing space (which some readers strip).
pub fn is_safe_string(value: &str) -> bool {
    let bytes = value.as_bytes();
    let Some((&first, _)) = bytes.split_first() else {
        return true;
    };
    !matches!(first, b' ' | b':' | b'<')
        && bytes.last() != Some(&b' ')
        && bytes.iter().all(|&byte| (0x20..0x7f).contains(&byte))
}

/// An organizational unit entry.
pub fn write_organizational_unit(
    out: &mut impl Write,
    distinguished_name: &str,
    name: &str,
) -> io::Result<()> {
    write_text(out, "dn", distinguished_name)?;
    writeln!(out, "objectClass: organizationalUnit")?;
    write_text(out, "ou", name)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_and_reserved_starts_are_base64() {
        let mut out = Vec::new();
        write_text(&mut out, "sn", "Müller").unwrap();
        write_text(&mut out, "sn", ":colon").unwrap();
        write_text(&mut out, "sn", "Smith").unwrap();
        write_binary(&mut out, "mS-DS-ConsistencyGuid", &[0xe6, 0x0c]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "sn:: TcO8bGxlcg==\nsn:: OmNvbG9u\nsn: Smith\nmS-DS-ConsistencyGuid:: 5gw=\n"
        );
    }
}
