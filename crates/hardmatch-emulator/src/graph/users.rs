//! `/users`: list with the query rules of graph-api.md §3, get, PATCH with the
//! onPremisesImmutableId rules of §5 and §10, DELETE into the recycle bin,
//! `licenseDetails`, and what a `$select` of `signInActivity` needs (§9).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::Call;
use crate::clock::graph_date_time;
use crate::fixture::{Fixture, UserObject};
use crate::odata::filter::{EvaluationRules, evaluate};
use crate::odata::query::{
    ApiVersion, QueryOptions, QueryRules, Resume, context_fragment, decode_skip_token,
    encode_skip_token, fingerprint, project_user,
};
use crate::settings::ConflictShape;
use crate::state::{
    Tenant, holds_privileged_role, id_order, is_deleted, is_global_administrator, is_synced,
    string_property, user_id,
};
use crate::wire::{ApiResponse, ErrorDetail, GraphError, OrderedObject};

pub(crate) const READ_USERS: [&str; 5] = [
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "User.ReadBasic.All",
];
const READ_USERS_DELEGATED: [&str; 6] = [
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "User.ReadBasic.All",
    "Directory.AccessAsUser.All",
];
const WRITE_USERS: [&str; 2] = ["User.ReadWrite.All", "Directory.ReadWrite.All"];
const WRITE_USERS_DELEGATED: [&str; 3] = [
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
pub(crate) const DELETE_USERS: [&str; 2] = ["User.ReadWrite.All", "User.DeleteRestore.All"];
pub(crate) const DELETE_USERS_DELEGATED: [&str; 3] = [
    "User.ReadWrite.All",
    "User.DeleteRestore.All",
    "Directory.AccessAsUser.All",
];

/// Reading `signInActivity` needs this besides a user-read permission (graph-api.md §9, §14).
const READ_SIGN_IN_ACTIVITY: [&str; 1] = ["AuditLog.Read.All"];

/// The user property Graph reads from the sign-in reports rather than the directory.
const SIGN_IN_ACTIVITY: &str = "signInActivity";

/// Roles that may perform sensitive actions on privileged targets (graph-api.md §14).
const PRIVILEGED_ACTORS: [&str; 2] = [
    "Global Administrator",
    "Privileged Authentication Administrator",
];

/// Which users a collection request reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Collection {
    Active,
    Deleted,
}

pub(crate) fn query_rules(fixture: &Fixture, collection: Collection) -> QueryRules {
    QueryRules {
        immutable_id_requires_advanced: fixture
            .settings
            .immutable_id_filter_requires_advanced_query,
        immutable_id_filterable: collection == Collection::Active
            || fixture.settings.deleted_items_immutable_id_filter,
    }
}

/// The result of a collection query: one page, plus what the envelope needs.
pub(crate) struct Page {
    pub(crate) items: Vec<UserObject>,
    /// How many users the whole query matches: counted on the first page, and only when
    /// the request asks for `@odata.count`.
    pub(crate) total: Option<usize>,
    pub(crate) next: Option<Resume>,
    pub(crate) fingerprint: u64,
}

