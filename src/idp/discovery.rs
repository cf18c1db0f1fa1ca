//! The provider's discovery document (OpenID Connect Discovery 1.0): fetched from
//! `<issuer>/.well-known/openid-configuration`, checked (the issuer is `https://` or a
//! loopback `http://`, the document names exactly the configured issuer, every endpoint is
//! a secure URL) and kept as [`Discovery`]: the endpoints and the capabilities `login`
//! chooses between.

use serde::Deserialize;

use super::Transport;
use crate::net::retry::{self, Attempt, Budget, GaveUp};

/// The parts of the discovery document aws-oidc uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: String,
    pub device_authorization_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    /// Empty when the document does not say (the default is then `client_secret_basic`).
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: the provider puts `iss` on every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
    /// Empty when the document does not say (the default is then authorization_code and
    /// implicit).
    pub grant_types_supported: Vec<String>,
}

/// The grant type of the device flow.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

impl Discovery {
    /// Whether the provider offers `grant` (`authorization_code`, `refresh_token`,
    /// [`DEVICE_GRANT`]). When the document lists no grants, the specification's default
    /// (authorization_code, implicit) holds; the device grant then counts as offered when
    /// the device authorization endpoint is there.
    pub fn supports_grant(&self, grant: &str) -> bool {
        if grant == DEVICE_GRANT && self.device_authorization_endpoint.is_none() {
            return false;
        }
        if self.grant_types_supported.is_empty() {
            return matches!(grant, "authorization_code" | "implicit" | DEVICE_GRANT);
        }
        self.grant_types_supported.iter().any(|g| g == grant)
    }

    /// Whether the provider says it takes PKCE with S256. Many providers that do accept it
    /// leave `code_challenge_methods_supported` out; S256 is sent anyway.
    pub fn advertises_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    }
}

/// Why there is no usable discovery document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the issuer `{issuer}` {why}")]
    BadIssuer { issuer: String, why: &'static str },
    #[error("cannot fetch {url}: {source}")]
    Transport { url: String, source: Transport },
    #[error("cannot fetch {url}: {source} (after {attempts} attempt(s))")]
    Unreachable {
        url: String,
        attempts: u32,
        source: Transport,
    },
    #[error("{url} answered HTTP {status}{note}")]
    Status {
        url: String,
        status: u16,
        note: &'static str,
    },
    #[error("{url} is not an OpenID discovery document: {why}")]
    Malformed { url: String, why: String },
    #[error(
        "the discovery document names the issuer `{found}`, not the configured `{configured}` (they must match exactly, trailing slash included)"
    )]
    IssuerMismatch { configured: String, found: String },
    #[error("the discovery document's {field} `{url}` {why}")]
    BadEndpoint {
        field: &'static str,
        url: String,
        why: &'static str,
    },
}

