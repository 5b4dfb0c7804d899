//! Wall-clock time as epoch milliseconds, and the date format AWS messages use.

use std::fmt;

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    pub fn saturating_sub(self, other: Millis) -> u64 {
        self.0.saturating_sub(other.0)
    }

    /// Epoch seconds with a millisecond fraction, as AWS JSON timestamps carry them.
    pub fn as_epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Formats like Java's `Date.toString()` in UTC (`Sun Nov 22 02:53:29 UTC 2026`),
    /// which is what AWS prints in ExpiredIteratorException messages.
    pub fn java_date(self) -> JavaDate {
        JavaDate(self)
    }
}

/// Display adapter returned by [`Millis::java_date`].
#[derive(Debug)]
pub struct JavaDate(Millis);

impl fmt::Display for JavaDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let secs = self.0.0 / 1000;
        let days = secs / 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        let second_of_day = secs % 86_400;
        write!(
            f,
            "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
            DAYS[(days % 7) as usize],
            MONTHS[(month - 1) as usize],
            day,
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
            year
        )
    }
}

/// Converts days since 1970-01-01 to (year, month, day) in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_date_matches_java_format() {
        // 2026-11-22T02:53:29Z was a Sunday.
        assert_eq!(
            Millis(1_795_316_009_000).java_date().to_string(),
            "Sun Nov 22 02:53:29 UTC 2026"
        );
        assert_eq!(
            Millis(0).java_date().to_string(),
            "Thu Jan 01 00:00:00 UTC 1970"
        );
        // A leap day.
        assert_eq!(
            Millis(951_782_400_000).java_date().to_string(),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
    }
}
