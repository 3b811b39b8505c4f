//! The HTTP(S) server: accepts connections on loopback, reads each request whole, routes
//! it (identity platform, Graph, emulator control), applies latency and chaos, and records
//! it. A chaos "connection reset" makes the service fail, which makes hyper drop the
//! connection without a response, as a reset looks to the client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::chaos::Fault;
use crate::odata::query::ApiVersion;
use crate::state::{Emulator, RequestRecord, lock};
use crate::throttle::format_retry_after;
use crate::wire::{ApiRequest, ApiResponse, GraphError};

/// What handling a request produced.
enum Outcome {
    Respond(ApiResponse),
    Reset,
}

#[derive(Debug, thiserror::Error)]
#[error("connection reset by chaos mode")]
struct ChaosReset;

pub(crate) async fn serve(
    listener: TcpListener,
    emulator: Arc<Emulator>,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let emulator = Arc::clone(&emulator);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(TokioIo::new(stream), emulator, shutdown).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(TokioIo::new(stream), emulator, shutdown).await,
                    Err(error) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                },
            }
        });
    }
}

async fn serve_connection<I>(io: I, emulator: Arc<Emulator>, mut shutdown: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let emulator = Arc::clone(&emulator);
        async move { respond(emulator, request).await }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

async fn respond(
    emulator: Arc<Emulator>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ChaosReset> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let api_request = ApiRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let outcome = handle(&emulator, api_request.clone()).await;
    let status = match &outcome {
        Outcome::Respond(response) => response.status.as_u16(),
        Outcome::Reset => 0,
    };
    if !api_request.path.starts_with("/_emulator/") {
        lock(&emulator.requests).push(RequestRecord {
            method: api_request.method.to_string(),
            path: api_request.path.clone(),
            query: api_request.query.clone(),
            status,
        });
    }
    tracing::debug!(method = %api_request.method, path = %api_request.path, status, "served");
    match outcome {
        Outcome::Reset => Err(ChaosReset),
        Outcome::Respond(response) => Ok(to_hyper(response)),
    }
}

fn to_hyper(response: ApiResponse) -> Response<Full<Bytes>> {
    let mut built = Response::new(Full::new(response.body));
    *built.status_mut() = response.status;
    *built.headers_mut() = response.headers;
    built
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

async fn handle(emulator: &Emulator, request: ApiRequest) -> Outcome {
    let path = request.path.clone();
    if let Some(rest) = path.strip_prefix("/_emulator/") {
        return Outcome::Respond(crate::control::handle(emulator, &request, rest));
    }
    if !emulator.latency.is_zero() {
        tokio::time::sleep(emulator.latency).await;
    }
    let graph = [("/v1.0", ApiVersion::V1), ("/beta", ApiVersion::Beta)]
        .into_iter()
        .find_map(|(prefix, version)| {
            path.strip_prefix(prefix)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(|rest| (version, rest.to_owned()))
        });
    if let Some((version, rest)) = graph {
        if let Some(fault) = draw_fault(emulator) {
            match fault {
                Fault::ConnectionReset => return Outcome::Reset,
                Fault::SlowResponse => {
                    let delay = emulator.tenant().settings.chaos_slow_response_milliseconds;
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                other => return Outcome::Respond(chaos_response(emulator, &request, other)),
            }
        }
        return Outcome::Respond(crate::graph::handle(emulator, &request, version, &rest));
    }
    Outcome::Respond(identity(emulator, &request, &path))
}

fn draw_fault(emulator: &Emulator) -> Option<Fault> {
    emulator.chaos.as_ref().and_then(|chaos| lock(chaos).draw())
}

fn chaos_response(emulator: &Emulator, request: &ApiRequest, fault: Fault) -> ApiResponse {
    let now = emulator.clock.now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = request
        .header("client-request-id")
        .map_or_else(|| request_id.clone(), str::to_owned);
    let error = match fault {
        Fault::TooManyRequests => {
            let format = emulator.tenant().settings.retry_after_format;
            GraphError::throttled(
                &format_retry_after(Duration::from_secs(1), format),
                "Tenant_Application/ReadWrite/chaos/chaos",
                "CPULimitExceeded",
            )
        }
        Fault::ServiceUnavailable => GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        _ => GraphError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "UnknownError",
            "The gateway did not receive a timely response.",
        ),
    };
    let mut response = crate::graph::error_response(&error, now, &request_id, &client_request_id);
    crate::graph::finish_headers(&mut response, now, &request_id, &client_request_id);
    response
}

/// Identity platform routes: `/{tenant}/oauth2/v2.0/token|devicecode`,
/// `/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/discovery/v2.0/keys`,
/// `/common/discovery/instance`.
fn identity(emulator: &Emulator, request: &ApiRequest, path: &str) -> ApiResponse {
    let parts = segments(path);
    let method = &request.method;
    match parts.as_slice() {
        ["common", "discovery", "instance"] if *method == Method::GET => {
            crate::token::instance_discovery(emulator)
        }
        [tenant, "oauth2", "v2.0", "token"] if *method == Method::POST => {
            crate::token::token(emulator, request, tenant)
        }
        [tenant, "oauth2", "v2.0", "devicecode"] if *method == Method::POST => {
            crate::token::device_code(emulator, request, tenant)
        }
        [tenant, "v2.0", ".well-known", "openid-configuration"] if *method == Method::GET => {
            crate::token::openid_configuration(emulator, request, tenant)
        }
        [_, "discovery", "v2.0", "keys"] | ["common", "discovery", "keys"]
            if *method == Method::GET =>
        {
            crate::token::keys(emulator)
        }
        _ => ApiResponse::plain_json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not_found", "error_description": format!("No emulated endpoint at {path}.")}),
        ),
    }
}
