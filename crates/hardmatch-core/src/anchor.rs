//! Source anchors: the on-premises key that Entra ID stores as `onPremisesImmutableId`.
//!
//! Getting the byte order wrong here silently links nobody, so the rules live in one
//! place. An objectGUID travels over LDAP in the MS-DTYP 2.3.4.2 "packet" order (the
//! first three fields little-endian), and the ImmutableID is standard Base64 of exactly
//! those bytes. Only the canonical string form is written big-endian.
//!
//! An ImmutableID is not always a GUID: custom anchors (employeeID and the like) are
//! kept as the text they are and compared byte for byte, never re-encoded.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 16-byte GUID held in Active Directory's wire order (MS-DTYP 2.3.4.2).
///
/// This is the order `objectGUID` and `mS-DS-ConsistencyGuid` arrive in over LDAP and the
/// order .NET's `Guid.ToByteArray()` produces, so Base64 of these bytes is the ImmutableID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectGuid([u8; 16]);

impl ObjectGuid {
    /// Wraps raw bytes exactly as an LDAP server returned them.
    pub const fn from_ad_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Wraps raw bytes from an LDAP attribute value, which must be exactly 16 bytes long.
    pub fn from_ad_slice(bytes: &[u8]) -> Result<Self, AnchorError> {
        let array: [u8; 16] = bytes.try_into().map_err(|_| AnchorError::WrongLength {
            length: bytes.len(),
        })?;
        Ok(Self(array))
    }

    /// The bytes in AD wire order, ready for an LDAP filter or a Base64 encoding.
    pub const fn ad_bytes(&self) -> [u8; 16] {
        self.0
    }

    /// Parses the canonical `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` form, braces optional.
    pub fn parse_canonical(text: &str) -> Result<Self, AnchorError> {
        let inner = text
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap_or(text);
        let groups: Vec<&str> = inner.split('-').collect();
        let well_formed = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(group, length)| group.len() == length);
        if !well_formed {
            return Err(AnchorError::MalformedGuid);
        }
        let big_endian = decode_hex(&groups.concat()).ok_or(AnchorError::MalformedGuid)?;
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&big_endian);
        Ok(Self::from_canonical_order(bytes))
    }

    /// Converts from the order the canonical string is written in (RFC 4122 big-endian).
    const fn from_canonical_order(big_endian: [u8; 16]) -> Self {
        Self(swap_first_three_fields(big_endian))
    }

    fn canonical_order(&self) -> [u8; 16] {
        swap_first_three_fields(self.0)
    }

    /// The ImmutableID Entra Connect derives from this GUID.
    pub fn immutable_id(&self) -> ImmutableId {
        ImmutableId(BASE64.encode(self.0).into())
    }

    /// 32 lowercase hex digits in AD byte order, as `ldp.exe` and hex dumps show it.
    pub fn ad_hex(&self) -> String {
        encode_hex_lower(&self.0)
    }

    /// The value as it appears in an LDAP search filter: `\e4\84…`.
    pub fn ldap_filter_escape(&self) -> String {
        let mut escaped = String::with_capacity(48);
        for byte in self.0 {
            escaped.push('\\');
            escaped.push_str(&encode_hex_lower(&[byte]));
        }
        escaped
    }
}

/// The canonical GUID string, lowercase, without braces.
impl fmt::Display for ObjectGuid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written into one stack buffer: a status or plan over a million users shows and
        // exports a GUID for each, and formatting each byte on its own was seconds of it.
        let mut text = [b'-'; 36];
        let mut at = 0;
        for (position, byte) in self.canonical_order().into_iter().enumerate() {
            if matches!(position, 4 | 6 | 8 | 10) {
                at += 1;
            }
            [text[at], text[at + 1]] = hex_digits(byte, LOWER_HEX);
            at += 2;
        }
        // Hex digits and hyphens only: always UTF-8.
        formatter.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ObjectGuid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ObjectGuid({self})")
    }
}

impl Serialize for ObjectGuid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectGuid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_canonical(&text).map_err(serde::de::Error::custom)
    }
}

