//! The fixture: the whole emulated tenant as one JSON document.
//!
//! It is a superset of hardmatch's tenant snapshot (`hardmatch_core::tenant::TenantSnapshot`),
//! so a snapshot of a real tenant loads as is and can be rehearsed against. Users stay in
//! Graph's own JSON so that properties the core does not model (`businessPhones`,
//! `jobTitle`, …) are served back exactly; they are checked against the typed
//! [`CloudUser`] when loaded. The format is described in `FIXTURE.md` beside this crate.

use std::collections::HashSet;

use hardmatch_core::tenant::{
    CloudUser, RoleAssignment, RoleDefinition, TenantInfo, TenantSnapshot, TenantSnapshotSource,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::settings::Settings;

/// One Graph user as JSON, camelCase, as `GET /users?$select=…` returns it.
pub type UserObject = Map<String, Value>;

/// An app registration that can obtain tokens from the emulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRegistration {
    pub client_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The secret value (not its id). Absent: the app cannot use a secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The public certificate (PEM) whose key signs client assertions.
    #[serde(default)]
    pub certificate_pem: Option<String>,
    /// Granted and consented application permissions, e.g. `User.ReadWrite.All`.
    #[serde(default)]
    pub application_permissions: Vec<String>,
    /// Delegated permissions the app may obtain through the device-code flow.
    #[serde(default)]
    pub delegated_permissions: Vec<String>,
    /// Directory roles held by the app's service principal, by display name
    /// (e.g. `Privileged Authentication Administrator`): needed to touch admins.
    #[serde(default)]
    pub directory_roles: Vec<String>,
}

/// A join in Entra Connect's connector space: this on-prem anchor is exported to that
/// cloud user (`source_anchor`, `cloud_user_id`, optional `distinguished_name`). The core's
/// own type, so the sync rules read the emulator's state without conversion.
pub type ConnectorSpaceEntry = hardmatch_core::sync::ConnectorSpaceJoin;

/// A subscribed SKU, so that `licenseDetails` can name plans (`skuPartNumber`,
/// `servicePlans`). Graph JSON, camelCase.
pub type LicenseSku = Map<String, Value>;

/// The emulated tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fixture {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TenantSnapshotSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    pub tenant: TenantInfo,
    /// Active users and, marked by `deletedDateTime`, users in the recycle bin.
    #[serde(default)]
    pub users: Vec<UserObject>,
    #[serde(default)]
    pub role_definitions: Vec<RoleDefinition>,
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
    #[serde(default)]
    pub role_eligibilities: Vec<RoleAssignment>,
    #[serde(default)]
    pub apps: Vec<AppRegistration>,
    #[serde(default)]
    pub connector_space: Vec<ConnectorSpaceEntry>,
    #[serde(default)]
    pub license_skus: Vec<LicenseSku>,
    #[serde(default)]
    pub settings: Settings,
}

/// Why a fixture was refused.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("the fixture is not valid JSON for the fixture format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("user #{index} is not a valid Graph user: {reason}")]
    InvalidUser { index: usize, reason: String },
    #[error("two users have the id `{id}`")]
    DuplicateUserId { id: String },
    #[error("the tenant has no id")]
    MissingTenantId,
}

const EXAMPLE: &str = include_str!("../fixtures/contoso.json");

/// The service plans of Microsoft Entra ID P1 and P2 (name, id).
const ENTRA_ID_PREMIUM_SERVICE_PLANS: [(&str, &str); 2] = [
    ("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"),
    ("AAD_PREMIUM_P2", "eec0eb4f-6444-4f95-aba0-50c24d67f998"),
];

impl Fixture {
    /// Reads and checks a fixture (or a hardmatch tenant snapshot).
    pub fn from_json(text: &str) -> Result<Self, FixtureError> {
        let fixture: Self = serde_json::from_str(text)?;
        fixture.validate()?;
        Ok(fixture)
    }

