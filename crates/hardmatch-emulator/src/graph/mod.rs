//! Microsoft Graph at `/v1.0/…` and `/beta/…`: routing, authentication, throttling and the
//! response headers every Graph answer carries (`request-id`, echoed `client-request-id`,
//! `x-ms-resource-unit`, …). Handlers per resource live in the submodules; `$batch` runs
//! its items back through [`execute`], so items get exactly the top-level semantics.

pub(crate) mod auth;
pub(crate) mod batch;
pub(crate) mod deleted_items;
pub(crate) mod directory;
pub(crate) mod roles;
pub(crate) mod users;

use std::time::SystemTime;

use http::{Method, StatusCode};

use crate::clock::{http_date, inner_error_date};
use crate::odata::query::ApiVersion;
use crate::settings::TenantSize;
use crate::state::{Emulator, is_deleted};
use crate::throttle::{Decision, RequestCost, format_retry_after};
use crate::wire::{ApiRequest, ApiResponse, GraphError, percent_decode, query_pairs};
use auth::Principal;

/// What a request asks for, once the path is understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    ListUsers,
    CreateUser,
    CountUsers,
    GetUser(String),
    PatchUser(String),
    DeleteUser(String),
    LicenseDetails(String),
    DeletedItemsWithoutCast,
    ListDeletedUsers,
    CountDeletedUsers,
    GetDeletedItem(String),
    PurgeDeletedItem(String),
    RestoreDeletedItem(String),
    Organization(Option<String>),
    Domains(Option<String>),
    SyncSettings(Option<String>),
    PatchSyncSettings(String),
    RoleDefinitions,
    RoleAssignments,
    RoleAssignmentScheduleInstances,
    RoleEligibilityScheduleInstances,
    Batch,
}

impl Route {
    fn is_write(&self) -> bool {
        matches!(
            self,
            Self::PatchUser(_)
                | Self::CreateUser
                | Self::DeleteUser(_)
                | Self::PurgeDeletedItem(_)
                | Self::RestoreDeletedItem(_)
                | Self::PatchSyncSettings(_)
        )
    }

    /// Whether `$select` names user properties here, so that it can ask for
    /// `signInActivity`.
    fn selects_user_properties(&self) -> bool {
        matches!(
            self,
            Self::ListUsers | Self::GetUser(_) | Self::ListDeletedUsers | Self::GetDeletedItem(_)
        )
    }

    /// The documented base cost in resource units (graph-api.md §13).
    fn base_cost(&self) -> u32 {
        match self {
            Self::ListUsers
            | Self::CountUsers
            | Self::LicenseDetails(_)
            | Self::ListDeletedUsers => 2,
            _ => 1,
        }
    }
}

