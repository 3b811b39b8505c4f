//! Requests and responses as the emulator's handlers see them, independent of hyper, so
//! that `$batch` can run its items through exactly the same handlers as top-level calls.
//! Also the JSON shapes every Graph answer shares: the OData content type, the ordered
//! object (Graph puts `@odata.*` annotations first) and the error envelope.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

/// The content type Graph sends with JSON bodies.
pub(crate) const ODATA_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// A request, already read off the wire.
#[derive(Clone, Debug)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    /// The path, percent-encoded as sent, without the query.
    pub(crate) path: String,
    /// The raw query string, without `?`.
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl ApiRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// A response, before it is written to the wire.
#[derive(Clone, Debug)]
pub(crate) struct ApiResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl ApiResponse {
    pub(crate) fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// A JSON body with Graph's OData content type.
    pub(crate) fn odata_json(status: StatusCode, body: &impl Serialize) -> Self {
        Self::json_with_type(status, body, ODATA_JSON)
    }

    /// A JSON body with plain `application/json` (identity platform responses).
    pub(crate) fn plain_json(status: StatusCode, body: &impl Serialize) -> Self {
        Self::json_with_type(status, body, "application/json; charset=utf-8")
    }

    fn json_with_type(status: StatusCode, body: &impl Serialize, content_type: &str) -> Self {
        let text = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = Self::new(status);
        response.set_header("content-type", content_type);
        response.body = Bytes::from(text);
        response
    }

    pub(crate) fn text(status: StatusCode, text: String) -> Self {
        let mut response = Self::new(status);
        response.set_header("content-type", "text/plain; charset=utf-8");
        response.body = Bytes::from(text);
        response
    }

    pub(crate) fn set_header(&mut self, name: &str, value: &str) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.insert(name, value);
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body as JSON, when it is JSON.
    pub(crate) fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A JSON object whose keys keep the order they were inserted in: Graph writes
/// `@odata.context`, `@odata.count`, `@odata.nextLink` before `value`, and properties in
/// `$select` order.
#[derive(Clone, Debug, Default)]
pub(crate) struct OrderedObject(pub Vec<(String, Value)>);

impl OrderedObject {
    pub(crate) fn push(&mut self, key: impl Into<String>, value: Value) {
        self.0.push((key.into(), value));
    }
}

impl Serialize for OrderedObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// One entry of a Graph error's `details`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ErrorDetail {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) target: String,
}

/// A Graph error, before the per-request `innerError` is attached.
#[derive(Clone, Debug)]
pub(crate) struct GraphError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) details: Vec<ErrorDetail>,
    /// Headers the error carries (`Retry-After` and the throttle headers on 429).
    pub(crate) headers: Vec<(String, String)>,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// 429 with `Retry-After`, `x-ms-throttle-scope` and `x-ms-throttle-information`
    /// (graph-api.md §10, §13).
    pub(crate) fn throttled(retry_after: &str, scope: &str, information: &str) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Please retry again later.",
        );
        error.headers = vec![
            ("retry-after".to_owned(), retry_after.to_owned()),
            ("x-ms-throttle-scope".to_owned(), scope.to_owned()),
            (
                "x-ms-throttle-information".to_owned(),
                information.to_owned(),
            ),
        ];
        error
    }

    pub(crate) fn not_found(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    pub(crate) fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
        )
    }

    pub(crate) fn segment_not_found(segment: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
    }

    pub(crate) fn synced_object() -> Self {
        Self::bad_request(
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
        )
    }

    /// The JSON envelope: `{"error":{"code","message","innerError":{…}}}`.
    pub(crate) fn envelope(&self, date: &str, request_id: &str, client_request_id: &str) -> Value {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
        });
        if !self.details.is_empty() {
            error["details"] = serde_json::to_value(&self.details).unwrap_or(Value::Null);
        }
        error["innerError"] = if self.status == StatusCode::TOO_MANY_REQUESTS {
            // The documented 429 body carries its own inner code, message and status.
            serde_json::json!({
                "code": "429",
                "date": date,
                "message": "Please retry after",
                "request-id": request_id,
                "client-request-id": client_request_id,
                "status": "429",
            })
        } else {
            serde_json::json!({
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id,
            })
        };
        serde_json::json!({ "error": error })
    }
}

/// Decodes `%XX` sequences in one path segment or query value.
pub(crate) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits a raw query string into decoded pairs; `+` means space, as forms and OData
/// clients send it.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}
