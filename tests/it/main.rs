//! The integration tests: one binary (`cargo test --test it`), one module per area, all
//! running the built `aws-oidc` against the in-process fakes of [`support`] (127.0.0.1 only).
//!
//! * [`faults`], [`console`], [`diagnose`], [`network`], [`limits`], [`exec_env`],
//!   [`output_destinations`], [`serve_accept`], [`secret_hygiene`], [`setup`]: behaviour of each command
//!   under faults, with exact exit codes, messages and no leaked secret;
//! * [`fault_matrix`]: every network fault × every credential command, printed as a table
//!   (and the kill test);
//! * [`fakes_vs_sdk`]: the fakes checked against the official aws-sdk-sts client;
//! * [`plain_http_no_tls`]: a run against `http://` endpoints opens no trust roots;
//! * [`help`]: `--help` of every command against the committed snapshots in `snapshots/`;
//! * [`completions`]: shell completions (bash, fish, zsh, …) and the man page;
//! * [`layout`]: the module dependency rule of `src/` and a `//!` doc on every file.
//!
//! A filter selects a module: `cargo test --test it faults::`, `cargo test --test it help::`.

mod support;

mod completions;
mod console;
mod diagnose;
mod exec_env;
mod fakes_vs_sdk;
mod fault_matrix;
mod faults;
mod help;
mod layout;
mod limits;
mod network;
mod output_destinations;
mod plain_http_no_tls;
mod secret_hygiene;
mod serve_accept;
mod setup;
