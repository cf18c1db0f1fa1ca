//! A signed-in provider: the ID token the other commands use, refreshed with the stored refresh
//! token when it nears expiry. Refreshes are serialized per provider under a lock (providers
//! rotate refresh tokens and revoke the whole grant when a spent one is used again), and the
//! rotated refresh token is saved before the new ID token is handed out. Nothing here ever
//! starts an interactive login: without a usable token it says to run `aws-oidc login`.

use std::time::Duration;

use crate::aws::credentials::now_secs;
use crate::config::Provider;
use crate::idp::store::{Store, Tokens};
use crate::idp::{discovery, tokens, verify};
use crate::net::retry::Budget;
use crate::secret::Secret;

/// Refresh when less than this is left (capped at half the token's lifetime).
pub const MARGIN_SECS: i64 = 60;

/// How long to wait for another process's refresh.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Why no ID token could be had. Never holds a token.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("not logged in to {provider}")]
    NotLoggedIn { provider: String },
    #[error("the login to {provider} has expired ({why})")]
    Expired { provider: String, why: String },
    #[error("the token store: {0}")]
    Store(#[from] crate::idp::store::StoreError),
    #[error("{provider}: {0}", provider = .1)]
    Discovery(discovery::DiscoveryError, String),
    #[error("refreshing the login to {provider}: {err}")]
    Refresh {
        provider: String,
        err: tokens::TokenError,
    },
    #[error("the ID token {provider} sent on refresh: {err}")]
    Verify {
        provider: String,
        err: verify::VerifyError,
    },
}

impl SessionError {
    /// Whether a new `aws-oidc login` is the fix.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            SessionError::NotLoggedIn { .. } | SessionError::Expired { .. }
        )
    }

    /// Whether trying again later may work (the provider or the network failed).
    pub fn is_transient(&self) -> bool {
        match self {
            SessionError::Refresh { err, .. } => {
                !err.is_invalid_grant() && err.oauth_code().is_none()
            }
            SessionError::Discovery(..) => true,
            _ => false,
        }
    }
}

/// When a token that lives from `issued` to `expires` should be refreshed: [`MARGIN_SECS`]
/// before it expires, or half-way for a short-lived one (so it is not refreshed in a loop).
pub fn refresh_at(issued: Option<i64>, expires: i64) -> i64 {
    let lifetime = issued.map_or(i64::MAX, |i| expires.saturating_sub(i));
    expires.saturating_sub(MARGIN_SECS.min(lifetime / 2))
}

fn fresh(t: &Tokens, now: i64) -> bool {
    let issued = crate::token::jwt::IdToken::parse(t.id_token.expose())
        .ok()
        .and_then(|t| t.claims.iat);
    now < refresh_at(issued, t.id_token_expires_at)
}

/// The provider's current ID token: the stored one while it is fresh, else a refreshed one.
pub async fn id_token(
    name: &str,
    provider: &Provider,
    store: &Store,
    budget: &Budget,
) -> Result<Secret, SessionError> {
    current(name, provider, store, budget, false).await
}

/// The provider's current access token (a SAML token exchange's subject), refreshed like the ID
/// token when it nears expiry.
pub async fn access_token(
    name: &str,
    provider: &Provider,
    store: &Store,
    budget: &Budget,
) -> Result<Secret, SessionError> {
    current(name, provider, store, budget, true).await
}

fn usable(t: &Tokens, access: bool, now: i64) -> Option<Secret> {
    if !access {
        return fresh(t, now).then(|| t.id_token.clone());
    }
    let token = t.access_token.clone()?;
    match t.access_token_expires_at {
        Some(at) if now >= refresh_at(None, at) => None,
        _ => Some(token),
    }
}

