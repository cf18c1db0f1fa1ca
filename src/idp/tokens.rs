//! The token endpoint: the authorization-code exchange, the refresh-token grant, the
//! POST the device grant polls with, and refresh-token revocation (RFC 7009, for logout); client authentication (`client_secret_basic`,
//! `client_secret_post`, or none for a public client) as the discovery document allows;
//! the answer's tokens as [`Secret`]s; OAuth error answers, `invalid_grant` kept apart
//! (the caller deletes its refresh token and asks for a new login).
//!
//! A refresh goes through the one retry loop ([`crate::net::retry::run`]); a code exchange
//! is tried once (a code is single-use: a second try after a lost answer fails anyway).

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use super::Transport;
use super::discovery::Discovery;
use crate::net::retry::{self, Attempt, Budget, GaveUp};
use crate::secret::Secret;

/// How the client proves who it is to the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A public client: `client_id` in the body, no secret.
    None,
    /// `Authorization: Basic` with the form-encoded id and secret (RFC 6749 §2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the body.
    Post,
}

impl ClientAuth {
    /// The method for a client with or without a secret, given the provider's
    /// `token_endpoint_auth_methods_supported` (empty: the default, `client_secret_basic`).
    pub fn choose(has_secret: bool, supported: &[String]) -> Result<ClientAuth, TokenError> {
        if !has_secret {
            return Ok(ClientAuth::None);
        }
        let offers = |m: &str| supported.iter().any(|s| s == m);
        if supported.is_empty() || offers("client_secret_basic") {
            Ok(ClientAuth::Basic)
        } else if offers("client_secret_post") {
            Ok(ClientAuth::Post)
        } else {
            Err(TokenError::NoClientAuth {
                supported: supported.join(", "),
            })
        }
    }
}

/// A client of one provider's token endpoint.
#[derive(Clone, Debug)]
pub struct TokenEndpoint {
    pub url: String,
    pub client_id: String,
    client_secret: Option<Secret>,
    pub auth: ClientAuth,
}

/// What the token endpoint gave. The ID token is absent from some refresh answers.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub id_token: Option<Secret>,
    pub access_token: Option<Secret>,
    /// Present when the provider issued one, or rotated it (then the old one is spent).
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

