//! Which CI system the job runs in, and the defaults that follow from it.
//!
//! Detection reads only well-known environment variables; the environment is
//! passed in as a lookup function so tests need not touch the process's own.

/// A CI system aws-oidc knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ci {
    GitHub,
    GitLab,
    Circle,
    Bitbucket,
    Buildkite,
    Unknown,
}

use crate::env::Env;

impl Ci {
    pub fn detect(env: &Env) -> Ci {
        let is_true = |k: &str| env.is_true(k);
        if is_true("GITHUB_ACTIONS") {
            Ci::GitHub
        } else if is_true("GITLAB_CI") {
            Ci::GitLab
        } else if is_true("CIRCLECI") {
            Ci::Circle
        } else if env
            .get("BITBUCKET_BUILD_NUMBER")
            .map(str::to_string)
            .is_some()
        {
            Ci::Bitbucket
        } else if is_true("BUILDKITE") {
            Ci::Buildkite
        } else {
            Ci::Unknown
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Ci::GitHub => "GitHub Actions",
            Ci::GitLab => "GitLab CI",
            Ci::Circle => "CircleCI",
            Ci::Bitbucket => "Bitbucket Pipelines",
            Ci::Buildkite => "Buildkite",
            Ci::Unknown => "no known CI",
        }
    }

    /// A session name that ties CloudTrail entries to the job, before sanitising.
    pub fn default_session_name(self, env: &Env, now: i64) -> String {
        let get = |k: &str| env.get(k).map(str::to_string).unwrap_or_else(|| "0".into());
        match self {
            Ci::GitHub => format!(
                "gh-{}-{}",
                get("GITHUB_RUN_ID"),
                env.get("GITHUB_RUN_ATTEMPT")
                    .map(str::to_string)
                    .unwrap_or_else(|| "1".into())
            ),
            Ci::GitLab => format!(
                "gl-{}-{}-{}",
                get("CI_PROJECT_ID"),
                get("CI_PIPELINE_ID"),
                get("CI_JOB_ID")
            ),
            Ci::Circle => format!(
                "circleci-{}-{}",
                get("CIRCLE_PROJECT_REPONAME"),
                get("CIRCLE_BUILD_NUM")
            ),
            Ci::Bitbucket => format!(
                "bitbucket-{}-{}",
                get("BITBUCKET_REPO_SLUG"),
                get("BITBUCKET_BUILD_NUMBER")
            ),
            Ci::Buildkite => format!(
                "buildkite-{}-{}",
                get("BUILDKITE_PIPELINE_SLUG"),
                get("BUILDKITE_BUILD_NUMBER")
            ),
            Ci::Unknown => format!("aws-oidc-{now}"),
        }
    }
}

impl Ci {
    /// The job's web page, when the CI says it (the console URL's `Issuer`).
    pub fn job_url(self, env: &Env) -> Option<String> {
        match self {
            Ci::GitHub => Some(format!(
                "{}/{}/actions/runs/{}",
                env.get("GITHUB_SERVER_URL").map(str::to_string)?,
                env.get("GITHUB_REPOSITORY").map(str::to_string)?,
                env.get("GITHUB_RUN_ID").map(str::to_string)?
            )),
            Ci::GitLab => env.get("CI_JOB_URL").map(str::to_string),
            Ci::Circle => env.get("CIRCLE_BUILD_URL").map(str::to_string),
            Ci::Buildkite => env.get("BUILDKITE_BUILD_URL").map(str::to_string),
            Ci::Bitbucket | Ci::Unknown => None,
        }
    }
}

/// The characters STS allows in a role session name.
fn session_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Makes any string a valid session name: `[\w+=,.@-]`, 2–64 characters.
pub fn sanitize_session_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| if session_char_ok(c) { c } else { '-' })
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    name
}

/// Checks a session name the user chose; says what is wrong instead of changing it.
pub fn validate_session_name(name: &str) -> Result<(), String> {
    if !(2..=64).contains(&name.chars().count()) {
        return Err(format!(
            "the session name must be 2 to 64 characters, `{name}` has {}",
            name.chars().count()
        ));
    }
    if let Some(bad) = name.chars().find(|c| !session_char_ok(*c)) {
        return Err(format!(
            "the session name `{name}` contains {bad:?}; allowed are letters, digits and _+=,.@-"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn detects_ci() {
        assert_eq!(
            Ci::detect(&env_of(&[("GITHUB_ACTIONS", "true")])),
            Ci::GitHub
        );
        assert_eq!(Ci::detect(&env_of(&[("GITLAB_CI", "true")])), Ci::GitLab);
        assert_eq!(Ci::detect(&env_of(&[("CIRCLECI", "true")])), Ci::Circle);
        assert_eq!(
            Ci::detect(&env_of(&[("BITBUCKET_BUILD_NUMBER", "7")])),
            Ci::Bitbucket
        );
        assert_eq!(Ci::detect(&env_of(&[("BUILDKITE", "true")])), Ci::Buildkite);
        assert_eq!(Ci::detect(&env_of(&[])), Ci::Unknown);
    }

    #[test]
    fn session_names_from_context() {
        let gl = env_of(&[
            ("CI_PROJECT_ID", "42"),
            ("CI_PIPELINE_ID", "1001"),
            ("CI_JOB_ID", "9"),
        ]);
        assert_eq!(Ci::GitLab.default_session_name(&gl, 0), "gl-42-1001-9");
        let gh = env_of(&[("GITHUB_RUN_ID", "777"), ("GITHUB_RUN_ATTEMPT", "2")]);
        assert_eq!(Ci::GitHub.default_session_name(&gh, 0), "gh-777-2");
        assert_eq!(
            Ci::Unknown.default_session_name(&env_of(&[]), 5),
            "aws-oidc-5"
        );
    }

    #[test]
    fn sanitizes() {
        assert_eq!(sanitize_session_name("my repo/main#1"), "my-repo-main-1");
        assert_eq!(sanitize_session_name("x"), "x-");
        assert_eq!(sanitize_session_name(""), "--");
        assert_eq!(sanitize_session_name(&"a".repeat(100)).len(), 64);
        assert_eq!(sanitize_session_name("ünï"), "-n-");
        assert_eq!(sanitize_session_name("a+=,.@_-b"), "a+=,.@_-b");
    }

    #[test]
    fn validates_explicit_names() {
        assert!(validate_session_name("deploy@prod").is_ok());
        assert!(validate_session_name("a").is_err());
        assert!(validate_session_name(&"a".repeat(65)).is_err());
        assert!(
            validate_session_name("has space")
                .unwrap_err()
                .contains("' '")
        );
    }

    #[test]
    fn job_urls() {
        let gh = env_of(&[
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "5"),
        ]);
        assert_eq!(
            Ci::GitHub.job_url(&gh).unwrap(),
            "https://github.com/o/r/actions/runs/5"
        );
        assert_eq!(Ci::GitHub.job_url(&env_of(&[])), None);
        let gl = env_of(&[("CI_JOB_URL", "https://gitlab.com/g/p/-/jobs/9")]);
        assert_eq!(
            Ci::GitLab.job_url(&gl).unwrap(),
            "https://gitlab.com/g/p/-/jobs/9"
        );
    }
}
