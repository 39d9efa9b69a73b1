//! Dates as Elasticsearch reads and writes them: named formats (`strict_date_optional_time`,
//! `epoch_millis`, ...), Java-style patterns (`yyyy-MM-dd HH:mm:ss`), `||`-separated
//! alternatives, and date math (`now-7d/d`, `2024-01-01||+1M`).

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Timelike, Utc,
};

/// The default format of `date` fields.
pub const DEFAULT_FORMAT: &str = "strict_date_optional_time||epoch_millis";

/// One alternative of a date format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// ISO 8601 with optional time and zone.
    OptionalTime,
    /// Milliseconds since the epoch.
    EpochMillis,
    /// Seconds since the epoch.
    EpochSecond,
    /// A chrono pattern converted from a Java one; `has_time`/`has_zone` say what it holds.
    Pattern {
        chrono: String,
        has_time: bool,
        has_zone: bool,
        has_day: bool,
    },
}

/// A parsed date format (`a||b||c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    parts: Vec<Part>,
}

fn java_to_chrono(pattern: &str) -> Result<Part, String> {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let (mut has_time, mut has_zone, mut has_day) = (false, false, false);
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                out.push(chars[j]);
                j += 1;
            }
            i = j + 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y' | 'u', 4) | ('y' | 'u', 1) => "%Y",
            ('y' | 'u', 2) => "%y",
            ('M', 2) | ('M', 1) => "%m",
            ('M', 3) => "%b",
            ('M', 4) => "%B",
            ('d', 2) | ('d', 1) => {
                has_day = true;
                "%d"
            }
            ('H', 2) | ('H', 1) => {
                has_time = true;
                "%H"
            }
            ('h', 2) | ('h', 1) => {
                has_time = true;
                "%I"
            }
            ('a', 1) => "%p",
            ('m', 2) | ('m', 1) => "%M",
            ('s', 2) | ('s', 1) => "%S",
            ('S', 3) => "%3f",
            ('S', 6) => "%6f",
            ('S', 9) => "%9f",
            ('Z', _) | ('X', 1) | ('x', 1) => {
                has_zone = true;
                "%z"
            }
            ('X', _) | ('x', _) => {
                has_zone = true;
                "%:z"
            }
            ('E', 3) => "%a",
            ('E', 4) => "%A",
            (c, _) if !c.is_ascii_alphabetic() => {
                for _ in 0..n {
                    if c == '%' {
                        out.push_str("%%");
                    } else {
                        out.push(c);
                    }
                }
                i += n;
                continue;
            }
            _ => {
                return Err(format!(
                    "the date pattern letter [{}] of [{pattern}] is not supported by vers search",
                    c.to_string().repeat(n)
                ))
            }
        };
        out.push_str(piece);
        i += n;
    }
    Ok(Part::Pattern {
        chrono: out,
        has_time,
        has_zone,
        has_day,
    })
}

impl DateFormat {
    /// Parses a format string such as `yyyy-MM-dd||epoch_millis`.
    pub fn parse(format: &str) -> Result<DateFormat, String> {
        let mut parts = Vec::new();
        for alt in format.split("||") {
            let alt = alt.trim();
            let part = match alt {
                "strict_date_optional_time"
                | "date_optional_time"
                | "strict_date_optional_time_nanos"
                | "strict_date_time"
                | "date_time"
                | "strict_date_time_no_millis"
                | "date_time_no_millis" => Part::OptionalTime,
                "epoch_millis" => Part::EpochMillis,
                "epoch_second" => Part::EpochSecond,
                "strict_date" | "date" | "year_month_day" | "strict_year_month_day" => {
                    java_to_chrono("yyyy-MM-dd")?
                }
                "basic_date" => java_to_chrono("yyyyMMdd")?,
                "strict_date_hour_minute_second" | "date_hour_minute_second" => {
                    java_to_chrono("yyyy-MM-dd'T'HH:mm:ss")?
                }
                "strict_date_hour_minute_second_millis" | "date_hour_minute_second_millis" => {
                    java_to_chrono("yyyy-MM-dd'T'HH:mm:ss.SSS")?
                }
                "strict_year_month" | "year_month" => java_to_chrono("yyyy-MM")?,
                "strict_year" | "year" => java_to_chrono("yyyy")?,
                other if other.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                    return Err(format!(
                        "the named date format [{other}] is not supported by vers search"
                    ))
                }
                other => java_to_chrono(other)?,
            };
            parts.push(part);
        }
        Ok(DateFormat { parts })
    }

    /// The default format of `date` fields.
    pub fn default_format() -> DateFormat {
        DateFormat {
            parts: vec![Part::OptionalTime, Part::EpochMillis],
        }
    }

    /// Milliseconds since the epoch of `text`, read with the first alternative that fits;
    /// times without a zone are in `zone` (UTC when `None`).
    pub fn parse_millis(&self, text: &str, zone: Option<FixedOffset>) -> Option<i64> {
        let zone = zone.unwrap_or_else(utc_offset);
        self.parts
            .iter()
            .find_map(|p| parse_part(p, text.trim(), zone))
    }

    /// `millis` written in the first alternative (as `key_as_string` and sort values are).
    pub fn format_millis(&self, millis: i64) -> String {
        let Some(dt) = Utc.timestamp_millis_opt(millis).single() else {
            return millis.to_string();
        };
        match self.parts.first() {
            Some(Part::EpochMillis) => millis.to_string(),
            Some(Part::EpochSecond) => (millis / 1000).to_string(),
            Some(Part::Pattern { chrono, .. }) => dt.format(chrono).to_string(),
            Some(Part::OptionalTime) | None => dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        }
    }
}

