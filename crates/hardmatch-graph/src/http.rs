//! The HTTP layer: TLS, `client-request-id`, pacing, bounded concurrency and retries.
//!
//! Every request to the sign-in service and to Graph goes through [`Transport::send`], which
//! returns the final response (whatever its status) or a transport error after the retries.
//! Classifying a final error response is the caller's job (see `error::classify`), because
//! only the caller knows which operation a 403 is about.
//!
//! One logical request keeps its `client-request-id` GUID across its retries, so that
//! Microsoft support can follow every attempt of it; errors quote it with Graph's
//! `request-id`.
//!
//! Retries: 429, 503 and 504 always (the service did not act on the request); 500 and 502,
//! connection resets and time-outs only for idempotent requests. The wait is the response's
//! `Retry-After` (fractional seconds allowed) or a jittered exponential backoff.
//!
//! Logging: method, URL, status, attempt and ids at `debug`, each retry at `warn`. Headers
//! are never logged; the `Authorization` value is also marked sensitive, so reqwest's own
//! `Debug` output redacts it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderValue};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::Semaphore;

use crate::error::{GraphError, RequestIds};
use crate::pacer::{Cost, Pacer, parse_limit_fraction};
use crate::retry::{RetryPolicy, jitter, parse_retry_after};
use crate::secret::Secret;
use crate::settings::HttpSettings;

/// A request body.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Json(Vec<u8>),
    /// `application/x-www-form-urlencoded`; may hold a secret, so it is never logged.
    Form(Secret),
}

/// One logical request; resent as is on retries.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) bearer: Option<Secret>,
    pub(crate) body: Option<Body>,
    pub(crate) cost: Cost,
    /// Safe to resend after a reset or a 500: the server may have acted on it already.
    pub(crate) idempotent: bool,
}

impl Outgoing {
    pub(crate) fn new(method: Method, url: String) -> Self {
        let idempotent = method != Method::POST;
        Self {
            method,
            url,
            headers: Vec::new(),
            bearer: None,
            body: None,
            cost: Cost::FREE,
            idempotent,
        }
    }
}

/// A final response.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) url: String,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) request: RequestIds,
    pub(crate) attempts: u32,
}

impl Incoming {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// A success answer that is an HTML page (a captive portal or a proxy's block page).
    pub(crate) fn html_instead_of_json(&self) -> Option<GraphError> {
        crate::error::looks_like_html(self.header("content-type"), &self.body).then(|| {
            GraphError::HtmlInsteadOfJson {
                status: self.status,
                url: self.url.clone(),
                request: self.request.clone(),
            }
        })
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after").and_then(parse_retry_after)
    }
}

/// The shared HTTP machinery of one client.
#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    pub(crate) retry: RetryPolicy,
    pacer: Pacer,
    permits: Arc<Semaphore>,
    pub(crate) counters: Counters,
}

/// Running totals of one client, for `-v` summaries and tests.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) exchanges: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) pacing_waits: AtomicU64,
    pub(crate) pacing_wait_micros: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RequestStatistics {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestStatistics {
            exchanges: read(&self.exchanges),
            retries: read(&self.retries),
            throttled: read(&self.throttled),
            pacing_waits: read(&self.pacing_waits),
            pacing_wait: Duration::from_micros(read(&self.pacing_wait_micros)),
        }
    }
}

/// What a client has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestStatistics {
    /// HTTP exchanges with the sign-in service and Graph, retries included.
    pub exchanges: u64,
    /// Requests and `$batch` items sent again.
    pub retries: u64,
    /// 429 answers received, `$batch` items included; none of them reached the caller
    /// unless retries ran out.
    pub throttled: u64,
    /// Times the pacer held a request back to stay under the quota, and for how long.
    pub pacing_waits: u64,
    pub pacing_wait: Duration,
}