/// An `onPremisesImmutableId` value: compared exactly and case-sensitively, as Entra ID does.
/// A GUID's is 24 characters of Base64, held inline without an allocation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImmutableId(CompactString);

impl ImmutableId {
    /// Takes a value as a tenant stores it. No decoding happens: a custom anchor stays text.
    pub fn from_text(text: impl Into<CompactString>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GUID behind this value, when it is standard Base64 of exactly 16 bytes.
    pub fn guid(&self) -> Option<ObjectGuid> {
        if self.0.len() != 24 {
            return None;
        }
        let bytes = BASE64.decode(&self.0).ok()?;
        ObjectGuid::from_ad_slice(&bytes).ok()
    }

    /// The Entra connector-space DN Entra Connect shows for this value: `CN={HEX}`, where
    /// HEX is the uppercase hex of the value's ASCII characters.
    pub fn connector_space_dn(&self) -> String {
        format!("CN={{{}}}", encode_hex_upper(self.0.as_bytes()))
    }

    /// Checks the characters Graph accepts in `onPremisesImmutableId`.
    pub fn validate_for_graph(&self) -> Result<(), AnchorError> {
        if self.0.is_empty() {
            return Err(AnchorError::Empty);
        }
        match self
            .0
            .chars()
            .find(|character| matches!(character, '$' | '_') || character.is_control())
        {
            Some(character) => Err(AnchorError::ForbiddenCharacter { character }),
            None => Ok(()),
        }
    }
}

impl fmt::Display for ImmutableId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for ImmutableId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ImmutableId({:?})", self.0)
    }
}

impl From<ObjectGuid> for ImmutableId {
    fn from(guid: ObjectGuid) -> Self {
        guid.immutable_id()
    }
}

/// The form an anchor was written in, as recognised by [`parse_anchor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorForm {
    /// `20e8847b-03bc-43c8-a93b-175bb489058a`, braces optional.
    Guid,
    /// Standard Base64 of 16 bytes: `e4ToILwDyEOpOxdbtIkFig==`.
    ImmutableId,
    /// 32 hex digits in AD byte order.
    Hex,
    /// An LDAP filter escape, `\7b\84…`, optionally inside `(objectGUID=…)`.
    LdapFilter,
    /// Entra Connect's connector-space DN, `CN={…}`.
    ConnectorSpaceDn,
    /// An ImmutableID that is not a GUID (a custom anchor such as employeeID).
    Custom,
}

impl AnchorForm {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Guid => "guid",
            Self::ImmutableId => "immutable_id",
            Self::Hex => "hex",
            Self::LdapFilter => "ldap_filter",
            Self::ConnectorSpaceDn => "connector_space_dn",
            Self::Custom => "custom",
        }
    }
}

/// An anchor read from user input, with every form it can be rendered in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedAnchor {
    pub form: AnchorForm,
    pub immutable_id: ImmutableId,
    /// Absent for custom anchors, which are not GUIDs.
    pub guid: Option<ObjectGuid>,
}

/// Why a value could not be read as an anchor. Messages name the problem; the caller
/// names the value and lists [`ACCEPTED_FORMS`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("the value is empty")]
    Empty,
    #[error(
        "it looks like a GUID but is not `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hex digits"
    )]
    MalformedGuid,
    #[error("a GUID has 16 bytes, this value has {length}")]
    WrongLength { length: usize },
    #[error("it looks like an ImmutableID but is not standard Base64 of 16 bytes")]
    MalformedImmutableId,
    #[error("an LDAP filter escape needs 16 `\\xx` pairs")]
    MalformedLdapFilter,
    #[error("a connector-space DN is `CN={{HEX}}` with the hex of an ImmutableID's characters")]
    MalformedConnectorSpaceDn,
    #[error("the character {character:?} is not allowed in an ImmutableID")]
    ForbiddenCharacter { character: char },
}

