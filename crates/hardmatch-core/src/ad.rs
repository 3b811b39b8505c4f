//! On-premises Active Directory users as the rules see them, and the AD snapshot format.
//!
//! Every AD source (live LDAP, Export-Csv, csvde, LDIF, a snapshot file) produces these
//! same values, so that the planner cannot tell where its input came from. The snapshot
//! is the serialized form; its shape is a public file format and is versioned.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::anchor::{ImmutableId, ObjectGuid};

/// The AD snapshot format this build writes and reads.
pub const AD_SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// Which AD attribute supplies a user's source anchor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum AnchorAttribute {
    ObjectGuid,
    ConsistencyGuid,
    /// A custom attribute such as employeeID, named as in AD.
    Custom(String),
}

impl AnchorAttribute {
    pub fn ldap_name(&self) -> &str {
        match self {
            Self::ObjectGuid => "objectGUID",
            Self::ConsistencyGuid => "mS-DS-ConsistencyGuid",
            Self::Custom(name) => name,
        }
    }
}

impl From<AnchorAttribute> for String {
    fn from(attribute: AnchorAttribute) -> Self {
        attribute.ldap_name().to_owned()
    }
}

impl From<String> for AnchorAttribute {
    fn from(name: String) -> Self {
        if name.eq_ignore_ascii_case("objectGUID") {
            Self::ObjectGuid
        } else if name.eq_ignore_ascii_case("mS-DS-ConsistencyGuid") {
            Self::ConsistencyGuid
        } else {
            Self::Custom(name)
        }
    }
}

/// One AD user, with the attributes the matching rules and the plan need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdUser {
    pub distinguished_name: CompactString,
    /// DNS name of the domain the user was read from, e.g. `corp.contoso.com`.
    #[serde(default)]
    pub domain: Option<CompactString>,
    pub object_guid: ObjectGuid,
    #[serde(default)]
    pub consistency_guid: Option<ObjectGuid>,
    pub anchor_attribute: AnchorAttribute,
    /// The effective source anchor, as Entra Connect would export it.
    pub immutable_id: ImmutableId,
    #[serde(default)]
    pub user_principal_name: Option<CompactString>,
    #[serde(default)]
    pub mail: Option<CompactString>,
    #[serde(default, deserialize_with = "crate::tenant::exact_list")]
    pub proxy_addresses: Vec<String>,
    #[serde(default)]
    pub sam_account_name: Option<CompactString>,
    #[serde(default)]
    pub display_name: Option<CompactString>,
    pub enabled: bool,
    #[serde(default)]
    pub object_sid: Option<CompactString>,
}

impl AdUser {
    /// The address Entra Connect soft-matches on: the `SMTP:` proxy address, else `mail`.
    pub fn primary_smtp_address(&self) -> Option<&str> {
        crate::index::primary_smtp(&self.proxy_addresses, self.mail.as_deref())
    }

    /// Every SMTP address the user has, primary or secondary, without the prefix.
    pub fn smtp_addresses(&self) -> impl Iterator<Item = &str> {
        self.proxy_addresses
            .iter()
            .filter_map(|address| crate::index::smtp_value(address))
    }

    /// The suffix of the UPN, lowercased: the domain Entra ID must have verified.
    pub fn upn_suffix(&self) -> Option<String> {
        let upn = self.user_principal_name.as_deref()?;
        let (_, suffix) = upn.rsplit_once('@')?;
        Some(suffix.to_ascii_lowercase())
    }
}

/// Where an AD snapshot's users were read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdSnapshotSource {
    /// `ldap`, `export-csv`, `csvde`, `ldif` or `snapshot`.
    pub kind: String,
    /// LDAP URLs with base DNs, or file names. Never credentials.
    pub locations: Vec<String>,
}

/// A point-in-time copy of the AD users in scope, as written by `hardmatch snapshot ad`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdSnapshot {
    pub format_version: u32,
    pub source: AdSnapshotSource,
    /// RFC 3339, supplied by the caller.
    pub taken_at: String,
    pub users: Vec<AdUser>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_with(proxy_addresses: &[&str], mail: Option<&str>) -> AdUser {
        let guid = ObjectGuid::from_ad_bytes([7; 16]);
        AdUser {
            distinguished_name: "CN=Adele Vance,OU=Staff,DC=corp,DC=contoso,DC=com".into(),
            domain: Some("corp.contoso.com".into()),
            object_guid: guid,
            consistency_guid: None,
            anchor_attribute: AnchorAttribute::ObjectGuid,
            immutable_id: guid.immutable_id(),
            user_principal_name: Some("Adele.Vance@Contoso.com".into()),
            mail: mail.map(Into::into),
            proxy_addresses: proxy_addresses.iter().map(|&a| a.into()).collect(),
            sam_account_name: Some("adelev".into()),
            display_name: None,
            enabled: true,
            object_sid: None,
        }
    }

    #[test]
    fn primary_smtp_prefers_the_uppercase_prefix_then_mail() {
        let user = user_with(
            &[
                "smtp:old@contoso.com",
                "SMTP:adele@contoso.com",
                "X500:/o=x",
            ],
            Some("mail@contoso.com"),
        );
        assert_eq!(user.primary_smtp_address(), Some("adele@contoso.com"));
        let user = user_with(&["smtp:old@contoso.com"], Some("mail@contoso.com"));
        assert_eq!(user.primary_smtp_address(), Some("mail@contoso.com"));
        assert_eq!(
            user_with(&["SMTP:a@x", "smtp:b@x", "sip:c@x"], None)
                .smtp_addresses()
                .collect::<Vec<_>>(),
            ["a@x", "b@x"]
        );
    }

    #[test]
    fn upn_suffix_is_lowercased() {
        assert_eq!(
            user_with(&[], None).upn_suffix().as_deref(),
            Some("contoso.com")
        );
    }

    #[test]
    fn anchor_attribute_round_trips_through_its_ldap_name() {
        for attribute in [
            AnchorAttribute::ObjectGuid,
            AnchorAttribute::ConsistencyGuid,
            AnchorAttribute::Custom("employeeID".into()),
        ] {
            let json = serde_json::to_string(&attribute).unwrap();
            assert_eq!(
                serde_json::from_str::<AnchorAttribute>(&json).unwrap(),
                attribute
            );
        }
        assert_eq!(
            serde_json::to_string(&AnchorAttribute::ConsistencyGuid).unwrap(),
            "\"mS-DS-ConsistencyGuid\""
        );
    }
}
