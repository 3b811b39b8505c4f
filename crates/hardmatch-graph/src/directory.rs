//! Tenant-wide reads: organization, domains, sync feature flags, roles and PIM
//! eligibilities; and starting a Cloud Sync job.

use hardmatch_core::tenant::{
    Domain, OnPremisesSynchronization, RoleAssignment, RoleDefinition, TenantInfo,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{GraphClient, GraphRequest, PAGE_SIZE, Query, encode_component, odata_string};
use crate::error::{GraphError, Operation};

/// Graph `organization`, the properties hardmatch reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub on_premises_last_sync_date_time: Option<String>,
    #[serde(default)]
    pub verified_domains: Vec<VerifiedDomain>,
}

/// Graph `verifiedDomain`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub is_initial: bool,
    #[serde(default, rename = "type")]
    pub domain_type: Option<String>,
}

/// The tenant's sync feature flags, or why they could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncSettingsRead {
    Known(Box<OnPremisesSynchronization>),
    /// Reading them needs a delegated Global Administrator token; app-only tokens get 403.
    Unknown {
        reason: String,
    },
}

#[derive(Deserialize)]
struct Collection<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
}

const ROLE_ASSIGNMENT_SELECT: &[&str] =
    &["id", "principalId", "roleDefinitionId", "directoryScopeId"];

impl GraphClient {
    /// `GET /organization`: tenant id, name, sync state, verified domains.
    pub async fn organization(&self) -> Result<Organization, GraphError> {
        let path = Query::default()
            .select(&[
                "id",
                "displayName",
                "onPremisesSyncEnabled",
                "onPremisesLastSyncDateTime",
                "verifiedDomains",
            ])
            .apply("/organization");
        let collection: Collection<Organization> = self
            .get_json(&GraphRequest::get(
                path,
                Operation::ReadOrganization,
                "organization",
            ))
            .await?;
        collection
            .value
            .into_iter()
            .next()
            .ok_or_else(|| GraphError::UnexpectedResponse {
                reason: "GET /organization returned no organization".to_owned(),
                request: Default::default(),
            })
    }

    /// `GET /domains`: every domain with its authentication type (federated or managed).
    pub async fn domains(&self) -> Result<Vec<Domain>, GraphError> {
        let path = Query::default()
            .select(&[
                "id",
                "authenticationType",
                "isDefault",
                "isInitial",
                "isVerified",
            ])
            .apply("/domains");
        self.list_all(
            &GraphRequest::get(path, Operation::ReadDomains, "domains"),
            &mut |_| {},
        )
        .await
    }

    /// The tenant's `onPremisesSynchronization` settings; "unknown" when the token may not
    /// read them (app-only tokens never may).
    pub async fn sync_settings(&self) -> Result<SyncSettingsRead, GraphError> {
        let request = GraphRequest::get(
            "/directory/onPremisesSynchronization",
            Operation::ReadSyncSettings,
            "onPremisesSynchronization",
        );
        match self
            .get_json::<Collection<OnPremisesSynchronization>>(&request)
            .await
        {
            Ok(collection) => match collection.value.into_iter().next() {
                Some(settings) => Ok(SyncSettingsRead::Known(Box::new(settings))),
                None => Ok(SyncSettingsRead::Unknown {
                    reason: "the tenant has no onPremisesSynchronization object".to_owned(),
                }),
            },
            Err(GraphError::PermissionDenied { .. }) => Ok(SyncSettingsRead::Unknown {
                reason: "reading the sync feature flags needs a delegated Global Administrator \
                         token (--device-code); app-only tokens cannot read them"
                    .to_owned(),
            }),
            Err(error) => Err(error),
        }
    }

    /// Changes sync feature flags, e.g. `blockCloudObjectTakeoverThroughHardMatchEnabled`
    /// for the hard-match window (`PATCH /directory/onPremisesSynchronization/{id}`);
    /// only the given flags change. Needs a delegated Global Administrator token.
    pub async fn update_sync_features(
        &self,
        settings_id: &str,
        features: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), GraphError> {
        self.send(&GraphRequest::write(
            Method::PATCH,
            format!(
                "/directory/onPremisesSynchronization/{}",
                encode_component(settings_id)
            ),
            Some(serde_json::json!({ "features": features })),
            Operation::WriteSyncSettings,
            settings_id,
        ))
        .await
        .map(|_| ())
    }

    /// Organization, domains and sync flags together, as the snapshot stores them.
    pub async fn tenant_info(&self) -> Result<TenantInfo, GraphError> {
        let (organization, domains, sync) =
            tokio::join!(self.organization(), self.domains(), self.sync_settings());
        Ok(tenant_info_from(organization?, domains?, sync?))
    }

