//! [`GraphClient`]: signed-in requests, paging and `$batch`.
//!
//! - Every request carries a fresh `client-request-id` (see the HTTP layer) and a bearer
//!   token from the authenticator; a 401 renews the token once and resends.
//! - Collections are read with an exact `$select` and `$top=999` and followed through
//!   `@odata.nextLink` as an opaque URL, resending the same headers (`ConsistencyLevel`
//!   is not carried over by Graph). A next link to another host is refused: the bearer
//!   token only goes to the configured Graph.
//! - `$batch` sends up to 20 requests at once; items answered 429/503/504 are sent again in
//!   a smaller batch after the longest `Retry-After` among them, because Graph's SDKs do not
//!   retry batch items and the outer response is 200 even when every item was throttled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::Authenticator;
use crate::error::{ErrorResponse, GraphError, Operation, RequestIds, classify};
use crate::http::{
    Body, Counters, Incoming, Outgoing, RequestStatistics, Transport, should_retry_status,
};
use crate::pacer::Cost;
use crate::retry::jitter;
use crate::settings::{ApiVersion, Endpoints, GraphSettings};

/// Graph's largest page for directory objects.
pub const PAGE_SIZE: usize = 999;

/// Graph's largest `$batch`.
pub const BATCH_SIZE: usize = 20;

/// A signed-in Microsoft Graph client. Cheap to clone; clones share the token cache, the
/// pacer and the concurrency limit.
#[derive(Clone, Debug)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    authenticator: Authenticator,
    endpoints: Endpoints,
}

/// One Graph request.
#[derive(Clone, Debug)]
pub(crate) struct GraphRequest {
    pub(crate) method: Method,
    pub(crate) version: ApiVersion,
    /// Path and query after the version, starting with `/`, already encoded.
    pub(crate) path: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
    pub(crate) operation: Operation,
    /// What is addressed, for not-found errors.
    pub(crate) resource: String,
    pub(crate) cost: Cost,
    /// Safe to resend after a connection reset or a 500: everything but POST, and a
    /// `$batch` whose items all are.
    pub(crate) idempotent: bool,
}

impl GraphRequest {
    pub(crate) fn get(
        path: impl Into<String>,
        operation: Operation,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            method: Method::GET,
            version: ApiVersion::V1,
            path: path.into(),
            headers: Vec::new(),
            body: None,
            operation,
            resource: resource.into(),
            cost: Cost::read(1.0),
            idempotent: true,
        }
    }

    pub(crate) fn write(
        method: Method,
        path: impl Into<String>,
        body: Option<Value>,
        operation: Operation,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            idempotent: method != Method::POST,
            method,
            version: ApiVersion::V1,
            path: path.into(),
            headers: Vec::new(),
            body,
            operation,
            resource: resource.into(),
            cost: Cost::write(),
        }
    }

    pub(crate) fn on(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    pub(crate) fn costing(mut self, cost: Cost) -> Self {
        self.cost = cost;
        self
    }

    /// Adds a header; it is resent with every page, since Graph does not carry headers
    /// over into `@odata.nextLink`.
    pub(crate) fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// The answer to one item of a `$batch`.
#[derive(Clone, Debug)]
pub(crate) struct BatchAnswer {
    pub(crate) body: Value,
    /// The item's own ids, for the audit trail (see [`item_request_ids`]).
    pub(crate) request: RequestIds,
}

#[derive(Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct BatchResponse {
    #[serde(default)]
    responses: Vec<BatchItemResponse>,
}

#[derive(Deserialize)]
struct BatchItemResponse {
    id: String,
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    body: Value,
}

impl GraphClient {
    /// Builds the client from the CLI's settings and signs in, so that a wrong credential
    /// fails here rather than in the middle of a run. Device code prompts now.
    pub async fn connect(settings: GraphSettings) -> Result<Self, GraphError> {
        let endpoints = Endpoints::resolve(&settings)?;
        let transport = Transport::new(&settings.http, settings.extra_ca_pem.as_deref())?;
        let authenticator = Authenticator::from_settings(&settings, endpoints.clone())?;
        let client = Self {
            inner: Arc::new(Inner {
                transport,
                authenticator,
                endpoints,
            }),
        };
        client
            .inner
            .authenticator
            .token(&client.inner.transport)
            .await?;
        Ok(client)
    }

