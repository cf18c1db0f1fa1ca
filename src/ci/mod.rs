//! Which CI system the job runs in, and everything that follows from it.
//!
//! Each CI owns one file (`github.rs`, `gitlab.rs`, …) implementing [`CiSystem`]: how it is
//! detected, where it puts the ID token, the default session name and job URL, its issuer and
//! audience, the `sub` grammar `trust-policy` writes, and its hints. This module holds the
//! list of them ([`ALL`], whose order is both the detection order and the token-source
//! precedence), the [`Ci`] handle the rest of the code passes around (also the values of
//! `trust-policy --ci`), and the helpers every CI shares (session names, trust-policy scope).
//!
//! Adding a CI: a new file with its tests, its `mod` line and one line in [`ALL`].

pub mod bitbucket;
pub mod buildkite;
pub mod circleci;
pub mod generic;
pub mod github;
pub mod gitlab;

use std::path::PathBuf;

use crate::env::Env;
use crate::secret::Secret;

/// Every CI aws-oidc knows, in detection order, which is also the order in which their
/// token sources are tried. `generic` (no known CI) is last and always matches.
pub const ALL: &[Ci] = &[
    github::CI,
    gitlab::CI,
    circleci::CI,
    bitbucket::CI,
    buildkite::CI,
    generic::CI,
];

/// Everything aws-oidc knows about one CI system.
pub trait CiSystem: Sync {
    /// The `trust-policy --ci` value (`github`, …); `None` for a CI that cannot be named.
    fn id(&self) -> Option<&'static str>;

    /// The name shown to people (`GitHub Actions`).
    fn name(&self) -> &'static str;

    /// Whether the environment says the job runs in this CI.
    fn detect(&self, env: &Env) -> bool;

    /// The token this CI offers, tried in [`ALL`] order; `detected` is the CI the job was
    /// detected in (some sources, such as an agent command, only count there).
    fn token(&self, _env: &Env, _detected: Ci) -> Option<Result<TokenOffer, Ambiguous>> {
        None
    }

    /// The sources [`CiSystem::token`] looks at, for the "no token found" hint.
    fn token_sources(&self) -> &'static [&'static str];

    /// The error message when the job runs here and no token was found.
    fn missing_token(&self) -> String {
        format!("no ID token found ({})", self.name())
    }

    /// What to do when the job runs here and no token was found.
    fn missing_token_hints(&self, _audience: &str) -> Vec<String> {
        generic::hints_for_any_ci()
    }

    /// A session name that ties CloudTrail entries to the job, before sanitising.
    fn default_session_name(&self, env: &Env, now: i64) -> String;

    /// The job's web page, when the CI says it (the console URL's `Issuer`).
    fn job_url(&self, _env: &Env) -> Option<String> {
        None
    }

    /// The trust policy's issuer, audience and subjects for `trust-policy --ci`.
    fn trust(&self, request: &TrustRequest, default_audience: &str) -> Result<TrustDraft, String>;

    /// Who else the CI's shared issuer signs tokens for, when `provider` is that issuer
    /// (for "admits every …" warnings).
    fn shared_issuer_serves(&self, _provider: &str) -> Option<&'static str> {
        None
    }

    /// How the CI lets a project put more claims into `sub`, when `provider` is its issuer.
    fn sub_customisation(&self, _provider: &str) -> Option<&'static str> {
        None
    }

    /// The CI's short name when its tokens live only minutes (for the "token expired" hint).
    fn short_lived_tokens(&self) -> Option<&'static str> {
        None
    }

    /// The shape of a `sub` that names a repository or project, if this CI's does.
    fn sub_grammar(&self) -> Option<SubGrammar> {
        None
    }
}

