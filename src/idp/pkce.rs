//! The random values of an authorization request (RFC 7636, OIDC Core): the PKCE verifier
//! and its S256 challenge, `state` and `nonce`, and the constant-time comparison used to
//! check what comes back. All random bytes come from aws-lc's CSPRNG; every value is a
//! [`Secret`] until it is sent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::Secret;

/// The only challenge method aws-oidc sends.
pub const METHOD: &str = "S256";

/// A PKCE pair: the verifier (kept, sent with the code) and its challenge (sent in the
/// authorization request).
#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier of 43 characters from the unreserved alphabet (256 random bits)
    /// and its S256 challenge.
    pub fn new() -> Pkce {
        let verifier = random_b64url::<32>();
        let challenge = challenge_s256(verifier.expose());
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// `BASE64URL(SHA256(verifier))`, without padding (RFC 7636 §4.2).
pub fn challenge_s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// A fresh `state` (256 random bits, base64url).
pub fn state() -> Secret {
    random_b64url::<32>()
}

/// A fresh `nonce` (256 random bits, base64url).
pub fn nonce() -> Secret {
    random_b64url::<32>()
}

fn random_b64url<const N: usize>() -> Secret {
    let mut bytes = [0u8; N];
    use ring::rand::SecureRandom;
    // The OS generator (getrandom) fails only if the system has no entropy source at all.
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator failed");
    Secret::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// `a == b` in time that depends on the lengths only, never on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    // OR of the XORs, kept from the optimiser so that no early exit is compiled in.
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreserved(s: &str) -> bool {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    }

    #[test]
    fn verifier_shape_and_challenge() {
        let p = Pkce::new();
        let v = p.verifier.expose();
        assert!((43..=128).contains(&v.len()), "{}", v.len());
        assert!(unreserved(v));
        assert_eq!(URL_SAFE_NO_PAD.decode(v).unwrap().len(), 32);
        assert_eq!(p.challenge, challenge_s256(v));
        assert_ne!(Pkce::new().verifier, p.verifier);
        assert_eq!(format!("{p:?}").matches("<redacted>").count(), 1);
        assert!(!format!("{p:?}").contains(v));
    }

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(METHOD, "S256");
        assert_eq!(
            challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn state_and_nonce_are_random_and_long() {
        let (s, n) = (state(), nonce());
        assert_ne!(s, n);
        for v in [&s, &n] {
            assert!(unreserved(v.expose()));
            assert!(URL_SAFE_NO_PAD.decode(v.expose()).unwrap().len() * 8 >= 128);
        }
    }

    #[test]
    fn compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("", "a"));
        assert!(constant_time_eq("", ""));
    }
}
