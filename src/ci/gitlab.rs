//! GitLab CI: detected by `GITLAB_CI=true`; the token is a variable the job declares with
//! `id_tokens:` (`AWS_ID_TOKEN`, `GITLAB_OIDC_TOKEN`, or the single `*_ID_TOKEN` holding a
//! JWT); session `gl-<project>-<pipeline>-<job>`; job URL `CI_JOB_URL`; issuer
//! `https://gitlab.com` (or the instance's URL); `sub` is
//! `project_path:<group>/<project>:ref_type:<branch|tag>:ref:<name>`.

use super::{Ambiguous, Ci, CiSystem, SubGrammar, TokenOffer, TrustDraft, TrustRequest};
use crate::env::Env;

pub const CI: Ci = Ci(&GitLab);

/// GitLab.com's issuer; self-managed instances use their own URL.
pub const ISSUER: &str = "https://gitlab.com";

pub struct GitLab;

/// Whether a variable's value looks like a JWT (three parts, a JSON header).
fn looks_like_jwt(v: &str) -> bool {
    let v = v.trim();
    v.starts_with("eyJ") && v.split('.').count() == 3
}

impl CiSystem for GitLab {
    fn id(&self) -> Option<&'static str> {
        Some("gitlab")
    }

    fn name(&self) -> &'static str {
        "GitLab CI"
    }

    fn detect(&self, env: &Env) -> bool {
        env.is_true("GITLAB_CI")
    }

    /// The names the docs suggest, then any single `*_ID_TOKEN` variable holding a JWT
    /// (`id_tokens:` lets the job choose the name; taken in any CI).
    fn token(&self, env: &Env, _detected: Ci) -> Option<Result<TokenOffer, Ambiguous>> {
        if let Some(found) = super::first_variable(env, &["AWS_ID_TOKEN", "GITLAB_OIDC_TOKEN"]) {
            return Some(found);
        }
        let named: Vec<String> = env
            .iter()
            .filter(|(k, v)| k.ends_with("_ID_TOKEN") && looks_like_jwt(v))
            .map(|(k, _)| k.to_string())
            .collect();
        match named.len() {
            0 => None,
            1 => Some(Ok(TokenOffer::Variable(named[0].clone()))),
            _ => Some(Err(Ambiguous(named))),
        }
    }

    fn token_sources(&self) -> &'static [&'static str] {
        &[
            "AWS_ID_TOKEN",
            "GITLAB_OIDC_TOKEN",
            "a single *_ID_TOKEN variable",
        ]
    }

    fn missing_token_hints(&self, audience: &str) -> Vec<String> {
        vec![
            "declare the token in the job with `id_tokens:`, e.g.:".into(),
            format!("    id_tokens:\n      AWS_ID_TOKEN:\n        aud: {audience}"),
            "or name the variable with --token-env NAME".into(),
        ]
    }

    fn default_session_name(&self, env: &Env, _now: i64) -> String {
        format!(
            "gl-{}-{}-{}",
            super::var_or_zero(env, "CI_PROJECT_ID"),
            super::var_or_zero(env, "CI_PIPELINE_ID"),
            super::var_or_zero(env, "CI_JOB_ID")
        )
    }

    fn job_url(&self, env: &Env) -> Option<String> {
        env.get("CI_JOB_URL").map(str::to_string)
    }

    fn trust(&self, r: &TrustRequest, default_audience: &str) -> Result<TrustDraft, String> {
        super::refuse(r, "gitlab", &["--pull-request"])?;
        let project = super::need(&r.project, "--project GROUP/PROJECT", "gitlab")?;
        super::path_like(
            project,
            "--project",
            "group/project or group/subgroup/project",
        )?;
        let base = format!("project_path:{project}");
        let mut subs: Vec<String> = Vec::new();
        let mut warnings = Vec::new();
        subs.extend(
            r.branch
                .iter()
                .map(|b| format!("{base}:ref_type:branch:ref:{b}")),
        );
        subs.extend(r.tag.iter().map(|t| format!("{base}:ref_type:tag:ref:{t}")));
        if !r.environment.is_empty() {
            if r.branch.is_empty() && r.tag.is_empty() && r.subs.is_empty() {
                return Err(
                    "--environment: GitLab's sub has no environment, and IAM cannot see the token's `environment` claim; give the --branch or --tag that deploys to it (and protect the environment in GitLab)".into(),
                );
            }
            warnings.push(format!(
                "IAM cannot check GitLab's `environment` claim ({}): this policy admits the given branches/tags whatever environment the job names; protect the environment in GitLab, or make the project's sub include it",
                r.environment.join(", ")
            ));
        }
        if !r.scoped() && r.subs.is_empty() {
            subs.push(format!("{base}:*"));
        }
        Ok(TrustDraft {
            issuer: r.issuer_or(|| ISSUER.into()),
            audience: r.audience_or(|| default_audience.into()),
            subs,
            warnings,
            notes: vec!["IAM cannot see `ref_protected` either: anyone who can push a branch with a name the policy admits can assume the role, so protect those branches".into()],
        })
    }

    fn shared_issuer_serves(&self, provider: &str) -> Option<&'static str> {
        super::is_issuer(provider, ISSUER).then_some("job of any project on GitLab.com")
    }

    fn sub_customisation(&self, provider: &str) -> Option<&'static str> {
        provider
            .starts_with("gitlab")
            .then_some(" (GitLab lets a project choose its sub claim's components)")
    }

    fn sub_grammar(&self) -> Option<SubGrammar> {
        Some(SubGrammar {
            prefix: "project_path:",
            holder: "project",
            branch: "ref_type:branch",
            tag: "ref_type:tag",
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
        assert_eq!(Ci::detect(&env_of(&[("GITLAB_CI", "true")])), CI);
    }

    #[test]
    fn session_name_and_job_url() {
        let gl = env_of(&[
            ("CI_PROJECT_ID", "42"),
            ("CI_PIPELINE_ID", "1001"),
            ("CI_JOB_ID", "9"),
            ("CI_JOB_URL", "https://gitlab.com/g/p/-/jobs/9"),
        ]);
        assert_eq!(CI.default_session_name(&gl, 0), "gl-42-1001-9");
        assert_eq!(CI.job_url(&gl).unwrap(), "https://gitlab.com/g/p/-/jobs/9");
    }

    #[test]
    fn token_variables() {
        let env = env_of(&[("GITLAB_OIDC_TOKEN", JWT), ("AWS_ID_TOKEN", JWT)]);
        assert!(
            matches!(CI.token(&env, CI), Some(Ok(TokenOffer::Variable(n))) if n == "AWS_ID_TOKEN")
        );
        let env = env_of(&[("VAULT_ID_TOKEN", JWT), ("OTHER_ID_TOKEN", "x")]);
        assert!(
            matches!(CI.token(&env, CI), Some(Ok(TokenOffer::Variable(n))) if n == "VAULT_ID_TOKEN")
        );
        let env = env_of(&[("A_ID_TOKEN", JWT), ("B_ID_TOKEN", JWT)]);
        assert!(
            matches!(CI.token(&env, CI), Some(Err(Ambiguous(v))) if v == ["A_ID_TOKEN", "B_ID_TOKEN"])
        );
        let hints = CI.missing_token_hints("sts.amazonaws.com").join("\n");
        assert!(hints.contains("id_tokens:") && hints.contains("aud: sts.amazonaws.com"));
    }

    #[test]
    fn trust_subjects() {
        let r = TrustRequest::from_flags(&[
            "--ci",
            "gitlab",
            "--project",
            "g/sub/p",
            "--branch",
            "main",
            "--tag",
            "v1",
        ]);
        let d = CI.trust(&r, "sts.amazonaws.com").unwrap();
        assert_eq!(d.issuer, ISSUER);
        assert_eq!(
            d.subs,
            [
                "project_path:g/sub/p:ref_type:branch:ref:main",
                "project_path:g/sub/p:ref_type:tag:ref:v1"
            ]
        );
        let r = TrustRequest::from_flags(&["--ci", "gitlab", "--project", "g/p", "--pull-request"]);
        assert!(CI.trust(&r, "a").is_err());
    }
}
