//! The Entra ID tenant as the rules see it, and the tenant snapshot format.
//!
//! Users, domains, role assignments and sync settings keep Microsoft Graph's own JSON
//! shape (camelCase, as `GET /users` returns them), so that a snapshot can be compared
//! with Graph responses and loaded by the emulator as a fixture. Only the envelope
//! (`format_version`, `source`, `taken_at`, …) is ours, in snake_case like the AD snapshot.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::anchor::ImmutableId;
use crate::interned::Interned;

/// The tenant snapshot format this build writes and reads.
pub const TENANT_SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// A Graph `user`, active or in the recycle bin (`deletedDateTime` set).
///
/// Properties the rules never read are not modelled; a snapshot keeps only these.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudUser {
    pub id: CompactString,
    pub user_principal_name: CompactString,
    #[serde(default)]
    pub display_name: Option<CompactString>,
    #[serde(default)]
    pub mail: Option<CompactString>,
    #[serde(default, deserialize_with = "exact_list")]
    pub proxy_addresses: Vec<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub created_date_time: Option<CompactString>,
    #[serde(default)]
    pub deleted_date_time: Option<CompactString>,
    #[serde(default)]
    pub on_premises_immutable_id: Option<ImmutableId>,
    /// `true` synced now, `false` was synced, `null` never synced (entra-matching.md §1).
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub on_premises_last_sync_date_time: Option<CompactString>,
    #[serde(default)]
    pub on_premises_distinguished_name: Option<CompactString>,
    #[serde(default)]
    pub on_premises_sam_account_name: Option<CompactString>,
    #[serde(default)]
    pub on_premises_user_principal_name: Option<CompactString>,
    #[serde(default)]
    pub on_premises_domain_name: Option<CompactString>,
    #[serde(default)]
    pub on_premises_security_identifier: Option<CompactString>,
    /// Graph beta only; read there for the 2026 hard-match hardening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_object_identifier: Option<CompactString>,
    #[serde(default, deserialize_with = "exact_list")]
    pub on_premises_provisioning_errors: Vec<OnPremisesProvisioningError>,
    #[serde(default, deserialize_with = "exact_list")]
    pub assigned_licenses: Vec<AssignedLicense>,
    /// Absent when the tenant has no P1/P2 or the token lacks AuditLog.Read.All:
    /// "unknown", never "unused". Boxed: most snapshots have none, and held inline it
    /// would cost 64 bytes for each of a million users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_activity: Option<Box<SignInActivity>>,
}

impl CloudUser {
    pub fn is_deleted(&self) -> bool {
        self.deleted_date_time.is_some()
    }

    pub fn is_synced(&self) -> bool {
        self.on_premises_sync_enabled == Some(true)
    }

    pub fn is_licensed(&self) -> bool {
        !self.assigned_licenses.is_empty()
    }

    /// The `SMTP:` proxy address, else `mail`.
    pub fn primary_smtp_address(&self) -> Option<&str> {
        crate::index::primary_smtp(&self.proxy_addresses, self.mail.as_deref())
    }

    /// Every SMTP address, primary or secondary, without the prefix.
    pub fn smtp_addresses(&self) -> impl Iterator<Item = &str> {
        self.proxy_addresses
            .iter()
            .filter_map(|address| crate::index::smtp_value(address))
    }
}

/// Graph `onPremisesProvisioningError`: a quarantined UPN or proxy address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnPremisesProvisioningError {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub occurred_date_time: Option<String>,
    #[serde(default)]
    pub property_causing_error: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// Graph `assignedLicense`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedLicense {
    /// Shared by every user with the SKU (see [`crate::interned`]), as are the plans.
    pub sku_id: Interned,
    #[serde(default, deserialize_with = "exact_list")]
    pub disabled_plans: Vec<Interned>,
}

/// Graph `signInActivity`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    #[serde(default)]
    pub last_sign_in_date_time: Option<String>,
    #[serde(default)]
    pub last_non_interactive_sign_in_date_time: Option<String>,
    #[serde(default)]
    pub last_successful_sign_in_date_time: Option<String>,
}

