//! `aws-oidc exec -- CMD`: credentials for one role in CMD's environment (nothing written to
//! disk), or with `--serve` a local credential endpoint that CMD's SDKs refresh from.

use crate::env::Env;
use crate::failure::Failure;
use crate::settings::{Route, Settings};
use crate::{obtain, output, process, refresh, token};

use crate::args::RoleArgs;
use clap::Args;
use std::ffi::OsString;

#[derive(Clone, Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub common: RoleArgs,

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

pub async fn run(args: ExecArgs, env: &Env) -> Result<u8, Failure> {
    let mut args = args;
    crate::obtain::pick_saml_role(&mut args.common, env, crate::obtain::interactive()).await?;
    let settings = Settings::resolve(&args.common, env)?;
    let drop = token_variable(&settings, args.keep_token_env);
    if args.serve {
        let region = settings.endpoint.region.clone();
        let margin = std::time::Duration::from_secs(args.refresh_margin);
        let provider = refresh::Provider::new(settings, env.clone(), None, margin);
        return refresh::serve::run(provider, &args.command, &region, drop.as_deref()).await;
    }
    let assumed = obtain::obtain(&settings, env).await?.assumed;
    if !args.common.log.quiet {
        eprintln!("{}", output::summary(&assumed, &[]));
    }
    let mut cmd = process::command(&args.command, &assumed);
    if let Some(name) = drop {
        cmd.env_remove(name);
    }
    let (code, err) = process::run(cmd);
    if let Some(err) = err {
        eprintln!("aws-oidc: error: {err}");
    }
    Ok(code)
}

/// The variable the ID token was read from, which exec removes from CMD's environment
/// (a bearer credential CMD does not need) unless `--keep-token-env`.
fn token_variable(settings: &Settings, keep: bool) -> Option<String> {
    match &settings.route {
        Route::WebIdentity {
            source: token::Source::Env(name),
            ..
        } if !keep => Some(name.clone()),
        _ => None,
    }
}
