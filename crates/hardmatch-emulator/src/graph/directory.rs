//! Tenant-wide reads: `/organization`, `/domains` (graph-api.md §6) and
//! `/directory/onPremisesSynchronization` (§7), which app-only tokens cannot read by
//! default because the permission is delegated-only and needs a Global Administrator.

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::Call;
use super::auth::Principal;
use crate::state::is_global_administrator;
use crate::wire::{ApiResponse, GraphError, OrderedObject};

/// The 20 feature flags of `onPremisesDirectorySynchronizationFeature` (CSDL excerpt).
const FEATURE_FLAGS: [&str; 20] = [
    "allowOnPremUpdateOfOnPremisesObjectIdentifierEnabled",
    "blockCloudObjectTakeoverThroughHardMatchEnabled",
    "blockSoftMatchEnabled",
    "bypassDirSyncOverridesEnabled",
    "cloudPasswordPolicyForPasswordSyncedUsersEnabled",
    "concurrentCredentialUpdateEnabled",
    "concurrentOrgIdProvisioningEnabled",
    "deviceWritebackEnabled",
    "directoryExtensionsEnabled",
    "fopeConflictResolutionEnabled",
    "groupWriteBackEnabled",
    "passwordSyncEnabled",
    "passwordWritebackEnabled",
    "quarantineUponProxyAddressesConflictEnabled",
    "quarantineUponUpnConflictEnabled",
    "softMatchOnUpnEnabled",
    "synchronizeUpnForManagedUsersEnabled",
    "unifiedGroupWritebackEnabled",
    "userForcePasswordChangeOnLogonEnabled",
    "userWritebackEnabled",
];

fn collection(call: &Call<'_>, fragment: &str, items: Vec<Value>) -> ApiResponse {
    let mut body = OrderedObject::default();
    body.push("@odata.context", Value::String(call.context(fragment)));
    body.push("value", Value::Array(items));
    ApiResponse::odata_json(StatusCode::OK, &body)
}

fn entity(call: &Call<'_>, fragment: &str, item: Value) -> ApiResponse {
    let mut body = OrderedObject::default();
    body.push("@odata.context", Value::String(call.context(fragment)));
    if let Value::Object(map) = item {
        body.0.extend(map);
    }
    ApiResponse::odata_json(StatusCode::OK, &body)
}

