//! Stripe-style object ids (`cus_…`, `pi_…`), client secrets and time helpers.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::distr::Alphanumeric;
use rand::Rng;

/// A fresh id with Stripe's prefix, e.g. `cus_` followed by 24 random characters.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random(24))
}

/// `n` random alphanumeric characters.
pub(crate) fn random(n: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// Current time in seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    now_millis() / 1000
}

/// Current time in milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `start` moved forward by `count` billing `interval`s (`day`, `week`, `month`, `year`),
/// months and years following the calendar (Jan 31 + 1 month = Feb 28/29).
pub(crate) fn add_interval(start: i64, interval: &str, count: i64) -> i64 {
    match interval {
        "day" => start + 86_400 * count,
        "week" => start + 7 * 86_400 * count,
        "year" => add_months(start, 12 * count),
        _ => add_months(start, count),
    }
}

fn add_months(ts: i64, months: i64) -> i64 {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd) * 86_400 + secs
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let id = new_id("cus");
        assert!(id.starts_with("cus_"));
        assert_eq!(id.len(), 28);
        assert_ne!(new_id("cus"), id);
    }

    #[test]
    fn months_follow_the_calendar() {
        // 2024-01-31T12:00:00Z + 1 month = 2024-02-29T12:00:00Z (leap year).
        assert_eq!(add_interval(1_706_702_400, "month", 1), 1_709_208_000);
        // 2023-03-15 + 1 year = 2024-03-15.
        assert_eq!(add_interval(1_678_838_400, "year", 1), 1_710_460_800);
        assert_eq!(add_interval(0, "week", 2), 14 * 86_400);
    }
}
