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

    /// With --provider: `auto` signs in when no usable login is stored, talking on the terminal
    /// (/dev/tty, since SDKs hide this command's stderr) or opening the browser; `never` (the
    /// default) exits 3 at once with the `aws-oidc login` command to run.
    #[arg(long, env = "AWS_OIDC_LOGIN", value_enum, default_value = "never")]
    pub login: LoginWhen,
}

/// When `credential-process` may start a sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginWhen {
    Never,
    Auto,
}

/// A cache hit, served before the async runtime, the HTTP client or anything else a refresh
/// needs is set up: `Some(exit code)` when the cache answered (or stdout failed), `None` when
/// it cannot (no cache, a miss, an entry for another request, a SAML role still to pick, or
/// any error, which [`run`] then meets and reports the usual way). The same checks as
/// [`run`]'s: the cache directory's and the entry's trust (`Cache::open`, `Cache::fresh`),
/// the margin, and the entry against the request (`refresh::cached`).
pub fn serve_cached(args: &CredentialProcessArgs, env: &Env) -> Option<Result<u8, Failure>> {
    // What resolving the settings says (a chained --duration over 3600, say) is said once:
    // here on a hit, else by `run`, which resolves them again.
    let (hit, messages) = crate::logging::held(|| cached(args, env));
    let assumed = hit?;
    messages.emit();
    Some(write_json(&assumed))
}

/// The cache's answer to this request, if it has one [`run`] would serve as it is.
fn cached(args: &CredentialProcessArgs, env: &Env) -> Option<crate::aws::credentials::Assumed> {
    if args.no_cache || saml_role_to_pick(&args.common, env) {
        return None;
    }
    let settings = Settings::resolve(&args.common, env).ok()?;
    let dir = args
        .cache_dir
        .clone()
        .or_else(|| crate::cache::default_dir(env))?;
    let cache = crate::cache::Cache::open(dir).ok()?;
    let margin = std::time::Duration::from_secs(args.refresh_margin);
    refresh::cached(&settings, &cache, margin)
}

/// Whether `pick_saml_role` has work to do (a SAML provider and no role ARN yet): only then
/// does it load the provider's configuration here.
fn saml_role_to_pick(opts: &crate::args::RoleArgs, env: &Env) -> bool {
    let concrete = |arn: &str| crate::aws::arn::RoleArn::parse(arn).is_ok();
    if opts.token.provider.is_none() || opts.role_arn.first().is_some_and(|a| concrete(a)) {
        return false;
    }
    match crate::settings::login(&opts.token, env) {
        Ok(Some(login)) => {
            login.provider.federation == crate::config::Federation::Saml2
                && !login.provider.role_arn.as_deref().is_some_and(concrete)
        }
        Ok(None) => false,
        Err(_) => true,
    }
}

fn write_json(assumed: &crate::aws::credentials::Assumed) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, output::json(assumed).as_bytes())
        .map_err(|e| Failure::new(Kind::Output, format!("cannot write to stdout: {e}")))?;
    Ok(0)
}

pub async fn run(args: CredentialProcessArgs, env: &Env) -> Result<u8, Failure> {
    // No picker: SDKs run this command where nobody can answer.
    let mut args = args;
    crate::obtain::pick_saml_role(&mut args.common, env, false).await?;
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
    if let (LoginWhen::Auto, Some(login)) = (args.login, &settings.login) {
        sign_in_if_needed(login, &settings, env).await?;
    }
    let margin = std::time::Duration::from_secs(args.refresh_margin);
    let provider = refresh::Provider::new(settings, env.clone(), cache, margin);
    let assumed = provider.get().await?;
    write_json(&assumed)
}

/// `--login auto`: a sign-in on the terminal when the stored login cannot give an ID token.
async fn sign_in_if_needed(
    login: &crate::settings::Login,
    settings: &Settings,
    env: &Env,
) -> Result<(), Failure> {
    let budget = crate::net::retry::Budget::new(
        settings.max_attempts,
        settings.timeout,
        settings.base_delay,
    );
    let needs = match crate::obtain::login_token(login, &budget).await {
        Ok(_) => false,
        Err(f) => f.kind == Kind::Token && f.hints.iter().any(|h| h.contains("aws-oidc login")),
    };
    if !needs {
        return Ok(());
    }
    let mut console = crate::commands::login::Console::tty().ok_or_else(|| {
        Failure::new(
            Kind::Token,
            format!(
                "not logged in to {} and no terminal to sign in on",
                login.name
            ),
        )
        .hint(format!("run: aws-oidc login --provider {}", login.name))
    })?;
    let how = crate::commands::login::SignIn {
        device: false,
        browser: false,
        no_browser: false,
        browser_command: None,
    };
    let (who, _) = crate::commands::login::sign_in(login, &how, &mut console, &budget, env).await?;
    tracing::info!("signed in to {} as {}", login.name, who.escape_default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::credentials::{Assumed, Credentials, now_secs};
    use crate::secret::Secret;

    const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";

    fn args(dir: &std::path::Path, extra: &[&str]) -> CredentialProcessArgs {
        let dir = dir.display().to_string();
        let mut argv = vec!["--role-arn", ROLE, "--cache-dir", dir.as_str()];
        argv.extend_from_slice(extra);
        crate::args::parse(&argv).unwrap()
    }

    fn env() -> Env {
        Env::from_pairs([("AWS_ID_TOKEN", "a.b.c"), ("AWS_REGION", "eu-west-1")])
    }

    fn entry(arn: &str, left: i64) -> Assumed {
        Assumed {
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: Secret::new("s"),
                session_token: Secret::new("t"),
                expiration: now_secs() + left,
            },
            assumed_role_arn: arn.into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            chained: false,
        }
    }

    /// Stores `a` where `args`' request would find it.
    fn store(args: &CredentialProcessArgs, a: &Assumed) {
        let settings = Settings::resolve(&args.common, &env()).unwrap();
        let cache = crate::cache::Cache::open(args.cache_dir.clone().unwrap()).unwrap();
        let key = crate::cache::key(&settings.cache_description());
        cache.store(&key, a, None).unwrap();
    }

    #[test]
    fn a_hit_is_served_before_the_runtime_with_the_same_checks() {
        let tmp = tempfile::tempdir().unwrap();
        let a = args(&tmp.path().join("c"), &[]);
        assert!(cached(&a, &env()).is_none(), "an empty cache");

        let good = "arn:aws:sts::123456789012:assumed-role/deploy/s";
        store(&a, &entry(good, 3600));
        let hit = cached(&a, &env()).expect("a fresh entry for this role");
        assert_eq!(hit.credentials.access_key_id, "ASIAEXAMPLE");

        // Within the refresh margin: left to the refresh.
        store(&a, &entry(good, 200));
        assert!(cached(&a, &env()).is_none(), "less than the margin left");
        // Another role's credentials under this request's key: left to the refresh.
        store(
            &a,
            &entry("arn:aws:sts::123456789012:assumed-role/other/s", 3600),
        );
        assert!(cached(&a, &env()).is_none(), "an entry for another role");
        // --no-cache never reads it.
        store(&a, &entry(good, 3600));
        let no_cache = args(&tmp.path().join("c"), &["--no-cache"]);
        assert!(cached(&no_cache, &env()).is_none(), "--no-cache");
    }

    #[cfg(unix)]
    #[test]
    fn an_untrusted_cache_directory_is_left_to_the_full_path() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let a = args(&dir, &[]);
        store(
            &a,
            &entry("arn:aws:sts::123456789012:assumed-role/deploy/s", 3600),
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            cached(&a, &env()).is_none(),
            "served from a world-writable directory"
        );
    }
}
