//! The command line: every option, its environment variable and its checks.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Target;

/// `--duration`'s default, in seconds.
pub const DEFAULT_DURATION: i32 = 3600;
/// `--max-attempts`' default.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// `--timeout`'s default, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

#[derive(Debug, Parser)]
#[command(
    name = "aws-oidc",
    version,
    about = "Turn a CI job's OpenID Connect ID token into short-lived AWS credentials",
    long_about = "Turn a CI job's OpenID Connect ID token into short-lived AWS credentials.\n\n\
        Gets the job's ID token (GitHub Actions, GitLab, CircleCI, Bitbucket, Buildkite, a file or a command), \
        calls STS AssumeRoleWithWebIdentity (optionally chaining a second AssumeRole), and hands the credentials \
        on as a dotenv file, shell exports, GITHUB_ENV, credential_process JSON, an AWS profile, or the \
        environment of a command.\n\nExit codes: 0 ok, 1 internal error, 2 usage or configuration error, \
        3 no usable ID token, 4 refused by AWS or by --allowed-account-ids, 5 transient failures outlasted \
        the retries, 6 an output could not be written; exec returns the command's own status.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Get credentials and write them out (--output).
    Assume(AssumeArgs),
    /// Get credentials and run a command with them in its environment; nothing is written to disk.
    Exec(ExecArgs),
    /// Get credentials and print a federated AWS console sign-in URL for them.
    Console(ConsoleCommandArgs),
    /// Print credential_process JSON, cached and refreshed (for `credential_process =` in an AWS profile).
    CredentialProcess(CredentialProcessArgs),
    #[command(flatten)]
    Diagnose(crate::commands::diagnose::Diagnose),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions(crate::commands::completions::CompletionsArgs),
    /// Print the man page (roff) on stdout.
    Man(crate::commands::completions::ManArgs),
}

#[derive(Clone, Debug, Args)]
pub struct CredentialProcessArgs {
    #[command(flatten)]
    pub common: Common,

    /// Refresh when less than this many seconds of validity are left.
    #[arg(
        long,
        env = "AWS_OIDC_REFRESH_MARGIN",
        value_name = "SECONDS",
        default_value_t = 300
    )]
    pub refresh_margin: u64,

    /// Cache directory [default: $RUNNER_TEMP/aws-oidc-cache, $XDG_CACHE_HOME/aws-oidc or ~/.cache/aws-oidc].
    #[arg(long, env = "AWS_OIDC_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Do not cache: every call asks STS.
    #[arg(long, env = "AWS_OIDC_NO_CACHE")]
    pub no_cache: bool,
}

#[derive(Clone, Debug, Args)]
pub struct ConsoleCommandArgs {
    #[command(flatten)]
    pub common: Common,

    #[command(flatten)]
    pub console: ConsoleArgs,

    /// Where the URL goes: - (stdout), a file (mode 0600), or github-summary ($GITHUB_STEP_SUMMARY).
    #[arg(
        long,
        env = "AWS_OIDC_CONSOLE_URL",
        value_name = "DEST",
        default_value = "-"
    )]
    pub console_url: String,
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

#[derive(Clone, Debug, Args)]
pub struct AssumeArgs {
    #[command(flatten)]
    pub common: Common,

