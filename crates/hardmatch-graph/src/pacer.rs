//! Keeps bulk work under Microsoft's throttling quotas instead of collecting 429s.
//!
//! Identity requests are limited per app and tenant (graph-api.md §13): a resource-unit
//! (RU) bucket per 10 seconds whose size depends on the tenant's size (3,500 RU under 50
//! users, 5,000 up to 500, 8,000 above) and a write quota of 3,000 requests per 150
//! seconds. The pacer runs one sliding-window limiter per quota. Each request reserves its
//! estimated cost before it is sent and waits until the window has room; the response's
//! `x-ms-resource-unit` corrects the estimate, and `x-ms-throttle-limit-percentage` (sent
//! from 80% of a quota on) tells how much of the quota Graph has seen used, which covers
//! other clients of the same app.
//!
//! A limiter admits at most `share` of its quota (90% by default) in any trailing window:
//! a job smaller than that goes at full speed, a longer one sustains 90% of the quota's
//! rate. (A token bucket with a burst would have to trade one for the other: a burst as
//! large as the window's budget lets two windows' worth through in one.)
//!
//! The clock is a trait so that the arithmetic is tested without sleeping.

use std::collections::VecDeque;
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

/// A sliding-window limiter with reservations: it keeps a log of `(instant, cost)` for
/// what it admitted, and admits a request at the earliest instant from which the costs
/// in the trailing window, this request's included, stay within `share` of the quota.
/// A job below that budget goes at full speed; a longer one sustains exactly `share` of
/// the quota's rate, in any window, fixed or sliding. Instants may lie in the future (a
/// reservation made now for later), so callers are served in order.
#[derive(Clone, Debug, PartialEq)]
pub struct SlidingWindow {
    quota: f64,
    share: f64,
    window: Duration,
    /// Admitted costs by instant, oldest first; entries that can no longer fall in a
    /// window are dropped.
    log: VecDeque<(Duration, f64)>,
}

impl SlidingWindow {
    /// A limiter for `quota` per `window`, using `share` of it.
    pub fn for_quota(quota: f64, window: Duration, share: f64) -> Self {
        Self {
            quota: quota.max(1.0),
            share: share.clamp(0.1, 1.0),
            window: window.max(Duration::from_millis(1)),
            log: VecDeque::new(),
        }
    }

    /// The most this client admits in any window.
    pub fn budget(&self) -> f64 {
        self.quota * self.share
    }

    /// The costs counted in the window that ends at `at`.
    pub fn used(&self, at: Duration) -> f64 {
        self.log
            .iter()
            .filter(|(instant, _)| self.counts_at(*instant, at))
            .map(|(_, cost)| cost)
            .sum()
    }

    /// Whether a cost logged at `instant` is in the window `(at − window, at]`.
    fn counts_at(&self, instant: Duration, at: Duration) -> bool {
        instant <= at && instant + self.window > at
    }

    fn forget_before(&mut self, now: Duration) {
        while let Some((instant, _)) = self.log.front() {
            if *instant + self.window <= now {
                self.log.pop_front();
            } else {
                break;
            }
        }
    }

    fn record(&mut self, at: Duration, cost: f64) {
        match self.log.back_mut() {
            Some((instant, logged)) if *instant == at => *logged += cost,
            _ => self.log.push_back((at, cost)),
        }
    }

    /// Admits `cost` and returns how long to wait before sending it. A cost above the
    /// whole budget is admitted alone in its window rather than never.
    pub fn reserve(&mut self, cost: f64, now: Duration) -> Duration {
        self.forget_before(now);
        let cost = cost.max(0.0);
        // Never before an earlier reservation: callers are served in order.
        let mut at = self
            .log
            .back()
            .map_or(now, |(instant, _)| (*instant).max(now));
        let mut used = self.used(at);
        let limit = self.budget().max(cost);
        // Each pass lets the oldest cost still in the window expire.
        let mut oldest = self
            .log
            .iter()
            .filter(|(instant, _)| self.counts_at(*instant, at))
            .map(|(instant, cost)| (*instant, *cost))
            .collect::<VecDeque<_>>();
        while used + cost > limit + 1e-9 {
            let Some((instant, expired)) = oldest.pop_front() else {
                break;
            };
            at = at.max(instant + self.window);
            used -= expired;
        }
        self.record(at, cost);
        at.saturating_sub(now)
    }

    /// Adds the difference between the measured and the estimated cost of a request sent
    /// at `now` (negative when it was over-estimated).
    pub fn correct(&mut self, extra_cost: f64, now: Duration) {
        self.forget_before(now);
        if extra_cost != 0.0 {
            self.record_at_or_after(now, extra_cost);
        }
    }

    /// Graph reports `fraction_used` of the quota consumed in its window (≥ 0.8), which
    /// counts other clients of the same app: what this log does not explain is charged
    /// to now, so the headroom never looks larger than Graph says it is.
    pub fn observe_usage(&mut self, fraction_used: f64, now: Duration) {
        self.forget_before(now);
        let unexplained = self.quota * fraction_used - self.used(now);
        if unexplained > 0.0 {
            self.record_at_or_after(now, unexplained);
        }
    }

