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

/// Formats Unix seconds as RFC 3339 UTC with a `Z` suffix.
pub fn rfc3339(secs: i64) -> String {
    use aws_sdk_sts::primitives::{DateTime, DateTimeFormat};
    DateTime::from_secs(secs)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| secs.to_string())
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
