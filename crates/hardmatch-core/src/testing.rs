//! Builders for unit tests: small AD users, cloud users and tenants with readable names.

use crate::ad::{AdUser, AnchorAttribute};
use crate::anchor::ObjectGuid;
use crate::sync::{
    ConnectorSpace, ConnectorSpaceJoin, SyncCycleInput, SyncCycleOutcome, SyncOptions, SyncScope,
    run_sync_cycle,
};
use crate::tenant::{
    AssignedLicense, CloudUser, Domain, OnPremisesSynchronization, RoleAssignment, SyncFeatures,
    TenantInfo,
};

pub(crate) const NOW: &str = "2026-11-22T03:00:00Z";

/// An AD user in `OU=Staff,DC=corp,DC=contoso,DC=com` whose GUID bytes are all `seed`.
pub(crate) fn ad_user(seed: u8, user_principal_name: &str) -> AdUser {
    let guid = ObjectGuid::from_ad_bytes([seed; 16]);
    let local = user_principal_name
        .split('@')
        .next()
        .unwrap_or(user_principal_name);
    AdUser {
        distinguished_name: format!("CN={local},OU=Staff,DC=corp,DC=contoso,DC=com").into(),
        domain: Some("corp.contoso.com".into()),
        object_guid: guid,
        consistency_guid: None,
        anchor_attribute: AnchorAttribute::ObjectGuid,
        immutable_id: guid.immutable_id(),
        user_principal_name: Some(user_principal_name.into()),
        mail: None,
        proxy_addresses: Vec::new(),
        sam_account_name: Some(local.into()),
        display_name: Some(format!("{local} (AD)").into()),
        enabled: true,
        object_sid: None,
    }
}

pub(crate) fn with_mail(mut user: AdUser, address: &str) -> AdUser {
    user.mail = Some(address.into());
    user.proxy_addresses = vec![format!("SMTP:{address}")];
    user
}

/// A cloud-only user.
pub(crate) fn cloud_user(id: &str, user_principal_name: &str) -> CloudUser {
    CloudUser {
        id: id.into(),
        user_principal_name: user_principal_name.into(),
        display_name: Some(format!("{id} (cloud)").into()),
        account_enabled: Some(true),
        ..CloudUser::default()
    }
}

pub(crate) fn cloud_with_mail(mut user: CloudUser, address: &str) -> CloudUser {
    user.mail = Some(address.into());
    user.proxy_addresses = vec![format!("SMTP:{address}")];
    user
}

pub(crate) fn licensed(mut user: CloudUser) -> CloudUser {
    user.assigned_licenses = vec![AssignedLicense {
        sku_id: "c7df2760-2c81-4ef7-b578-5b5392b571df".into(),
        disabled_plans: Vec::new(),
    }];
    user
}

/// A cloud user that the sync created and joins to `ad`.
pub(crate) fn synced_from(id: &str, user_principal_name: &str, ad: &AdUser) -> CloudUser {
    CloudUser {
        on_premises_immutable_id: Some(ad.immutable_id.clone()),
        on_premises_sync_enabled: Some(true),
        on_premises_distinguished_name: Some(ad.distinguished_name.clone()),
        ..cloud_user(id, user_principal_name)
    }
}

pub(crate) fn tenant() -> TenantInfo {
    let domain = |name: &str, initial: bool| Domain {
        id: name.into(),
        authentication_type: "Managed".into(),
        is_default: !initial,
        is_initial: initial,
        is_verified: true,
    };
    TenantInfo {
        id: "00000000-0000-0000-0000-00000000c0de".into(),
        display_name: Some("Contoso".into()),
        initial_domain: "contoso.onmicrosoft.com".into(),
        domains: vec![
            domain("contoso.com", false),
            domain("contoso.onmicrosoft.com", true),
        ],
        on_premises_sync_enabled: Some(true),
        on_premises_last_sync_date_time: None,
        on_premises_synchronization: Some(OnPremisesSynchronization {
            features: SyncFeatures {
                quarantine_upon_upn_conflict_enabled: true,
                quarantine_upon_proxy_addresses_conflict_enabled: true,
                ..SyncFeatures::default()
            },
            ..OnPremisesSynchronization::default()
        }),
    }
}

pub(crate) fn role(principal: &str) -> RoleAssignment {
    RoleAssignment {
        id: format!("role-{principal}"),
        principal_id: principal.into(),
        role_definition_id: "62e90394-69f5-4237-9190-012177145e10".into(),
        directory_scope_id: "/".into(),
    }
}

/// Everything a cycle reads, owned, with a way to run it.
#[derive(Clone, Debug)]
pub(crate) struct World {
    pub(crate) ad: Vec<AdUser>,
    pub(crate) cloud: Vec<CloudUser>,
    pub(crate) tenant: TenantInfo,
    pub(crate) roles: Vec<RoleAssignment>,
    pub(crate) eligible: Vec<RoleAssignment>,
    pub(crate) connector_space: ConnectorSpace,
    pub(crate) scope: SyncScope,
    pub(crate) options: SyncOptions,
}

impl World {
    pub(crate) fn new(ad: Vec<AdUser>, cloud: Vec<CloudUser>) -> Self {
        Self {
            ad,
            cloud,
            tenant: tenant(),
            roles: Vec::new(),
            eligible: Vec::new(),
            connector_space: ConnectorSpace::default(),
            scope: SyncScope::All,
            options: SyncOptions::default(),
        }
    }

    pub(crate) fn join(mut self, ad_position: usize, cloud_id: &str) -> Self {
        self.connector_space.joins.push(ConnectorSpaceJoin {
            source_anchor: self.ad[ad_position].immutable_id.clone(),
            cloud_user_id: cloud_id.into(),
            distinguished_name: None,
        });
        self
    }

    pub(crate) fn features(&mut self) -> &mut SyncFeatures {
        &mut self
            .tenant
            .on_premises_synchronization
            .get_or_insert_with(OnPremisesSynchronization::default)
            .features
    }

    pub(crate) fn run(&self) -> SyncCycleOutcome {
        run_sync_cycle(&SyncCycleInput {
            ad_users: &self.ad,
            scope: &self.scope,
            tenant: &self.tenant,
            cloud_users: &self.cloud,
            role_assignments: &self.roles,
            role_eligibilities: &self.eligible,
            connector_space: &self.connector_space,
            options: &self.options,
            now: NOW,
        })
    }

    /// Runs a cycle and applies it, as the emulator would; new users get `synced-N` ids.
    pub(crate) fn sync(&mut self) -> SyncCycleOutcome {
        let outcome = self.run();
        let mut counter = self.cloud.len();
        crate::sync::apply_operations(
            &mut self.cloud,
            &mut self.connector_space,
            &outcome.operations,
            NOW,
            |_| {
                counter += 1;
                format!("synced-{counter}")
            },
        );
        outcome
    }

    pub(crate) fn cloud_by_id(&self, id: &str) -> Option<&CloudUser> {
        self.cloud.iter().find(|user| user.id == id)
    }
}