    /// The Graph root requests go to (no credentials in it).
    pub fn graph_root(&self) -> String {
        self.inner
            .endpoints
            .graph
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// Whether the Graph URL was overridden (the emulator or a proxy).
    pub fn has_custom_graph_url(&self) -> bool {
        self.inner.endpoints.custom_graph
    }

    /// Sizes the pacer's resource-unit quota for a tenant of `users` active users (3,500,
    /// 5,000 or 8,000 RU per 10 s); the default assumes the smallest tier.
    pub fn adopt_tenant_size(&self, users: u64) {
        let quota = crate::pacer::resource_unit_quota_for_tenant_size(
            usize::try_from(users).unwrap_or(usize::MAX),
        );
        self.inner.transport.set_resource_unit_quota(quota);
    }

    /// Requests, retries, 429s and pacing waits so far (shared by clones).
    pub fn statistics(&self) -> RequestStatistics {
        self.inner.transport.counters.snapshot()
    }

    /// "client secret", "certificate", "device code" or "Azure CLI".
    pub fn authentication_method(&self) -> &'static str {
        self.inner.authenticator.method_name()
    }

    fn url_of(&self, version: ApiVersion, path: &str) -> String {
        self.inner.endpoints.graph_url(version, path)
    }

    /// Sends a request with a token; renews the token once on 401. Non-success answers
    /// become typed errors.
    pub(crate) async fn send(&self, request: &GraphRequest) -> Result<Incoming, GraphError> {
        let url = self.url_of(request.version, &request.path);
        self.send_to(request, url).await
    }

    async fn send_to(&self, request: &GraphRequest, url: String) -> Result<Incoming, GraphError> {
        let mut outgoing = Outgoing::new(request.method.clone(), url.clone());
        outgoing.headers = request.headers.clone();
        outgoing.cost = request.cost;
        outgoing.idempotent = request.idempotent;
        if let Some(body) = &request.body {
            outgoing.body = Some(Body::Json(serde_json::to_vec(body).map_err(|error| {
                GraphError::Configuration {
                    reason: format!("cannot encode a request body: {error}"),
                }
            })?));
        }
        let mut renewed = false;
        loop {
            outgoing.bearer = Some(
                self.inner
                    .authenticator
                    .token(&self.inner.transport)
                    .await?,
            );
            let incoming = self.inner.transport.send(&outgoing).await?;
            if incoming.status == 401 && !renewed {
                tracing::debug!(url = %url, "token refused; signing in again");
                self.inner.authenticator.invalidate().await;
                renewed = true;
                continue;
            }
            if incoming.is_success() {
                return Ok(incoming);
            }
            // A `$batch` answers 424 when an item failed (graph-api.md §16 #11), with the
            // items' answers in the body: those are what counts.
            if request.path == "/$batch" && is_batch_body(&incoming.body) {
                return Ok(incoming);
            }
            return Err(error_from_response(
                &incoming,
                &url,
                request.operation,
                &request.resource,
            ));
        }
    }