/// The forms [`parse_anchor`] accepts, for error hints.
pub const ACCEPTED_FORMS: &str = "a GUID (20e8847b-03bc-43c8-a93b-175bb489058a, braces optional), \
an ImmutableID (e4ToILwDyEOpOxdbtIkFig==), 32 hex digits in AD byte order, \
an LDAP filter escape (\\7b\\84\\e8…), a connector-space DN (CN={…}), \
or a custom anchor's text";

/// Reads an anchor in any form an admin is likely to paste.
///
/// Values that look like an attempt at a GUID form must be exactly right: a mistyped GUID
/// is an error, never silently taken for a custom anchor.
pub fn parse_anchor(input: &str) -> Result<ParsedAnchor, AnchorError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(AnchorError::Empty);
    }
    if let Some(rest) = strip_prefix_ignore_ascii_case(text, "CN=") {
        return parse_connector_space_dn(rest);
    }
    if text.starts_with('\\') || text.starts_with('(') {
        return parse_ldap_filter(text).map(|guid| from_guid(AnchorForm::LdapFilter, guid));
    }
    if text.starts_with('{') || looks_like_guid_attempt(text) {
        return ObjectGuid::parse_canonical(text).map(|guid| from_guid(AnchorForm::Guid, guid));
    }
    if text.len() == 32 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        let bytes = decode_hex(text).ok_or(AnchorError::MalformedGuid)?;
        return ObjectGuid::from_ad_slice(&bytes).map(|guid| from_guid(AnchorForm::Hex, guid));
    }
    let immutable_id = ImmutableId::from_text(text);
    if let Some(guid) = immutable_id.guid() {
        return Ok(from_guid(AnchorForm::ImmutableId, guid));
    }
    // Base64 of a value that is not 16 bytes is a binary custom anchor; Base64-looking
    // text that does not decode is a mistyped ImmutableID.
    if looks_like_immutable_id_attempt(text) && BASE64.decode(text).is_err() {
        return Err(AnchorError::MalformedImmutableId);
    }
    immutable_id.validate_for_graph()?;
    if let Some(character) = text.chars().find(|character| character.is_whitespace()) {
        return Err(AnchorError::ForbiddenCharacter { character });
    }
    Ok(ParsedAnchor {
        form: AnchorForm::Custom,
        immutable_id,
        guid: None,
    })
}

fn from_guid(form: AnchorForm, guid: ObjectGuid) -> ParsedAnchor {
    ParsedAnchor {
        form,
        immutable_id: guid.immutable_id(),
        guid: Some(guid),
    }
}

fn parse_connector_space_dn(rest: &str) -> Result<ParsedAnchor, AnchorError> {
    let hex = rest
        .strip_prefix('{')
        .and_then(|inner| inner.strip_suffix('}'))
        .ok_or(AnchorError::MalformedConnectorSpaceDn)?;
    let bytes = decode_hex(hex).ok_or(AnchorError::MalformedConnectorSpaceDn)?;
    let text = String::from_utf8(bytes).map_err(|_| AnchorError::MalformedConnectorSpaceDn)?;
    let immutable_id = ImmutableId::from_text(text);
    immutable_id
        .validate_for_graph()
        .map_err(|_| AnchorError::MalformedConnectorSpaceDn)?;
    Ok(ParsedAnchor {
        form: AnchorForm::ConnectorSpaceDn,
        guid: immutable_id.guid(),
        immutable_id,
    })
}

fn parse_ldap_filter(text: &str) -> Result<ObjectGuid, AnchorError> {
    let escapes = match text.strip_prefix('(') {
        Some(inner) => {
            let inner = inner
                .strip_suffix(')')
                .ok_or(AnchorError::MalformedLdapFilter)?;
            let (_attribute, value) = inner
                .split_once('=')
                .ok_or(AnchorError::MalformedLdapFilter)?;
            value
        }
        None => text,
    };
    let pairs: Vec<&str> = escapes.split('\\').skip(1).collect();
    if !escapes.starts_with('\\') || pairs.len() != 16 || pairs.iter().any(|pair| pair.len() != 2) {
        return Err(AnchorError::MalformedLdapFilter);
    }
    let bytes = decode_hex(&pairs.concat()).ok_or(AnchorError::MalformedLdapFilter)?;
    ObjectGuid::from_ad_slice(&bytes)
}

