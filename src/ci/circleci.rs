//! CircleCI: detected by `CIRCLECI=true`; the token is `CIRCLE_OIDC_TOKEN_V2` (preferred: it
//! carries the VCS ref) or `CIRCLE_OIDC_TOKEN`; session `circleci-<repo>-<build>`; job URL
//! `CIRCLE_BUILD_URL`; issuer `https://oidc.circleci.com/org/<org id>`, audience the org id;
//! `sub` is `org/<org>/project/<project>/user/<user>[/vcs-origin/<origin>/vcs-ref/<ref>]`.

use super::{Ambiguous, Ci, CiSystem, TokenOffer, TrustDraft, TrustRequest};
use crate::env::Env;

pub const CI: Ci = Ci(&CircleCi);

pub struct CircleCi;

impl CiSystem for CircleCi {
    fn id(&self) -> Option<&'static str> {
        Some("circleci")
    }

    fn name(&self) -> &'static str {
        "CircleCI"
    }

    fn detect(&self, env: &Env) -> bool {
        env.is_true("CIRCLECI")
    }

    fn token(&self, env: &Env, _detected: Ci) -> Option<Result<TokenOffer, Ambiguous>> {
        super::first_variable(env, self.token_sources())
    }

    fn token_sources(&self) -> &'static [&'static str] {
        &["CIRCLE_OIDC_TOKEN_V2", "CIRCLE_OIDC_TOKEN"]
    }

    fn missing_token_hints(&self, _audience: &str) -> Vec<String> {
        vec!["CircleCI sets CIRCLE_OIDC_TOKEN_V2 in jobs that use a context or a project with OIDC enabled".into()]
    }

    fn default_session_name(&self, env: &Env, _now: i64) -> String {
        format!(
            "circleci-{}-{}",
            super::var_or_zero(env, "CIRCLE_PROJECT_REPONAME"),
            super::var_or_zero(env, "CIRCLE_BUILD_NUM")
        )
    }

    fn job_url(&self, env: &Env) -> Option<String> {
        env.get("CIRCLE_BUILD_URL").map(str::to_string)
    }

    fn trust(&self, r: &TrustRequest, _default_audience: &str) -> Result<TrustDraft, String> {
        super::refuse(r, "circleci", &["--environment", "--pull-request"])?;
        let org = super::need(&r.org_id, "--org-id UUID", "circleci")?;
        let project = super::need(&r.project_id, "--project-id UUID", "circleci")?;
        let base = format!("org/{org}/project/{project}/user/*");
        let mut subs: Vec<String> = Vec::new();
        let mut notes = Vec::new();
        subs.extend(
            r.branch
                .iter()
                .map(|b| format!("{base}/vcs-origin/*/vcs-ref/refs/heads/{b}")),
        );
        subs.extend(
            r.tag
                .iter()
                .map(|t| format!("{base}/vcs-origin/*/vcs-ref/refs/tags/{t}")),
        );
        if r.scoped() {
            notes.push("branch and tag scopes need CircleCI's V2 token (CIRCLE_OIDC_TOKEN_V2, which aws-oidc prefers): only it carries vcs-ref".into());
        } else if r.subs.is_empty() {
            subs.push(base);
        }
        notes.push("CircleCI's default audience is the organization id; aws-oidc reads the pre-minted CIRCLE_OIDC_TOKEN_V2, whose aud is that id".into());
        Ok(TrustDraft {
            issuer: r.issuer_or(|| format!("https://oidc.circleci.com/org/{org}")),
            audience: r.audience_or(|| org.to_string()),
            subs,
            warnings: Vec::new(),
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::env_of;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

    #[test]
    fn detects() {
        assert_eq!(Ci::detect(&env_of(&[("CIRCLECI", "true")])), CI);
    }

    #[test]
    fn prefers_the_v2_token() {
        let env = env_of(&[("CIRCLE_OIDC_TOKEN", JWT), ("CIRCLE_OIDC_TOKEN_V2", JWT)]);
        assert!(
            matches!(CI.token(&env, CI), Some(Ok(TokenOffer::Variable(n))) if n == "CIRCLE_OIDC_TOKEN_V2")
        );
        let env = env_of(&[("CIRCLE_OIDC_TOKEN", JWT)]);
        assert!(
            matches!(CI.token(&env, CI), Some(Ok(TokenOffer::Variable(n))) if n == "CIRCLE_OIDC_TOKEN")
        );
    }

    #[test]
    fn session_name_and_job_url() {
        let env = env_of(&[
            ("CIRCLE_PROJECT_REPONAME", "app"),
            ("CIRCLE_BUILD_NUM", "12"),
            ("CIRCLE_BUILD_URL", "https://circleci.com/gh/o/app/12"),
        ]);
        assert_eq!(CI.default_session_name(&env, 0), "circleci-app-12");
        assert_eq!(
            CI.job_url(&env).unwrap(),
            "https://circleci.com/gh/o/app/12"
        );
    }

    #[test]
    fn trust_subjects() {
        let r =
            TrustRequest::from_flags(&["--ci", "circleci", "--org-id", "O", "--project-id", "P"]);
        let d = CI.trust(&r, "sts.amazonaws.com").unwrap();
        assert_eq!(d.issuer, "https://oidc.circleci.com/org/O");
        assert_eq!(d.audience, "O");
        assert_eq!(d.subs, ["org/O/project/P/user/*"]);
        let r = TrustRequest::from_flags(&[
            "--ci",
            "circleci",
            "--org-id",
            "O",
            "--project-id",
            "P",
            "--branch",
            "main",
        ]);
        assert_eq!(
            CI.trust(&r, "a").unwrap().subs,
            ["org/O/project/P/user/*/vcs-origin/*/vcs-ref/refs/heads/main"]
        );
    }
}