/// Maps method + path (after `/v1.0`) to a route.
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, GraphError> {
    let mut segments: Vec<String> = Vec::new();
    for segment in path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(percent_decode)
    {
        // OData key syntax: `users('$admin@contoso.com')` is `users/{key}`; clients use it
        // for keys that would otherwise read as a path (a leading `$`).
        match segment.split_once('(') {
            Some((name, rest))
                if !name.is_empty() && !name.starts_with('$') && rest.ends_with(')') =>
            {
                let key = rest.trim_end_matches(')');
                let key = key
                    .strip_prefix('\'')
                    .and_then(|key| key.strip_suffix('\''))
                    .map_or_else(|| key.to_owned(), |key| key.replace("''", "'"));
                segments.push(name.to_owned());
                segments.push(key);
            }
            _ => segments.push(segment),
        }
    }
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let get = *method == Method::GET;
    let lower: Vec<String> = parts.iter().map(|part| part.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let route = match (lower.as_slice(), parts.as_slice()) {
        (["users"], _) if get => Route::ListUsers,
        (["users"], _) if *method == Method::POST => Route::CreateUser,
        (["users", "$count"], _) if get => Route::CountUsers,
        (["users", _], [_, key]) => match *method {
            Method::GET => Route::GetUser(strip_key_quotes(key)),
            Method::PATCH => Route::PatchUser(strip_key_quotes(key)),
            Method::DELETE => Route::DeleteUser(strip_key_quotes(key)),
            _ => return Err(GraphError::method_not_allowed()),
        },
        (["users", _, "licensedetails"], [_, key, _]) if get => {
            Route::LicenseDetails(strip_key_quotes(key))
        }
        (["directory", "deleteditems"], _) if get => Route::DeletedItemsWithoutCast,
        (
            [
                "directory",
                "deleteditems",
                "microsoft.graph.user" | "graph.user",
            ],
            _,
        ) if get => Route::ListDeletedUsers,
        (
            [
                "directory",
                "deleteditems",
                "microsoft.graph.user" | "graph.user",
                "$count",
            ],
            _,
        ) if get => Route::CountDeletedUsers,
        (["directory", "deleteditems", _], [_, _, id]) => match *method {
            Method::GET => Route::GetDeletedItem((*id).to_owned()),
            Method::DELETE => Route::PurgeDeletedItem((*id).to_owned()),
            _ => return Err(GraphError::method_not_allowed()),
        },
        (
            [
                "directory",
                "deleteditems",
                _,
                "restore" | "microsoft.graph.restore" | "graph.restore",
            ],
            [_, _, id, _],
        ) if *method == Method::POST => Route::RestoreDeletedItem((*id).to_owned()),
        (["organization"], _) if get => Route::Organization(None),
        (["organization", _], [_, id]) if get => Route::Organization(Some((*id).to_owned())),
        (["domains"], _) if get => Route::Domains(None),
        (["domains", _], [_, id]) if get => Route::Domains(Some((*id).to_owned())),
        (["directory", "onpremisessynchronization"], _) if get => Route::SyncSettings(None),
        (["directory", "onpremisessynchronization", _], [_, _, id]) => match *method {
            Method::GET => Route::SyncSettings(Some((*id).to_owned())),
            Method::PATCH => Route::PatchSyncSettings((*id).to_owned()),
            _ => return Err(GraphError::method_not_allowed()),
        },
        (["rolemanagement", "directory", "roledefinitions"], _) if get => Route::RoleDefinitions,
        (["rolemanagement", "directory", "roleassignments"], _) if get => Route::RoleAssignments,
        (
            [
                "rolemanagement",
                "directory",
                "roleassignmentscheduleinstances",
            ],
            _,
        ) if get => Route::RoleAssignmentScheduleInstances,
        (
            [
                "rolemanagement",
                "directory",
                "roleeligibilityscheduleinstances",
            ],
            _,
        ) if get => Route::RoleEligibilityScheduleInstances,
        (["$batch"], _) if *method == Method::POST => Route::Batch,
        (
            ["users" | "organization" | "domains" | "$batch"]
            | ["users", "$count"]
            | ["users", _, "licensedetails"]
            | ["directory", "deleteditems", ..]
            | ["directory", "onpremisessynchronization"]
            | ["rolemanagement", "directory", _],
            _,
        ) => return Err(GraphError::method_not_allowed()),
        _ => {
            let segment = parts.first().copied().unwrap_or_default();
            return Err(GraphError::segment_not_found(segment));
        }
    };
    Ok(route)
}

/// `users('a@b.com')` style keys arrive as one segment with quotes in some SDKs.
fn strip_key_quotes(key: &str) -> String {
    key.trim_matches('\'').to_owned()
}

/// Context for one Graph request.
pub(crate) struct Call<'a> {
    pub(crate) emulator: &'a Emulator,
    pub(crate) request: &'a ApiRequest,
    pub(crate) version: ApiVersion,
    pub(crate) principal: Principal,
    pub(crate) now: SystemTime,
}

impl Call<'_> {
    /// `https://host/v1.0/$metadata#…`
    pub(crate) fn context(&self, fragment: &str) -> String {
        format!(
            "{}/{}/$metadata#{fragment}",
            self.emulator.base_url,
            self.version.segment()
        )
    }

    pub(crate) fn consistency_level(&self) -> Option<&str> {
        self.request.header("consistencylevel")
    }
}

/// Handles a top-level Graph request: `path` is what follows `/v1.0` or `/beta`.
pub(crate) fn handle(
    emulator: &Emulator,
    request: &ApiRequest,
    version: ApiVersion,
    path: &str,
) -> ApiResponse {
    let now = emulator.clock.now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = request
        .header("client-request-id")
        .map_or_else(|| request_id.clone(), str::to_owned);
    let mut response = match execute(emulator, request, version, path, now) {
        Ok(response) => response,
        Err(error) => error_response(&error, now, &request_id, &client_request_id),
    };
    finish_headers(&mut response, now, &request_id, &client_request_id);
    response
}