    /// GET and decode.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        request: &GraphRequest,
    ) -> Result<T, GraphError> {
        let incoming = self.send(request).await?;
        decode(&incoming)
    }

    /// Reads a whole collection, following `@odata.nextLink`; `progress` gets the running count.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        request: &GraphRequest,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut url = self.url_of(request.version, &request.path);
        loop {
            let incoming = self.send_to(request, url.clone()).await?;
            let page: Page<T> = decode(&incoming)?;
            items.extend(page.value);
            progress(items.len());
            match page.next_link {
                Some(next) if next == url => {
                    return Err(GraphError::UnexpectedResponse {
                        reason: format!("@odata.nextLink points to the page just read ({next})"),
                        request: incoming.request,
                    });
                }
                Some(next) => {
                    self.check_same_origin(&next, &incoming.request)?;
                    url = next;
                }
                None => return Ok(items),
            }
        }
    }

    fn check_same_origin(&self, next: &str, request: &RequestIds) -> Result<(), GraphError> {
        let graph = &self.inner.endpoints.graph;
        match url::Url::parse(next) {
            Ok(next_url) if next_url.origin() == graph.origin() => Ok(()),
            _ => Err(GraphError::UnexpectedResponse {
                reason: format!(
                    "@odata.nextLink `{next}` does not point to {}; not following it with the token",
                    graph.origin().ascii_serialization()
                ),
                request: request.clone(),
            }),
        }
    }

    /// Sends requests in `$batch`es of 20, retrying throttled items; answers in input order.
    /// Items must all use `version`.
    pub(crate) async fn batch(
        &self,
        version: ApiVersion,
        items: &[GraphRequest],
    ) -> Result<Vec<Result<BatchAnswer, GraphError>>, GraphError> {
        let mut answers: Vec<Option<Result<BatchAnswer, GraphError>>> =
            (0..items.len()).map(|_| None).collect();
        for chunk_start in (0..items.len()).step_by(BATCH_SIZE) {
            let chunk_end = (chunk_start + BATCH_SIZE).min(items.len());
            let mut pending: Vec<usize> = (chunk_start..chunk_end).collect();
            let mut round: u32 = 0;
            while !pending.is_empty() {
                round += 1;
                let retries_left = round <= self.inner.transport.retry.max_retries;
                let (request, batch_url) = self.batch_request(version, items, &pending)?;
                let incoming = self.send_to(&request, batch_url.clone()).await?;
                let response: BatchResponse = decode(&incoming)?;
                let mut by_id: BTreeMap<String, BatchItemResponse> = response
                    .responses
                    .into_iter()
                    .map(|item| (item.id.clone(), item))
                    .collect();
                let mut still_pending = Vec::new();
                let mut longest_wait: Option<Duration> = None;
                for index in pending {
                    let item = &items[index];
                    let Some(answer) = by_id.remove(&index.to_string()) else {
                        answers[index] = Some(Err(GraphError::UnexpectedResponse {
                            reason: format!("$batch answered nothing for item {index}"),
                            request: incoming.request.clone(),
                        }));
                        continue;
                    };
                    if answer.status == 429 {
                        Counters::add(&self.inner.transport.counters.throttled, 1);
                        self.inner.transport.throttled(
                            item.cost,
                            header_value(&answer.headers, "x-ms-throttle-information").as_deref(),
                        );
                    }
                    if retries_left && should_retry_status(answer.status, item.idempotent) {
                        Counters::add(&self.inner.transport.counters.retries, 1);
                        let retry_after = header_value(&answer.headers, "retry-after")
                            .and_then(|value| crate::retry::parse_retry_after(&value));
                        let wait = retry_after
                            .unwrap_or_else(|| self.inner.transport.retry.backoff(round, jitter()));
                        longest_wait = Some(longest_wait.map_or(wait, |longest| longest.max(wait)));
                        still_pending.push(index);
                        continue;
                    }
                    answers[index] =
                        Some(self.batch_item_result(item, answer, &incoming, &batch_url));
                }
                if let Some(wait) = longest_wait {
                    let wait = self
                        .inner
                        .transport
                        .retry
                        .after_retry_after(wait, round, jitter());
                    tracing::warn!(
                        items = still_pending.len(),
                        round,
                        wait_ms = wait.as_millis() as u64,
                        "retrying throttled or failed $batch items"
                    );
                    tokio::time::sleep(self.inner.transport.retry.effective(wait)).await;
                }
                pending = still_pending;
            }
        }
        Ok(answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    Err(GraphError::UnexpectedResponse {
                        reason: "$batch item was never answered".to_owned(),
                        request: RequestIds::default(),
                    })
                })
            })
            .collect())
    }

    fn batch_request(
        &self,
        version: ApiVersion,
        items: &[GraphRequest],
        pending: &[usize],
    ) -> Result<(GraphRequest, String), GraphError> {
        let mut requests = Vec::with_capacity(pending.len());
        let mut cost = Cost::FREE;
        let mut idempotent = true;
        for &index in pending {
            let item = &items[index];
            let mut headers = serde_json::Map::new();
            for (name, value) in &item.headers {
                headers.insert((*name).to_owned(), Value::String(value.clone()));
            }
            let mut request = serde_json::json!({
                "id": index.to_string(),
                "method": item.method.as_str(),
                "url": item.path,
            });
            if let Some(body) = &item.body {
                headers.insert(
                    "Content-Type".to_owned(),
                    Value::String("application/json".to_owned()),
                );
                request["body"] = body.clone();
            }
            if !headers.is_empty() {
                request["headers"] = Value::Object(headers);
            }
            requests.push(request);
            cost = cost.plus(item.cost);
            idempotent &= item.idempotent;
        }
        let request = GraphRequest {
            method: Method::POST,
            version,
            path: "/$batch".to_owned(),
            headers: Vec::new(),
            body: Some(serde_json::json!({ "requests": requests })),
            operation: Operation::Batch,
            resource: "$batch".to_owned(),
            cost,
            idempotent,
        };
        let url = self.url_of(version, "/$batch");
        Ok((request, url))
    }

    fn batch_item_result(
        &self,
        item: &GraphRequest,
        answer: BatchItemResponse,
        batch: &Incoming,
        batch_url: &str,
    ) -> Result<BatchAnswer, GraphError> {
        let request = item_request_ids(&answer, batch);
        if (200..300).contains(&answer.status) {
            return Ok(BatchAnswer {
                body: answer.body,
                request,
            });
        }
        let body = serde_json::to_vec(&answer.body).unwrap_or_default();
        let error = classify(ErrorResponse {
            status: answer.status,
            content_type: Some("application/json"),
            body: &body,
            url: batch_url,
            operation: item.operation,
            resource: &item.resource,
            request,
        });
        Err(match error {
            GraphError::Throttled { request, .. } => GraphError::Throttled {
                attempts: self.inner.transport.retry.max_retries + 1,
                retry_after: header_value(&answer.headers, "retry-after")
                    .and_then(|value| crate::retry::parse_retry_after(&value)),
                scope: header_value(&answer.headers, "x-ms-throttle-scope"),
                request,
            },
            other => other,
        })
    }
}

