//! Graph's identity-and-access throttling (graph-api.md §13): a resource-unit token bucket
//! per app and tenant sized by the tenant's user count, a write quota per app and tenant
//! and one per tenant, the reports service's request quota per app and tenant (reads of
//! `signInActivity`), and the rule that a retry arriving before `Retry-After` is refused
//! again. Time comes from the injected clock, so tests can drain and refill buckets
//! without sleeping.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::settings::{RetryAfterFormat, TenantSize};

/// What one request costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RequestCost {
    pub(crate) resource_units: u32,
    pub(crate) writes: u32,
    /// Requests the identity-and-access reports service serves as well: 1 for a read that
    /// selects `signInActivity`.
    pub(crate) reports: u32,
}

impl RequestCost {
    /// The documented cost: base by endpoint, `$select` −1, `$expand` +1, `$top` < 20 −1,
    /// at least 1; writes cost 1 RU and 1 write.
    pub(crate) fn of(
        base: u32,
        is_write: bool,
        has_select: bool,
        has_expand: bool,
        top: Option<u64>,
    ) -> Self {
        if is_write {
            return Self {
                resource_units: 1,
                writes: 1,
                reports: 0,
            };
        }
        let mut units = i64::from(base);
        if has_select {
            units -= 1;
        }
        if has_expand {
            units += 1;
        }
        if top.is_some_and(|top| top < 20) {
            units -= 1;
        }
        Self {
            resource_units: u32::try_from(units.max(1)).unwrap_or(1),
            writes: 0,
            reports: 0,
        }
    }
}

/// The verdict for one request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Decision {
    Allowed {
        resource_units: u32,
        /// Share of the resource-unit quota in use, when above 0.8.
        limit_percentage: Option<f64>,
    },
    Throttled {
        retry_after: Duration,
        scope: String,
        information: &'static str,
    },
}

#[derive(Clone, Debug)]
struct Bucket {
    capacity: f64,
    available: f64,
    per_second: f64,
    updated: SystemTime,
}

impl Bucket {
    fn new(capacity: f64, window: Duration, now: SystemTime) -> Self {
        Self {
            capacity,
            available: capacity,
            per_second: capacity / window.as_secs_f64(),
            updated: now,
        }
    }

    fn refill(&mut self, now: SystemTime) {
        let elapsed = now.duration_since(self.updated).unwrap_or_default();
        self.available =
            (self.available + elapsed.as_secs_f64() * self.per_second).min(self.capacity);
        self.updated = now;
    }

    fn wait_for(&self, amount: f64) -> Duration {
        Duration::from_secs_f64(((amount - self.available) / self.per_second).max(0.001))
    }
}

#[derive(Clone, Debug)]
struct Block {
    until: SystemTime,
    scope: String,
    information: &'static str,
}

const READ_WINDOW: Duration = Duration::from_secs(10);
const APP_WRITE_QUOTA: f64 = 3_000.0;
const APP_WRITE_WINDOW: Duration = Duration::from_secs(150);
const TENANT_WRITE_QUOTA: f64 = 18_000.0;
const TENANT_WRITE_WINDOW: Duration = Duration::from_secs(300);
/// Reads of `signInActivity` are also served by the identity-and-access reports service,
/// which allows 5 requests per 10 s per app and tenant, and `signInActivity` reads alone 10
/// per minute (graph-api.md §13): two buckets, both charged.
const REPORTS_QUOTAS: [(f64, Duration); 2] = [
    (5.0, Duration::from_secs(10)),
    (10.0, Duration::from_secs(60)),
];

/// The buckets of every app and tenant seen so far.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    resource_units: HashMap<String, Bucket>,
    app_writes: HashMap<String, Bucket>,
    tenant_writes: HashMap<String, Bucket>,
    /// One bucket per entry of [`REPORTS_QUOTAS`], per app and tenant.
    reports: HashMap<String, [Bucket; 2]>,
    blocks: HashMap<String, Block>,
}

