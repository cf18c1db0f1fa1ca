//! ID token checks (OpenID Connect Core §3.1.3.7) before the token is used or stored: the
//! signature against the provider's JWKS (RS256, ES256; `alg: none` and shared-secret
//! algorithms refused), `iss`, `aud`/`azp`, `exp`/`iat` within [`SKEW_SECS`], and the
//! login's `nonce`. Each failure names the check that failed; none prints the token.
//!
//! The key set is fetched once per run ([`KeySet`]) through the one retry loop.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::Transport;
use crate::net::retry::{self, Attempt, Budget, GaveUp};
use crate::secret::Secret;
use crate::token::jwt::{self, IdToken, JwtError};

/// The clock skew allowed on `exp` and `iat`.
pub const SKEW_SECS: i64 = 60;

/// One key of a JWKS (RFC 7517); only what RS256 and ES256 need.
#[derive(Clone, Debug, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

/// A provider's key set.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    pub fn parse(body: &[u8]) -> Result<Jwks, VerifyError> {
        serde_json::from_slice(body)
            .map_err(|e| VerifyError::Jwks(format!("not a JSON Web Key Set ({e})")))
    }
}

/// The provider's key set, fetched on first use and kept for the rest of the run.
#[derive(Debug)]
pub struct KeySet {
    uri: String,
    keys: tokio::sync::OnceCell<Jwks>,
}

impl KeySet {
    /// The key set at `jwks_uri` (from discovery), not fetched yet.
    pub fn new(jwks_uri: &str) -> KeySet {
        KeySet {
            uri: jwks_uri.to_string(),
            keys: tokio::sync::OnceCell::new(),
        }
    }

    /// The keys, fetched (within `budget`) on the first call only.
    pub async fn get(&self, budget: &Budget) -> Result<&Jwks, VerifyError> {
        self.keys.get_or_try_init(|| fetch(&self.uri, budget)).await
    }
}

/// Why fetching the keys failed, attempt by attempt.
#[derive(Debug)]
enum FetchError {
    Transport(Transport),
    Status(u16),
    Body(VerifyError),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Transport(t) => write!(f, "{t}"),
            FetchError::Status(s) => {
                write!(f, "HTTP {s}{}", crate::net::http::redirect_note(*s))
            }
            FetchError::Body(e) => write!(f, "{e}"),
        }
    }
}

impl crate::net::retry::Transient for FetchError {
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Transport(t) => matches!(t, Transport::Unreachable(_)),
            FetchError::Status(s) => *s >= 500 || *s == 429,
            FetchError::Body(_) => false,
        }
    }
}

async fn fetch(uri: &str, budget: &Budget) -> Result<Jwks, VerifyError> {
    let shown = |e: &dyn std::fmt::Display| VerifyError::Jwks(format!("{uri}: {e}"));
    super::secure_url(uri).map_err(|why| shown(&why))?;
    let client = crate::net::http::client(uri).map_err(|e| shown(&e))?;
    let attempt = |attempt: Attempt| {
        let request = client
            .get(uri)
            .header("Accept", "application/json")
            .timeout(attempt.timeout);
        async move {
            let answer = super::send(request).await.map_err(FetchError::Transport)?;
            if answer.status != 200 {
                return Err(FetchError::Status(answer.status));
            }
            Jwks::parse(&answer.body).map_err(FetchError::Body)
        }
    };
    retry::run(
        budget,
        &crate::net::retry::RetryTransient::new("JWKS"),
        attempt,
    )
    .await
    .map_err(|gave_up| match gave_up {
        GaveUp::Stopped(FetchError::Body(e)) => e,
        GaveUp::Stopped(e) => shown(&e),
        GaveUp::Exhausted { attempts, last, .. } => {
            shown(&format!("{last} (after {attempts} attempt(s))"))
        }
    })
}

/// What the ID token must say.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce this login sent; `None` when none was (a refresh).
    pub nonce: Option<&'a Secret>,
    /// Unix time now.
    pub now: i64,
}