/// Keeps only `$select`ed keys (plus `id`, which Graph always returns).
fn select(call: &Call<'_>, item: Value) -> Value {
    let pairs = crate::wire::query_pairs(&call.request.query);
    let Some((_, selected)) = pairs
        .iter()
        .find(|(key, _)| key.trim_start_matches('$').eq_ignore_ascii_case("select"))
    else {
        return item;
    };
    let wanted: Vec<&str> = selected.split(',').map(str::trim).collect();
    match item {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| {
                    key == "id" || wanted.iter().any(|want| want.eq_ignore_ascii_case(key))
                })
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

pub(crate) fn organization(call: &Call<'_>, id: Option<&str>) -> Result<ApiResponse, GraphError> {
    call.principal.require(
        &[
            "Organization.Read.All",
            "Organization.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        &[
            "User.Read",
            "Organization.Read.All",
            "Organization.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
            "Directory.AccessAsUser.All",
        ],
    )?;
    let fixture = call.emulator.tenant();
    let tenant = &fixture.tenant;
    if id.is_some_and(|id| !id.eq_ignore_ascii_case(&tenant.id)) {
        return Err(GraphError::not_found(id.unwrap_or_default()));
    }
    let verified: Vec<Value> = tenant
        .domains
        .iter()
        .filter(|domain| domain.is_verified)
        .map(|domain| {
            json!({
                "capabilities": if domain.is_initial { "Email, OfficeCommunicationsOnline" } else { "Email" },
                "isDefault": domain.is_default,
                "isInitial": domain.is_initial,
                "name": domain.id,
                "type": domain.authentication_type,
            })
        })
        .collect();
    let item = json!({
        "id": tenant.id,
        "deletedDateTime": null,
        "businessPhones": [],
        "city": null,
        "country": null,
        "countryLetterCode": "US",
        "createdDateTime": null,
        "defaultUsageLocation": null,
        "displayName": tenant.display_name,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": tenant.on_premises_last_sync_date_time,
        "onPremisesSyncEnabled": tenant.on_premises_sync_enabled,
        "postalCode": null,
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": null,
        "street": null,
        "technicalNotificationMails": [],
        "tenantType": "AAD",
        "assignedPlans": [],
        "provisionedPlans": [],
        "verifiedDomains": verified,
    });
    let item = select(call, item);
    Ok(match id {
        None => collection(call, "organization", vec![item]),
        Some(_) => entity(call, "organization/$entity", item),
    })
}

fn domain_json(domain: &hardmatch_core::tenant::Domain) -> Value {
    json!({
        "authenticationType": domain.authentication_type,
        "availabilityStatus": null,
        "id": domain.id,
        "isAdminManaged": true,
        "isDefault": domain.is_default,
        "isInitial": domain.is_initial,
        "isRoot": true,
        "isVerified": domain.is_verified,
        "manufacturer": null,
        "model": null,
        "passwordNotificationWindowInDays": 14,
        "passwordValidityPeriodInDays": 2_147_483_647,
        "state": null,
        "supportedServices": if domain.is_verified { json!(["Email"]) } else { json!([]) },
    })
}

pub(crate) fn domains(call: &Call<'_>, id: Option<&str>) -> Result<ApiResponse, GraphError> {
    call.principal.require(
        &[
            "Domain.Read.All",
            "Domain.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        &[
            "Domain.Read.All",
            "Domain.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
            "Directory.AccessAsUser.All",
        ],
    )?;
    let fixture = call.emulator.tenant();
    match id {
        None => {
            let items = fixture
                .tenant
                .domains
                .iter()
                .map(|domain| select(call, domain_json(domain)))
                .collect();
            Ok(collection(call, "domains", items))
        }
        Some(id) => {
            let domain = fixture
                .tenant
                .domains
                .iter()
                .find(|domain| domain.id.eq_ignore_ascii_case(id))
                .ok_or_else(|| GraphError::not_found(id))?;
            Ok(entity(
                call,
                "domains/$entity",
                select(call, domain_json(domain)),
            ))
        }
    }
}

/// Delegated-only, Global Administrator only; app-only per switch (graph-api.md §7, §16 #8).
fn require_sync_settings(call: &Call<'_>, write: bool) -> Result<(), GraphError> {
    let fixture = call.emulator.tenant();
    let permissions: &[&str] = if write {
        &["OnPremDirectorySynchronization.ReadWrite.All"]
    } else {
        &[
            "OnPremDirectorySynchronization.Read.All",
            "OnPremDirectorySynchronization.ReadWrite.All",
        ]
    };
    match &call.principal {
        Principal::Application { .. } => {
            if !fixture.settings.sync_settings_app_only_allowed {
                return Err(GraphError::forbidden());
            }
            call.principal.require(permissions, permissions)
        }
        Principal::User { user_id, .. } => {
            call.principal.require(permissions, permissions)?;
            if is_global_administrator(&fixture, user_id) {
                Ok(())
            } else {
                Err(GraphError::forbidden())
            }
        }
    }
}

fn sync_settings_json(fixture: &crate::fixture::Fixture) -> Value {
    let settings = fixture
        .tenant
        .on_premises_synchronization
        .clone()
        .unwrap_or_default();
    let written = serde_json::to_value(&settings.features).unwrap_or_else(|_| json!({}));
    let mut features = Map::new();
    for flag in FEATURE_FLAGS {
        features.insert(
            flag.to_owned(),
            written
                .get(flag)
                .cloned()
                .filter(Value::is_boolean)
                .unwrap_or(Value::Bool(false)),
        );
    }
    let id = if settings.id.is_empty() {
        fixture.tenant.id.clone()
    } else {
        settings.id
    };
    json!({
        "id": id,
        "configuration": {
            "accidentalDeletionPrevention": {
                "synchronizationPreventionType": settings.configuration.accidental_deletion_prevention.synchronization_prevention_type,
                "alertThreshold": settings.configuration.accidental_deletion_prevention.alert_threshold,
            },
        },
        "features": features,
    })
}

pub(crate) fn sync_settings(call: &Call<'_>, id: Option<&str>) -> Result<ApiResponse, GraphError> {
    require_sync_settings(call, false)?;
    let fixture = call.emulator.tenant();
    let item = sync_settings_json(&fixture);
    match id {
        None => Ok(collection(
            call,
            "directory/onPremisesSynchronization",
            vec![item],
        )),
        Some(id)
            if item
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|known| known.eq_ignore_ascii_case(id)) =>
        {
            Ok(entity(
                call,
                "directory/onPremisesSynchronization/$entity",
                item,
            ))
        }
        Some(id) => Err(GraphError::not_found(id)),
    }
}

pub(crate) fn patch_sync_settings(call: &Call<'_>, id: &str) -> Result<ApiResponse, GraphError> {
    require_sync_settings(call, true)?;
    let body: Value = serde_json::from_slice(&call.request.body).map_err(|_| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )
    })?;
    let mut fixture = call.emulator.tenant();
    let current = sync_settings_json(&fixture);
    if !current
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|known| known.eq_ignore_ascii_case(id))
    {
        return Err(GraphError::not_found(id));
    }
    let mut features = current
        .get("features")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(Value::Object(changes)) = body.get("features") {
        for (flag, value) in changes {
            if !FEATURE_FLAGS.contains(&flag.as_str()) || !value.is_boolean() {
                return Err(GraphError::bad_request(format!(
                    "Invalid value specified for property '{flag}' of resource 'OnPremisesDirectorySynchronizationFeature'."
                )));
            }
            // entra-matching.md §7: softMatchOnUpn cannot be turned off once on.
            if flag == "softMatchOnUpnEnabled"
                && value == &Value::Bool(false)
                && features[flag] == Value::Bool(true)
            {
                return Err(GraphError::bad_request(
                    "Invalid value specified for property 'softMatchOnUpnEnabled' of resource 'OnPremisesDirectorySynchronizationFeature'.",
                ));
            }
            features[flag] = value.clone();
        }
    }
    let mut settings = fixture
        .tenant
        .on_premises_synchronization
        .clone()
        .unwrap_or_default();
    settings.id = id.to_owned();
    settings.features = serde_json::from_value(features)
        .map_err(|_| GraphError::bad_request("Invalid feature flags."))?;
    fixture.tenant_info_mut().on_premises_synchronization = Some(settings);
    Ok(ApiResponse::new(StatusCode::NO_CONTENT))
}