impl crate::net::retry::Transient for DiscoveryError {
    fn is_transient(&self) -> bool {
        match self {
            DiscoveryError::Transport { source, .. } => {
                matches!(source, Transport::Unreachable(_))
            }
            DiscoveryError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// Checks that `issuer` may be used: `https://`, or `http://127.0.0.1` / `http://localhost`
/// on any port; no query, fragment or credentials.
pub fn check_issuer(issuer: &str) -> Result<(), DiscoveryError> {
    let bad = |why| DiscoveryError::BadIssuer {
        issuer: issuer.to_string(),
        why,
    };
    let url = super::secure_url(issuer).map_err(bad)?;
    if url.query().is_some() {
        return Err(bad("must not have a ?query"));
    }
    Ok(())
}

/// Where the discovery document of `issuer` is.
pub fn document_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and checks the discovery document of `issuer`, trying again (within `budget`)
/// when the provider cannot be reached or answers 5xx/429.
pub async fn fetch(issuer: &str, budget: &Budget) -> Result<Discovery, DiscoveryError> {
    check_issuer(issuer)?;
    let url = document_url(issuer);
    let client = crate::net::http::client(&url).map_err(|e| DiscoveryError::Transport {
        url: url.clone(),
        source: Transport::Unreachable(e),
    })?;
    let attempt = |attempt: Attempt| {
        let request = client
            .get(&url)
            .header("Accept", "application/json")
            .timeout(attempt.timeout);
        let url = url.clone();
        async move {
            let answer =
                super::send(request)
                    .await
                    .map_err(|source| DiscoveryError::Transport {
                        url: url.clone(),
                        source,
                    })?;
            if answer.status != 200 {
                return Err(DiscoveryError::Status {
                    status: answer.status,
                    note: crate::net::http::redirect_note(answer.status),
                    url,
                });
            }
            parse(issuer, &url, &answer.body)
        }
    };
    retry::run(
        budget,
        &crate::net::retry::RetryTransient::new("discovery"),
        attempt,
    )
    .await
    .map_err(|gave_up| match gave_up {
        GaveUp::Stopped(e) => e,
        GaveUp::Exhausted { attempts, last, .. } => match last {
            DiscoveryError::Transport { url, source } => DiscoveryError::Unreachable {
                url,
                attempts,
                source,
            },
            other => other,
        },
    })
}

#[derive(Deserialize)]
struct Document {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    jwks_uri: Option<String>,
    revocation_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    grant_types_supported: Vec<String>,
}

/// Checks a discovery document (`body`, fetched from `url`) against the configured `issuer`.
pub fn parse(issuer: &str, url: &str, body: &[u8]) -> Result<Discovery, DiscoveryError> {
    let malformed = |why: String| DiscoveryError::Malformed {
        url: url.to_string(),
        why,
    };
    let doc: Document = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let found = doc
        .issuer
        .ok_or_else(|| malformed("it has no `issuer`".into()))?;
    if found != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            configured: issuer.to_string(),
            found: super::sanitize(&found),
        });
    }
    let token_endpoint = doc
        .token_endpoint
        .ok_or_else(|| malformed("it has no `token_endpoint`".into()))?;
    let endpoints = [
        ("token_endpoint", Some(&token_endpoint)),
        (
            "authorization_endpoint",
            doc.authorization_endpoint.as_ref(),
        ),
        (
            "device_authorization_endpoint",
            doc.device_authorization_endpoint.as_ref(),
        ),
        ("jwks_uri", doc.jwks_uri.as_ref()),
        ("revocation_endpoint", doc.revocation_endpoint.as_ref()),
        ("end_session_endpoint", doc.end_session_endpoint.as_ref()),
    ];
    for (field, value) in endpoints {
        if let Some(value) = value {
            super::secure_url(value).map_err(|why| DiscoveryError::BadEndpoint {
                field,
                url: super::sanitize(value),
                why,
            })?;
        }
    }
    Ok(Discovery {
        issuer: found,
        authorization_endpoint: doc.authorization_endpoint,
        token_endpoint,
        device_authorization_endpoint: doc.device_authorization_endpoint,
        jwks_uri: doc.jwks_uri,
        revocation_endpoint: doc.revocation_endpoint,
        end_session_endpoint: doc.end_session_endpoint,
        token_endpoint_auth_methods_supported: doc.token_endpoint_auth_methods_supported,
        code_challenge_methods_supported: doc.code_challenge_methods_supported,
        authorization_response_iss_parameter_supported: doc
            .authorization_response_iss_parameter_supported,
        grant_types_supported: doc.grant_types_supported,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::idp::fake;
    use serde_json::json;
    use std::time::Duration;

    pub(crate) fn budget() -> Budget {
        Budget {
            max_attempts: 3,
            deadline: std::time::Instant::now() + Duration::from_secs(10),
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            attempt_timeout: Duration::from_secs(5),
        }
    }

    pub(crate) fn document(issuer: &str) -> serde_json::Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "device_authorization_endpoint": format!("{issuer}/device"),
            "jwks_uri": format!("{issuer}/jwks"),
            "revocation_endpoint": format!("{issuer}/revoke"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
            "unknown_field": 1
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn fetches_and_keeps_the_endpoints() {
        let server = fake::serve(|r, _| {
            let host = r.header("host").unwrap().to_string();
            (
                200,
                document(&format!("http://{host}/realms/main")).to_string(),
            )
        })
        .await;
        let issuer = format!("{}/realms/main", server.url);
        let d = fetch(&issuer, &budget()).await.unwrap();
        assert_eq!(d.issuer, issuer);
        assert_eq!(d.token_endpoint, format!("{issuer}/token"));
        assert_eq!(
            d.device_authorization_endpoint.as_deref(),
            Some(&*format!("{issuer}/device"))
        );
        assert_eq!(d.jwks_uri.as_deref(), Some(&*format!("{issuer}/jwks")));
        assert!(d.authorization_response_iss_parameter_supported);
        assert!(d.advertises_s256());
        assert!(d.supports_grant(DEVICE_GRANT));
        assert!(d.supports_grant("refresh_token"));
        assert!(!d.supports_grant("implicit"));
        assert_eq!(d.end_session_endpoint, None);
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].method, "GET");
        assert_eq!(
            requests[0].path,
            "/realms/main/.well-known/openid-configuration"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_issuer_must_match_exactly() {
        let server = fake::serve(|r, _| {
            let host = r.header("host").unwrap().to_string();
            (200, document(&format!("http://{host}/")).to_string())
        })
        .await;
        let err = fetch(&server.url, &budget()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the discovery document names the issuer `{0}/`, not the configured `{0}` (they must match exactly, trailing slash included)",
                server.url
            )
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retries_5xx_then_succeeds_and_stops_at_404() {
        let server = fake::serve(|r, n| {
            let host = r.header("host").unwrap().to_string();
            if n == 0 {
                (503, "{}".into())
            } else {
                (200, document(&format!("http://{host}")).to_string())
            }
        })
        .await;
        assert!(fetch(&server.url, &budget()).await.is_ok());
        assert_eq!(server.requests().len(), 2);

        let server = fake::serve(|_, _| (404, "{}".into())).await;
        let err = fetch(&server.url, &budget()).await.unwrap_err();
        assert!(matches!(err, DiscoveryError::Status { status: 404, .. }));
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_redirect_is_not_followed() {
        let server = fake::serve(|_, _| (302, "{}".into())).await;
        let err = fetch(&server.url, &budget()).await.unwrap_err();
        assert!(
            err.to_string()
                .ends_with("answered HTTP 302 (a redirect; redirects are not followed)"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn refuses_insecure_issuers_before_any_request() {
        for issuer in [
            "http://idp.example.com",
            "ftp://idp.example.com",
            "https://idp.example.com?x=1",
            "idp.example.com",
        ] {
            let err = fetch(issuer, &budget()).await.unwrap_err();
            assert!(matches!(err, DiscoveryError::BadIssuer { .. }), "{issuer}");
        }
        assert!(check_issuer("http://localhost:8080/realms/x").is_ok());
        assert!(check_issuer("http://127.0.0.1").is_ok());
        assert_eq!(
            check_issuer("http://idp.example.com")
                .unwrap_err()
                .to_string(),
            "the issuer `http://idp.example.com` plain http:// is accepted only for 127.0.0.1 and localhost"
        );
    }

    #[test]
    fn documents_are_checked() {
        let iss = "https://idp.example.com";
        let url = document_url(iss);
        assert_eq!(
            url,
            "https://idp.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            document_url("https://idp.example.com/realms/a/"),
            "https://idp.example.com/realms/a/.well-known/openid-configuration"
        );
        let mut doc = document(iss);
        doc["jwks_uri"] = json!("http://evil.example.com/jwks");
        let err = parse(iss, &url, doc.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                DiscoveryError::BadEndpoint {
                    field: "jwks_uri",
                    ..
                }
            ),
            "{err}"
        );
        let mut doc = document(iss);
        doc.as_object_mut().unwrap().remove("token_endpoint");
        assert!(matches!(
            parse(iss, &url, doc.to_string().as_bytes()),
            Err(DiscoveryError::Malformed { .. })
        ));
        assert!(matches!(
            parse(iss, &url, b"<html>"),
            Err(DiscoveryError::Malformed { .. })
        ));
        // Defaults when the document says little.
        let minimal = json!({"issuer": iss, "token_endpoint": format!("{iss}/token")});
        let d = parse(iss, &url, minimal.to_string().as_bytes()).unwrap();
        assert!(d.supports_grant("authorization_code"));
        assert!(!d.supports_grant(DEVICE_GRANT));
        assert!(!d.advertises_s256());
        assert!(!d.authorization_response_iss_parameter_supported);
    }
}