/// Graph `domain` (from `GET /domains`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// The domain name, e.g. `contoso.com`.
    pub id: String,
    /// `Managed` or `Federated`.
    #[serde(default = "managed")]
    pub authentication_type: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub is_initial: bool,
    #[serde(default)]
    pub is_verified: bool,
}

fn managed() -> String {
    "Managed".to_owned()
}

impl Domain {
    pub fn is_federated(&self) -> bool {
        self.authentication_type.eq_ignore_ascii_case("Federated")
    }
}

/// Graph `onPremisesDirectorySynchronizationFeature`: the tenant's matching switches.
/// Only the ones the rules use are modelled; the rest pass through `other`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncFeatures {
    #[serde(default)]
    pub block_cloud_object_takeover_through_hard_match_enabled: bool,
    #[serde(default)]
    pub block_soft_match_enabled: bool,
    #[serde(default)]
    pub soft_match_on_upn_enabled: bool,
    #[serde(default = "enabled")]
    pub quarantine_upon_upn_conflict_enabled: bool,
    #[serde(default = "enabled")]
    pub quarantine_upon_proxy_addresses_conflict_enabled: bool,
    #[serde(default)]
    pub password_sync_enabled: bool,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

fn enabled() -> bool {
    true
}

/// Graph `onPremisesAccidentalDeletionPrevention`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccidentalDeletionPrevention {
    /// `disabled` or `enabledForCount` (or `enabledForPercentage`).
    pub synchronization_prevention_type: String,
    pub alert_threshold: u32,
}

impl Default for AccidentalDeletionPrevention {
    fn default() -> Self {
        Self {
            synchronization_prevention_type: "enabledForCount".to_owned(),
            alert_threshold: 500,
        }
    }
}

/// Graph `onPremisesDirectorySynchronizationConfiguration`, the part the rules use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncConfiguration {
    #[serde(default)]
    pub accidental_deletion_prevention: AccidentalDeletionPrevention,
}

/// Graph `onPremisesDirectorySynchronization`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnPremisesSynchronization {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub configuration: SyncConfiguration,
    #[serde(default)]
    pub features: SyncFeatures,
}

/// A Graph `unifiedRoleAssignment`, or a PIM eligibility of the same shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    #[serde(default)]
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    #[serde(default = "tenant_scope")]
    pub directory_scope_id: String,
}

fn tenant_scope() -> String {
    "/".to_owned()
}

/// A Graph `unifiedRoleDefinition`, to name roles in evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub is_privileged: Option<bool>,
}

/// Tenant-wide facts: identity, domains and sync state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantInfo {
    /// The tenant (directory) id, a GUID.
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The `*.onmicrosoft.com` domain every tenant has.
    pub initial_domain: String,
    #[serde(default)]
    pub domains: Vec<Domain>,
    /// From `GET /organization`.
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub on_premises_last_sync_date_time: Option<String>,
    /// `None` when it could not be read (it needs a delegated Global Administrator).
    #[serde(default)]
    pub on_premises_synchronization: Option<OnPremisesSynchronization>,
}

impl TenantInfo {
    /// The verified domain a UPN suffix names, if any (case-insensitive).
    pub fn verified_domain(&self, suffix: &str) -> Option<&Domain> {
        self.domains
            .iter()
            .find(|domain| domain.is_verified && domain.id.eq_ignore_ascii_case(suffix))
    }
}

/// Where a tenant snapshot was read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSnapshotSource {
    /// `graph`, `emulator` or `fixture`.
    pub kind: String,
    /// The Graph base URL. Never credentials.
    pub location: String,
}

/// A point-in-time copy of a tenant, as written by `hardmatch snapshot tenant`.
///
/// Deleted users are in `users` too, marked by `deletedDateTime`, exactly as the emulator's
/// fixture format expects them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSnapshot {
    pub format_version: u32,
    pub source: TenantSnapshotSource,
    /// RFC 3339, supplied by the caller.
    pub taken_at: String,
    pub tenant: TenantInfo,
    pub users: Vec<CloudUser>,
    #[serde(default)]
    pub role_definitions: Vec<RoleDefinition>,
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
    #[serde(default)]
    pub role_eligibilities: Vec<RoleAssignment>,
}