pub(crate) fn error_response(
    error: &GraphError,
    now: SystemTime,
    request_id: &str,
    client_request_id: &str,
) -> ApiResponse {
    let body = error.envelope(&inner_error_date(now), request_id, client_request_id);
    let mut response = ApiResponse::odata_json(error.status, &body);
    for (name, value) in &error.headers {
        response.set_header(name, value);
    }
    if error.status == StatusCode::UNAUTHORIZED {
        response.set_header(
            "www-authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        );
    }
    response
}

pub(crate) fn finish_headers(
    response: &mut ApiResponse,
    now: SystemTime,
    request_id: &str,
    client_request_id: &str,
) {
    response.set_header("request-id", request_id);
    response.set_header("client-request-id", client_request_id);
    response.set_header("date", &http_date(now));
    response.set_header(
        "x-ms-ags-diagnostic",
        "{\"ServerInfo\":{\"DataCenter\":\"Emulator\",\"Slice\":\"E\",\"Ring\":\"0\",\"ScaleUnit\":\"000\",\"RoleInstance\":\"hardmatch-emulator\"}}",
    );
    if response
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/json"))
    {
        response.set_header("odata-version", "4.0");
    }
}

/// Authenticates, throttles and runs one request; errors are Graph errors.
pub(crate) fn execute(
    emulator: &Emulator,
    request: &ApiRequest,
    version: ApiVersion,
    path: &str,
    now: SystemTime,
) -> Result<ApiResponse, GraphError> {
    let principal = auth::authenticate(emulator, request, now)?;
    let route = route(&request.method, path)?;
    let call = Call {
        emulator,
        request,
        version,
        principal,
        now,
    };
    if route == Route::Batch {
        return batch::handle(&call);
    }
    let charge = throttle(&call, &route)?;
    let mut response = dispatch(&call, route)?;
    response.set_header("x-ms-resource-unit", &charge.resource_units.to_string());
    if let Some(percentage) = charge.limit_percentage {
        response.set_header(
            "x-ms-throttle-limit-percentage",
            &format!("{percentage:.1}"),
        );
    }
    Ok(response)
}

/// What throttling charged a request.
struct Charge {
    resource_units: u32,
    limit_percentage: Option<f64>,
}

/// Applies the throttling buckets; returns the charge, or the 429.
fn throttle(call: &Call<'_>, route: &Route) -> Result<Charge, GraphError> {
    let (enabled, size, format, tenant_id) = {
        let tenant = call.emulator.tenant();
        let active = tenant.users.iter().filter(|user| !is_deleted(user)).count();
        (
            tenant.settings.throttling_enabled,
            tenant
                .settings
                .tenant_size
                .unwrap_or_else(|| TenantSize::for_user_count(active)),
            tenant.settings.retry_after_format,
            tenant.tenant.id.clone(),
        )
    };
    let pairs = query_pairs(&call.request.query);
    let has = |name: &str| {
        pairs
            .iter()
            .any(|(key, _)| key.trim_start_matches('$').eq_ignore_ascii_case(name))
    };
    let top = pairs
        .iter()
        .find(|(key, _)| key.trim_start_matches('$').eq_ignore_ascii_case("top"))
        .and_then(|(_, value)| value.parse().ok());
    let reads_sign_in_activity = route.selects_user_properties()
        && pairs.iter().any(|(key, value)| {
            key.trim_start_matches('$').eq_ignore_ascii_case("select")
                && users::selects_sign_in_activity(value)
        });
    let cost = RequestCost {
        reports: u32::from(reads_sign_in_activity),
        ..RequestCost::of(
            route.base_cost(),
            route.is_write(),
            has("select"),
            has("expand"),
            top,
        )
    };
    if !enabled {
        return Ok(Charge {
            resource_units: cost.resource_units,
            limit_percentage: None,
        });
    }
    let decision = crate::state::lock(&call.emulator.throttle).check(
        call.now,
        call.principal.app_id(),
        &tenant_id,
        size,
        cost,
    );
    match decision {
        Decision::Allowed {
            resource_units,
            limit_percentage,
        } => Ok(Charge {
            resource_units,
            limit_percentage,
        }),
        Decision::Throttled {
            retry_after,
            scope,
            information,
        } => Err(GraphError::throttled(
            &format_retry_after(retry_after, format),
            &scope,
            information,
        )),
    }
}

fn dispatch(call: &Call<'_>, route: Route) -> Result<ApiResponse, GraphError> {
    match route {
        Route::ListUsers => users::list(call),
        Route::CreateUser => users::create(call),
        Route::CountUsers => users::count(call),
        Route::GetUser(key) => users::get(call, &key),
        Route::PatchUser(key) => users::patch(call, &key),
        Route::DeleteUser(key) => users::delete(call, &key),
        Route::LicenseDetails(key) => users::license_details(call, &key),
        Route::DeletedItemsWithoutCast => Err(GraphError::bad_request(
            "Unsupported request: listing deleted items requires a type cast, such as /directory/deletedItems/microsoft.graph.user.",
        )),
        Route::ListDeletedUsers => deleted_items::list(call),
        Route::CountDeletedUsers => deleted_items::count(call),
        Route::GetDeletedItem(id) => deleted_items::get(call, &id),
        Route::PurgeDeletedItem(id) => deleted_items::purge(call, &id),
        Route::RestoreDeletedItem(id) => deleted_items::restore(call, &id),
        Route::Organization(id) => directory::organization(call, id.as_deref()),
        Route::Domains(id) => directory::domains(call, id.as_deref()),
        Route::SyncSettings(id) => directory::sync_settings(call, id.as_deref()),
        Route::PatchSyncSettings(id) => directory::patch_sync_settings(call, &id),
        Route::RoleDefinitions => roles::definitions(call),
        Route::RoleAssignments => roles::assignments(call),
        Route::RoleAssignmentScheduleInstances => roles::assignment_schedule_instances(call),
        Route::RoleEligibilityScheduleInstances => roles::eligibility_schedule_instances(call),
        Route::Batch => batch::handle(call),
    }
}
