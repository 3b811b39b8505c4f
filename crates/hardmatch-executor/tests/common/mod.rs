//! What the executor's test suite and its throughput example share: a tenant of licensed
//! cloud accounts, the AD users they belong to, and the emulator's sync cycle as a sync port.
//! The example includes this file with `#[path]`, so the two cannot drift apart.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use hardmatch_core::ad::{AdUser, AnchorAttribute};
use hardmatch_core::anchor::ObjectGuid;
use hardmatch_emulator::{Fixture, RunningEmulator, SyncRequest};
use hardmatch_executor::adapters::SnapshotDirectory;
use hardmatch_executor::ports::{PortError, Sent, SyncPort};
use serde_json::{Value, json};

pub(crate) const CLIENT_ID: &str = "0f1e2d3c-4b5a-4697-8877-665544332211";
pub(crate) const CLIENT_SECRET: &str = "executor-test-secret";
pub(crate) const LICENCE: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";

pub(crate) fn real_id(index: usize) -> String {
    format!("a1b2c3d4-{index:04}-4e5f-9a0b-1c2d3e4f5a61")
}

/// A tenant with `users` licensed cloud accounts, `user<N>@contoso.com`, none synced.
pub(crate) fn fixture(users: usize) -> Fixture {
    let accounts: Vec<Value> = (0..users)
        .map(|index| {
            json!({
                "id": real_id(index),
                "userPrincipalName": format!("user{index}@contoso.com"),
                "displayName": format!("User {index}"),
                "mail": format!("user{index}@contoso.com"),
                "mailNickname": format!("user{index}"),
                "proxyAddresses": [format!("SMTP:user{index}@contoso.com")],
                "accountEnabled": true,
                "createdDateTime": "2022-05-02T09:00:00Z",
                "onPremisesImmutableId": null,
                "onPremisesSyncEnabled": null,
                "assignedLicenses": [{ "skuId": LICENCE, "disabledPlans": [] }]
            })
        })
        .collect();
    let document = json!({
        "format_version": 1,
        "tenant": {
            "id": "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f",
            "display_name": "Contoso",
            "initial_domain": "contoso.onmicrosoft.com",
            "domains": [
                { "id": "contoso.com", "authenticationType": "Managed", "isDefault": true, "isInitial": false, "isVerified": true },
                { "id": "contoso.onmicrosoft.com", "authenticationType": "Managed", "isDefault": false, "isInitial": true, "isVerified": true }
            ],
            "on_premises_sync_enabled": true,
            "on_premises_last_sync_date_time": null
        },
        "apps": [{
            "client_id": CLIENT_ID,
            "display_name": "hardmatch executor test",
            "client_secret": CLIENT_SECRET,
            "application_permissions": [
                "User.ReadWrite.All", "User.DeleteRestore.All", "Organization.Read.All",
                "Domain.Read.All", "RoleManagement.Read.Directory"
            ]
        }],
        "users": accounts,
        "role_definitions": [],
        "role_assignments": [],
        "role_eligibilities": []
    });
    let mut fixture = Fixture::from_json(&document.to_string()).unwrap();
    // Quotas are the Graph client's business and tested there; these tests count writes.
    // The throughput example switches them back on.
    fixture.settings.throttling_enabled = false;
    fixture
}

/// AD users on an unverified UPN suffix with their contoso address as a secondary one:
/// the first sync cannot soft-match them and creates duplicates (the field story).
pub(crate) fn ad_users(users: usize) -> Vec<AdUser> {
    (0..users)
        .map(|index| {
            let mut bytes = [0x5a; 16];
            bytes[0] = index as u8;
            bytes[1] = (index >> 8) as u8;
            let guid = ObjectGuid::from_ad_bytes(bytes);
            AdUser {
                distinguished_name: format!("CN=User {index},OU=Sales,DC=corp,DC=contoso,DC=com")
                    .into(),
                domain: Some("corp.contoso.com".into()),
                object_guid: guid,
                consistency_guid: None,
                anchor_attribute: AnchorAttribute::ObjectGuid,
                immutable_id: guid.immutable_id(),
                user_principal_name: Some(format!("user{index}@fabrikam.com").into()),
                mail: Some(format!("user{index}@fabrikam.com").into()),
                proxy_addresses: vec![
                    format!("SMTP:user{index}@fabrikam.com"),
                    format!("smtp:user{index}@contoso.com"),
                ],
                sam_account_name: Some(format!("user{index}").into()),
                display_name: Some(format!("User {index}").into()),
                enabled: true,
                object_sid: None,
            }
        })
        .collect()
}

/// The emulator's sync cycle over the in-memory directory.
pub(crate) struct EmulatorSync<'a> {
    pub(crate) emulator: &'a RunningEmulator,
    pub(crate) directory: &'a SnapshotDirectory,
}

impl SyncPort for EmulatorSync<'_> {
    async fn trigger(&self, _policy: &str) -> Result<Sent, PortError> {
        let report = self
            .emulator
            .run_sync(SyncRequest {
                ad_users: Some(self.directory.users()),
                ..SyncRequest::default()
            })
            .map_err(|error| PortError::new(error.to_string()))?;
        Ok(Sent {
            request_id: None,
            response: Some(report),
        })
    }
}