    /// Every directory role definition (to name roles in evidence).
    pub async fn role_definitions(&self) -> Result<Vec<RoleDefinition>, GraphError> {
        let path = Query::default()
            .select(&["id", "displayName"])
            .apply("/roleManagement/directory/roleDefinitions");
        self.list_all(
            &GraphRequest::get(path, Operation::ReadRoles, "roleDefinitions"),
            &mut |_| {},
        )
        .await
    }

    /// Active role assignments, of one principal or of everyone.
    pub async fn role_assignments(
        &self,
        principal_id: Option<&str>,
    ) -> Result<Vec<RoleAssignment>, GraphError> {
        self.role_list("/roleManagement/directory/roleAssignments", principal_id)
            .await
    }

    /// PIM eligibilities (`roleEligibilityScheduleInstances`), of one principal or of everyone.
    pub async fn role_eligibilities(
        &self,
        principal_id: Option<&str>,
    ) -> Result<Vec<RoleAssignment>, GraphError> {
        self.role_list(
            "/roleManagement/directory/roleEligibilityScheduleInstances",
            principal_id,
        )
        .await
    }

    async fn role_list(
        &self,
        path: &str,
        principal_id: Option<&str>,
    ) -> Result<Vec<RoleAssignment>, GraphError> {
        let mut query = Query::default();
        if let Some(principal) = principal_id {
            query = query.filter(&format!("principalId eq {}", odata_string(principal)));
        }
        let path = query
            .select(ROLE_ASSIGNMENT_SELECT)
            .top(PAGE_SIZE)
            .apply(path);
        self.list_all(
            &GraphRequest::get(path, Operation::ReadRoles, "role assignments"),
            &mut |_| {},
        )
        .await
    }

    /// Starts a Cloud Sync (provisioning) job: `POST /servicePrincipals/{id}/synchronization/jobs/{job}/start`.
    pub async fn start_synchronization_job(
        &self,
        service_principal_id: &str,
        job_id: &str,
    ) -> Result<(), GraphError> {
        let path = format!(
            "/servicePrincipals/{}/synchronization/jobs/{}/start",
            encode_component(service_principal_id),
            encode_component(job_id)
        );
        self.send(&GraphRequest::write(
            Method::POST,
            path,
            None,
            Operation::StartSynchronizationJob,
            job_id,
        ))
        .await
        .map(|_| ())
    }
}

fn tenant_info_from(
    organization: Organization,
    domains: Vec<Domain>,
    sync: SyncSettingsRead,
) -> TenantInfo {
    let initial_domain = organization
        .verified_domains
        .iter()
        .find(|domain| domain.is_initial)
        .map(|domain| domain.name.clone())
        .or_else(|| {
            domains
                .iter()
                .find(|domain| domain.is_initial)
                .map(|domain| domain.id.clone())
        })
        .unwrap_or_default();
    TenantInfo {
        id: organization.id,
        display_name: organization.display_name,
        initial_domain,
        domains,
        on_premises_sync_enabled: organization.on_premises_sync_enabled,
        on_premises_last_sync_date_time: organization.on_premises_last_sync_date_time,
        on_premises_synchronization: match sync {
            SyncSettingsRead::Known(settings) => Some(*settings),
            SyncSettingsRead::Unknown { .. } => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_sample_reads_and_names_the_initial_domain() {
        let json = r#"{"value":[{"id":"b1c6c1d4-0000-4000-8000-000000000001","displayName":"Contoso",
            "onPremisesSyncEnabled":true,"onPremisesLastSyncDateTime":"2026-11-21T10:00:00Z",
            "verifiedDomains":[{"name":"contoso.com","isDefault":true,"isInitial":false,"type":"Federated","capabilities":"Email"},
                               {"name":"contoso.onmicrosoft.com","isDefault":false,"isInitial":true,"type":"Managed","capabilities":"Email"}]}]}"#;
        let collection: Collection<Organization> = serde_json::from_str(json).expect("parses");
        let organization = collection.value.into_iter().next().expect("one");
        let info = tenant_info_from(
            organization,
            Vec::new(),
            SyncSettingsRead::Unknown {
                reason: String::new(),
            },
        );
        assert_eq!(info.initial_domain, "contoso.onmicrosoft.com");
        assert_eq!(info.on_premises_sync_enabled, Some(true));
        assert!(info.on_premises_synchronization.is_none());
    }
}
