//! One file per verb: its arguments and its `run` (`cli::Command::run` picks one).

pub mod assume;
pub mod completions;
pub mod console;
pub mod credential_process;
pub mod diagnose;
pub mod diagnose_args;
pub mod exec;
pub mod login;
pub mod roles;
pub mod setup;
pub mod targets;
