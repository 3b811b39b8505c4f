//! The emulator's Entra Connect sync cycle (`POST /_emulator/sync`). The rules are not
//! here: they are `hardmatch_core::sync::run_sync_cycle`, the same pure function hardmatch
//! uses to predict the next sync. This module only gathers the input (AD users from the
//! request body or the configured AD snapshot; reading live LDAP is hardmatch-ad's job and
//! its caller passes the users in), applies the operations to the emulator's state with
//! real object ids and timestamps, and returns the core's JSON report.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use hardmatch_core::ad::{AdSnapshot, AdUser};
use hardmatch_core::sync::{
    ConnectorSpace, SyncCycleInput, SyncEngine, SyncOptions, SyncScope, apply_operations,
    deletion_threshold_of, run_sync_cycle,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::graph_date_time;
use crate::error::EmulatorError;
use crate::fixture::Fixture;
use crate::graph::users::ORIGINAL_UPN_KEY;
use crate::state::{Tenant, is_deleted, string_property, user_id};

/// What a sync cycle reads on the AD side, and how.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncRequest {
    /// AD users to import; when absent, `ad_snapshot`, else the emulator's configured
    /// snapshot.
    pub ad_users: Option<Vec<AdUser>>,
    pub ad_snapshot: Option<AdSnapshot>,
    pub scope: SyncScope,
    pub engine: SyncEngine,
    pub staging_mode: bool,
}

/// Runs one cycle on the tenant; returns the core's report as JSON.
pub(crate) fn run(
    tenant: &mut Tenant,
    request: SyncRequest,
    default_snapshot: Option<&AdSnapshot>,
    now: SystemTime,
) -> Result<Value, EmulatorError> {
    // The cycle may touch any user, so the tenant orders and indexes its users again after.
    tenant.change_all(|fixture| run_on(fixture, request, default_snapshot, now))
}

fn run_on(
    fixture: &mut Fixture,
    request: SyncRequest,
    default_snapshot: Option<&AdSnapshot>,
    now: SystemTime,
) -> Result<Value, EmulatorError> {
    let ad_users = match (request.ad_users, request.ad_snapshot) {
        (Some(users), _) => users,
        (None, Some(snapshot)) => snapshot.users,
        (None, None) => default_snapshot
            .map(|snapshot| snapshot.users.clone())
            .ok_or_else(|| {
                EmulatorError::SyncInput(
                    "no AD users: send `ad_users` or `ad_snapshot`, or start the emulator with an AD snapshot".into(),
                )
            })?,
    };
    let now_text = graph_date_time(now);
    let mut cloud_users = fixture.cloud_users()?;
    let mut connector_space = ConnectorSpace {
        joins: fixture.connector_space.clone(),
    };
    // Field by field over the defaults, so that options the core adds later keep their
    // defaults here instead of breaking the build.
    let mut options = SyncOptions {
        staging_mode: request.staging_mode,
        ..SyncOptions::default()
    };
    options.engine = request.engine;
    options.deletion_threshold = deletion_threshold_of(&fixture.tenant);
    let hardening = &fixture.settings.hardening;
    options.hardening.object_identifier_check = hardening.object_identifier_mapping;
    options.hardening.block_assigned_roles = hardening.assigned_privileged_role;
    options.hardening.block_eligible_roles = hardening.eligible_privileged_role;
    let input = SyncCycleInput {
        ad_users: &ad_users,
        scope: &request.scope,
        tenant: &fixture.tenant,
        cloud_users: &cloud_users,
        role_assignments: &fixture.role_assignments,
        role_eligibilities: &fixture.role_eligibilities,
        connector_space: &connector_space,
        options: &options,
        now: &now_text,
    };
    let outcome = run_sync_cycle(&input);
    let was_deleted: HashSet<String> = fixture
        .users
        .iter()
        .filter(|user| is_deleted(user))
        .map(|user| user_id(user).to_owned())
        .collect();
    apply_operations(
        &mut cloud_users,
        &mut connector_space,
        &outcome.operations,
        &now_text,
        |_| uuid::Uuid::new_v4().to_string(),
    );
    // The cycle appends the users it creates; `Tenant::change_all` puts them in id order.
    merge_users(fixture, &cloud_users, &was_deleted);
    fixture.connector_space = connector_space.joins;
    if !request.staging_mode {
        fixture.tenant.on_premises_sync_enabled = Some(true);
        fixture.tenant.on_premises_last_sync_date_time = Some(now_text);
    }
    serde_json::to_value(&outcome.report)
        .map_err(|error| EmulatorError::SyncInput(error.to_string()))
}

/// Writes the typed users back into the Graph JSON objects, keeping the properties the
/// typed model does not carry, and adding the defaults new users have.
fn merge_users(
    fixture: &mut Fixture,
    cloud_users: &[hardmatch_core::tenant::CloudUser],
    was_deleted: &HashSet<String>,
) {
    let rewrite = fixture.settings.deleted_user_upn_rewritten;
    let initial_domain = fixture.tenant.initial_domain.clone();
    // Each typed user finds its object by id in O(1): the first with that exact id, as a
    // scan in order would.
    let mut positions: HashMap<String, usize> = HashMap::with_capacity(fixture.users.len());
    for (position, user) in fixture.users.iter().enumerate() {
        positions
            .entry(user_id(user).to_owned())
            .or_insert(position);
    }
    for typed in cloud_users {
        let Ok(Value::Object(written)) = serde_json::to_value(typed) else {
            continue;
        };
        let user = match positions.get(typed.id.as_str()).copied() {
            Some(position) => &mut fixture.users[position],
            None => {
                let mut fresh = Map::new();
                for (key, value) in [
                    ("businessPhones", Value::Array(Vec::new())),
                    ("givenName", Value::Null),
                    ("surname", Value::Null),
                    ("jobTitle", Value::Null),
                    ("mobilePhone", Value::Null),
                    ("officeLocation", Value::Null),
                    ("preferredLanguage", Value::Null),
                    ("usageLocation", Value::Null),
                ] {
                    fresh.insert(key.to_owned(), value);
                }
                fixture.users.push(fresh);
                let last = fixture.users.len() - 1;
                positions.insert(typed.id.to_string(), last);
                &mut fixture.users[last]
            }
        };
        let deleted_before = was_deleted.contains(typed.id.as_str());
        for (key, value) in written {
            user.insert(key, value);
        }
        let deleted_now = is_deleted(user);
        if deleted_now
            && !deleted_before
            && let Some(upn) = string_property(user, "userPrincipalName").map(str::to_owned)
        {
            {
                user.insert(ORIGINAL_UPN_KEY.into(), Value::String(upn.clone()));
                if rewrite {
                    let local = upn
                        .rsplit_once('@')
                        .map_or(upn.as_str(), |(local, _)| local);
                    let compact = typed.id.replace('-', "");
                    user.insert(
                        "userPrincipalName".into(),
                        Value::String(format!("{compact}{local}@{initial_domain}")),
                    );
                }
            }
        }
        if !deleted_now {
            user.remove(ORIGINAL_UPN_KEY);
        }
    }
}