fn utc_offset() -> FixedOffset {
    // Invariant: an offset of zero seconds is always in range.
    FixedOffset::east_opt(0).expect("zero offset")
}

fn parse_part(part: &Part, text: &str, zone: FixedOffset) -> Option<i64> {
    match part {
        Part::EpochMillis => {
            if let Ok(n) = text.parse::<i64>() {
                return Some(n);
            }
            text.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i64)
        }
        Part::EpochSecond => {
            if let Ok(n) = text.parse::<i64>() {
                return n.checked_mul(1000);
            }
            text.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| (f * 1000.0) as i64)
        }
        Part::OptionalTime => parse_iso(text, zone),
        Part::Pattern {
            chrono,
            has_time,
            has_zone,
            has_day,
        } => {
            if *has_zone {
                return DateTime::parse_from_str(text, chrono)
                    .ok()
                    .map(|d| d.timestamp_millis());
            }
            let naive = if *has_time {
                NaiveDateTime::parse_from_str(text, chrono).ok()?
            } else if *has_day {
                NaiveDate::parse_from_str(text, chrono)
                    .ok()?
                    .and_time(NaiveTime::MIN)
            } else {
                let with_day = format!("{text}-01");
                let fmt = format!("{chrono}-%d");
                let with_month = format!("{text}-01-01");
                let fmt_month = format!("{chrono}-%m-%d");
                NaiveDate::parse_from_str(&with_day, &fmt)
                    .or_else(|_| NaiveDate::parse_from_str(&with_month, &fmt_month))
                    .ok()?
                    .and_time(NaiveTime::MIN)
            };
            zone.from_local_datetime(&naive)
                .single()
                .map(|d| d.timestamp_millis())
        }
    }
}

/// ISO 8601 (`yyyy[-MM[-dd[THH[:mm[:ss[.SSS…]]]]]][Z|±HH:mm|±HHmm]`).
fn parse_iso(text: &str, zone: FixedOffset) -> Option<i64> {
    let (body, offset) = split_zone(text)?;
    let offset = offset.unwrap_or(zone);
    let (date_part, time_part) = match body.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut ymd = date_part.splitn(3, '-');
    let year: i32 = ymd.next()?.parse().ok()?;
    if date_part.starts_with('-') || date_part.len() < 4 {
        return None;
    }
    let month: u32 = ymd.next().map(str::parse).transpose().ok()?.unwrap_or(1);
    let day: u32 = ymd.next().map(str::parse).transpose().ok()?.unwrap_or(1);
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = match time_part {
        None => NaiveTime::MIN,
        Some(t) => {
            let (hms, frac) = match t.split_once(['.', ',']) {
                Some((a, b)) => (a, Some(b)),
                None => (t, None),
            };
            let mut it = hms.split(':');
            let h: u32 = it.next()?.parse().ok()?;
            let m: u32 = it.next().map(str::parse).transpose().ok()?.unwrap_or(0);
            let s: u32 = it.next().map(str::parse).transpose().ok()?.unwrap_or(0);
            if it.next().is_some() {
                return None;
            }
            let nanos = match frac {
                None => 0,
                Some(f)
                    if !f.is_empty() && f.len() <= 9 && f.chars().all(|c| c.is_ascii_digit()) =>
                {
                    let padded = format!("{f:0<9}");
                    padded.parse().ok()?
                }
                Some(_) => return None,
            };
            NaiveTime::from_hms_nano_opt(h, m, s, nanos)?
        }
    };
    offset
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|d| d.timestamp_millis())
}

