//! Buildkite: detected by `BUILDKITE=true`; the token is minted by
//! `buildkite-agent oidc request-token` (only when the job runs in Buildkite); session
//! `buildkite-<pipeline>-<build>`; job URL `BUILDKITE_BUILD_URL`; issuer
//! `https://agent.buildkite.com`; `sub` is
//! `organization:<org>:pipeline:<pipeline>:ref:<ref>:commit:<sha>:step:<key>`.

use super::{Ambiguous, Ci, CiSystem, TokenOffer, TrustDraft, TrustRequest};
use crate::env::Env;

pub const CI: Ci = Ci(&Buildkite);

/// The issuer of every Buildkite token.
pub const ISSUER: &str = "https://agent.buildkite.com";

pub struct Buildkite;

impl CiSystem for Buildkite {
    fn id(&self) -> Option<&'static str> {
        Some("buildkite")
    }

    fn name(&self) -> &'static str {
        "Buildkite"
    }

    fn detect(&self, env: &Env) -> bool {
        env.is_true("BUILDKITE")
    }

    fn token(&self, _env: &Env, detected: Ci) -> Option<Result<TokenOffer, Ambiguous>> {
        (detected == CI).then_some(Ok(TokenOffer::BuildkiteAgent))
    }

    fn token_sources(&self) -> &'static [&'static str] {
        &["buildkite-agent"]
    }

    fn default_session_name(&self, env: &Env, _now: i64) -> String {
        format!(
            "buildkite-{}-{}",
            super::var_or_zero(env, "BUILDKITE_PIPELINE_SLUG"),
            super::var_or_zero(env, "BUILDKITE_BUILD_NUMBER")
        )
    }

    fn job_url(&self, env: &Env) -> Option<String> {
        env.get("BUILDKITE_BUILD_URL").map(str::to_string)
    }

    fn trust(&self, r: &TrustRequest, default_audience: &str) -> Result<TrustDraft, String> {
        super::refuse(r, "buildkite", &["--environment", "--pull-request"])?;
        let org = super::need(&r.organization, "--organization SLUG", "buildkite")?;
        let pipeline = super::need(&r.pipeline, "--pipeline SLUG", "buildkite")?;
        let base = format!("organization:{org}:pipeline:{pipeline}");
        let mut subs: Vec<String> = Vec::new();
        subs.extend(
            r.branch
                .iter()
                .map(|b| format!("{base}:ref:refs/heads/{b}:*")),
        );
        subs.extend(r.tag.iter().map(|t| format!("{base}:ref:refs/tags/{t}:*")));
        if !r.scoped() && r.subs.is_empty() {
            subs.push(format!("{base}:*"));
        }
        Ok(TrustDraft {
            issuer: r.issuer_or(|| ISSUER.into()),
            audience: r.audience_or(|| default_audience.into()),
            subs,
            warnings: Vec::new(),
            notes: vec![
                "Buildkite's sub ends with the commit and step key, hence the trailing wildcard"
                    .into(),
            ],
        })
    }

    /// About 5 minutes.
    fn short_lived_tokens(&self) -> Option<&'static str> {
        Some("Buildkite")
    }

    fn shared_issuer_serves(&self, provider: &str) -> Option<&'static str> {
        super::is_issuer(provider, ISSUER).then_some("Buildkite job of any organization")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::env_of;

    #[test]
    fn detects() {
        assert_eq!(Ci::detect(&env_of(&[("BUILDKITE", "true")])), CI);
    }

    #[test]
    fn agent_only_where_detected() {
        let env = env_of(&[("BUILDKITE", "true")]);
        assert!(matches!(
            CI.token(&env, CI),
            Some(Ok(TokenOffer::BuildkiteAgent))
        ));
        assert!(CI.token(&env, super::super::generic::CI).is_none());
    }

    #[test]
    fn session_name_and_job_url() {
        let env = env_of(&[
            ("BUILDKITE_PIPELINE_SLUG", "deploy"),
            ("BUILDKITE_BUILD_NUMBER", "3"),
            (
                "BUILDKITE_BUILD_URL",
                "https://buildkite.com/acme/deploy/builds/3",
            ),
        ]);
        assert_eq!(CI.default_session_name(&env, 0), "buildkite-deploy-3");
        assert_eq!(
            CI.job_url(&env).unwrap(),
            "https://buildkite.com/acme/deploy/builds/3"
        );
    }

    #[test]
    fn trust_subjects() {
        let r = TrustRequest::from_flags(&[
            "--ci",
            "buildkite",
            "--organization",
            "acme",
            "--pipeline",
            "deploy",
            "--branch",
            "main",
        ]);
        let d = CI.trust(&r, "sts.amazonaws.com").unwrap();
        assert_eq!(d.issuer, ISSUER);
        assert_eq!(
            d.subs,
            ["organization:acme:pipeline:deploy:ref:refs/heads/main:*"]
        );
    }
}
