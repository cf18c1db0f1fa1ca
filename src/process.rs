//! Running CMD with the credentials in its environment (`exec`, and the child of `exec --serve`).
//!
//! On Unix the process image is replaced (`execvp`), so CMD receives signals
//! sent to aws-oidc directly and its exit status is the job's; elsewhere CMD
//! is spawned and waited for. Nothing is written to disk.

use std::ffi::OsString;
use std::process::Command;

use crate::aws::credentials::Assumed;
use crate::output::variables;

/// Variables that would make SDKs pick other credentials than ours.
const CONFLICTING: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// The command without any AWS credentials variable (the caller adds its own).
pub fn base_command(argv: &[OsString]) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    for name in CONFLICTING.iter().chain(&[
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
    ]) {
        cmd.env_remove(name);
    }
    cmd
}

/// The command, ready to run, with the credentials set and conflicting variables removed.
pub fn command(argv: &[OsString], assumed: &Assumed) -> Command {
    let mut cmd = base_command(argv);
    cmd.envs(variables(assumed));
    cmd
}

/// Runs CMD and returns the exit status to pass on (126: cannot run, 127: not found).
pub fn run(mut cmd: Command) -> (u8, Option<String>) {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let failed = |e: std::io::Error| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        };
        (code, Some(format!("cannot run `{program}`: {e}")))
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Only returns on failure.
        failed(cmd.exec())
    }
    #[cfg(not(unix))]
    {
        match cmd.status() {
            Ok(status) => (status.code().unwrap_or(1).clamp(0, 255) as u8, None),
            Err(e) => failed(e),
        }
    }
}
