//! One file per verb: its arguments and its `run`.

pub mod assume;
pub mod completions;
pub mod diagnose;
pub mod diagnose_args;
pub mod targets;
