//! One directory entry, however it was read, turned into an [`AdUser`].
//!
//! Live LDAP and LDIF both deliver "a DN and attribute values as bytes"; keeping that one
//! shape and one conversion means the anchor rules (byte order, ConsistencyGuid
//! precedence, custom anchors) exist once, and a live read and an LDIF export of the same
//! users cannot disagree.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hardmatch_core::CompactString;
use hardmatch_core::ad::{AdUser, AnchorAttribute};
use hardmatch_core::anchor::{ImmutableId, ObjectGuid};

use crate::error::AdError;
use crate::reporter::AdWarning;
use crate::settings::AnchorChoice;

/// userAccountControl bit for a disabled account.
const ACCOUNT_DISABLED: u32 = 0x0002;

/// The attributes a user snapshot needs, as requested from the server.
pub const USER_ATTRIBUTES: [&str; 12] = [
    "objectGUID",
    "mS-DS-ConsistencyGuid",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "sAMAccountName",
    "displayName",
    "distinguishedName",
    "userAccountControl",
    "objectSid",
    "objectClass",
    "objectCategory",
];

/// A DN with its attribute values as raw bytes, attribute names compared case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub distinguished_name: String,
    /// Keyed by the lowercased attribute name.
    attributes: HashMap<String, Vec<Vec<u8>>>,
}

impl DirectoryEntry {
    pub fn new(distinguished_name: impl Into<String>) -> Self {
        Self {
            distinguished_name: distinguished_name.into(),
            attributes: HashMap::new(),
        }
    }

    /// Appends a value; attribute options such as `;binary` are dropped from the name,
    /// except `;range=`, which marks an incomplete answer (see [`user_from_entry`]).
    pub fn push(&mut self, attribute: &str, value: Vec<u8>) {
        self.push_values(attribute, vec![value]);
    }

    /// Appends several values of one attribute, as [`DirectoryEntry::push`] does one.
    pub fn push_values(&mut self, attribute: &str, values: Vec<Vec<u8>>) {
        let lowered = attribute.to_ascii_lowercase();
        let name = if lowered.contains(";range=") {
            lowered
        } else {
            lowered.split(';').next().unwrap_or(&lowered).to_owned()
        };
        let stored = self.attributes.entry(name).or_default();
        if stored.is_empty() {
            *stored = values;
        } else {
            stored.extend(values);
        }
    }

    pub fn values(&self, attribute: &str) -> &[Vec<u8>] {
        self.attributes
            .get(&attribute.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    fn first(&self, attribute: &str) -> Option<&[u8]> {
        self.values(attribute).first().map(Vec::as_slice)
    }

    fn text(&self, attribute: &str) -> Result<Option<CompactString>, AdError> {
        self.first(attribute)
            .map(|bytes| self.utf8(attribute, bytes).map(CompactString::from))
            .transpose()
    }

    fn texts(&self, attribute: &str) -> Result<Vec<String>, AdError> {
        self.values(attribute)
            .iter()
            .map(|bytes| self.utf8(attribute, bytes).map(str::to_owned))
            .collect()
    }

    fn utf8<'b>(&self, attribute: &str, bytes: &'b [u8]) -> Result<&'b str, AdError> {
        std::str::from_utf8(bytes)
            .map_err(|_| self.malformed(format!("{attribute} is not UTF-8 text")))
    }

    fn guid(&self, attribute: &str) -> Result<Option<ObjectGuid>, AdError> {
        self.first(attribute)
            .map(|bytes| {
                ObjectGuid::from_ad_slice(bytes)
                    .map_err(|error| self.malformed(format!("{attribute}: {error}")))
            })
            .transpose()
    }

    fn malformed(&self, detail: String) -> AdError {
        AdError::MalformedEntry {
            distinguished_name: self.distinguished_name.clone(),
            detail,
        }
    }

    /// False for entries whose objectClass says they are not users (computers are
    /// `objectClass=user` too). Entries without objectClass count as users.
    pub fn looks_like_user(&self) -> bool {
        let classes = self.values("objectClass");
        if classes.is_empty() {
            return true;
        }
        let has = |wanted: &str| {
            classes
                .iter()
                .any(|class| class.eq_ignore_ascii_case(wanted.as_bytes()))
        };
        has("user") && !has("computer")
    }
}

