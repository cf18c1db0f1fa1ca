//! Realistic trust-policy cases, table-driven: GitHub branches, tags, environments, pull
//! requests, reusable workflows, customised subs and case differences; GitLab refs, protected
//! refs, self-managed issuers with a path, StringEquals with a wildcard; wrong audience, wrong
//! provider, wrong account, Deny statements, session tags. Each asserts the verdict and the
//! part that fails. Then every generated policy must admit its token and refuse a neighbour.

use serde_json::{Value, json};

use super::document::{self as policy, Tri, Verdict};
use super::explain::{self, Explanation, Scope};
use super::generate;
use super::keys::{Context, Lookup, TAGS_CLAIM};
use crate::aws::partition::Partition;
use crate::ci::TrustRequest;
use crate::token::IdToken;
use crate::token::jwt::{Claims, fake_jwt};

const ACCOUNT: &str = "123456789012";
const GH: &str = "token.actions.githubusercontent.com";
const AUD: &str = "sts.amazonaws.com";

fn claims(v: &Value) -> Claims {
    IdToken::parse(&fake_jwt(v)).unwrap().claims
}

fn github(sub: &str) -> Value {
    json!({
        "iss": format!("https://{GH}"), "aud": AUD, "sub": sub,
        "repository": "acme/app", "repository_owner": "acme", "ref": "refs/heads/main",
        "job_workflow_ref": "acme/app/.github/workflows/ci.yml@refs/heads/main",
        "iat": 1, "exp": 2
    })
}

fn gitlab(iss: &str, sub: &str) -> Value {
    json!({
        "iss": iss, "aud": AUD, "sub": sub, "project_path": "acme/app",
        "ref_protected": "true", "environment": "production", "iat": 1, "exp": 2
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// One Allow statement for `provider` with `condition`.
fn allow(provider: &str, condition: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "CI",
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition
    }]})
}

fn gh_allow(op: &str, sub: Value) -> Value {
    let mut condition = json!({"StringEquals": {format!("{GH}:aud"): AUD}});
    condition[op][format!("{GH}:sub")] = sub;
    allow(GH, condition)
}

fn scope() -> Scope {
    Scope {
        partition: Some(Partition::Aws),
        account: Some(ACCOUNT.into()),
    }
}

fn run(policy: &Value, token: &Value) -> Explanation {
    let p = policy::parse(&policy.to_string()).unwrap();
    let c = claims(token);
    explain::explain(&p, &c, &Context::from_claims(&c), &scope())
}

/// What a case expects: the verdict, a fragment of the failing part (a condition key,
/// "Principal", "Action", "Deny") and a fragment of the proposed edit or warning.
struct Case {
    name: &'static str,
    policy: Value,
    token: Value,
    verdict: Verdict,
    failing: Option<&'static str>,
    advice: Option<&'static str>,
}

fn check(case: &Case) {
    let x = run(&case.policy, &case.token);
    let report = explain::render_text(&x, case.name);
    assert_eq!(x.verdict, case.verdict, "{}: verdict\n{report}", case.name);
    let failing = explain::failing_lines(&x).join("\n");
    if let Some(f) = case.failing {
        assert!(
            failing.contains(f),
            "{}: failing part {f:?} not in\n{failing}\n{report}",
            case.name
        );
    } else {
        assert!(
            failing.is_empty(),
            "{}: unexpected failures\n{failing}",
            case.name
        );
    }
    if let Some(a) = case.advice {
        let advice: Vec<String> = x
            .edits
            .iter()
            .flat_map(|e| std::iter::once(e.text.clone()).chain(e.warning.clone()))
            .chain(x.warnings.clone())
            .chain(x.notes.clone())
            .collect();
        assert!(
            advice.iter().any(|l| l.contains(a)),
            "{}: advice {a:?} not in {advice:#?}\n{report}",
            case.name
        );
    }
}

