//! Keeps bulk work under Microsoft's throttling quotas instead of collecting 429s.
//!
//! Identity requests are limited per app and tenant (graph-api.md §13): a resource-unit
//! (RU) bucket per 10 seconds whose size depends on the tenant's size (3,500 RU under 50
//! users, 5,000 up to 500, 8,000 above) and a write quota of 3,000 requests per 150
//! seconds. The pacer runs one token bucket per quota. Each request reserves its estimated
//! cost before it is sent and waits if the bucket is in debt; the response's
//! `x-ms-resource-unit` corrects the estimate, and `x-ms-throttle-limit-percentage` (sent
//! from 80% of a quota on) tells how much of the quota Graph has seen used, which covers
//! other clients of the same app.
//!
//! A bucket admits at most `burst + rate · T` in any window `T`. With a burst of 10% of the
//! quota and a rate of `(share − 10%) · quota / window`, no window — fixed or sliding — sees
//! more than `share` of the quota (90% by default).
//!
//! The clock is a trait so that the arithmetic is tested without sleeping.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A monotonic clock: time since an arbitrary origin.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Duration;
}

/// The process's monotonic clock.
#[derive(Debug)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// The documented RU quota per 10 seconds for an app in a tenant of this many users.
pub fn resource_unit_quota_for_tenant_size(users: usize) -> f64 {
    match users {
        0..50 => 3_500.0,
        50..=500 => 5_000.0,
        _ => 8_000.0,
    }
}

/// Quotas and the share of them this client uses.
#[derive(Clone, Debug)]
pub struct PacingSettings {
    /// Off: requests are only limited by concurrency (429s are still retried).
    pub enabled: bool,
    /// RU per `resource_unit_window`. Defaults to the smallest tenant's 3,500, which is safe
    /// for every tenant; [`resource_unit_quota_for_tenant_size`] gives the others.
    pub resource_units_per_window: f64,
    pub resource_unit_window: Duration,
    /// Writes per `write_window` (3,000 per 150 s).
    pub writes_per_window: f64,
    pub write_window: Duration,
    /// Fraction of each quota this client plans to use, in (0.1, 1].
    pub target_share: f64,
    pub clock: Arc<dyn Clock>,
}

impl Default for PacingSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            resource_units_per_window: 3_500.0,
            resource_unit_window: Duration::from_secs(10),
            writes_per_window: 3_000.0,
            write_window: Duration::from_secs(150),
            target_share: 0.9,
            clock: Arc::new(MonotonicClock::new()),
        }
    }
}

/// A token bucket with reservations: a caller takes its tokens at once, possibly going into
/// debt, and waits until the debt would have been refilled. Callers are thus served in order.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    quota: f64,
    capacity: f64,
    rate_per_second: f64,
    tokens: f64,
    updated_at: Duration,
}

impl TokenBucket {
    /// A bucket for `quota` per `window`, using `share` of it, full at `now`.
    pub fn for_quota(quota: f64, window: Duration, share: f64, now: Duration) -> Self {
        let share = share.clamp(0.11, 1.0);
        let capacity = (quota * 0.1).max(1.0);
        let rate_per_second = (quota * (share - 0.1) / window.as_secs_f64().max(0.001)).max(0.001);
        Self {
            quota,
            capacity,
            rate_per_second,
            tokens: capacity,
            updated_at: now,
        }
    }

    pub fn capacity(&self) -> f64 {
        self.capacity
    }

    pub fn rate_per_second(&self) -> f64 {
        self.rate_per_second
    }

    /// Tokens available at `now` (negative: debt).
    pub fn tokens(&mut self, now: Duration) -> f64 {
        self.refill(now);
        self.tokens
    }

    fn refill(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.updated_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate_per_second).min(self.capacity);
        self.updated_at = self.updated_at.max(now);
    }

    /// Takes `cost` tokens and returns how long to wait before sending.
    pub fn reserve(&mut self, cost: f64, now: Duration) -> Duration {
        self.refill(now);
        self.tokens -= cost.max(0.0);
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate_per_second)
        }
    }

    /// Adds the difference between the measured and the estimated cost.
    pub fn correct(&mut self, extra_cost: f64, now: Duration) {
        self.refill(now);
        self.tokens -= extra_cost;
    }

    /// Graph reports `fraction_used` of the quota consumed (≥ 0.8): never assume more
    /// headroom than what is left of the quota.
    pub fn observe_usage(&mut self, fraction_used: f64, now: Duration) {
        self.refill(now);
        let remaining = self.quota * (1.0 - fraction_used);
        self.tokens = self.tokens.min(remaining);
    }

    /// After a 429: nothing is left until the bucket refills.
    pub fn drain(&mut self, now: Duration) {
        self.refill(now);
        self.tokens = self.tokens.min(0.0);
    }
}

