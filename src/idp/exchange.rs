//! OAuth 2.0 Token Exchange (RFC 8693) for a SAML 2.0 assertion, on the token endpoint
//! with the same client authentication as [`super::tokens`].
//!
//! Only Keycloak's legacy (V1) token exchange issues SAML; its errors get hints. The answer's
//! `access_token` is the bare assertion, base64url (padded or not; standard base64 is
//! accepted too). An `EncryptedAssertion` is refused: AWS cannot use one.
//!
//! The assertion is a bearer credential: an [`Assertion`] never shows itself in `Debug`,
//! and no error here carries it.

use std::fmt;

use base64::Engine;
use serde::Deserialize;

use super::Transport;
use super::tokens::{TokenEndpoint, TokenError, oauth_error};
use crate::net::retry::{self, Attempt, Budget, GaveUp};
use crate::secret::Secret;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";

/// What the subject token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectType {
    AccessToken,
    IdToken,
}

impl SubjectType {
    pub fn urn(self) -> &'static str {
        match self {
            SubjectType::AccessToken => "urn:ietf:params:oauth:token-type:access_token",
            SubjectType::IdToken => "urn:ietf:params:oauth:token-type:id_token",
        }
    }
}

/// A SAML assertion's XML, as the provider issued it. A bearer credential: redacted in
/// `Debug`, never logged, never cached.
#[derive(Clone, PartialEq, Eq)]
pub struct Assertion(Vec<u8>);

impl Assertion {
    #[cfg(test)]
    pub fn from_bytes(xml: Vec<u8>) -> Assertion {
        Assertion(xml)
    }

    /// The provider's bytes. Use on purpose, where they are parsed or wrapped.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Assertion(<redacted, {} bytes>)", self.0.len())
    }
}

/// Why no assertion came back. Never carries the subject token or the assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("the token exchange for a SAML assertion failed: {0}")]
    Token(#[from] TokenError),
    #[error("the token exchange answered issued_token_type `{0}`, not {SAML2}")]
    IssuedType(String),
    #[error("the token exchange answer has no access_token (the assertion)")]
    NoAssertion,
    #[error("the token exchange's access_token is not base64 (base64url or standard)")]
    NotBase64,
    #[error(
        "the provider sent an EncryptedAssertion, which AWS cannot use: the SAML client requires encryption; turn it off for AWS"
    )]
    Encrypted,
    #[error("the token exchange answered something that is not a SAML assertion")]
    NotAnAssertion,
}

impl ExchangeError {
    /// What to change, for Keycloak's known answers and the refusals above.
    pub fn hints(&self) -> Vec<String> {
        let description = match self {
            ExchangeError::Token(TokenError::OAuth {
                code, description, ..
            }) => format!("{code} {}", description.as_deref().unwrap_or_default()),
            ExchangeError::Token(TokenError::InvalidGrant { description }) => {
                description.clone().unwrap_or_default()
            }
            ExchangeError::Encrypted => {
                return vec![
                    "Keycloak: in the SAML client for AWS (urn:amazon:webservices), Keys tab, turn \"Encrypt assertions\" off".into(),
                ];
            }
            ExchangeError::IssuedType(_) => {
                return vec![
                    "the provider ignored requested_token_type=saml2: with Keycloak, use the legacy token exchange (feature token-exchange, V1) and a SAML client as the audience".into(),
                ];
            }
            _ => return Vec::new(),
        };
        let lower = description.to_ascii_lowercase();
        let mut hints = Vec::new();
        if lower.contains("requested_token_type unsupported")
            || lower.contains("requested token type")
        {
            hints.push("Keycloak's standard token exchange has no SAML: enable the legacy one (token-exchange feature V1: --features=token-exchange, and turn standard token exchange off for the client)".into());
        }
        if lower.contains("invalid token type, must be access token") {
            hints.push(
                "use subject_token_type: access_token (Keycloak's exchange refuses ID tokens)"
                    .into(),
            );
        }
        if lower.contains("audience") || lower.contains("client not found") {
            hints.push("token_exchange.audience must be the client ID of the SAML client for AWS in the same realm (usually urn:amazon:webservices)".into());
        }
        if lower.contains("not allowed to exchange") || lower.contains("forbidden") {
            hints.push("the SAML client's permissions (Permissions tab, token-exchange) must allow this OIDC client to exchange tokens for it".into());
        }
        hints
    }
}

#[derive(Deserialize)]
struct Answer {
    access_token: Option<String>,
    issued_token_type: Option<String>,
}

