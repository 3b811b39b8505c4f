//! When and how long to wait before resending a request.
//!
//! Graph asks for `Retry-After` to be honoured on 429 and 503 (and it may be fractional,
//! graph-api.md §10); without it the wait is a jittered exponential backoff, so that many
//! clients throttled at the same moment do not come back at the same moment.

use std::time::Duration;

/// The retry policy of every request.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Resends after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each later one doubles.
    pub base_delay: Duration,
    /// No backoff and no `Retry-After` wait exceeds this.
    pub max_delay: Duration,
    /// Test-only switch: when false every wait (backoff, `Retry-After`, pacing, device-code
    /// polling) is skipped, so tests of retry paths run in milliseconds.
    pub delays: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(120),
            delays: true,
        }
    }
}

impl RetryPolicy {
    /// The same policy without any waiting (tests).
    pub fn without_delays(mut self) -> Self {
        self.delays = false;
        self
    }

    /// The wait before retry number `retry` (1-based), with `jitter` in `[0, 1)`:
    /// "equal jitter", between half and all of `base · 2^(retry-1)`, capped at `max_delay`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1_u32 << exponent)
            .min(self.max_delay);
        let jitter = jitter.clamp(0.0, 1.0);
        ceiling.mul_f64(0.5 + 0.5 * jitter)
    }

    /// The wait before retry number `retry` of a response that said `Retry-After`: never
    /// sooner than the server's value (plus up to 10% jitter, so clients told the same
    /// second do not return together), and never sooner than the backoff either. A tiny
    /// fractional value (`0.003`) repeated on every attempt would otherwise burn all the
    /// retries within milliseconds while the quota refills for seconds.
    pub fn after_retry_after(&self, retry_after: Duration, retry: u32, jitter: f64) -> Duration {
        retry_after
            .mul_f64(1.0 + 0.1 * jitter.clamp(0.0, 1.0))
            .max(self.backoff(retry, jitter))
            .min(self.max_delay)
    }

    /// What to actually sleep: nothing when delays are switched off.
    pub(crate) fn effective(&self, wait: Duration) -> Duration {
        if self.delays { wait } else { Duration::ZERO }
    }
}

/// Parses `Retry-After` as seconds, fractional allowed (`2.128`). HTTP dates are not used by
/// Graph and yield `None`, which falls back to backoff.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(seconds.min(86_400.0)).ok()
}

/// A random number in `[0, 1)` for jitter.
pub(crate) fn jitter() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_integers_and_fractions() {
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..=12 {
            let ceiling = (Duration::from_millis(500) * 2_u32.pow(retry - 1)).min(policy.max_delay);
            let low = policy.backoff(retry, 0.0);
            let high = policy.backoff(retry, 0.999_999);
            assert_eq!(low, ceiling / 2, "retry {retry}");
            assert!(
                high <= ceiling && high >= ceiling.mul_f64(0.99),
                "retry {retry}"
            );
        }
        assert_eq!(policy.backoff(60, 1.0), policy.max_delay);
    }

    #[test]
    fn retry_after_is_honoured_with_a_little_jitter() {
        let policy = RetryPolicy::default();
        let wait = policy.after_retry_after(Duration::from_millis(2128), 1, 0.5);
        assert!(wait >= Duration::from_millis(2128) && wait <= Duration::from_millis(2341));
        assert_eq!(
            policy.after_retry_after(Duration::from_secs(100_000), 1, 0.0),
            policy.max_delay
        );
        // A tiny value never undercuts the backoff of a repeated throttle.
        let wait = policy.after_retry_after(Duration::from_millis(3), 4, 0.0);
        assert_eq!(wait, policy.backoff(4, 0.0));
        assert_eq!(wait, Duration::from_secs(2));
    }

    #[test]
    fn the_test_switch_removes_waits() {
        let policy = RetryPolicy::default().without_delays();
        assert_eq!(policy.effective(Duration::from_secs(30)), Duration::ZERO);
    }
}