impl Throttle {
    pub(crate) fn check(
        &mut self,
        now: SystemTime,
        app_id: &str,
        tenant_id: &str,
        size: TenantSize,
        cost: RequestCost,
    ) -> Decision {
        let key = format!("{app_id}/{tenant_id}");
        if let Some(block) = self.blocks.get(&key) {
            if let Ok(remaining) = block.until.duration_since(now)
                && !remaining.is_zero()
            {
                return Decision::Throttled {
                    retry_after: remaining,
                    scope: block.scope.clone(),
                    information: block.information,
                };
            }
            self.blocks.remove(&key);
        }
        let units = f64::from(cost.resource_units);
        let resource_bucket = self.resource_units.entry(key.clone()).or_insert_with(|| {
            Bucket::new(size.resource_units_per_ten_seconds(), READ_WINDOW, now)
        });
        resource_bucket.refill(now);
        let kind = if cost.writes > 0 { "Write" } else { "Read" };
        if resource_bucket.available < units {
            let wait = resource_bucket.wait_for(units);
            return self.block(
                key,
                now,
                wait,
                format!("Tenant_Application/{kind}/{app_id}/{tenant_id}"),
                "ResourceUnitLimitExceeded",
            );
        }
        if cost.reports > 0 {
            let requests = f64::from(cost.reports);
            let buckets = self.reports.entry(key.clone()).or_insert_with(|| {
                REPORTS_QUOTAS.map(|(quota, window)| Bucket::new(quota, window, now))
            });
            for bucket in buckets.iter_mut() {
                bucket.refill(now);
            }
            let wait = buckets
                .iter()
                .filter(|bucket| bucket.available < requests)
                .map(|bucket| bucket.wait_for(requests))
                .max();
            if let Some(retry_after) = wait {
                // Not a block of the app: the reports service refuses only what it serves,
                // and as each request costs a whole one, a retry before `Retry-After` finds
                // the bucket still short.
                return Decision::Throttled {
                    retry_after,
                    scope: format!("Tenant_Application/{kind}/{app_id}/{tenant_id}"),
                    information: "ResourceUnitLimitExceeded",
                };
            }
        }
        if cost.writes > 0 {
            let writes = f64::from(cost.writes);
            let app_bucket = self
                .app_writes
                .entry(key.clone())
                .or_insert_with(|| Bucket::new(APP_WRITE_QUOTA, APP_WRITE_WINDOW, now));
            app_bucket.refill(now);
            if app_bucket.available < writes {
                let wait = app_bucket.wait_for(writes);
                return self.block(
                    key,
                    now,
                    wait,
                    format!("Tenant_Application/Write/{app_id}/{tenant_id}"),
                    "WriteLimitExceeded",
                );
            }
            let tenant_bucket = self
                .tenant_writes
                .entry(tenant_id.to_owned())
                .or_insert_with(|| Bucket::new(TENANT_WRITE_QUOTA, TENANT_WRITE_WINDOW, now));
            tenant_bucket.refill(now);
            if tenant_bucket.available < writes {
                let wait = tenant_bucket.wait_for(writes);
                return self.block(
                    key,
                    now,
                    wait,
                    format!("Tenant/Write/{app_id}/{tenant_id}"),
                    "WriteLimitExceeded",
                );
            }
            tenant_bucket.available -= writes;
            if let Some(app_bucket) = self.app_writes.get_mut(&key) {
                app_bucket.available -= writes;
            }
        }
        if cost.reports > 0
            && let Some(buckets) = self.reports.get_mut(&key)
        {
            for bucket in buckets.iter_mut() {
                bucket.available -= f64::from(cost.reports);
            }
        }
        let Some(resource_bucket) = self.resource_units.get_mut(&key) else {
            return Decision::Allowed {
                resource_units: cost.resource_units,
                limit_percentage: None,
            };
        };
        resource_bucket.available -= units;
        let used =
            (resource_bucket.capacity - resource_bucket.available) / resource_bucket.capacity;
        Decision::Allowed {
            resource_units: cost.resource_units,
            limit_percentage: (used > 0.8).then_some(used),
        }
    }

    fn block(
        &mut self,
        key: String,
        now: SystemTime,
        wait: Duration,
        scope: String,
        information: &'static str,
    ) -> Decision {
        self.blocks.insert(
            key,
            Block {
                until: now + wait,
                scope: scope.clone(),
                information,
            },
        );
        Decision::Throttled {
            retry_after: wait,
            scope,
            information,
        }
    }
}

