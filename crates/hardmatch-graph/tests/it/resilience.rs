//! Throttling under the emulator's real quotas, and 10% chaos.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hardmatch_core::anchor::ImmutableId;
use hardmatch_emulator::settings::{RetryAfterFormat, TenantSize};
use hardmatch_emulator::{Chaos, EmulatorOptions, ManualClock};
use hardmatch_graph::{
    GraphClient, GraphError, HolderLookup, NoProgress, RestoreOptions, RetryPolicy, UserWrite,
};

use crate::support::{self, fixture, served};

/// Enough single-user reads to exceed a small tenant's 3,500 RU per 10 seconds.
const READS_OVER_QUOTA: usize = 3_600;

fn user_ids(count: usize) -> Vec<String> {
    let ids = [
        "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01",
        "2c3d4e5f-0002-4e5f-8a9b-0c1d2e3f4a02",
        "3e4f5a6b-0003-4e5f-8a9b-0c1d2e3f4a03",
    ];
    (0..count)
        .map(|index| ids[index % ids.len()].to_owned())
        .collect()
}

fn throttled_tenant() -> hardmatch_emulator::Fixture {
    let mut tenant = fixture();
    tenant.settings.throttling_enabled = true;
    tenant.settings.tenant_size = Some(TenantSize::Small);
    tenant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_bulk_reads_stay_under_the_real_quota() {
    let emulator = support::start(throttled_tenant()).await;
    let mut settings = support::secret_settings(&emulator);
    settings.http.retry = RetryPolicy::default();
    let client = GraphClient::connect(settings).await.expect("connects");
    let started = Instant::now();
    let results = client
        .get_users(&user_ids(READS_OVER_QUOTA))
        .await
        .expect("batches");
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    let throttled = served(&emulator)
        .iter()
        .filter(|entry| entry.3 == 429)
        .count();
    assert_eq!(
        throttled, 0,
        "the pacer should keep every request under the quota"
    );
    let statistics = client.statistics();
    assert_eq!(
        statistics.throttled, 0,
        "no batch item was throttled either: {statistics:?}"
    );
    assert!(statistics.pacing_waits > 0);
    eprintln!("{READS_OVER_QUOTA} paced reads in {elapsed:.1?}, no 429: {statistics:?}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaced_bursts_are_throttled_and_retried_and_no_429_reaches_the_caller() {
    let mut tenant = throttled_tenant();
    // Graph's documented sample is fractional (`2.128`); directory answers are integers.
    tenant.settings.retry_after_format = RetryAfterFormat::Fractional;
    // And the outer status of a batch with a throttled item is the doc's 424, not 200.
    tenant.settings.batch_throttled_outer_status = 424;
    // Time stands still in the emulator until the first 429, so the burst exhausts the
    // quota however slow the machine is; from then on 10 s pass every 200 ms.
    let clock = Arc::new(ManualClock::starting_now());
    let mut options = EmulatorOptions::new(tenant);
    options.clock = clock.clone();
    let emulator = support::start_with(options).await;
    let mut settings = support::secret_settings(&emulator);
    settings.http.retry = RetryPolicy::default();
    settings.http.pacing.enabled = false;
    let client = GraphClient::connect(settings).await.expect("connects");
    let watcher = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                if client.statistics().throttled > 0 {
                    clock.advance(Duration::from_secs(10));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    let started = Instant::now();
    let results = client
        .get_users(&user_ids(READS_OVER_QUOTA))
        .await
        .expect("batches");
    let elapsed = started.elapsed();
    watcher.abort();
    assert_eq!(results.len(), READS_OVER_QUOTA);
    assert!(
        results.iter().all(Result::is_ok),
        "every read succeeds after retries"
    );
    let statistics = client.statistics();
    // Throttled `$batch` items are not in the emulator's log; the client counts them.
    assert!(
        statistics.throttled > 0,
        "the burst should have exceeded the quota: {statistics:?}"
    );
    let outer_424 = served(&emulator)
        .iter()
        .filter(|entry| entry.3 == 424)
        .count();
    assert!(
        outer_424 > 0,
        "batches with throttled items were answered 424"
    );
    eprintln!(
        "unpaced: {statistics:?} in {elapsed:.1?}, {outer_424} batches answered 424, every 429 retried"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_ten_percent_chaos_every_call_succeeds_or_fails_cleanly() {
    let mut tenant = fixture();
    tenant.settings.chaos_slow_response_milliseconds = 20;
    let mut options = EmulatorOptions::new(tenant);
    options.chaos = Some(Chaos {
        rate: 0.1,
        seed: 20_261_122,
    });
    let emulator = support::start_with(options).await;
    let client = GraphClient::connect(support::secret_settings(&emulator))
        .await
        .expect("connects");
    let lynne = "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a01";
    let mut failures = Vec::new();
    let mut check = |name: &str, outcome: Result<(), GraphError>| {
        if let Err(error) = outcome {
            // A clean failure is typed, carries request ids and a hint; only retry-exhaustion
            // kinds are acceptable under chaos.
            assert!(
                matches!(
                    error,
                    GraphError::Transient { .. } | GraphError::Throttled { .. }
                ),
                "{name}: {error:?}"
            );
            assert!(error.request_ids().is_some(), "{name}");
            assert!(!error.hint().is_empty());
            failures.push(name.to_owned());
        }
    };
    for round in 0..5 {
        check("list users", client.list_users().await.map(drop));
        check("list deleted", client.list_deleted_users().await.map(drop));
        check("get user", client.get_user(lynne).await.map(drop));
        check(
            "holders",
            client
                .find_immutable_id_holders(
                    &[ImmutableId::from_text("iGhmiAEBERG7uxI0VniQqw==")],
                    HolderLookup::ServerFilter,
                )
                .await
                .map(drop),
        );
        let value = ImmutableId::from_text(format!("Y2hhb3Mtcm91bmQt{round}A=="));
        check(
            "set",
            client.set_immutable_id(lynne, &value).await.map(drop),
        );
        check("clear", client.clear_immutable_id(lynne).await.map(drop));
        check("tenant", client.tenant_info().await.map(drop));
        check("roles", client.role_assignments(None).await.map(drop));
        check(
            "batch",
            client
                .get_users(&vec![lynne.to_owned(); 45])
                .await
                .map(|results| assert!(results.iter().all(Result::is_ok))),
        );
        check(
            "snapshot",
            hardmatch_graph::snapshot_tenant(&client, &NoProgress)
                .await
                .map(drop),
        );
    }
    // Delete and restore: the restore POST is not resent after a reset, so it may fail
    // cleanly; the user is then restored on a second call.
    check("delete", client.delete_user(lynne).await);
    let restored = client
        .restore_deleted_user(lynne, &RestoreOptions::default())
        .await;
    if restored.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let faults = served(&emulator)
        .iter()
        .filter(|entry| matches!(entry.3, 0 | 429 | 503 | 504))
        .count();
    assert!(
        faults >= 5,
        "chaos should have injected faults, saw {faults}"
    );
    eprintln!("chaos: {faults} injected faults, clean failures: {failures:?}");
    assert!(
        failures.is_empty(),
        "retries should absorb 10% chaos: {failures:?}"
    );
    emulator.shutdown().await;
}

/// A captive portal or a proxy's block page: every answer is an HTML page with 200.
/// (The emulator never answers HTML, so this one-route server stands in for the proxy.)
#[tokio::test]
async fn an_html_page_from_a_proxy_is_reported_as_such() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buffer = vec![0; 65_536];
            let _ = stream.read(&mut buffer).await;
            let page = "<!DOCTYPE html><html><body>Access to this site is blocked by policy.</body></html>";
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    let mut settings = hardmatch_graph::GraphSettings::new(
        hardmatch_graph::CredentialSettings::ClientSecret(hardmatch_graph::Secret::new("value")),
    );
    settings.tenant_id = Some("contoso.onmicrosoft.com".to_owned());
    settings.client_id = Some(support::CLIENT_ID.to_owned());
    settings.authority_url = Some(format!("http://{address}"));
    settings.graph_url = Some(format!("http://{address}"));
    let error = GraphClient::connect(settings).await.expect_err("no JSON");
    assert!(
        matches!(error, GraphError::HtmlInsteadOfJson { status: 200, .. }),
        "{error:?}"
    );
    assert!(error.hint().contains("proxy"));
    server.abort();
}

/// The `(path, status)` of every write item the emulator logged (`…/$batch/users/{id}`),
/// and the number of items of each batch that carried writes, in order.
fn write_items(emulator: &hardmatch_emulator::RunningEmulator) -> (Vec<(String, u64)>, Vec<usize>) {
    let mut items = Vec::new();
    let mut batches = Vec::new();
    let mut in_this_batch = 0;
    for (method, path, _, status) in served(emulator) {
        if path.contains("/$batch/") {
            if method != "GET" {
                items.push((path, status));
                in_this_batch += 1;
            }
        } else if path.ends_with("/$batch") {
            if in_this_batch > 0 {
                batches.push(in_this_batch);
            }
            in_this_batch = 0;
        }
    }
    (items, batches)
}

fn set(user_id: &str, round: usize) -> UserWrite {
    UserWrite::SetImmutableId {
        user_id: user_id.to_owned(),
        value: ImmutableId::from_text(format!("YmF0Y2gtaXRlbS0w{round:02}Q==")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_batch_item_is_sent_again_alone_and_the_others_are_not() {
    let mut tenant = fixture();
    tenant.settings.throttling_enabled = true;
    tenant.settings.tenant_size = Some(TenantSize::Large);
    // Time stands still until the first 429, then 10 s pass.
    let clock = Arc::new(ManualClock::starting_now());
    let mut options = EmulatorOptions::new(tenant);
    options.clock = clock.clone();
    let emulator = support::start_with(options).await;
    let mut settings = support::secret_settings(&emulator);
    settings.http.retry = RetryPolicy::default();
    settings.http.pacing.enabled = false;
    let client = GraphClient::connect(settings).await.expect("connects");
    let ids = user_ids(3);
    // 2,998 of the 3,000 writes per 150 s are used up: a batch of three gets two through.
    let filler: Vec<(String, ImmutableId)> = (0..2_998)
        .map(|_| {
            (
                ids[0].clone(),
                ImmutableId::from_text("ZmlsbGVyLXdyaXRlLTAwMQ=="),
            )
        })
        .collect();
    let filled = client.set_immutable_ids(&filler).await.expect("batches");
    assert!(filled.iter().all(Result::is_ok));
    assert_eq!(client.statistics().throttled, 0);
    let served_before = served(&emulator).len();
    let watcher = {
        let client = client.clone();
        tokio::spawn(async move {
            while client.statistics().throttled == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            clock.advance(Duration::from_secs(10));
        })
    };
    let writes: Vec<UserWrite> = ids
        .iter()
        .enumerate()
        .map(|(round, id)| set(id, round))
        .collect();
    let receipts = client.write_users(&writes).await.expect("answered");
    watcher.await.expect("watcher");
    assert_eq!(receipts.len(), 3);
    for receipt in &receipts {
        let receipt = receipt.as_ref().expect("every write succeeds");
        let request_id = receipt
            .request
            .request_id
            .as_deref()
            .expect("item request id");
        uuid::Uuid::parse_str(request_id).expect("the item's own request-id");
    }
    let statistics = client.statistics();
    assert_eq!(statistics.throttled, 1, "{statistics:?}");
    // The emulator's log since the filler: the three items in one batch, the third
    // throttled, then the third alone in a second batch.
    let log = served(&emulator).split_off(served_before);
    let items: Vec<(String, u64)> = log
        .iter()
        .filter(|(method, path, _, _)| method == "PATCH" && path.contains("/$batch/"))
        .map(|(_, path, _, status)| (path.clone(), *status))
        .collect();
    let third = format!("/v1.0/$batch/users/{}", ids[2]);
    assert_eq!(
        items,
        vec![
            (format!("/v1.0/$batch/users/{}", ids[0]), 204),
            (format!("/v1.0/$batch/users/{}", ids[1]), 204),
            (third.clone(), 429),
            (third, 204),
        ]
    );
    let batches = log
        .iter()
        .filter(|(_, path, _, _)| path.ends_with("/$batch"))
        .count();
    assert_eq!(batches, 2);
    for (round, id) in ids.iter().enumerate() {
        let user = client.get_user(id).await.expect("reads");
        assert_eq!(
            user.on_premises_immutable_id,
            Some(ImmutableId::from_text(format!(
                "YmF0Y2gtaXRlbS0w{round:02}Q=="
            )))
        );
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_item_fails_alone_with_graphs_message() {
    let emulator = support::start(fixture()).await;
    let client = support::client(&emulator).await;
    let ids = user_ids(3);
    let missing = "99999999-0000-4000-8000-000000000000";
    let writes = vec![
        set(&ids[0], 1),
        UserWrite::Delete {
            user_id: missing.to_owned(),
        },
        set(&ids[1], 2),
    ];
    let receipts = client.write_users(&writes).await.expect("answered");
    assert!(receipts[0].is_ok() && receipts[2].is_ok(), "{receipts:?}");
    let refused = receipts[1].as_ref().expect_err("no such user");
    assert!(refused.is_not_found(), "{refused:?}");
    assert!(refused.to_string().contains(missing), "{refused}");
    assert!(
        refused
            .request_ids()
            .is_some_and(|ids| ids.request_id.is_some())
    );
    // One request for the three, and nothing sent again.
    let (items, batches) = write_items(&emulator);
    assert_eq!(batches, vec![3]);
    assert_eq!(
        items.iter().map(|(_, status)| *status).collect::<Vec<_>>(),
        vec![204, 404, 204]
    );
    assert_eq!(client.statistics().retries, 0);
    emulator.shutdown().await;
}