impl crate::net::retry::Transient for ExchangeError {
    fn is_transient(&self) -> bool {
        matches!(self, ExchangeError::Token(e) if crate::net::retry::Transient::is_transient(e))
    }
}

/// base64url or standard base64, padded or not, surrounding whitespace ignored.
fn decode_lenient(text: &str) -> Option<Vec<u8>> {
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    url.decode(&cleaned)
        .or_else(|_| standard.decode(&cleaned))
        .ok()
}

/// Reads a 200 answer of the exchange.
fn read_answer(body: &[u8]) -> Result<Assertion, ExchangeError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| ExchangeError::Token(TokenError::Malformed(format!("not JSON ({e})"))))?;
    match answer.issued_token_type.as_deref() {
        Some(SAML2) => {}
        Some(other) => return Err(ExchangeError::IssuedType(super::sanitize(other))),
        None => return Err(ExchangeError::IssuedType("(none)".into())),
    }
    let b64 = answer.access_token.ok_or(ExchangeError::NoAssertion)?;
    let xml = decode_lenient(&b64).ok_or(ExchangeError::NotBase64)?;
    // The root element, after an optional declaration, comments and whitespace.
    match super::saml::parse(&xml) {
        Err(super::saml::SamlError::Encrypted) => Err(ExchangeError::Encrypted),
        Err(super::saml::SamlError::NotAnAssertion(_)) => Err(ExchangeError::NotAnAssertion),
        // Other defects are reported by the caller's own parse, with details.
        _ => Ok(Assertion(xml)),
    }
}

impl TokenEndpoint {
    /// Exchanges `subject_token` for a SAML 2.0 assertion for `audience` (RFC 8693), tried
    /// again within `budget` on transient failures.
    pub async fn exchange_for_saml(
        &self,
        subject_token: &Secret,
        subject_token_type: SubjectType,
        audience: &str,
        budget: &Budget,
    ) -> Result<Assertion, ExchangeError> {
        let params = [
            ("grant_type", GRANT_TYPE),
            ("subject_token", subject_token.expose()),
            ("subject_token_type", subject_token_type.urn()),
            ("requested_token_type", SAML2),
            ("audience", audience),
        ];
        let params = &params;
        retry::run(
            budget,
            &crate::net::retry::RetryTransient::new("token exchange"),
            |attempt: Attempt| async move { self.exchange_once(params, attempt).await },
        )
        .await
        .map_err(|gave_up| match gave_up {
            GaveUp::Stopped(e) => e,
            GaveUp::Exhausted { attempts, last, .. } => match last {
                ExchangeError::Token(TokenError::Transport { url, source }) => {
                    ExchangeError::Token(TokenError::Exhausted {
                        url,
                        attempts,
                        source,
                    })
                }
                ExchangeError::Token(TokenError::Status { status, note }) => {
                    ExchangeError::Token(TokenError::Status {
                        status,
                        note: format!("{note} after {attempts} attempt(s)"),
                    })
                }
                other => other,
            },
        })
    }