/// Splits a trailing zone (`Z`, `±HH:mm`, `±HHmm`, `±HH`) off an ISO date-time.
fn split_zone(text: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(body) = text.strip_suffix(['Z', 'z']) {
        return Some((body, Some(utc_offset())));
    }
    let Some(t_at) = text.find(['T', ' ']) else {
        return Some((text, None));
    };
    let time = &text[t_at..];
    let Some(sign_at) = time.rfind(['+', '-']) else {
        return Some((text, None));
    };
    let zone = &time[sign_at + 1..];
    let digits: String = zone.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    let secs = (h * 3600 + m * 60)
        * if time.as_bytes()[sign_at] == b'-' {
            -1
        } else {
            1
        };
    Some((&text[..t_at + sign_at], Some(FixedOffset::east_opt(secs)?)))
}

/// A time zone of a query (`time_zone`): `Z`, `UTC` or a fixed offset `±HH:mm`.
pub fn parse_time_zone(tz: &str) -> Result<FixedOffset, String> {
    if tz.eq_ignore_ascii_case("utc") || tz == "Z" || tz == "GMT" {
        return Ok(utc_offset());
    }
    split_zone(&format!("T{tz}"))
        .and_then(|(_, z)| z)
        .ok_or_else(|| {
            format!(
                "the time zone [{tz}] is not supported by vers search (use a fixed offset such as +01:00)"
            )
        })
}

fn round_down(dt: DateTime<FixedOffset>, unit: char) -> Option<DateTime<FixedOffset>> {
    let date = dt.date_naive();
    let day_start = |d: NaiveDate| {
        dt.timezone()
            .from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
    };
    match unit {
        'y' => day_start(NaiveDate::from_ymd_opt(date.year(), 1, 1)?),
        'M' => day_start(NaiveDate::from_ymd_opt(date.year(), date.month(), 1)?),
        'w' => day_start(date - Duration::days(date.weekday().num_days_from_monday() as i64)),
        'd' => day_start(date),
        'h' | 'H' => dt.with_minute(0)?.with_second(0)?.with_nanosecond(0),
        'm' => dt.with_second(0)?.with_nanosecond(0),
        's' => dt.with_nanosecond(0),
        _ => None,
    }
}

fn add_unit(dt: DateTime<FixedOffset>, n: i64, unit: char) -> Option<DateTime<FixedOffset>> {
    let months = |k: i64| {
        if k >= 0 {
            dt.checked_add_months(Months::new(u32::try_from(k).ok()?))
        } else {
            dt.checked_sub_months(Months::new(u32::try_from(-k).ok()?))
        }
    };
    match unit {
        'y' => months(n.checked_mul(12)?),
        'M' => months(n),
        'w' => dt.checked_add_signed(Duration::weeks(n)),
        'd' => dt.checked_add_signed(Duration::days(n)),
        'h' | 'H' => dt.checked_add_signed(Duration::hours(n)),
        'm' => dt.checked_add_signed(Duration::minutes(n)),
        's' => dt.checked_add_signed(Duration::seconds(n)),
        _ => None,
    }
}

