//! `aws-oidc credential-process`: `credential_process` JSON on stdout for an AWS profile,
//! served from the private cache until the refresh margin, then refreshed under a lock.

use crate::env::Env;
use crate::failure::{Failure, Kind};
use crate::settings::Settings;
use crate::{output, refresh};

pub async fn run(args: crate::cli::CredentialProcessArgs, env: &Env) -> Result<u8, Failure> {
    let settings = Settings::resolve(&args.common, env)?;
    let cache = if args.no_cache {
        None
    } else {
        let dir = args
            .cache_dir
            .clone()
            .or_else(|| refresh::cache::default_dir(env))
            .ok_or_else(|| {
                Failure::usage(
                    "no cache directory: set --cache-dir or AWS_OIDC_CACHE_DIR (or pass --no-cache)",
                )
            })?;
        Some(
            refresh::cache::Cache::open(dir)
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
