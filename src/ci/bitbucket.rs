//! Bitbucket Pipelines: detected by `BITBUCKET_BUILD_NUMBER`; the token is
//! `BITBUCKET_STEP_OIDC_TOKEN` (steps with `oidc: true`); session
//! `bitbucket-<repo slug>-<build>`; no job URL; issuer
//! `https://api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc`,
//! audience `ari:cloud:bitbucket::workspace/<workspace uuid>`; `sub` starts with
//! `{<repository uuid>}`.

use super::{Ambiguous, Ci, CiSystem, TokenOffer, TrustDraft, TrustRequest};
use crate::env::Env;

pub const CI: Ci = Ci(&Bitbucket);

pub struct Bitbucket;

impl CiSystem for Bitbucket {
    fn id(&self) -> Option<&'static str> {
        Some("bitbucket")
    }

    fn name(&self) -> &'static str {
        "Bitbucket Pipelines"
    }

    fn detect(&self, env: &Env) -> bool {
        env.get("BITBUCKET_BUILD_NUMBER").is_some()
    }

    fn token(&self, env: &Env, _detected: Ci) -> Option<Result<TokenOffer, Ambiguous>> {
        super::first_variable(env, self.token_sources())
    }

    fn token_sources(&self) -> &'static [&'static str] {
        &["BITBUCKET_STEP_OIDC_TOKEN"]
    }

    fn missing_token_hints(&self, _audience: &str) -> Vec<String> {
        vec!["add `oidc: true` to the step so that Bitbucket sets BITBUCKET_STEP_OIDC_TOKEN".into()]
    }

    fn default_session_name(&self, env: &Env, _now: i64) -> String {
        format!(
            "bitbucket-{}-{}",
            super::var_or_zero(env, "BITBUCKET_REPO_SLUG"),
            super::var_or_zero(env, "BITBUCKET_BUILD_NUMBER")
        )
    }

    fn trust(&self, r: &TrustRequest, _default_audience: &str) -> Result<TrustDraft, String> {
        super::refuse(
            r,
            "bitbucket",
            &["--branch", "--tag", "--environment", "--pull-request"],
        )?;
        let workspace = super::need(&r.workspace, "--workspace NAME", "bitbucket")?;
        let repo = super::need(&r.repo_uuid, "--repo-uuid UUID", "bitbucket")?;
        let repo = format!("{{{}}}", repo.trim_matches(|c| c == '{' || c == '}'));
        let mut subs = Vec::new();
        if r.subs.is_empty() {
            subs.push(format!("{repo}:*"));
        }
        let audience = match (&r.audience, &r.workspace_uuid) {
            (Some(a), _) => a.clone(),
            (None, Some(ws)) => format!(
                "ari:cloud:bitbucket::workspace/{}",
                ws.trim().trim_matches(|c| c == '{' || c == '}')
            ),
            (None, None) => {
                return Err(
                    "--ci bitbucket needs --workspace-uuid (its tokens' default audience) or --audience".into(),
                );
            }
        };
        Ok(TrustDraft {
            issuer: r.issuer_or(|| {
                format!(
                    "https://api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc"
                )
            }),
            audience,
            subs,
            warnings: vec!["Bitbucket's sub format is not verified on a real token: check it with `aws-oidc token` in a step, or use --from-token".into()],
            notes: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::env_of;

    #[test]
    fn detects() {
        assert_eq!(Ci::detect(&env_of(&[("BITBUCKET_BUILD_NUMBER", "7")])), CI);
        assert_ne!(Ci::detect(&env_of(&[("BITBUCKET_BUILD_NUMBER", " ")])), CI);
    }

    #[test]
    fn session_name_token_and_hints() {
        let env = env_of(&[
            ("BITBUCKET_REPO_SLUG", "app"),
            ("BITBUCKET_BUILD_NUMBER", "7"),
            ("BITBUCKET_STEP_OIDC_TOKEN", "t"),
        ]);
        assert_eq!(CI.default_session_name(&env, 0), "bitbucket-app-7");
        assert_eq!(CI.job_url(&env), None);
        assert!(
            matches!(CI.token(&env, CI), Some(Ok(TokenOffer::Variable(n))) if n == "BITBUCKET_STEP_OIDC_TOKEN")
        );
        assert!(CI.missing_token_hints("a")[0].contains("oidc: true"));
    }

    #[test]
    fn trust_subjects() {
        let r = TrustRequest::from_flags(&[
            "--ci",
            "bitbucket",
            "--workspace",
            "acme",
            "--workspace-uuid",
            "{w-1}",
            "--repo-uuid",
            "r-1",
        ]);
        let d = CI.trust(&r, "sts.amazonaws.com").unwrap();
        assert_eq!(d.audience, "ari:cloud:bitbucket::workspace/w-1");
        assert_eq!(d.subs, ["{r-1}:*"]);
        let r = TrustRequest::from_flags(&[
            "--ci",
            "bitbucket",
            "--workspace",
            "a",
            "--repo-uuid",
            "r",
        ]);
        assert!(CI.trust(&r, "a").is_err());
    }
}