/// A JSON list, or `null` for none (Graph writes both), held at exactly its length.
///
/// A user's lists are short (two proxy addresses, one licence) and the JSON parsers give
/// no length up front, so serde's own reading grows each to room for four: at a million
/// users that spare room was over 200 MB. The items are gathered on the stack instead, and
/// moved into one allocation of the right size.
pub(crate) fn exact_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ExactList<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ExactList<T> {
        type Value = Vec<T>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a list or null")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: serde::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Vec<T>, D::Error> {
            deserializer.deserialize_seq(self)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Vec<T>, A::Error> {
            let mut gathered: smallvec::SmallVec<[T; 4]> = smallvec::SmallVec::new();
            while let Some(item) = items.next_element()? {
                gathered.push(item);
            }
            let mut list = Vec::with_capacity(gathered.len());
            list.extend(gathered);
            Ok(list)
        }
    }

    deserializer.deserialize_option(ExactList(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_graph_user_as_get_users_returns_it() {
        let json = r#"{
            "id": "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0",
            "userPrincipalName": "Adams@contoso.com",
            "onPremisesImmutableId": "e4ToILwDyEOpOxdbtIkFig==",
            "onPremisesSyncEnabled": null,
            "proxyAddresses": ["SMTP:adams@contoso.com", "smtp:a@contoso.onmicrosoft.com"],
            "assignedLicenses": [{"disabledPlans": [], "skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df"}],
            "onPremisesProvisioningErrors": null,
            "businessPhones": []
        }"#;
        let user: CloudUser = serde_json::from_str(json).unwrap();
        assert!(user.is_licensed());
        assert!(!user.is_synced());
        assert!(!user.is_deleted());
        assert_eq!(user.primary_smtp_address(), Some("adams@contoso.com"));
        assert_eq!(user.smtp_addresses().count(), 2);
        assert_eq!(
            user.on_premises_immutable_id
                .as_ref()
                .map(ImmutableId::as_str),
            Some("e4ToILwDyEOpOxdbtIkFig==")
        );
        let written = serde_json::to_value(&user).unwrap();
        assert_eq!(written["userPrincipalName"], "Adams@contoso.com");
        assert!(written.get("onPremisesObjectIdentifier").is_none());
    }

    #[test]
    fn lists_are_held_at_their_length_and_null_is_none() {
        let json = r#"{
            "id": "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0",
            "userPrincipalName": "Adams@contoso.com",
            "proxyAddresses": ["SMTP:adams@contoso.com", "smtp:a@contoso.onmicrosoft.com"],
            "assignedLicenses": [{"disabledPlans": null, "skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df"}],
            "onPremisesProvisioningErrors": null
        }"#;
        let user: CloudUser = serde_json::from_str(json).unwrap();
        assert_eq!(user.proxy_addresses.len(), 2);
        assert_eq!(user.proxy_addresses.capacity(), 2);
        assert_eq!(user.assigned_licenses.capacity(), 1);
        assert!(user.assigned_licenses[0].disabled_plans.is_empty());
        assert!(user.on_premises_provisioning_errors.is_empty());
        // More items than the stack holds, through a `Value` as the emulator reads them.
        let addresses: Vec<String> = (0..9).map(|n| format!("smtp:a{n}@contoso.com")).collect();
        let value = serde_json::json!({"id": "x", "userPrincipalName": "a@contoso.com", "proxyAddresses": addresses});
        let user: CloudUser = serde_json::from_value(value).unwrap();
        assert_eq!(user.proxy_addresses, addresses);
        assert_eq!(user.proxy_addresses.capacity(), 9);
        let error = serde_json::from_str::<CloudUser>(
            r#"{"id": "x", "userPrincipalName": "a@contoso.com", "proxyAddresses": "smtp:a@contoso.com"}"#,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("expected a list or null"),
            "{error}"
        );
    }

    #[test]
    fn sync_features_keep_unmodelled_flags() {
        let json = r#"{"blockSoftMatchEnabled": true, "groupWriteBackEnabled": false}"#;
        let features: SyncFeatures = serde_json::from_str(json).unwrap();
        assert!(features.block_soft_match_enabled);
        assert!(features.quarantine_upon_upn_conflict_enabled);
        let written = serde_json::to_value(&features).unwrap();
        assert_eq!(written["groupWriteBackEnabled"], false);
    }
}
