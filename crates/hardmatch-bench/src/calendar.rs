//! Timestamps for generated data, computed from the snapshot time and the seed, never from
//! the clock: the same seed must give byte-identical files on any day.

use anyhow::{Context, bail};

/// Seconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub i64);

pub const SECONDS_PER_DAY: i64 = 86_400;

impl Instant {
    /// Reads `YYYY-MM-DDThh:mm:ssZ`, the only form the generator writes.
    pub fn parse_rfc3339_utc(text: &str) -> anyhow::Result<Self> {
        let malformed = || format!("`{text}` is not a UTC time like 2026-11-22T00:00:00Z");
        let bytes = text.as_bytes();
        if bytes.len() != 20
            || bytes[4] != b'-'
            || bytes[7] != b'-'
            || bytes[10] != b'T'
            || bytes[13] != b':'
            || bytes[16] != b':'
            || bytes[19] != b'Z'
        {
            bail!(malformed());
        }
        let number = |range: std::ops::Range<usize>| -> anyhow::Result<i64> {
            text.get(range)
                .and_then(|digits| digits.parse::<i64>().ok())
                .with_context(malformed)
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            bail!(malformed());
        }
        let days = days_from_civil(year, month, day);
        Ok(Self(
            days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second,
        ))
    }

    pub fn minus_seconds(self, seconds: i64) -> Self {
        Self(self.0 - seconds)
    }

    fn parts(self) -> (i64, i64, i64, i64, i64, i64) {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        let second_of_day = self.0.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        (
            year,
            month,
            day,
            second_of_day / 3600,
            second_of_day % 3600 / 60,
            second_of_day % 60,
        )
    }

    /// `2026-11-22T00:00:00Z`, as Graph writes `createdDateTime`.
    pub fn rfc3339(self) -> String {
        let (year, month, day, hour, minute, second) = self.parts();
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }

    /// `20261122000000.0Z`, as AD writes `whenChanged`.
    pub fn generalized_time(self) -> String {
        let (year, month, day, hour, minute, second) = self.parts();
        format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}.0Z")
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_formats_both_ways() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:34:56Z",
            "2026-11-22T00:00:00Z",
        ] {
            let instant = Instant::parse_rfc3339_utc(text).unwrap();
            assert_eq!(instant.rfc3339(), text);
        }
        let instant = Instant::parse_rfc3339_utc("2026-11-22T01:02:03Z").unwrap();
        assert_eq!(instant.generalized_time(), "20261122010203.0Z");
        assert_eq!(
            Instant::parse_rfc3339_utc("1970-01-02T00:00:00Z").unwrap(),
            Instant(86_400)
        );
        assert!(Instant::parse_rfc3339_utc("2026-11-22").is_err());
    }
}
