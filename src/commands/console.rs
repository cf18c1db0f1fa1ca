//! `aws-oidc console`: credentials for one role, then a federated console sign-in URL for
//! them. Also the console steps `assume --console-url` shares.

use crate::aws::credentials::Assumed;
use crate::env::Env;
use crate::failure::Failure;
use crate::net::retry::Budget;
use crate::output::{self, Plan};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::{failure, obtain};

use crate::args::{ConsoleArgs, RoleArgs};
use clap::Args;

#[derive(Clone, Debug, Args)]
pub struct ConsoleCommandArgs {
    #[command(flatten)]
    pub common: RoleArgs,

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

pub async fn run(args: ConsoleCommandArgs, env: &Env) -> Result<u8, Failure> {
    let dest: output::UrlDest = args.console_url.parse().map_err(Failure::usage)?;
    let mut args = args;
    crate::obtain::pick_saml_role(&mut args.common, env, crate::obtain::interactive()).await?;
    let settings = Settings::resolve(&args.common, env)?;
    check_console(&settings, &args.console, env)?;
    output::check_destinations(&[], env, Some(&dest)).map_err(failure::output)?;
    let assumed = obtain::obtain(&settings, env).await?.assumed;
    let url = console_url(&settings, &assumed, &args.console, env).await?;
    let mut plan = Plan::default();
    plan.add_console_url(&dest, &url, &assumed, env)
        .map_err(failure::output)?;
    let written = plan.apply().map_err(failure::output)?;
    if !args.common.log.quiet {
        eprintln!("{}", output::summary(&assumed, &written));
    }
    Ok(0)
}

fn console_options(
    s: &Settings,
    args: &crate::args::ConsoleArgs,
    env: &crate::env::Env,
) -> crate::console::Options {
    crate::console::Options {
        duration: args.console_duration,
        destination: args.destination.clone(),
        issuer: args.issuer.clone().or_else(|| s.ci.job_url(env)),
        endpoint: args.federation_endpoint.clone(),
        regional: args.regional_signin,
    }
}

/// Checks the console options before any credentials are requested.
pub fn check_console(
    s: &Settings,
    args: &crate::args::ConsoleArgs,
    env: &crate::env::Env,
) -> Result<(), Failure> {
    let opts = console_options(s, args, env);
    crate::console::federation_endpoint(s.role.partition, &s.endpoint.region, &opts)
        .and_then(|_| {
            crate::console::destination(
                s.role.partition,
                &s.endpoint.region,
                opts.destination.as_deref(),
            )
        })
        .map(|_| ())
        .map_err(|e| failure::console(e, false))
}

/// The federated console sign-in URL for `assumed`.
pub async fn console_url(
    s: &Settings,
    assumed: &Assumed,
    args: &crate::args::ConsoleArgs,
    env: &crate::env::Env,
) -> Result<Secret, Failure> {
    let opts = console_options(s, args, env);
    if assumed.chained && args.console_duration.is_some() {
        tracing::warn!(
            "--console-duration is not sent for chained credentials (AWS refuses it); the console session follows the credentials"
        );
    }
    let budget = Budget::new(s.max_attempts, s.timeout, s.base_delay);
    crate::console::sign_in_url(assumed, s.role.partition, &opts, &budget)
        .await
        .map_err(|e| failure::console(e, assumed.chained))
}