/// Filters, searches, sorts and pages users. Without `$orderby`, pages follow the id
/// order `Fixture::users` is kept in: a page starts by binary search after the last id of
/// the previous one and evaluates `$filter` only until it is full, so a full read costs
/// O(N) rather than O(N) per page.
pub(crate) fn query_users(
    fixture: &Fixture,
    options: &QueryOptions,
    collection: Collection,
    version: ApiVersion,
) -> Result<Page, GraphError> {
    let matches = matcher(fixture, options, collection);
    let fingerprint = query_fingerprint(options, collection, version);
    let resume = match &options.skip_token {
        None => None,
        Some(token) => Some(decode_skip_token(token, fingerprint).ok_or_else(|| {
            GraphError::bad_request(
                "The specified page token value has expired and can no longer be included in your request.",
            )
        })?),
    };
    let page_size = options
        .top
        .map_or(fixture.settings.default_page_size, |top| {
            usize::try_from(top).unwrap_or(999)
        })
        .max(1);
    let total = (options.writes_count() && resume.is_none())
        .then(|| fixture.users.iter().filter(&matches).count());
    let Some((property, descending)) = &options.order_by else {
        let start = match &resume {
            None => 0,
            Some(Resume::AfterId(last)) => fixture
                .users
                .partition_point(|user| id_order(user_id(user), last).is_le()),
            // A token of the sorted path cannot carry this query's fingerprint.
            Some(Resume::Offset(_)) => fixture.users.len(),
        };
        let mut following = fixture
            .users
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter(&matches);
        let items: Vec<UserObject> = following.by_ref().take(page_size).cloned().collect();
        // A next link only when another user matches, as Graph leaves it off the last page.
        let next = match (items.last(), following.next()) {
            (Some(last), Some(_)) => Some(Resume::AfterId(user_id(last).to_owned())),
            _ => None,
        };
        return Ok(Page {
            items,
            total,
            next,
            fingerprint,
        });
    };
    // Users are already in id order, which the stable sort keeps among equal keys.
    let mut sorted: Vec<&UserObject> = fixture.users.iter().filter(&matches).collect();
    sorted.sort_by(|left, right| {
        let key = |user: &UserObject| {
            user.get(property)
                .and_then(Value::as_str)
                .map(str::to_lowercase)
        };
        let ordering = match (key(left), key(right)) {
            (Some(left), Some(right)) => left.cmp(&right),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        if *descending {
            ordering.reverse()
        } else {
            ordering
        }
    });
    let offset = match resume {
        Some(Resume::Offset(offset)) => offset,
        _ => 0,
    };
    let end = (offset + page_size).min(sorted.len());
    let items = sorted
        .get(offset.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|user| (*user).clone())
        .collect();
    Ok(Page {
        items,
        total,
        next: (end < sorted.len()).then_some(Resume::Offset(end)),
        fingerprint,
    })
}

/// Whether a user belongs to the collection and passes `$filter` and `$search`.
fn matcher<'a>(
    fixture: &Fixture,
    options: &'a QueryOptions,
    collection: Collection,
) -> impl Fn(&&UserObject) -> bool + 'a {
    let rules = EvaluationRules {
        proxy_addresses_case_insensitive: fixture.settings.proxy_addresses_case_insensitive,
    };
    move |user: &&UserObject| {
        is_deleted(user) == (collection == Collection::Deleted)
            && options
                .filter
                .as_ref()
                .is_none_or(|expression| evaluate(expression, user, rules))
            && options
                .search
                .as_deref()
                .is_none_or(|search| matches_search(user, search))
    }
}

/// The query options that shape a result set, hashed: a skip token is honoured only for
/// the query that issued it.
fn query_fingerprint(options: &QueryOptions, collection: Collection, version: ApiVersion) -> u64 {
    let select_text = options
        .select
        .as_ref()
        .map(|select| select.join(","))
        .unwrap_or_default();
    let order_text = options
        .order_by
        .as_ref()
        .map(|(property, descending)| format!("{property} {descending}"))
        .unwrap_or_default();
    let top_text = options.top.map(|top| top.to_string()).unwrap_or_default();
    fingerprint(&[
        version.segment(),
        if collection == Collection::Deleted {
            "deleted"
        } else {
            "users"
        },
        options.filter_text.as_deref().unwrap_or_default(),
        options.search.as_deref().unwrap_or_default(),
        &select_text,
        &order_text,
        &top_text,
    ])
}

/// `$search="displayName:adele"`: tokens of the property contain the term.
fn matches_search(user: &UserObject, search: &str) -> bool {
    let search = search.trim().trim_matches('"');
    let (property, term) = search.split_once(':').unwrap_or(("displayName", search));
    let term = term.trim().to_lowercase();
    user.iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(property.trim()))
        .and_then(|(_, value)| value.as_str())
        .is_some_and(|value| value.to_lowercase().contains(&term))
}

/// Writes a collection page as Graph does: context, count, nextLink, value.
pub(crate) fn page_response(
    call: &Call<'_>,
    options: &QueryOptions,
    page: Page,
    context: String,
    resource_path: &str,
    extra: impl Fn(&UserObject, &mut OrderedObject),
) -> ApiResponse {
    let mut body = OrderedObject::default();
    body.push("@odata.context", Value::String(context));
    if let Some(total) = page.total {
        body.push("@odata.count", Value::from(total));
    }
    if let Some(next) = &page.next {
        body.push(
            "@odata.nextLink",
            Value::String(next_link(call, resource_path, page.fingerprint, next)),
        );
    }
    let select = options.select.as_deref();
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|user| {
            let mut object = project_user(user, select);
            extra(user, &mut object);
            serde_json::to_value(&object).unwrap_or(Value::Null)
        })
        .collect();
    body.push("value", Value::Array(items));
    ApiResponse::odata_json(StatusCode::OK, &body)
}

