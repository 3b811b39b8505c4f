//! `POST /$batch` (graph-api.md §11): at most 20 items with unique ids, run in order
//! through the same [`super::execute`] as top-level requests, so each item is
//! authenticated, throttled (its own 429 and `Retry-After`) and answered exactly as alone.
//! Items whose `dependsOn` failed get 424. Only the outer Authorization is inherited:
//! `ConsistencyLevel` must be in the item's own headers.
//!
//! Write items are also entered in the request log, as `/v1.0/$batch/users/{id}` (just
//! before the batch itself, which is logged once answered): a test can then see every
//! write exactly once whether it went alone or in a batch, while a count of HTTP requests
//! leaves out paths containing `/$batch/`.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::Call;
use crate::clock::inner_error_date;
use crate::odata::query::ApiVersion;
use crate::state::{RequestRecord, lock};
use crate::wire::{ApiRequest, ApiResponse, GraphError, OrderedObject};

const MAXIMUM_REQUESTS: usize = 20;

fn invalid(message: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

struct Item {
    id: String,
    method: Method,
    url: String,
    headers: Map<String, Value>,
    body: Option<Value>,
    depends_on: Vec<String>,
}

fn parse_items(body: &[u8]) -> Result<Vec<Item>, GraphError> {
    let document: Value =
        serde_json::from_slice(body).map_err(|_| invalid("Invalid batch payload format."))?;
    let requests = document
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Invalid batch payload format."))?;
    // graph-api.md §16 #10: more than 20 is a 400 with a generic message.
    if requests.len() > MAXIMUM_REQUESTS {
        return Err(invalid("Invalid batch payload format."));
    }
    let mut items = Vec::new();
    for request in requests {
        let text = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(id), Some(method), Some(url)) = (text("id"), text("method"), text("url")) else {
            return Err(invalid("Invalid batch payload format."));
        };
        if items.iter().any(|item: &Item| item.id == id) {
            return Err(invalid("Batch request contains duplicate Ids."));
        }
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| invalid("Invalid batch payload format."))?;
        let headers = request
            .get("headers")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let body = request.get("body").cloned().filter(|body| !body.is_null());
        if body.is_some()
            && !headers
                .keys()
                .any(|name| name.eq_ignore_ascii_case("content-type"))
        {
            return Err(invalid(
                "Content-Type header must be specified for requests with a body.",
            ));
        }
        let depends_on = match request.get("dependsOn") {
            Some(Value::Array(ids)) => ids
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        items.push(Item {
            id,
            method,
            url,
            headers,
            body,
            depends_on,
        });
    }
    for item in &items {
        for dependency in &item.depends_on {
            if !items.iter().any(|other| &other.id == dependency) {
                return Err(invalid(
                    "Invalid dependsOn: the request it names is not in the batch.",
                ));
            }
        }
    }
    Ok(items)
}

pub(crate) fn handle(call: &Call<'_>) -> Result<ApiResponse, GraphError> {
    let items = parse_items(&call.request.body)?;
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    let mut any_throttled = false;
    for item in items {
        let failed_dependency = item
            .depends_on
            .iter()
            .any(|dependency| statuses.get(dependency).is_none_or(|status| *status >= 400));
        let response = if failed_dependency {
            failed_dependency_response(call, &item)
        } else {
            run_item(call, &item)
        };
        any_throttled |= response.status == StatusCode::TOO_MANY_REQUESTS;
        if item.method != Method::GET {
            log_write_item(call, &item, response.status.as_u16());
        }
        statuses.insert(item.id.clone(), response.status.as_u16());
        responses.push(item_json(&item.id, &response));
    }
    let outer = if any_throttled {
        StatusCode::from_u16(call.emulator.tenant().settings.batch_throttled_outer_status)
            .unwrap_or(StatusCode::OK)
    } else {
        StatusCode::OK
    };
    let mut body = OrderedObject::default();
    body.push("responses", Value::Array(responses));
    Ok(ApiResponse::odata_json(outer, &body))
}

fn log_write_item(call: &Call<'_>, item: &Item, status: u16) {
    let relative = relative_url(&item.url);
    let (path, query) = relative.split_once('?').unwrap_or((relative, ""));
    lock(&call.emulator.requests).push(RequestRecord {
        method: item.method.to_string(),
        path: format!("{}/{}", call.request.path, path.trim_start_matches('/')),
        query: query.to_owned(),
        status,
    });
}

/// An item's URL below the version: items carry a relative URL; an absolute one or a
/// version prefix is tolerated.
fn relative_url(url: &str) -> &str {
    let relative = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => url,
    };
    ["/v1.0", "/beta"]
        .iter()
        .find_map(|prefix| relative.strip_prefix(prefix))
        .unwrap_or(relative)
}

fn failed_dependency_response(call: &Call<'_>, item: &Item) -> ApiResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let error = GraphError::new(
        StatusCode::FAILED_DEPENDENCY,
        "FailedDependency",
        "Request failed because of a failed dependency.",
    );
    let body = error.envelope(&inner_error_date(call.now), &request_id, &request_id);
    let _ = item;
    ApiResponse::odata_json(StatusCode::FAILED_DEPENDENCY, &body)
}

fn run_item(call: &Call<'_>, item: &Item) -> ApiResponse {
    let url = relative_url(&item.url).trim_start_matches('/');
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut headers = HeaderMap::new();
    for (name, value) in &item.headers {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    if let Some(authorization) = call.request.headers.get("authorization") {
        headers.insert(http::header::AUTHORIZATION, authorization.clone());
    }
    let body = item
        .body
        .as_ref()
        .map(|body| Bytes::from(serde_json::to_vec(body).unwrap_or_default()))
        .unwrap_or_default();
    let request = ApiRequest {
        method: item.method.clone(),
        path: format!("/{path}"),
        query: query.to_owned(),
        headers,
        body,
    };
    let version: ApiVersion = call.version;
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = request
        .header("client-request-id")
        .map_or_else(|| request_id.clone(), str::to_owned);
    let mut response = match super::execute(call.emulator, &request, version, path, call.now) {
        Ok(response) => response,
        Err(error) => super::error_response(&error, call.now, &request_id, &client_request_id),
    };
    super::finish_headers(&mut response, call.now, &request_id, &client_request_id);
    response
}

fn item_json(id: &str, response: &ApiResponse) -> Value {
    let mut headers = Map::new();
    for name in [
        "content-type",
        "location",
        "retry-after",
        "x-ms-resource-unit",
        "x-ms-throttle-limit-percentage",
        "x-ms-throttle-scope",
        "x-ms-throttle-information",
        "request-id",
        "client-request-id",
    ] {
        if let Some(value) = response.header(name) {
            let display = match name {
                "content-type" => "Content-Type",
                "location" => "Location",
                "retry-after" => "Retry-After",
                other => other,
            };
            headers.insert(display.to_owned(), Value::String(value.to_owned()));
        }
    }
    let mut item = json!({"id": id, "status": response.status.as_u16(), "headers": headers});
    if !response.body.is_empty() {
        item["body"] = response.json_body().unwrap_or_else(|| {
            // Non-JSON bodies (`/$count`) travel base64-encoded, as Graph sends them.
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(&response.body))
        });
    }
    item
}