/// A CI system: a handle on its [`CiSystem`] facts, cheap to copy and compare.
#[derive(Clone, Copy)]
pub struct Ci(&'static dyn CiSystem);

impl Ci {
    /// The CI the environment names: the first of [`ALL`] that detects itself.
    pub fn detect(env: &Env) -> Ci {
        ALL.iter()
            .copied()
            .find(|ci| ci.detect(env))
            .unwrap_or(generic::CI)
    }
}

impl std::ops::Deref for Ci {
    type Target = dyn CiSystem;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for Ci {
    fn eq(&self, other: &Ci) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Ci {}

impl std::fmt::Debug for Ci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `--ci` values: every CI of [`ALL`] that has an id, in that order.
impl clap::ValueEnum for Ci {
    fn value_variants<'a>() -> &'a [Self] {
        // `generic` has no `--ci` value: `to_possible_value` skips it.
        ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        self.id().map(clap::builder::PossibleValue::new)
    }
}

/// `github, gitlab, …`: the `--ci` values, for messages.
pub fn choices() -> String {
    ALL.iter()
        .filter_map(|ci| ci.id())
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/// Where a CI put the job's ID token (the token module turns it into a source and fetches it).
#[derive(Clone, Debug)]
pub enum TokenOffer {
    /// GitHub Actions' token endpoint and the request token that opens it.
    GitHubEndpoint { url: String, request_token: Secret },
    /// An environment variable holding the token.
    Variable(String),
    /// A file holding the token.
    File(PathBuf),
    /// `buildkite-agent oidc request-token`.
    BuildkiteAgent,
}

/// Several variables hold a token and none is preferred: their names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ambiguous(pub Vec<String>);

/// The first token a CI of [`ALL`] offers, in that order.
pub fn token_offer(env: &Env) -> Option<Result<TokenOffer, Ambiguous>> {
    let detected = Ci::detect(env);
    ALL.iter().find_map(|ci| ci.token(env, detected))
}

/// The first of `names` that is set and not blank, as a [`TokenOffer::Variable`].
fn first_variable(env: &Env, names: &[&str]) -> Option<Result<TokenOffer, Ambiguous>> {
    names
        .iter()
        .find(|name| env.get(name).is_some())
        .map(|name| Ok(TokenOffer::Variable(name.to_string())))
}

// ---------------------------------------------------------------------------------------------
// Trust policies
// ---------------------------------------------------------------------------------------------

/// What `trust-policy --ci` is asked for, as plain data (the command layer fills it from its
/// options; the option names appear in messages).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustRequest {
    pub ci: Option<Ci>,
    /// `--issuer`: instead of the CI's default.
    pub issuer: Option<String>,
    /// `--audience`: instead of the CI's default.
    pub audience: Option<String>,
    pub branch: Vec<String>,
    pub tag: Vec<String>,
    pub environment: Vec<String>,
    pub pull_request: bool,
    /// `--sub`: subjects admitted as given.
    pub subs: Vec<String>,
    /// GitHub `--repo`.
    pub repo: Option<String>,
    /// GitLab `--project`.
    pub project: Option<String>,
    /// CircleCI `--org-id`, `--project-id`.
    pub org_id: Option<String>,
    pub project_id: Option<String>,
    /// Buildkite `--organization`, `--pipeline`.
    pub organization: Option<String>,
    pub pipeline: Option<String>,
    /// Bitbucket `--workspace`, `--workspace-uuid`, `--repo-uuid`.
    pub workspace: Option<String>,
    pub workspace_uuid: Option<String>,
    pub repo_uuid: Option<String>,
}

impl TrustRequest {
    /// Whether any of --branch, --tag, --environment, --pull-request narrows the policy.
    pub fn scoped(&self) -> bool {
        !self.branch.is_empty()
            || !self.tag.is_empty()
            || !self.environment.is_empty()
            || self.pull_request
    }

    /// `--issuer` or the CI's default.
    fn issuer_or(&self, default: impl FnOnce() -> String) -> String {
        self.issuer.clone().unwrap_or_else(default)
    }

    /// `--audience` or the default.
    fn audience_or(&self, default: impl FnOnce() -> String) -> String {
        self.audience.clone().unwrap_or_else(default)
    }

    /// A request read from `trust-policy`-style flags (tests).
    #[cfg(test)]
    pub fn from_flags(argv: &[&str]) -> TrustRequest {
        let mut r = TrustRequest::default();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            if *flag == "--pull-request" {
                r.pull_request = true;
                continue;
            }
            let value = it.next().expect("a value").to_string();
            let split = || value.split(',').map(str::to_string).collect::<Vec<_>>();
            match *flag {
                "--ci" => r.ci = Some(*ALL.iter().find(|c| c.id() == Some(&value)).unwrap()),
                "--issuer" => r.issuer = Some(value),
                "--audience" => r.audience = Some(value),
                "--branch" => r.branch.extend(split()),
                "--tag" => r.tag.extend(split()),
                "--environment" => r.environment.extend(split()),
                "--sub" => r.subs.extend(split()),
                "--repo" => r.repo = Some(value),
                "--project" => r.project = Some(value),
                "--org-id" => r.org_id = Some(value),
                "--project-id" => r.project_id = Some(value),
                "--organization" => r.organization = Some(value),
                "--pipeline" => r.pipeline = Some(value),
                "--workspace" => r.workspace = Some(value),
                "--workspace-uuid" => r.workspace_uuid = Some(value),
                "--repo-uuid" => r.repo_uuid = Some(value),
                "--account" => {}
                other => panic!("unknown flag {other}"),
            }
        }
        r
    }
}

/// A CI's part of a trust policy; `policy::generate` adds `--sub`, checks the issuer and
/// warns about breadth.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustDraft {
    pub issuer: String,
    pub audience: String,
    pub subs: Vec<String>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

/// The option `flag` for `--ci ci`, which must be given.
fn need<'a>(value: &'a Option<String>, flag: &str, ci: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("--ci {ci} needs {flag}"))
}