/// Converts one entry; warnings (a ConsistencyGuid differing from the objectGUID) are
/// returned alongside. The domain is taken from the DN's `DC=` components.
pub fn user_from_entry(
    entry: &DirectoryEntry,
    anchor: &AnchorChoice,
) -> Result<(AdUser, Vec<AdWarning>), AdError> {
    // AD answers with `proxyAddresses;range=0-1499` when an attribute has more values than
    // it returns at once; using that first slice would silently drop addresses.
    if let Some(ranged) = entry
        .attributes
        .keys()
        .find(|name| name.contains(";range="))
    {
        return Err(entry.malformed(format!(
            "{ranged}: the server returned only part of a very large multi-valued attribute \
             (ranged retrieval), which hardmatch does not read"
        )));
    }
    let object_guid = entry
        .guid("objectGUID")?
        .ok_or_else(|| entry.malformed("has no objectGUID".to_owned()))?;
    let consistency_guid = entry.guid("mS-DS-ConsistencyGuid")?;
    let mut warnings = Vec::new();
    if let Some(consistency) = consistency_guid
        && consistency != object_guid
    {
        warnings.push(AdWarning::ConsistencyGuidDiffers {
            distinguished_name: entry.distinguished_name.clone(),
            object_guid,
            consistency_guid: consistency,
        });
    }
    let (anchor_attribute, immutable_id) = match anchor {
        AnchorChoice::ObjectGuid => (AnchorAttribute::ObjectGuid, object_guid.immutable_id()),
        AnchorChoice::Auto | AnchorChoice::ConsistencyGuid => match consistency_guid {
            Some(consistency) => (AnchorAttribute::ConsistencyGuid, consistency.immutable_id()),
            None => (AnchorAttribute::ObjectGuid, object_guid.immutable_id()),
        },
        AnchorChoice::Attribute(name) => {
            let value = entry.first(name).ok_or_else(|| {
                entry.malformed(format!("has no value for the anchor attribute {name}"))
            })?;
            (AnchorAttribute::from(name.clone()), custom_anchor(value))
        }
    };
    let enabled = match entry.text("userAccountControl")? {
        Some(text) => {
            let flags: u32 = text.trim().parse().map_err(|_| {
                entry.malformed(format!("userAccountControl `{text}` is not a number"))
            })?;
            flags & ACCOUNT_DISABLED == 0
        }
        None => true,
    };
    let object_sid = entry
        .first("objectSid")
        .map(sid_to_string)
        .transpose()
        .map_err(|detail| entry.malformed(format!("objectSid: {detail}")))?;
    let user = AdUser {
        distinguished_name: entry.distinguished_name.as_str().into(),
        domain: domain_from_distinguished_name(&entry.distinguished_name).map(Into::into),
        object_guid,
        consistency_guid,
        anchor_attribute,
        immutable_id,
        user_principal_name: entry.text("userPrincipalName")?,
        mail: entry.text("mail")?,
        proxy_addresses: entry.texts("proxyAddresses")?,
        sam_account_name: entry.text("sAMAccountName")?,
        display_name: entry.text("displayName")?,
        enabled,
        object_sid: object_sid.map(Into::into),
    };
    Ok((user, warnings))
}

/// Connect uses a string anchor as it is and Base64-encodes a binary one.
fn custom_anchor(value: &[u8]) -> ImmutableId {
    match std::str::from_utf8(value) {
        Ok(text) if !text.chars().any(char::is_control) => ImmutableId::from_text(text),
        _ => ImmutableId::from_text(BASE64.encode(value)),
    }
}

/// The DNS domain of a DN from its `DC=` components: `CN=x,DC=corp,DC=contoso,DC=com` →
/// `corp.contoso.com`.
pub fn domain_from_distinguished_name(distinguished_name: &str) -> Option<String> {
    let labels: Vec<String> = distinguished_name
        .split(',')
        .filter_map(|component| {
            let (name, value) = component.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("DC")
                .then(|| value.trim().to_ascii_lowercase())
        })
        .collect();
    (!labels.is_empty()).then(|| labels.join("."))
}