/// Why an ID token is refused. Names the check; never carries the token.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Jwt(JwtError),
    #[error("the ID token is unsigned (alg none): refused")]
    AlgNone,
    #[error(
        "the ID token is signed with {0}, a shared-secret algorithm: refused (aws-oidc verifies RS256 and ES256 with the provider's public keys)"
    )]
    Symmetric(String),
    #[error("the ID token's algorithm {0} is not supported (RS256 and ES256 are)")]
    UnsupportedAlg(String),
    #[error("cannot get the provider's signing keys: {0}")]
    Jwks(String),
    #[error("the provider's key set has no {alg} key kid={kid}")]
    UnknownKid { alg: String, kid: String },
    #[error("the provider's key set has no {0} key")]
    NoKey(String),
    #[error("the ID token names no key (no kid) and the provider has {count} {alg} keys")]
    AmbiguousKey { alg: String, count: usize },
    #[error("the provider's key kid={kid} is unusable: {why}")]
    BadKey { kid: String, why: &'static str },
    #[error("the ID token's signature does not verify with the provider's key kid={kid}")]
    Signature { kid: String },
    #[error("the ID token's iss `{found}` is not the provider's issuer `{expected}`")]
    Issuer { found: String, expected: String },
    #[error("the ID token's aud ({found}) does not contain the client id `{client_id}`")]
    Audience { found: String, client_id: String },
    #[error("the ID token's azp `{found}` is not the client id `{client_id}`")]
    Azp { found: String, client_id: String },
    #[error("the ID token has several audiences but no azp naming the client id `{0}`")]
    NoAzp(String),
    #[error("the ID token has no {0} claim")]
    Missing(&'static str),
    #[error("the ID token expired at {at} (now {now}, {SKEW_SECS} s of clock skew allowed)")]
    Expired { at: String, now: String },
    #[error("the ID token was issued in the future ({at}; now {now}): check this machine's clock")]
    IssuedInFuture { at: String, now: String },
    #[error("the ID token's nonce does not match the one this login sent")]
    Nonce,
    #[error("the ID token carries no nonce, but this login sent one")]
    NoNonce,
}

/// Checks `token` with `keys` against `expected`, and returns it decoded.
pub fn verify(token: &Secret, keys: &Jwks, expected: &Expected) -> Result<IdToken, VerifyError> {
    let raw = token.expose().trim();
    let segments: Vec<&str> = raw.split('.').collect();
    let header = (segments.len() == 3)
        .then(|| jwt::decode_object(segments[0]))
        .flatten()
        .ok_or(VerifyError::Jwt(JwtError::Malformed(
            "the header is not base64url-encoded JSON",
        )))?;
    let alg = header
        .get("alg")
        .and_then(|a| a.as_str())
        .ok_or(VerifyError::Jwt(JwtError::Malformed(
            "the header has no `alg`",
        )))?;
    let alg = super::sanitize(alg);
    match alg.as_str() {
        "RS256" | "ES256" => {}
        a if a.eq_ignore_ascii_case("none") => return Err(VerifyError::AlgNone),
        a if a.starts_with("HS") => return Err(VerifyError::Symmetric(alg)),
        _ => return Err(VerifyError::UnsupportedAlg(alg)),
    }
    let parsed = IdToken::parse(raw).map_err(VerifyError::Jwt)?;
    let kid = header
        .get("kid")
        .and_then(|k| k.as_str())
        .map(super::sanitize);
    let (key, kid) = select(keys, &alg, kid)?;
    let signature = URL_SAFE_NO_PAD
        .decode(segments[2].trim_end_matches('='))
        .map_err(|_| VerifyError::Jwt(JwtError::Malformed("the signature is not base64url")))?;
    let message = &raw.as_bytes()[..segments[0].len() + 1 + segments[1].len()];
    check_signature(key, &alg, &kid, message, &signature)?;
    check_claims(&parsed, expected)?;
    Ok(parsed)
}

/// Fetches the key set (once per run) and [`verify`]s `token`.
pub async fn verify_with(
    token: &Secret,
    keys: &KeySet,
    expected: &Expected<'_>,
    budget: &Budget,
) -> Result<IdToken, VerifyError> {
    verify(token, keys.get(budget).await?, expected)
}

/// The key for `alg` and `kid` (the only one for `alg` when the token names none), and the
/// kid to name in messages.
fn select<'k>(
    keys: &'k Jwks,
    alg: &str,
    kid: Option<String>,
) -> Result<(&'k Jwk, String), VerifyError> {
    let fits = |k: &&Jwk| {
        let kty_ok = match alg {
            "RS256" => k.kty == "RSA",
            _ => k.kty == "EC" && k.crv.as_deref() == Some("P-256"),
        };
        kty_ok
            && k.use_.as_deref().is_none_or(|u| u == "sig")
            && k.alg.as_deref().is_none_or(|a| a == alg)
    };
    let candidates: Vec<&Jwk> = keys.keys.iter().filter(fits).collect();
    match kid {
        Some(kid) => candidates
            .into_iter()
            .find(|k| k.kid.as_deref() == Some(kid.as_str()))
            .map(|k| (k, kid.clone()))
            .ok_or(VerifyError::UnknownKid {
                alg: alg.to_string(),
                kid,
            }),
        None => match candidates.as_slice() {
            [only] => Ok((*only, only.kid.clone().unwrap_or_else(|| "(none)".into()))),
            [] => Err(VerifyError::NoKey(alg.to_string())),
            many => Err(VerifyError::AmbiguousKey {
                alg: alg.to_string(),
                count: many.len(),
            }),
        },
    }
}