/// The `Retry-After` value in the configured form.
pub(crate) fn format_retry_after(wait: Duration, format: RetryAfterFormat) -> String {
    match format {
        RetryAfterFormat::Integer => format!("{}", wait.as_secs_f64().ceil().max(1.0)),
        RetryAfterFormat::Fractional => format!("{:.3}", wait.as_secs_f64().max(0.001)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST_USERS: RequestCost = RequestCost {
        resource_units: 2,
        writes: 0,
        reports: 0,
    };

    #[test]
    fn costs_follow_the_documented_table() {
        // graph-api.md §13: GET users 2; $select −1; $top < 20 −1; minimum 1.
        assert_eq!(
            RequestCost::of(2, false, false, false, None).resource_units,
            2
        );
        assert_eq!(
            RequestCost::of(2, false, true, false, Some(999)).resource_units,
            1
        );
        assert_eq!(
            RequestCost::of(2, false, true, false, Some(5)).resource_units,
            1
        );
        assert_eq!(
            RequestCost::of(1, false, false, true, None).resource_units,
            2
        );
        // Writes: 1 RU + 1 write.
        assert_eq!(
            RequestCost::of(2, true, true, false, None),
            RequestCost {
                resource_units: 1,
                writes: 1,
                reports: 0
            }
        );
    }

    #[test]
    fn a_small_tenant_allows_3500_units_per_10_seconds_then_refills() {
        let start = SystemTime::UNIX_EPOCH;
        let mut throttle = Throttle::default();
        for _ in 0..1_750 {
            assert!(matches!(
                throttle.check(start, "app", "tenant", TenantSize::Small, LIST_USERS),
                Decision::Allowed { .. }
            ));
        }
        let Decision::Throttled {
            retry_after,
            scope,
            information,
        } = throttle.check(start, "app", "tenant", TenantSize::Small, LIST_USERS)
        else {
            panic!("the 1,751st list must be throttled");
        };
        assert_eq!(information, "ResourceUnitLimitExceeded");
        assert_eq!(scope, "Tenant_Application/Read/app/tenant");
        // 2 RU at 350 RU/s.
        assert!((retry_after.as_secs_f64() - 2.0 / 350.0).abs() < 1e-6);
        // A retry before Retry-After is throttled again, even though the bucket refilled
        // a little.
        let early = start + retry_after / 2;
        assert!(matches!(
            throttle.check(early, "app", "tenant", TenantSize::Small, LIST_USERS),
            Decision::Throttled { .. }
        ));
        let later = start + Duration::from_secs(10);
        assert!(matches!(
            throttle.check(later, "app", "tenant", TenantSize::Small, LIST_USERS),
            Decision::Allowed { .. }
        ));
        // Another app has its own bucket.
        assert!(matches!(
            throttle.check(start, "other", "tenant", TenantSize::Small, LIST_USERS),
            Decision::Allowed { .. }
        ));
    }

    #[test]
    fn writes_stop_at_3000_per_150_seconds_per_app() {
        let start = SystemTime::UNIX_EPOCH;
        let mut throttle = Throttle::default();
        let write = RequestCost::of(1, true, false, false, None);
        let mut allowed = 0;
        // All at one instant: the 8,000 RU bucket of a large tenant outlasts the writes.
        for _ in 0..3_100u64 {
            match throttle.check(start, "app", "tenant", TenantSize::Large, write) {
                Decision::Allowed { .. } => allowed += 1,
                Decision::Throttled { information, .. } => {
                    assert_eq!(information, "WriteLimitExceeded");
                    break;
                }
            }
        }
        assert_eq!(allowed, 3_000);
    }

    #[test]
    fn the_tenant_write_quota_of_18000_per_5_minutes_spans_apps() {
        // graph-api.md §13: tenant, all apps: 18,000 writes / 5 min.
        let start = SystemTime::UNIX_EPOCH;
        let mut throttle = Throttle::default();
        let write = RequestCost::of(1, true, false, false, None);
        let mut allowed = 0;
        let mut last_scope = String::new();
        for app in 0..7 {
            for _ in 0..3_000 {
                match throttle.check(
                    start,
                    &format!("app{app}"),
                    "tenant",
                    TenantSize::Large,
                    write,
                ) {
                    Decision::Allowed { .. } => allowed += 1,
                    Decision::Throttled { scope, .. } => {
                        last_scope = scope;
                        break;
                    }
                }
            }
        }
        assert_eq!(allowed, 18_000);
        assert!(last_scope.starts_with("Tenant/Write/"), "{last_scope}");
    }

    #[test]
    fn sign_in_activity_reads_also_stop_at_10_per_minute() {
        // graph-api.md §13: signInActivity, 10 requests per minute per app and tenant, on
        // top of the reports service's 5 per 10 s.
        let start = SystemTime::UNIX_EPOCH;
        let mut throttle = Throttle::default();
        let report = RequestCost {
            reports: 1,
            ..RequestCost::of(2, false, true, false, Some(15))
        };
        // One read every 2 s never empties the 5-per-10-s bucket (it refills one per 2 s),
        // but the per-minute bucket, refilling one per 6 s, runs out at the fifteenth:
        // 10 + 14 * 2/6 requests are available by then, fewer than 15.
        let mut throttled = None;
        for read in 0..20u64 {
            let now = start + Duration::from_secs(2 * read);
            if let Decision::Throttled { retry_after, .. } =
                throttle.check(now, "app", "tenant", TenantSize::Small, report)
            {
                throttled = Some((read, now, retry_after));
                break;
            }
        }
        let (read, now, retry_after) = throttled.expect("reads beyond 10 a minute are throttled");
        assert_eq!(read, 14, "the fifteenth read, 28 s in");
        assert!(
            (retry_after.as_secs_f64() - 2.0).abs() < 1e-6,
            "a third of a request short at one per 6 s: {retry_after:?}"
        );
        assert!(matches!(
            throttle.check(
                now + retry_after + Duration::from_millis(1),
                "app",
                "tenant",
                TenantSize::Small,
                report
            ),
            Decision::Allowed { .. }
        ));
    }

    #[test]
    fn sign_in_activity_reads_stop_at_5_per_10_seconds_while_other_reads_go_on() {
        // graph-api.md §13: reports incl. signInActivity, 5 req / 10 s per app per tenant.
        let start = SystemTime::UNIX_EPOCH;
        let mut throttle = Throttle::default();
        let report = RequestCost {
            reports: 1,
            ..RequestCost::of(2, false, true, false, Some(15))
        };
        for _ in 0..5 {
            assert!(matches!(
                throttle.check(start, "app", "tenant", TenantSize::Small, report),
                Decision::Allowed { .. }
            ));
        }
        let Decision::Throttled {
            retry_after,
            scope,
            information,
        } = throttle.check(start, "app", "tenant", TenantSize::Small, report)
        else {
            panic!("the sixth read of signInActivity must be throttled");
        };
        // One request at 0.5 requests/s.
        assert!((retry_after.as_secs_f64() - 2.0).abs() < 1e-6);
        assert_eq!(scope, "Tenant_Application/Read/app/tenant");
        assert_eq!(information, "ResourceUnitLimitExceeded");
        // The resource-unit bucket is not blocked by it.
        assert!(matches!(
            throttle.check(start, "app", "tenant", TenantSize::Small, LIST_USERS),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            throttle.check(start, "other", "tenant", TenantSize::Small, report),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            throttle.check(
                start + retry_after / 2,
                "app",
                "tenant",
                TenantSize::Small,
                report
            ),
            Decision::Throttled { .. }
        ));
        assert!(matches!(
            throttle.check(
                start + retry_after,
                "app",
                "tenant",
                TenantSize::Small,
                report
            ),
            Decision::Allowed { .. }
        ));
    }

    #[test]
    fn limit_percentage_appears_only_above_80_percent() {
        let start = SystemTime::UNIX_EPOCH;
        let mut throttle = Throttle::default();
        let mut last = None;
        for _ in 0..1_500 {
            if let Decision::Allowed {
                limit_percentage, ..
            } = throttle.check(start, "app", "tenant", TenantSize::Small, LIST_USERS)
            {
                if let Some(percentage) = limit_percentage {
                    assert!(percentage > 0.8);
                }
                last = limit_percentage;
            }
        }
        assert!(last.is_some());
    }

    #[test]
    fn retry_after_is_whole_seconds_or_fractional_by_switch() {
        // graph-api.md §16 #12.
        let wait = Duration::from_millis(2_128);
        assert_eq!(format_retry_after(wait, RetryAfterFormat::Integer), "3");
        assert_eq!(
            format_retry_after(wait, RetryAfterFormat::Fractional),
            "2.128"
        );
    }
}