/// Hex digits and dashes, or five dash-separated groups: somebody typed a GUID.
fn looks_like_guid_attempt(text: &str) -> bool {
    let hex_and_dashes = text
        .bytes()
        .all(|byte| byte.is_ascii_hexdigit() || byte == b'-');
    text.contains('-') && (hex_and_dashes || text.split('-').count() == 5)
}

/// Base64 padding or symbols, or nearly the 24 characters of a GUID's ImmutableID (or the
/// 32 of its hex form): a custom anchor never needs those, a mistyped ImmutableID does.
fn looks_like_immutable_id_attempt(text: &str) -> bool {
    let base64_alphabet = text
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'='));
    let all_hex = text.bytes().all(|byte| byte.is_ascii_hexdigit());
    text.contains(['=', '+', '/'])
        || (base64_alphabet && (22..=24).contains(&text.len()))
        || (all_hex && (30..=34).contains(&text.len()))
}

fn strip_prefix_ignore_ascii_case<'text>(text: &'text str, prefix: &str) -> Option<&'text str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

const fn swap_first_three_fields(bytes: [u8; 16]) -> [u8; 16] {
    let mut swapped = bytes;
    swapped[0] = bytes[3];
    swapped[1] = bytes[2];
    swapped[2] = bytes[1];
    swapped[3] = bytes[0];
    swapped[4] = bytes[5];
    swapped[5] = bytes[4];
    swapped[6] = bytes[7];
    swapped[7] = bytes[6];
    swapped
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|start| u8::from_str_radix(&text[start..start + 2], 16).ok())
        .collect()
}

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A byte's two hex digits from `digits`.
fn hex_digits(byte: u8, digits: &[u8; 16]) -> [u8; 2] {
    [
        digits[usize::from(byte >> 4)],
        digits[usize::from(byte & 0x0f)],
    ]
}

fn encode_hex(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        for digit in hex_digits(byte, digits) {
            text.push(char::from(digit));
        }
    }
    text
}

fn encode_hex_lower(bytes: &[u8]) -> String {
    encode_hex(bytes, LOWER_HEX)
}