impl Transport {
    pub(crate) fn new(
        settings: &HttpSettings,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Self, GraphError> {
        let tls = tls_config(extra_ca_pem)?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(settings.request_timeout)
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("hardmatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| GraphError::Configuration {
                reason: format!("cannot set up HTTPS: {error}"),
            })?;
        Ok(Self {
            client,
            retry: settings.retry.clone(),
            pacer: Pacer::new(settings.pacing.clone()),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            counters: Counters::default(),
        })
    }

    pub(crate) fn set_resource_unit_quota(&self, quota: f64) {
        self.pacer.set_resource_unit_quota(quota);
    }

    /// Tells the pacer about a 429 that arrived inside a `$batch` answer.
    pub(crate) fn throttled(&self, cost: Cost, information: Option<&str>) {
        self.pacer.throttled(cost, information);
    }

    /// Sends with pacing, concurrency limit and retries.
    pub(crate) async fn send(&self, outgoing: &Outgoing) -> Result<Incoming, GraphError> {
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let pacing_wait = self.pacer.reserve(outgoing.cost);
            if !pacing_wait.is_zero() {
                tracing::debug!(
                    wait_ms = pacing_wait.as_millis() as u64,
                    "pacing under the Graph quota"
                );
                Counters::add(&self.counters.pacing_waits, 1);
                Counters::add(
                    &self.counters.pacing_wait_micros,
                    pacing_wait.as_micros() as u64,
                );
                tokio::time::sleep(pacing_wait).await;
            }
            Counters::add(&self.counters.exchanges, 1);
            let result = {
                let _permit =
                    self.permits
                        .acquire()
                        .await
                        .map_err(|_| GraphError::Configuration {
                            reason: "the HTTP client was shut down".to_owned(),
                        })?;
                self.send_once(outgoing, &client_request_id).await
            };
            let retries_left = attempt <= self.retry.max_retries;
            match result {
                Ok(incoming) => {
                    self.pacer.observe(
                        outgoing.cost,
                        incoming
                            .header("x-ms-resource-unit")
                            .and_then(|value| value.trim().parse().ok()),
                        incoming
                            .header("x-ms-throttle-limit-percentage")
                            .and_then(parse_limit_fraction),
                    );
                    tracing::debug!(
                        method = %outgoing.method,
                        url = %outgoing.url,
                        status = incoming.status,
                        attempt,
                        request_id = incoming.request.request_id.as_deref().unwrap_or("-"),
                        client_request_id = %client_request_id,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "graph response"
                    );
                    if retries_left && should_retry_status(incoming.status, outgoing.idempotent) {
                        Counters::add(&self.counters.retries, 1);
                        if incoming.status == 429 {
                            Counters::add(&self.counters.throttled, 1);
                            self.pacer.throttled(
                                outgoing.cost,
                                incoming.header("x-ms-throttle-information"),
                            );
                        }
                        let wait = match incoming.retry_after() {
                            Some(retry_after) => {
                                self.retry.after_retry_after(retry_after, attempt, jitter())
                            }
                            None => self.retry.backoff(attempt, jitter()),
                        };
                        tracing::warn!(
                            method = %outgoing.method,
                            url = %outgoing.url,
                            status = incoming.status,
                            attempt,
                            wait_ms = wait.as_millis() as u64,
                            request_id = incoming.request.request_id.as_deref().unwrap_or("-"),
                            "retrying"
                        );
                        tokio::time::sleep(self.retry.effective(wait)).await;
                        continue;
                    }
                    if incoming.status == 429 {
                        Counters::add(&self.counters.throttled, 1);
                    }
                    return Ok(Incoming {
                        attempts: attempt,
                        ..incoming
                    });
                }
                Err(error) => {
                    // An untrusted certificate stays untrusted: retrying only delays the answer.
                    if let Some(detail) = certificate_rejection(&error) {
                        return Err(GraphError::TlsUntrusted {
                            url: outgoing.url.clone(),
                            detail,
                        });
                    }
                    let retryable = error.is_connect()
                        || (outgoing.idempotent
                            && (error.is_timeout() || error.is_request() || error.is_body()));
                    if retries_left && retryable {
                        Counters::add(&self.counters.retries, 1);
                        let wait = self.retry.backoff(attempt, jitter());
                        tracing::warn!(
                            method = %outgoing.method,
                            url = %outgoing.url,
                            attempt,
                            wait_ms = wait.as_millis() as u64,
                            error = %error_chain(&error),
                            "retrying after a transport error"
                        );
                        tokio::time::sleep(self.retry.effective(wait)).await;
                        continue;
                    }
                    return Err(GraphError::Transient {
                        status: None,
                        attempts: attempt,
                        message: format!(
                            "{} {} failed after {:.1} s: {}",
                            outgoing.method,
                            outgoing.url,
                            started.elapsed().as_secs_f64(),
                            error_chain(&error)
                        ),
                        request: RequestIds {
                            client_request_id: Some(client_request_id),
                            request_id: None,
                        },
                    });
                }
            }
        }
    }

    async fn send_once(
        &self,
        outgoing: &Outgoing,
        client_request_id: &str,
    ) -> Result<Incoming, reqwest::Error> {
        let mut builder = self
            .client
            .request(outgoing.method.clone(), &outgoing.url)
            .header("client-request-id", client_request_id)
            .header("return-client-request-id", "true");
        for (name, value) in &outgoing.headers {
            builder = builder.header(*name, value);
        }
        if let Some(bearer) = &outgoing.bearer {
            // An invalid token character cannot form a header; sending without it yields a 401
            // that reports the problem without echoing the token.
            if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", bearer.expose())) {
                value.set_sensitive(true);
                builder = builder.header(header::AUTHORIZATION, value);
            }
        }
        builder = match &outgoing.body {
            Some(Body::Json(bytes)) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Some(Body::Form(form)) => builder
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.expose().to_owned()),
            None => builder,
        };
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        let request_id = headers
            .get("request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Incoming {
            url: outgoing.url.clone(),
            status,
            headers,
            body,
            request: RequestIds {
                client_request_id: Some(client_request_id.to_owned()),
                request_id,
            },
            attempts: 1,
        })
    }
}