    /// The tenant a snapshot describes, as a fixture: what a rehearsal runs a plan against.
    /// A snapshot has no apps and no connector space; callers add what they need
    /// ([`Fixture::ensure_lab_app`], `ConnectorSpace::infer`).
    pub fn from_snapshot(snapshot: &TenantSnapshot) -> Result<Self, FixtureError> {
        let fixture: Self = serde_json::from_value(serde_json::to_value(snapshot)?)?;
        fixture.validate()?;
        Ok(fixture)
    }

    /// Reads a fixture (or tenant snapshot) file.
    pub fn from_path(path: &std::path::Path) -> Result<Self, crate::EmulatorError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| crate::EmulatorError::ReadFile {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::from_json(&text)?)
    }

    /// Makes sure some app can obtain tokens: a tenant snapshot has no apps, so rehearsing
    /// against one needs this. Adds the example's `hardmatch` app (client secret
    /// `hardmatch-emulator-secret`) when the fixture has none, and returns the first app.
    pub fn ensure_lab_app(&mut self) -> Option<&AppRegistration> {
        if self.apps.is_empty()
            && let Some(app) = Self::example().apps.into_iter().next()
        {
            self.apps.push(app);
        }
        self.apps.first()
    }

    /// Whether the tenant has Microsoft Entra ID P1 or P2, which `signInActivity` needs: a
    /// subscribed SKU with one of their service plans, by name or by id.
    pub fn has_entra_id_premium(&self) -> bool {
        self.license_skus
            .iter()
            .filter_map(|sku| sku.get("servicePlans").and_then(Value::as_array))
            .flatten()
            .any(|plan| {
                let is = |property: &str, wanted: &str| {
                    plan.get(property)
                        .and_then(Value::as_str)
                        .is_some_and(|value| value.eq_ignore_ascii_case(wanted))
                };
                ENTRA_ID_PREMIUM_SERVICE_PLANS
                    .iter()
                    .any(|(name, id)| is("servicePlanName", name) || is("servicePlanId", id))
            })
    }

    /// Gives the tenant Microsoft Entra ID P1 (the `AAD_PREMIUM` SKU) unless it has P1 or P2.
    pub fn ensure_entra_id_premium(&mut self) {
        if self.has_entra_id_premium() {
            return;
        }
        let (name, id) = ENTRA_ID_PREMIUM_SERVICE_PLANS[0];
        if let Value::Object(sku) = serde_json::json!({
            "skuId": "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
            "skuPartNumber": name,
            "servicePlans": [{
                "servicePlanId": id,
                "servicePlanName": name,
                "provisioningStatus": "Success",
                "appliesTo": "User"
            }]
        }) {
            self.license_skus.push(sku);
        }
    }

    /// The bundled example tenant (`fixtures/contoso.json`).
    pub fn example() -> Self {
        // The bundled file is checked by a unit test; a broken build artefact is the only
        // way this fallback is reached, and an empty tenant is a visible symptom.
        Self::from_json(EXAMPLE).unwrap_or_else(|error| {
            tracing::error!(%error, "the bundled example fixture does not load");
            Self::empty(
                "00000000-0000-0000-0000-000000000000",
                "example.onmicrosoft.com",
            )
        })
    }

    /// The bundled example's JSON text, for writing it out.
    pub fn example_json() -> &'static str {
        EXAMPLE
    }

    /// A tenant with only its initial domain.
    pub fn empty(tenant_id: &str, initial_domain: &str) -> Self {
        Self {
            format_version: None,
            source: None,
            taken_at: None,
            tenant: TenantInfo {
                id: tenant_id.to_owned(),
                display_name: None,
                initial_domain: initial_domain.to_owned(),
                domains: vec![hardmatch_core::tenant::Domain {
                    id: initial_domain.to_owned(),
                    authentication_type: "Managed".to_owned(),
                    is_default: true,
                    is_initial: true,
                    is_verified: true,
                }],
                on_premises_sync_enabled: None,
                on_premises_last_sync_date_time: None,
                on_premises_synchronization: None,
            },
            users: Vec::new(),
            role_definitions: Vec::new(),
            role_assignments: Vec::new(),
            role_eligibilities: Vec::new(),
            apps: Vec::new(),
            connector_space: Vec::new(),
            license_skus: Vec::new(),
            settings: Settings::default(),
        }
    }

    /// The fixture's users in the typed form the rules read.
    pub fn cloud_users(&self) -> Result<Vec<CloudUser>, FixtureError> {
        self.users
            .iter()
            .enumerate()
            .map(|(index, user)| to_cloud_user(index, user))
            .collect()
    }

    fn validate(&self) -> Result<(), FixtureError> {
        if self.tenant.id.trim().is_empty() {
            return Err(FixtureError::MissingTenantId);
        }
        let mut ids = HashSet::new();
        for (index, user) in self.users.iter().enumerate() {
            let typed = to_cloud_user(index, user)?;
            if typed.id.is_empty() {
                return Err(FixtureError::InvalidUser {
                    index,
                    reason: "`id` is empty".to_owned(),
                });
            }
            if !ids.insert(typed.id.to_ascii_lowercase()) {
                return Err(FixtureError::DuplicateUserId {
                    id: typed.id.into_string(),
                });
            }
        }
        // A join may name a purged cloud user: Connect keeps the connector-space object
        // until the next cycle notices, so such a state must round-trip.
        Ok(())
    }
}