/// The full nextLink: the same query with the skip token replaced.
fn next_link(call: &Call<'_>, resource_path: &str, fingerprint: u64, resume: &Resume) -> String {
    let kept: Vec<&str> = call
        .request
        .query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let key = crate::wire::percent_decode(pair.split('=').next().unwrap_or_default());
            !key.trim_start_matches('$')
                .eq_ignore_ascii_case("skiptoken")
        })
        .collect();
    let token = encode_skip_token(fingerprint, resume).replace('\'', "%27");
    let mut link = format!(
        "{}/{}/{resource_path}?",
        call.emulator.base_url,
        call.version.segment()
    );
    for pair in kept {
        link.push_str(pair);
        link.push('&');
    }
    link.push_str("$skiptoken=");
    link.push_str(&token);
    link
}

/// Whether a raw `$select` value names `signInActivity`: throttling decides before the
/// query is parsed.
pub(crate) fn selects_sign_in_activity(select: &str) -> bool {
    select
        .split(',')
        .any(|name| name.trim().eq_ignore_ascii_case(SIGN_IN_ACTIVITY))
}

fn sign_in_activity_selected(options: &QueryOptions) -> bool {
    options
        .select
        .as_ref()
        .is_some_and(|select| select.contains(&SIGN_IN_ACTIVITY))
}

/// Graph serves `signInActivity` only to callers with `AuditLog.Read.All` (checked first:
/// the usual 403) in a tenant with Entra ID P1 or P2 (graph-api.md §9); the refusal for a
/// tenant without is the one Graph issue reports quote.
pub(crate) fn check_sign_in_activity_access(
    call: &Call<'_>,
    fixture: &Fixture,
    options: &QueryOptions,
) -> Result<(), GraphError> {
    if !sign_in_activity_selected(options) {
        return Ok(());
    }
    call.principal
        .require(&READ_SIGN_IN_ACTIVITY, &READ_SIGN_IN_ACTIVITY)?;
    if !fixture.has_entra_id_premium() {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        ));
    }
    Ok(())
}

pub(crate) fn list(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    call.principal.require(&READ_USERS, &READ_USERS_DELEGATED)?;
    let fixture = call.emulator.tenant();
    let options = QueryOptions::parse(
        &call.request.query,
        call.consistency_level(),
        call.version,
        true,
        query_rules(&fixture, Collection::Active),
    )?;
    check_sign_in_activity_access(call, &fixture, &options)?;
    let page = query_users(&fixture, &options, Collection::Active, call.version)?;
    let context = call.context(&context_fragment("users", options.select.as_deref()));
    Ok(page_response(
        call,
        &options,
        page,
        context,
        "users",
        |_, _| {},
    ))
}

/// `GET /users/$count`: `text/plain` with the header, else the exact 400 (graph-api.md §3.2).
pub(crate) fn count(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    call.principal.require(&READ_USERS, &READ_USERS_DELEGATED)?;
    count_users(call, Collection::Active)
}

pub(crate) fn count_users(
    call: &Call<'_>,
    collection: Collection,
) -> Result<ApiResponse, GraphError> {
    let fixture = call.emulator.tenant();
    let mut options = QueryOptions::parse(
        &call.request.query,
        call.consistency_level(),
        call.version,
        true,
        query_rules(&fixture, collection),
    )
    .or_else(|error| {
        // /$count implies counting: the advanced rules see it as $count=true.
        let with_count = format!("{}&$count=true", call.request.query);
        QueryOptions::parse(
            &with_count,
            call.consistency_level(),
            call.version,
            true,
            query_rules(&fixture, collection),
        )
        .map_err(|_| error)
    })?;
    if !options.eventual {
        return Err(GraphError::bad_request(
            "$count is not currently supported.",
        ));
    }
    options.top = Some(999);
    options.skip_token = None;
    let total = fixture
        .users
        .iter()
        .filter(matcher(&fixture, &options, collection))
        .count();
    Ok(ApiResponse::text(StatusCode::OK, total.to_string()))
}