/// Why the token endpoint gave no tokens. Never carries a secret; a provider's
/// `error_description` is sanitized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the provider accepts no client secret method aws-oidc knows (it offers: {supported}; aws-oidc does client_secret_basic and client_secret_post)"
    )]
    NoClientAuth { supported: String },
    /// The grant (code, refresh token, device code) is invalid, expired or revoked.
    #[error("the provider refused the grant (invalid_grant){}", describe(.description))]
    InvalidGrant { description: Option<String> },
    /// Any other OAuth error answer (`invalid_client`, `authorization_pending`, …).
    #[error("the token endpoint answered {code}{}", describe(.description))]
    OAuth {
        code: String,
        description: Option<String>,
        status: u16,
    },
    #[error("the token endpoint answered HTTP {status}{note}")]
    Status { status: u16, note: String },
    #[error("cannot reach the token endpoint {url}: {source}")]
    Transport { url: String, source: Transport },
    #[error("cannot reach the token endpoint {url} after {attempts} attempt(s): {source}")]
    Exhausted {
        url: String,
        attempts: u32,
        source: Transport,
    },
    #[error("the token endpoint's answer is not a token response: {0}")]
    Malformed(String),
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl TokenError {
    /// The refresh token (or code) is no good: delete it and ask for a new login.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, TokenError::InvalidGrant { .. })
    }

    /// The OAuth error code, when the provider sent one.
    pub fn oauth_code(&self) -> Option<&str> {
        match self {
            TokenError::InvalidGrant { .. } => Some("invalid_grant"),
            TokenError::OAuth { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl crate::net::retry::Transient for TokenError {
    /// Worth another try: unreachable, or a 5xx/429 answer.
    fn is_transient(&self) -> bool {
        match self {
            TokenError::Transport { source, .. } => matches!(source, Transport::Unreachable(_)),
            TokenError::Status { status, .. } | TokenError::OAuth { status, .. } => {
                *status >= 500 || *status == 429
            }
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct Success {
    id_token: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

impl TokenEndpoint {
    /// The token endpoint of `discovery` for `client_id` (and `client_secret` for a
    /// confidential client), with the client authentication the provider offers.
    pub fn new(
        discovery: &Discovery,
        client_id: &str,
        client_secret: Option<Secret>,
    ) -> Result<TokenEndpoint, TokenError> {
        let auth = ClientAuth::choose(
            client_secret.is_some(),
            &discovery.token_endpoint_auth_methods_supported,
        )?;
        Ok(TokenEndpoint {
            url: discovery.token_endpoint.clone(),
            client_id: client_id.to_string(),
            client_secret,
            auth,
        })
    }

    /// Exchanges an authorization code (one attempt: a code is single-use).
    pub async fn exchange_code(
        &self,
        code: &Secret,
        verifier: &Secret,
        redirect_uri: &str,
        timeout: Duration,
    ) -> Result<Tokens, TokenError> {
        self.post(
            &[
                ("grant_type", "authorization_code"),
                ("code", code.expose()),
                ("code_verifier", verifier.expose()),
                ("redirect_uri", redirect_uri),
            ],
            timeout,
        )
        .await
    }

    /// The refresh-token grant, tried again within `budget` on transient failures.
    /// `invalid_grant` ([`TokenError::is_invalid_grant`]) means the refresh token is spent
    /// or revoked. A `refresh_token` in the answer replaces the old one: save it before
    /// using the new ID token.
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        scope: Option<&str>,
        budget: &Budget,
    ) -> Result<Tokens, TokenError> {
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        let params = &params;
        retry::run(
            budget,
            &crate::net::retry::RetryTransient::new("token refresh"),
            |attempt: Attempt| async move { self.post(params, attempt.timeout).await },
        )
        .await
        .map_err(|gave_up| match gave_up {
            GaveUp::Stopped(e) => e,
            GaveUp::Exhausted { attempts, last, .. } => match last {
                TokenError::Transport { url, source } => TokenError::Exhausted {
                    url,
                    attempts,
                    source,
                },
                TokenError::Status { status, note } => TokenError::Status {
                    status,
                    note: format!("{note} after {attempts} attempt(s)"),
                },
                other => other,
            },
        })
    }

    /// Revokes a refresh token (RFC 7009) at the provider's `revocation_endpoint`: one
    /// attempt (logout deletes the local copy whatever the answer). 200 means revoked, or
    /// already unknown to the provider.
    pub async fn revoke(
        &self,
        revocation_endpoint: &str,
        refresh_token: &Secret,
        timeout: Duration,
    ) -> Result<(), TokenError> {
        let transport = |source| TokenError::Transport {
            url: revocation_endpoint.to_string(),
            source,
        };
        let client = crate::net::http::client(revocation_endpoint)
            .map_err(|e| transport(Transport::Unreachable(e)))?;
        let params = [
            ("token", refresh_token.expose()),
            ("token_type_hint", "refresh_token"),
        ];
        let request = self.authenticate(client.post(revocation_endpoint), &params);
        let answer = super::send(request.timeout(timeout))
            .await
            .map_err(transport)?;
        match answer.status {
            200 => Ok(()),
            status => Err(oauth_error(status, &answer.body)),
        }
    }

    /// One POST of `params` (plus the client's credentials) to the token endpoint.
    pub(crate) async fn post(
        &self,
        params: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Tokens, TokenError> {
        let transport = |source| TokenError::Transport {
            url: self.url.clone(),
            source,
        };
        let client = crate::net::http::client(&self.url)
            .map_err(|e| transport(Transport::Unreachable(e)))?;
        let request = self.authenticate(client.post(&self.url), params);
        let answer = super::send(request.timeout(timeout))
            .await
            .map_err(transport)?;
        parse_answer(answer.status, &answer.body)
    }

    /// Adds the client's identity to a form POST: the body for `params`, and the secret
    /// in the header or the body as [`ClientAuth`] says.
    pub(crate) fn authenticate(
        &self,
        request: reqwest::RequestBuilder,
        params: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let mut request = request
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json");
        match (&self.auth, &self.client_secret) {
            (ClientAuth::Basic, Some(secret)) => {
                // RFC 6749 §2.3.1: each part form-encoded before base64.
                let pair = format!(
                    "{}:{}",
                    crate::net::url::encode(&self.client_id),
                    crate::net::url::encode(secret.expose())
                );
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                let mut value = reqwest::header::HeaderValue::try_from(format!("Basic {basic}"))
                    .expect("base64 is a valid header value");
                value.set_sensitive(true);
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            (ClientAuth::Post, Some(secret)) => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", secret.expose()));
            }
            _ => form.push(("client_id", &self.client_id)),
        }
        request.body(super::form_encode(&form))
    }
}

/// Reads a token endpoint's answer: 200 with tokens, or an OAuth error.
fn parse_answer(status: u16, body: &[u8]) -> Result<Tokens, TokenError> {
    if status == 200 {
        let ok: Success = serde_json::from_slice(body)
            .map_err(|e| TokenError::Malformed(format!("not JSON with string tokens ({e})")))?;
        if ok.id_token.is_none() && ok.access_token.is_none() {
            return Err(TokenError::Malformed(
                "it has neither an id_token nor an access_token".into(),
            ));
        }
        if let Some(kind) = &ok.token_type
            && !kind.eq_ignore_ascii_case("bearer")
            && !kind.eq_ignore_ascii_case("dpop")
        {
            tracing::debug!("token_type `{}` (expected Bearer)", super::sanitize(kind));
        }
        let expires_in = match ok.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        return Ok(Tokens {
            id_token: ok.id_token.map(Secret::new),
            access_token: ok.access_token.map(Secret::new),
            refresh_token: ok.refresh_token.map(Secret::new),
            expires_in,
            scope: ok.scope,
        });
    }
    Err(oauth_error(status, body))
}

/// A non-200 answer of an OAuth endpoint: its `error` (RFC 6749 §5.2), or the bare status.
pub(crate) fn oauth_error(status: u16, body: &[u8]) -> TokenError {
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(e) => {
            let description = e.error_description.as_deref().map(super::sanitize);
            if e.error == "invalid_grant" {
                TokenError::InvalidGrant { description }
            } else {
                TokenError::OAuth {
                    code: super::sanitize(&e.error),
                    description,
                    status,
                }
            }
        }
        Err(_) => TokenError::Status {
            status,
            note: crate::net::http::redirect_note(status).to_string(),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::idp::discovery::tests::{budget, document};
    use crate::idp::fake;

    pub(crate) fn endpoint(url: &str, methods: &[&str], secret: Option<&str>) -> TokenEndpoint {
        let mut d = crate::idp::discovery::parse(
            "https://idp.example.com",
            "x",
            document("https://idp.example.com").to_string().as_bytes(),
        )
        .unwrap();
        d.token_endpoint = format!("{url}/token");
        d.token_endpoint_auth_methods_supported = methods.iter().map(|m| m.to_string()).collect();
        TokenEndpoint::new(&d, "cli", secret.map(Secret::new)).unwrap()
    }

    const TOKENS: &str = r#"{"id_token":"ID.TOK.EN","access_token":"AT","refresh_token":"RT2","expires_in":300,"token_type":"Bearer"}"#;

    #[tokio::test(flavor = "current_thread")]
    async fn exchanges_a_code_as_a_public_client() {
        let server = fake::serve(|_, _| (200, TOKENS.into())).await;
        let ep = endpoint(&server.url, &["none"], None);
        assert_eq!(ep.auth, ClientAuth::None);
        let t = ep
            .exchange_code(
                &Secret::new("the-code"),
                &Secret::new("the-verifier"),
                "http://127.0.0.1:5/callback",
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(t.id_token.unwrap().expose(), "ID.TOK.EN");
        assert_eq!(t.refresh_token.unwrap().expose(), "RT2");
        assert_eq!(t.expires_in, Some(300));
        let r = &server.requests()[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/token"));
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.header("authorization"), None);
        let form = r.form();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "the-code");
        assert_eq!(form["code_verifier"], "the-verifier");
        assert_eq!(form["redirect_uri"], "http://127.0.0.1:5/callback");
        assert_eq!(form["client_id"], "cli");
        assert!(!form.contains_key("client_secret"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_code_exchange_is_not_retried() {
        let server = fake::serve(|_, _| (503, "{}".into())).await;
        let ep = endpoint(&server.url, &[], None);
        let err = ep
            .exchange_code(
                &Secret::new("c"),
                &Secret::new("v"),
                "http://127.0.0.1:5/callback",
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, TokenError::Status { status: 503, .. }),
            "{err}"
        );
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn client_secret_basic_and_post() {
        let server = fake::serve(|_, _| (200, TOKENS.into())).await;
        let basic = endpoint(&server.url, &[], Some("s3cr:et"));
        assert_eq!(basic.auth, ClientAuth::Basic);
        let post = endpoint(&server.url, &["client_secret_post"], Some("s3cr:et"));
        assert_eq!(post.auth, ClientAuth::Post);
        for ep in [&basic, &post] {
            ep.refresh(&Secret::new("RT1"), None, &budget())
                .await
                .unwrap();
        }
        let requests = server.requests();
        // base64("cli:s3cr%3Aet")
        assert_eq!(
            requests[0].header("authorization"),
            Some("Basic Y2xpOnMzY3IlM0FldA==")
        );
        let form = requests[0].form();
        assert!(!form.contains_key("client_secret"));
        assert!(!form.contains_key("client_id"));
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["refresh_token"], "RT1");
        assert_eq!(requests[1].header("authorization"), None);
        let form = requests[1].form();
        assert_eq!(form["client_id"], "cli");
        assert_eq!(form["client_secret"], "s3cr:et");
        // Debug never shows the secret.
        assert!(!format!("{basic:?}").contains("s3cr"));
        assert_eq!(
            ClientAuth::choose(true, &["private_key_jwt".into()])
                .unwrap_err()
                .to_string(),
            "the provider accepts no client secret method aws-oidc knows (it offers: private_key_jwt; aws-oidc does client_secret_basic and client_secret_post)"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refresh_is_retried_and_invalid_grant_is_told_apart() {
        let server = fake::serve(|_, n| match n {
            0 => (502, "bad gateway".into()),
            1 => (200, r#"{"id_token":"NEW","expires_in":"60"}"#.into()),
            _ => (
                400,
                r#"{"error":"invalid_grant","error_description":"grant request is invalid\u001b[0m"}"#.into(),
            ),
        })
        .await;
        let ep = endpoint(&server.url, &[], None);
        let t = ep
            .refresh(&Secret::new("RT1"), Some("openid"), &budget())
            .await
            .unwrap();
        assert_eq!(t.id_token.unwrap().expose(), "NEW");
        assert!(t.refresh_token.is_none());
        assert_eq!(t.expires_in, Some(60));
        assert_eq!(server.requests().len(), 2);
        assert_eq!(server.requests()[1].form()["scope"], "openid");
        let err = ep
            .refresh(&Secret::new("RT1"), None, &budget())
            .await
            .unwrap_err();
        assert!(err.is_invalid_grant());
        assert_eq!(err.oauth_code(), Some("invalid_grant"));
        assert_eq!(
            err.to_string(),
            "the provider refused the grant (invalid_grant): grant request is invalid[0m"
        );
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn other_oauth_errors_and_exhaustion() {
        let server = fake::serve(|_, _| {
            (
                401,
                r#"{"error":"invalid_client","error_description":"no such client"}"#.into(),
            )
        })
        .await;
        let err = endpoint(&server.url, &[], None)
            .refresh(&Secret::new("RT"), None, &budget())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the token endpoint answered invalid_client: no such client"
        );
        assert!(!err.is_invalid_grant());
        assert_eq!(err.oauth_code(), Some("invalid_client"));
        assert_eq!(server.requests().len(), 1);

        let server = fake::serve(|_, _| (500, "{}".into())).await;
        let err = endpoint(&server.url, &[], None)
            .refresh(&Secret::new("RT"), None, &budget())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the token endpoint answered HTTP 500 after 3 attempt(s)"
        );
        assert_eq!(server.requests().len(), 3);

        // Nobody listening: unreachable, tried again, then given up.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let err = endpoint(&closed, &[], None)
            .refresh(&Secret::new("RT"), None, &budget())
            .await
            .unwrap_err();
        assert!(
            matches!(err, TokenError::Exhausted { attempts: 3, .. }),
            "{err}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn revokes_a_refresh_token() {
        let server = fake::serve(|_, n| {
            if n == 0 {
                (200, String::new())
            } else {
                (400, r#"{"error":"unsupported_token_type"}"#.into())
            }
        })
        .await;
        let ep = endpoint(&server.url, &[], None);
        let url = format!("{}/revoke", server.url);
        ep.revoke(&url, &Secret::new("RT"), Duration::from_secs(5))
            .await
            .unwrap();
        let r = &server.requests()[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/revoke"));
        let form = r.form();
        assert_eq!(form["token"], "RT");
        assert_eq!(form["token_type_hint"], "refresh_token");
        assert_eq!(form["client_id"], "cli");
        let err = ep
            .revoke(&url, &Secret::new("RT"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.oauth_code(), Some("unsupported_token_type"));
    }

    #[test]
    fn answers() {
        assert!(matches!(
            parse_answer(200, b"{}"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer(200, b"not json"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer(400, b"<html>"),
            Err(TokenError::Status { status: 400, .. })
        ));
        let t = parse_answer(200, TOKENS.as_bytes()).unwrap();
        assert_eq!(t.access_token.as_ref().unwrap().expose(), "AT");
        assert_eq!(t.scope, None);
        let shown = format!("{t:?}");
        for secret in ["ID.TOK.EN", "\"AT\"", "RT2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
