//! `aws-oidc exec -- CMD`: credentials for one role in CMD's environment (nothing written to
//! disk), or with `--serve` a local credential endpoint that CMD's SDKs refresh from.

use crate::env::Env;
use crate::failure::Failure;
use crate::settings::{Route, Settings};
use crate::{obtain, output, process, refresh, token};

pub async fn run(args: crate::cli::ExecArgs, env: &Env) -> Result<u8, Failure> {
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
