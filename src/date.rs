//! Calendar dates as a day count, so comparing and subtracting dates is integer work.
//!
//! Inputs use ISO `YYYY-MM-DD` only: the format is unambiguous, and an export that writes `03/04/2024`
//! must be rejected rather than guessed at (March or April?).

use std::fmt;

/// A proleptic Gregorian date, stored as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

impl Date {
    /// Builds a date from its parts, or `None` when the day does not exist (2023-02-29).
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day == 0 {
            return None;
        }
        if day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Parses exactly `YYYY-MM-DD` (ASCII digits, real calendar day).
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            b[range].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let year = digits(0..4)?;
        let month = digits(5..7)?;
        let day = digits(8..10)?;
        Date::from_ymd(year as i32, month, day)
    }

    /// Parses the date forms of SEC loan tapes: `MM/YYYY` (a month: its first day) and `MM-DD-YYYY` or
    /// `MM/DD/YYYY`. Only for columns whose format the tape standard fixes; never guessed for other files.
    pub fn parse_tape(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        let num = |s: &[u8]| -> Option<u32> {
            (!s.is_empty() && s.iter().all(u8::is_ascii_digit)).then(|| {
                s.iter()
                    .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
            })
        };
        match b.len() {
            7 if b[2] == b'/' => Date::from_ymd(num(&b[3..7])? as i32, num(&b[0..2])?, 1),
            10 if b[2] == b[5] && (b[2] == b'-' || b[2] == b'/') => {
                Date::from_ymd(num(&b[6..10])? as i32, num(&b[0..2])?, num(&b[3..5])?)
            }
            _ => Date::parse(text),
        }
    }

    /// Whole calendar months from `self` to `later` (0 when `later` is earlier): a month counts once its
    /// day of month is reached, so 2020-01-15 → 2020-02-14 is 0 and → 2020-02-15 is 1.
    pub fn months_until(self, later: Date) -> u32 {
        let (y1, m1, d1) = self.ymd();
        let (y2, m2, d2) = later.ymd();
        let months = (y2 * 12 + m2 as i32) - (y1 * 12 + m1 as i32) - i32::from(d2 < d1);
        months.max(0) as u32
    }

    /// `months` calendar months later (earlier when negative), the day clamped to the month's end:
    /// 2024-01-31 plus one month is 2024-02-29.
    pub fn plus_months(self, months: i32) -> Date {
        let (y, m, day) = self.ymd();
        let total = y * 12 + (m as i32 - 1) + months;
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        Date::from_ymd(ny, nm, day.min(days_in_month(ny, nm))).unwrap_or(self)
    }

    /// Today's date in UTC, from the system clock.
    pub fn today_utc() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date((secs / 86_400) as i32)
    }

    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    pub fn from_days_since_epoch(days: i32) -> Date {
        Date(days)
    }

    pub fn year(self) -> i32 {
        civil_from_days(self.0).0
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i32 {
        later.0 - self.0
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's civil-calendar algorithms: exact for every proleptic Gregorian date.
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats a system time as RFC 3339 UTC with seconds, for the manifest.
pub fn rfc3339_utc(time: std::time::SystemTime) -> String {
    let d = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i32);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// The table's date of month k: as_of plus k months, the day clamped to the month's end; from a
/// month-end as_of, every date is a month end (2025-06-30 → 2025-07-31).
pub fn month_date(as_of: Date, k: u32) -> Date {
    let later = as_of.plus_months(k as i32);
    let (y, m, d) = as_of.ymd();
    let (ly, lm, _) = later.ymd();
    match d == days_in_month(y, m) {
        true => Date::from_ymd(ly, lm, days_in_month(ly, lm)).unwrap_or(later),
        false => later,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_for_four_centuries() {
        let start = Date::parse("1900-01-01").unwrap().days_since_epoch();
        for n in start..start + 146_097 {
            let d = Date::from_days_since_epoch(n);
            assert_eq!(Date::parse(&d.to_string()), Some(d));
        }
    }

    #[test]
    fn rejects_impossible_and_malformed_dates() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "24-01-01",
            "2024/01/01",
            "2024-1-01",
            "",
            "2024-01-01 ",
            "+024-01-01",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert!(Date::parse("2024-02-29").is_some());
        assert_eq!(Date::parse("1970-01-01").unwrap().days_since_epoch(), 0);
    }
}
