//! The command line of the diagnosis commands (`token`, `trust-policy`, `explain`); every
//! option has an `AWS_OIDC_*` environment variable, and the token options keep the names and
//! variables of `assume`.

use clap::{Args, Subcommand, ValueEnum};

pub use crate::args::TokenArgs;
use crate::ci::{Ci, TrustRequest};

/// The diagnosis subcommands, flattened into the top-level command list.
#[derive(Debug, Subcommand)]
pub enum Diagnose {
    /// Show the job's ID token (header, claims, times, IAM condition keys) without the token itself.
    Token(TokenCommandArgs),
    /// Generate a trust policy for a CI and scope, or the tightest one that admits a real token.
    TrustPolicy(Box<TrustPolicyArgs>),
    /// Explain whether a trust policy lets this job's token assume the role, and what to change.
    #[command(
        after_help = "Exit status (specific to explain): 0 allowed, 1 denied (or undecidable offline), \
        2 usage or input error (bad JSON, unreadable file), 3 no usable ID token."
    )]
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct TokenCommandArgs {
    #[command(flatten)]
    pub token: TokenArgs,

    /// Print JSON instead of text.
    #[arg(long, env = "AWS_OIDC_JSON")]
    pub json: bool,

    /// Print the raw token on stdout and nothing else. It is a credential: never log it.
    #[arg(long, env = "AWS_OIDC_TOKEN_RAW", conflicts_with = "json")]
    pub raw: bool,

    /// Account id for the provider ARN shown [default: a placeholder].
    #[arg(long, env = "AWS_OIDC_ACCOUNT", value_name = "ID")]
    pub account: Option<String>,

    /// Partition for the provider ARN shown.
    #[arg(
        long,
        env = "AWS_OIDC_PARTITION",
        value_name = "PARTITION",
        default_value = "aws"
    )]
    pub partition: String,

    #[command(flatten)]
    pub network: crate::args::NetworkArgs,

    #[command(flatten)]
    pub log: crate::args::LogArgs,
}

/// What `trust-policy` prints on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The trust policy JSON.
    Policy,
    /// The `aws iam create-open-id-connect-provider` command.
    Cli,
    /// Terraform: the OIDC provider and a role with this trust policy.
    Terraform,
    /// CloudFormation (YAML): the OIDC provider and a role with this trust policy.
    Cloudformation,
}

#[derive(Debug, Args)]
pub struct TrustPolicyArgs {
    /// The CI system the role is for.
    #[arg(
        long,
        value_enum,
        env = "AWS_OIDC_TRUST_CI",
        required_unless_present = "from_token"
    )]
    pub ci: Option<Ci>,

    /// Propose the tightest policy that admits this job's token (exact sub and aud).
    #[arg(long, env = "AWS_OIDC_TRUST_FROM_TOKEN", conflicts_with = "ci")]
    pub from_token: bool,

    #[command(flatten)]
    pub token: TokenArgs,

    /// The role's AWS account id (where the OIDC provider lives).
    #[arg(long, env = "AWS_OIDC_ACCOUNT", value_name = "ID")]
    pub account: String,

    /// The role's partition (aws, aws-cn, aws-us-gov, aws-iso*, aws-eusc).
    #[arg(
        long,
        env = "AWS_OIDC_PARTITION",
        value_name = "PARTITION",
        default_value = "aws"
    )]
    pub partition: String,

    /// The issuer URL [default: the CI's, e.g. https://token.actions.githubusercontent.com, https://gitlab.com].
    #[arg(long, env = "AWS_OIDC_TRUST_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,

    /// GitHub: the repository, owner/name.
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_REPO",
        value_name = "OWNER/NAME",
        help_heading = "GitHub"
    )]
    pub repo: Option<String>,

    /// GitHub: only pull_request workflows.
    #[arg(long, env = "AWS_OIDC_TRUST_PULL_REQUEST", help_heading = "GitHub")]
    pub pull_request: bool,

    /// GitLab: the project path, group[/subgroup]/project.
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_PROJECT",
        value_name = "PATH",
        help_heading = "GitLab"
    )]
    pub project: Option<String>,

    /// Only this branch (repeatable; wildcards * ? allowed).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_BRANCH",
        value_name = "NAME",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub branch: Vec<String>,

    /// Only this tag (repeatable; wildcards * ? allowed).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_TAG",
        value_name = "NAME",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub tag: Vec<String>,

    /// Only jobs of this deployment environment (GitHub; GitLab cannot enforce it in IAM).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_ENVIRONMENT",
        value_name = "NAME",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub environment: Vec<String>,

    /// An exact or wildcard subject to admit, for customised sub claims (repeatable).
    #[arg(
        long = "sub",
        env = "AWS_OIDC_TRUST_SUB",
        value_name = "SUB",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub subs: Vec<String>,

    /// CircleCI: the organization id (UUID).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_ORG_ID",
        value_name = "UUID",
        help_heading = "CircleCI"
    )]
    pub org_id: Option<String>,

    /// CircleCI: the project id (UUID).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_PROJECT_ID",
        value_name = "UUID",
        help_heading = "CircleCI"
    )]
    pub project_id: Option<String>,

    /// Buildkite: the organization slug.
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_ORGANIZATION",
        value_name = "SLUG",
        help_heading = "Buildkite"
    )]
    pub organization: Option<String>,

    /// Buildkite: the pipeline slug.
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_PIPELINE",
        value_name = "SLUG",
        help_heading = "Buildkite"
    )]
    pub pipeline: Option<String>,

    /// Bitbucket: the workspace name (part of the issuer URL).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_WORKSPACE",
        value_name = "NAME",
        help_heading = "Bitbucket"
    )]
    pub workspace: Option<String>,

    /// Bitbucket: the workspace UUID (the default audience).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_WORKSPACE_UUID",
        value_name = "UUID",
        help_heading = "Bitbucket"
    )]
    pub workspace_uuid: Option<String>,

    /// Bitbucket: the repository UUID (the start of sub).
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_REPO_UUID",
        value_name = "UUID",
        help_heading = "Bitbucket"
    )]
    pub repo_uuid: Option<String>,

    /// What to print on stdout; the others go to stderr as a reminder unless --quiet.
    #[arg(
        long,
        value_enum,
        env = "AWS_OIDC_TRUST_FORMAT",
        default_value = "policy"
    )]
    pub format: OutputFormat,

    #[command(flatten)]
    pub network: crate::args::NetworkArgs,

    #[command(flatten)]
    pub log: crate::args::LogArgs,
}