    /// Where the credentials go: env, sh, fish, powershell or json (each =PATH, else stdout),
    /// github (GITHUB_ENV and GITHUB_OUTPUT), github-outputs (GITHUB_OUTPUT only), web-identity[=TOKEN_FILE] (the token to a file; the other outputs then carry AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE instead of keys), profile=NAME (AWS shared files). Repeatable.
    /// Default: github in GitHub Actions, else env=aws-oidc.env.
    #[arg(
        short,
        long = "output",
        value_name = "FORMAT[=PATH]",
        env = "AWS_OIDC_OUTPUT",
        value_delimiter = ','
    )]
    pub outputs: Vec<Target>,

    /// Also produce a console sign-in URL: to DEST (- for stdout, a file, or github-summary).
    #[arg(long, env = "AWS_OIDC_CONSOLE_URL", value_name = "DEST", num_args = 0..=1,
          default_missing_value = "-", require_equals = true, help_heading = "Console")]
    pub console_url: Option<String>,

    #[command(flatten)]
    pub console: ConsoleArgs,

    /// Assume the targets listed in this YAML file (see README: "Many roles in one run").
    #[arg(
        long,
        env = "AWS_OIDC_CONFIG",
        value_name = "FILE",
        help_heading = "Targets"
    )]
    pub config: Option<PathBuf>,

    /// With --config: only these targets (repeatable) [default: all].
    #[arg(
        long = "target",
        env = "AWS_OIDC_TARGETS",
        value_name = "NAME",
        value_delimiter = ',',
        requires = "config",
        help_heading = "Targets"
    )]
    pub targets: Vec<String>,

    /// How many targets to assume at once.
    #[arg(long, env = "AWS_OIDC_CONCURRENCY", value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Targets")]
    pub concurrency: u32,

    /// profile outputs: write a `credential_process` profile that refreshes itself instead of static keys.
    #[arg(long, env = "AWS_OIDC_REFRESHABLE")]
    pub refreshable: bool,

    /// github outputs: also mask the AWS account id in the job's logs.
    #[arg(long, env = "AWS_OIDC_MASK_ACCOUNT_ID", help_heading = "GitHub")]
    pub mask_account_id: bool,

    /// github outputs: also set the step outputs aws-access-key-id, aws-secret-access-key, aws-session-token.
    #[arg(
        long,
        env = "AWS_OIDC_GITHUB_OUTPUT_CREDENTIALS",
        help_heading = "GitHub"
    )]
    pub github_output_credentials: bool,
}

#[derive(Clone, Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub common: Common,

    /// Serve refreshing credentials to CMD from 127.0.0.1 (AWS_CONTAINER_CREDENTIALS_FULL_URI)
    /// instead of setting static keys.
    #[arg(long, env = "AWS_OIDC_SERVE")]
    pub serve: bool,

    /// With --serve: refresh when less than this many seconds of validity are left.
    #[arg(
        long,
        env = "AWS_OIDC_REFRESH_MARGIN",
        value_name = "SECONDS",
        default_value_t = 300
    )]
    pub refresh_margin: u64,

    /// Leave the ID token variable that was read (AWS_ID_TOKEN, GITLAB_OIDC_TOKEN, a *_ID_TOKEN,
    /// the --token-env one…) in CMD's environment; by default it is removed, since CMD gets
    /// credentials instead. GitHub's ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not the token and
    /// are always left.
    #[arg(long, env = "AWS_OIDC_KEEP_TOKEN_ENV")]
    pub keep_token_env: bool,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD", value_parser = clap::value_parser!(OsString))]
    pub command: Vec<OsString>,
}

#[derive(Clone, Debug, Args)]
pub struct Common {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_option_has_an_env_var() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if ["verbose", "help", "version", "command", "shell"].contains(&id) {
                    continue;
                }
                assert!(
                    arg.get_env().is_some(),
                    "--{id} has no environment variable"
                );
            }
        }
    }

    #[test]
    fn exec_needs_a_command() {
        assert!(Cli::try_parse_from(["aws-oidc", "exec"]).is_err());
        let cli = Cli::try_parse_from([
            "aws-oidc",
            "exec",
            "--",
            "aws",
            "sts",
            "get-caller-identity",
        ])
        .unwrap();
        let Command::Exec(e) = cli.command else {
            panic!()
        };
        assert_eq!(e.command, ["aws", "sts", "get-caller-identity"]);
    }

    #[test]
    fn outputs_repeat_and_split() {
        let cli = Cli::try_parse_from([
            "aws-oidc",
            "assume",
            "-o",
            "sh",
            "--output",
            "env=a.env,json=b.json",
        ])
        .unwrap();
        let Command::Assume(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.outputs.len(), 3);
    }

    #[test]
    fn duration_range() {
        let duration = |d: &str| {
            Cli::try_parse_from(["aws-oidc", "assume", "--duration", d]).map(|c| match c.command {
                Command::Assume(a) => a.common.duration,
                _ => unreachable!(),
            })
        };
        assert_eq!(duration("900").unwrap(), 900);
        assert_eq!(duration("43200").unwrap(), 43200);
        let e = duration("899").unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(e.to_string().contains("900..=43200"), "{e}");
        assert!(duration("43201").is_err());
        let Command::Assume(a) = Cli::try_parse_from(["aws-oidc", "assume"]).unwrap().command
        else {
            unreachable!()
        };
        assert_eq!(a.common.duration, DEFAULT_DURATION);
    }
}
