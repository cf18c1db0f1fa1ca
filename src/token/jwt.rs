//! Decoding an ID token's header and claims, without verifying its signature.
//!
//! aws-oidc never trusts these claims: STS verifies the token. They are read
//! only to fail early on an expired token and to explain STS's answers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::aws::credentials::{human_duration, rfc3339};
use crate::secret::Secret;

/// STS's limit on `WebIdentityToken`.
pub const MAX_TOKEN_LEN: usize = 20_000;
/// IAM tolerates this much clock skew after `exp`.
pub const EXP_SKEW_SECS: i64 = 300;

/// A JWT ID token: the raw value (secret) and its decoded, unverified claims.
#[derive(Clone, Debug)]
pub struct IdToken {
    raw: Secret,
    pub claims: Claims,
}

/// The claims aws-oidc looks at, plus all of them for display.
#[derive(Clone, Debug, Default)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub all: Map<String, Value>,
}

/// Why a value is not a usable JWT. Never carries the token itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the ID token is empty")]
    Empty,
    #[error("the ID token is {0} bytes, more than STS accepts ({MAX_TOKEN_LEN})")]
    TooLarge(usize),
    #[error("the ID token is not a JWT: {0}")]
    Malformed(&'static str),
    #[error("the ID token expired at {at} ({ago} ago)")]
    Expired { at: String, ago: String },
}

impl IdToken {
    /// Trims `raw`, checks it is a JWT STS could accept, and decodes its claims.
    pub fn parse(raw: &str) -> Result<IdToken, JwtError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(JwtError::Empty);
        }
        if raw.len() > MAX_TOKEN_LEN {
            return Err(JwtError::TooLarge(raw.len()));
        }
        let segments: Vec<&str> = raw.split('.').collect();
        if segments.len() != 3 {
            return Err(JwtError::Malformed(
                "expected three base64url segments separated by dots (header.payload.signature)",
            ));
        }
        if segments.iter().any(|s| {
            !s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        }) {
            return Err(JwtError::Malformed("a segment is not base64url"));
        }
        if segments[2].is_empty() {
            return Err(JwtError::Malformed(
                "the signature is empty (STS accepts only signed tokens)",
            ));
        }
        let header = decode_object(segments[0]).ok_or(JwtError::Malformed(
            "the header is not base64url-encoded JSON",
        ))?;
        if !header.contains_key("alg") {
            return Err(JwtError::Malformed("the header has no `alg`"));
        }
        let all = decode_object(segments[1]).ok_or(JwtError::Malformed(
            "the payload is not base64url-encoded JSON",
        ))?;
        let aud = match all.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let string = |k: &str| all.get(k).and_then(Value::as_str).map(str::to_string);
        let number = |k: &str| {
            all.get(k)
                .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        };
        let claims = Claims {
            iss: string("iss"),
            sub: string("sub"),
            aud,
            exp: number("exp"),
            iat: number("iat"),
            nbf: number("nbf"),
            all,
        };
        Ok(IdToken {
            raw: Secret::new(raw),
            claims,
        })
    }

    /// The raw token, for STS only.
    pub fn raw(&self) -> &Secret {
        &self.raw
    }

    /// Fails when the token is past `exp` plus IAM's clock-skew allowance at `now`.
    pub fn check_not_expired(&self, now: i64) -> Result<(), JwtError> {
        match self.claims.exp {
            Some(exp) if now > exp.saturating_add(EXP_SKEW_SECS) => Err(JwtError::Expired {
                at: rfc3339(exp),
                ago: human_duration(now.saturating_sub(exp)),
            }),
            _ => Ok(()),
        }
    }
}

impl Claims {
    /// `iss=… aud=… sub=…`: the claims that a trust policy is matched against.
    pub fn summary(&self) -> String {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        let aud = if self.aud.is_empty() {
            "(none)".to_string()
        } else {
            self.aud.join(",")
        };
        format!(
            "iss={} aud={} sub={}",
            or_none(&self.iss),
            aud,
            or_none(&self.sub)
        )
    }

    /// The issuer as IAM names the provider and its condition keys
    /// ([`crate::aws::arn::provider_of_issuer`]).
    pub fn provider(&self) -> Option<String> {
        self.iss.as_deref().map(crate::aws::arn::provider_of_issuer)
    }
}

