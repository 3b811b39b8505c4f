//! `/directory/deletedItems`: the recycle bin (graph-api.md §4). Listing needs the
//! `microsoft.graph.user` cast; get, purge (204) and restore (200 with the object) work on
//! an id.

use http::StatusCode;
use serde_json::Value;

use super::Call;
use super::users::{
    Collection, DELETE_USERS, DELETE_USERS_DELEGATED, ORIGINAL_UPN_KEY,
    check_sign_in_activity_access, page_response, query_rules, query_users,
};
use crate::odata::query::{DEFAULT_USER_PROPERTIES, QueryOptions, context_fragment, project_user};
use crate::state::{holds_privileged_role, is_deleted, string_property, user_id};
use crate::wire::{ApiResponse, GraphError, OrderedObject};

const LIST_DELETED: [&str; 6] = [
    "User.Read.All",
    "User.ReadWrite.All",
    "User.DeleteRestore.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "User.ReadBasic.All",
];

fn require_read(call: &Call<'_>) -> Result<(), GraphError> {
    call.principal.require(&LIST_DELETED, &LIST_DELETED)
}

/// Deleted users show `deletedDateTime` after the default set.
fn add_deleted_date(
    select: Option<&[&'static str]>,
) -> impl Fn(&serde_json::Map<String, Value>, &mut OrderedObject) {
    let add = select.is_none();
    move |user, object| {
        if add {
            object.push(
                "deletedDateTime",
                user.get("deletedDateTime").cloned().unwrap_or(Value::Null),
            );
        }
    }
}

pub(crate) fn list(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    require_read(call)?;
    let fixture = call.emulator.tenant();
    let options = QueryOptions::parse(
        &call.request.query,
        call.consistency_level(),
        call.version,
        true,
        query_rules(&fixture, Collection::Deleted),
    )?;
    // Graph does not document sign-in activity of deleted users; the rules of the sign-in
    // reports are assumed to hold here too.
    check_sign_in_activity_access(call, &fixture, &options)?;
    let page = query_users(&fixture, &options, Collection::Deleted, call.version)?;
    let select = options.select.clone();
    let fragment = match select.as_deref() {
        Some(properties) if !properties.is_empty() => {
            context_fragment("directoryObjects", Some(properties))
        }
        _ => "directoryObjects/microsoft.graph.user".to_owned(),
    };
    let context = call.context(&fragment);
    Ok(page_response(
        call,
        &options,
        page,
        context,
        "directory/deletedItems/microsoft.graph.user",
        add_deleted_date(select.as_deref()),
    ))
}

pub(crate) fn count(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    require_read(call)?;
    super::users::count_users(call, Collection::Deleted)
}

/// The object as `GET /directory/deletedItems/{id}` and restore return it.
fn entity(
    call: &Call<'_>,
    user: &serde_json::Map<String, Value>,
    select: Option<&[&'static str]>,
) -> OrderedObject {
    let mut body = OrderedObject::default();
    body.push(
        "@odata.context",
        Value::String(call.context("directoryObjects/$entity")),
    );
    body.push("@odata.type", Value::String("#microsoft.graph.user".into()));
    body.0.extend(project_user(user, select).0);
    if select.is_none() {
        body.push(
            "deletedDateTime",
            user.get("deletedDateTime").cloned().unwrap_or(Value::Null),
        );
    }
    body
}

pub(crate) fn get(call: &Call<'_>, id: &str) -> Result<ApiResponse, GraphError> {
    require_read(call)?;
    let fixture = call.emulator.tenant();
    let options = QueryOptions::parse(
        &call.request.query,
        call.consistency_level(),
        call.version,
        false,
        query_rules(&fixture, Collection::Deleted),
    )?;
    check_sign_in_activity_access(call, &fixture, &options)?;
    let index = fixture
        .find_deleted_user(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let body = entity(call, &fixture.users[index], options.select.as_deref());
    Ok(ApiResponse::odata_json(StatusCode::OK, &body))
}

/// `DELETE /directory/deletedItems/{id}`: permanent, 204; unknown id 404 (graph-api.md §4).
pub(crate) fn purge(call: &Call<'_>, id: &str) -> Result<ApiResponse, GraphError> {
    call.principal
        .require(&DELETE_USERS, &DELETE_USERS_DELEGATED)?;
    let mut fixture = call.emulator.tenant();
    let index = fixture
        .find_deleted_user(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let purged = fixture
        .purge_user(index)
        .ok_or_else(|| GraphError::not_found(id))?;
    let purged_id = user_id(&purged);
    tracing::info!(user = %purged_id, "user permanently deleted");
    Ok(ApiResponse::new(StatusCode::NO_CONTENT))
}

/// `POST /directory/deletedItems/{id}/restore`: 200 with the object.
pub(crate) fn restore(call: &Call<'_>, id: &str) -> Result<ApiResponse, GraphError> {
    call.principal
        .require(&DELETE_USERS, &DELETE_USERS_DELEGATED)?;
    let options: serde_json::Map<String, Value> = if call.request.body.is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice(&call.request.body) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                ));
            }
        }
    };
    let auto_reconcile = options
        .get("autoReconcileProxyConflict")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let new_upn = options
        .get("newUserPrincipalName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut fixture = call.emulator.tenant();
    let index = fixture
        .find_deleted_user(id)
        .ok_or_else(|| GraphError::not_found(id))?;
    let restored_id = user_id(&fixture.users[index]).to_owned();
    if holds_privileged_role(&fixture, &restored_id)
        && call.principal.is_app_only()
        && !matches!(&call.principal, super::auth::Principal::Application { directory_roles, .. }
            if directory_roles.iter().any(|role| role.eq_ignore_ascii_case("Global Administrator")
                || role.eq_ignore_ascii_case("Privileged Authentication Administrator")))
    {
        return Err(GraphError::forbidden());
    }
    let user = &fixture.users[index];
    let upn = new_upn
        .or_else(|| string_property(user, ORIGINAL_UPN_KEY).map(str::to_owned))
        .or_else(|| string_property(user, "userPrincipalName").map(str::to_owned))
        .unwrap_or_default();
    let upn_taken = fixture
        .users_with_upn(&upn)
        .into_iter()
        .any(|other| !is_deleted(&fixture.users[other]));
    if upn_taken {
        return Err(GraphError::bad_request(
            "Another object with the same value for property userPrincipalName already exists.",
        ));
    }
    let proxies: Vec<String> = user
        .get("proxyAddresses")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let conflicting: Vec<String> = proxies
        .iter()
        .filter(|address| {
            fixture.users.iter().any(|other| {
                !is_deleted(other)
                    && other
                        .get("proxyAddresses")
                        .and_then(Value::as_array)
                        .is_some_and(|items| {
                            items
                                .iter()
                                .filter_map(Value::as_str)
                                .any(|existing| existing.eq_ignore_ascii_case(address))
                        })
            })
        })
        .cloned()
        .collect();
    if !conflicting.is_empty() && !auto_reconcile {
        return Err(GraphError::bad_request(
            "Another object with the same value for property proxyAddresses already exists.",
        ));
    }
    let body = fixture
        .change_user(index, |user| {
            user.remove("deletedDateTime");
            user.remove(ORIGINAL_UPN_KEY);
            user.insert("userPrincipalName".into(), Value::String(upn));
            if !conflicting.is_empty() {
                let kept: Vec<Value> = proxies
                    .into_iter()
                    .filter(|address| !conflicting.contains(address))
                    .map(Value::String)
                    .collect();
                user.insert("proxyAddresses".into(), Value::Array(kept));
            }
            // A restored synced user is no longer synced until Connect joins it again
            // (entra-matching.md §12).
            if user.get("onPremisesSyncEnabled").and_then(Value::as_bool) == Some(true) {
                user.insert("onPremisesSyncEnabled".into(), Value::Bool(false));
            }
            entity(call, user, Some(&DEFAULT_USER_PROPERTIES))
        })
        .ok_or_else(|| GraphError::not_found(id))?;
    tracing::info!(user = %restored_id, "user restored");
    Ok(ApiResponse::odata_json(StatusCode::OK, &body))
}