/// The estimated cost of a request (graph-api.md §13).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cost {
    pub(crate) resource_units: f64,
    pub(crate) writes: f64,
}

impl Cost {
    pub(crate) const FREE: Cost = Cost {
        resource_units: 0.0,
        writes: 0.0,
    };

    /// One read of `units` RU.
    pub(crate) fn read(units: f64) -> Cost {
        Cost {
            resource_units: units,
            writes: 0.0,
        }
    }

    /// A POST/PATCH/PUT/DELETE: 1 RU and 1 write.
    pub(crate) fn write() -> Cost {
        Cost {
            resource_units: 1.0,
            writes: 1.0,
        }
    }

    pub(crate) fn plus(self, other: Cost) -> Cost {
        Cost {
            resource_units: self.resource_units + other.resource_units,
            writes: self.writes + other.writes,
        }
    }

    pub(crate) fn is_write(self) -> bool {
        self.writes > 0.0
    }
}

#[derive(Debug)]
struct Buckets {
    resource_units: TokenBucket,
    writes: TokenBucket,
}

/// The shared pacer of one client.
#[derive(Debug)]
pub(crate) struct Pacer {
    settings: PacingSettings,
    buckets: Mutex<Buckets>,
}

impl Pacer {
    pub(crate) fn new(settings: PacingSettings) -> Self {
        let now = settings.clock.now();
        let buckets = Buckets {
            resource_units: TokenBucket::for_quota(
                settings.resource_units_per_window,
                settings.resource_unit_window,
                settings.target_share,
                now,
            ),
            writes: TokenBucket::for_quota(
                settings.writes_per_window,
                settings.write_window,
                settings.target_share,
                now,
            ),
        };
        Self {
            settings,
            buckets: Mutex::new(buckets),
        }
    }

    fn with_buckets<T>(&self, action: impl FnOnce(&mut Buckets, Duration) -> T) -> T {
        let now = self.settings.clock.now();
        // A poisoned lock only means another request panicked mid-update; the numbers are
        // still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        action(&mut buckets, now)
    }

    /// Switches to another RU quota (the tenant's size tier), keeping any debt.
    pub(crate) fn set_resource_unit_quota(&self, quota: f64) {
        let window = self.settings.resource_unit_window;
        let share = self.settings.target_share;
        self.with_buckets(|buckets, now| {
            let debt = buckets.resource_units.tokens(now);
            let mut bucket = TokenBucket::for_quota(quota, window, share, now);
            bucket.tokens = bucket.tokens.min(debt);
            buckets.resource_units = bucket;
        });
    }

    /// Reserves `cost`; returns the wait before sending.
    pub(crate) fn reserve(&self, cost: Cost) -> Duration {
        if !self.settings.enabled {
            return Duration::ZERO;
        }
        self.with_buckets(|buckets, now| {
            let read_wait = buckets.resource_units.reserve(cost.resource_units, now);
            let write_wait = if cost.writes > 0.0 {
                buckets.writes.reserve(cost.writes, now)
            } else {
                Duration::ZERO
            };
            read_wait.max(write_wait)
        })
    }

    /// Learns from a response's headers.
    pub(crate) fn observe(
        &self,
        estimated: Cost,
        measured_resource_units: Option<f64>,
        limit_fraction: Option<f64>,
    ) {
        if !self.settings.enabled {
            return;
        }
        self.with_buckets(|buckets, now| {
            if let Some(measured) = measured_resource_units {
                buckets
                    .resource_units
                    .correct(measured - estimated.resource_units, now);
            }
            // The header reports the resource-unit limit (the identity-and-access model);
            // writes have no usage header, only 429s with `WriteLimitExceeded`.
            if let Some(fraction) = limit_fraction {
                buckets.resource_units.observe_usage(fraction, now);
            }
        });
    }

    /// Learns from a 429: whichever quota it names is exhausted for now.
    pub(crate) fn throttled(&self, estimated: Cost, information: Option<&str>) {
        if !self.settings.enabled {
            return;
        }
        self.with_buckets(|buckets, now| {
            let write_limit = information.is_some_and(|text| text.contains("Write"));
            if write_limit || (information.is_none() && estimated.is_write()) {
                buckets.writes.drain(now);
            } else {
                buckets.resource_units.drain(now);
            }
        });
    }
}