    /// After a 429: the window ending now is full.
    pub fn drain(&mut self, now: Duration) {
        self.forget_before(now);
        let missing = self.budget() - self.used(now);
        if missing > 0.0 {
            self.record_at_or_after(now, missing);
        }
    }

    /// Logs a cost at `now`, keeping the log in order when reservations lie ahead.
    fn record_at_or_after(&mut self, now: Duration, cost: f64) {
        let position = self.log.partition_point(|(instant, _)| *instant <= now);
        self.log.insert(position, (now, cost));
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
struct Windows {
    resource_units: SlidingWindow,
    writes: SlidingWindow,
}

/// The shared pacer of one client.
#[derive(Debug)]
pub(crate) struct Pacer {
    settings: PacingSettings,
    windows: Mutex<Windows>,
}

impl Pacer {
    pub(crate) fn new(settings: PacingSettings) -> Self {
        let windows = Windows {
            resource_units: SlidingWindow::for_quota(
                settings.resource_units_per_window,
                settings.resource_unit_window,
                settings.target_share,
            ),
            writes: SlidingWindow::for_quota(
                settings.writes_per_window,
                settings.write_window,
                settings.target_share,
            ),
        };
        Self {
            settings,
            windows: Mutex::new(windows),
        }
    }

    fn with_windows<T>(&self, action: impl FnOnce(&mut Windows, Duration) -> T) -> T {
        let now = self.settings.clock.now();
        // A poisoned lock only means another request panicked mid-update; the numbers are
        // still usable.
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        action(&mut windows, now)
    }

    /// Switches to another RU quota (the tenant's size tier), keeping what was admitted.
    pub(crate) fn set_resource_unit_quota(&self, quota: f64) {
        self.with_windows(|windows, _| windows.resource_units.quota = quota.max(1.0));
    }

    /// Reserves `cost`; returns the wait before sending.
    pub(crate) fn reserve(&self, cost: Cost) -> Duration {
        if !self.settings.enabled {
            return Duration::ZERO;
        }
        self.with_windows(|windows, now| {
            let read_wait = windows.resource_units.reserve(cost.resource_units, now);
            let write_wait = if cost.writes > 0.0 {
                windows.writes.reserve(cost.writes, now)
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
        self.with_windows(|windows, now| {
            if let Some(measured) = measured_resource_units {
                windows
                    .resource_units
                    .correct(measured - estimated.resource_units, now);
            }
            // The header reports the resource-unit limit (the identity-and-access model);
            // writes have no usage header, only 429s with `WriteLimitExceeded`.
            if let Some(fraction) = limit_fraction {
                windows.resource_units.observe_usage(fraction, now);
            }
        });
    }

    /// Learns from a 429: whichever quota it names is exhausted for now.
    pub(crate) fn throttled(&self, estimated: Cost, information: Option<&str>) {
        if !self.settings.enabled {
            return;
        }
        self.with_windows(|windows, now| {
            let write_limit = information.is_some_and(|text| text.contains("Write"));
            if write_limit || (information.is_none() && estimated.is_write()) {
                windows.writes.drain(now);
            } else {
                windows.resource_units.drain(now);
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

    fn write_window() -> SlidingWindow {
        SlidingWindow::for_quota(3_000.0, Duration::from_secs(150), 0.9)
    }

    /// Sends `count` writes as fast as the limiter allows, each taking `spacing` to send;
    /// returns the instants they left at.
    fn send_writes(window: &mut SlidingWindow, count: usize, spacing: Duration) -> Vec<Duration> {
        let mut now = Duration::ZERO;
        let mut sent_at = Vec::with_capacity(count);
        for _ in 0..count {
            now += window.reserve(1.0, now);
            sent_at.push(now);
            now += spacing;
        }
        sent_at
    }

    /// The most sends in any trailing window of `length`.
    fn busiest_window(sent_at: &[Duration], length: Duration) -> usize {
        let mut most = 0;
        let mut start = 0;
        for end in 0..sent_at.len() {
            while sent_at[end] - sent_at[start] >= length {
                start += 1;
            }
            most = most.max(end - start + 1);
        }
        most
    }

    #[test]
    fn a_job_below_the_window_budget_is_not_delayed() {
        let mut window = write_window();
        assert_eq!(window.budget(), 2_700.0);
        for _ in 0..1_000 {
            assert_eq!(window.reserve(1.0, Duration::ZERO), Duration::ZERO);
        }
        assert_eq!(window.used(Duration::ZERO), 1_000.0);
        // What is left of the budget still goes at once; the write after it waits for the
        // first ones to leave the window.
        for _ in 0..1_700 {
            assert_eq!(window.reserve(1.0, Duration::ZERO), Duration::ZERO);
        }
        assert_eq!(
            window.reserve(1.0, Duration::ZERO),
            Duration::from_secs(150)
        );
    }

    #[test]
    fn no_trailing_window_admits_more_than_the_share_of_the_quota() {
        // Writes sent back to back for 10 minutes, at 5 ms each: the limiter alone decides.
        for spacing in [Duration::ZERO, Duration::from_millis(5)] {
            let mut window = write_window();
            let mut sent_at = Vec::new();
            let mut now = Duration::ZERO;
            while now < Duration::from_secs(600) {
                now += window.reserve(1.0, now);
                sent_at.push(now);
                now += spacing;
            }
            let most = busiest_window(&sent_at, Duration::from_secs(150));
            assert!(most <= 2_700, "{most} writes in one window");
            // And the share is used: 90% of the quota in the busiest window, and over the
            // whole run (four windows) within one write of 4 × 2,700.
            assert_eq!(most, 2_700, "spacing {spacing:?}");
            assert!(
                (sent_at.len() as i64 - 4 * 2_700).abs() <= 2_700,
                "{} writes",
                sent_at.len()
            );
        }
    }

    #[test]
    fn a_long_job_sustains_the_share_and_ends_near_two_windows() {
        // 6,000 writes: 2,700 at once, 2,700 when the first ones leave the window, then
        // the last 600: the last write leaves after two windows, not the 333 s of a
        // steady 18 writes/s.
        let mut window = write_window();
        let sent_at = send_writes(&mut window, 6_000, Duration::from_millis(1));
        let last = sent_at[5_999];
        assert!(
            last >= Duration::from_secs(300) && last <= Duration::from_secs(304),
            "{last:?}"
        );
        assert!(busiest_window(&sent_at, Duration::from_secs(150)) <= 2_700);
        assert!(busiest_window(&sent_at, Duration::from_secs(10)) <= 2_700);
    }

    #[test]
    fn a_cost_above_the_budget_is_admitted_alone_rather_than_never() {
        let mut window = SlidingWindow::for_quota(100.0, Duration::from_secs(10), 0.9);
        assert_eq!(window.reserve(1.0, Duration::ZERO), Duration::ZERO);
        assert_eq!(
            window.reserve(150.0, Duration::ZERO),
            Duration::from_secs(10)
        );
        assert_eq!(window.reserve(1.0, Duration::ZERO), Duration::from_secs(20));
    }

    #[test]
    fn the_pacer_uses_the_injected_clock_and_measured_costs() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        // 90% of 3,500 RU per 10 s: 3,150 reads at once, the next one when the first
        // leave the window.
        for _ in 0..3_150 {
            assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
        }
        assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::from_secs(10));
        clock.advance(Duration::from_secs(11));
        assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
        // A response measured at 3,200 RU instead of the estimated 1 fills the window.
        pacer.observe(Cost::read(1.0), Some(3_200.0), None);
        let wait = pacer.reserve(Cost::read(1.0));
        assert_eq!(wait, Duration::from_secs(10), "{wait:?}");
    }

    #[test]
    fn the_limit_percentage_header_caps_the_headroom() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        for _ in 0..100 {
            assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
        }
        clock.advance(Duration::from_secs(4));
        // Another client of the same app has used most of the RU quota: Graph reports
        // 85% used, far more than the 100 RU this client sent.
        pacer.observe(Cost::read(1.0), None, Some(0.85));
        // 2,975 RU counted now; 175 left of the 3,150 budget.
        for _ in 0..175 {
            assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
        }
        // The next one waits for this client's own first 100 to leave the window (at 10 s).
        assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::from_secs(6));
        assert_eq!(parse_limit_fraction("0.85"), Some(0.85));
        assert_eq!(parse_limit_fraction("85"), Some(0.85));
        assert_eq!(parse_limit_fraction("x"), None);
    }

    #[test]
    fn a_write_throttle_drains_only_the_write_window() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        pacer.throttled(Cost::write(), Some("WriteLimitExceeded"));
        assert_eq!(pacer.reserve(Cost::write()), Duration::from_secs(150));
        assert_eq!(pacer.reserve(Cost::read(1.0)), Duration::ZERO);
    }

    #[test]
    fn a_larger_tenant_tier_raises_the_budget_but_keeps_what_was_sent() {
        let clock = Arc::new(ManualClock::default());
        let pacer = Pacer::new(PacingSettings {
            clock: clock.clone(),
            ..PacingSettings::default()
        });
        assert_eq!(pacer.reserve(Cost::read(3_000.0)), Duration::ZERO);
        pacer.set_resource_unit_quota(resource_unit_quota_for_tenant_size(100_000));
        // 7,200 RU per window now; the 3,000 already sent still count.
        assert_eq!(pacer.reserve(Cost::read(4_000.0)), Duration::ZERO);
        assert_eq!(pacer.reserve(Cost::read(500.0)), Duration::from_secs(10));
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