/// Reads a range bound: a date in `format`, or date math (`now-1d/d`, `2024-01-01||+1M/M`).
/// With `round_up`, rounding goes to the last millisecond of the unit (for `gt` and `lte`).
pub fn parse_date_math(
    text: &str,
    format: &DateFormat,
    zone: Option<FixedOffset>,
    now_millis: i64,
    round_up: bool,
) -> Result<i64, String> {
    let offset = zone.unwrap_or_else(utc_offset);
    let (anchor, math) = if let Some(rest) = text.strip_prefix("now") {
        let now = offset
            .timestamp_millis_opt(now_millis)
            .single()
            .ok_or("now is out of range")?;
        (now, rest)
    } else if let Some((date, rest)) = text.split_once("||") {
        let millis = format
            .parse_millis(date, zone)
            .ok_or_else(|| format!("failed to parse date field [{date}]"))?;
        (
            offset
                .timestamp_millis_opt(millis)
                .single()
                .ok_or("date out of range")?,
            rest,
        )
    } else {
        return format.parse_millis(text, zone).ok_or_else(|| {
            format!(
                "failed to parse date field [{text}] with format [{}]",
                format_name(format)
            )
        });
    };
    let mut dt = anchor;
    let chars: Vec<char> = math.chars().collect();
    let mut i = 0;
    let bad = || format!("invalid date math [{text}]");
    while i < chars.len() {
        let op = chars[i];
        i += 1;
        match op {
            '+' | '-' => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let n: i64 = if start == i {
                    1
                } else {
                    chars[start..i]
                        .iter()
                        .collect::<String>()
                        .parse()
                        .map_err(|_| bad())?
                };
                let unit = *chars.get(i).ok_or_else(bad)?;
                i += 1;
                dt = add_unit(dt, if op == '-' { -n } else { n }, unit).ok_or_else(bad)?;
            }
            '/' => {
                let unit = *chars.get(i).ok_or_else(bad)?;
                i += 1;
                let down = round_down(dt, unit).ok_or_else(bad)?;
                dt = if round_up {
                    add_unit(down, 1, unit).ok_or_else(bad)? - Duration::milliseconds(1)
                } else {
                    down
                };
            }
            _ => return Err(bad()),
        }
    }
    Ok(dt.timestamp_millis())
}

fn format_name(format: &DateFormat) -> String {
    if *format == DateFormat::default_format() {
        DEFAULT_FORMAT.to_string()
    } else {
        "the field's format".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn default_format_reads_iso_and_epoch() {
        let f = DateFormat::default_format();
        assert_eq!(
            f.parse_millis("2024-01-15", None),
            Some(ms(2024, 1, 15, 0, 0, 0))
        );
        assert_eq!(
            f.parse_millis("2024-01-15T10:30:00Z", None),
            Some(ms(2024, 1, 15, 10, 30, 0))
        );
        assert_eq!(
            f.parse_millis("2024-01-15T10:30:00.250+02:00", None),
            Some(ms(2024, 1, 15, 8, 30, 0) + 250)
        );
        assert_eq!(
            f.parse_millis("2024-01-15T10:30:00", None),
            Some(ms(2024, 1, 15, 10, 30, 0))
        );
        assert_eq!(
            f.parse_millis("1700000000000", None),
            Some(1_700_000_000_000)
        );
        assert_eq!(f.parse_millis("yesterday", None), None);
        assert_eq!(
            f.format_millis(ms(2024, 1, 15, 0, 0, 0)),
            "2024-01-15T00:00:00.000Z"
        );
    }

    #[test]
    fn java_patterns() {
        let f = DateFormat::parse("yyyy-MM-dd HH:mm:ss||yyyy-MM-dd").unwrap();
        assert_eq!(
            f.parse_millis("2024-03-01 12:00:01", None),
            Some(ms(2024, 3, 1, 12, 0, 1))
        );
        assert_eq!(
            f.parse_millis("2024-03-01", None),
            Some(ms(2024, 3, 1, 0, 0, 0))
        );
        assert_eq!(
            f.format_millis(ms(2024, 3, 1, 12, 0, 1)),
            "2024-03-01 12:00:01"
        );
        assert!(DateFormat::parse("yyyy-QQ").is_err());
    }

    #[test]
    fn date_math_rounds() {
        let f = DateFormat::default_format();
        let now = ms(2024, 5, 17, 13, 45, 10);
        assert_eq!(
            parse_date_math("now-1d/d", &f, None, now, false).unwrap(),
            ms(2024, 5, 16, 0, 0, 0)
        );
        assert_eq!(
            parse_date_math("now/d", &f, None, now, true).unwrap(),
            ms(2024, 5, 18, 0, 0, 0) - 1
        );
        assert_eq!(
            parse_date_math("2024-01-31||+1M", &f, None, now, false).unwrap(),
            ms(2024, 2, 29, 0, 0, 0)
        );
        assert!(parse_date_math("garbage", &f, None, now, false).is_err());
    }
}