    async fn exchange_once(
        &self,
        params: &[(&str, &str)],
        attempt: Attempt,
    ) -> Result<Assertion, ExchangeError> {
        let transport = |source| {
            ExchangeError::Token(TokenError::Transport {
                url: self.url.clone(),
                source,
            })
        };
        let client = crate::net::http::client(&self.url)
            .map_err(|e| transport(Transport::Unreachable(e)))?;
        let request = self.authenticate(client.post(&self.url), params);
        let answer = super::send(request.timeout(attempt.timeout))
            .await
            .map_err(transport)?;
        if answer.status != 200 {
            return Err(ExchangeError::Token(oauth_error(
                answer.status,
                &answer.body,
            )));
        }
        read_answer(&answer.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::discovery::tests::budget;
    use crate::idp::fake;
    use crate::idp::tokens::tests::endpoint;

    const XML: &str = "<?xml version=\"1.0\"?><saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"><saml:Issuer>i</saml:Issuer></saml:Assertion>";

    fn answer(access_token: &str, issued: &str) -> String {
        serde_json::json!({
            "access_token": access_token,
            "issued_token_type": issued,
            "token_type": "Bearer",
            "expires_in": 60,
        })
        .to_string()
    }

    fn url_nopad(s: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn posts_the_exchange_and_decodes_the_assertion() {
        let body = answer(&url_nopad(XML.as_bytes()), SAML2);
        let server = fake::serve(move |_, _| (200, body.clone())).await;
        let ep = endpoint(&server.url, &["client_secret_post"], Some("s3cret"));
        let a = ep
            .exchange_for_saml(
                &Secret::new("the-access-token"),
                SubjectType::AccessToken,
                "urn:amazon:webservices",
                &budget(),
            )
            .await
            .unwrap();
        assert_eq!(a.expose(), XML.as_bytes());
        assert_eq!(a, Assertion::from_bytes(XML.as_bytes().to_vec()));
        assert_eq!(
            format!("{a:?}"),
            format!("Assertion(<redacted, {} bytes>)", XML.len())
        );
        let form = server.requests()[0].form();
        assert_eq!(form["grant_type"], GRANT_TYPE);
        assert_eq!(form["subject_token"], "the-access-token");
        assert_eq!(
            form["subject_token_type"],
            "urn:ietf:params:oauth:token-type:access_token"
        );
        assert_eq!(form["requested_token_type"], SAML2);
        assert_eq!(form["audience"], "urn:amazon:webservices");
        assert_eq!(form["client_id"], "cli");
        assert_eq!(form["client_secret"], "s3cret");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn keycloak_errors_get_hints_and_5xx_is_retried() {
        let server = fake::serve(|_, n| match n {
            0 => (503, "{}".into()),
            1 => (
                400,
                r#"{"error":"invalid_request","error_description":"requested_token_type unsupported"}"#.into(),
            ),
            _ => (
                400,
                r#"{"error":"invalid_request","error_description":"Invalid token type, must be access token"}"#.into(),
            ),
        })
        .await;
        let ep = endpoint(&server.url, &[], None);
        let err = ep
            .exchange_for_saml(&Secret::new("t"), SubjectType::AccessToken, "a", &budget())
            .await
            .unwrap_err();
        assert_eq!(server.requests().len(), 2);
        assert!(
            err.hints()[0].contains("enable the legacy one (token-exchange feature V1"),
            "{:?}",
            err.hints()
        );
        let err = ep
            .exchange_for_saml(&Secret::new("t"), SubjectType::IdToken, "a", &budget())
            .await
            .unwrap_err();
        assert_eq!(
            server.requests()[2].form()["subject_token_type"],
            "urn:ietf:params:oauth:token-type:id_token"
        );
        assert!(err.hints()[0].contains("use subject_token_type: access_token"));
        assert!(!err.to_string().contains("\"t\""));
    }

    #[test]
    fn lenient_decoding_and_strict_checks() {
        let bytes = XML.as_bytes();
        let std_pad = base64::engine::general_purpose::STANDARD.encode(bytes);
        let url_pad = base64::engine::general_purpose::URL_SAFE.encode(bytes);
        for text in [
            url_nopad(bytes),
            std_pad.clone(),
            url_pad,
            std_pad.trim_end_matches('=').into(),
        ] {
            assert_eq!(decode_lenient(&text).unwrap(), bytes, "{text}");
        }
        // Bytes that differ between the alphabets (`>?` → `Pj8`, `~~~` → `fn5+`/`fn5-`).
        let odd = b"<a>?~~~</a>";
        assert_eq!(decode_lenient(&url_nopad(odd)).unwrap(), odd);
        assert_eq!(
            decode_lenient(&base64::engine::general_purpose::STANDARD.encode(odd)).unwrap(),
            odd
        );
        assert_eq!(decode_lenient("not base64!"), None);

        let enc = url_nopad(
            br#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>"#,
        );
        let err = read_answer(answer(&enc, SAML2).as_bytes()).unwrap_err();
        assert_eq!(err, ExchangeError::Encrypted);
        assert!(err.to_string().contains("turn it off for AWS"));
        assert!(matches!(
            read_answer(
                answer(
                    &url_nopad(bytes),
                    "urn:ietf:params:oauth:token-type:access_token"
                )
                .as_bytes()
            ),
            Err(ExchangeError::IssuedType(_))
        ));
        assert_eq!(
            read_answer(answer(&url_nopad(b"<html/>"), SAML2).as_bytes()).unwrap_err(),
            ExchangeError::NotAnAssertion
        );
        assert_eq!(
            read_answer(answer("%%%", SAML2).as_bytes()).unwrap_err(),
            ExchangeError::NotBase64
        );
        assert_eq!(
            read_answer(format!(r#"{{"issued_token_type":"{SAML2}"}}"#).as_bytes()).unwrap_err(),
            ExchangeError::NoAssertion
        );
    }
}