/// Checks that `value` is a path of at least two non-empty parts (`owner/name`).
fn path_like(value: &str, flag: &str, example: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split('/').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) || value.contains(':') {
        return Err(format!("{flag} `{value}` must look like {example}"));
    }
    Ok(())
}

/// Rejects scope options that mean nothing for `ci`.
fn refuse(request: &TrustRequest, ci: &str, flags: &[&str]) -> Result<(), String> {
    for flag in flags {
        let given = match *flag {
            "--branch" => !request.branch.is_empty(),
            "--tag" => !request.tag.is_empty(),
            "--environment" => !request.environment.is_empty(),
            "--pull-request" => request.pull_request,
            _ => false,
        };
        if given {
            return Err(format!(
                "{flag} does not apply to --ci {ci}: its sub claim does not carry it (use --sub or --from-token)"
            ));
        }
    }
    Ok(())
}

/// How a CI's `sub` names a repository or project, and its branches and tags
/// (`repo:<owner>/<name>:ref:refs/heads/<branch>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubGrammar {
    /// What `sub` starts with (`repo:`).
    pub prefix: &'static str,
    /// What the path after it names (`repository`).
    pub holder: &'static str,
    /// What marks a branch in the rest (`refs/heads/`).
    pub branch: &'static str,
    /// What marks a tag in the rest (`refs/tags/`).
    pub tag: &'static str,
}

/// Who else the shared issuer `provider` signs tokens for.
pub fn shared_issuer_serves(provider: &str) -> &'static str {
    ALL.iter()
        .find_map(|ci| ci.shared_issuer_serves(provider))
        .unwrap_or("job this issuer signs tokens for")
}

/// How the issuer `provider` lets a project customise `sub` (empty when it does not say).
pub fn sub_customisation(provider: &str) -> &'static str {
    ALL.iter()
        .find_map(|ci| ci.sub_customisation(provider))
        .unwrap_or("")
}

/// The `sub` grammars of every CI that has one, in [`ALL`] order.
pub fn sub_grammars() -> impl Iterator<Item = SubGrammar> {
    ALL.iter().filter_map(|ci| ci.sub_grammar())
}

/// `GitHub and Buildkite`: the CIs whose tokens live only minutes, in [`ALL`] order.
pub fn short_lived_tokens() -> String {
    let names: Vec<&str> = ALL
        .iter()
        .filter_map(|ci| ci.short_lived_tokens())
        .collect();
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `provider` (`host/path`) is the issuer URL `issuer` without `https://`.
fn is_issuer(provider: &str, issuer: &str) -> bool {
    issuer.strip_prefix("https://") == Some(provider)
}

// ---------------------------------------------------------------------------------------------
// Session names
// ---------------------------------------------------------------------------------------------

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

/// A variable for a session name, `0` when unset.
fn var_or_zero(env: &Env, key: &str) -> String {
    env.get(key).unwrap_or("0").to_string()
}

#[cfg(test)]
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_order_is_the_list() {
        assert_eq!(Ci::detect(&env_of(&[])), generic::CI);
        // A job that looks like two CIs is the first one of the list.
        let both = env_of(&[("BITBUCKET_BUILD_NUMBER", "7"), ("BUILDKITE", "true")]);
        assert_eq!(Ci::detect(&both), bitbucket::CI);
        let both = env_of(&[("GITLAB_CI", "true"), ("GITHUB_ACTIONS", "true")]);
        assert_eq!(Ci::detect(&both), github::CI);
        assert_eq!(ALL.last(), Some(&generic::CI));
    }

    #[test]
    fn every_named_ci_is_a_choice() {
        use clap::ValueEnum;
        let values: Vec<String> = Ci::value_variants()
            .iter()
            .filter_map(|c| c.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(
            values,
            ["github", "gitlab", "circleci", "bitbucket", "buildkite"]
        );
        assert_eq!(choices(), values.join(", "));
        let names: std::collections::BTreeSet<_> = ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ALL.len(), "names tell the CIs apart");
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
    fn shared_issuers() {
        assert_eq!(
            shared_issuer_serves("token.actions.githubusercontent.com"),
            "GitHub Actions workflow of any repository on GitHub"
        );
        assert_eq!(
            shared_issuer_serves("ci.example.com"),
            "job this issuer signs tokens for"
        );
        assert_eq!(sub_customisation("ci.example.com"), "");
        assert_eq!(short_lived_tokens(), "GitHub and Buildkite");
        assert_eq!(
            sub_grammars().map(|g| g.prefix).collect::<Vec<_>>(),
            ["repo:", "project_path:"]
        );
    }
}
