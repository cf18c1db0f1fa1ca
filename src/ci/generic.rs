//! No known CI (a laptop, EKS, an unknown runner): detected when no other CI is; the token is
//! the file named by `AWS_WEB_IDENTITY_TOKEN_FILE`, tried after every CI's own source;
//! session `aws-oidc-<unix time>`; no job URL; no `trust-policy --ci` value. Also the hint
//! that lists every source aws-oidc looks at.

use super::{ALL, Ambiguous, Ci, CiSystem, TokenOffer, TrustDraft, TrustRequest};
use crate::env::Env;

pub const CI: Ci = Ci(&Generic);

pub struct Generic;

/// What to do when no token was found and the CI has no advice of its own.
pub fn hints_for_any_ci() -> Vec<String> {
    let sources: Vec<&str> = ALL
        .iter()
        .flat_map(|ci| ci.token_sources().iter().copied())
        .collect();
    vec![
        format!("aws-oidc looks at: {}", sources.join(", ")),
        "name the source with --token-env NAME, --token-file PATH or --token-command CMD".into(),
    ]
}

impl CiSystem for Generic {
    fn id(&self) -> Option<&'static str> {
        None
    }

    fn name(&self) -> &'static str {
        "no known CI"
    }

    fn detect(&self, _env: &Env) -> bool {
        true
    }

    fn token(&self, env: &Env, _detected: Ci) -> Option<Result<TokenOffer, Ambiguous>> {
        env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
            .map(|path| Ok(TokenOffer::File(path.into())))
    }

    fn token_sources(&self) -> &'static [&'static str] {
        &["AWS_WEB_IDENTITY_TOKEN_FILE"]
    }

    fn default_session_name(&self, _env: &Env, now: i64) -> String {
        format!("aws-oidc-{now}")
    }

    fn trust(&self, _r: &TrustRequest, _default_audience: &str) -> Result<TrustDraft, String> {
        Err(format!("give --ci ({}) or --from-token", super::choices()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::env_of;

    #[test]
    fn fallback() {
        assert_eq!(Ci::detect(&env_of(&[("GITHUB_ACTIONS", "no")])), CI);
        assert_eq!(CI.default_session_name(&env_of(&[]), 5), "aws-oidc-5");
        assert_eq!(CI.job_url(&env_of(&[])), None);
        let env = env_of(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")]);
        assert!(
            matches!(CI.token(&env, CI), Some(Ok(TokenOffer::File(p))) if p == std::path::Path::new("/t"))
        );
        assert!(CI.trust(&TrustRequest::default(), "a").is_err());
    }

    #[test]
    fn lists_every_source_in_order() {
        assert_eq!(
            hints_for_any_ci()[0],
            "aws-oidc looks at: GitHub Actions' token endpoint, AWS_ID_TOKEN, GITLAB_OIDC_TOKEN, a single *_ID_TOKEN variable, CIRCLE_OIDC_TOKEN_V2, CIRCLE_OIDC_TOKEN, BITBUCKET_STEP_OIDC_TOKEN, buildkite-agent, AWS_WEB_IDENTITY_TOKEN_FILE"
        );
    }
}