pub(crate) fn get(call: &Call<'_>, key: &str) -> Result<ApiResponse, GraphError> {
    call.principal.require(&READ_USERS, &READ_USERS_DELEGATED)?;
    let fixture = call.emulator.tenant();
    let options = QueryOptions::parse(
        &call.request.query,
        call.consistency_level(),
        call.version,
        false,
        query_rules(&fixture, Collection::Active),
    )?;
    check_sign_in_activity_access(call, &fixture, &options)?;
    // The reports service finds a user by object id only (a 2026 Graph Explorer capture,
    // whose code is the bare status).
    if sign_in_activity_selected(&options) && uuid::Uuid::parse_str(key).is_err() {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "400",
            "Get By Key only supports UserId and the key has to be a valid Guid",
        ));
    }
    let index = fixture
        .find_active_user(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let select = options.select.as_deref();
    let mut body = OrderedObject::default();
    body.push(
        "@odata.context",
        Value::String(call.context(&format!("{}/$entity", context_fragment("users", select)))),
    );
    body.0.extend(project_user(&fixture.users[index], select).0);
    Ok(ApiResponse::odata_json(StatusCode::OK, &body))
}

fn actor_may_touch_privileged(call: &Call<'_>, fixture: &Fixture) -> bool {
    match &call.principal {
        super::auth::Principal::Application {
            directory_roles, ..
        } => directory_roles.iter().any(|role| {
            PRIVILEGED_ACTORS
                .iter()
                .any(|actor| actor.eq_ignore_ascii_case(role))
        }),
        super::auth::Principal::User { user_id, .. } => is_global_administrator(fixture, user_id),
    }
}

/// Properties Entra Connect masters on a synced user: Graph refuses to write them.
fn cloud_mastered(property: &str) -> bool {
    matches!(
        property,
        "usageLocation" | "preferredDataLocation" | "passwordPolicies" | "preferredLanguage"
    )
}

/// Properties Graph never lets a client set.
fn read_only(property: &str) -> bool {
    matches!(
        property,
        "id" | "createdDateTime"
            | "deletedDateTime"
            | "onPremisesSyncEnabled"
            | "onPremisesLastSyncDateTime"
            | "onPremisesProvisioningErrors"
            | "assignedLicenses"
            | "assignedPlans"
            | "provisionedPlans"
            | "licenseAssignmentStates"
            | "signInActivity"
            | "securityIdentifier"
            | "creationType"
            | "proxyAddresses"
    )
}

/// The on-prem attributes the beta clear-to-null covers (entra-matching.md §13).
fn on_premises_attribute(property: &str) -> bool {
    matches!(
        property,
        "onPremisesImmutableId"
            | "onPremisesDistinguishedName"
            | "onPremisesDomainName"
            | "onPremisesSamAccountName"
            | "onPremisesSecurityIdentifier"
            | "onPremisesUserPrincipalName"
            | "onPremisesObjectIdentifier"
    )
}

fn invalid_value(property: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value specified for property '{property}' of resource 'User'."
    ))
}

/// The duplicate-ImmutableID error in the configured shape (graph-api.md §10, §16 #2).
pub(crate) fn immutable_id_conflict(shape: ConflictShape, holder_id: &str) -> GraphError {
    match shape {
        ConflictShape::OnPremisesImmutableIdWithDetails => {
            let message = "Another object with the same value for property onPremisesImmutableId already exists.";
            let mut error = GraphError::bad_request(message);
            error.details = vec![
                ErrorDetail {
                    code: "ObjectConflict".into(),
                    message: message.into(),
                    target: "onPremisesImmutableId".into(),
                },
                ErrorDetail {
                    code: "ConflictingObjects".into(),
                    message: message.into(),
                    target: format!("User_{holder_id}"),
                },
            ];
            error
        }
        ConflictShape::ImmutableIdWithoutDetails => GraphError::bad_request(
            "Another object with the same value for property immutableId already exists.",
        ),
    }
}

fn domain_of(upn: &str) -> &str {
    upn.rsplit_once('@')
        .map(|(_, domain)| domain)
        .unwrap_or_default()
}

fn is_federated_upn(fixture: &Fixture, upn: &str) -> bool {
    let domain = domain_of(upn);
    fixture
        .tenant
        .domains
        .iter()
        .any(|candidate| candidate.id.eq_ignore_ascii_case(domain) && candidate.is_federated())
}

