//! What a successful assumption yields: the temporary keys and who they belong to.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::secret::Secret;

/// Temporary AWS credentials. `Debug` shows the key id and expiry, never the secrets.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    /// Seconds since the Unix epoch.
    pub expiration: i64,
}

/// The credentials plus the identity and region they are for.
#[derive(Clone, Debug)]
pub struct Assumed {
    pub credentials: Credentials,
    /// `arn:<partition>:sts::<account>:assumed-role/<role>/<session>`
    pub assumed_role_arn: String,
    pub account_id: String,
    pub region: String,
    /// From a chained `AssumeRole` (role chaining rules apply, e.g. no console SessionDuration).
    pub chained: bool,
}

impl Credentials {
    /// Expiration as RFC 3339 UTC, e.g. `2026-11-21T12:00:00Z`.
    pub fn expiration_rfc3339(&self) -> String {
        rfc3339(self.expiration)
    }
}

/// A UTC date and time of day: year, month (1-12), day (1-31), hour, minute, second.
pub type Civil = (i64, u32, u32, u32, u32, u32);

/// Unix seconds as a UTC [`Civil`] time (proleptic Gregorian calendar).
pub fn civil(secs: i64) -> Civil {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    // Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

/// Unix seconds of a UTC [`Civil`] time; `None` when a field is out of range.
fn unix((year, month, day, hour, minute, second): Civil) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[month as usize - 1]
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    // Howard Hinnant's `days_from_civil`.
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

/// Formats Unix seconds as RFC 3339 UTC with a `Z` suffix (years 1-9999; other times as
/// the plain number).
pub fn rfc3339(secs: i64) -> String {
    match civil(secs) {
        (y @ 1..=9999, mo, d, h, mi, s) => {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        }
        _ => secs.to_string(),
    }
}

/// Unix seconds of an RFC 3339 UTC time as AWS writes them: `2026-11-18T11:06:40Z`,
/// with or without a fraction (dropped), `T` or `t`; an offset other than `Z` is refused
/// (the SDKs refuse it too).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let punctuation = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if !punctuation.iter().all(|&(i, c)| b.get(i) == Some(&c))
        || !matches!(b.get(10), Some(b'T' | b't'))
    {
        return None;
    }
    let rest = match &s.get(19..)? {
        r if r.starts_with('.') => r[1..].trim_start_matches(|c: char| c.is_ascii_digit()),
        r => r,
    };
    if rest != "Z" || s.get(19..20) == Some(".") && s.get(20..21).is_none_or(|d| d == "Z") {
        return None;
    }
    unix((
        i64::from(digits(0..4)?),
        digits(5..7)?,
        digits(8..10)?,
        digits(11..13)?,
        digits(14..16)?,
        digits(17..19)?,
    ))
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

/// "1h 5m", "42s": a short human duration.
pub fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_z() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_800), "253402300800");
    }

    #[test]
    fn rfc3339_parses_what_aws_writes() {
        for (text, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-11-18T11:06:40Z", 1_795_000_000),
            ("2026-11-18t11:06:40Z", 1_795_000_000),
            ("2026-11-18T11:06:40.999Z", 1_795_000_000),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("1969-12-31T23:59:59Z", -1),
        ] {
            assert_eq!(parse_rfc3339(text), Some(secs), "{text}");
        }
        for bad in [
            "",
            "tomorrow",
            "2026-11-18",
            "2026-11-18T11:06:40",
            "2026-11-18T11:06:40+01:00",
            "2026-11-18T11:06:40z",
            "2026-11-18 11:06:40Z",
            "2026-11-18T11:06:40.Z",
            "2026-11-18T11:06:40.",
            "2026-11-18T11:06:4Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-18T24:00:00Z",
            "2026-11-18T11:60:00Z",
            "+026-11-18T11:06:40Z",
            "2026-11-18T11:06:40ZZ",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn rfc3339_round_trips(secs in -62_135_596_800i64..253_402_300_800) {
            proptest::prop_assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("SECRETCANARY"),
            session_token: Secret::new("TOKENCANARY"),
            expiration: 0,
        };
        let d = format!("{c:?}");
        assert!(d.contains("ASIAEXAMPLE"));
        assert!(!d.contains("SECRETCANARY") && !d.contains("TOKENCANARY"));
    }

    #[test]
    fn human() {
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(3900), "1h 5m");
        assert_eq!(human_duration(-90), "1m 30s");
    }
}
