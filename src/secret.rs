//! `Secret`: a string that never shows itself in `Debug` or `Display`.
//!
//! Every value that would let someone act as the job (the ID token, the secret
//! access key, the session token) is held in a `Secret`, so that a stray
//! `{:?}` in a log line, an error or a panic message prints `<redacted>`.

use std::fmt;

/// A secret string. Read it with [`Secret::expose`], on purpose, where it is written out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Call only where the value is meant to go.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A secret read from a file (a configured client secret) stays a `Secret` from the first byte.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Replaces anything shaped like a JWT (`eyJ…` header, dot, payload, dot, signature) with
/// `<redacted token>`: for messages from servers, which may quote the request.
pub fn redact_jwts(text: &str) -> String {
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=';
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while let Some(pos) = text[i..].find("eyJ") {
        let start = i + pos;
        // Three base64url runs joined by two dots.
        let mut end = start;
        let mut dots = 0;
        while end < bytes.len() && (is_b64(bytes[end]) || (bytes[end] == b'.' && dots < 2)) {
            if bytes[end] == b'.' {
                dots += 1;
            }
            end += 1;
        }
        if dots == 2 && end - start > 20 {
            out.push_str(&text[copied..start]);
            out.push_str("<redacted token>");
            copied = end;
        }
        i = end.max(start + 3);
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_jwts_in_messages() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        assert_eq!(
            redact_jwts(&format!("Value '{jwt}' at 'webIdentityToken' failed")),
            "Value '<redacted token>' at 'webIdentityToken' failed"
        );
        assert_eq!(redact_jwts("no token eyJ here"), "no token eyJ here");
        assert_eq!(redact_jwts(jwt), "<redacted token>");
        assert_eq!(redact_jwts("é eyJ"), "é eyJ");
    }

    proptest::proptest! {
        #[test]
        fn redaction_never_panics_and_removes_tokens(prefix in "\\PC{0,20}", suffix in "\\PC{0,20}") {
            let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
            let out = redact_jwts(&format!("{prefix}{jwt}{suffix}"));
            proptest::prop_assert!(!out.contains(jwt));
        }
    }

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG");
    }
}