fn encode_hex_upper(bytes: &[u8]) -> String {
    encode_hex(bytes, UPPER_HEX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// entra-matching.md §2: GUID, raw bytes as AD returns them, ImmutableID, and the
    /// classic big-endian mistake, which must never come out.
    const VECTORS: &[(&str, &str, &str, &str)] = &[
        (
            "9c5923e9-de52-33ea-88de-7ebc8633b9cc",
            "e923599c52deea3388de7ebc8633b9cc",
            "6SNZnFLe6jOI3n68hjO5zA==",
            "nFkj6d5SM+qI3n68hjO5zA==",
        ),
        (
            "88666888-0101-1111-bbbb-1234567890ab",
            "8868668801011111bbbb1234567890ab",
            "iGhmiAEBERG7uxI0VniQqw==",
            "iGZoiAEBERG7uxI0VniQqw==",
        ),
        (
            "d749534e-9f86-44a7-b572-6be7b53b2ca9",
            "4e5349d7869fa744b5726be7b53b2ca9",
            "TlNJ14afp0S1cmvntTssqQ==",
            "10lTTp+GRKe1cmvntTssqQ==",
        ),
        (
            "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "aa00aa0011bb22ccdd3344ee44ee44ee",
            "qgCqABG7IszdM0TuRO5E7g==",
            "AKoAqrsRzCLdM0TuRO5E7g==",
        ),
        (
            "00112233-4455-6677-8899-aabbccddeeff",
            "33221100554477668899aabbccddeeff",
            "MyIRAFVEd2aImaq7zN3u/w==",
            "ABEiM0RVZneImaq7zN3u/w==",
        ),
        (
            "2d8b0ce6-aa32-4f31-a6e8-88343e6244a5",
            "e60c8b2d32aa314fa6e888343e6244a5",
            "5gyLLTKqMU+m6Ig0PmJEpQ==",
            "LYsM5qoyTzGm6Ig0PmJEpQ==",
        ),
    ];

    #[test]
    fn reference_vectors_convert_in_every_direction() {
        for &(guid_text, raw_hex, immutable_id, wrong) in VECTORS {
            let guid = ObjectGuid::parse_canonical(guid_text).unwrap();
            let raw = decode_hex(raw_hex).unwrap();
            assert_eq!(guid.ad_bytes().to_vec(), raw, "raw bytes of {guid_text}");
            assert_eq!(guid.immutable_id().as_str(), immutable_id);
            assert_ne!(guid.immutable_id().as_str(), wrong);
            assert_eq!(guid.to_string(), guid_text);

            let from_id = parse_anchor(immutable_id).unwrap();
            assert_eq!(from_id.form, AnchorForm::ImmutableId);
            assert_eq!(from_id.guid, Some(guid));

            let from_hex = parse_anchor(&guid.ad_hex()).unwrap();
            assert_eq!(from_hex.form, AnchorForm::Hex);
            assert_eq!(from_hex.immutable_id.as_str(), immutable_id);

            let from_filter = parse_anchor(&guid.ldap_filter_escape()).unwrap();
            assert_eq!(from_filter.form, AnchorForm::LdapFilter);
            assert_eq!(from_filter.guid, Some(guid));
        }
    }

    #[test]
    fn issue_example_and_adsynctools_sample() {
        let parsed = parse_anchor("20e8847b-03bc-43c8-a93b-175bb489058a").unwrap();
        assert_eq!(parsed.immutable_id.as_str(), "e4ToILwDyEOpOxdbtIkFig==");
        let back = parse_anchor("e4ToILwDyEOpOxdbtIkFig==").unwrap();
        assert_eq!(
            back.guid.unwrap().to_string(),
            "20e8847b-03bc-43c8-a93b-175bb489058a"
        );
        let sample = parse_anchor("nofCJe0gZk6D8J4gRgrt+A==").unwrap();
        assert_eq!(
            sample.guid.unwrap().to_string(),
            "25c2879e-20ed-4e66-83f0-9e20460aedf8"
        );
    }

    #[test]
    fn connector_space_dn_matches_the_adsynctools_example() {
        let id = ImmutableId::from_text("QF5HMK7n80qvdYsUPIHa9Q==");
        assert_eq!(
            id.connector_space_dn(),
            "CN={514635484D4B376E38307176645973555049486139513D3D}"
        );
        let parsed = parse_anchor("CN={514635484D4B376E38307176645973555049486139513D3D}").unwrap();
        assert_eq!(parsed.form, AnchorForm::ConnectorSpaceDn);
        assert_eq!(parsed.immutable_id, id);
        assert!(parsed.guid.is_some());
    }

    #[test]
    fn braces_uppercase_and_filter_wrapping_are_accepted() {
        let expected = parse_anchor("20e8847b-03bc-43c8-a93b-175bb489058a").unwrap();
        for input in [
            "{20E8847B-03BC-43C8-A93B-175BB489058A}",
            " 20e8847b-03bc-43c8-a93b-175bb489058a\r\n",
            "(objectGUID=\\7b\\84\\e8\\20\\bc\\03\\c8\\43\\a9\\3b\\17\\5b\\b4\\89\\05\\8a)",
        ] {
            assert_eq!(parse_anchor(input).unwrap().guid, expected.guid, "{input}");
        }
    }

    #[test]
    fn custom_anchors_are_kept_as_text() {
        for input in [
            "E12345",
            "employee-00042",
            "QUJD",
            "AAECAwQFBgcICQoLDA0ODxAREhM=",
        ] {
            let parsed = parse_anchor(input).unwrap();
            assert_eq!(parsed.form, AnchorForm::Custom, "{input}");
            assert_eq!(parsed.immutable_id.as_str(), input);
            assert_eq!(parsed.guid, None);
        }
        // Comparison is exact: case differences are different anchors.
        assert_ne!(
            ImmutableId::from_text("e4ToILwDyEOpOxdbtIkFig=="),
            ImmutableId::from_text("E4ToILwDyEOpOxdbtIkFig==")
        );
    }

    #[test]
    fn mistyped_guid_forms_are_errors() {
        let cases: &[(&str, AnchorError)] = &[
            ("", AnchorError::Empty),
            (
                "20e8847b-03bc-43c8-a93b-175bb48905",
                AnchorError::MalformedGuid,
            ),
            (
                "{20e8847b-03bc-43c8-a93b-175bb489058a",
                AnchorError::MalformedGuid,
            ),
            (
                "20e8847b-03bc-43c8-a93b-175bb489058g",
                AnchorError::MalformedGuid,
            ),
            (
                "20e8847b03bc43c8a93b175bb489058",
                AnchorError::MalformedImmutableId,
            ),
            ("e4ToILwDyEOpOxdbtIkFig=", AnchorError::MalformedImmutableId),
            ("\\7b\\84\\e8", AnchorError::MalformedLdapFilter),
            ("CN={4142}x", AnchorError::MalformedConnectorSpaceDn),
            (
                "has_underscore",
                AnchorError::ForbiddenCharacter { character: '_' },
            ),
            (
                "with space",
                AnchorError::ForbiddenCharacter { character: ' ' },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&parse_anchor(input).unwrap_err(), expected, "{input:?}");
        }
    }

    #[test]
    fn multi_byte_text_where_a_prefix_is_checked_does_not_panic() {
        // Found by `parser_never_panics`: slicing "é" at byte 3 to look for `CN=`.
        for input in ["é", "Ωx", "中文字"] {
            assert_eq!(
                parse_anchor(input).unwrap().form,
                AnchorForm::Custom,
                "{input}"
            );
        }
    }

    #[test]
    fn graph_character_rules() {
        assert!(ImmutableId::from_text("abc$").validate_for_graph().is_err());
        assert!(ImmutableId::from_text("abc_").validate_for_graph().is_err());
        assert!(ImmutableId::from_text("").validate_for_graph().is_err());
        assert!(
            ImmutableId::from_text("e4ToILwDyEOpOxdbtIkFig==")
                .validate_for_graph()
                .is_ok()
        );
    }

    #[test]
    fn serde_uses_the_canonical_and_text_forms() {
        let guid = ObjectGuid::parse_canonical("20e8847b-03bc-43c8-a93b-175bb489058a").unwrap();
        let json = serde_json::to_string(&guid).unwrap();
        assert_eq!(json, "\"20e8847b-03bc-43c8-a93b-175bb489058a\"");
        assert_eq!(serde_json::from_str::<ObjectGuid>(&json).unwrap(), guid);
        let id = guid.immutable_id();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"e4ToILwDyEOpOxdbtIkFig==\""
        );
    }

    proptest! {
        #[test]
        fn every_rendering_round_trips(bytes in proptest::array::uniform16(any::<u8>())) {
            let guid = ObjectGuid::from_ad_bytes(bytes);
            let renderings = [
                guid.to_string(),
                format!("{{{}}}", guid.to_string().to_uppercase()),
                guid.immutable_id().to_string(),
                guid.ad_hex(),
                guid.ldap_filter_escape(),
                guid.immutable_id().connector_space_dn(),
            ];
            for rendering in renderings {
                let parsed = parse_anchor(&rendering).unwrap();
                prop_assert_eq!(parsed.guid, Some(guid), "{}", rendering);
                prop_assert_eq!(&parsed.immutable_id, &guid.immutable_id());
            }
        }

        #[test]
        fn parser_never_panics(input in "\\PC{0,64}") {
            let _ = parse_anchor(&input);
        }

        #[test]
        fn custom_anchor_text_survives_unchanged(text in "[A-Za-z0-9-]{1,20}") {
            if let Ok(parsed) = parse_anchor(&text)
                && parsed.form == AnchorForm::Custom
            {
                prop_assert_eq!(parsed.immutable_id.as_str(), text.as_str());
            }
        }
    }
}