fn check_signature(
    key: &Jwk,
    alg: &str,
    kid: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    use ring::signature;
    let bad = |why| VerifyError::BadKey {
        kid: kid.to_string(),
        why,
    };
    let part = |v: &Option<String>, why| {
        v.as_deref()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
            .ok_or_else(|| bad(why))
    };
    let verified = if alg == "RS256" {
        let n = part(&key.n, "no base64url `n`")?;
        let e = part(&key.e, "no base64url `e`")?;
        // Big-endian integers without leading zeros, as ring wants them.
        let strip = |v: &[u8]| v[v.iter().position(|&b| b != 0).unwrap_or(v.len())..].to_vec();
        let components = signature::RsaPublicKeyComponents {
            n: strip(&n),
            e: strip(&e),
        };
        components.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
    } else {
        let x = part(&key.x, "no base64url `x`")?;
        let y = part(&key.y, "no base64url `y`")?;
        if x.len() != 32 || y.len() != 32 {
            return Err(bad("`x` and `y` are not 32 bytes each"));
        }
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(message, signature)
    };
    verified.map_err(|_| VerifyError::Signature {
        kid: kid.to_string(),
    })
}

fn check_claims(token: &IdToken, expected: &Expected) -> Result<(), VerifyError> {
    use crate::aws::credentials::rfc3339;
    let c = &token.claims;
    let iss = c.iss.as_deref().ok_or(VerifyError::Missing("iss"))?;
    if iss != expected.issuer {
        return Err(VerifyError::Issuer {
            found: super::sanitize(iss),
            expected: expected.issuer.to_string(),
        });
    }
    if !c.aud.iter().any(|a| a == expected.client_id) {
        return Err(VerifyError::Audience {
            found: if c.aud.is_empty() {
                "none".into()
            } else {
                super::sanitize(&c.aud.join(", "))
            },
            client_id: expected.client_id.to_string(),
        });
    }
    let azp = c.all.get("azp").and_then(|v| v.as_str());
    match azp {
        Some(azp) if azp != expected.client_id => {
            return Err(VerifyError::Azp {
                found: super::sanitize(azp),
                client_id: expected.client_id.to_string(),
            });
        }
        None if c.aud.len() > 1 => return Err(VerifyError::NoAzp(expected.client_id.into())),
        _ => {}
    }
    let exp = c.exp.ok_or(VerifyError::Missing("exp"))?;
    if expected.now >= exp.saturating_add(SKEW_SECS) {
        return Err(VerifyError::Expired {
            at: rfc3339(exp),
            now: rfc3339(expected.now),
        });
    }
    let iat = c.iat.ok_or(VerifyError::Missing("iat"))?;
    if iat > expected.now.saturating_add(SKEW_SECS) {
        return Err(VerifyError::IssuedInFuture {
            at: rfc3339(iat),
            now: rfc3339(expected.now),
        });
    }
    if let Some(nonce) = expected.nonce {
        match c.all.get("nonce").and_then(|v| v.as_str()) {
            Some(found) if super::pkce::constant_time_eq(found, nonce.expose()) => {}
            Some(_) => return Err(VerifyError::Nonce),
            None => return Err(VerifyError::NoNonce),
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
    use serde_json::{Value, json};
    use std::sync::OnceLock;

    const ISS: &str = "https://idp.example.com";
    const NOW: i64 = 1_800_000_000;

    fn rsa() -> &'static RsaKeyPair {
        static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
        KEY.get_or_init(|| RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }

    fn ec() -> &'static EcdsaKeyPair {
        static KEY: OnceLock<EcdsaKeyPair> = OnceLock::new();
        KEY.get_or_init(|| {
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap()
        })
    }

    fn b64(v: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    /// `n` and `e` of a DER `RSAPublicKey` (SEQUENCE { INTEGER n, INTEGER e }), the form
    /// aws-lc gives the public key in.
    fn n_e(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
        fn item(der: &[u8], tag: u8) -> (&[u8], &[u8]) {
            assert_eq!(der[0], tag);
            let (len, start) = if der[1] < 0x80 {
                (der[1] as usize, 2)
            } else {
                let k = (der[1] & 0x7f) as usize;
                let len = der[2..2 + k]
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | b as usize);
                (len, 2 + k)
            };
            (&der[start..start + len], &der[start + len..])
        }
        let (seq, _) = item(der, 0x30);
        let (n, rest) = item(seq, 0x02);
        let (e, _) = item(rest, 0x02);
        let strip = |v: &[u8]| v[v.iter().position(|&b| b != 0).unwrap()..].to_vec();
        (strip(n), strip(e))
    }

    pub(crate) fn rsa_jwk(kid: &str) -> Value {
        let (n, e) = n_e(rsa().public_key().as_ref());
        assert_eq!(n.len(), 256);
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": b64(&e)})
    }

    fn ec_jwk(kid: &str) -> Value {
        let point = ec().public_key().as_ref();
        assert_eq!((point.len(), point[0]), (65, 4));
        json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
    }

    fn jwks(keys: Vec<Value>) -> Jwks {
        Jwks::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": ISS, "sub": "alice", "aud": "cli", "exp": NOW + 300, "iat": NOW, "nonce": "N0NCE"})
    }

    pub(crate) fn sign(header: &Value, claims: &Value) -> Secret {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match header["alg"].as_str().unwrap() {
            "RS256" => {
                let mut sig = vec![0; rsa().public_modulus_len()];
                rsa()
                    .sign(
                        &signature::RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        input.as_bytes(),
                        &mut sig,
                    )
                    .unwrap();
                sig
            }
            "ES256" => ec()
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            _ => b"not-a-signature".to_vec(),
        };
        Secret::new(format!("{input}.{}", b64(&sig)))
    }

    fn rs256(kid: &str, claims: &Value) -> Secret {
        sign(&json!({"alg": "RS256", "kid": kid, "typ": "JWT"}), claims)
    }

    fn nonce() -> Secret {
        Secret::new("N0NCE")
    }

    fn check(token: &Secret, keys: &Jwks) -> Result<IdToken, VerifyError> {
        let nonce = nonce();
        verify(
            token,
            keys,
            &Expected {
                issuer: ISS,
                client_id: "cli",
                nonce: Some(&nonce),
                now: NOW,
            },
        )
    }

    fn both() -> Jwks {
        jwks(vec![rsa_jwk("r1"), ec_jwk("e1")])
    }

    #[test]
    fn rs256_and_es256_verify() {
        let t = check(&rs256("r1", &claims()), &both()).unwrap();
        assert_eq!(t.claims.sub.as_deref(), Some("alice"));
        let es = sign(&json!({"alg": "ES256", "kid": "e1"}), &claims());
        assert!(check(&es, &both()).is_ok());
        // No kid: the provider's only key for the algorithm.
        let no_kid = sign(&json!({"alg": "ES256"}), &claims());
        assert!(check(&no_kid, &both()).is_ok());
        let two_rsa = jwks(vec![rsa_jwk("r1"), rsa_jwk("r2")]);
        assert_eq!(
            check(&sign(&json!({"alg": "RS256"}), &claims()), &two_rsa).unwrap_err(),
            VerifyError::AmbiguousKey {
                alg: "RS256".into(),
                count: 2
            }
        );
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        let good = rs256("r1", &claims());
        let parts: Vec<&str> = good.expose().split('.').collect();
        let mut evil = claims();
        evil["sub"] = json!("mallory");
        let forged = Secret::new(format!(
            "{}.{}.{}",
            parts[0],
            b64(evil.to_string().as_bytes()),
            parts[2]
        ));
        let err = check(&forged, &both()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the ID token's signature does not verify with the provider's key kid=r1"
        );
        // Same for ES256, and for a key that is not the signer's.
        let es = sign(&json!({"alg": "ES256", "kid": "e1"}), &claims());
        let parts: Vec<&str> = es.expose().split('.').collect();
        let forged = Secret::new(format!(
            "{}.{}.{}",
            parts[0],
            b64(evil.to_string().as_bytes()),
            parts[2]
        ));
        assert!(matches!(
            check(&forged, &both()),
            Err(VerifyError::Signature { .. })
        ));
        let mut other = rsa_jwk("r1");
        other["e"] = json!(b64(&[3]));
        assert!(matches!(
            check(&good, &jwks(vec![other])),
            Err(VerifyError::Signature { .. })
        ));
    }

    #[test]
    fn wrong_kid_alg_none_and_hs256_are_refused() {
        assert_eq!(
            check(&rs256("nope", &claims()), &both())
                .unwrap_err()
                .to_string(),
            "the provider's key set has no RS256 key kid=nope"
        );
        // An RS256 token naming an EC key's kid does not get that key.
        assert!(matches!(
            check(&rs256("e1", &claims()), &both()),
            Err(VerifyError::UnknownKid { .. })
        ));
        let header = b64(br#"{"alg":"none"}"#);
        let payload = b64(claims().to_string().as_bytes());
        for unsigned in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.c2ln"),
        ] {
            assert_eq!(
                check(&Secret::new(unsigned), &both()).unwrap_err(),
                VerifyError::AlgNone
            );
        }
        let hs = sign(&json!({"alg": "HS256", "kid": "r1"}), &claims());
        assert_eq!(
            check(&hs, &both()).unwrap_err(),
            VerifyError::Symmetric("HS256".into())
        );
        let ps = sign(&json!({"alg": "PS256", "kid": "r1"}), &claims());
        assert_eq!(
            check(&ps, &both()).unwrap_err(),
            VerifyError::UnsupportedAlg("PS256".into())
        );
        assert!(matches!(
            check(&Secret::new("not a token"), &both()),
            Err(VerifyError::Jwt(_))
        ));
    }

    #[test]
    fn claims_are_checked() {
        let keys = both();
        let with = |k: &str, v: Value| {
            let mut c = claims();
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v;
            }
            check(&rs256("r1", &c), &keys).map(|_| ())
        };
        assert_eq!(
            with("iss", json!("https://evil.example.com"))
                .unwrap_err()
                .to_string(),
            "the ID token's iss `https://evil.example.com` is not the provider's issuer `https://idp.example.com`"
        );
        assert_eq!(
            with("aud", json!("other")).unwrap_err().to_string(),
            "the ID token's aud (other) does not contain the client id `cli`"
        );
        assert_eq!(
            with("aud", json!(["other", "cli"])).unwrap_err(),
            VerifyError::NoAzp("cli".into())
        );
        let mut several = claims();
        several["aud"] = json!(["other", "cli"]);
        several["azp"] = json!("cli");
        assert!(check(&rs256("r1", &several), &keys).is_ok());
        several["azp"] = json!("other");
        assert!(matches!(
            check(&rs256("r1", &several), &keys),
            Err(VerifyError::Azp { .. })
        ));
        // exp: within the skew is fine, past it is not.
        assert!(with("exp", json!(NOW - SKEW_SECS + 1)).is_ok());
        assert_eq!(
            with("exp", json!(NOW - SKEW_SECS)).unwrap_err().to_string(),
            "the ID token expired at 2027-01-15T07:59:00Z (now 2027-01-15T08:00:00Z, 60 s of clock skew allowed)"
        );
        assert_eq!(
            with("exp", Value::Null).unwrap_err(),
            VerifyError::Missing("exp")
        );
        assert!(with("iat", json!(NOW + SKEW_SECS)).is_ok());
        assert!(matches!(
            with("iat", json!(NOW + SKEW_SECS + 1)),
            Err(VerifyError::IssuedInFuture { .. })
        ));
        assert_eq!(
            with("iat", Value::Null).unwrap_err(),
            VerifyError::Missing("iat")
        );
        assert_eq!(
            with("nonce", json!("other")).unwrap_err(),
            VerifyError::Nonce
        );
        assert_eq!(
            with("nonce", json!("other")).unwrap_err().to_string(),
            "the ID token's nonce does not match the one this login sent"
        );
        assert_eq!(
            with("nonce", Value::Null).unwrap_err(),
            VerifyError::NoNonce
        );
        // Without an expected nonce (a refresh), none is needed.
        let mut c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        let ok = verify(
            &rs256("r1", &c),
            &keys,
            &Expected {
                issuer: ISS,
                client_id: "cli",
                nonce: None,
                now: NOW,
            },
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn errors_never_show_the_token() {
        let token = rs256("r1", &claims());
        let mut evil = claims();
        evil["aud"] = json!("x");
        let bad = rs256("r1", &evil);
        for t in [&token, &bad] {
            let shown = match check(t, &jwks(vec![])) {
                Err(e) => format!("{e} {e:?}"),
                Ok(_) => unreachable!(),
            };
            let sig = t.expose().rsplit('.').next().unwrap();
            assert!(!shown.contains(sig), "{shown}");
        }
        assert!(!format!("{:?}", check(&token, &both()).unwrap()).contains(token.expose()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_key_set_is_fetched_once_per_run() {
        let body = json!({"keys": [rsa_jwk("r1")]}).to_string();
        let server = crate::idp::fake::serve(move |_, n| {
            if n == 0 {
                (503, "{}".into())
            } else {
                (200, body.clone())
            }
        })
        .await;
        let keys = KeySet::new(&format!("{}/jwks", server.url));
        let budget = crate::idp::discovery::tests::budget();
        let nonce = nonce();
        let expected = Expected {
            issuer: ISS,
            client_id: "cli",
            nonce: Some(&nonce),
            now: NOW,
        };
        for _ in 0..3 {
            verify_with(&rs256("r1", &claims()), &keys, &expected, &budget)
                .await
                .unwrap();
        }
        // One failed attempt (503, tried again), then the one fetch of the run.
        assert_eq!(server.requests().len(), 2);
        assert_eq!(server.requests()[1].path, "/jwks");

        let server = crate::idp::fake::serve(|_, _| (404, "{}".into())).await;
        let err = KeySet::new(&format!("{}/jwks", server.url))
            .get(&budget)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot get the provider's signing keys: {}/jwks: HTTP 404",
                server.url
            )
        );
        let err = KeySet::new("http://keys.example.com/jwks")
            .get(&budget)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("plain http://"), "{err}");
    }
}
