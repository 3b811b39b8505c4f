//! Role reads hardmatch uses to detect privileged users (graph-api.md §8): active
//! assignments, assignment schedule instances and PIM eligibility schedule instances,
//! filtered by `principalId eq '…'` (or roleDefinitionId).

use hardmatch_core::tenant::RoleAssignment;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::Call;
use crate::odata::filter::{self, EvaluationRules};
use crate::wire::{ApiResponse, GraphError, OrderedObject, query_pairs};

const READ_ROLES: [&str; 7] = [
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "RoleAssignmentSchedule.Read.Directory",
    "RoleEligibilitySchedule.Read.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

fn respond(
    call: &Call<'_>,
    fragment: &str,
    items: Vec<Map<String, Value>>,
) -> Result<ApiResponse, GraphError> {
    call.principal.require(&READ_ROLES, &READ_ROLES)?;
    let filter = query_pairs(&call.request.query)
        .into_iter()
        .find(|(key, _)| key.trim_start_matches('$').eq_ignore_ascii_case("filter"))
        .map(|(_, value)| value);
    let expression = match filter {
        Some(text) => Some(filter::parse(&text).map_err(|error| {
            GraphError::bad_request(format!("Invalid filter clause: {}", error.0))
        })?),
        None => None,
    };
    let rules = EvaluationRules {
        proxy_addresses_case_insensitive: true,
    };
    let value: Vec<Value> = items
        .into_iter()
        .filter(|item| {
            expression
                .as_ref()
                .is_none_or(|expression| filter::evaluate(expression, item, rules))
        })
        .map(Value::Object)
        .collect();
    let mut body = OrderedObject::default();
    body.push("@odata.context", Value::String(call.context(fragment)));
    body.push("value", Value::Array(value));
    Ok(ApiResponse::odata_json(StatusCode::OK, &body))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn assignment_json(assignment: &RoleAssignment) -> Map<String, Value> {
    object(json!({
        "id": assignment.id,
        "principalId": assignment.principal_id,
        "roleDefinitionId": assignment.role_definition_id,
        "directoryScopeId": assignment.directory_scope_id,
        "appScopeId": null,
        "condition": null,
    }))
}

pub(crate) fn definitions(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    let items = call
        .emulator
        .tenant()
        .role_definitions
        .iter()
        .map(|definition| {
            object(json!({
                "id": definition.id,
                "templateId": definition.id,
                "displayName": definition.display_name,
                "isBuiltIn": true,
                "isEnabled": true,
                "isPrivileged": definition.is_privileged,
                "resourceScopes": ["/"],
                "rolePermissions": [],
            }))
        })
        .collect();
    respond(call, "roleManagement/directory/roleDefinitions", items)
}

pub(crate) fn assignments(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    let items = call
        .emulator
        .tenant()
        .role_assignments
        .iter()
        .map(assignment_json)
        .collect();
    respond(call, "roleManagement/directory/roleAssignments", items)
}

pub(crate) fn assignment_schedule_instances(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    let items = call
        .emulator
        .tenant()
        .role_assignments
        .iter()
        .map(|assignment| {
            let mut item = assignment_json(assignment);
            item.remove("condition");
            item.insert("startDateTime".into(), Value::Null);
            item.insert("endDateTime".into(), Value::Null);
            item.insert("assignmentType".into(), Value::String("Assigned".into()));
            item.insert("memberType".into(), Value::String("Direct".into()));
            item.insert(
                "roleAssignmentOriginId".into(),
                Value::String(assignment.id.clone()),
            );
            item.insert(
                "roleAssignmentScheduleId".into(),
                Value::String(assignment.id.clone()),
            );
            item
        })
        .collect();
    respond(
        call,
        "roleManagement/directory/roleAssignmentScheduleInstances",
        items,
    )
}

pub(crate) fn eligibility_schedule_instances(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    let items = call
        .emulator
        .tenant()
        .role_eligibilities
        .iter()
        .map(|eligibility| {
            let mut item = assignment_json(eligibility);
            item.remove("condition");
            item.insert("startDateTime".into(), Value::Null);
            item.insert("endDateTime".into(), Value::Null);
            item.insert("memberType".into(), Value::String("Direct".into()));
            item.insert(
                "roleEligibilityScheduleId".into(),
                Value::String(eligibility.id.clone()),
            );
            item
        })
        .collect();
    respond(
        call,
        "roleManagement/directory/roleEligibilityScheduleInstances",
        items,
    )
}