/// Renders a binary SID (MS-DTYP 2.4.2.2) as `S-1-5-21-…`.
pub fn sid_to_string(bytes: &[u8]) -> Result<String, String> {
    let (&revision, rest) = bytes.split_first().ok_or("empty SID")?;
    let (&count, rest) = rest.split_first().ok_or("SID too short")?;
    if rest.len() != 6 + 4 * usize::from(count) {
        return Err(format!(
            "SID of {} bytes does not hold {count} sub-authorities",
            bytes.len()
        ));
    }
    let (authority_bytes, sub_authorities) = rest.split_at(6);
    let authority = authority_bytes
        .iter()
        .fold(0u64, |value, &byte| (value << 8) | u64::from(byte));
    let mut text = format!("S-{revision}-{authority}");
    for chunk in sub_authorities.chunks_exact(4) {
        let value = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        text.push_str(&format!("-{value}"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(values: &[(&str, &[u8])]) -> DirectoryEntry {
        let mut entry = DirectoryEntry::new("CN=Megan Bowen,OU=Staff,DC=hardmatch,DC=test");
        for (name, value) in values {
            entry.push(name, value.to_vec());
        }
        entry
    }

    const OBJECT_GUID: [u8; 16] = [
        0xe9, 0x23, 0x59, 0x9c, 0x52, 0xde, 0xea, 0x33, 0x88, 0xde, 0x7e, 0xbc, 0x86, 0x33, 0xb9,
        0xcc,
    ];
    const CONSISTENCY_GUID: [u8; 16] = [
        0xe6, 0x0c, 0x8b, 0x2d, 0x32, 0xaa, 0x31, 0x4f, 0xa6, 0xe8, 0x88, 0x34, 0x3e, 0x62, 0x44,
        0xa5,
    ];

    #[test]
    fn auto_prefers_the_consistency_guid_and_warns_when_it_differs() {
        let entry = entry(&[
            ("objectGUID", &OBJECT_GUID),
            ("mS-DS-ConsistencyGuid", &CONSISTENCY_GUID),
            ("userAccountControl", b"514"),
        ]);
        let (user, warnings) = user_from_entry(&entry, &AnchorChoice::Auto).unwrap();
        assert_eq!(user.immutable_id.as_str(), "5gyLLTKqMU+m6Ig0PmJEpQ==");
        assert_eq!(user.anchor_attribute, AnchorAttribute::ConsistencyGuid);
        assert!(!user.enabled);
        assert_eq!(user.domain.as_deref(), Some("hardmatch.test"));
        assert_eq!(warnings.len(), 1);
        let (user, _) = user_from_entry(&entry, &AnchorChoice::ObjectGuid).unwrap();
        assert_eq!(user.immutable_id.as_str(), "6SNZnFLe6jOI3n68hjO5zA==");
    }

    #[test]
    fn a_consistency_guid_equal_to_the_object_guid_is_no_warning() {
        let entry = entry(&[
            ("objectGUID", &OBJECT_GUID),
            ("mS-DS-ConsistencyGuid", &OBJECT_GUID),
        ]);
        let (user, warnings) = user_from_entry(&entry, &AnchorChoice::Auto).unwrap();
        assert!(warnings.is_empty());
        assert!(user.enabled);
    }

    #[test]
    fn custom_anchors_stay_text_and_binary_ones_become_base64() {
        let entry = entry(&[("objectGUID", &OBJECT_GUID), ("employeeID", b"E-1042")]);
        let (user, _) =
            user_from_entry(&entry, &AnchorChoice::Attribute("employeeID".into())).unwrap();
        assert_eq!(user.immutable_id.as_str(), "E-1042");
        assert_eq!(user.anchor_attribute.ldap_name(), "employeeID");
        assert_eq!(custom_anchor(&[0, 1, 2]).as_str(), "AAEC");
    }

    #[test]
    fn malformed_guids_name_the_entry_and_attribute() {
        let error = user_from_entry(
            &entry(&[
                ("objectGUID", &OBJECT_GUID),
                ("mS-DS-ConsistencyGuid", b"short"),
            ]),
            &AnchorChoice::Auto,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "entry `CN=Megan Bowen,OU=Staff,DC=hardmatch,DC=test`: mS-DS-ConsistencyGuid: a GUID has 16 bytes, this value has 5"
        );
        assert!(user_from_entry(&entry(&[]), &AnchorChoice::Auto).is_err());
    }

    #[test]
    fn a_ranged_attribute_is_an_error_not_a_silent_truncation() {
        let error = user_from_entry(
            &entry(&[
                ("objectGUID", &OBJECT_GUID),
                ("proxyAddresses;range=0-1499", b"smtp:a@x"),
            ]),
            &AnchorChoice::Auto,
        )
        .unwrap_err();
        assert!(error.to_string().contains("ranged retrieval"), "{error}");
    }

    #[test]
    fn sids_render_in_the_s_1_5_form() {
        let sid = [
            1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x03, 0x6e, 0x0f, 0x26, 0x52, 0x4f, 0x9f, 0xfc,
            0xd0, 0x9c, 0x2a, 0x03, 0xe9, 0x03, 0x00, 0x00,
        ];
        assert_eq!(
            sid_to_string(&sid).unwrap(),
            format!(
                "S-1-5-21-{}-{}-{}-1001",
                0x260f6e03u32, 0xfc9f4f52u32, 0x032a9cd0u32
            )
        );
        assert!(sid_to_string(&sid[..10]).is_err());
    }

    #[test]
    fn domains_come_from_dc_components() {
        assert_eq!(
            domain_from_distinguished_name("CN=a,OU=b,DC=Corp,DC=contoso,DC=com").as_deref(),
            Some("corp.contoso.com")
        );
        assert_eq!(domain_from_distinguished_name("CN=a"), None);
    }
}