/// Reads `x-ms-throttle-limit-percentage`: a fraction (0.8–1.8); values above 2 are taken as
/// percentages.
pub(crate) fn parse_limit_fraction(value: &str) -> Option<f64> {
    let number: f64 = value.trim().trim_end_matches('%').parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    Some(if number > 2.0 { number / 100.0 } else { number })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock moved by hand.
    #[derive(Debug, Default)]
    struct ManualClock(AtomicU64);

    impl ManualClock {
        fn advance(&self, by: Duration) {
            self.0.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Duration {
            Duration::from_nanos(self.0.load(Ordering::SeqCst))
        }
    }

    #[test]
    fn quota_tiers_follow_tenant_size() {
        assert_eq!(resource_unit_quota_for_tenant_size(10), 3_500.0);
        assert_eq!(resource_unit_quota_for_tenant_size(50), 5_000.0);
        assert_eq!(resource_unit_quota_for_tenant_size(500), 5_000.0);
        assert_eq!(resource_unit_quota_for_tenant_size(100_000), 8_000.0);
    }

    #[test]
    fn a_burst_is_free_then_requests_are_spaced_at_the_rate() {
        let mut bucket =
            TokenBucket::for_quota(3_000.0, Duration::from_secs(150), 0.9, Duration::ZERO);
        assert_eq!(bucket.capacity(), 300.0);
        assert!((bucket.rate_per_second() - 16.0).abs() < 1e-9);
        for _ in 0..300 {
            assert_eq!(bucket.reserve(1.0, Duration::ZERO), Duration::ZERO);
        }
        let wait = bucket.reserve(1.0, Duration::ZERO);
        assert!((wait.as_secs_f64() - 1.0 / 16.0).abs() < 1e-6, "{wait:?}");
        let wait = bucket.reserve(16.0, Duration::ZERO);
        assert!((wait.as_secs_f64() - 17.0 / 16.0).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn no_window_admits_more_than_the_share_of_the_quota() {
        // Simulate a client sending writes as fast as the bucket allows for 10 minutes, and
        // count the most requests in any 150-second window.
        let mut bucket =
            TokenBucket::for_quota(3_000.0, Duration::from_secs(150), 0.9, Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut sent_at = Vec::new();
        while now < Duration::from_secs(600) {
            let wait = bucket.reserve(1.0, now);
            now += wait;
            sent_at.push(now);
        }
        let mut most = 0;
        let mut start = 0;
        for end in 0..sent_at.len() {
            while sent_at[end] - sent_at[start] >= Duration::from_secs(150) {
                start += 1;
            }
            most = most.max(end - start + 1);
        }
        assert!(most <= 2_700 + 1, "{most} writes in one window");
        assert!(most >= 2_600, "pacing is too slow: {most}");
    }

    #[test]
    fn the_pacer_uses_the_injected_clock_and_measured_costs() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        // 350 RU of burst, 280 RU/s after it.
        for _ in 0..350 {
            assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
        }
        assert!(pacer.reserve(Cost::read(1.0)) > Duration::ZERO);
        clock.advance(Duration::from_secs(2));
        assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
        // 349 tokens left; a response measured at 400 RU instead of the estimated 1 puts
        // the bucket in debt.
        pacer.observe(Cost::read(1.0), Some(400.0), None);
        let wait = pacer.reserve(Cost::read(1.0));
        assert!(wait > Duration::from_millis(100), "{wait:?}");
    }

    #[test]
    fn the_limit_percentage_header_caps_the_headroom() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        // Another client of the same app has used 120% of the RU quota.
        pacer.observe(Cost::read(1.0), None, Some(1.2));
        let wait = pacer.reserve(Cost::read(1.0));
        // Debt of 700 + 1 RU at 280 RU/s.
        assert!(
            (wait.as_secs_f64() - 701.0 / 280.0).abs() < 1e-3,
            "{wait:?}"
        );
        assert_eq!(parse_limit_fraction("0.85"), Some(0.85));
        assert_eq!(parse_limit_fraction("85"), Some(0.85));
        assert_eq!(parse_limit_fraction("x"), None);
    }

    #[test]
    fn a_write_throttle_drains_only_the_write_bucket() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        pacer.throttled(Cost::write(), Some("WriteLimitExceeded"));
        assert!(pacer.reserve(Cost::write()) > Duration::ZERO);
        assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
    }

    #[test]
    fn a_larger_tenant_tier_raises_the_rate_but_keeps_debt() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        pacer.reserve(Cost::read(1_000.0));
        pacer.set_resource_unit_quota(resource_unit_quota_for_tenant_size(100_000));
        // Debt of 650 RU is kept and now refills at 640 RU/s.
        let wait = pacer.reserve(Cost::read(0.0));
        assert!(
            (wait.as_secs_f64() - 650.0 / 640.0).abs() < 1e-3,
            "{wait:?}"
        );
    }

    #[test]
    fn disabled_pacing_never_waits() {
        let pacer = Pacer::new(PacingSettings {
            enabled: false,
            ..PacingSettings::default()
        });
        for _ in 0..10_000 {
            assert_eq!(pacer.reserve(Cost::write()), Duration::ZERO);
        }
    }
}
