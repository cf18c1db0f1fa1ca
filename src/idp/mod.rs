//! Interactive identity providers: the OpenID Connect client core that `login` is built on.
//!
//! * [`discovery`]: the provider's `/.well-known/openid-configuration`, checked.
//! * [`pkce`]: PKCE verifier and S256 challenge, `state` and `nonce`, constant-time compare.
//! * [`device`]: the device authorization grant (RFC 8628), start and poll.
//! * [`loopback`]: authorization code + PKCE on a 127.0.0.1 redirect (RFC 8252).
//! * [`tokens`]: the token endpoint (code exchange, refresh, client authentication).
//! * [`exchange`]: RFC 8693 token exchange for a SAML assertion (Keycloak's legacy exchange).
//! * [`saml`]: the assertion read (issuer, recipient, roles), checked and wrapped for STS.
//! * [`verify`]: ID token checks (OIDC Core §3.1.3.7), signatures against the provider's JWKS.
//! * [`store`]: where the tokens of a login are kept (the OS keyring, else a private file).
//! * [`session`]: the current ID token of a login, refreshed under a lock when it nears expiry.
//!
//! No OAuth framework: a few form POSTs with the project's HTTP client
//! ([`crate::net::http::client`], which follows no redirects), bounded reads, and aws-lc-rs.

pub mod device;
pub mod discovery;
pub mod exchange;
pub mod loopback;
pub mod pkce;
pub mod saml;
pub mod session;
pub mod store;
pub mod tokens;
pub mod verify;

#[cfg(test)]
pub(crate) mod fake;

use crate::net::http::{self, BodyError};

/// An HTTP answer read to its end (at most [`http::MAX_ANSWER`]).
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why no HTTP answer came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Transport {
    /// No connection, a reset, a timeout: worth another try.
    #[error("{0}")]
    Unreachable(String),
    /// The server's certificate is not trusted: trying again changes nothing.
    #[error("{0} ({hint})", hint = http::TLS_HINT)]
    Tls(String),
    #[error("the answer is larger than {}", http::MAX_ANSWER_TEXT)]
    TooLarge,
}

/// Sends `request` and reads the answer, bounded.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<Answer, Transport> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            let text = http::describe(&e);
            if text.to_ascii_lowercase().contains("certificate") {
                return Err(Transport::Tls(text));
            }
            return Err(Transport::Unreachable(text));
        }
    };
    let status = response.status().as_u16();
    match http::read_bounded(response).await {
        Ok(body) => Ok(Answer { status, body }),
        Err(BodyError::TooLarge) => Err(Transport::TooLarge),
        Err(BodyError::Read(e)) => Err(Transport::Unreachable(http::describe(&e))),
    }
}

/// `https://`, or plain `http://` to `127.0.0.1`/`localhost` (a local provider, tests).
/// No user name or password, no fragment.
pub(crate) fn secure_url(url: &str) -> Result<reqwest::Url, &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a URL")?;
    match parsed.scheme() {
        "https" => {}
        "http" if matches!(parsed.host_str(), Some("127.0.0.1" | "localhost")) => {}
        "http" => return Err("plain http:// is accepted only for 127.0.0.1 and localhost"),
        _ => return Err("must start with https://"),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("has no host");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user name or password");
    }
    if parsed.fragment().is_some() {
        return Err("must not have a #fragment");
    }
    Ok(parsed)
}

/// `application/x-www-form-urlencoded` body (or query) from pairs.
pub(crate) fn form_encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::net::url::encode(k.as_ref()),
                crate::net::url::encode(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes a query string or form body (`+` is a space); `None` when a `%` escape is broken
/// or a value is not UTF-8.
pub(crate) fn form_decode(s: &str) -> Option<Vec<(String, String)>> {
    fn decode(s: &str) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = bytes.get(i + 1..i + 3)?;
                    let hex = std::str::from_utf8(hex).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// A provider's free text (an `error_description`) made safe for one line of a message:
/// control characters dropped, anything shaped like a JWT redacted, at most 200 characters.
pub(crate) fn sanitize(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    crate::secret::redact_jwts(&clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_urls() {
        assert!(secure_url("https://idp.example.com/realms/x").is_ok());
        assert!(secure_url("http://127.0.0.1:8080").is_ok());
        assert!(secure_url("http://localhost").is_ok());
        assert!(secure_url("http://idp.example.com").is_err());
        assert!(secure_url("http://127.0.0.1.evil.com").is_err());
        assert!(secure_url("ftp://idp.example.com").is_err());
        assert!(secure_url("https://u:p@idp.example.com").is_err());
        assert!(secure_url("https://idp.example.com/#f").is_err());
        assert!(secure_url("idp.example.com").is_err());
    }

    #[test]
    fn form_round_trip() {
        let pairs = [("a b", "c&d=e"), ("x", "é+/"), ("empty", "")];
        let encoded = form_encode(&pairs);
        let back = form_decode(&encoded).unwrap();
        assert_eq!(
            back,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            form_decode("a=1+2&b").unwrap(),
            [("a".into(), "1 2".into()), ("b".into(), String::new())]
        );
        assert_eq!(form_decode("a=%zz"), None);
        assert_eq!(form_decode("a=%4"), None);
        assert_eq!(form_decode("a=%ff"), None);
    }

    #[test]
    fn sanitizes_provider_text() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        assert_eq!(
            sanitize(&format!("bad\r\n\x1b[31m {jwt}")),
            "bad[31m <redacted token>"
        );
        assert_eq!(sanitize(&"x".repeat(500)).len(), 200);
    }
}
