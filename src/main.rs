//! aws-oidc: a CI job's OpenID Connect ID token in, short-lived AWS credentials out.
//!
//! Data flows one way: token source (`token`) → STS (`sts`) → credentials →
//! outputs (`output`, `exec`). `app` wires the stages; this file only parses
//! the command line, sets up logging and turns failures into exit codes.

#![forbid(unsafe_code)]

mod app;
mod aws;
mod ci;
mod cli;
mod commands;
mod console;
mod env;
mod failure;
mod fs;
mod net;
mod output;
mod policy;
mod process;
mod refresh;
mod secret;
mod sts;
mod token;

use std::process::ExitCode;

use crate::cli::{Cli, Command, Common};
use crate::failure::{Failure, Kind};
use crate::output::Plan;

fn main() -> ExitCode {
    let cli = match <Cli as clap::Parser>::try_parse() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => return fail(&Failure::from_clap(&e)),
        },
    };
    let common = match &cli.command {
        Command::Assume(a) => &a.common,
        Command::Exec(e) => &e.common,
        Command::Console(c) => &c.common,
        Command::CredentialProcess(c) => &c.common,
        // Generated from the clap definitions alone: no logging, environment or runtime.
        Command::Completions(args) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            return commands::completions::completions(args, cmd)
                .map_or_else(|f| fail(&f), ExitCode::from);
        }
        Command::Man(_) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            return commands::completions::man(cmd).map_or_else(|f| fail(&f), ExitCode::from);
        }
        Command::Diagnose(_) => {
            let Command::Diagnose(d) = cli.command else {
                unreachable!()
            };
            return commands::diagnose::main(d);
        }
    };
    logging(common);
    // One snapshot of the (UTF-8) environment; every stage reads this.
    let env = crate::env::Env::from_process();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(&Failure::new(
                Kind::Internal,
                format!("cannot start the async runtime: {e}"),
            ));
        }
    };
    match runtime.block_on(run(cli.command, &env)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => fail(&f),
    }
}

fn fail(f: &Failure) -> ExitCode {
    eprint!("{f}");
    ExitCode::from(f.exit_code())
}

async fn run(command: Command, env: &crate::env::Env) -> Result<u8, Failure> {
    match command {
        Command::Diagnose(_) => unreachable!("diagnosis commands are run by diagnose::main"),
        Command::Completions(_) | Command::Man(_) => unreachable!("printed before logging"),
        Command::Assume(args) => commands::assume::run(args, env).await,
        Command::Console(args) => {
            let dest: output::UrlDest = args.console_url.parse().map_err(Failure::usage)?;
            let settings = app::Settings::resolve(&args.common, env)?;
            app::check_console(&settings, &args.console, env)?;
            output::check_destinations(&[], env, Some(&dest)).map_err(output_failure)?;
            let assumed = app::obtain(&settings, env).await?.assumed;
            let url = app::console_url(&settings, &assumed, &args.console, env).await?;
            let mut plan = Plan::default();
            plan.add_console_url(&dest, &url, &assumed, env)
                .map_err(output_failure)?;
            let written = plan.apply().map_err(output_failure)?;
            if !args.common.quiet {
                eprintln!("{}", app::summary(&assumed, &written));
            }
            Ok(0)
        }
        Command::CredentialProcess(args) => {
            let settings = app::Settings::resolve(&args.common, env)?;
            let cache = if args.no_cache {
                None
            } else {
                let dir = args
                    .cache_dir
                    .clone()
                    .or_else(|| crate::refresh::cache::default_dir(env))
                    .ok_or_else(|| {
                        Failure::usage("no cache directory: set --cache-dir or AWS_OIDC_CACHE_DIR (or pass --no-cache)")
                    })?;
                Some(
                    crate::refresh::cache::Cache::open(dir)
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
        Command::Exec(args) if args.serve => {
            let settings = app::Settings::resolve(&args.common, env)?;
            let region = settings.endpoint.region.clone();
            let margin = std::time::Duration::from_secs(args.refresh_margin);
            let drop = token_variable(&settings, args.keep_token_env);
            let provider = refresh::Provider::new(settings, env.clone(), None, margin);
            crate::refresh::serve::run(provider, &args.command, &region, drop.as_deref()).await
        }
        Command::Exec(args) => {
            let settings = app::Settings::resolve(&args.common, env)?;
            let assumed = app::obtain(&settings, env).await?.assumed;
            if !args.common.quiet {
                eprintln!("{}", app::summary(&assumed, &[]));
            }
            let mut cmd = crate::process::command(&args.command, &assumed);
            if let Some(name) = token_variable(&settings, args.keep_token_env) {
                cmd.env_remove(name);
            }
            let (code, err) = crate::process::run(cmd);
            if let Some(err) = err {
                eprintln!("aws-oidc: error: {err}");
            }
            Ok(code)
        }
    }
}

/// The variable the ID token was read from, which exec removes from CMD's environment
/// (a bearer credential CMD does not need) unless `--keep-token-env`.
fn token_variable(settings: &app::Settings, keep: bool) -> Option<String> {
    match &settings.start {
        app::Start::WebIdentity {
            source: token::Source::Env(name),
            ..
        } if !keep => Some(name.clone()),
        _ => None,
    }
}

pub(crate) fn output_failure(e: output::OutputError) -> Failure {
    match e {
        output::OutputError::Usage(m) => Failure::usage(m),
        other => Failure::new(Kind::Output, other.to_string())
            .hint("nothing was left half-written; fix the path or permissions and run again"),
    }
}

/// Human messages on stderr, `aws-oidc: <level>: …`, for this crate only (dependencies stay
/// silent, so no library can log a request body holding the token).
fn logging(common: &Common) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match (common.quiet, common.verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, _) => LevelFilter::DEBUG,
    };
    let filter = tracing_subscriber::filter::Targets::new().with_target("aws_oidc", level);
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .event_format(log_format::Plain),
        )
        .with(filter)
        .try_init();
}

mod log_format {
    //! `aws-oidc: warning: message` lines.
    use std::fmt;
    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::fmt::FmtContext;
    use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
    use tracing_subscriber::registry::LookupSpan;

    pub struct Plain;

    impl<S, N> FormatEvent<S, N> for Plain
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(
            &self,
            ctx: &FmtContext<'_, S, N>,
            mut writer: Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            let level = match *event.metadata().level() {
                Level::ERROR => "error",
                Level::WARN => "warning",
                Level::INFO => "info",
                Level::DEBUG => "debug",
                Level::TRACE => "trace",
            };
            write!(writer, "aws-oidc: {level}: ")?;
            ctx.field_format().format_fields(writer.by_ref(), event)?;
            writeln!(writer)
        }
    }
}
