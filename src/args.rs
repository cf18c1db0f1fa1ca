//! The option groups several commands share (`RoleArgs`, `TokenArgs`, `NetworkArgs`, `LogArgs`,
//! `ConsoleArgs`) and their defaults. Each command's own options live in its file under
//! `commands/`; every option has an `AWS_OIDC_*` environment variable and a doc comment that
//! is its `--help` text.

use std::path::PathBuf;

use clap::Args;

/// `--duration`'s default, in seconds.
pub const DEFAULT_DURATION: i32 = 3600;
/// `--max-attempts`' default.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// `--timeout`'s default, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

#[derive(Clone, Debug, Args)]
pub struct RoleArgs {
    /// The role to assume with the ID token (assume: repeat it for several roles).
    #[arg(
        long,
        env = "AWS_OIDC_ROLE_ARN",
        value_name = "ARN",
        value_delimiter = ',',
        help_heading = "Role"
    )]
    pub role_arn: Vec<String>,

    /// Role session name [default: from the CI job, e.g. gl-<project>-<pipeline>-<job>].
    #[arg(
        long,
        env = "AWS_OIDC_SESSION_NAME",
        value_name = "NAME",
        help_heading = "Role"
    )]
    pub session_name: Option<String>,

    /// Session duration in seconds (900-43200; at most 3600 for a chained role).
    #[arg(long, env = "AWS_OIDC_DURATION", value_name = "SECONDS", default_value_t = DEFAULT_DURATION,
          value_parser = clap::value_parser!(i32).range(900..=43200), help_heading = "Role")]
    pub duration: i32,

    /// Inline session policy: JSON, or @FILE to read it from a file.
    #[arg(
        long,
        env = "AWS_OIDC_POLICY",
        value_name = "JSON|@FILE",
        help_heading = "Role"
    )]
    pub policy: Option<String>,

    /// Managed policy ARN to limit the session with (repeatable, up to 10).
    #[arg(
        long = "policy-arn",
        env = "AWS_OIDC_POLICY_ARNS",
        value_name = "ARN",
        value_delimiter = ',',
        help_heading = "Role"
    )]
    pub policy_arns: Vec<String>,

    /// AWS region [default: AWS_REGION, AWS_DEFAULT_REGION, else the partition's main region].
    #[arg(
        long,
        env = "AWS_OIDC_REGION",
        value_name = "REGION",
        help_heading = "Role"
    )]
    pub region: Option<String>,

    /// STS endpoint URL [default: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the regional endpoint].
    #[arg(
        long,
        env = "AWS_OIDC_STS_ENDPOINT",
        value_name = "URL",
        help_heading = "Role"
    )]
    pub sts_endpoint: Option<String>,

    /// Only these account ids may be the final role's account (comma-separated); checked before anything is written.
    #[arg(
        long,
        env = "AWS_OIDC_ALLOWED_ACCOUNT_IDS",
        value_name = "IDS",
        value_delimiter = ',',
        help_heading = "Role"
    )]
    pub allowed_account_ids: Vec<String>,

    /// On AccessDenied, explain the refusal against this copy of the role's trust policy (JSON,
    /// or `aws iam get-role` output): the failing conditions and the smallest edit.
    #[arg(
        long,
        env = "AWS_OIDC_TRUST_POLICY",
        value_name = "FILE",
        help_heading = "Role"
    )]
    pub trust_policy: Option<PathBuf>,

    /// Then assume this role with the first role's credentials (cross-account).
    #[arg(
        long,
        env = "AWS_OIDC_CHAIN_ROLE_ARN",
        value_name = "ARN",
        help_heading = "Chaining"
    )]
    pub chain_role_arn: Option<String>,

    /// ExternalId for the chained AssumeRole.
    #[arg(
        long,
        env = "AWS_OIDC_EXTERNAL_ID",
        value_name = "ID",
        help_heading = "Chaining"
    )]
    pub external_id: Option<String>,

    /// Use no ID token: assume --role-arn with the credentials already in the environment
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), e.g. from an earlier step.
    #[arg(long, env = "AWS_OIDC_ROLE_CHAINING", help_heading = "Chaining")]
    pub role_chaining: bool,

    /// Session name for the chained role [default: the first session name].
    #[arg(
        long,
        env = "AWS_OIDC_CHAIN_SESSION_NAME",
        value_name = "NAME",
        requires = "chain_role_arn",
        help_heading = "Chaining"
    )]
    pub chain_session_name: Option<String>,

    #[command(flatten)]
    pub token: TokenArgs,

    #[command(flatten)]
    pub network: NetworkArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// How hard to try: attempts, the overall time limit and the backoff (every command that
/// talks to the network).
#[derive(Clone, Debug, Args)]
pub struct NetworkArgs {
    /// Attempts per call before giving up on transient failures.
    #[arg(long, env = "AWS_OIDC_MAX_ATTEMPTS", value_name = "N", default_value_t = DEFAULT_MAX_ATTEMPTS,
          value_parser = clap::value_parser!(u32).range(1..=20), help_heading = "Network")]
    pub max_attempts: u32,

    /// Overall time limit in seconds for getting the token and credentials.
    #[arg(long, env = "AWS_OIDC_TIMEOUT", value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = "Network")]
    pub timeout: u64,

    /// Base backoff delay in milliseconds (tests).
    #[arg(
        long,
        env = "AWS_OIDC_RETRY_BASE_DELAY_MS",
        default_value_t = 500,
        hide = true
    )]
    pub retry_base_delay_ms: u64,
}

