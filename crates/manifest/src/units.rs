//! Durations (`500ms`, `2s`, `5m`, `1h`, bare integer = milliseconds) and sizes (`256mb`,
//! `1GB`, bare integer = bytes, 1024-based), as written in manifests and on the command line.

use std::time::Duration;

use crate::diagnostic::quote;

/// Why a duration or size could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Empty text.
    #[error("empty value")]
    Empty,
    /// No leading number.
    #[error("{} does not start with a number", quote(.0))]
    NoNumber(String),
    /// A unit that is not one of the accepted ones.
    #[error("unknown unit {} in {} (use {accepted})", quote(.unit), quote(.text))]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit found.
        unit: String,
        /// The accepted units.
        accepted: &'static str,
    },
    /// The value does not fit.
    #[error("{} is too large", quote(.0))]
    Overflow(String),
}

const DURATION_UNITS: &str =
    "ms, s, m or h, e.g. 500ms, 30s, 5m, 1h; a bare number is milliseconds";
const SIZE_UNITS: &str = "b, kb, mb, gb or tb, e.g. 256mb, 1gb; a bare number is bytes";

/// Splits `text` into its leading decimal integer and the (trimmed, lower-cased) unit after it.
fn split_number(text: &str) -> Result<(u64, String), UnitError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(UnitError::Empty);
    }
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits_end == 0 {
        return Err(UnitError::NoNumber(t.to_string()));
    }
    let n: u64 = t[..digits_end]
        .parse()
        .map_err(|_| UnitError::Overflow(t.to_string()))?;
    Ok((n, t[digits_end..].trim_start().to_ascii_lowercase()))
}

/// Parses a duration: `<integer><unit>` with unit `ms`, `s`, `m` or `h` (case-insensitive),
/// or a bare integer meaning milliseconds (`timeout: 60000`).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let (n, unit) = split_number(text)?;
    let factor_ms: u64 = match unit.as_str() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(UnitError::UnknownUnit {
                text: text.trim().to_string(),
                unit,
                accepted: DURATION_UNITS,
            })
        }
    };
    let ms = n
        .checked_mul(factor_ms)
        .ok_or_else(|| UnitError::Overflow(text.trim().to_string()))?;
    Ok(Duration::from_millis(ms))
}

/// Parses a size in bytes: `<integer><unit>` with unit `b`, `k`/`kb`/`kib`, `m`/`mb`/`mib`,
/// `g`/`gb`/`gib`, `t`/`tb`/`tib` (case-insensitive, all 1024-based), or a bare integer (bytes).
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let (n, unit) = split_number(text)?;
    let shift: u32 = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(UnitError::UnknownUnit {
                text: text.trim().to_string(),
                unit,
                accepted: SIZE_UNITS,
            })
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| UnitError::Overflow(text.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("60000").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("30S").unwrap(), Duration::from_secs(30));
        assert!(matches!(
            parse_duration("5x"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(parse_duration(""), Err(UnitError::Empty));
        assert!(matches!(parse_duration("ms"), Err(UnitError::NoNumber(_))));
        assert!(matches!(
            parse_duration("99999999999999999999h"),
            Err(UnitError::Overflow(_))
        ));
        assert!(matches!(parse_duration("-1s"), Err(UnitError::NoNumber(_))));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256mb").unwrap(), 256 << 20);
        assert_eq!(parse_size("1gb").unwrap(), 1 << 30);
        assert_eq!(parse_size("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_size("4kb").unwrap(), 4096);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert_eq!(parse_size("2 GiB").unwrap(), 2 << 30);
        assert!(matches!(
            parse_size("1pb"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("20000000tb"),
            Err(UnitError::Overflow(_))
        ));
    }

    proptest! {
        #[test]
        fn duration_units_scale(n in 0u64..1_000_000) {
            prop_assert_eq!(parse_duration(&format!("{n}ms")).unwrap(), Duration::from_millis(n));
            prop_assert_eq!(parse_duration(&n.to_string()).unwrap(), Duration::from_millis(n));
            prop_assert_eq!(parse_duration(&format!("{n}s")).unwrap(), Duration::from_secs(n));
            prop_assert_eq!(parse_duration(&format!("{n}m")).unwrap(), Duration::from_secs(n * 60));
            prop_assert_eq!(parse_duration(&format!("{n}H")).unwrap(), Duration::from_secs(n * 3600));
        }

        #[test]
        fn size_units_scale(n in 0u64..1_000_000, upper in any::<bool>()) {
            let unit = |u: &str| if upper { u.to_ascii_uppercase() } else { u.to_string() };
            prop_assert_eq!(parse_size(&format!("{n}{}", unit("kb"))).unwrap(), n * 1024);
            prop_assert_eq!(parse_size(&format!("{n}{}", unit("mb"))).unwrap(), n << 20);
            prop_assert_eq!(parse_size(&format!("{n}{}", unit("gb"))).unwrap(), n << 30);
            prop_assert_eq!(parse_size(&n.to_string()).unwrap(), n);
        }

        #[test]
        fn parsers_never_panic(s in ".{0,24}") {
            let _ = parse_duration(&s);
            let _ = parse_size(&s);
        }
    }
}
