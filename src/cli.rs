//! The command line: `Cli` and the list of commands. Each command's options live in its file
//! under `commands/`, the shared groups in `args`.

use clap::{Parser, Subcommand};

use crate::commands::assume::AssumeArgs;
use crate::commands::console::ConsoleCommandArgs;
use crate::commands::credential_process::CredentialProcessArgs;
use crate::commands::exec::ExecArgs;

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
    /// Sign in to an OpenID provider (device code or browser) and keep its tokens for --provider.
    Login(crate::commands::login::LoginArgs),
    /// Forget (and revoke) a provider's stored tokens.
    Logout(crate::commands::login::LogoutArgs),
    /// List the roles a SAML provider's assertion allows (federation: saml2).
    Roles(crate::commands::roles::RolesArgs),
    /// Add or update an OpenID provider in the configuration file (asks on a terminal).
    Setup(crate::commands::setup::SetupArgs),
    #[command(flatten)]
    Diagnose(crate::commands::diagnose::Diagnose),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions(crate::commands::completions::CompletionsArgs),
    /// Print the man page (roff) on stdout.
    Man(crate::commands::completions::ManArgs),
}

impl Cli {
    /// The command line's definition, as parsed, shown in `--help`, completed and put in the man
    /// page: `[env: NAME]` never shows a variable's value (`AWS_OIDC_TOKEN_COMMAND` may carry a
    /// password).
    pub fn definition() -> clap::Command {
        fn hide_values(cmd: clap::Command) -> clap::Command {
            cmd.mut_args(|a| a.hide_env_values(true))
                .mut_subcommands(hide_values)
        }
        hide_values(<Cli as clap::CommandFactory>::command())
    }

    /// Parses the process's command line.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        let matches = Cli::definition().try_get_matches()?;
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
    }
}

impl Command {
    /// Runs the command to its exit code.
    pub async fn run(self, env: &crate::env::Env) -> Result<u8, crate::failure::Failure> {
        use crate::commands::{assume, console, credential_process, diagnose, exec};
        match self {
            Command::Assume(args) => assume::run(args, env).await,
            Command::Exec(args) => exec::run(args, env).await,
            Command::Console(args) => console::run(args, env).await,
            Command::CredentialProcess(args) => credential_process::run(args, env).await,
            Command::Login(args) => crate::commands::login::login(args, env).await,
            Command::Logout(args) => crate::commands::login::logout(args, env).await,
            Command::Roles(args) => crate::commands::roles::run(args, env).await,
            Command::Setup(args) => crate::commands::setup::run(args, env).await,
            Command::Diagnose(d) => diagnose::run(d, env).await,
            // Generated from the clap definitions alone.
            Command::Completions(args) => {
                crate::commands::completions::completions(&args, Cli::definition())
            }
            Command::Man(_) => crate::commands::completions::man(Cli::definition()),
        }
    }

    /// `-v` count and `-q` of whichever command this is.
    pub fn verbosity(&self) -> (u8, bool) {
        use crate::commands::diagnose::Diagnose;
        let log = match self {
            Command::Assume(a) => &a.common.log,
            Command::Exec(a) => &a.common.log,
            Command::Console(a) => &a.common.log,
            Command::CredentialProcess(a) => &a.common.log,
            Command::Login(a) => &a.log,
            Command::Logout(a) => &a.log,
            Command::Roles(a) => &a.log,
            Command::Setup(a) => &a.log,
            Command::Diagnose(Diagnose::Token(a)) => &a.log,
            Command::Diagnose(Diagnose::TrustPolicy(a)) => &a.log,
            Command::Diagnose(Diagnose::Explain(a)) => &a.log,
            Command::Completions(_) | Command::Man(_) => return (0, false),
        };
        (log.verbose, log.quiet)
    }
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
        assert_eq!(a.common.duration, crate::args::DEFAULT_DURATION);
    }
}