/// Statuses worth resending.
pub(crate) fn should_retry_status(status: u16, idempotent: bool) -> bool {
    match status {
        429 | 503 | 504 => true,
        500 | 502 => idempotent,
        _ => false,
    }
}

/// The certificate problem in an error's chain, when the TLS handshake refused the server.
/// Recognised by rustls' own wording: the rustls error arrives boxed inside hyper's and the
/// I/O layer's errors, where a type check cannot reach it.
fn certificate_rejection(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let chain = error_chain(error);
    let start = chain.find("invalid peer certificate")?;
    Some(chain[start..].to_owned())
}

/// The error and its sources on one line ("error sending request: connection reset").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// rustls with the ring provider (the workspace's one provider), the platform's trust store
/// plus any extra CA, verification always on.
fn tls_config(extra_ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, GraphError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut extra_roots = Vec::new();
    if let Some(pem) = extra_ca_pem {
        for certificate in CertificateDer::pem_slice_iter(pem) {
            extra_roots.push(certificate.map_err(|error| GraphError::Configuration {
                reason: format!("the extra CA certificate is not valid PEM: {error}"),
            })?);
        }
        if extra_roots.is_empty() {
            return Err(GraphError::Configuration {
                reason: "the extra CA file holds no PEM certificate".to_owned(),
            });
        }
    }
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map_err(|error| GraphError::Configuration {
                reason: format!("cannot load the trusted certificates: {error}"),
            })?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| GraphError::Configuration {
            reason: format!("cannot set up TLS: {error}"),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        assert!(should_retry_status(429, false));
        assert!(should_retry_status(503, false));
        assert!(should_retry_status(504, true));
        assert!(should_retry_status(500, true));
        assert!(!should_retry_status(500, false));
        assert!(!should_retry_status(400, true));
        assert!(!should_retry_status(404, true));
    }

    #[test]
    fn tls_config_accepts_a_pem_ca_and_rejects_garbage() {
        assert!(tls_config(None).is_ok());
        assert!(tls_config(Some(b"not a pem")).is_err());
    }
}