impl NetworkArgs {
    /// The retry budget these options allow, starting now.
    pub fn budget(&self) -> crate::net::retry::Budget {
        crate::net::retry::Budget::new(
            self.max_attempts,
            std::time::Duration::from_secs(self.timeout),
            std::time::Duration::from_millis(self.retry_base_delay_ms),
        )
    }
}

/// How much goes to stderr.
#[derive(Clone, Debug, Args)]
pub struct LogArgs {
    /// More detail on stderr (-vv for debug). Never prints secrets.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(
        short,
        long,
        env = "AWS_OIDC_QUIET",
        global = true,
        conflicts_with = "verbose"
    )]
    pub quiet: bool,
}

/// How the console sign-in URL is built.
#[derive(Clone, Debug, Args)]
pub struct ConsoleArgs {
    /// Console session length in seconds (900-43200; not sent for chained roles, whose session follows the credentials).
    #[arg(long, env = "AWS_OIDC_CONSOLE_DURATION", value_name = "SECONDS",
          value_parser = clap::value_parser!(i32).range(900..=43200), help_heading = "Console")]
    pub console_duration: Option<i32>,

    /// Console page to open: a service name (s3, ec2, cloudformation) or a console URL [default: the region's console home].
    #[arg(
        long,
        env = "AWS_OIDC_CONSOLE_DESTINATION",
        value_name = "SERVICE|URL",
        help_heading = "Console"
    )]
    pub destination: Option<String>,

    /// Where sign-out returns to [default: the CI job's page when known].
    #[arg(
        long,
        env = "AWS_OIDC_CONSOLE_ISSUER",
        value_name = "URL",
        help_heading = "Console"
    )]
    pub issuer: Option<String>,

    /// Federation endpoint [default: the partition's, e.g. https://signin.aws.amazon.com/federation].
    #[arg(
        long,
        env = "AWS_OIDC_FEDERATION_ENDPOINT",
        value_name = "URL",
        help_heading = "Console"
    )]
    pub federation_endpoint: Option<String>,

    /// Use the regional sign-in endpoint (<region>.signin.aws.amazon.com).
    #[arg(long, env = "AWS_OIDC_REGIONAL_SIGNIN", help_heading = "Console")]
    pub regional_signin: bool,
}

/// Where the ID token comes from (shared by every command that reads one).
#[derive(Clone, Debug, Default, Args)]
pub struct TokenArgs {
    /// Read the ID token from this environment variable.
    #[arg(long, env = "AWS_OIDC_TOKEN_ENV", value_name = "NAME", help_heading = "Token",
          conflicts_with_all = ["token_file", "token_command"])]
    pub token_env: Option<String>,

    /// Read the ID token from this file.
    #[arg(
        long,
        env = "AWS_OIDC_TOKEN_FILE",
        value_name = "PATH",
        help_heading = "Token",
        conflicts_with = "token_command"
    )]
    pub token_file: Option<PathBuf>,

    /// Run this shell command; its stdout is the ID token.
    #[arg(
        long,
        env = "AWS_OIDC_TOKEN_COMMAND",
        value_name = "CMD",
        help_heading = "Token"
    )]
    pub token_command: Option<String>,

    /// Audience to request the token for (GitHub, Buildkite); for trust-policy also the audience to pin [default: sts.amazonaws.com, sts.amazonaws.com.cn in aws-cn].
    #[arg(
        long,
        env = "AWS_OIDC_AUDIENCE",
        value_name = "AUD",
        help_heading = "Token"
    )]
    pub audience: Option<String>,

    /// Use the ID token of `aws-oidc login --provider NAME` (refreshed when it nears expiry);
    /// the provider's `role_arn` is then the default role.
    #[arg(
        long,
        env = "AWS_OIDC_PROVIDER",
        value_name = "NAME",
        help_heading = "Token",
        conflicts_with_all = ["token_env", "token_file", "token_command"]
    )]
    pub provider: Option<String>,

    /// The configuration file: providers, and with `assume` the targets of a many-roles run
    /// [default: $XDG_CONFIG_HOME/aws-oidc/config.yaml, ~/.config/aws-oidc/config.yaml].
    #[arg(
        long,
        env = "AWS_OIDC_CONFIG",
        value_name = "FILE",
        help_heading = "Token"
    )]
    pub config: Option<PathBuf>,
}

impl TokenArgs {
    /// `--audience`, else the partition's default (sts.amazonaws.com, sts.amazonaws.com.cn).
    pub fn audience_for(&self, partition: crate::aws::partition::Partition) -> String {
        self.audience
            .clone()
            .unwrap_or_else(|| partition.default_audience().to_string())
    }
}

/// Parses `argv` (without the program name) into one command's options, for tests that must not
/// go through the whole command line.
#[cfg(test)]
pub fn parse<T: clap::Args>(argv: &[&str]) -> Result<T, clap::Error> {
    #[derive(clap::Parser)]
    #[command(name = "aws-oidc")]
    struct Only<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    let argv = std::iter::once("aws-oidc").chain(argv.iter().copied());
    <Only<T> as clap::Parser>::try_parse_from(argv).map(|o| o.inner)
}
