//! The emulator's notion of "now", injectable so that tests of token lifetimes, device-code
//! expiry and throttling windows are deterministic instead of racing the wall clock.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> SystemTime;
}

/// The machine's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Starts at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    pub fn set(&self, to: SystemTime) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Seconds since the Unix epoch, as JWT `exp`/`nbf`/`iat` want them.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(duration) => i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// `2026-11-22T03:04:05Z`: the form Graph uses for `…DateTime` properties.
pub(crate) fn graph_date_time(time: SystemTime) -> String {
    let moment = OffsetDateTime::from(time)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::from(time));
    moment
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// `2026-11-22T03:04:05`: Graph's `innerError.date`, which carries no zone.
pub(crate) fn inner_error_date(time: SystemTime) -> String {
    let moment = OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        moment.year(),
        u8::from(moment.month()),
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second()
    )
}

/// `2026-11-22 03:04:05Z`: the identity platform's `timestamp` in AADSTS errors.
pub(crate) fn aadsts_timestamp(time: SystemTime) -> String {
    inner_error_date(time).replace('T', " ") + "Z"
}

/// RFC 9110 IMF-fixdate for the `Date` header.
pub(crate) fn http_date(time: SystemTime) -> String {
    let moment = OffsetDateTime::from(time);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = DAYS[usize::from(moment.weekday().number_days_from_monday())];
    let month = MONTHS[usize::from(u8::from(moment.month())) - 1];
    format!(
        "{day}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        moment.day(),
        moment.year(),
        moment.hour(),
        moment.minute(),
        moment.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_three_date_shapes_graph_and_the_identity_platform_use() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        assert_eq!(graph_date_time(time), "2020-09-13T12:26:40Z");
        assert_eq!(inner_error_date(time), "2020-09-13T12:26:40");
        assert_eq!(aadsts_timestamp(time), "2020-09-13 12:26:40Z");
        assert_eq!(http_date(time), "Sun, 13 Sep 2020 12:26:40 GMT");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        clock.advance(Duration::from_secs(5));
        assert_eq!(unix_seconds(clock.now()), 5);
    }
}