#[test]
fn realistic_cases() {
    let main = "repo:acme/app:ref:refs/heads/main";
    let gl_main = "project_path:acme/app:ref_type:branch:ref:main";
    let cases = vec![
        Case {
            name: "github: the branch the policy names",
            policy: gh_allow("StringEquals", json!(main)),
            token: github(main),
            verdict: Verdict::Allowed,
            failing: None,
            advice: None,
        },
        Case {
            name: "github: another branch",
            policy: gh_allow("StringEquals", json!(main)),
            token: github("repo:acme/app:ref:refs/heads/feature"),
            verdict: Verdict::ImplicitDeny,
            failing: Some("token.actions.githubusercontent.com:sub"),
            advice: Some(
                "add `repo:acme/app:ref:refs/heads/feature` to `token.actions.githubusercontent.com:sub`",
            ),
        },
        Case {
            name: "github: release tags with StringLike",
            policy: gh_allow("StringLike", json!("repo:acme/app:ref:refs/tags/v*")),
            token: github("repo:acme/app:ref:refs/tags/v1.2.3"),
            verdict: Verdict::Allowed,
            failing: None,
            advice: Some("every tag of `acme/app`"),
        },
        Case {
            name: "github: a job with an environment has no ref in sub",
            policy: gh_allow("StringEquals", json!(main)),
            token: github("repo:acme/app:environment:production"),
            verdict: Verdict::ImplicitDeny,
            failing: Some("token.actions.githubusercontent.com:sub"),
            advice: Some("add `repo:acme/app:environment:production`"),
        },
        Case {
            name: "github: pull requests are not branches",
            policy: gh_allow("StringLike", json!("repo:acme/app:ref:refs/heads/*")),
            token: github("repo:acme/app:pull_request"),
            verdict: Verdict::ImplicitDeny,
            failing: Some("token.actions.githubusercontent.com:sub"),
            advice: Some("add `repo:acme/app:pull_request`"),
        },
        Case {
            name: "github: reusable workflow pinned by job_workflow_ref (not a condition key)",
            policy: allow(
                GH,
                json!({
                    "StringEquals": {format!("{GH}:aud"): AUD, format!("{GH}:sub"): main},
                    "StringLike": {format!("{GH}:job_workflow_ref"): "acme/shared/.github/workflows/deploy.yml@*"}
                }),
            ),
            token: with(
                github(main),
                "job_workflow_ref",
                json!("acme/shared/.github/workflows/deploy.yml@refs/heads/main"),
            ),
            verdict: Verdict::ImplicitDeny,
            failing: Some("job_workflow_ref"),
            advice: Some("IAM never provides the `job_workflow_ref` claim"),
        },
        Case {
            name: "github: reusable workflow in a customised sub",
            policy: gh_allow(
                "StringLike",
                json!(
                    "repo:acme/app:environment:production:job_workflow_ref:acme/shared/.github/workflows/*"
                ),
            ),
            token: github(
                "repo:acme/app:environment:production:job_workflow_ref:acme/shared/.github/workflows/deploy.yml@refs/heads/main",
            ),
            verdict: Verdict::Allowed,
            failing: None,
            advice: None,
        },
        Case {
            name: "github: repository spelled with other case",
            policy: gh_allow("StringEquals", json!(main)),
            token: github("repo:Acme/App:ref:refs/heads/main"),
            verdict: Verdict::ImplicitDeny,
            failing: Some("token.actions.githubusercontent.com:sub"),
            advice: Some("fix the case of `repo:acme/app:ref:refs/heads/main`"),
        },
        Case {
            name: "github: condition key names are case-insensitive",
            policy: allow(
                GH,
                json!({"StringEquals": {
                "Token.Actions.GitHubUserContent.com:Aud": AUD,
                "TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:SUB": main}}),
            ),
            token: github(main),
            verdict: Verdict::Allowed,
            failing: None,
            advice: None,
        },
        Case {
            name: "github: condition on repository, which IAM does not provide",
            policy: allow(
                GH,
                json!({"StringEquals": {format!("{GH}:aud"): AUD, format!("{GH}:repository"): "acme/app"}}),
            ),
            token: github(main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("token.actions.githubusercontent.com:repository"),
            advice: Some("remove `StringEquals token.actions.githubusercontent.com:repository`"),
        },
        Case {
            name: "github: IfExists on a key IAM does not provide restricts nothing",
            policy: allow(
                GH,
                json!({"StringEquals": {format!("{GH}:aud"): AUD},
                "StringEqualsIfExists": {format!("{GH}:repository"): "someone/else"}}),
            ),
            token: github(main),
            verdict: Verdict::Allowed,
            failing: None,
            advice: Some("always passes and restricts nothing"),
        },
        Case {
            name: "github: no sub condition admits every repository",
            policy: allow(GH, json!({"StringEquals": {format!("{GH}:aud"): AUD}})),
            token: github(main),
            verdict: Verdict::Allowed,
            failing: None,
            advice: Some("GitHub Actions workflow of any repository"),
        },
        Case {
            name: "github: wrong audience (GitHub's default aud)",
            policy: gh_allow("StringEquals", json!(main)),
            token: with(github(main), "aud", json!("https://github.com/acme")),
            verdict: Verdict::ImplicitDeny,
            failing: Some("token.actions.githubusercontent.com:aud"),
            advice: Some("client ID list must include `https://github.com/acme`"),
        },
        Case {
            name: "github: policy for GitLab (wrong provider)",
            policy: allow(
                "gitlab.com",
                json!({"StringEquals": {"gitlab.com:aud": AUD, "gitlab.com:sub": gl_main}}),
            ),
            token: github(main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("Principal"),
            advice: Some(
                "Principal.Federated must be `arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com`",
            ),
        },
        Case {
            name: "github: provider of another account",
            policy: {
                let mut p = gh_allow("StringEquals", json!(main));
                p["Statement"][0]["Principal"]["Federated"] =
                    json!(format!("arn:aws:iam::999999999999:oidc-provider/{GH}"));
                p
            },
            token: github(main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("999999999999"),
            advice: Some("arn:aws:iam::123456789012:oidc-provider/"),
        },
        Case {
            name: "github: Deny for pull requests wins",
            policy: {
                let mut p = gh_allow("StringLike", json!("repo:acme/app:*"));
                p["Statement"].as_array_mut().unwrap().push(json!({
                    "Sid": "NoPullRequests", "Effect": "Deny", "Principal": "*", "Action": "sts:*",
                    "Condition": {"StringLike": {format!("{GH}:sub"): "*:pull_request"}}}));
                p
            },
            token: github("repo:acme/app:pull_request"),
            verdict: Verdict::ExplicitDeny,
            failing: Some("Deny applies"),
            advice: Some("explicitly denies"),
        },
        Case {
            name: "github: the Deny does not touch main, but the Allow is broad",
            policy: {
                let mut p = gh_allow("StringLike", json!("repo:acme/app:*"));
                p["Statement"].as_array_mut().unwrap().push(json!({
                    "Effect": "Deny", "Principal": "*", "Action": "sts:*",
                    "Condition": {"StringLike": {format!("{GH}:sub"): "*:pull_request"}}}));
                p
            },
            token: github(main),
            verdict: Verdict::Allowed,
            failing: None,
            advice: Some("every branch, tag, environment and pull request"),
        },
        Case {
            name: "github: Action is AssumeRole, not the web-identity one",
            policy: {
                let mut p = gh_allow("StringEquals", json!(main));
                p["Statement"][0]["Action"] = json!("sts:AssumeRole");
                p
            },
            token: github(main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("Action"),
            advice: Some("add `sts:AssumeRoleWithWebIdentity` to Action"),
        },
        Case {
            name: "session tags need sts:TagSession",
            policy: gh_allow("StringEquals", json!(main)),
            token: with(
                github(main),
                TAGS_CLAIM,
                json!({"principal_tags": {"team": ["infra"]}}),
            ),
            verdict: Verdict::ImplicitDeny,
            failing: Some("sts:TagSession"),
            advice: Some("add `sts:TagSession` to Action"),
        },
        Case {
            name: "a network condition cannot be decided offline",
            policy: allow(
                GH,
                json!({"StringEquals": {format!("{GH}:aud"): AUD, format!("{GH}:sub"): main},
                "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            ),
            token: github(main),
            verdict: Verdict::Undetermined,
            failing: None,
            advice: Some("aws:SourceIp"),
        },
        Case {
            name: "gitlab: main branch",
            policy: allow(
                "gitlab.com",
                json!({"StringEquals": {"gitlab.com:aud": AUD, "gitlab.com:sub": gl_main}}),
            ),
            token: gitlab("https://gitlab.com", gl_main),
            verdict: Verdict::Allowed,
            failing: None,
            advice: None,
        },
        Case {
            name: "gitlab: a tag where the policy wants a branch",
            policy: allow(
                "gitlab.com",
                json!({"StringEquals": {"gitlab.com:aud": AUD, "gitlab.com:sub": gl_main}}),
            ),
            token: gitlab(
                "https://gitlab.com",
                "project_path:acme/app:ref_type:tag:ref:v1.0",
            ),
            verdict: Verdict::ImplicitDeny,
            failing: Some("gitlab.com:sub"),
            advice: Some("add `project_path:acme/app:ref_type:tag:ref:v1.0`"),
        },
        Case {
            name: "gitlab: StringEquals with a wildcard",
            policy: allow(
                "gitlab.com",
                json!({"StringEquals": {"gitlab.com:aud": AUD,
                "gitlab.com:sub": "project_path:acme/app:ref_type:tag:ref:v*"}}),
            ),
            token: gitlab(
                "https://gitlab.com",
                "project_path:acme/app:ref_type:tag:ref:v1.0",
            ),
            verdict: Verdict::ImplicitDeny,
            failing: Some("gitlab.com:sub"),
            advice: Some("from `StringEquals` to `StringLike`"),
        },
        Case {
            name: "gitlab: ref_protected is not a condition key",
            policy: allow(
                "gitlab.com",
                json!({"StringEquals": {"gitlab.com:aud": AUD, "gitlab.com:ref_protected": "true"},
                "StringLike": {"gitlab.com:sub": "project_path:acme/app:*"}}),
            ),
            token: gitlab("https://gitlab.com", gl_main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("gitlab.com:ref_protected"),
            advice: Some("IAM never provides the `ref_protected` claim"),
        },
        Case {
            name: "gitlab: self-managed issuer with a path, policy without it",
            policy: allow(
                "git.example.com",
                json!({"StringEquals": {"git.example.com:aud": AUD,
                "git.example.com:sub": gl_main}}),
            ),
            token: gitlab("https://git.example.com/gitlab", gl_main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("Principal"),
            advice: Some(
                "Federated must be `arn:aws:iam::123456789012:oidc-provider/git.example.com/gitlab`",
            ),
        },
        Case {
            name: "gitlab: self-managed issuer with a path, keys without it",
            policy: allow(
                "git.example.com/gitlab",
                json!({"StringEquals": {"git.example.com:aud": AUD,
                "git.example.com/gitlab:sub": gl_main}}),
            ),
            token: gitlab("https://git.example.com/gitlab", gl_main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("git.example.com:aud"),
            advice: Some("rename `git.example.com:aud` to `git.example.com/gitlab:aud`"),
        },
        Case {
            name: "gitlab: self-managed issuer with a path, all right",
            policy: allow(
                "git.example.com/gitlab",
                json!({"StringEquals": {"git.example.com/gitlab:aud": AUD,
                "git.example.com/gitlab:sub": gl_main}}),
            ),
            token: gitlab("https://git.example.com/gitlab", gl_main),
            verdict: Verdict::Allowed,
            failing: None,
            advice: None,
        },
        Case {
            name: "gitlab: excluded by StringNotLike",
            policy: allow(
                "gitlab.com",
                json!({"StringEquals": {"gitlab.com:aud": AUD},
                "StringLike": {"gitlab.com:sub": "project_path:acme/app:*"},
                "StringNotLike": {"gitlab.com:sub": "*:ref_type:branch:ref:main"}}),
            ),
            token: gitlab("https://gitlab.com", gl_main),
            verdict: Verdict::ImplicitDeny,
            failing: Some("StringNotLike gitlab.com:sub"),
            advice: Some("remove `*:ref_type:branch:ref:main`"),
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn absent_keys_say_why() {
    let x = run(
        &allow(
            GH,
            json!({"StringEquals": {format!("{GH}:environment"): "production"}}),
        ),
        &github("repo:acme/app:environment:production"),
    );
    let c = &x.evaluations[0].statements[0].conditions[0];
    assert_eq!(c.result, Tri::No);
    assert!(matches!(&c.lookup, Lookup::Absent(why) if why.contains("environment")));
}

// ---------------------------------------------------------------------------------------------
// The generator's policies admit their token and refuse a neighbour
// ---------------------------------------------------------------------------------------------

fn trust_args(argv: &[&str]) -> TrustRequest {
    TrustRequest::from_flags(argv)
}

fn verdict_for(policy_json: &str, partition: Partition, token: &Value) -> Verdict {
    let p = policy::parse(policy_json).unwrap();
    let c = claims(token);
    let scope = Scope {
        partition: Some(partition),
        account: Some(ACCOUNT.into()),
    };
    explain::explain(&p, &c, &Context::from_claims(&c), &scope).verdict
}

#[test]
fn generated_policies_admit_their_token_and_refuse_a_neighbour() {
    let circle = |project: &str| {
        json!({"iss": "https://oidc.circleci.com/org/O-1", "aud": "O-1",
            "sub": format!("org/O-1/project/{project}/user/U-9/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main")})
    };
    let buildkite = |pipeline: &str| {
        json!({"iss": "https://agent.buildkite.com", "aud": AUD,
            "sub": format!("organization:acme:pipeline:{pipeline}:ref:refs/heads/main:commit:abc123:step:deploy")})
    };
    let bitbucket = |repo: &str| {
        json!({"iss": "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
            "aud": "ari:cloud:bitbucket::workspace/w-1", "sub": format!("{{{repo}}}:{{s-1}}")})
    };
    let table: Vec<(&str, Vec<&str>, Value, Value)> = vec![
        (
            "github branch",
            vec!["--ci", "github", "--repo", "acme/app", "--branch", "main"],
            github("repo:acme/app:ref:refs/heads/main"),
            github("repo:acme/app:ref:refs/heads/feature"),
        ),
        (
            "github tag wildcard",
            vec!["--ci", "github", "--repo", "acme/app", "--tag", "v*"],
            github("repo:acme/app:ref:refs/tags/v1.2.0"),
            github("repo:acme/app:ref:refs/heads/v1"),
        ),
        (
            "github environment",
            vec![
                "--ci",
                "github",
                "--repo",
                "acme/app",
                "--environment",
                "prod",
            ],
            github("repo:acme/app:environment:prod"),
            github("repo:acme/app:environment:staging"),
        ),
        (
            "github pull request",
            vec!["--ci", "github", "--repo", "acme/app", "--pull-request"],
            github("repo:acme/app:pull_request"),
            github("repo:acme/app:ref:refs/heads/main"),
        ),
        (
            "github other repo",
            vec!["--ci", "github", "--repo", "acme/app"],
            github("repo:acme/app:ref:refs/heads/anything"),
            github("repo:acme/app2:ref:refs/heads/main"),
        ),
        (
            "github wrong audience",
            vec!["--ci", "github", "--repo", "acme/app", "--branch", "main"],
            github("repo:acme/app:ref:refs/heads/main"),
            with(
                github("repo:acme/app:ref:refs/heads/main"),
                "aud",
                json!("https://github.com/acme"),
            ),
        ),
        (
            "github enterprise server issuer",
            vec![
                "--ci",
                "github",
                "--repo",
                "acme/app",
                "--branch",
                "main",
                "--issuer",
                "https://ghe.example.com/_services/token",
            ],
            with(
                github("repo:acme/app:ref:refs/heads/main"),
                "iss",
                json!("https://ghe.example.com/_services/token"),
            ),
            github("repo:acme/app:ref:refs/heads/main"),
        ),
        (
            "gitlab branch",
            vec![
                "--ci",
                "gitlab",
                "--project",
                "acme/app",
                "--branch",
                "main",
            ],
            gitlab(
                "https://gitlab.com",
                "project_path:acme/app:ref_type:branch:ref:main",
            ),
            gitlab(
                "https://gitlab.com",
                "project_path:acme/app:ref_type:tag:ref:main",
            ),
        ),
        (
            "gitlab self-managed tags",
            vec![
                "--ci",
                "gitlab",
                "--project",
                "acme/app",
                "--tag",
                "v*",
                "--issuer",
                "https://git.example.com/gitlab",
            ],
            gitlab(
                "https://git.example.com/gitlab",
                "project_path:acme/app:ref_type:tag:ref:v2.0",
            ),
            gitlab(
                "https://gitlab.com",
                "project_path:acme/app:ref_type:tag:ref:v2.0",
            ),
        ),
        (
            "gitlab subgroup",
            vec![
                "--ci",
                "gitlab",
                "--project",
                "acme/team/app",
                "--branch",
                "release/*",
            ],
            gitlab(
                "https://gitlab.com",
                "project_path:acme/team/app:ref_type:branch:ref:release/1.4",
            ),
            gitlab(
                "https://gitlab.com",
                "project_path:acme/team/app2:ref_type:branch:ref:release/1.4",
            ),
        ),
        (
            "circleci project",
            vec!["--ci", "circleci", "--org-id", "O-1", "--project-id", "P-1"],
            circle("P-1"),
            circle("P-2"),
        ),
        (
            "circleci branch",
            vec![
                "--ci",
                "circleci",
                "--org-id",
                "O-1",
                "--project-id",
                "P-1",
                "--branch",
                "main",
            ],
            circle("P-1"),
            with(
                circle("P-1"),
                "sub",
                json!(
                    "org/O-1/project/P-1/user/U-9/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/dev"
                ),
            ),
        ),
        (
            "buildkite pipeline",
            vec![
                "--ci",
                "buildkite",
                "--organization",
                "acme",
                "--pipeline",
                "deploy",
                "--branch",
                "main",
            ],
            buildkite("deploy"),
            buildkite("deploy-preview"),
        ),
        (
            "bitbucket repository",
            vec![
                "--ci",
                "bitbucket",
                "--workspace",
                "acme",
                "--workspace-uuid",
                "w-1",
                "--repo-uuid",
                "r-1",
            ],
            bitbucket("r-1"),
            bitbucket("r-2"),
        ),
    ];
    for (name, argv, good, neighbour) in &table {
        let trust = generate::for_ci(&trust_args(argv), Partition::Aws)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = trust.policy_json(Partition::Aws, ACCOUNT);
        assert_eq!(
            verdict_for(&json, Partition::Aws, good),
            Verdict::Allowed,
            "{name}: admits\n{json}"
        );
        assert_eq!(
            verdict_for(&json, Partition::Aws, neighbour),
            Verdict::ImplicitDeny,
            "{name}: refuses the neighbour\n{json}"
        );
    }
}

#[test]
fn from_token_is_the_tightest_policy() {
    let tokens = [
        github("repo:acme/app:ref:refs/heads/main"),
        gitlab(
            "https://git.example.com/gitlab",
            "project_path:acme/app:ref_type:tag:ref:v1.0",
        ),
        with(
            github("repo:acme/app:ref:refs/heads/main"),
            TAGS_CLAIM,
            json!({"principal_tags": {"team": ["infra"]}}),
        ),
        // A sub with a literal `*` is compared exactly.
        with(
            github("repo:acme/app:ref:refs/heads/main"),
            "sub",
            json!("repo:acme/app:ref:refs/heads/a*b"),
        ),
    ];
    for token in &tokens {
        let trust = generate::from_claims(&claims(token)).unwrap();
        let json = trust.policy_json(Partition::AwsUsGov, ACCOUNT);
        assert!(
            json.contains("arn:aws-us-gov:iam::123456789012:oidc-provider/"),
            "{json}"
        );
        assert!(
            !json.contains("StringLike"),
            "exact subjects use StringEquals\n{json}"
        );
        assert_eq!(
            verdict_for(&json, Partition::AwsUsGov, token),
            Verdict::Allowed,
            "{json}"
        );
        let mut neighbour = token.clone();
        neighbour["sub"] = json!(format!("{}x", token["sub"].as_str().unwrap()));
        assert_eq!(
            verdict_for(&json, Partition::AwsUsGov, &neighbour),
            Verdict::ImplicitDeny,
            "{json}"
        );
        let mut other_aud = token.clone();
        other_aud["aud"] = json!("something-else");
        assert_eq!(
            verdict_for(&json, Partition::AwsUsGov, &other_aud),
            Verdict::ImplicitDeny,
            "{json}"
        );
    }
    let tagged = generate::from_claims(&claims(&tokens[2])).unwrap();
    assert!(
        tagged
            .policy_json(Partition::Aws, ACCOUNT)
            .contains("sts:TagSession")
    );
    let reusable = generate::from_claims(&claims(&with(
        github("repo:acme/app:ref:refs/heads/main"),
        "job_workflow_ref",
        json!("acme/shared/.github/workflows/deploy.yml@refs/heads/main"),
    )))
    .unwrap();
    assert!(
        reusable
            .notes
            .iter()
            .any(|n| n.contains("acme/shared/.github/workflows/deploy.yml"))
    );
}
