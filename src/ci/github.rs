//! GitHub Actions: detected by `GITHUB_ACTIONS=true`; the token comes from the job's token
//! endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL` + `_TOKEN`, present only with
//! `permissions: id-token: write`); session `gh-<run id>-<attempt>`; job URL
//! `<server>/<repo>/actions/runs/<run id>`; issuer `https://token.actions.githubusercontent.com`;
//! `sub` is `repo:<owner>/<repo>:ref:refs/heads/<branch>`, `…:ref:refs/tags/<tag>`,
//! `…:environment:<name>` or `…:pull_request`.

use super::{Ambiguous, Ci, CiSystem, SubGrammar, TokenOffer, TrustDraft, TrustRequest};
use crate::env::Env;
use crate::secret::Secret;

pub const CI: Ci = Ci(&GitHub);

/// The issuer of every GitHub.com Actions token.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";

pub struct GitHub;

impl CiSystem for GitHub {
    fn id(&self) -> Option<&'static str> {
        Some("github")
    }

    fn name(&self) -> &'static str {
        "GitHub Actions"
    }

    fn detect(&self, env: &Env) -> bool {
        env.is_true("GITHUB_ACTIONS")
    }

    fn token(&self, env: &Env, _detected: Ci) -> Option<Result<TokenOffer, Ambiguous>> {
        let url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL")?;
        let token = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?;
        Some(Ok(TokenOffer::GitHubEndpoint {
            url: url.to_string(),
            request_token: Secret::new(token),
        }))
    }

    fn token_sources(&self) -> &'static [&'static str] {
        &["GitHub Actions' token endpoint"]
    }

    fn missing_token(&self) -> String {
        "GitHub Actions did not provide ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN"
            .into()
    }

    fn missing_token_hints(&self, _audience: &str) -> Vec<String> {
        vec![
            "grant the job `permissions: id-token: write` (plus `contents: read` for checkout):"
                .into(),
            "    permissions:\n      id-token: write\n      contents: read".into(),
            "pull requests from forks never get one".into(),
        ]
    }

    fn default_session_name(&self, env: &Env, _now: i64) -> String {
        format!(
            "gh-{}-{}",
            super::var_or_zero(env, "GITHUB_RUN_ID"),
            env.get("GITHUB_RUN_ATTEMPT").unwrap_or("1")
        )
    }

    fn job_url(&self, env: &Env) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            env.get("GITHUB_SERVER_URL")?,
            env.get("GITHUB_REPOSITORY")?,
            env.get("GITHUB_RUN_ID")?
        ))
    }

    fn trust(&self, r: &TrustRequest, default_audience: &str) -> Result<TrustDraft, String> {
        let repo = super::need(&r.repo, "--repo OWNER/NAME", "github")?;
        super::path_like(repo, "--repo", "owner/name")?;
        let base = format!("repo:{repo}");
        let mut subs: Vec<String> = Vec::new();
        subs.extend(
            r.branch
                .iter()
                .map(|b| format!("{base}:ref:refs/heads/{b}")),
        );
        subs.extend(r.tag.iter().map(|t| format!("{base}:ref:refs/tags/{t}")));
        subs.extend(
            r.environment
                .iter()
                .map(|e| format!("{base}:environment:{e}")),
        );
        if r.pull_request {
            subs.push(format!("{base}:pull_request"));
        }
        if !r.scoped() && r.subs.is_empty() {
            subs.push(format!("{base}:*"));
        }
        let mut notes = Vec::new();
        if !r.environment.is_empty() {
            notes.push("a job that names an environment gets `…:environment:<name>` as its sub instead of its ref: give both --environment and --branch if some jobs deploy and others do not".into());
        }
        notes.push(format!(
            "GitHub writes the owner and repository in sub as GitHub spells them, and IAM compares case-sensitively: check with `aws-oidc token` in a job of {repo}"
        ));
        Ok(TrustDraft {
            issuer: r.issuer_or(|| ISSUER.into()),
            audience: r.audience_or(|| default_audience.into()),
            subs,
            warnings: Vec::new(),
            notes,
        })
    }

    /// About 5 minutes.
    fn short_lived_tokens(&self) -> Option<&'static str> {
        Some("GitHub")
    }

    fn shared_issuer_serves(&self, provider: &str) -> Option<&'static str> {
        super::is_issuer(provider, ISSUER)
            .then_some("GitHub Actions workflow of any repository on GitHub")
    }

    fn sub_customisation(&self, provider: &str) -> Option<&'static str> {
        super::is_issuer(provider, ISSUER).then_some(
            " (GitHub can put claims such as job_workflow_ref, environment or repository_id into sub: PUT /repos/{owner}/{repo}/actions/oidc/customization/sub)",
        )
    }

    fn sub_grammar(&self) -> Option<SubGrammar> {
        Some(SubGrammar {
            prefix: "repo:",
            holder: "repository",
            branch: "refs/heads/",
            tag: "refs/tags/",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::env_of;

    #[test]
    fn detects() {
        assert_eq!(Ci::detect(&env_of(&[("GITHUB_ACTIONS", "true")])), CI);
        assert_eq!(Ci::detect(&env_of(&[("GITHUB_ACTIONS", "TRUE")])), CI);
        assert_ne!(Ci::detect(&env_of(&[("GITHUB_ACTIONS", "false")])), CI);
    }

    #[test]
    fn session_name() {
        let gh = env_of(&[("GITHUB_RUN_ID", "777"), ("GITHUB_RUN_ATTEMPT", "2")]);
        assert_eq!(CI.default_session_name(&gh, 0), "gh-777-2");
        assert_eq!(CI.default_session_name(&env_of(&[]), 0), "gh-0-1");
    }

    #[test]
    fn job_url() {
        let gh = env_of(&[
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "5"),
        ]);
        assert_eq!(
            CI.job_url(&gh).unwrap(),
            "https://github.com/o/r/actions/runs/5"
        );
        assert_eq!(CI.job_url(&env_of(&[])), None);
    }

    #[test]
    fn token_endpoint_needs_both_variables() {
        let only_url = env_of(&[("ACTIONS_ID_TOKEN_REQUEST_URL", "https://x/")]);
        assert!(CI.token(&only_url, CI).is_none());
        let both = only_url.with("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "rt");
        assert!(matches!(
            CI.token(&both, CI),
            Some(Ok(TokenOffer::GitHubEndpoint { url, .. })) if url == "https://x/"
        ));
        assert!(
            CI.missing_token_hints("a")
                .join("\n")
                .contains("id-token: write")
        );
    }

    #[test]
    fn trust_subjects() {
        let r = TrustRequest::from_flags(&[
            "--ci",
            "github",
            "--repo",
            "o/r",
            "--branch",
            "main",
            "--tag",
            "v*",
            "--environment",
            "prod",
            "--pull-request",
        ]);
        let d = CI.trust(&r, "sts.amazonaws.com").unwrap();
        assert_eq!(d.issuer, ISSUER);
        assert_eq!(
            d.subs,
            [
                "repo:o/r:ref:refs/heads/main",
                "repo:o/r:ref:refs/tags/v*",
                "repo:o/r:environment:prod",
                "repo:o/r:pull_request"
            ]
        );
        let r = TrustRequest::from_flags(&["--ci", "github", "--repo", "o/r"]);
        assert_eq!(CI.trust(&r, "a").unwrap().subs, ["repo:o/r:*"]);
    }
}
