//! `aws-oidc credential-process`: `credential_process` JSON on stdout for an AWS profile,
//! served from the private cache until the refresh margin, then refreshed under a lock.

use crate::env::Env;
use crate::failure::{Failure, Kind};
use crate::settings::Settings;
use crate::{output, refresh};

use crate::args::RoleArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Clone, Debug, Args)]
pub struct CredentialProcessArgs {
    #[command(flatten)]
    pub common: RoleArgs,

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

pub async fn run(args: CredentialProcessArgs, env: &Env) -> Result<u8, Failure> {
    let mut settings = Settings::resolve(&args.common, env)?;
    // A login's file store lives under the same cache directory.
    if let (Some(dir), Some(login)) = (&args.cache_dir, settings.login.as_mut()) {
        login.cache_dir = Some(dir.clone());
    }
    let cache = if args.no_cache {
        None
    } else {
        let dir = args
            .cache_dir
            .clone()
            .or_else(|| crate::cache::default_dir(env))
            .ok_or_else(|| {
                Failure::usage(
                    "no cache directory: set --cache-dir or AWS_OIDC_CACHE_DIR (or pass --no-cache)",
                )
            })?;
        Some(
            crate::cache::Cache::open(dir)
                .map_err(|e| Failure::new(Kind::Output, e.to_string()).hint(e.hint()))?,
        )
    };
    let margin = std::time::Duration::from_secs(args.refresh_margin);
    let provider = refresh::Provider::new(settings, env.clone(), cache, margin);
    let assumed = provider.get().await?;
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, output::json(&assumed).as_bytes())
        .map_err(|e| Failure::new(Kind::Output, format!("cannot write to stdout: {e}")))?;
    Ok(0)
}