/// A batch item's ids. Graph usually answers each item with its own `request-id` and
/// `client-request-id` headers, and those are what Microsoft support can trace; when an
/// item has none, it is known by the outer request's `request-id` followed by `#` and the
/// item's id in the batch, which names it just as uniquely.
fn item_request_ids(answer: &BatchItemResponse, batch: &Incoming) -> RequestIds {
    let outer = |id: &Option<String>| {
        id.as_ref()
            .map(|outer_id| format!("{outer_id}#{}", answer.id))
    };
    RequestIds {
        client_request_id: header_value(&answer.headers, "client-request-id")
            .or_else(|| outer(&batch.request.client_request_id)),
        request_id: header_value(&answer.headers, "request-id")
            .or_else(|| outer(&batch.request.request_id)),
    }
}

fn is_batch_body(body: &[u8]) -> bool {
    serde_json::from_slice::<BatchResponse>(body).is_ok_and(|parsed| !parsed.responses.is_empty())
}

/// A batch item's header, whose name's case varies.
fn header_value(headers: &BTreeMap<String, Value>, name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
}

/// Decodes a JSON body, or says where it came from.
pub(crate) fn decode<T: DeserializeOwned>(incoming: &Incoming) -> Result<T, GraphError> {
    if let Some(error) = incoming.html_instead_of_json() {
        return Err(error);
    }
    serde_json::from_slice(&incoming.body).map_err(|error| GraphError::UnexpectedResponse {
        reason: format!("cannot read the JSON answer: {error}"),
        request: incoming.request.clone(),
    })
}

/// Turns a final non-success response into a typed error, with the attempt count.
pub(crate) fn error_from_response(
    incoming: &Incoming,
    url: &str,
    operation: Operation,
    resource: &str,
) -> GraphError {
    let error = classify(ErrorResponse {
        status: incoming.status,
        content_type: incoming.header("content-type"),
        body: &incoming.body,
        url,
        operation,
        resource,
        request: incoming.request.clone(),
    });
    match error {
        GraphError::Throttled { request, .. } => GraphError::Throttled {
            attempts: incoming.attempts,
            retry_after: incoming.retry_after(),
            scope: incoming.header("x-ms-throttle-scope").map(str::to_owned),
            request,
        },
        GraphError::Transient {
            status,
            message,
            request,
            ..
        } => GraphError::Transient {
            status,
            attempts: incoming.attempts,
            message,
            request,
        },
        other => other,
    }
}

/// Encodes a query value or path segment: everything but unreserved characters and the
/// OData punctuation `,()':` is percent-encoded, so `+ / =` of Base64 values survive.
pub(crate) fn encode_component(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b','
            | b'('
            | b')'
            | b'\''
            | b':'
            | b'@' => encoded.push(byte as char),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// An OData string literal: single quotes doubled.
pub(crate) fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Builds `?$select=…&$top=…&$filter=…` with encoded values.
#[derive(Default)]
pub(crate) struct Query {
    parts: Vec<String>,
}

impl Query {
    pub(crate) fn select(mut self, properties: &[&str]) -> Self {
        self.parts.push(format!("$select={}", properties.join(",")));
        self
    }

    /// `$count=true`, which advanced queries need along with `ConsistencyLevel: eventual`.
    pub(crate) fn count(mut self) -> Self {
        self.parts.push("$count=true".to_owned());
        self
    }

    pub(crate) fn top(mut self, size: usize) -> Self {
        self.parts.push(format!("$top={size}"));
        self
    }

    pub(crate) fn filter(mut self, expression: &str) -> Self {
        self.parts
            .push(format!("$filter={}", encode_component(expression)));
        self
    }

    pub(crate) fn apply(self, path: &str) -> String {
        if self.parts.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", self.parts.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_characters_are_encoded_in_filters() {
        let path = Query::default()
            .filter(&format!(
                "onPremisesImmutableId eq {}",
                odata_string("nofCJe0gZk6D8J4gRgrt+A==")
            ))
            .select(&["id", "userPrincipalName"])
            .top(PAGE_SIZE)
            .apply("/users");
        assert_eq!(
            path,
            "/users?$filter=onPremisesImmutableId%20eq%20'nofCJe0gZk6D8J4gRgrt%2BA%3D%3D'&$select=id,userPrincipalName&$top=999"
        );
        assert_eq!(encode_component("a/b c#d"), "a%2Fb%20c%23d");
        assert_eq!(odata_string("o'brien"), "'o''brien'");
    }
}
