//! A run against plain `http://127.0.0.1` endpoints (the GitHub token endpoint, STS, the
//! federation endpoint) never touches TLS trust roots: no file under `/etc/ssl` (nor the other
//! distributions' bundle paths) is opened. Checked by running the binary under
//! `strace -f -e trace=open,openat` against the in-process fakes (and a run against an `https://`
//! endpoint as the control that the trace does see the roots); skipped, with the reason
//! printed, where strace is missing or cannot trace (`scripts/setup-system-deps.sh test`
//! installs it).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

/// Where trust roots live on the platforms `net::http` knows.
const ROOT_PATHS: [&str; 3] = ["/etc/ssl", "/etc/pki", "/usr/lib/ssl"];

/// Whether strace can trace a child here (installed, and ptrace allowed).
fn strace_works() -> Result<(), String> {
    match Command::new("strace")
        .args(["-f", "-e", "trace=openat", "-o", "/dev/null", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(e) => Err(format!("strace is not installed ({e})")),
        Ok(o) if !o.status.success() => Err(format!(
            "strace cannot trace here: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => Ok(()),
    }
}

/// Runs the binary under strace; returns the run and every path it opened.
fn traced(env: &TestEnv, args: &[&str], envs: &[(&str, &str)]) -> (Run, Vec<String>) {
    let trace = env.dir.path().join("strace.txt");
    let mut all = vec![
        "-f",
        "-qq",
        "-e",
        "trace=open,openat",
        "-o",
        trace.to_str().unwrap(),
        BIN,
    ];
    all.extend_from_slice(args);
    let output = Command::new("strace")
        .args(&all)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", &env.home)
        .envs(envs.iter().copied())
        .current_dir(&env.out)
        .stdin(Stdio::null())
        .output()
        .expect("run strace");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: Default::default(),
        timed_out: false,
    };
    (run, opened(&trace))
}

/// The paths of every `open`/`openat` in an strace log (`… openat(AT_FDCWD, "/path", …) = 3`).
fn opened(trace: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(trace).expect("strace log");
    log.lines()
        .filter(|l| l.contains("open(") || l.contains("openat("))
        .filter_map(|l| l.split('"').nth(1).map(str::to_string))
        .collect()
}

fn root_files(paths: &[String]) -> Vec<&String> {
    paths
        .iter()
        .filter(|p| ROOT_PATHS.iter().any(|r| p.starts_with(r)))
        .collect()
}

#[test]
fn plain_http_endpoints_never_open_trust_roots() {
    if let Err(why) = strace_works() {
        eprintln!("SKIPPED plain_http_endpoints_never_open_trust_roots: {why}");
        return;
    }
    let env = TestEnv::new();
    let jwt = mint_jwt(github_claims());
    let creds = Creds::canary();
    let gh = FakeServer::start(vec![Step::gh_token(&jwt)]);
    let sts = FakeServer::start(vec![Step::awwi_ok(&creds)]);
    let fed = FakeServer::start(vec![Step::json(200, r#"{"SigninToken":"tok"}"#)]);
    let gh_url = format!("{}/idtoken?api-version=2.0", gh.url());
    let request_token = format!("CANARYreqtok{}", unique());
    let sts_url = sts.url();
    let fed_url = format!("{}/federation", fed.url());
    // `console` uses all three: the token endpoint, STS, then getSigninToken.
    let (run, paths) = traced(
        &env,
        &[
            "console",
            "--role-arn",
            ROLE_ARN,
            "--session-name",
            SESSION_NAME,
            "--region",
            "us-east-1",
            "--sts-endpoint",
            &sts_url,
            "--federation-endpoint",
            &fed_url,
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &gh_url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &request_token),
            ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert_eq!(
        (gh.request_count(), sts.request_count(), fed.request_count()),
        (1, 1, 1),
        "{}",
        run.describe()
    );
    // The trace did see the run's files (the test would prove nothing otherwise).
    assert!(
        paths
            .iter()
            .any(|p| p.contains("libc") || p.starts_with("/proc")),
        "strace saw no open at all: {paths:?}"
    );
    let roots = root_files(&paths);
    assert!(
        roots.is_empty(),
        "trust roots were read for plain-HTTP endpoints: {} files, first {:?}\n{}",
        roots.len(),
        &roots[..roots.len().min(3)],
        run.describe()
    );

    // The control: with an https:// endpoint the same trace does show the roots being opened
    // (tried even where no bundle exists; loaded before the refused connection is tried).
    let https_sts = format!("https://127.0.0.1:{}", refused_port());
    let (control, paths) = traced(
        &env,
        &[
            "assume",
            "--role-arn",
            ROLE_ARN,
            "--session-name",
            SESSION_NAME,
            "--region",
            "us-east-1",
            "--sts-endpoint",
            &https_sts,
        ],
        &[
            ("AWS_ID_TOKEN", &jwt.token),
            ("AWS_OIDC_MAX_ATTEMPTS", "1"),
            ("AWS_OIDC_RETRY_BASE_DELAY_MS", "10"),
        ],
    );
    assert!(
        !root_files(&paths).is_empty(),
        "an https:// endpoint opened no trust roots under strace, so the check above proves \
         nothing\n{}",
        control.describe()
    );
}