async fn current(
    name: &str,
    provider: &Provider,
    store: &Store,
    budget: &Budget,
    access: bool,
) -> Result<Secret, SessionError> {
    let not_logged_in = || SessionError::NotLoggedIn {
        provider: name.to_string(),
    };
    let stored = store.load(name)?.ok_or_else(not_logged_in)?;
    if let Some(t) = usable(&stored, access, now_secs()) {
        return Ok(t);
    }
    let _guard = store.lock(name, LOCK_WAIT)?;
    // Another process may have refreshed while this one waited.
    let stored = store.load(name)?.ok_or_else(not_logged_in)?;
    if let Some(t) = usable(&stored, access, now_secs()) {
        return Ok(t);
    }
    let Some(refresh_token) = stored.refresh_token.clone() else {
        return Err(SessionError::Expired {
            provider: name.to_string(),
            why: "the ID token expired and the provider gave no refresh token (ask for the offline_access scope)".into(),
        });
    };
    let disc = discovery::fetch(&provider.issuer, budget)
        .await
        .map_err(|e| SessionError::Discovery(e, name.to_string()))?;
    let endpoint =
        tokens::TokenEndpoint::new(&disc, &provider.client_id, provider.client_secret.clone())
            .map_err(|err| SessionError::Refresh {
                provider: name.to_string(),
                err,
            })?;
    let answer = match endpoint.refresh(&refresh_token, None, budget).await {
        Ok(a) => a,
        Err(err) if err.is_invalid_grant() => {
            // Spent or revoked: it will never work again.
            let _ = store.delete(name);
            return Err(SessionError::Expired {
                provider: name.to_string(),
                why: "the provider refused the refresh token".into(),
            });
        }
        Err(err) => {
            return Err(SessionError::Refresh {
                provider: name.to_string(),
                err,
            });
        }
    };
    let rotated = answer.refresh_token.clone().or(Some(refresh_token));
    let Some(id_token) = answer.id_token.clone() else {
        // Keep the rotated refresh token even so: the old one is spent.
        let mut keep = stored.clone();
        keep.refresh_token = rotated;
        store.save(name, &keep)?;
        return Err(SessionError::Expired {
            provider: name.to_string(),
            why: "the provider's refresh answer has no ID token".into(),
        });
    };
    let keys = verify::KeySet::new(disc.jwks_uri.as_deref().unwrap_or_default());
    let checked = verify::verify_with(
        &id_token,
        &keys,
        &verify::Expected {
            issuer: &provider.issuer,
            client_id: &provider.client_id,
            nonce: None,
            now: now_secs(),
        },
        budget,
    )
    .await;
    let renewed = Tokens {
        id_token: id_token.clone(),
        id_token_expires_at: checked
            .as_ref()
            .ok()
            .and_then(|t| t.claims.exp)
            .unwrap_or(stored.id_token_expires_at),
        refresh_token: rotated,
        access_token: answer.access_token.clone().or(stored.access_token.clone()),
        access_token_expires_at: answer
            .expires_in
            .map(|s| now_secs().saturating_add(s as i64))
            .or(stored.access_token_expires_at),
    };
    // The rotated refresh token is saved before anything else happens, even when the new ID
    // token turns out bad: the old refresh token is spent.
    store.save(name, &renewed)?;
    checked.map_err(|err| SessionError::Verify {
        provider: name.to_string(),
        err,
    })?;
    tracing::info!("refreshed the login to {name}");
    if access {
        // The new one only: the stored one is why this refresh happened.
        return answer.access_token.ok_or_else(|| SessionError::Expired {
            provider: name.to_string(),
            why: "the provider's refresh answer has no access token".into(),
        });
    }
    Ok(id_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::store::StoreKind;

    /// A provider whose refresh answer holds a new, verifiable ID token and no access token.
    async fn provider_without_access_tokens() -> (crate::idp::fake::Fake, Provider) {
        use crate::idp::verify::tests::{rsa_jwk, sign};
        use serde_json::json;
        let server = crate::idp::fake::serve(|r, _| {
            let issuer = format!("http://{}", r.header("host").unwrap());
            let body = if r.path.ends_with("/openid-configuration") {
                crate::idp::discovery::tests::document(&issuer)
            } else if r.path.ends_with("/jwks") {
                json!({ "keys": [rsa_jwk("k1")] })
            } else {
                let now = now_secs();
                let claims = json!({"iss": issuer, "sub": "alice", "aud": "cli", "iat": now, "exp": now + 3600});
                let id_token = sign(&json!({"alg": "RS256", "kid": "k1"}), &claims);
                json!({"id_token": id_token.expose(), "refresh_token": "r2", "token_type": "Bearer", "expires_in": 3600})
            };
            (200, body.to_string())
        })
        .await;
        let provider: Provider =
            serde_saphyr::from_str(&format!("issuer: {}\nclient_id: cli\n", server.url)).unwrap();
        (server, provider)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refresh_without_an_access_token_never_hands_back_the_expired_one() {
        let (_server, provider) = provider_without_access_tokens().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreKind::File, Some(dir.path().to_path_buf())).unwrap();
        let then = now_secs() - 10;
        store
            .save(
                "corp",
                &Tokens {
                    id_token: Secret::new("h.p.s"),
                    id_token_expires_at: then,
                    refresh_token: Some(Secret::new("r1")),
                    access_token: Some(Secret::new("expired-access-token")),
                    access_token_expires_at: Some(then),
                },
            )
            .unwrap();
        let budget = crate::idp::discovery::tests::budget();
        let err = access_token("corp", &provider, &store, &budget)
            .await
            .expect_err("the stored access token has expired");
        assert!(err.to_string().contains("no access token"), "{err}");
        // The refresh itself counted: the rotated refresh token is kept.
        let saved = store.load("corp").unwrap().unwrap();
        assert_eq!(saved.refresh_token.unwrap().expose(), "r2");
    }

    #[test]
    fn refresh_margin_is_capped_at_half_the_lifetime() {
        // A one-hour token: 60 s before it ends.
        assert_eq!(refresh_at(Some(0), 3600), 3540);
        // A 60 s token: half-way, not at once (which would refresh in a loop).
        assert_eq!(refresh_at(Some(0), 60), 30);
        // Unknown issue time: the plain margin.
        assert_eq!(refresh_at(None, 3600), 3540);
    }
}
