//! One file per verb: its arguments and its `run`. [`run`] dispatches a parsed command.

pub mod assume;
pub mod console;
pub mod credential_process;
pub mod diagnose;
pub mod diagnose_args;
pub mod exec;
pub mod targets;

use crate::cli::Command;
use crate::env::Env;
use crate::failure::Failure;

/// Runs one command to its exit code.
pub async fn run(command: Command, env: &Env) -> Result<u8, Failure> {
    match command {
        Command::Assume(args) => assume::run(args, env).await,
        Command::Exec(args) => exec::run(args, env).await,
        Command::Console(args) => console::run(args, env).await,
        Command::CredentialProcess(args) => credential_process::run(args, env).await,
        Command::Diagnose(d) => diagnose::run(d, env).await,
    }
}
