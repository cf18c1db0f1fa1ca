//! aws-oidc: an OpenID Connect ID token in, short-lived AWS credentials out.
//!
//! Data flows one way: options + environment → `settings` (resolved once) → token (`token`)
//! → STS (`sts`, wired by `obtain`) → credentials → outputs (`output`, `process`). Each verb is
//! a file under `commands/`. This file only parses the command line, sets up logging, takes the
//! one environment snapshot, starts one runtime and turns the result into an exit code (a
//! `credential-process` cache hit is answered before the runtime: it needs none).

#![forbid(unsafe_code)]

mod args;
mod aws;
mod cache;
mod ci;
mod cli;
mod commands;
mod config;
mod console;
mod env;
mod failure;
mod fs;
mod idp;
mod logging;
mod net;
mod obtain;
mod output;
mod policy;
mod process;
mod refresh;
mod secret;
mod settings;
mod sts;
mod token;

use std::process::ExitCode;

use crate::cli::Cli;
use crate::failure::{Failure, Kind};

fn main() -> ExitCode {
    let cli = match Cli::parse_args() {
        Ok(cli) => cli,
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => return fail(&Failure::from_clap(&e)),
        },
    };
    let (verbose, quiet) = cli.command.verbosity();
    logging::init(verbose, quiet);
    let env = env::Env::from_process();
    // A credential-process cache hit is the hot path (an SDK runs it for every client it
    // builds): served here, before the HTTP settings and the runtime a refresh needs.
    if let cli::Command::CredentialProcess(args) = &cli.command
        && let Some(result) = commands::credential_process::serve_cached(args, &env)
    {
        return match result {
            Ok(code) => ExitCode::from(code),
            Err(f) => fail(&f),
        };
    }
    net::http::configure(&env);
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Kind::Internal,
                format!("cannot start the async runtime: {e}"),
            )
        })
        .and_then(|runtime| runtime.block_on(cli.command.run(&env)));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => fail(&f),
    }
}

fn fail(f: &Failure) -> ExitCode {
    eprint!("{f}");
    ExitCode::from(f.exit_code())
}