/// One JWT segment (header or payload) decoded as a JSON object; `None` when it is not one.
pub fn decode_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Builds an unsigned, well-formed JWT from claims (tests and demos only).
#[cfg(test)]
pub fn fake_jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_claims() {
        let t = fake_jwt(&json!({
            "iss": "https://gitlab.example.com", "sub": "project_path:g/p:ref_type:branch:ref:main",
            "aud": "sts.amazonaws.com", "exp": 2000, "iat": 1000, "nbf": 995, "project_id": "42"
        }));
        let tok = IdToken::parse(&format!("  {t}\n")).unwrap();
        assert_eq!(tok.raw().expose(), t);
        assert_eq!(
            tok.claims.iss.as_deref(),
            Some("https://gitlab.example.com")
        );
        assert_eq!(tok.claims.aud, vec!["sts.amazonaws.com"]);
        assert_eq!(tok.claims.exp, Some(2000));
        assert_eq!(tok.claims.nbf, Some(995));
        assert_eq!(tok.claims.all["project_id"], "42");
        assert_eq!(
            tok.claims.summary(),
            "iss=https://gitlab.example.com aud=sts.amazonaws.com sub=project_path:g/p:ref_type:branch:ref:main"
        );
        assert_eq!(tok.claims.provider().unwrap(), "gitlab.example.com");
    }

    #[test]
    fn audience_list() {
        let t = fake_jwt(&json!({"aud": ["a", "b"]}));
        assert_eq!(IdToken::parse(&t).unwrap().claims.aud, vec!["a", "b"]);
    }

    #[test]
    fn expiry_with_skew() {
        let t = IdToken::parse(&fake_jwt(&json!({"exp": 1000}))).unwrap();
        assert!(t.check_not_expired(1000).is_ok());
        assert!(t.check_not_expired(1300).is_ok());
        let err = t.check_not_expired(1301).unwrap_err();
        assert_eq!(
            err,
            JwtError::Expired {
                at: "1970-01-01T00:16:40Z".into(),
                ago: "5m 1s".into()
            }
        );
        // No exp: STS decides.
        let t = IdToken::parse(&fake_jwt(&json!({}))).unwrap();
        assert!(t.check_not_expired(i64::MAX / 2).is_ok());
    }

    #[test]
    fn rejects_non_jwts() {
        assert_eq!(IdToken::parse("  ").unwrap_err(), JwtError::Empty);
        assert!(matches!(IdToken::parse("abc"), Err(JwtError::Malformed(_))));
        assert!(matches!(
            IdToken::parse("a.b.c"),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            IdToken::parse("a b.c.d"),
            Err(JwtError::Malformed(_))
        ));
        let good = fake_jwt(&json!({"sub": "x"}));
        let unsigned = good.rsplit_once('.').unwrap().0.to_string() + ".";
        assert!(matches!(
            IdToken::parse(&unsigned),
            Err(JwtError::Malformed(_))
        ));
        let huge = format!("{good}{}", "A".repeat(MAX_TOKEN_LEN));
        assert!(matches!(IdToken::parse(&huge), Err(JwtError::TooLarge(_))));
    }

    #[test]
    fn errors_never_contain_the_token() {
        let t = fake_jwt(&json!({"exp": 1, "sub": "CANARY"}));
        let err = IdToken::parse(&t)
            .unwrap()
            .check_not_expired(10_000)
            .unwrap_err();
        assert!(!err.to_string().contains(&t));
        assert!(!format!("{:?}", IdToken::parse(&t).unwrap()).contains(&t));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(raw in ".{0,300}") {
            if let Ok(t) = IdToken::parse(&raw) {
                let _ = t.check_not_expired(0);
                let _ = t.claims.summary();
            }
        }

        #[test]
        fn parse_never_panics_on_jwt_shaped_input(h in "[A-Za-z0-9_=-]{0,60}", p in "[A-Za-z0-9_=-]{0,200}", s in "[A-Za-z0-9_=-]{0,40}") {
            let _ = IdToken::parse(&format!("{h}.{p}.{s}"));
        }

        #[test]
        fn parse_never_panics_on_arbitrary_claims(json in "\\{(\"[a-z]{1,5}\":(\"[^\"]{0,10}\"|-?[0-9]{1,25}(\\.[0-9]{1,5})?|true|null|\\[\\]),?){0,6}\\}") {
            let payload = URL_SAFE_NO_PAD.encode(json.as_bytes());
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
            if let Ok(t) = IdToken::parse(&format!("{header}.{payload}.c2ln")) {
                let _ = t.check_not_expired(i64::MAX);
                let _ = t.check_not_expired(i64::MIN);
            }
        }
    }
}
