//! `aws-oidc assume`: credentials for one role (or, with `--config`/repeated
//! `--role-arn`, several), written to every output asked for, or to none.

use crate::aws::credentials::{human_duration, now_secs};

use crate::failure;
use crate::failure::Failure;
use crate::obtain;
use crate::output::{self, Destination, Format, Plan, RenderOptions, WebIdentity};
use crate::settings::{self, Route, Settings};

use crate::args::{ConsoleArgs, RoleArgs};
use clap::Args;

#[derive(Clone, Debug, Args)]
pub struct AssumeArgs {
    #[command(flatten)]
    pub common: RoleArgs,

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
    pub outputs: Vec<Destination>,

    /// Also produce a console sign-in URL: to DEST (- for stdout, a file, or github-summary).
    #[arg(long, env = "AWS_OIDC_CONSOLE_URL", value_name = "DEST", num_args = 0..=1,
          default_missing_value = "-", require_equals = true, help_heading = "Console")]
    pub console_url: Option<String>,

    #[command(flatten)]
    pub console: ConsoleArgs,

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

    /// How many targets to assume at once (STS rate-limits requests per account and Region;
    /// a throttled request is retried with backoff).
    #[arg(long, env = "AWS_OIDC_CONCURRENCY", value_name = "N",
          default_value_t = crate::commands::targets::DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Targets")]
    pub concurrency: u32,

    /// profile outputs: write a `credential_process` profile that refreshes itself instead of static keys.
    #[arg(long, env = "AWS_OIDC_REFRESHABLE")]
    pub refreshable: bool,

    /// With a SAML provider (--provider): assume every role its assertion allows, from one
    /// token exchange; each goes to profile=<role name> unless --output names others with {target}.
    #[arg(
        long,
        env = "AWS_OIDC_ALL_ROLES",
        requires = "provider",
        help_heading = "Targets"
    )]
    pub all_roles: bool,

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

/// `github` inside GitHub Actions, else a dotenv file in the current directory.
pub fn default_outputs(destinations: Vec<Destination>, env: &crate::env::Env) -> Vec<Destination> {
    let carries = |t: &Destination| !matches!(t.format, Format::WebIdentity);
    if destinations.iter().any(carries) {
        return destinations;
    }
    let in_github =
        env.get("GITHUB_ACTIONS").is_some_and(|v| v == "true") && env.contains("GITHUB_ENV");
    let mut all = destinations;
    all.push(if in_github {
        Destination {
            format: Format::GitHub,
            path: None,
        }
    } else {
        Destination {
            format: Format::Env,
            path: Some("aws-oidc.env".into()),
        }
    });
    all
}

pub async fn run(args: AssumeArgs, env: &crate::env::Env) -> Result<u8, Failure> {
    if args.all_roles {
        if args.console_url.is_some() {
            return Err(Failure::usage("--console-url takes a single role"));
        }
        let (many, shared) = crate::commands::targets::all_saml_roles(&args, env).await?;
        return crate::commands::targets::run_with(many, &args, env, Some(shared)).await;
    }
    if let Some(many) = crate::commands::targets::resolve(&args, env)? {
        if args.console_url.is_some() {
            return Err(Failure::usage("--console-url takes a single role"));
        }
        return crate::commands::targets::run(many, &args, env).await;
    }
    let destinations = default_outputs(args.outputs.clone(), env);
    output::validate(&destinations).map_err(|e| Failure::usage(e.to_string()))?;
    let url_dest = args
        .console_url
        .as_deref()
        .map(str::parse::<output::UrlDest>)
        .transpose()
        .map_err(Failure::usage)?;
    if url_dest == Some(output::UrlDest::Stdout)
        && destinations.iter().any(Destination::writes_stdout)
    {
        return Err(Failure::usage(
            "--console-url and an --output both want stdout; give one of them a file",
        ));
    }
    let web_identity = destinations
        .iter()
        .find(|t| t.format == Format::WebIdentity)
        .map(|t| t.path.clone());
    if args.refreshable
        && !destinations
            .iter()
            .any(|t| matches!(t.format, Format::Profile(_)))
    {
        return Err(Failure::usage(
            "--refreshable applies to --output profile=NAME",
        ));
    }
    let mut args = args;
    crate::obtain::pick_saml_role(&mut args.common, env, crate::obtain::interactive()).await?;
    let settings = Settings::resolve(&args.common, env)?;
    let destinations = crate::commands::targets::substitute(&destinations, &settings.role.name);
    if web_identity.is_some()
        && (settings.chain.is_some() || matches!(settings.route, Route::Environment(_)))
    {
        return Err(Failure::usage(
            "--output web-identity hands the token to the SDK, which cannot chain roles; use credential-process or exec --serve",
        ));
    }
    if url_dest.is_some() {
        crate::commands::console::check_console(&settings, &args.console, env)?;
    }
    output::check_destinations(&destinations, env, url_dest.as_ref()).map_err(failure::output)?;
    // Before STS: a line that cannot be written refuses the run, not its last step.
    let refreshable = args
        .refreshable
        .then(|| settings::credential_process_command(&settings))
        .transpose()?;
    let obtained = obtain::obtain(&settings, env).await?;
    let assumed = obtained.assumed;
    let mut opts = RenderOptions {
        github: output::GitHubOptions {
            mask_account_id: args.mask_account_id,
            output_credentials: args.github_output_credentials,
        },
        ..Default::default()
    };
    if let (Some(path), Some(token), Route::WebIdentity { request, .. }) =
        (web_identity, obtained.token, &settings.route)
    {
        // The token's lifetime, not the time left (which a slow start shaves below an hour).
        let c = &token.claims;
        let lifetime = c
            .exp
            .map(|exp| exp.saturating_sub(c.iat.unwrap_or_else(now_secs)));
        let left = c.exp.map(|exp| exp.saturating_sub(now_secs()));
        if let (Some(_), Some(left)) = (lifetime.filter(|l| *l < 3600), left) {
            tracing::warn!(
                "the ID token expires in {}: SDKs re-read the token file only when their session ends, so later refreshes will fail; for long jobs use `aws-oidc exec --serve` or a `credential-process` profile, which mint fresh tokens",
                human_duration(left)
            );
        }
        opts.web_identity = Some(WebIdentity {
            role_arn: settings.role.arn.clone(),
            session_name: request.session_name.clone(),
            token_file: output::token_file_path(path, env),
            token: token.raw().clone(),
        });
    }
    opts.refreshable = refreshable;
    let mut plan = Plan::render(&destinations, &assumed, env, &opts).map_err(failure::output)?;
    if let Some(dest) = &url_dest {
        // Before anything is written: a failure here leaves no output behind.
        let url =
            crate::commands::console::console_url(&settings, &assumed, &args.console, env).await?;
        plan.add_console_url(dest, &url, &assumed, env)
            .map_err(failure::output)?;
    }
    let written = plan.apply().map_err(failure::output)?;
    if !args.common.log.quiet {
        eprintln!("{}", output::summary(&assumed, &written));
    }
    Ok(0)
}