/// Converts one Graph user object to the typed model, naming the user on failure.
pub(crate) fn to_cloud_user(index: usize, user: &UserObject) -> Result<CloudUser, FixtureError> {
    serde_json::from_value(Value::Object(user.clone())).map_err(|error| FixtureError::InvalidUser {
        index,
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(plans: Value) -> LicenseSku {
        serde_json::json!({"skuId": "00000000-0000-0000-0000-000000000001", "servicePlans": plans})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn premium_is_an_entra_id_p1_or_p2_service_plan_named_or_by_id() {
        let mut fixture = Fixture::empty("t", "contoso.onmicrosoft.com");
        assert!(!fixture.has_entra_id_premium());
        fixture.license_skus.push(sku(serde_json::json!([
            {"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE"}
        ])));
        assert!(!fixture.has_entra_id_premium());
        fixture.license_skus.push(sku(
            serde_json::json!([{"servicePlanName": "AAD_PREMIUM_P2"}]),
        ));
        assert!(fixture.has_entra_id_premium());
        fixture.license_skus.pop();
        // Ids are compared as GUIDs are: without regard to case.
        fixture.license_skus.push(sku(serde_json::json!([
            {"servicePlanId": "41781FB2-BC02-4B7C-BD55-B576C07BB09D"}
        ])));
        assert!(fixture.has_entra_id_premium());
    }

    #[test]
    fn ensuring_premium_adds_p1_once_and_only_where_missing() {
        let mut fixture = Fixture::empty("t", "contoso.onmicrosoft.com");
        fixture.ensure_entra_id_premium();
        assert!(fixture.has_entra_id_premium());
        fixture.ensure_entra_id_premium();
        assert_eq!(fixture.license_skus.len(), 1);
        let mut with_p2 = Fixture::empty("t", "contoso.onmicrosoft.com");
        with_p2.license_skus.push(sku(
            serde_json::json!([{"servicePlanName": "AAD_PREMIUM_P2"}]),
        ));
        with_p2.ensure_entra_id_premium();
        assert_eq!(with_p2.license_skus.len(), 1);
    }

    #[test]
    fn the_bundled_example_loads_and_has_the_documented_cast() {
        let fixture = Fixture::from_json(EXAMPLE).unwrap();
        let users = fixture.cloud_users().unwrap();
        assert!(users.iter().any(|user| user.is_deleted()));
        assert!(
            users
                .iter()
                .any(|user| user.is_licensed() && !user.is_synced())
        );
        assert!(users.iter().any(|user| user.is_synced()));
        assert!(!fixture.role_assignments.is_empty());
        assert!(!fixture.apps.is_empty());
        assert_eq!(fixture.tenant.initial_domain, "contoso.onmicrosoft.com");
    }

    #[test]
    fn a_hardmatch_tenant_snapshot_loads_as_a_fixture() {
        let snapshot = hardmatch_core::tenant::TenantSnapshot {
            format_version: hardmatch_core::tenant::TENANT_SNAPSHOT_FORMAT_VERSION,
            source: TenantSnapshotSource {
                kind: "graph".into(),
                location: "https://graph.microsoft.com/v1.0".into(),
            },
            taken_at: "2026-11-22T00:00:00Z".into(),
            tenant: Fixture::example().tenant,
            users: Fixture::example().cloud_users().unwrap(),
            role_definitions: Vec::new(),
            role_assignments: Vec::new(),
            role_eligibilities: Vec::new(),
        };
        let text = serde_json::to_string(&snapshot).unwrap();
        let fixture = Fixture::from_json(&text).unwrap();
        assert_eq!(fixture.users.len(), snapshot.users.len());
        assert_eq!(fixture.format_version, Some(1));
    }

    #[test]
    fn a_snapshot_value_becomes_a_fixture_with_its_users_and_roles() {
        let example = Fixture::example();
        let snapshot = TenantSnapshot {
            format_version: hardmatch_core::tenant::TENANT_SNAPSHOT_FORMAT_VERSION,
            source: TenantSnapshotSource {
                kind: "graph".into(),
                location: "https://graph.microsoft.com/v1.0".into(),
            },
            taken_at: "2026-11-22T00:00:00Z".into(),
            tenant: example.tenant.clone(),
            users: example.cloud_users().unwrap(),
            role_definitions: example.role_definitions.clone(),
            role_assignments: example.role_assignments.clone(),
            role_eligibilities: example.role_eligibilities.clone(),
        };
        let fixture = Fixture::from_snapshot(&snapshot).unwrap();
        assert_eq!(fixture.cloud_users().unwrap(), snapshot.users);
        assert_eq!(fixture.role_assignments, snapshot.role_assignments);
        assert_eq!(fixture.taken_at.as_deref(), Some("2026-11-22T00:00:00Z"));
        assert!(fixture.apps.is_empty());

        let mut twice = snapshot.clone();
        twice.users.push(twice.users[0].clone());
        assert!(matches!(
            Fixture::from_snapshot(&twice),
            Err(FixtureError::DuplicateUserId { .. })
        ));
    }

    #[test]
    fn a_snapshot_without_apps_gets_the_lab_app() {
        let mut fixture = Fixture::empty("t", "x.onmicrosoft.com");
        assert_eq!(
            fixture.ensure_lab_app().unwrap().client_id,
            "8a9f2c1e-4b3d-4e5f-9a6b-7c8d9e0f1a2b"
        );
        let mut example = Fixture::example();
        let apps = example.apps.len();
        example.ensure_lab_app();
        assert_eq!(example.apps.len(), apps);
    }

    #[test]
    fn refuses_users_without_an_upn_and_duplicate_ids() {
        let text = r#"{"tenant":{"id":"t","initial_domain":"x.onmicrosoft.com"},
            "users":[{"id":"a"}]}"#;
        assert!(matches!(
            Fixture::from_json(text),
            Err(FixtureError::InvalidUser { index: 0, .. })
        ));
        let text = r#"{"tenant":{"id":"t","initial_domain":"x.onmicrosoft.com"},
            "users":[{"id":"a","userPrincipalName":"a@x"},{"id":"A","userPrincipalName":"b@x"}]}"#;
        assert!(matches!(
            Fixture::from_json(text),
            Err(FixtureError::DuplicateUserId { .. })
        ));
    }

    #[test]
    fn unknown_settings_are_refused_so_typos_do_not_silently_change_nothing() {
        let text = r#"{"tenant":{"id":"t","initial_domain":"x.onmicrosoft.com"},
            "settings":{"throttling_enabeld":false}}"#;
        assert!(matches!(
            Fixture::from_json(text),
            Err(FixtureError::Json(_))
        ));
    }
}