impl TrustPolicyArgs {
    /// The scope options as the plain request `policy::generate` takes.
    pub fn request(&self) -> TrustRequest {
        TrustRequest {
            ci: self.ci,
            issuer: self.issuer.clone(),
            audience: self.token.audience.clone(),
            branch: self.branch.clone(),
            tag: self.tag.clone(),
            environment: self.environment.clone(),
            pull_request: self.pull_request,
            subs: self.subs.clone(),
            repo: self.repo.clone(),
            project: self.project.clone(),
            org_id: self.org_id.clone(),
            project_id: self.project_id.clone(),
            organization: self.organization.clone(),
            pipeline: self.pipeline.clone(),
            workspace: self.workspace.clone(),
            workspace_uuid: self.workspace_uuid.clone(),
            repo_uuid: self.repo_uuid.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub token: TokenArgs,

    /// The trust policy: a JSON file or - for stdin (a policy document, or `aws iam get-role` output).
    #[arg(long, env = "AWS_OIDC_TRUST_POLICY", value_name = "FILE|-")]
    pub trust_policy: String,

    /// The role (its account and partition are checked against Principal.Federated).
    #[arg(long, env = "AWS_OIDC_ROLE_ARN", value_name = "ARN")]
    pub role_arn: Option<String>,

    /// The role's account, when the role ARN is not given.
    #[arg(long, env = "AWS_OIDC_ACCOUNT", value_name = "ID")]
    pub account: Option<String>,

    /// The role's partition, when the role ARN is not given.
    #[arg(long, env = "AWS_OIDC_PARTITION", value_name = "PARTITION")]
    pub partition: Option<String>,

    /// Print JSON instead of text.
    #[arg(long, env = "AWS_OIDC_JSON")]
    pub json: bool,

    #[command(flatten)]
    pub network: crate::args::NetworkArgs,

    #[command(flatten)]
    pub log: crate::args::LogArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: TrustPolicyArgs,
    }

    /// Every scope option reaches the request under its own name.
    #[test]
    fn trust_policy_options_fill_the_request() {
        let argv = [
            "--ci",
            "bitbucket",
            "--issuer",
            "https://i",
            "--audience",
            "a",
            "--branch",
            "b1,b2",
            "--tag",
            "t",
            "--environment",
            "e",
            "--pull-request",
            "--sub",
            "s",
            "--repo",
            "o/r",
            "--project",
            "g/p",
            "--org-id",
            "O",
            "--project-id",
            "P",
            "--organization",
            "acme",
            "--pipeline",
            "deploy",
            "--workspace",
            "w",
            "--workspace-uuid",
            "wu",
            "--repo-uuid",
            "ru",
        ];
        let mut v = vec!["t", "--account", "123456789012"];
        v.extend_from_slice(&argv);
        let parsed = T::try_parse_from(v).unwrap().args.request();
        assert_eq!(parsed, TrustRequest::from_flags(&argv));
        assert_eq!(parsed.ci, Some(crate::ci::bitbucket::CI));
        assert_eq!(parsed.branch, ["b1", "b2"]);
        for ci in ["github", "gitlab", "circleci", "buildkite", "bitbucket"] {
            let v = ["t", "--account", "123456789012", "--ci", ci];
            assert_eq!(
                T::try_parse_from(v).unwrap().args.ci.unwrap().id(),
                Some(ci)
            );
        }
    }
}