fn json_body(call: &Call<'_>) -> Result<Map<String, Value>, GraphError> {
    if call.request.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&call.request.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

pub(crate) fn patch(call: &Call<'_>, key: &str) -> Result<ApiResponse, GraphError> {
    call.principal
        .require(&WRITE_USERS, &WRITE_USERS_DELEGATED)?;
    let body = json_body(call)?;
    let mut fixture = call.emulator.tenant();
    let index = fixture
        .find_active_user(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let target_id = user_id(&fixture.users[index]).to_owned();
    let synced = is_synced(&fixture.users[index]);
    let formerly_synced = fixture.users[index]
        .get("onPremisesSyncEnabled")
        .and_then(Value::as_bool)
        == Some(false);
    let mut changes = Vec::new();
    for (name, value) in body {
        // Clients (Kiota) send `@odata.type`; annotations are not properties.
        if name.starts_with('@') {
            continue;
        }
        let property = call.version.user_property(&name).ok_or_else(|| {
            GraphError::bad_request(format!(
                "Property '{name}' does not exist as a declared property or extension property."
            ))
        })?;
        if read_only(property) {
            return Err(GraphError::bad_request(format!(
                "Property '{property}' is read-only and cannot be set."
            )));
        }
        // graph-api.md §10: synced users are refused.
        if synced && !cloud_mastered(property) {
            return Err(GraphError::synced_object());
        }
        // graph-api.md §16 #7: restored, formerly synced users.
        if formerly_synced
            && on_premises_attribute(property)
            && !fixture.settings.restored_user_on_premises_writes_allowed
        {
            return Err(GraphError::synced_object());
        }
        changes.push((property, value));
    }
    for (property, value) in &changes {
        match *property {
            "onPremisesImmutableId" => check_immutable_id(call, &fixture, index, value)?,
            "onPremisesObjectIdentifier" => {
                // entra-matching.md §8: beta, null only, with its own permission.
                if !value.is_null() {
                    return Err(invalid_value(property));
                }
                call.principal.require(
                    &["User-OnPremisesSyncBehavior.ReadWrite.All"],
                    &["User-OnPremisesSyncBehavior.ReadWrite.All"],
                )?;
            }
            "userPrincipalName" => check_user_principal_name(&fixture, &target_id, value)?,
            // The documented clear is to null, on beta, for cloud-only users.
            other
                if on_premises_attribute(other)
                    && (!value.is_null() || call.version == ApiVersion::V1) =>
            {
                return Err(GraphError::bad_request(format!(
                    "Property '{other}' is read-only and cannot be set."
                )));
            }
            _ => {}
        }
    }
    let sensitive = changes.iter().any(|(property, _)| {
        matches!(
            *property,
            "onPremisesImmutableId"
                | "accountEnabled"
                | "businessPhones"
                | "mobilePhone"
                | "otherMails"
                | "passwordProfile"
                | "userPrincipalName"
        )
    });
    // graph-api.md §14: sensitive actions on privileged targets need a privileged actor.
    if sensitive
        && holds_privileged_role(&fixture, &target_id)
        && !actor_may_touch_privileged(call, &fixture)
    {
        return Err(GraphError::forbidden());
    }
    fixture.change_user(index, |user| {
        for (property, value) in changes {
            user.insert(property.to_owned(), value);
        }
    });
    tracing::info!(user = %target_id, "user updated");
    Ok(ApiResponse::new(StatusCode::NO_CONTENT))
}

fn check_immutable_id(
    call: &Call<'_>,
    fixture: &Tenant,
    index: usize,
    value: &Value,
) -> Result<(), GraphError> {
    let target = &fixture.users[index];
    let property = "onPremisesImmutableId";
    let text = match value {
        // graph-api.md §5, §16 #6: null clears; some tenants refused it on v1.0.
        Value::Null => {
            if call.version == ApiVersion::V1
                && !fixture.settings.v1_null_immutable_id_patch_allowed
            {
                return Err(invalid_value(property));
            }
            return Ok(());
        }
        Value::String(text) => text,
        _ => return Err(invalid_value(property)),
    };
    // graph-api.md §5: "The $ and _ characters can't be used"; never "".
    if hardmatch_core::anchor::ImmutableId::from_text(text.as_str())
        .validate_for_graph()
        .is_err()
    {
        return Err(invalid_value(property));
    }
    // graph-api.md §16 #16: federated-UPN users.
    if fixture.settings.federated_immutable_id_patch_rejected
        && string_property(target, "userPrincipalName")
            .is_some_and(|upn| is_federated_upn(fixture, upn))
    {
        return Err(GraphError::bad_request(
            "One or more properties contains invalid values.",
        ));
    }
    let target_id = user_id(target);
    // graph-api.md §10 + §16 #1: unique across active and (switch) deleted users,
    // compared case-sensitively.
    let holder = fixture
        .users_with_immutable_id(text)
        .into_iter()
        .map(|position| &fixture.users[position])
        .find(|user| {
            user_id(user) != target_id
                && (!is_deleted(user) || fixture.settings.deleted_users_reserve_immutable_id)
        });
    if let Some(holder) = holder {
        return Err(immutable_id_conflict(
            fixture.settings.conflict_shape,
            user_id(holder),
        ));
    }
    Ok(())
}

/// Properties a client never sends back: Graph assigns or hides them.
const NOT_STORED_ON_CREATE: [&str; 1] = ["passwordProfile"];

/// `POST /users`: a cloud user. A federated UPN needs an ImmutableID (graph-api.md §5, §10);
/// a used ImmutableID answers per switch §16 #19.
pub(crate) fn create(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    call.principal
        .require(&WRITE_USERS, &WRITE_USERS_DELEGATED)?;
    let body = json_body(call)?;
    let mut fixture = call.emulator.tenant();
    let mut user = UserObject::new();
    for (name, value) in body {
        if name.starts_with('@') {
            continue;
        }
        let property = call.version.user_property(&name).ok_or_else(|| {
            GraphError::bad_request(format!(
                "Property '{name}' does not exist as a declared property or extension property."
            ))
        })?;
        if read_only(property) && property != "proxyAddresses" {
            return Err(GraphError::bad_request(format!(
                "Property '{property}' is read-only and cannot be set."
            )));
        }
        if !NOT_STORED_ON_CREATE.contains(&property) {
            user.insert(property.to_owned(), value);
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let upn = user
        .get("userPrincipalName")
        .cloned()
        .unwrap_or(Value::Null);
    check_user_principal_name(&fixture, &id, &upn)?;
    let upn = upn.as_str().unwrap_or_default().to_owned();
    match user.get("onPremisesImmutableId") {
        None | Some(Value::Null) if is_federated_upn(&fixture, &upn) => {
            return Err(GraphError::bad_request(
                "One or more properties contains invalid values.",
            ));
        }
        Some(Value::String(text)) => {
            if hardmatch_core::anchor::ImmutableId::from_text(text.as_str())
                .validate_for_graph()
                .is_err()
            {
                return Err(invalid_value("onPremisesImmutableId"));
            }
            let holder = fixture
                .users_with_immutable_id(text)
                .into_iter()
                .map(|position| &fixture.users[position])
                .find(|other| {
                    !is_deleted(other) || fixture.settings.deleted_users_reserve_immutable_id
                });
            if let Some(holder) = holder {
                return Err(match fixture.settings.create_with_used_immutable_id {
                    crate::settings::CreateConflictBehaviour::Conflict => {
                        immutable_id_conflict(fixture.settings.conflict_shape, user_id(holder))
                    }
                    crate::settings::CreateConflictBehaviour::KeyNotFound => GraphError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "UnknownError",
                        "The given key was not present in the dictionary.",
                    ),
                });
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(invalid_value("onPremisesImmutableId")),
    }
    user.insert("id".into(), Value::String(id.clone()));
    user.insert(
        "createdDateTime".into(),
        Value::String(graph_date_time(call.now)),
    );
    for property in ["businessPhones", "assignedLicenses", "proxyAddresses"] {
        user.entry(property)
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    let mut body = OrderedObject::default();
    body.push(
        "@odata.context",
        Value::String(call.context("users/$entity")),
    );
    body.0.extend(project_user(&user, None).0);
    fixture.insert_user(user);
    tracing::info!(user = %id, "user created");
    let mut response = ApiResponse::odata_json(StatusCode::CREATED, &body);
    response.set_header(
        "location",
        &format!(
            "{}/{}/users/{id}",
            call.emulator.base_url,
            call.version.segment()
        ),
    );
    Ok(response)
}

fn check_user_principal_name(
    fixture: &Tenant,
    target_id: &str,
    value: &Value,
) -> Result<(), GraphError> {
    let Some(upn) = value.as_str().filter(|upn| upn.contains('@')) else {
        return Err(invalid_value("userPrincipalName"));
    };
    let domain = domain_of(upn);
    if fixture.tenant.verified_domain(domain).is_none() {
        return Err(GraphError::bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        ));
    }
    let taken = fixture
        .users_with_upn(upn)
        .into_iter()
        .any(|other| user_id(&fixture.users[other]) != target_id);
    if taken {
        let mut error = GraphError::bad_request(
            "Another object with the same value for property userPrincipalName already exists.",
        );
        error.details = vec![ErrorDetail {
            code: "ObjectConflict".into(),
            message: error.message.clone(),
            target: "userPrincipalName".into(),
        }];
        return Err(error);
    }
    Ok(())
}

/// Where the UPN a user had before deletion is kept, to give it back on restore. Never
/// served: responses only carry selected Graph properties.
pub(crate) const ORIGINAL_UPN_KEY: &str = "_emulatorOriginalUserPrincipalName";

pub(crate) fn delete(call: &Call<'_>, key: &str) -> Result<ApiResponse, GraphError> {
    call.principal
        .require(&DELETE_USERS, &DELETE_USERS_DELEGATED)?;
    let mut fixture = call.emulator.tenant();
    let index = fixture
        .find_active_user(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let target_id = user_id(&fixture.users[index]).to_owned();
    // graph-api.md §14: app-only User.ReadWrite.All cannot delete admins.
    if holds_privileged_role(&fixture, &target_id) && !actor_may_touch_privileged(call, &fixture) {
        return Err(GraphError::forbidden());
    }
    if is_synced(&fixture.users[index]) && !fixture.settings.synced_user_delete_allowed {
        return Err(GraphError::synced_object());
    }
    let rewrite = fixture.settings.deleted_user_upn_rewritten;
    let initial_domain = fixture.tenant.initial_domain.clone();
    fixture.change_user(index, |user| {
        user.insert(
            "deletedDateTime".into(),
            Value::String(graph_date_time(call.now)),
        );
        if let Some(upn) = string_property(user, "userPrincipalName").map(str::to_owned) {
            user.insert(ORIGINAL_UPN_KEY.into(), Value::String(upn.clone()));
            // graph-api.md §16 #17: the UPN is rewritten with an id prefix.
            if rewrite {
                let local = upn
                    .rsplit_once('@')
                    .map_or(upn.as_str(), |(local, _)| local);
                let compact_id = target_id.replace('-', "");
                user.insert(
                    "userPrincipalName".into(),
                    Value::String(format!("{compact_id}{local}@{initial_domain}")),
                );
            }
        }
    });
    tracing::info!(user = %target_id, "user moved to the recycle bin");
    Ok(ApiResponse::new(StatusCode::NO_CONTENT))
}

pub(crate) fn license_details(call: &Call<'_>, key: &str) -> Result<ApiResponse, GraphError> {
    let fixture = call.emulator.tenant();
    // graph-api.md §9 and §16 #9: application "Not supported" on the permissions page,
    // yet served by default.
    if call.principal.is_app_only() && !fixture.settings.license_details_app_only_allowed {
        return Err(GraphError::forbidden());
    }
    call.principal.require(
        &[
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
            "LicenseAssignment.Read.All",
        ],
        &[
            "LicenseAssignment.Read.All",
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
    )?;
    let index = fixture
        .find_active_user(key)
        .ok_or_else(|| GraphError::not_found(key))?;
    let user = &fixture.users[index];
    let target_id = user_id(user);
    let licenses = user
        .get("assignedLicenses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let value: Vec<Value> = licenses
        .iter()
        .filter_map(|license| license.get("skuId").and_then(Value::as_str))
        .map(|sku_id| {
            let sku = fixture
                .license_skus
                .iter()
                .find(|sku| sku.get("skuId").and_then(Value::as_str) == Some(sku_id));
            json!({
                "id": license_detail_id(target_id, sku_id),
                "skuId": sku_id,
                "skuPartNumber": sku.and_then(|sku| sku.get("skuPartNumber")).cloned().unwrap_or(Value::Null),
                "servicePlans": sku.and_then(|sku| sku.get("servicePlans")).cloned().unwrap_or(json!([])),
            })
        })
        .collect();
    let mut body = OrderedObject::default();
    body.push(
        "@odata.context",
        Value::String(call.context(&format!("users('{target_id}')/licenseDetails"))),
    );
    body.push("value", Value::Array(value));
    Ok(ApiResponse::odata_json(StatusCode::OK, &body))
}

/// Graph's licenseDetails ids are opaque strings; derived here so they are stable.
fn license_detail_id(user_id: &str, sku_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{user_id}:{sku_id}"))
}
